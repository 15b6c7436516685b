"""Entity-level scores: strict span matching, SemEval-style partial/type
matching, relations, records, bootstrap confidence intervals.

All scores derive from per-document counts ``{key: [tp, fp, fn]}`` so that
bootstrap resampling and paired comparison reuse them. Keys: a label
(``PER``), ``rel:holder``, ``rec:officials``.

>>> prf(8, 2, 2)
{'precision': 0.8, 'recall': 0.8, 'f1': 0.8, 'support': 10, 'tp': 8, 'fp': 2, 'fn': 2}
>>> prf(0, 0, 0)['f1']
0.0
"""

from __future__ import annotations

import random
from collections import defaultdict

from persian_ie.data.schema import LabelSchema
from persian_ie.eval.matching import DocPair, span_key


def prf(tp: int, fp: int, fn: int) -> dict:
    """Precision, recall, F1 as fractions (0 where undefined), with the counts."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}


def _count(gold: set, pred: set) -> list[int]:
    return [len(gold & pred), len(pred - gold), len(gold - pred)]


def document_counts(pair: DocPair, schema: LabelSchema) -> dict[str, list[int]]:
    """Strict counts per label, relation type and record type for one document."""
    counts: dict[str, list[int]] = {}
    gold = {span_key(s) for s in pair.gold.spans}
    pred = {span_key(s) for s in pair.pred.spans}
    for label in schema.labels:
        counts[label] = _count({k for k in gold if k[0] == label}, {k for k in pred if k[0] == label})
    g_rel, p_rel = relation_keys(pair.gold), relation_keys(pair.pred)
    for rtype in schema.relations:
        counts[f"rel:{rtype}"] = _count({r for r in g_rel if r[0] == rtype}, {r for r in p_rel if r[0] == rtype})
    kinds = schema.record_types
    if kinds:
        g_rec, p_rec = record_keys(pair.gold), record_keys(pair.pred)
        for rec in kinds:
            counts[f"rec:{rec}"] = _count(g_rec[rec], p_rec[rec])
    return counts


def relation_keys(doc) -> set:
    """A relation is (type, head span key, tail span key): both ends strict."""
    spans = doc.span_by_id()
    return {
        (r.type, span_key(spans[r.head]), span_key(spans[r.tail]))
        for r in doc.relations
        if r.head in spans and r.tail in spans
    }


def record_keys(doc) -> dict[str, set]:
    """Keys of every record kind (``RECORD_KINDS``); the caller keeps its schema's ``record_types``.

    Officials: (PER, TITLE). Proposals: (PROPOSAL, proposer or None, parties).
    """
    spans = doc.span_by_id()
    officials = {(span_key(spans[r.tail]), span_key(spans[r.head])) for r in doc.relations if r.type == "holder" and r.head in spans and r.tail in spans}
    proposals = set()
    for s in doc.spans:
        if s.label != "PROPOSAL":
            continue
        proposer = next((span_key(spans[r.tail]) for r in doc.relations if r.type == "proposer" and r.head == s.id and r.tail in spans), None)
        parties = frozenset(span_key(spans[r.tail]) for r in doc.relations if r.type == "party" and r.head == s.id and r.tail in spans)
        proposals.add((span_key(s), proposer, parties))
    return {"officials": officials, "proposals": proposals}


def aggregate(per_doc: list[dict[str, list[int]]], keys) -> dict[str, list[int]]:
    total = {k: [0, 0, 0] for k in keys}
    for counts in per_doc:
        for k in keys:
            c = counts.get(k, (0, 0, 0))
            for i in range(3):
                total[k][i] += c[i]
    return total


def summary_scores(per_doc: list[dict], schema: LabelSchema) -> dict:
    """labels, layers, micro, macro (over span types), relations, records."""
    keys = set().union(*per_doc) if per_doc else set(schema.labels)
    total = aggregate(per_doc, keys | set(schema.labels))
    labels = {label: prf(*total[label]) for label in schema.labels}
    layers = {}
    for layer, layer_labels in schema.layers.items():
        layers[layer] = prf(*[sum(total[l][i] for l in layer_labels) for i in range(3)])
    micro = prf(*[sum(total[l][i] for l in schema.labels) for i in range(3)])
    macro = {m: sum(labels[l][m] for l in schema.labels) / len(schema.labels) for m in ("precision", "recall", "f1")}
    relations = {k[4:]: prf(*v) for k, v in total.items() if k.startswith("rel:")}
    if relations:
        relations["micro"] = prf(*[sum(v[i] for k, v in total.items() if k.startswith("rel:")) for i in range(3)])
    records = {k[4:]: prf(*v) for k, v in total.items() if k.startswith("rec:")}
    return {"labels": labels, "layers": layers, "micro": micro, "macro": macro, "relations": relations, "records": records}


def flat_f1s(scores: dict) -> dict[str, float]:
    flat = {f"labels.{k}": v["f1"] for k, v in scores["labels"].items()}
    flat.update({f"layers.{k}": v["f1"] for k, v in scores["layers"].items()})
    flat.update({f"relations.{k}": v["f1"] for k, v in scores["relations"].items()})
    flat.update({f"records.{k}": v["f1"] for k, v in scores["records"].items()})
    flat["micro"] = scores["micro"]["f1"]
    flat["macro"] = scores["macro"]["f1"]
    return flat


def bootstrap_intervals(per_doc: list[dict], schema: LabelSchema, n: int = 1000, seed: int = 12345, level: float = 0.95) -> dict[str, list[float]]:
    """95% percentile intervals of every F1, resampling documents with replacement."""
    if not per_doc:
        return {}
    rng = random.Random(seed)
    samples = defaultdict(list)
    for _ in range(n):
        resample = [per_doc[rng.randrange(len(per_doc))] for _ in per_doc]
        for key, value in flat_f1s(summary_scores(resample, schema)).items():
            samples[key].append(value)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    out = {}
    for key, values in samples.items():
        values.sort()
        out[key] = [values[int(lo_q * (n - 1))], values[int(hi_q * (n - 1))]]
    return out


def matching_scores(pairs: list[DocPair], schema: LabelSchema) -> dict:
    """SemEval-2013 style micro scores over all span types.

    Spans are compared within their layer only. ``strict``: same boundaries
    and type. ``exact``: same boundaries, any type of the layer. ``partial``:
    overlapping boundaries, any type of the layer (an overlap that is not
    exact counts half). ``type``: overlap with the same type.
    """
    results = {}
    for scheme in ("strict", "exact", "partial", "type"):
        credit_pred = credit_gold = n_pred = n_gold = 0.0
        for pair in pairs:
            golds, preds = pair.gold.spans, pair.pred.spans
            n_gold += len(golds)
            n_pred += len(preds)
            credit_gold += sum(_best_credit(g, preds, schema, scheme) for g in golds)
            credit_pred += sum(_best_credit(p, golds, schema, scheme) for p in preds)
        p = credit_pred / n_pred if n_pred else 0.0
        r = credit_gold / n_gold if n_gold else 0.0
        results[scheme] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
    return results


def _best_credit(span, others, schema, scheme) -> float:
    layer = schema.layer_of(span.label)
    best = 0.0
    for o in others:
        if schema.layer_of(o.label) != layer:
            continue
        same_bounds = o.start == span.start and o.end == span.end
        overlap = o.start < span.end and span.start < o.end
        same_type = o.label == span.label
        if scheme == "strict":
            credit = 1.0 if same_bounds and same_type else 0.0
        elif scheme == "exact":
            credit = 1.0 if same_bounds else 0.0
        elif scheme == "partial":
            credit = 1.0 if same_bounds else (0.5 if overlap else 0.0)
        else:
            credit = 1.0 if overlap and same_type else 0.0
        best = max(best, credit)
    return best
