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


def shingles(text: str) -> set:
    """The text's 8-word shingles (near-duplicate checks share more than 30 % of them)."""
    words = text.split()
    return {tuple(words[i:i + 8]) for i in range(len(words) - 7)}


def ordinary_pool(articles: list[dict], seed: int = 13) -> list[dict]:
    """Articles without a trigger, 100-350 words, outside the excluded desks, in v1's
    seeded draw order (shuffled, then preferred desks first): later additions continue it."""
    rng = random.Random(seed)
    ordinary = [a for a in articles if not TRIGGER.search(farsnews_text(a)) and 100 <= len(farsnews_text(a).split()) <= 350 and a["cat"] not in EXCLUDED]
    rng.shuffle(ordinary)
    ordinary.sort(key=lambda a: a["cat"] not in PREFERRED)
    return ordinary


def choose_distinct(first: list[dict], second: list[dict], n_second: int, seen: list[set]) -> tuple[list[str], list[str]]:
    """Ids of every article of ``first``, then of up to ``n_second`` of ``second``, in order,
    skipping near-duplicates of ``seen`` (shingle sets, extended in place) and of what was chosen."""
    chosen: list[str] = []

    def add(article) -> None:
        own = shingles(farsnews_text(article))
        if any(own and len(own & s) / len(own) > 0.3 for s in seen) or article["id"] in chosen:
            return
        seen.append(own)
        chosen.append(article["id"])

    for article in first:
        add(article)
    n_first = len(chosen)
    for article in second:
        if len(chosen) >= n_first + n_second:
            break
        add(article)
    return chosen[:n_first], chosen[n_first:]


def select(articles: list[dict], n_ordinary: int = 140, seed: int = 13) -> tuple[list[str], list[str]]:
    with_trigger = [a for a in articles if TRIGGER.search(farsnews_text(a)) and len(farsnews_text(a).split()) <= 700]
    return choose_distinct(with_trigger, ordinary_pool(articles, seed), n_ordinary, [])


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
