"""Error analysis: boundary errors, type confusions, misses, spurious spans.

Each unmatched gold or predicted span (strict) is classified within its
layer by ``persian_ie.data.spandiff.classify_span`` (kinds ``type``,
``boundary``, ``boundary+type``, ``miss``, ``spurious``; the HTML viewer
marks spans with the same function).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from persian_ie.data.schema import LabelSchema
from persian_ie.data.snippets import in_context
from persian_ie.data.spandiff import classify_span as _classify
from persian_ie.eval.matching import DocPair, span_key


def _context(text: str, start: int, end: int, width: int = 30) -> str:
    return in_context(text, start, end, width)


def error_analysis(pairs: list[DocPair], schema: LabelSchema, max_examples: int = 5, worst: int = 10) -> dict:
    counts = Counter()
    per_label = defaultdict(Counter)
    confusion = defaultdict(Counter)  # gold label -> predicted label (same boundaries or overlap)
    examples = defaultdict(list)
    doc_errors = Counter()
    for pair in pairs:
        text = pair.gold.text or ""
        gold_keys = {span_key(s) for s in pair.gold.spans}
        pred_keys = {span_key(s) for s in pair.pred.spans}
        for g in pair.gold.spans:
            if span_key(g) in pred_keys:
                continue
            kind, other = _classify(g, pair.pred.spans, schema)
            kind = kind or "miss"
            if other is not None and other.label != g.label:
                confusion[g.label][other.label] += 1
            counts[kind] += 1
            per_label[g.label][kind] += 1
            doc_errors[pair.gold.id] += 1
            if len(examples[kind]) < max_examples:
                examples[kind].append({"doc": pair.gold.id, "gold": g.label, "pred": other.label if other else None,
                                       "gold_text": text[g.start:g.end], "pred_text": text[other.start:other.end] if other else None,
                                       "context": _context(text, g.start, g.end)})
        for p in pair.pred.spans:
            if span_key(p) in gold_keys:
                continue
            kind, _ = _classify(p, pair.gold.spans, schema)
            if kind is None:  # the other kinds were counted from the gold side
                counts["spurious"] += 1
                per_label[p.label]["spurious"] += 1
                doc_errors[pair.gold.id] += 1
                if len(examples["spurious"]) < max_examples:
                    examples["spurious"].append({"doc": pair.gold.id, "pred": p.label, "pred_text": text[p.start:p.end], "context": _context(text, p.start, p.end)})
    return {
        "counts": dict(counts),
        "per_label": {k: dict(v) for k, v in per_label.items()},
        "confusion": {k: dict(v) for k, v in confusion.items()},
        "examples": dict(examples),
        "worst_documents": [{"doc": d, "errors": n} for d, n in doc_errors.most_common(worst)],
    }
