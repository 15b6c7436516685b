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

from persian_ie.bench.relation_extra_cues import features_head_scores, head_bench_arguments, scored_f1
from persian_ie.bench.relation_variants import cached_examples
from persian_ie.models.relation_head import N_FEATURES

MEMBERS = 5


def averaged(score_sets: list) -> list[list[float]]:
    return [[statistics.mean(pair) for pair in zip(*docs)] for docs in zip(*score_sets)]


def main(argv=None) -> int:
    args = head_bench_arguments(__doc__.splitlines()[0], argv)
    seeds = args.seeds  # groups of MEMBERS consecutive seeds make the ensembles
    _, data = cached_examples(args.model, {"train": "data/corpus/train.jsonl", "dev": "data/corpus/dev.jsonl"}, Path(args.cache))
    scores = {seed: features_head_scores(data["train"], data["dev"], N_FEATURES, seed) for seed in seeds}
    singles = [scored_f1(data["dev"], scores[seed]) for seed in seeds]
    print(json.dumps({"variant": "one head (mean over seeds)", "seeds": seeds, "mean": {k: round(statistics.mean(r[k] for r in singles), 3) for k in singles[0]}}))
    for i in range(0, len(seeds) - MEMBERS + 1, MEMBERS):
        members = seeds[i:i + MEMBERS]
        print(json.dumps({"variant": f"{MEMBERS} heads averaged", "seeds": members, "f1": scored_f1(data["dev"], averaged([scores[s] for s in members]))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
