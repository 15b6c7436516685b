"""Would more hand-made pair cues help the learned relation head? (issue 10 item 1; gold spans, dev)

Appends cues aimed at the proposer errors of benchmarks §9b (a TITLE that is
the object, «در دیدار مدیرکل ...», chosen over the PER subject) to the pair
features of the cached train/dev candidates (``bench/relation_variants.py``'s
cache), trains the features-only head with and without them over several
seeds and prints dev F1 per type (thresholds tuned on dev, and at 0.5)::

    python -m persian_ie.bench.relation_extra_cues --model runs/quickstart/model --cache runs/relcache.pt
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from persian_ie.bench.relation_variants import cached_examples
from persian_ie.data.document import read_documents
from persian_ie.models.relation_head import N_FEATURES, TYPE_NAMES, RelationHead
from persian_ie.training.relations import _fit, _scores, _stack, relation_settings, tune_thresholds, type_f1

PREVIOUS_WORD_GROUPS = (("با",), ("در",), ("دیدار", "ملاقات"), ("توسط", "سوی"), ("برای",), ("و",), ("از", "به"))
N_EXTRA = len(PREVIOUS_WORD_GROUPS) + 4


def _next_to(span, spans, label: str, reach: int = 25) -> bool:
    return any(s.label == label and (0 <= s.start - span.end < reach or 0 <= span.start - s.end < reach) for s in spans)


def extra_cues(text: str, cand, spans) -> list[float]:
    """The word before the tail (by group), «را» after it, an office with its holder next to it, a clause-initial tail."""
    tail = cand.tail
    before = text[max(0, tail.start - 25):tail.start].split()
    previous = before[-1].strip("«»،,") if before else ""
    after = text[tail.end:tail.end + 25].split()[:3]
    clause = text[max(0, tail.start - 40):tail.start].replace("\n", ".").split(".")[-1]
    return ([float(previous in group) for group in PREVIOUS_WORD_GROUPS]
            + [float(any(w.strip("،.") == "را" for w in after)),
               float(tail.label == "TITLE" and _next_to(tail, spans, "PER")),
               float(tail.label == "PER" and _next_to(tail, spans, "TITLE")),
               float(len(clause.split()) <= 2)])


def with_extra_cues(examples, docs):
    out = []
    for (cands, inputs, labels, gold, bounds), doc in zip(examples, docs):
        extra = torch.tensor([extra_cues(doc.text, c, doc.spans) for c in cands], dtype=torch.float32) if cands else torch.zeros(0, N_EXTRA)
        out.append((cands, {**inputs, "features": torch.cat([inputs["features"], extra], dim=1)}, labels, gold, bounds))
    return out


def features_head_scores(train_ex, dev_ex, n_features: int, seed: int) -> list[list[float]]:
    """Dev probabilities of the features-only head (the quickstart's) trained on ``train_ex`` with ``seed``."""
    settings = relation_settings({"seed": seed})
    torch.manual_seed(seed)
    head = RelationHead(1, 0, settings["mlp_size"], n_features, settings["dropout"], span_vectors=False)
    _fit(head, _stack(train_ex), settings)
    return _scores(head, dev_ex)


def scored_f1(dev_ex, scores) -> dict:
    """Dev F1 per type with thresholds tuned on dev, and micro-F1 at 0.5 (not tuned on what it scores)."""
    tuned = type_f1(dev_ex, scores, tune_thresholds(dev_ex, scores))
    at_half = type_f1(dev_ex, scores, {t: 0.5 for t in TYPE_NAMES})
    return {**{k: round(v[3], 3) for k, v in tuned.items()}, "micro@0.5": round(at_half["micro"][3], 3)}


def dev_f1(train_ex, dev_ex, n_features: int, seed: int) -> dict:
    return scored_f1(dev_ex, features_head_scores(train_ex, dev_ex, n_features, seed))


def candidate_recall(examples) -> dict:
    """Per relation type: gold relations among the candidate pairs / all gold relations (the head's ceiling)."""
    found, total = {}, {}
    for cands, _, _, gold, _ in examples:
        keys = {(c.type, c.head.id, c.tail.id) for c in cands}
        for relation in gold:
            total[relation[0]] = total.get(relation[0], 0) + 1
            found[relation[0]] = found.get(relation[0], 0) + (relation in keys)
    return {t: f"{found[t]}/{total[t]}" for t in sorted(total)}


def head_bench_arguments(description: str, argv=None) -> argparse.Namespace:
    """--model, --cache, --seeds: what the benches comparing relation heads on the cached candidates take.
    Sets torch to one thread (the head is small; the seeds' figures should not depend on the machine's cores)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15, 16, 17])
    torch.set_num_threads(1)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = head_bench_arguments(__doc__.splitlines()[0], argv)
    splits = {"train": "data/corpus/train.jsonl", "dev": "data/corpus/dev.jsonl"}
    _, data = cached_examples(args.model, splits, Path(args.cache))
    docs = {name: read_documents(path) for name, path in splits.items()}
    print(json.dumps({"candidate_recall": {name: candidate_recall(data[name]) for name in splits}}))
    variants = {"pair features (the default head)": (data["train"], data["dev"], N_FEATURES),
                "with the extra cues": (with_extra_cues(data["train"], docs["train"]), with_extra_cues(data["dev"], docs["dev"]), N_FEATURES + N_EXTRA)}
    for name, (train_ex, dev_ex, n_features) in variants.items():
        rows = [dev_f1(train_ex, dev_ex, n_features, seed) for seed in args.seeds]
        mean = {k: round(statistics.mean(r[k] for r in rows), 3) for k in rows[0]}
        print(json.dumps({"variant": name, "mean": mean, "by_seed": rows}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
