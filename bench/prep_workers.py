"""Preprocessing throughput: the background thread vs worker processes (issue 14 item 2).

Preparation alone (normalization, tokenization, window planning; no model
forward), over the first ``--docs`` Fars News articles in chunks of 256, the
way ``persian-ie predict`` feeds its model. Each setting runs in turn in this
process; the figure is documents and subword tokens per second of wall time,
spawn of the worker processes included::

    python -m bench.prep_workers --model runs/quickstart/model --docs 1451 --workers 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time

from persian_ie.inference.inputs import FieldConfig, iter_inputs
from persian_ie.inference.runner import RunSummary, _chunks, _prefetch, _prefetch_processes

FARSNEWS = "../shared/corpora/farsnews/articles.jsonl"


def measure(predictor, path: str, docs: int, workers: int, chunk_size: int = 256) -> dict:
    records = (r for _, r in zip(range(docs), iter_inputs([path], FieldConfig())))
    chunks = _chunks(records, chunk_size, set(), RunSummary())
    started = time.perf_counter()
    feed = _prefetch_processes(chunks, predictor.preparer, workers) if workers else _prefetch(chunks, predictor.prepare)
    n_docs = n_tokens = 0
    for _, prepared in feed:
        n_docs += len(prepared)
        n_tokens += sum(len(ids) for p in prepared for ids, _ in p.inputs)
    seconds = time.perf_counter() - started
    return {"workers": workers, "documents": n_docs, "tokens": n_tokens, "seconds": round(seconds, 2),
            "docs_per_s": round(n_docs / seconds, 1), "tokens_per_s": round(n_tokens / seconds)}


class _Feed:
    """What ``measure`` reads off a predictor, built from the tokenizer and config alone (no weights)."""

    def __init__(self, model_dir: str):
        from persian_ie.data.prepare import Preparer
        from persian_ie.models.io import load_tokenizer_and_config

        config, tokenizer = load_tokenizer_and_config(model_dir)
        self.preparer = self.prepare = Preparer.from_settings(tokenizer, config.normalization, config.window)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", default=FARSNEWS)
    parser.add_argument("--docs", type=int, default=1451, help="first N records of --input (the Fars News file has 1,451)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="0 = the background thread")
    args = parser.parse_args(argv)
    feed = _Feed(args.model)
    for workers in args.workers:
        print(json.dumps(measure(feed, args.input, args.docs, workers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
