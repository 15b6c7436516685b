"""How the corpus articles were chosen (reproduces data/annotation/selection.json).

    python -m persian_ie.data.select_articles --articles ../shared/corpora/farsnews/articles.jsonl [--check data/annotation/selection.json]

* every article with a proposal trigger (``پیشنهاد``, ``درخواست``,
  ``خواستار``, ``اعلام آمادگی``, ``تقاضا``; Arabic or Persian spelling) and at
  most 700 words, in file order;
* then 140 articles without a trigger, 100-350 words, outside sports,
  magazine, arts, culture and science, shuffled with seed 13 and ordered
  so that province/politics/world/social/foreign-policy/regional/Tehran news
  comes first;
* an article sharing more than 30% of its 8-word shingles with one already
  chosen is skipped (near-duplicates).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys

from persian_ie.data.readers import farsnews_text, read_articles

TRIGGER = re.compile(r"پيشنهاد|پیشنهاد|درخواست|خواستار|اعلام آمادگي|اعلام آمادگی|تقاضا")
PREFERRED = {"province", "politics", "world", "social", "foreign-policy", "regional-offices", "tehran"}
EXCLUDED = {"sports", "farsplus-magazine", "arts-media", "culture", "scientific-academic"}


def _shingles(text: str) -> set:
    words = text.split()
    return {tuple(words[i:i + 8]) for i in range(len(words) - 7)}


def select(articles: list[dict], n_ordinary: int = 140, seed: int = 13) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    with_trigger = [a for a in articles if TRIGGER.search(farsnews_text(a)) and len(farsnews_text(a).split()) <= 700]
    ordinary = [a for a in articles if not TRIGGER.search(farsnews_text(a)) and 100 <= len(farsnews_text(a).split()) <= 350 and a["cat"] not in EXCLUDED]
    rng.shuffle(ordinary)
    ordinary.sort(key=lambda a: a["cat"] not in PREFERRED)
    chosen, seen = [], []

    def add(article) -> None:
        shingles = _shingles(farsnews_text(article))
        if any(shingles and len(shingles & s) / len(shingles) > 0.3 for s in seen) or article["id"] in chosen:
            return
        seen.append(shingles)
        chosen.append(article["id"])

    for article in with_trigger:
        add(article)
    n_trigger = len(chosen)
    for article in ordinary:
        if len(chosen) >= n_trigger + n_ordinary:
            break
        add(article)
    return chosen[:n_trigger], chosen[n_trigger:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", default="../shared/corpora/farsnews/articles.jsonl")
    parser.add_argument("--check", help="compare with a selection.json")
    args = parser.parse_args(argv)
    articles = list(read_articles(args.articles))
    trigger, ordinary = select(articles)
    print(f"{len(trigger)} articles with a proposal trigger, {len(ordinary)} ordinary")
    if args.check:
        recorded = json.load(open(args.check, encoding="utf-8"))
        same = set(trigger) == set(recorded["proposal_trigger"]) and set(ordinary) == set(recorded["ordinary"])
        print("matches" if same else "DIFFERS from", args.check)
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
