"""The document model of SCHEMA.md section 4 and streaming JSONL I/O.

Readers stream line by line (``.jsonl`` or ``.jsonl.gz``) so an archive of
millions of documents is never loaded whole. Malformed lines are yielded as
``LineError`` records, never raised, so callers can count and report them.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import math
import os
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from persian_ie.errors import DocumentError, InputError


@dataclass
class Span:
    id: str
    start: int
    end: int
    label: str
    text: str | None = None
    score: float | None = None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"id": self.id, "start": self.start, "end": self.end, "label": self.label}
        if self.text is not None:
            out["text"] = self.text
        if self.score is not None:
            out["score"] = round(float(self.score), 4)
        return out


@dataclass
class Relation:
    type: str
    head: str
    tail: str
    score: float | None = None  # the learned relation model's probability; rules give none

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"type": self.type, "head": self.head, "tail": self.tail}
        if self.score is not None:
            out["score"] = self.score
        return out


@dataclass(frozen=True)
class PartialAnnotation:
    """What a partly annotated document (an auxiliary corpus such as PEYMA) can teach:
    the labels it annotates and the character ranges ``(start, end)`` whose labels are
    unknown (spans a label map dropped). data/dataset.py turns both into ignored labels."""

    annotated: frozenset
    unknown: tuple = ()

    def to_dict(self) -> dict:
        return {"annotated": sorted(self.annotated), "unknown": [list(r) for r in self.unknown]}


@dataclass
class Document:
    id: str
    text: str | None
    spans: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # records, model, text_sha1, ...
    # In memory only, never written: the spans a reader's label map dropped, (start, end, label),
    # and, for a partly annotated training document, what it annotates (training/corpora.py).
    dropped_spans: list = field(default_factory=list, repr=False, compare=False)
    partial: PartialAnnotation | None = field(default=None, repr=False, compare=False)

    @property
    def text_sha1(self) -> str | None:
        if self.text is not None:
            return sha1_text(self.text)
        return self.extra.get("text_sha1")

    def span_by_id(self) -> dict[str, Span]:
        return {s.id: s for s in self.spans}

    def _repr_html_(self) -> str:
        """Jupyter shows a document as the viewer's right-to-left HTML."""
        from persian_ie.data.display import render_fragment  # imported late: display imports this module

        return render_fragment([self])

    def to_dict(self, include_text: bool = True) -> dict:
        out: dict[str, Any] = {"id": self.id}
        if include_text and self.text is not None:
            out["text"] = self.text
        else:
            out["text_sha1"] = self.text_sha1
        if self.meta:
            out["meta"] = self.meta
        out["spans"] = [s.to_dict() for s in self.spans]
        out["relations"] = [r.to_dict() for r in self.relations]
        for key, value in self.extra.items():
            if key != "text_sha1":
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> "Document":
        """Build a document; structural problems raise ``DocumentError``
        (content rules such as overlaps are ``validate``'s job)."""
        if not isinstance(raw, dict):
            raise DocumentError(f"a document must be a JSON object, got {type(raw).__name__}")
        doc_id = raw.get("id")
        if not isinstance(doc_id, str) or not doc_id:
            raise DocumentError(f"missing or non-string 'id' (got {doc_id!r})")
        text = raw.get("text")
        if text is None and not raw.get("text_sha1"):
            raise DocumentError(f"doc={doc_id}: needs 'text' (or 'text_sha1' for output without text)")
        if text is not None and not isinstance(text, str):
            raise DocumentError(f"doc={doc_id}: 'text' must be a string")
        spans = [_span_from_dict(doc_id, i, s) for i, s in enumerate(_list_field(raw, "spans", doc_id))]
        relations = [_relation_from_dict(doc_id, i, r) for i, r in enumerate(_list_field(raw, "relations", doc_id))]
        known = {"id", "text", "meta", "spans", "relations"}
        extra = {k: v for k, v in raw.items() if k not in known}
        meta = raw.get("meta") or {}
        if not isinstance(meta, dict):
            raise DocumentError(f"doc={doc_id}: 'meta' must be an object")
        return cls(doc_id, text, spans, relations, meta, extra)


def _list_field(raw: dict, key: str, doc_id: str) -> list:
    """``spans``/``relations``: absent or null is empty; anything else must be a list
    (``spans: 5`` or ``spans: true`` is a structural error, not a crash)."""
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DocumentError(f"doc={doc_id}: {key!r} must be a list, got {type(value).__name__} {str(value)[:40]!r}")
    return value


def _span_from_dict(doc_id: str, i: int, raw: Any) -> Span:
    if not isinstance(raw, dict):
        raise DocumentError(f"doc={doc_id} spans[{i}]: must be an object")
    for key, kind in (("id", str), ("label", str), ("start", int), ("end", int)):
        value = raw.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise DocumentError(
                f"doc={doc_id} spans[{i}]: field {key!r} must be {kind.__name__}, got {value!r}"
            )
    score = raw.get("score")
    return Span(raw["id"], raw["start"], raw["end"], raw["label"], raw.get("text"), score)


def _relation_from_dict(doc_id: str, i: int, raw: Any) -> Relation:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("type", "head", "tail")):
        raise DocumentError(f"doc={doc_id} relations[{i}]: needs string fields type, head, tail; got {raw!r}")
    score = raw.get("score")
    return Relation(raw["type"], raw["head"], raw["tail"], score if isinstance(score, (int, float)) and not isinstance(score, bool) else None)


def number_spans(spans: list[Span], prefix: str = "s") -> list[Span]:
    """Sort spans by (start, -end, label) and give them ids ``s1``, ``s2``, ... in place."""
    spans.sort(key=lambda s: (s.start, -s.end, s.label))
    for n, span in enumerate(spans, start=1):
        span.id = f"{prefix}{n}"
    return spans


def sha1_text(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


MAX_LINE_BYTES = 64_000_000  # a 10,000,000-character text, \u-escaped, fits; a 1 GB "line" never enters memory
MAX_INT_DIGITS = 1000  # longer integers are rejected while parsing (a 5,000-digit "id" is an attack, not data)
_DRAIN = 1 << 20


@dataclass
class LineError:
    """A line that could not be read as a document. ``line`` 0 means the
    whole file (it could not be opened or read at all)."""

    path: str
    line: int
    reason: str


@dataclass
class DocRecord:
    path: str
    line: int
    doc: Document


def open_regular(path: str | Path, max_bytes: int | None = None):
    """Open ``path`` for reading bytes if it is a regular file (after links).

    A FIFO would block forever and ``/dev/zero`` never ends, so anything but
    a regular file is refused; a dangling link or a link loop is an
    ``OSError`` with the path in it. ``max_bytes`` refuses larger files.
    """
    path = Path(path)
    st = os.stat(path)  # follows links: ELOOP / ENOENT name the path
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "a directory, not a file", str(path))
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file (a FIFO, socket or device); only regular files are read", str(path))
    if max_bytes is not None and st.st_size > max_bytes:
        raise OSError(errno.EFBIG, f"file of {st.st_size:,} bytes exceeds the {max_bytes:,}-byte limit", str(path))
    return open(path, "rb")


def open_binary(path: str | Path):
    """Open a regular ``.gz`` or plain file for reading bytes (decoded per line later)."""
    raw = open_regular(path)
    return gzip.GzipFile(fileobj=raw, mode="rb") if str(path).endswith(".gz") else raw


def os_reason(exc: OSError) -> str:
    """A short reason for a file that cannot be read, without the traceback."""
    return exc.strerror or str(exc)


def iter_lines(path: str | Path, start: int = 0, end: int | None = None, first_line: int = 1,
               max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes] | LineError]:
    """Yield ``(line_number, raw_bytes)`` per line of a regular (``.gz``) file,
    or a ``LineError``; never raises for bad content.

    Reads are bounded: a line longer than ``max_line_bytes`` (after gzip
    expansion) is skipped in 1 MiB pieces and reported, so memory stays
    bounded whatever the file holds. A truncated or non-gzip ``.gz`` is
    reported with its file name after the lines read before the damage.
    ``start``/``end`` restrict reading to the lines that start in that byte
    range of a plain file (the Ray engine's shards; ``first_line`` is the
    number of the line at ``start``). A BOM at the start of the file is dropped.
    """
    number = first_line - 1
    try:
        with open_binary(path) as fh:
            if start:
                fh.seek(start)
            while end is None or fh.tell() < end:
                raw = fh.readline(max_line_bytes + 1)
                if not raw:
                    return
                number += 1
                if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                    skipped = _drain_line(fh) + len(raw)
                    yield LineError(str(path), number, f"line of more than {max_line_bytes:,} bytes ({skipped:,} read) exceeds the limit")
                    continue
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                yield number, raw
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        reason = os_reason(exc) if isinstance(exc, OSError) and exc.strerror else _gzip_reason(exc)
        yield LineError(str(path), 0 if number < first_line else number + 1, f"cannot read {path}: {reason}")


def _drain_line(fh) -> int:
    n = 0
    while True:
        piece = fh.readline(_DRAIN)
        n += len(piece)
        if not piece or piece.endswith(b"\n"):
            return n


def _gzip_reason(exc) -> str:
    if isinstance(exc, EOFError):
        return "truncated gzip file (it ends before the end-of-stream marker); the lines before the damage were read"
    return f"not a valid gzip file ({exc})"


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _bounded_int(digits: str) -> int:
    if len(digits) > MAX_INT_DIGITS:
        raise ValueError(f"a number of {len(digits):,} digits (more than {MAX_INT_DIGITS:,})")
    return int(digits)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]}... overflows to infinity")
    return value


def loads_strict(line: str) -> Any:
    """``json.loads`` that rejects NaN/Infinity, huge integers and
    overflowing floats (ValueError) and deep nesting (RecursionError)."""
    return json.loads(line, parse_constant=_reject_constant, parse_int=_bounded_int, parse_float=_finite_float)


def parse_json_line(path: str, number: int, raw: bytes) -> Any | LineError:
    """Decode one line to an object, or a ``LineError`` saying why not."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return LineError(str(path), number, f"not valid UTF-8 (byte {exc.start}): {raw[:60]!r}")
    try:
        return loads_strict(line)
    except json.JSONDecodeError as exc:
        return LineError(str(path), number, f"malformed JSON ({exc.msg} at column {exc.colno}): {line[:60]!r}")
    except RecursionError:
        return LineError(str(path), number, "malformed JSON (nested too deeply)")
    except ValueError as exc:  # NaN, a huge integer, an overflowing float
        return LineError(str(path), number, f"malformed JSON ({exc})")


def iter_json_lines(path: str | Path, **ranges) -> Iterator[tuple[int, Any] | LineError]:
    """Yield ``(line_number, parsed_object)`` or a ``LineError`` per non-blank line.

    The one JSONL reader of the project (corpora, predictions, batch
    inputs). Bytes are decoded per line, so one non-UTF-8 line is reported
    by number and the rest of the file is still read. A BOM at the start and
    CRLF line ends are accepted; reads are bounded (see ``iter_lines``).
    """
    for item in iter_lines(path, **ranges):
        if isinstance(item, LineError):
            yield item
            continue
        number, raw = item
        if not raw.strip():
            continue
        parsed = parse_json_line(str(path), number, raw)
        yield parsed if isinstance(parsed, LineError) else (number, parsed)


def iter_json_objects(path: str | Path) -> Iterator[Any]:
    """The objects of a JSONL file, streamed; a bad line raises ``InputError`` naming it."""
    for item in iter_json_lines(path):
        if isinstance(item, LineError):
            raise InputError(f"{item.path}:{item.line}: {item.reason}")
        yield item[1]


def iter_documents(path: str | Path) -> Iterator[DocRecord | LineError]:
    """Stream documents of one JSONL(.gz) file; bad lines come as ``LineError``."""
    for item in iter_json_lines(path):
        if isinstance(item, LineError):
            yield item
            continue
        number, obj = item
        try:
            yield DocRecord(str(path), number, Document.from_dict(obj))
        except DocumentError as exc:
            yield LineError(str(path), number, str(exc))


def read_numbered_documents(path: str | Path, strict: bool = True, limit: int | None = None) -> list[tuple[int, Document]]:
    """(line, document) for a whole (small) file or its first ``limit`` documents, the lines as
    `persian-ie validate` counts them. ``strict`` raises on a bad line; otherwise bad lines are skipped."""
    numbered = []
    for item in iter_documents(path):
        if limit is not None and len(numbered) >= limit:
            break
        if isinstance(item, LineError):
            if strict:
                raise DocumentError(f"{item.path}:{item.line}: {item.reason}")
            continue
        numbered.append((item.line, item.doc))
    return numbered


def read_documents(path: str | Path, strict: bool = True) -> list[Document]:
    """Read a whole (small) file: corpus splits, gold files. ``strict`` raises on a bad line."""
    return [doc for _, doc in read_numbered_documents(path, strict)]


def write_documents(path: str | Path, docs, include_text: bool = True) -> int:
    """Write documents as JSONL (atomically: a temp file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    opener = gzip.open(tmp, "wt", encoding="utf-8") if path.name.endswith(".gz") else open(
        tmp, "w", encoding="utf-8", newline="\n"
    )
    with opener as fh:
        for doc in docs:
            fh.write(dumps_document(doc, include_text) + "\n")
            n += 1
    tmp.replace(path)
    return n


def dumps_document(doc: Document, include_text: bool = True, allow_nan: bool = True) -> str:
    """One JSON line; ``allow_nan=False`` raises ``ValueError`` instead of writing bare NaN (invalid JSON)."""
    return json.dumps(doc.to_dict(include_text), ensure_ascii=False, allow_nan=allow_nan)


__all__ = [
    "Span", "Relation", "Document", "LineError", "DocRecord", "iter_json_lines", "iter_json_objects", "iter_documents",
    "read_documents", "write_documents", "dumps_document", "sha1_text", "open_binary", "number_spans",
    "iter_lines", "open_regular", "loads_strict", "parse_json_line", "MAX_LINE_BYTES",
]
