"""Corpus v1.2: which further Fars News articles were chosen for annotation
(reproduces data/annotation/selection_v12.json).

    python -m persian_ie.data.select_additions [--check data/annotation/selection_v12.json] [--write data/annotation]

The learning curve (docs/benchmarks.md) still rose at 100 % of train, and
every article with one of v1's proposal triggers is already in the corpus
(whole, or as windows), so v1.2 adds, from the articles not used yet:

in two rounds (``ROUNDS``; round 2 was chosen after round 1 was annotated,
from what round 1 left):

* every article with one of the other PROPOSAL triggers of GUIDELINES.md
  section 7 that v1 did not select by (``دعوت`` invitation, ``خواهان``,
  ``لایحه`` bill), outside the excluded desks, 80-500 words in round 1 and
  up to 900 in round 2: more proposal patterns, above all invitations;
* then further ordinary articles (100-350 words; 60, then 75), drawn as v1
  drew its ordinary ones (seed 13, preferred desks first), continuing
  after the ones taken before;
* skipping near-duplicates of anything in the corpus or chosen before
  (8-word shingle overlap > 30 %).

``--write`` puts each article's text in ``texts/`` (exactly the document text
of ../shared/corpora/README.md) and deals each round's articles into
annotation batches (``batches/v12_*.txt``, round 2 ``v12_r2_*.txt``) and a
second-pass sample (``batches/v12_pass_b.txt`` / ``v12_r2_pass_b.txt``, 10 %
of the round's articles, half of them from the trigger group).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from persian_ie.data.readers import farsnews_text, read_articles
from persian_ie.data.select_articles import EXCLUDED, TRIGGER, choose_distinct, ordinary_pool, shingles

OTHER_TRIGGER = re.compile(r"دعوت|خواهان|لايحه|لایحه")
ROUNDS = ({"max_words": 500, "n_ordinary": 60, "prefix": "v12_"}, {"max_words": 900, "n_ordinary": 75, "prefix": "v12_r2_"})
N_BATCHES = 6
PASS_B_SHARE = 0.1


def used_articles(ann_root: Path) -> set[str]:
    """Article ids already in the corpus, whole or as windows."""
    selection = json.loads((ann_root / "selection.json").read_text("utf-8"))
    used = set(selection["proposal_trigger"]) | set(selection["ordinary"])
    windows = json.loads((ann_root / "windows.json").read_text("utf-8"))["windows"]
    return used | {w["article"] for w in windows}


def select(articles: list[dict], used: set[str], max_words: int, n_ordinary: int, seed: int = 13) -> tuple[list[str], list[str]]:
    by_id = {a["id"]: a for a in articles}
    seen = [shingles(farsnews_text(by_id[i])) for i in sorted(used) if i in by_id]
    invitations = [a for a in articles if a["id"] not in used and a["cat"] not in EXCLUDED
                   and OTHER_TRIGGER.search(farsnews_text(a)) and not TRIGGER.search(farsnews_text(a))
                   and 80 <= len(farsnews_text(a).split()) <= max_words]
    ordinary = [a for a in ordinary_pool(articles, seed) if a["id"] not in used and not OTHER_TRIGGER.search(farsnews_text(a))]
    return choose_distinct(invitations, ordinary, n_ordinary, seen)


def deal_batches(invitations: list[str], ordinary: list[str]) -> tuple[list[list[str]], list[str]]:
    """Round-robin into N_BATCHES (each gets both kinds), and a 10 % second-pass sample."""
    ordered = invitations + ordinary
    batches = [ordered[i::N_BATCHES] for i in range(N_BATCHES)]
    n_b = max(1, round(PASS_B_SHARE * len(ordered)))
    pass_b = invitations[::max(1, len(invitations) // (n_b // 2))][: n_b // 2]
    pass_b += ordinary[::max(1, len(ordinary) // (n_b - len(pass_b)))][: n_b - len(pass_b)]
    return batches, pass_b


def select_rounds(articles: list[dict], used: set[str]) -> list[dict]:
    """Each round's choice, from the articles no earlier round (or v1) took."""
    rounds, taken = [], set(used)
    for spec in ROUNDS:
        invitations, ordinary = select(articles, taken, spec["max_words"], spec["n_ordinary"])
        rounds.append({"invitation_trigger": invitations, "ordinary": ordinary,
                       "pass_b": deal_batches(invitations, ordinary)[1]})
        taken |= set(invitations) | set(ordinary)
    return rounds


def write(ann_root: Path, articles: list[dict], rounds: list[dict]) -> None:
    by_id = {a["id"]: a for a in articles}
    for spec, chosen in zip(ROUNDS, rounds):
        for article_id in chosen["invitation_trigger"] + chosen["ordinary"]:
            (ann_root / "texts" / f"{article_id}.txt").write_bytes(farsnews_text(by_id[article_id]).encode("utf-8"))
        batches, _ = deal_batches(chosen["invitation_trigger"], chosen["ordinary"])
        for number, batch in enumerate(batches, 1):
            (ann_root / "batches" / f"{spec['prefix']}{number}.txt").write_text("\n".join(batch) + "\n", "utf-8")
        (ann_root / "batches" / f"{spec['prefix']}pass_b.txt").write_text("\n".join(chosen["pass_b"]) + "\n", "utf-8")
    record = {"rounds": rounds}
    (ann_root / "selection_v12.json").write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", "utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", default="../shared/corpora/farsnews/articles.jsonl")
    parser.add_argument("--annotation", default="data/annotation", help="annotation folder (selection.json, windows.json)")
    parser.add_argument("--check", help="compare with a selection_v12.json")
    parser.add_argument("--write", action="store_true", help="write texts, batches and selection_v12.json")
    args = parser.parse_args(argv)
    articles = list(read_articles(args.articles))
    ann_root = Path(args.annotation)
    rounds = select_rounds(articles, used_articles(ann_root))
    for number, chosen in enumerate(rounds, 1):
        print(f"round {number}: {len(chosen['invitation_trigger'])} articles with an invitation/demand/bill trigger, "
              f"{len(chosen['ordinary'])} ordinary")
    if args.check:
        same = json.loads(Path(args.check).read_text("utf-8"))["rounds"] == rounds
        print("matches" if same else "DIFFERS from", args.check)
        return 0 if same else 1
    if args.write:
        write(ann_root, articles, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
