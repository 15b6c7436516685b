"""Pseudo-labels for self-training (issue 10, session 13): a trained model's spans on Fars
News articles that no annotated split holds, written as an auxiliary corpus.

The articles are a seeded sample of ``../shared/corpora/farsnews/articles.jsonl`` minus every
article whose id (windows included) is in ``--exclude`` files, so no dev or test article is
ever labelled by the model. Relations are dropped; the spans are kept as predicted, and the
config decides what they teach (``label_map: {PROPOSAL: null}`` makes the predicted
proposals' words unknown, data/document.py PartialAnnotation). Example::

    python -m persian_ie.bench.pseudo_labels --model runs/quickstart/model --articles 150 \\
        --exclude data/corpus/train.jsonl data/corpus/dev.jsonl data/corpus/test.jsonl --out runs/pseudo150.jsonl
"""

from __future__ import annotations

import argparse
import random
import re
import time

from persian_ie.arg_types import positive_int
from persian_ie.data.document import read_documents, write_documents
from persian_ie.data.readers import read_farsnews
from persian_ie.models.predictor import Predictor

FARSNEWS = "../shared/corpora/farsnews/articles.jsonl"


def article_id(doc_id: str) -> str:
    """The article a corpus document comes from (``-w1`` windows share their article's id)."""
    return re.sub(r"-w\d+$", "", doc_id)


def unlabelled_sample(articles: str, exclude: list[str], n: int, seed: int) -> tuple[list, int, int]:
    """(a seeded sample of n articles no exclude file holds, how many were free, how many annotated)."""
    taken = {article_id(d.id) for path in exclude for d in read_documents(path)}
    free = [d for d in read_farsnews(articles) if article_id(d.id) not in taken]
    random.Random(seed).shuffle(free)
    return free[:n], len(free), len(taken)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--articles", type=positive_int, default=150)
    parser.add_argument("--exclude", nargs="+", required=True, help="corpus files whose articles are never labelled")
    parser.add_argument("--source", default=FARSNEWS)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    docs, free, taken = unlabelled_sample(args.source, args.exclude, args.articles, args.seed)
    started = time.time()
    predicted = Predictor.from_pretrained(args.model).predict_documents(docs)
    for doc in predicted:
        doc.relations = []
        doc.extra = {}
    write_documents(args.out, predicted)
    spans = sum(len(d.spans) for d in predicted)
    print(f"{len(predicted)} of {free} unannotated articles ({taken} annotated articles left out), {spans} spans, "
          f"{time.time() - started:.0f}s -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
