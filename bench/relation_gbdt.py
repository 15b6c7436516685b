"""Is the relation head's MLP the limit? Gradient-boosted trees on the same pair features (issue 10 item 1; gold spans, dev)

The features-only relation head is a small MLP over hand-made pair features
(benchmarks §9). On small tabular data, boosted trees often do better than
an MLP; if they did here by a clear margin, the head's form (not its
features) would be what holds relations back. This trains scikit-learn's
HistGradientBoostingClassifier on the cached train candidates (the same
features plus the relation type, one-hot) and scores dev on gold spans,
beside the default head, over several seeds, with thresholds tuned on dev
and at 0.5::

    python -m persian_ie.bench.relation_gbdt --model runs/quickstart/model --cache runs/relcache.pt

scikit-learn is not a dependency of the package: this is a measurement only.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import torch

from persian_ie.bench.relation_extra_cues import dev_f1, head_bench_arguments, scored_f1
from persian_ie.bench.relation_variants import cached_examples
from persian_ie.models.relation_head import N_FEATURES
from persian_ie.training.relations import TYPE_NAMES


def table(examples) -> np.ndarray:
    """One row per candidate pair: its features and its type, one-hot."""
    rows = [torch.cat([inputs["features"], torch.nn.functional.one_hot(inputs["type_ids"], len(TYPE_NAMES)).float()], dim=1)
            for cands, inputs, *_ in examples if cands]
    return torch.cat(rows).numpy()


def labels(examples) -> np.ndarray:
    return torch.cat([e[2] for e in examples if e[0]]).numpy()


def tree_scores(model, examples) -> list[list[float]]:
    out = []
    for cands, inputs, *_ in examples:
        out.append(model.predict_proba(table([(cands, inputs)]))[:, 1].tolist() if cands else [])
    return out


def gbdt_f1(train_ex, dev_ex, seed: int, **params) -> dict:
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        raise SystemExit("relation_gbdt: this bench needs scikit-learn (pip install scikit-learn); the package does not")

    model = HistGradientBoostingClassifier(random_state=seed, **params).fit(table(train_ex), labels(train_ex))
    return scored_f1(dev_ex, tree_scores(model, dev_ex))


VARIANTS = {
    "trees, defaults (lr 0.1, 100 iterations, 31 leaves)": {},
    "trees, lr 0.05, 200 iterations, 15 leaves, l2 1": {"learning_rate": 0.05, "max_iter": 200, "max_leaf_nodes": 15, "l2_regularization": 1.0},
    "trees, lr 0.05, 300 iterations, 7 leaves, l2 1": {"learning_rate": 0.05, "max_iter": 300, "max_leaf_nodes": 7, "l2_regularization": 1.0},
}


def main(argv=None) -> int:
    args = head_bench_arguments(__doc__.splitlines()[0], argv)
    _, data = cached_examples(args.model, {"train": "data/corpus/train.jsonl", "dev": "data/corpus/dev.jsonl"}, Path(args.cache))
    print(json.dumps({"train_pairs": int(len(labels(data["train"]))), "positives": int(labels(data["train"]).sum())}))
    runs = {"MLP head (the default)": lambda seed: dev_f1(data["train"], data["dev"], N_FEATURES, seed)}
    runs.update({name: (lambda seed, p=params: gbdt_f1(data["train"], data["dev"], seed, **p)) for name, params in VARIANTS.items()})
    for name, run in runs.items():
        # the trees draw no random numbers here (no early stopping below 10,000 pairs): one seed says it all
        rows = [run(seed) for seed in (args.seeds if name in ("MLP head (the default)",) else args.seeds[:1])]
        mean = {k: round(statistics.mean(r[k] for r in rows), 3) for k in rows[0]}
        print(json.dumps({"variant": name, "mean": mean, "by_seed": rows}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
