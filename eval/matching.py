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
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from persian_ie.data.document import Document, sha1_text
from persian_ie.data.schema import LabelSchema
from persian_ie.data.spandiff import span_key  # one definition, shared with the viewer
from persian_ie.errors import EvaluationError


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
    gold, pred = _index(gold_docs, "gold"), _index(pred_docs, "prediction")
    pairing = Pairing([])

    def warn(rule, example):
        pairing.warnings[rule] += 1
        pairing.warning_examples.setdefault(rule, example)

    for doc_id in pred:
        if doc_id not in gold:
            warn("extra-prediction", doc_id)
    for doc_id, g in gold.items():
        p = pred.get(doc_id)
        if p is None:
            warn("missing-prediction", doc_id)
            p = Document(doc_id, g.text)
        elif p.text_sha1 != g.text_sha1:
            raise EvaluationError(
                f"text-mismatch: document {doc_id!r} has a different text in gold and prediction "
                f"(sha1 {g.text_sha1} vs {p.text_sha1}); offsets cannot be compared"
            )
        kept = []
        for span in p.spans:
            if schema.layer_of(span.label) is None:
                warn("unknown-label", f"{doc_id}:{span.id}:{span.label}")
                continue
            if not (0 <= span.start < span.end <= len(g.text or "")):
                raise EvaluationError(f"span-bounds: prediction doc={doc_id} span={span.id} [{span.start}, {span.end}) is outside the text")
            kept.append(span)
        p = Document(p.id, g.text, kept, p.relations, p.meta, p.extra)
        pairing.pairs.append(DocPair(g, p))
    return pairing


__all__ = ["DocPair", "Pairing", "pair_documents", "span_key", "sha1_text"]
