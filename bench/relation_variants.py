"""Variants of the learned relation head, scored on dev with gold spans (issue 10 item 1).

One encoder pass per split (cached in ``--cache``), then each variant trains the
head on the cached train pairs and reports dev relation F1 per type at
thresholds tuned on dev. Choose on dev; ``--split test`` is for the one final
confirmation. Example::

    python -m bench.relation_variants --model runs/quickstart/model --cache runs/relcache.pt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from persian_ie.data.document import read_documents
from persian_ie.models.io import load_pretrained
from persian_ie.models.predictor import Predictor
from persian_ie.models.relation_head import N_FEATURES
from persian_ie.training.relations import _examples, _fit, _scores, _stack, attach_head, relation_settings, tune_thresholds, type_f1

from persian_ie.models.relation_head import LEXICAL_BUCKETS  # noqa: E402

LEXICAL = slice(N_FEATURES - 3 * LEXICAL_BUCKETS, N_FEATURES)
RULE_FEATURE = N_FEATURES - 3 * LEXICAL_BUCKETS - 8  # index of the "the rules link this pair" cue (see pair_features)

VARIANTS = {
    "features only, no lexical": ({"span_vectors": False}, "no_lexical"),
    "default (40 epochs)": ({}, None),
    "10 epochs": ({"epochs": 10}, None),
    "features only (span vectors zeroed)": ({}, "no_vectors"),
    "features only (no span vectors in the head)": ({"span_vectors": False}, None),
    "features only, 20 epochs": ({"span_vectors": False, "epochs": 20}, None),
    "features only, no rules feature": ({"span_vectors": False}, "no_rules"),
    "vectors proj 8, dropout 0.5, 10 epochs": ({"proj_size": 8, "dropout": 0.5, "epochs": 10}, None),
    "no rules feature": ({}, "no_rules"),
    "small: proj 16, dropout 0.3, 15 epochs": ({"proj_size": 16, "dropout": 0.3, "epochs": 15}, None),
    "weight decay 0.05, 20 epochs": ({"weight_decay": 0.05, "epochs": 20}, None),
}


def _ablate(examples, how):
    if how is None:
        return examples
    out = []
    for cands, inputs, labels, gold, bounds in examples:
        inputs = dict(inputs)
        if how == "no_vectors":
            inputs["head_vecs"] = torch.zeros_like(inputs["head_vecs"])
            inputs["tail_vecs"] = torch.zeros_like(inputs["tail_vecs"])
        if how == "no_lexical":
            inputs["features"] = inputs["features"].clone()
            inputs["features"][:, LEXICAL] = 0
        if how == "no_rules":
            inputs["features"] = inputs["features"].clone()
            inputs["features"][:, RULE_FEATURE] = 0
        out.append((cands, inputs, labels, gold, bounds))
    return out


def cached_examples(model_dir, splits: dict, cache: Path):
    model, tokenizer = load_pretrained(model_dir)
    attach_head(model, relation_settings({}))
    if cache.exists():
        return model, torch.load(cache, weights_only=False)
    predictor = Predictor(model, tokenizer)
    data = {name: _examples(predictor, read_documents(path)) for name, path in splits.items()}
    torch.save(data, cache)
    return model, data


def run_variant(model, train_ex, eval_ex, overrides, how, seeds=(13,)) -> dict:
    rows = []
    for seed in seeds:
        settings = relation_settings({**overrides, "seed": seed})
        attach_head(model, settings)
        _fit(model.relation_head, _stack(_ablate(train_ex, how)), settings)
        ev = _ablate(eval_ex, how)
        scores = _scores(model.relation_head, ev)
        thresholds = tune_thresholds(ev, scores)
        at_half = type_f1(ev, scores, {t: 0.5 for t in thresholds})  # not tuned on the split it is scored on
        rows.append({"thresholds": thresholds, "f1": {k: round(v[3], 3) for k, v in type_f1(ev, scores, thresholds).items()},
                     "f1_at_0.5": {k: round(v[3], 3) for k, v in at_half.items()}})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15])
    parser.add_argument("--only", nargs="*", help="variant names to run")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model, data = cached_examples(args.model, {"train": "data/corpus/train.jsonl", "dev": "data/corpus/dev.jsonl"}, Path(args.cache))
    for name, (overrides, how) in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        rows = run_variant(model, data["train"], data["dev"], overrides, how, args.seeds)
        print(json.dumps({"variant": name, "dev": rows}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
