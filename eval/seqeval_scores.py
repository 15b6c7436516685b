"""The same strict scores computed by seqeval on each layer's IOB2 sequences.

The harness scores span sets directly (that also works for outside systems
whose spans need not align with our tokens). This module recomputes the
label scores with seqeval in strict IOB2 mode over word tokens; the two must
agree whenever all spans align with tokens (a test checks this on real data).
"""

from __future__ import annotations

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from persian_ie.data.iob import spans_to_tags
from persian_ie.data.schema import LabelSchema
from persian_ie.data.tokenize import tokenize
from persian_ie.eval.matching import DocPair


def seqeval_label_scores(pairs: list[DocPair], schema: LabelSchema) -> dict:
    """{label: {precision, recall, f1, support}} and ``micro`` from seqeval."""
    y_true = {layer: [] for layer in schema.layers}
    y_pred = {layer: [] for layer in schema.layers}
    for pair in pairs:
        tokens = tokenize(pair.gold.text or "").tokens
        gold_tags = spans_to_tags(tokens, pair.gold.spans, schema)
        pred_tags = spans_to_tags(tokens, pair.pred.spans, schema)
        for layer in schema.layers:
            y_true[layer].append(gold_tags[layer])
            y_pred[layer].append(pred_tags[layer])
    out, tp_total, pred_total, gold_total = {}, 0.0, 0.0, 0
    for layer in schema.layers:
        report = classification_report(y_true[layer], y_pred[layer], mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
        for label in schema.layers[layer]:
            row = report.get(label, {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
            out[label] = {"precision": float(row["precision"]), "recall": float(row["recall"]), "f1": float(row["f1-score"]), "support": int(row["support"])}
            tp = round(float(row["recall"]) * int(row["support"]))
            tp_total += tp
            gold_total += row["support"]
            pred_total += round(tp / float(row["precision"])) if row["precision"] else _pred_count(y_pred[layer], label)
    p = tp_total / pred_total if pred_total else 0.0
    r = tp_total / gold_total if gold_total else 0.0
    out["micro"] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
    return out


def _pred_count(seqs, label) -> int:
    return sum(tag == f"B-{label}" for seq in seqs for tag in seq)
