"""The document model of SCHEMA.md section 4 and streaming JSONL I/O.

Readers stream line by line (``.jsonl`` or ``.jsonl.gz``) so an archive of
millions of documents is never loaded whole. Malformed lines are yielded as
``LineError`` records, never raised, so callers can count and report them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from persian_ie.errors import DocumentError


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

    def to_dict(self) -> dict:
        return {"type": self.type, "head": self.head, "tail": self.tail}


@dataclass
class Document:
    id: str
    text: str | None
    spans: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # records, model, text_sha1, ...

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
        spans = [_span_from_dict(doc_id, i, s) for i, s in enumerate(raw.get("spans") or [])]
        relations = [_relation_from_dict(doc_id, i, r) for i, r in enumerate(raw.get("relations") or [])]
        known = {"id", "text", "meta", "spans", "relations"}
        extra = {k: v for k, v in raw.items() if k not in known}
        meta = raw.get("meta") or {}
        if not isinstance(meta, dict):
            raise DocumentError(f"doc={doc_id}: 'meta' must be an object")
        return cls(doc_id, text, spans, relations, meta, extra)


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
    return Relation(raw["type"], raw["head"], raw["tail"])


def number_spans(spans: list[Span], prefix: str = "s") -> list[Span]:
    """Sort spans by (start, -end, label) and give them ids ``s1``, ``s2``, ... in place."""
    spans.sort(key=lambda s: (s.start, -s.end, s.label))
    for n, span in enumerate(spans, start=1):
        span.id = f"{prefix}{n}"
    return spans


def sha1_text(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass
class LineError:
    """A line that could not be read as a document."""

    path: str
    line: int
    reason: str


@dataclass
class DocRecord:
    path: str
    line: int
    doc: Document


def open_binary(path: str | Path):
    """Open a ``.gz`` or plain file for reading bytes (decoded per line later)."""
    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, Any] | LineError]:
    """Yield ``(line_number, parsed_object)`` or a ``LineError`` per non-blank line.

    Bytes are decoded per line, so one non-UTF-8 line is reported by number
    and the rest of the file is still read. A BOM at the start and CRLF line
    ends are accepted.
    """
    with open_binary(path) as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield LineError(str(path), number, f"not valid UTF-8 (byte {exc.start}): {raw[:60]!r}")
                continue
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield LineError(str(path), number, f"malformed JSON ({exc.msg} at column {exc.colno}): {line[:60]!r}")


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


def read_documents(path: str | Path, strict: bool = True) -> list[Document]:
    """Read a whole (small) file: corpus splits, gold files. ``strict`` raises on a bad line."""
    docs = []
    for item in iter_documents(path):
        if isinstance(item, LineError):
            if strict:
                raise DocumentError(f"{item.path}:{item.line}: {item.reason}")
            continue
        docs.append(item.doc)
    return docs


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


def dumps_document(doc: Document, include_text: bool = True) -> str:
    return json.dumps(doc.to_dict(include_text), ensure_ascii=False)


__all__ = [
    "Span", "Relation", "Document", "LineError", "DocRecord", "iter_json_lines", "iter_documents",
    "read_documents", "write_documents", "dumps_document", "sha1_text", "open_binary", "number_spans",
]
