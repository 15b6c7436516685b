"""Does averaging several relation heads help? (issue 10 item 1; gold spans, dev; rejected)

Trains the features-only head (the quickstart's) with each seed on the cached
train candidates (``bench/relation_variants.py``'s cache), scores dev with
each alone and with three ensembles of five (probabilities averaged before
the thresholds are tuned), and prints dev F1 per type::

    python -m persian_ie.bench.relation_ensemble --model runs/quickstart/model --cache runs/relcache.pt --seeds $(seq 13 27)
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import torch

from persian_ie.bench.relation_extra_cues import head_bench_arguments
from persian_ie.bench.relation_variants import cached_examples
from persian_ie.models.relation_head import N_FEATURES, RelationHead
from persian_ie.training.relations import _fit, _scores, _stack, relation_settings, tune_thresholds, type_f1

MEMBERS = 5


def head_scores(train_ex, dev_ex, seed: int) -> list[list[float]]:
    settings = relation_settings({"seed": seed})
    torch.manual_seed(seed)
    head = RelationHead(1, 0, settings["mlp_size"], N_FEATURES, settings["dropout"], span_vectors=False)
    _fit(head, _stack(train_ex), settings)
    return _scores(head, dev_ex)


def dev_f1(dev_ex, scores) -> dict:
    tuned = type_f1(dev_ex, scores, tune_thresholds(dev_ex, scores))
    at_half = type_f1(dev_ex, scores, {t: 0.5 for t in ("holder", "proposer", "party")})
    return {**{k: round(v[3], 3) for k, v in tuned.items()}, "micro@0.5": round(at_half["micro"][3], 3)}


def averaged(score_sets: list) -> list[list[float]]:
    return [[statistics.mean(pair) for pair in zip(*docs)] for docs in zip(*score_sets)]


def main(argv=None) -> int:
    args = head_bench_arguments(__doc__.splitlines()[0], argv)
    seeds = args.seeds  # groups of MEMBERS consecutive seeds make the ensembles
    _, data = cached_examples(args.model, {"train": "data/corpus/train.jsonl", "dev": "data/corpus/dev.jsonl"}, Path(args.cache))
    scores = {seed: head_scores(data["train"], data["dev"], seed) for seed in seeds}
    singles = [dev_f1(data["dev"], scores[seed]) for seed in seeds]
    print(json.dumps({"variant": "one head (mean over seeds)", "seeds": seeds, "mean": {k: round(statistics.mean(r[k] for r in singles), 3) for k in singles[0]}}))
    for i in range(0, len(seeds) - MEMBERS + 1, MEMBERS):
        members = seeds[i:i + MEMBERS]
        print(json.dumps({"variant": f"{MEMBERS} heads averaged", "seeds": members, "f1": dev_f1(data["dev"], averaged([scores[s] for s in members]))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
