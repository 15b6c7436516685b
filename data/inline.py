"""Inline annotation markup -> documents with exact offsets.

Annotators copy the article and wrap mentions in tags (data/GUIDELINES.md
section 1)::

    <TITLE:t1>شهردار <CITY>مشهد</CITY></TITLE> <PER:p1>محمدرضا کلایی</PER>
    === relations
    holder t1 p1

The converter strips the tags and checks that what remains is the original
text. Copying Persian by hand (or by a language model) changes invisible
things, so the comparison is made on a key that ignores what normalization
removes (Arabic/Persian letter variants, digit sets, kashida, diacritics,
ZWNJ and whitespace); any other difference is an error naming the line and
showing both versions. Offsets are then mapped onto the ORIGINAL text, so
the gold data never inherits a copying slip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from persian_ie.data.document import Document, Relation, Span, number_spans
from persian_ie.data.normalize import ZERO_WIDTH, Normalizer
from persian_ie.data.schema import LabelSchema
from persian_ie.data.snippets import around
from persian_ie.errors import InlineMarkupError

RELATIONS_MARKER = "=== relations"
_KEY_NORMALIZER = Normalizer()


@dataclass
class InlineResult:
    doc: Document
    errors: list[str] = field(default_factory=list)


def _tag_pattern(labels) -> re.Pattern:
    alternatives = "|".join(sorted(labels, key=len, reverse=True))
    return re.compile(rf"<(/?)({alternatives})(?::([A-Za-z0-9_]+))?>")


def _key(text: str) -> tuple[str, list[int]]:
    """Comparison key: normalized, without whitespace and zero-width chars,
    with each key character's index in ``text``."""
    norm = _KEY_NORMALIZER(text)
    chars, index = [], []
    for ch, i in zip(norm.text, norm.index):
        if ch.isspace() or ch in ZERO_WIDTH:
            continue
        chars.append(ch)
        index.append(i)
    return "".join(chars), index


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def strip_tags(body: str, schema: LabelSchema, line_offset: int = 0):
    """Remove tags; return (plain text, [(label, user_id, start, end)], errors)."""
    pattern = _tag_pattern(schema.labels)
    plain: list[str] = []
    spans, errors, open_tags = [], [], []
    pos = plain_len = 0
    for m in pattern.finditer(body):
        chunk = body[pos:m.start()]
        plain.append(chunk)
        plain_len += len(chunk)
        pos = m.end()
        closing, label, user_id = m.group(1) == "/", m.group(2), m.group(3)
        line = _line_of(body, m.start()) + line_offset
        if not closing:
            open_tags.append((label, user_id, plain_len, line))
            continue
        for k in range(len(open_tags) - 1, -1, -1):
            if open_tags[k][0] == label:
                _, uid, start, _ = open_tags.pop(k)
                spans.append((label, uid, start, plain_len))
                break
        else:
            errors.append(f"line {line}: closing tag </{label}> without an opening <{label}>")
    plain.append(body[pos:])
    for label, _, _, line in open_tags:
        errors.append(f"line {line}: <{label}> is never closed")
    return "".join(plain), spans, errors


def _mismatch_message(plain: str, original: str, pkey, okey) -> str:
    (pk, pidx), (ok, oidx) = pkey, okey
    i = next((i for i, (a, b) in enumerate(zip(pk, ok)) if a != b), min(len(pk), len(ok)))
    p_at = pidx[i] if i < len(pidx) else len(plain)
    o_at = oidx[i] if i < len(oidx) else len(original)
    return (
        f"text differs from the original at annotated line {_line_of(plain, p_at)} "
        f"(original line {_line_of(original, o_at)}):\n  annotated: …{around(plain, p_at)}…\n"
        f"  original:  …{around(original, o_at)}…"
    )


def _map_span(start: int, end: int, pidx_sorted: list[int], oidx: list[int]):
    import bisect

    lo = bisect.bisect_left(pidx_sorted, start)
    hi = bisect.bisect_left(pidx_sorted, end) - 1
    if hi < lo:
        return None
    return oidx[lo], oidx[hi] + 1


def parse_inline(markup: str, original: str, doc_id: str, schema: LabelSchema, meta: dict | None = None) -> InlineResult:
    """Convert inline markup to a document over ``original``; errors are collected."""
    markup = markup.lstrip("\ufeff").replace("\r\n", "\n")
    body, _, rel_block = markup.partition("\n" + RELATIONS_MARKER)
    plain, raw_spans, errors = strip_tags(body, schema)
    pkey, okey = _key(plain), _key(original)
    if pkey[0] != okey[0]:
        raise InlineMarkupError(_mismatch_message(plain, original, pkey, okey))
    spans, by_user_id = [], {}
    for label, uid, start, end in raw_spans:
        mapped = _map_span(start, end, pkey[1], okey[1])
        if mapped is None:
            errors.append(f"empty <{label}> tag at annotated line {_line_of(plain, start)}")
            continue
        spans.append(Span("", mapped[0], mapped[1], label))
        if uid:
            if uid in by_user_id:
                errors.append(f"id {uid!r} used on two spans")
            by_user_id[uid] = spans[-1]
    number_spans(spans)
    relations = _parse_relations(rel_block, by_user_id, errors, _line_of(markup, len(body)) + 1)
    return InlineResult(Document(doc_id, original, spans, relations, meta or {}), errors)


def _parse_relations(block: str, by_user_id: dict, errors: list, first_line: int) -> list[Relation]:
    relations, seen = [], set()
    for k, line in enumerate(block.splitlines()):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3:
            errors.append(f"line {first_line + k}: a relation line is 'TYPE HEAD_ID TAIL_ID', got {line!r}")
            continue
        rtype, head, tail = parts
        missing = [x for x in (head, tail) if x not in by_user_id]
        if missing:
            errors.append(f"line {first_line + k}: relation {line!r} names unknown id(s) {missing}")
            continue
        key = (rtype, by_user_id[head].id, by_user_id[tail].id)
        if key not in seen:
            seen.add(key)
            relations.append(Relation(*key))
    return relations


def document_to_inline(doc: Document) -> str:
    """Render a document as inline markup (for review and adjudication)."""
    text = doc.text or ""
    involved = {r.head for r in doc.relations} | {r.tail for r in doc.relations}
    inserts: list[tuple[int, int, str]] = []  # (position, order, tag)
    for span in doc.spans:
        uid = f":{span.id}" if span.id in involved else ""
        width = span.end - span.start
        inserts.append((span.start, -width, f"<{span.label}{uid}>"))
        inserts.append((span.end, width, f"</{span.label}>"))
    inserts.sort(key=lambda x: (x[0], 0 if x[2].startswith("</") else 1, x[1]))
    out, pos = [], 0
    for at, _, tag in inserts:
        out.append(text[pos:at])
        out.append(tag)
        pos = at
    out.append(text[pos:])
    lines = "".join(out)
    if doc.relations:
        lines += "\n" + RELATIONS_MARKER + "\n" + "\n".join(f"{r.type} {r.head} {r.tail}" for r in doc.relations)
    return lines + "\n"
