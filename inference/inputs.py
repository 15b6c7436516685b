"""Input records for batch prediction, each keyed by (file, record position).

Formats, chosen by extension: ``.txt`` (one document: text = content
unchanged, id = file stem), a folder (its ``.txt`` files, sorted),
``.jsonl``/``.jsonl.gz`` (fields configurable; the Fars News layout of
title/abstract/paragraphs is recognised), ``.csv``, ``.parquet``.

Bad records are yielded as ``BadRecord`` with file, line and reason, never
raised: the runner writes them to the errors file and goes on.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from persian_ie.data.document import open_binary
from persian_ie.data.readers import farsnews_text

MAX_CHARS = 1_000_000  # longer texts are rejected (a 5 MB "article" is a scraping error)
HTML_TAG = re.compile(r"<(?:p|div|span|br|a|script|style|html|body|table|td|tr|img)\b[^>]*>", re.IGNORECASE)


@dataclass
class InputRecord:
    source: str  # input file
    position: int  # 1-based record number within the file (line for JSONL/CSV)
    id: str
    text: str
    meta: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.source}#{self.position}"


@dataclass
class BadRecord:
    source: str
    position: int
    reason: str

    @property
    def key(self) -> str:
        return f"{self.source}#{self.position}"


@dataclass
class FieldConfig:
    id_field: str = "id"
    text_field: str = "text"
    meta_fields: tuple = ("source", "date", "url", "link", "category", "cat")


def _check_text(source, position, doc_id, text, meta) -> InputRecord | BadRecord:
    if not isinstance(text, str):
        return BadRecord(source, position, f"text is {type(text).__name__}, not a string")
    if not text.strip():
        return BadRecord(source, position, "empty text")
    if len(text) > MAX_CHARS:
        return BadRecord(source, position, f"text of {len(text):,} characters exceeds the {MAX_CHARS:,} limit")
    if len(HTML_TAG.findall(text)) >= 3:
        return BadRecord(source, position, "text looks like HTML markup; strip the markup first")
    return InputRecord(source, position, str(doc_id), text, meta)


def _from_object(obj, source, position, fields: FieldConfig) -> InputRecord | BadRecord:
    if not isinstance(obj, dict):
        return BadRecord(source, position, f"a JSON {type(obj).__name__}, not an object")
    if fields.text_field in obj:
        text = obj[fields.text_field]
    elif {"title", "abstract", "paragraphs"} <= obj.keys():
        text = farsnews_text(obj)
    else:
        return BadRecord(source, position, f"no {fields.text_field!r} field (and not a title/abstract/paragraphs article)")
    doc_id = obj.get(fields.id_field) or f"{Path(source).stem}-{position}"
    renamed = {"link": "url", "cat": "category"}  # the Fars News layout's names
    meta = {renamed.get(k, k): obj[k] for k in fields.meta_fields if k in obj and obj[k] is not None}
    return _check_text(source, position, doc_id, text, meta)


def _read_jsonl(path: Path, fields) -> Iterator:
    with open_binary(path) as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield BadRecord(str(path), number, f"not valid UTF-8 (byte {exc.start})")
                continue
            except json.JSONDecodeError as exc:
                yield BadRecord(str(path), number, f"malformed JSON: {exc.msg} at column {exc.colno}")
                continue
            yield _from_object(obj, str(path), number, fields)


def _read_csv(path: Path, fields) -> Iterator:
    import io

    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        yield BadRecord(str(path), line, f"not valid UTF-8 (byte {exc.start}); the rest of this CSV file was not read")
        return
    for number, row in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2):
        yield _from_object(row, str(path), number, fields)


def _read_parquet(path: Path, fields) -> Iterator:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    for number, row in enumerate(table.to_pylist(), start=1):
        yield _from_object(row, str(path), number, fields)


def _read_txt(path: Path) -> Iterator:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield BadRecord(str(path), 1, f"not valid UTF-8 (byte {exc.start})")
        return
    yield _check_text(str(path), 1, path.stem, text, {"source": path.name})


def count_records(paths) -> int:
    """A cheap upper bound of the records in ``paths`` (non-blank lines of
    JSONL/CSV, Parquet row counts, one per text file), for progress and ETA."""
    total = 0
    for path in map(Path, paths):
        if path.is_dir():
            total += sum(1 for _ in path.glob("*.txt"))
        elif path.name.endswith((".jsonl", ".jsonl.gz", ".json", ".csv")):
            with open_binary(path) as fh:
                total += sum(1 for line in fh if line.strip()) - (1 if path.suffix == ".csv" else 0)
        elif path.suffix == ".parquet":
            import pyarrow.parquet as pq

            total += pq.ParquetFile(path).metadata.num_rows
        else:
            total += 1
    return total


def iter_inputs(paths, fields: FieldConfig | None = None) -> Iterator[InputRecord | BadRecord]:
    fields = fields or FieldConfig()
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted(path.glob("*.txt")):
                yield from _read_txt(file)
        elif path.name.endswith((".jsonl", ".jsonl.gz", ".json")):
            yield from _read_jsonl(path, fields)
        elif path.suffix == ".csv":
            yield from _read_csv(path, fields)
        elif path.suffix == ".parquet":
            yield from _read_parquet(path, fields)
        else:
            yield from _read_txt(path)
