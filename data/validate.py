"""Validation of documents against SCHEMA.md and a label schema.

Each problem names the file, line, document, span and rule, with the
offending text. Rules (the names that appear in messages):

``json``            the line is not a JSON object / not UTF-8 / lacks required fields
``empty-text``      the document text is empty
``span-bounds``     start/end outside the text, or end <= start
``span-edge``       a span starts or ends inside a word, or with whitespace/punctuation
``span-text``       a span's optional ``text`` differs from the text at its offsets
``label``           a label not in the schema (with a hint for lower-case labels)
``overlap``         two spans of one layer overlap
``span-id``         duplicate span id within a document
``relation-type``   a relation type not in the schema
``relation-end``    a relation whose head or tail id is not a span of the document
``relation-label``  a relation between spans of the wrong labels
``doc-id``          a document id seen before (in any of the files validated together)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from persian_ie.data.document import Document, LineError, iter_documents
from persian_ie.data.schema import LabelSchema
from persian_ie.data.snippets import in_context
from persian_ie.data.tokenize import is_bad_edge_char, is_boundary_char


@dataclass
class Problem:
    path: str
    line: int
    rule: str
    message: str
    doc_id: str | None = None
    span_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        if self.doc_id:
            where += f" doc={self.doc_id}"
        if self.span_id:
            where += f" span={self.span_id}"
        return f"{where}: {self.rule}: {self.message}"


def _context(text: str, start: int, end: int) -> str:
    piece = text[max(start, 0):max(end, 0)].replace("\n", "⏎")
    return f"«{piece}» in …{in_context(text, start, end, width=15, newline='⏎')}…"


def check_span_edges(text: str, start: int, end: int) -> str | None:
    """Return why the span's edges break SCHEMA.md section 2, or None."""
    if is_bad_edge_char(text[start]) or is_bad_edge_char(text[end - 1]):
        return "span begins or ends with whitespace or punctuation"
    if start > 0 and not is_boundary_char(text[start - 1]):
        return "span starts inside a word"
    if end < len(text) and not is_boundary_char(text[end]):
        return "span ends inside a word"
    return None


def document_problems(doc: Document, schema: LabelSchema, path: str = "<doc>", line: int = 0) -> list[Problem]:
    """All rule violations of one document (file-level rules excepted)."""
    found = [*_text_problems(doc), *_span_problems(doc, schema), *_overlap_problems(_layered_spans(doc, schema), doc.text), *_relation_problems(doc, schema)]
    return [Problem(path, line, rule, message, doc.id, span_id) for rule, message, span_id in found]


# Each rule helper yields (rule, message, span id or None); document_problems names the document.
def _text_problems(doc: Document) -> Iterator[tuple]:
    if doc.text is not None and not doc.text.strip():
        yield "empty-text", "the document text is empty", None
    for span_id, n in Counter(s.id for s in doc.spans).items():
        if n > 1:
            yield "span-id", f"span id used {n} times", span_id


def _span_problems(doc: Document, schema: LabelSchema) -> Iterator[tuple]:
    text = doc.text
    for span in doc.spans:
        if schema.layer_of(span.label) is None:
            hint = f"; did you mean {span.label.upper()!r}?" if schema.layer_of(span.label.upper()) else ""
            yield "label", f"label {span.label!r} is not in schema {schema.name!r} {schema.labels}{hint}", span.id
        if text is None:
            # Output without text (text_sha1 only): the length is unknown, but a
            # negative start or an empty range is wrong whatever the text was.
            if not (0 <= span.start < span.end):
                yield "span-bounds", f"[{span.start}, {span.end}) is not a non-empty range with start >= 0", span.id
            continue
        if not _inside(span, text):
            yield "span-bounds", f"[{span.start}, {span.end}) is not a non-empty range inside the text (length {len(text)})", span.id
            continue
        reason = check_span_edges(text, span.start, span.end)
        if reason:
            yield "span-edge", f"{reason}: {_context(text, span.start, span.end)}", span.id
        if span.text is not None and span.text != text[span.start:span.end]:
            yield "span-text", f"span text {span.text!r} differs from the text at its offsets {text[span.start:span.end]!r}", span.id


def _inside(span, text: str) -> bool:
    return 0 <= span.start < span.end <= len(text)


def _layered_spans(doc: Document, schema: LabelSchema) -> list[tuple[str, object]]:
    """(layer, span) of the spans the overlap rule can judge: known label, inside the text."""
    if doc.text is None:
        return []
    return [(schema.layer_of(s.label), s) for s in doc.spans if schema.layer_of(s.label) is not None and _inside(s, doc.text)]


def _overlap_problems(layered_spans, text) -> Iterator[tuple]:
    by_layer: dict[str, list] = {}
    for layer, span in layered_spans:
        by_layer.setdefault(layer, []).append(span)
    for layer, spans in by_layer.items():
        spans.sort(key=lambda s: (s.start, s.end))
        for a, b in zip(spans, spans[1:]):
            if b.start < a.end:
                yield "overlap", f"overlaps span {a.id} in layer {layer!r}: {_context(text, b.start, b.end)} vs «{text[a.start:a.end]}»", b.id


def _relation_problems(doc: Document, schema: LabelSchema) -> Iterator[tuple]:
    spans = doc.span_by_id()
    for rel in doc.relations:
        rtype = schema.relations.get(rel.type)
        if rtype is None:
            yield "relation-type", f"relation type {rel.type!r} is not in schema {schema.name!r} {sorted(schema.relations)}", None
            continue
        head, tail = spans.get(rel.head), spans.get(rel.tail)
        if head is None or tail is None:
            missing = rel.head if head is None else rel.tail
            yield "relation-end", f"{rel.type} {rel.head} -> {rel.tail}: no span with id {missing!r}", None
            continue
        if head.label not in rtype.head or tail.label not in rtype.tail:
            yield "relation-label", f"{rel.type} must link {'/'.join(rtype.head)} -> {'/'.join(rtype.tail)}, got {head.label} -> {tail.label}", rel.head


@dataclass
class ValidationReport:
    files: int = 0
    documents: int = 0
    invalid_documents: int = 0
    unreadable_lines: int = 0
    spans: int = 0
    relations: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        verdict = "OK" if self.ok else "INVALID"
        rules = Counter(p.rule for p in self.problems)
        by_rule = ", ".join(f"{r}={n}" for r, n in sorted(rules.items()))
        return (
            f"{verdict}: {self.files} file(s), {self.documents} document(s), {self.spans} spans, "
            f"{self.relations} relations; {self.invalid_documents} invalid document(s), "
            f"{self.unreadable_lines} unreadable line(s), {len(self.problems)} problem(s)"
            + (f" [{by_rule}]" if by_rule else "")
        )


def validate_files(paths: Iterable[str], schema: LabelSchema) -> ValidationReport:
    """Validate JSONL files together (document ids must be unique across them)."""
    report = ValidationReport()
    seen_ids: dict[str, str] = {}
    for path in paths:
        report.files += 1
        for item in iter_documents(path):
            if isinstance(item, LineError):
                report.unreadable_lines += 1
                report.problems.append(Problem(item.path, item.line, "json", item.reason))
                continue
            doc = item.doc
            report.documents += 1
            report.spans += len(doc.spans)
            report.relations += len(doc.relations)
            problems = document_problems(doc, schema, item.path, item.line)
            where = f"{item.path}:{item.line}"
            if doc.id in seen_ids:
                problems.append(Problem(item.path, item.line, "doc-id", f"document id already used at {seen_ids[doc.id]}", doc.id))
            else:
                seen_ids[doc.id] = where
            if problems:
                report.invalid_documents += 1
                report.problems += problems
    return report
