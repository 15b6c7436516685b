"""How one document's predicted spans differ from its gold spans.

One classification, used by the evaluation's error analysis
(``persian_ie.eval.analysis``) and by the HTML viewer
(``persian_ie.data.display``), so the page marks exactly the errors the
report counts. It lives in ``data`` because it needs only spans and a label
schema, and the viewer (a ``data`` module) must not import ``eval``.

Kinds, decided within the span's layer:

* ``type``: the other side has a span with the same boundaries, another label;
* ``boundary``: an overlapping span with the same label, other boundaries;
* ``boundary+type``: an overlapping span, other label and boundaries;
* ``miss``: a gold span that no prediction overlaps;
* ``spurious``: a predicted span that overlaps no gold span.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from persian_ie.data.document import Document, Span
from persian_ie.data.schema import LabelSchema


def span_key(span: Span) -> tuple[str, int, int]:
    """A span's identity for strict matching: label and boundaries."""
    return (span.label, span.start, span.end)


def classify_span(span: Span, others: list[Span], schema: LabelSchema) -> tuple[str | None, Span | None]:
    """The kind of mismatch between ``span`` and the other side's spans, and
    the span it is confused with; ``(None, None)`` when nothing in its layer
    overlaps it (a miss or a spurious span, by side)."""
    layer = schema.layer_of(span.label)
    same_layer = [o for o in others if schema.layer_of(o.label) == layer]
    for o in same_layer:
        if o.start == span.start and o.end == span.end:
            return "type", o
    overlapping = [o for o in same_layer if o.start < span.end and span.start < o.end]
    for o in overlapping:
        if o.label == span.label:
            return "boundary", o
    if overlapping:
        return "boundary+type", overlapping[0]
    return None, None


@dataclass
class SpanStatus:
    """``kind``: ``correct`` or one of the module's kinds; ``other``: the
    span of the other side it was compared with (None for correct, miss and
    spurious)."""

    kind: str
    other: Span | None = None


@dataclass
class DocumentDiff:
    predicted: dict[str, SpanStatus] = field(default_factory=dict)  # predicted span id -> status
    missed: list[Span] = field(default_factory=list)  # gold spans no prediction overlaps


def diff_document(gold: Document, pred: Document, schema: LabelSchema) -> DocumentDiff:
    """The status of every predicted span, and the gold spans that were missed."""
    gold_keys = {span_key(s) for s in gold.spans}
    pred_keys = {span_key(s) for s in pred.spans}
    diff = DocumentDiff()
    for p in pred.spans:
        if span_key(p) in gold_keys:
            diff.predicted[p.id] = SpanStatus("correct")
            continue
        kind, other = classify_span(p, gold.spans, schema)
        diff.predicted[p.id] = SpanStatus(kind or "spurious", other)
    for g in gold.spans:
        if span_key(g) not in pred_keys and classify_span(g, pred.spans, schema)[0] is None:
            diff.missed.append(g)
    return diff


__all__ = ["span_key", "classify_span", "SpanStatus", "DocumentDiff", "diff_document"]
