"""A right-to-left HTML view of documents: spans of every layer at once,
relations on hover or click, a facts table, and differences from gold.

The page is self-contained (style and script inline, no fonts, images or
network), so it opens from a file on an air-gapped machine. Python API::

    from persian_ie.data.display import render
    html = render(docs, gold=gold_docs)      # a whole page
    doc._repr_html_()                        # a fragment, for notebooks

How the text is drawn (and why):

* The text is written out unchanged (ZWNJ, digits, newlines kept; CSS
  ``white-space: pre-wrap``), so ``textContent`` equals ``doc.text``.
* Spans become nested inline elements. Each layer has its own visual channel
  (entity: a fill, role: an underline, event: a frame), so a TITLE around a
  CITY inside a PROPOSAL shows all three. An outer span gets more vertical
  padding than the spans inside it, so frames and underlines never coincide.
* Spans that cross (possible across layers) are split into fragments that
  share one ``data-s`` id. Span edges lie on word boundaries (SCHEMA.md
  section 2), and no inline badge is inserted, so the browser never breaks or
  unjoins a word at a span edge; labels are in the legend and the tooltip.
* Bad input never stops the page: a line that is not a document, a span
  outside its text or overlapping another of its layer is reported (file,
  line, document, span, rule: the messages of ``validate``) and left out,
  and the rest is drawn.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable
from urllib.parse import quote

from persian_ie.data.document import DocRecord, Document, LineError, Span, iter_documents
from persian_ie.data.schema import LabelSchema, load_schema
from persian_ie.data.spandiff import DocumentDiff, diff_document
from persian_ie.data.validate import Problem, document_problems

# Persian names shown beside the label codes (legend, tooltip, facts table);
# a label or relation without one shows its code.
LABEL_NAMES = {
    "PER": "شخص", "ORG": "سازمان", "CITY": "شهر", "TITLE": "سمت", "PROPOSAL": "پیشنهاد",
    "LOC": "مکان", "DAT": "تاریخ", "TIM": "زمان", "MON": "پول", "PCT": "درصد", "EVE": "رویداد",
    "POG": "رویداد/محصول/گروه", "NAT": "ملیت",
}
RELATION_NAMES = {"holder": "دارندهٔ سمت", "proposer": "پیشنهاددهنده", "party": "طرف"}
KIND_NAMES = {
    "correct": "درست", "spurious": "اضافی (در مرجع نیست)", "miss": "جاافتاده (فقط در مرجع)",
    "boundary": "مرز نادرست", "type": "برچسب نادرست", "boundary+type": "مرز و برچسب نادرست",
}
# Colour-blind-safe hues (Okabe-Ito and Tol), darkest first for thin lines.
PALETTE = ["#0072B2", "#009E73", "#D55E00", "#7B3294", "#CC3311", "#E69F00", "#56B4E9", "#AA4499", "#117733", "#666666"]
CHANNELS = ("fill", "line", "frame")  # by layer index; later layers reuse the last
DROPPED_RULES = ("span-bounds", "overlap")
BLANK_LINES = re.compile(r"(\n[ \t\r\u00a0]*\n\s*)")  # spans with these problems are not drawn


@dataclass
class Page:
    """A written page: its HTML, the documents drawn and the problems found."""

    html: str
    documents: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass
class _Mark:
    """One span to draw: a prediction, or a gold span the prediction missed."""

    key: str  # data-s attribute: the span id, "g:<id>" for a missed gold span
    span: Span
    channel: int
    color: int
    kind: str | None = None
    other: Span | None = None
    height: int = 0  # nesting levels inside it (sets its padding)


# ---------------------------------------------------------------- public API


def render(docs: Iterable[Document], gold: Iterable[Document] | None = None, schema: LabelSchema | str | None = None,
           title: str = "persian-ie") -> str:
    """A whole self-contained HTML page for ``docs`` (differences marked
    where a gold document with the same id is given)."""
    records, golds = _in_memory(docs, gold)
    return build_page(records, golds, load_schema(schema), title).html


def render_fragment(docs: Iterable[Document], gold: Iterable[Document] | None = None,
                    schema: LabelSchema | str | None = None) -> str:
    """Style, script and documents without ``<html>``: for notebooks."""
    records, golds = _in_memory(docs, gold)
    body, _, _ = documents_html(records, golds, load_schema(schema))
    return _assets() + body


def _in_memory(docs, gold) -> tuple[list[DocRecord], dict[str, DocRecord]]:
    records = [DocRecord("<docs>", n, d) for n, d in enumerate(docs, start=1)]
    golds = {d.id: DocRecord("<gold>", n, d) for n, d in enumerate(gold or [], start=1)}
    return records, golds


def show_file(pred_path: str | Path, out: str | Path, gold_path: str | Path | None = None, ids: list[str] | None = None,
              limit: int | None = None, schema: LabelSchema | str | None = None) -> Page:
    """``persian-ie show``: read predictions (streamed, so ``--limit`` reads
    only what it shows), pair them with gold by id, write the page."""
    records = _select(pred_path, set(ids) if ids else None, limit)
    shown = {r.doc.id for r in records if isinstance(r, DocRecord)}
    problems = [Problem(str(pred_path), 0, "doc-id", "no document with this id in the file", missing)
                for missing in sorted(set(ids or []) - shown)]
    golds: dict[str, DocRecord] = {}
    for item in iter_documents(gold_path) if gold_path is not None else []:
        if isinstance(item, LineError):
            problems.append(Problem(item.path, item.line, "json", item.reason))
        elif item.doc.id in shown:
            golds.setdefault(item.doc.id, item)
    page = build_page(records, golds, load_schema(schema), f"persian-ie: {Path(pred_path).name}", problems)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(page.html, encoding="utf-8")
    return page


def _select(path, wanted: set | None, limit: int | None) -> list[DocRecord | LineError]:
    """The documents to show (by id, at most ``limit``) and every bad line met on the way."""
    records: list[DocRecord | LineError] = []
    taken = 0
    for item in iter_documents(path):
        if isinstance(item, DocRecord):
            if wanted is not None and item.doc.id not in wanted:
                continue
            if limit is not None and taken >= limit:
                break
            taken += 1
        records.append(item)
    return records


def build_page(records: list[DocRecord | LineError], golds: dict[str, DocRecord], schema: LabelSchema, title: str,
               extra_problems: list[Problem] | None = None) -> Page:
    body, problems, drawn = documents_html(records, golds, schema)
    problems = list(extra_problems or []) + problems
    head = f"<h1><bdi>{_e(title)}</bdi></h1>" + legend_html(schema, with_gold=bool(golds)) + _problems_html(problems)
    return Page(page_html(title, head + body), drawn, problems)


def page_html(title: str, body: str, extra_css: str = "") -> str:
    """The page shell: right to left, Persian, style and script inline."""
    return (f'<!DOCTYPE html>\n<html dir="rtl" lang="fa"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title></head>'
            f'<body>{_assets(extra_css)}<main class="pie-page">{body}</main></body></html>\n')


def documents_html(records: list[DocRecord | LineError], golds: dict[str, DocRecord], schema: LabelSchema,
                   anchors: set[str] | None = None) -> tuple[str, list[Problem], int]:
    """The documents' HTML (each in its own ``.pie`` root), the problems
    found and the number of documents drawn. Used by the page and by the
    evaluation report."""
    anchors = set() if anchors is None else anchors
    parts, problems, drawn = [], [], 0
    for item in records:
        if isinstance(item, LineError):
            problems.append(Problem(item.path, item.line, "json", f"not a document, skipped: {item.reason}"))
            continue
        gold = golds.get(item.doc.id)
        doc_html, doc_problems = _document_section(item, gold, schema, anchors)
        problems += doc_problems
        if doc_html:
            parts.append(doc_html)
            drawn += 1
    return "".join(parts), problems, drawn


def doc_anchor(doc_id: str) -> str:
    """The element id of a document's section (the evaluation report links to it)."""
    return f"d-{doc_id}"


def doc_href(doc_id: str) -> str:
    return "#" + quote(doc_anchor(doc_id), safe="")


# ---------------------------------------------------------- one document


def _document_section(record: DocRecord, gold: DocRecord | None, schema: LabelSchema, anchors: set[str]) -> tuple[str, list[Problem]]:
    doc = record.doc
    problems: list[Problem] = []
    text = doc.text
    if gold is not None and gold.doc.text_sha1 != doc.text_sha1:
        problems.append(Problem(record.path, record.line, "text-mismatch", f"text differs from gold at {gold.path}:{gold.line}; differences not marked", doc.id))
        gold = None
    if text is None and gold is not None:
        text = gold.doc.text  # a --no-text prediction: the gold file has the text
    if text is None:
        problems.append(Problem(record.path, record.line, "no-text", "the document has no text (predicted with --no-text?); pass --gold with its text", doc.id))
        return "", problems
    doc = Document(doc.id, text, doc.spans, doc.relations, doc.meta, doc.extra)
    doc, found = _drawable(doc, schema, record.path, record.line)
    problems += found
    diff = None
    if gold is not None:
        gold_doc, found = _drawable(gold.doc, schema, gold.path, gold.line)
        problems += found
        diff = diff_document(gold_doc, doc, schema)
    marks = _marks(doc, diff, schema)
    anchor = doc_anchor(doc.id)
    while anchor in anchors:  # the same id twice in one page
        anchor += "+"
    anchors.add(anchor)
    section = (f'<section class="pie pie-doc" dir="rtl" lang="fa" id="{_e(anchor)}">'
               f'{_doc_header(doc, diff, problems)}'
               f'<div class="pie-text" style="--depth:{min(max((m.height for m in marks), default=0), 3)}">{_nest(text, marks)}</div>'
               f'{_facts_table(doc, schema)}{_doc_data(doc, marks)}</section>')
    return section, problems


def _drawable(doc: Document, schema: LabelSchema, path: str, line: int) -> tuple[Document, list[Problem]]:
    """The document without the spans that cannot be drawn, and every
    problem ``validate`` finds in it."""
    problems = document_problems(doc, schema, path, line)
    dropped = {p.span_id for p in problems if p.rule in DROPPED_RULES}
    for p in problems:
        if p.rule in DROPPED_RULES:
            p.message += " (span not drawn)"
    spans = [s for s in doc.spans if s.id not in dropped]
    return Document(doc.id, doc.text, spans, doc.relations, doc.meta, doc.extra), problems


def _marks(doc: Document, diff: DocumentDiff | None, schema: LabelSchema) -> list[_Mark]:
    labels = schema.labels
    layers = list(schema.layers)

    def mark(key, span, kind=None, other=None):
        layer = schema.layer_of(span.label)
        channel = min(layers.index(layer), len(CHANNELS) - 1) if layer else 0
        color = labels.index(span.label) % len(PALETTE) if span.label in labels else len(PALETTE) - 1
        return _Mark(key, span, channel, color, kind, other)

    marks = []
    for s in doc.spans:
        status = diff.predicted.get(s.id) if diff else None
        marks.append(mark(s.id, s, status.kind if status else None, status.other if status else None))
    if diff:
        marks += [mark(f"g:{g.id}", g, "miss") for g in diff.missed]
    marks.sort(key=_outer_first)
    _set_heights(marks)
    return marks


def _outer_first(m: _Mark):
    return (m.span.start, -m.span.end, -m.channel, m.key)


def _set_heights(marks: list[_Mark]) -> None:
    """Nesting levels inside each mark (marks come outer first)."""
    order = {id(m): i for i, m in enumerate(marks)}
    for m in sorted(marks, key=lambda m: m.span.end - m.span.start):
        inner = [o.height + 1 for o in marks if order[id(o)] > order[id(m)]
                 and m.span.start <= o.span.start and o.span.end <= m.span.end]
        m.height = max(inner, default=0)


def _nest(text: str, marks: list[_Mark]) -> str:
    """The text with marks as nested elements; crossing marks are split into
    fragments (the text itself is never changed, only escaped)."""
    cuts = sorted({0, len(text)} | {m.span.start for m in marks} | {m.span.end for m in marks})
    out: list[str] = []
    stack: list[tuple[_Mark, int]] = []  # open marks and where their tag is in ``out``
    for a, b in zip(cuts, cuts[1:]):
        covering = [m for m in marks if m.span.start <= a and b <= m.span.end]
        keep = 0
        while keep < min(len(stack), len(covering)) and stack[keep][0] is covering[keep]:
            keep += 1
        for m, at in stack[keep:]:
            if a < m.span.end:  # closed early: this fragment is not the mark's last
                out[at] = _open(m, last=False)
        out.append("</span>" * (len(stack) - keep))
        stack = stack[:keep]
        for m in covering[keep:]:
            stack.append((m, len(out)))
            out.append(_open(m))
        out.append(_paragraphs(text[a:b]) if not stack else html.escape(text[a:b], quote=False))
    out.append("</span>" * len(stack))
    return '<div class="pie-par">' + "".join(out) + "</div>"


def _paragraphs(piece: str) -> str:
    """Text outside every mark, its blank lines turned into paragraph breaks:
    a blank line at this line height would be a wide gap. The newlines stay
    in the page (hidden), so ``textContent`` is still the document's text."""
    parts = BLANK_LINES.split(piece)
    out = [html.escape(parts[0], quote=False)]
    for gap, after in zip(parts[1::2], parts[2::2]):
        out.append(f'</div><span class="pie-nl">{gap}</span><div class="pie-par">{html.escape(after, quote=False)}')
    return "".join(out)


def _open(m: _Mark, last: bool = True) -> str:
    """The opening tag; a fragment that is not the mark's last gets ``frag``
    (no difference marker at its end)."""
    classes = f"sp ch-{CHANNELS[m.channel]} c{m.color}" + (f" k-{m.kind.replace('+', '-')}" if m.kind else "") + ("" if last else " frag")
    return f'<span class="{classes}" data-s="{_e(m.key)}" style="--h:{m.height}">'


def _doc_header(doc: Document, diff: DocumentDiff | None, problems: list[Problem]) -> str:
    meta = " · ".join(f"<bdi>{_e(k)}: {_e(v)}</bdi>" for k, v in doc.meta.items() if isinstance(v, (str, int, float)))
    counts = f"{len(doc.spans)} عبارت، {len(doc.relations)} رابطه"
    if diff is not None:
        kinds: dict[str, int] = {}
        for status in diff.predicted.values():
            kinds[status.kind] = kinds.get(status.kind, 0) + 1
        if diff.missed:
            kinds["miss"] = len(diff.missed)
        counts += "؛ " + " · ".join(f'<span class="kind-count" data-kind="{k}">{_e(KIND_NAMES[k].split(" (")[0])}: {kinds[k]}</span>'
                                   for k in KIND_NAMES if k in kinds)
    warn = f'<p class="pie-doc-problems">{len(problems)} مشکل در ورودی (فهرست بالای صفحه)</p>' if problems else ""
    return f'<header><h2><bdi>{_e(doc.id)}</bdi></h2><p class="pie-meta">{meta}</p><p class="pie-counts">{counts}</p>{warn}</header>'


def _facts_table(doc: Document, schema: LabelSchema) -> str:
    """One table per head label (officials: TITLE -> holder; proposals:
    PROPOSAL -> proposer, party); every cell links back to its span."""
    spans = doc.span_by_id()
    by_head: dict[str, dict[str, list[str]]] = {}
    for rel in doc.relations:
        if rel.head in spans and rel.tail in spans:
            by_head.setdefault(rel.head, {}).setdefault(rel.type, []).append(rel.tail)
    tables = []
    for label in schema.labels:
        heads = sorted((spans[h] for h in by_head if spans[h].label == label), key=lambda s: s.start)
        if not heads:
            continue
        types = [t for t, r in schema.relations.items() if label in r.head]
        rows = "".join("<tr><td>" + _span_link(doc, h) + "</td>" + "".join(
            "<td>" + "، ".join(_span_link(doc, spans[t]) for t in by_head[h.id].get(rt, [])) + "</td>" for rt in types) + "</tr>"
            for h in heads)
        head_cells = "".join(f"<th>{_e(RELATION_NAMES.get(t, t))} <small>{_e(t)}</small></th>" for t in types)
        tables.append(f'<table class="pie-facts" data-label="{_e(label)}"><caption>{_e(LABEL_NAMES.get(label, label))} '
                      f'<small>{_e(label)}</small></caption><thead><tr><th>{_e(LABEL_NAMES.get(label, label))}</th>{head_cells}</tr></thead>'
                      f'<tbody>{rows}</tbody></table>')
    if not tables:
        return ""
    return '<details class="pie-facts-box" open><summary>یافته‌ها</summary>' + "".join(tables) + "</details>"


def _span_link(doc: Document, span: Span) -> str:
    text = (doc.text or "")[span.start:span.end]
    return f'<a href="{doc_href(doc.id)}" class="pie-link" data-goto="{_e(span.id)}">{_e(text)}</a>'


def _doc_data(doc: Document, marks: list[_Mark]) -> str:
    """What the script needs: per span label, text, score, status, the span
    it was compared with; and the relations."""
    text = doc.text or ""
    spans = {}
    for m in marks:
        entry = {"label": m.span.label, "text": text[m.span.start:m.span.end]}
        if m.span.score is not None:
            entry["score"] = round(float(m.span.score), 4)
        if m.kind:
            entry["kind"] = m.kind
        if m.other is not None:
            entry["other"] = {"label": m.other.label, "text": text[m.other.start:m.other.end]}
        spans[m.key] = entry
    data = {"spans": spans, "relations": [[r.type, r.head, r.tail] for r in doc.relations]}
    return f'<script type="application/json" class="pie-data">{_json(data)}</script>'


# ------------------------------------------------------------ page parts


def legend_html(schema: LabelSchema, with_gold: bool) -> str:
    items = []
    for layer_index, (layer, labels) in enumerate(schema.layers.items()):
        channel = CHANNELS[min(layer_index, len(CHANNELS) - 1)]
        for label in labels:
            color = schema.labels.index(label) % len(PALETTE)
            items.append(f'<li><span class="sp ch-{channel} c{color}" style="--h:0">{_e(LABEL_NAMES.get(label, label))}</span> '
                         f'<code>{_e(label)}</code></li>')
    gold = ""
    if with_gold:
        gold = '<ul class="pie-legend-kinds">' + "".join(
            f'<li><span class="sp ch-fill c9 k-{k.replace("+", "-")}" style="--h:0">{_e(name)}</span></li>'
            for k, name in KIND_NAMES.items() if k != "correct") + "</ul>"
    return (f'<div class="pie-legend"><ul>{"".join(items)}</ul>{gold}'
            '<p class="pie-hint">روی هر بخش نشانگر را نگه دارید یا کلیک کنید تا برچسب، امتیاز و روابطش دیده شود؛ Esc برای بستن.</p></div>')


def _problems_html(problems: list[Problem]) -> str:
    if not problems:
        return ""
    items = "".join(f'<li dir="ltr" data-rule="{_e(p.rule)}">{_e(str(p))}</li>' for p in problems)
    return f'<details class="pie-problems" open><summary>{len(problems)} مشکل در ورودی</summary><ul>{items}</ul></details>'


def _assets(extra_css: str = "") -> str:
    files = resources.files("persian_ie.data").joinpath("viewer")
    css = files.joinpath("viewer.css").read_text("utf-8")
    js = files.joinpath("viewer.js").read_text("utf-8")
    names = {"labels": LABEL_NAMES, "relations": RELATION_NAMES, "kinds": KIND_NAMES}
    palette = "".join(f".sp.c{i}{{--c:{c}}}" for i, c in enumerate(PALETTE))
    return (f"<style>{css}{palette}{extra_css}</style>"
            f'<script type="application/json" id="pie-names">{_json(names)}</script><script>{js}</script>')


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _json(data) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


__all__ = ["render", "render_fragment", "show_file", "build_page", "page_html", "legend_html", "documents_html",
           "doc_anchor", "doc_href", "Page"]
