"""Pairing gold and predicted documents, with the bad-input rules.

Rules (each a named, counted warning or an error, never a silent mis-score):

* ``missing-prediction`` (warning): a gold document has no prediction; it is
  scored as a document with no predicted spans.
* ``extra-prediction`` (warning): a prediction for a document not in gold;
  ignored.
* ``text-mismatch`` (error): same id, different text (or a different
  ``text_sha1`` when the prediction leaves the text out).
* ``span-bounds`` (error): a predicted span outside its text.
* ``unknown-label`` (warning): a predicted span whose label is not in the
  schema; ignored.
* ``duplicate-id`` (error): a document id twice in gold or in predictions.
* ``gold-span-bounds`` / ``gold-unknown-label`` (warning): a gold span that
  cannot be right (outside its text, or a label not in the schema); dropped
  from scoring, named in the warning examples.
* ``pred-overlap`` (warning): two predicted spans of one layer overlap (the
  model's output breaks the format; both are scored).
* ``pred-relation-end`` (warning): a predicted relation whose head or tail is
  not a predicted span; dropped.
* ``empty-gold`` (error): the gold file holds no document.
* ``no-common-id`` (error): no gold document has a prediction (every F1
  would be 0 for a mix-up of files, not for the model).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from persian_ie.data.document import Document, sha1_text
from persian_ie.data.schema import LabelSchema
from persian_ie.data.spandiff import span_key  # one definition, shared with the viewer
from persian_ie.errors import EvaluationError

log = logging.getLogger(__name__)


@dataclass
class DocPair:
    gold: Document
    pred: Document


@dataclass
class Pairing:
    pairs: list[DocPair]
    warnings: Counter = field(default_factory=Counter)
    warning_examples: dict = field(default_factory=dict)


def _index(docs: list[Document], what: str) -> dict[str, Document]:
    out: dict[str, Document] = {}
    for doc in docs:
        if doc.id in out:
            raise EvaluationError(f"duplicate-id: document {doc.id!r} appears twice in the {what} file")
        out[doc.id] = doc
    return out


def pair_documents(gold_docs: list[Document], pred_docs: list[Document], schema: LabelSchema) -> Pairing:
    if not gold_docs:
        raise EvaluationError("empty-gold: the gold file holds no document; nothing to score against")
    gold, pred = _index(gold_docs, "gold"), _index(pred_docs, "prediction")
    if not gold.keys() & pred.keys():
        example = f" (gold {next(iter(gold))!r}, prediction {next(iter(pred))!r})" if pred else ""
        raise EvaluationError(f"no-common-id: none of the {len(gold)} gold documents has a prediction among the {len(pred)} predicted{example}; "
                              "are the prediction and gold files of the same documents?")
    pairing = Pairing([])

    def warn(rule, example):
        pairing.warnings[rule] += 1
        pairing.warning_examples.setdefault(rule, example)
        if pairing.warnings[rule] == 1:  # the first of each rule; the report counts them all
            log.warning("%s: %s", rule, example)

    for doc_id in pred:
        if doc_id not in gold:
            warn("extra-prediction", doc_id)
    for doc_id, g in gold.items():
        p = pred.get(doc_id)
        if p is None:
            warn("missing-prediction", doc_id)
            p = Document(doc_id, g.text)
        g = _possible_gold(g, schema, warn)
        if p.text_sha1 != g.text_sha1:
            raise EvaluationError(
                f"text-mismatch: document {doc_id!r} has a different text in gold and prediction "
                f"(sha1 {g.text_sha1} vs {p.text_sha1}); offsets cannot be compared"
            )
        _warn_overlaps(p, schema, warn)
        kept = []
        for span in p.spans:
            if schema.layer_of(span.label) is None:
                warn("unknown-label", f"{doc_id}:{span.id}:{span.label}")
                continue
            if not (0 <= span.start < span.end <= len(g.text or "")):
                raise EvaluationError(f"span-bounds: prediction doc={doc_id} span={span.id} [{span.start}, {span.end}) is outside the text")
            kept.append(span)
        p = Document(p.id, g.text, kept, _linked_relations(p, kept, warn), p.meta, p.extra)
        pairing.pairs.append(DocPair(g, p))
    return pairing


def _possible_gold(g: Document, schema: LabelSchema, warn) -> Document:
    """Gold without the spans that cannot be scored (and their relations)."""
    kept = []
    for span in g.spans:
        if schema.layer_of(span.label) is None:
            warn("gold-unknown-label", f"gold doc={g.id} span={span.id} label {span.label!r} not in schema {schema.name!r}")
        elif g.text is None or not (0 <= span.start < span.end <= len(g.text)):
            warn("gold-span-bounds", f"gold doc={g.id} span={span.id} [{span.start}, {span.end}) is outside the text (length {len(g.text or '')})")
        else:
            kept.append(span)
    if len(kept) == len(g.spans):
        return g
    ids = {s.id for s in kept}
    relations = [r for r in g.relations if r.head in ids and r.tail in ids]
    return Document(g.id, g.text, kept, relations, g.meta, g.extra)


def _warn_overlaps(p: Document, schema: LabelSchema, warn) -> None:
    by_layer: dict = {}
    for span in p.spans:
        layer = schema.layer_of(span.label)
        if layer is not None:
            by_layer.setdefault(layer, []).append(span)
    for layer, spans in by_layer.items():
        spans.sort(key=lambda s: (s.start, s.end))
        for a, b in zip(spans, spans[1:]):
            if b.start < a.end:
                warn("pred-overlap", f"prediction doc={p.id} spans {a.id} and {b.id} overlap in layer {layer!r}")


def _linked_relations(p: Document, kept_spans, warn) -> list:
    ids = {s.id for s in kept_spans}
    out = []
    for rel in p.relations:
        if rel.head in ids and rel.tail in ids:
            out.append(rel)
        else:
            warn("pred-relation-end", f"prediction doc={p.id} relation {rel.type} {rel.head} -> {rel.tail}: no such span")
    return out


__all__ = ["DocPair", "Pairing", "pair_documents", "span_key", "sha1_text"]
