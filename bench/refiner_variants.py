"""Settings of the span boundary refiner, over several seeds, scored on dev (issue 10 item 3).

One inference pass per split gives word vectors and tag probabilities
(cached in ``--cache``); each variant then trains a fresh refiner on the
train split's gold spans once per seed and reports dev exact-match F1 of the
label (word ranges) next to the tagger's own. Choose on dev; ``--split test``
is for the one final confirmation. Example::

    python -m persian_ie.bench.refiner_variants --model runs/quickstart/model --cache runs/refcache.pt
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from persian_ie.data.document import read_documents
from persian_ie.models.io import load_pretrained
from persian_ie.models.predictor import Predictor
from persian_ie.training.span_refiner import _fit, attach_refiner, exact_f1, refined_layer, refiner_settings, word_inputs

VARIANTS = {
    "3 epochs": {"max_width": 24},
    "2 epochs": {"epochs": 2, "max_width": 24},
    "5 epochs": {"epochs": 5, "max_width": 24},
    "5 epochs, 3 members": {"epochs": 5, "members": 3, "max_width": 24},
    "3 epochs, lr 5e-4": {"lr": 5e-4, "max_width": 24},
    "3 epochs, dropout 0.4": {"dropout": 0.4, "max_width": 24},
    "3 epochs, max width 16 (the default)": {},
}


def cached_items(model, tokenizer, splits: dict, cache: Path, label: str) -> dict:
    if cache.exists():
        return torch.load(cache, weights_only=False)
    layer = refined_layer(model.schema, label)
    predictor = Predictor(model, tokenizer)
    with torch.inference_mode():
        items = {name: word_inputs(predictor, read_documents(path), label, layer) for name, path in splits.items()}
    torch.save(items, cache)
    return items


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--train", default="data/corpus/train.jsonl")
    parser.add_argument("--dev", default="data/corpus/dev.jsonl")
    parser.add_argument("--split", default="dev", help="the split scored: dev, or test for the final confirmation")
    parser.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15, 16, 17])
    parser.add_argument("--variants", nargs="*", help="names from VARIANTS (default: all)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model, tokenizer = load_pretrained(args.model)
    model.eval()
    splits = {"train": args.train, "dev": args.dev}
    if args.split == "test":
        splits["test"] = "data/corpus/test.jsonl"
    items = cached_items(model, tokenizer, splits, args.cache, "PROPOSAL")
    scored = items[args.split]
    results = {"tagger": exact_f1(scored)}
    print(f"{args.split}: tagger exact-match F1 {results['tagger']['f1']:.3f} {results['tagger']}", flush=True)
    for name in args.variants or list(VARIANTS):
        settings = refiner_settings(VARIANTS[name])
        runs = []
        for seed in args.seeds:
            attach_refiner(model, {**settings, "seed": seed})
            _fit(model.span_refiner, items["train"], {**settings, "seed": seed})
            runs.append(exact_f1(scored, model.span_refiner))
        f1s = [r["f1"] for r in runs]
        results[name] = {"f1_by_seed": f1s, "mean": round(statistics.mean(f1s), 4), "stdev": round(statistics.stdev(f1s), 4) if len(f1s) > 1 else 0.0}
        print(f"{name:<28} mean {results[name]['mean']:.3f} sd {results[name]['stdev']:.3f} by seed {f1s}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
