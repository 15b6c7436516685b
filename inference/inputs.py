"""Input records for batch prediction, each keyed by (resolved file, record position).

Formats, chosen by extension: ``.txt`` (one document: text = content
unchanged, id = file stem), a folder (its ``*.txt`` entries, sorted),
``.jsonl``/``.jsonl.gz``/``.json`` (fields configurable; the Fars News layout
of title/abstract/paragraphs is recognised), ``.csv``, ``.parquet``.

Bad records are yielded as ``BadRecord`` with file, line (0: the whole file)
and reason, never raised: the runner writes them to the errors file and goes
on. Only regular files are read (a FIFO or ``/dev/zero`` would hang or never
end) and every read is bounded, so no input can exhaust memory or time.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from persian_ie.data.document import LineError, iter_json_lines, iter_lines, open_regular, os_reason
from persian_ie.data.readers import farsnews_meta, farsnews_text, is_farsnews
from persian_ie.errors import InputError

MAX_CHARS = 1_000_000  # longer texts are rejected (a 5 MB "article" is a scraping error)
MAX_TXT_BYTES = 4 * MAX_CHARS  # a .txt file is read only up to this size (UTF-8: at most 4 bytes a character)
LINE_LIMIT = 8_000_000  # bytes of one JSONL/CSV line: a 1,000,000-character text, \u-escaped, fits
CSV_FIELD_LIMIT = 4 * MAX_CHARS  # csv's own default, 131,072 characters, is below the text limit
HTML_TAG = re.compile(r"<(?:p|div|span|br|a|script|style|html|body|table|td|tr|img)\b[^>]*>", re.IGNORECASE)
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json")


def resolved(path) -> str:
    """The key of a file: its absolute path with links resolved, so
    ``a.jsonl`` and ``./dir/../a.jsonl`` are the same input."""
    return os.path.realpath(path)


def printable(name: str) -> str:
    """A file name as valid UTF-8 (undecodable bytes of a name show as ``\\xff``)."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class InputRecord:
    source: str  # input file, as given
    position: int  # 1-based record number within the file (line for JSONL/CSV)
    id: str
    text: str
    meta: dict = field(default_factory=dict)
    file_key: str = ""  # resolved path of ``source``
    id_given: bool = True  # False: the record had no id and is named after its file and position

    @property
    def key(self) -> str:
        return f"{self.file_key or resolved(self.source)}#{self.position}"


@dataclass
class BadRecord:
    source: str
    position: int  # 0: the file could not be read at all
    reason: str
    file_key: str = ""

    @property
    def key(self) -> str:
        return f"{self.file_key or resolved(self.source)}#{self.position}"


@dataclass
class FieldConfig:
    id_field: str = "id"
    text_field: str = "text"
    meta_fields: tuple = ("source", "date", "url", "category")


def _unencodable(value: str) -> int | None:
    """Index of the first lone surrogate (``"\\ud800"`` in JSON), or None."""
    try:
        value.encode("utf-8")
        return None
    except UnicodeEncodeError as exc:
        return exc.start


def _check_text(source, position, doc_id, text, meta, id_given: bool = True) -> InputRecord | BadRecord:
    if not isinstance(text, str):
        return BadRecord(source, position, f"text is {type(text).__name__}, not a string")
    if not text.strip():
        return BadRecord(source, position, "empty text")
    if len(text) > MAX_CHARS:
        return BadRecord(source, position, f"text of {len(text):,} characters exceeds the {MAX_CHARS:,} limit")
    if (at := _unencodable(text)) is not None:
        return BadRecord(source, position, f"text has a lone surrogate (not valid Unicode) at character {at}")
    if len(HTML_TAG.findall(text)) >= 3:
        return BadRecord(source, position, "text looks like HTML markup; strip the markup first")
    return InputRecord(source, position, str(doc_id), text, meta, id_given=id_given)


def _record_id(obj, source, position, fields) -> str | BadRecord:
    value = obj.get(fields.id_field)
    if value is None or value == "":
        return f"{Path(source).stem}-{position}"
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return BadRecord(source, position, f"id field {fields.id_field!r} is a {type(value).__name__}, not a string")
    value = str(value)
    if (at := _unencodable(value)) is not None:
        return BadRecord(source, position, f"id has a lone surrogate (not valid Unicode) at character {at}")
    return value


def _record_meta(obj, source, position, fields) -> dict | BadRecord:
    meta = {k: obj[k] for k in fields.meta_fields if obj.get(k) is not None and obj[k] == obj[k]}  # NaN != NaN: missing
    # ±Infinity (a Parquet float) has no JSON form: written as null, the document kept.
    meta = {k: None if isinstance(v, float) and math.isinf(v) else v for k, v in meta.items()}
    if is_farsnews(obj):
        meta = {**farsnews_meta(obj), **meta}
    try:  # what cannot be written as strict JSON must not reach the output
        json.dumps(meta, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (ValueError, TypeError, RecursionError) as exc:
        return BadRecord(source, position, f"metadata cannot be written as JSON ({str(exc)[:80]})")
    return meta


def _from_object(obj, source, position, fields: FieldConfig) -> InputRecord | BadRecord:
    if not isinstance(obj, dict):
        return BadRecord(source, position, f"a JSON {type(obj).__name__}, not an object")
    if fields.text_field in obj:
        text = obj[fields.text_field]
    elif is_farsnews(obj):
        try:
            text = farsnews_text(obj)
        except InputError as exc:
            return BadRecord(source, position, str(exc).split("] ", 1)[-1])
    else:
        return BadRecord(source, position, f"no {fields.text_field!r} field (and not a title/abstract/paragraphs article)")
    doc_id = _record_id(obj, source, position, fields)
    meta = _record_meta(obj, source, position, fields)
    for bad in (doc_id, meta):
        if isinstance(bad, BadRecord):
            return bad
    return _check_text(source, position, doc_id, text, meta, id_given=obj.get(fields.id_field) not in (None, ""))


def _read_jsonl(path: Path, fields, **ranges) -> Iterator:
    for item in iter_json_lines(path, max_line_bytes=LINE_LIMIT, **ranges):
        if isinstance(item, LineError):
            yield BadRecord(str(path), item.line, item.reason)
        else:
            yield _from_object(item[1], str(path), item[0], fields)


class _CsvFeed:
    """Lines for ``csv.reader`` that remembers the lines of the record being
    read, so a broken record can be reported by its first line and the lines
    it swallowed read again; a line that cannot be decoded ends the feed."""

    def __init__(self, path: Path):
        self.lines = iter_lines(path, max_line_bytes=LINE_LIMIT)
        self.pushed: list[tuple[int, str]] = []
        self.taken: list[tuple[int, str]] = []
        self.bad: LineError | None = None
        self.exhausted = False

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.pushed:
            number, text = self.pushed.pop(0)
        else:
            item = next(self.lines, None)
            if item is None:
                self.exhausted = True
                raise StopIteration
            if isinstance(item, LineError):
                self.bad = item
                raise StopIteration
            number, raw = item
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.bad = LineError("", number, f"not valid UTF-8 (byte {exc.start} of the line)")
                raise StopIteration
        self.taken.append((number, text))
        return text

    @property
    def record_start(self) -> int:
        return self.taken[0][0] if self.taken else 0

    def next_record(self) -> None:
        self.taken = []

    def reread_after_first(self) -> int:
        """Push back the lines of the failed record after its first; the line to resume at."""
        self.pushed = self.taken[1:] + self.pushed
        self.taken = []
        return self.pushed[0][0] if self.pushed else 0


def _read_csv(path: Path, fields) -> Iterator:
    """CSV rows as records; an unbalanced quote or a bad byte costs only the
    record it is in (the rows it swallowed are read again), never the file."""
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    source, feed, header = str(path), _CsvFeed(path), None
    while True:
        try:
            for row in csv.reader(feed, strict=True):
                start = feed.record_start
                feed.next_record()
                if not row:
                    continue
                if header is None:
                    header = row
                elif len(row) != len(header):
                    yield BadRecord(source, start, f"CSV row has {len(row)} fields, the header has {len(header)}")
                else:
                    yield _from_object(dict(zip(header, row)), source, start, fields)
        except csv.Error as exc:
            start = feed.record_start
            again = feed.reread_after_first()
            resumes = f"; reading resumes at line {again}" if again else ""
            yield BadRecord(source, start, f"CSV record cannot be parsed ({exc}; an unbalanced quote?){resumes}")
        if feed.bad is not None:
            bad, feed.bad = feed.bad, None
            feed.next_record()
            yield BadRecord(source, bad.line, bad.reason)
            continue
        if feed.exhausted and not feed.pushed:
            return


def _read_parquet(path: Path, fields) -> Iterator:
    import pyarrow.parquet as pq

    number = 0
    try:
        with open_regular(path) as fh:
            reader = pq.ParquetFile(fh)
            for group in range(reader.num_row_groups):  # one row group in memory at a time
                for row in reader.read_row_group(group).to_pylist():
                    number += 1
                    yield _from_object(row, str(path), number, fields)
    except OSError as exc:
        yield BadRecord(str(path), 0, f"cannot read {path}: {os_reason(exc)}")
    except Exception as exc:  # pyarrow's ArrowInvalid and kin: a corrupt or non-Parquet file
        where = f" after row {number}" if number else ""
        yield BadRecord(str(path), number + 1 if number else 0, f"not a readable Parquet file{where}: {str(exc)[:120]}")


def _read_txt(path: Path) -> Iterator:
    try:
        with open_regular(path, max_bytes=MAX_TXT_BYTES) as fh:
            raw = fh.read(MAX_TXT_BYTES + 1)
    except OSError as exc:
        yield BadRecord(str(path), 0, f"cannot read {path}: {os_reason(exc)}")
        return
    if len(raw) > MAX_TXT_BYTES:  # it grew after the size check
        yield BadRecord(str(path), 1, f"file larger than {MAX_TXT_BYTES:,} bytes")
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield BadRecord(str(path), 1, f"not valid UTF-8 (byte {exc.start})")
        return
    yield _check_text(str(path), 1, printable(path.stem), text, {"source": printable(path.name)})


def folder_entries(path: Path) -> list[Path]:
    """The ``*.txt`` entries of a folder, sorted; links, directories named
    ``x.txt`` and the like are listed and reported when read."""
    return sorted(path.glob("*.txt"))


def unread_folder_entries(paths, output: Path | None = None) -> dict[Path, list[str]]:
    """Per input folder, the names of its entries that ``folder_entries`` leaves out (``.TXT``, ``.jsonl``,
    subfolders...): reading a folder takes its ``*.txt`` files only, and the rest must not vanish unseen."""
    out, read = {}, {resolved(f) for f in input_files(paths)}  # a file named beside its folder is read
    for path in map(Path, paths):
        if path.is_dir():
            own = output is not None and resolved(output.parent) == resolved(path)  # OUT, OUT.lock, OUT.ledger...
            left = sorted(entry.name for entry in path.iterdir() if resolved(entry) not in read and not entry.name.startswith(".")
                          and not (own and (entry.name == output.name or entry.name.startswith(output.name + "."))))
            if left:
                out[path] = left
    return out


def input_files(paths) -> list[Path]:
    """Every file the inputs name: folders expanded to their entries. A file
    named twice (``a.jsonl ./a.jsonl``) is read once: its records have one key."""
    files, seen = [], set()
    for path in map(Path, paths):
        for file in folder_entries(path) if path.is_dir() else [path]:
            if resolved(file) not in seen:
                seen.add(resolved(file))
                files.append(file)
    return files


def _read_file(path: Path, fields) -> Iterator:
    if path.name.endswith(JSONL_SUFFIXES):
        return _read_jsonl(path, fields)
    if path.suffix == ".csv":
        return _read_csv(path, fields)
    if path.suffix == ".parquet":
        return _read_parquet(path, fields)
    return _read_txt(path)


def iter_file(path, fields: FieldConfig | None = None, display: str | None = None, **ranges) -> Iterator[InputRecord | BadRecord]:
    """The records of one file, each carrying the file's resolved key.
    ``display`` is the name the records show (default: ``path``);
    ``ranges`` restrict a plain JSONL file to a byte range (see ``iter_lines``)."""
    path = Path(path)
    key = resolved(path)
    records = _read_jsonl(path, fields or FieldConfig(), **ranges) if ranges else _read_file(path, fields or FieldConfig())
    for rec in records:
        rec.file_key = key
        if display is not None:
            rec.source = display
        yield rec


def iter_inputs(paths, fields: FieldConfig | None = None) -> Iterator[InputRecord | BadRecord]:
    for file in input_files(paths):
        yield from iter_file(file, fields)


def count_records(paths) -> int:
    """A cheap upper bound of the records in ``paths`` (non-blank lines of
    JSONL/CSV, Parquet row counts, one per text file), for progress and ETA.
    Bounded like the readers; a file that cannot be read counts what was read."""
    total = 0
    for path in input_files(paths):
        if path.name.endswith(JSONL_SUFFIXES + (".csv",)):
            lines = sum(1 for item in iter_lines(path, max_line_bytes=LINE_LIMIT) if not isinstance(item, LineError) and item[1].strip())
            total += max(0, lines - (1 if path.suffix == ".csv" else 0))
        elif path.suffix == ".parquet":
            total += _parquet_rows(path)
        else:
            total += 1
    return total


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        with open_regular(path) as fh:
            return pq.ParquetFile(fh).metadata.num_rows
    except Exception:  # a corrupt file: reported when it is read
        return 1
