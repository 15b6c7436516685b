"""Cut the long proposal-trigger articles into annotation windows
(reproduces data/annotation/windows.json and the window texts).

    python -m persian_ie.data.select_windows --articles ../shared/corpora/farsnews/articles.jsonl \
        [--write data/annotation] [--check data/annotation/windows.json]

Material: the Fars News articles that contain a proposal trigger
(``TRIGGER`` of select_articles) but were left out of the corpus for length
(not in data/annotation/selection.json). For every trigger occurrence the
window is the paragraph (text line) that holds it plus the paragraph before,
so the proposer or office holder named earlier is in the window. A window
longer than ``MAX_WORDS`` is cut at sentence ends around the trigger's
sentence (backwards first, for the proposer, then forwards). Windows of one
article that overlap are merged when the union stays within ``MAX_WORDS``;
otherwise the later one starts where the earlier one ends, so no text is in
two windows. Every window is an exact substring of ``farsnews_text``; its
id is ``<article id>-w<k>`` and windows.json records the article id and the
character offsets, so the window can be found again in its article.

A window sharing 30% or more of its 8-word shingles with a corpus document
(or an earlier window) is left out and recorded with the reason, so that no
text appears twice across splits.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from persian_ie.data.readers import farsnews_text, read_articles
from persian_ie.data.select_articles import TRIGGER, shingles

MAX_WORDS = 250
FIRST_BACK_WORDS = 150  # budget for context before the trigger sentence before looking forward
SENTENCE_END = re.compile(r"[.!?؟](?=[\s\"»)]|$)[\"»)]*")


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence ranges inside text[start:end]: cut after . ! ? ؟ and at line
    breaks; each range trimmed of surrounding whitespace."""
    pieces, pos = [], start
    cuts = sorted({m.end() for m in SENTENCE_END.finditer(text, start, end)} | {i for i in range(start, end) if text[i] == "\n"} | {end})
    for cut in cuts:
        a, b = pos, cut
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            pieces.append((a, b))
        pos = cut
    return pieces


def _words(text: str, a: int, b: int) -> int:
    return len(text[a:b].split())


def _line_ranges(text: str) -> list[tuple[int, int]]:
    ranges, pos = [], 0
    for line in text.split("\n"):
        ranges.append((pos, pos + len(line)))
        pos += len(line) + 1
    return ranges


def trigger_window(text: str, lines: list[tuple[int, int]], position: int) -> tuple[int, int]:
    """The (possibly cut) window of one trigger occurrence."""
    index = next(i for i, (a, b) in enumerate(lines) if a <= position < b)
    start, end = lines[max(index - 1, 0)][0], lines[index][1]
    if _words(text, start, end) <= MAX_WORDS:
        return start, end
    sentences = _sentences(text, start, end)
    k = next(i for i, (a, b) in enumerate(sentences) if a <= position < b or position < a)
    lo = hi = k

    def size(i, j):
        return _words(text, sentences[i][0], sentences[j][1])

    while lo > 0 and size(lo - 1, hi) <= FIRST_BACK_WORDS:
        lo -= 1
    while hi + 1 < len(sentences) and size(lo, hi + 1) <= MAX_WORDS:
        hi += 1
    while lo > 0 and size(lo - 1, hi) <= MAX_WORDS:
        lo -= 1
    return sentences[lo][0], sentences[hi][1]


def article_windows(text: str) -> list[dict]:
    lines = _line_ranges(text)
    found = [m.start() for m in TRIGGER.finditer(text)]
    windows: list[dict] = []
    for position in found:
        start, end = trigger_window(text, lines, position)
        if windows and start < windows[-1]["end"]:
            last = windows[-1]
            if position < last["end"]:  # already covered
                last["triggers"].append(position)
                continue
            if _words(text, min(start, last["start"]), max(end, last["end"])) <= MAX_WORDS:
                last["start"], last["end"] = min(start, last["start"]), max(end, last["end"])
                last["triggers"].append(position)
                continue
            start = last["end"]
            while text[start].isspace():
                start += 1
        windows.append({"start": start, "end": end, "triggers": [position]})
    return windows


def select_windows(articles: list[dict], selected: set[str], corpus_texts: list[str]) -> dict:
    seen = [shingles(t) for t in corpus_texts]
    chosen, excluded = [], []
    for art in articles:
        text = farsnews_text(art)
        if art["id"] in selected or not TRIGGER.search(text):
            continue
        for k, w in enumerate(article_windows(text), start=1):
            record = {"id": f"{art['id']}-w{k}", "article": art["id"], "start": w["start"], "end": w["end"],
                      "words": _words(text, w["start"], w["end"]), "triggers": w["triggers"]}
            sh = shingles(text[w["start"]:w["end"]])
            overlap = max((len(sh & s) / len(sh) for s in seen if sh and s), default=0.0)
            if overlap >= 0.3:
                excluded.append({**record, "reason": f"near-duplicate of a corpus document or window ({overlap:.2f} of shingles)"})
                continue
            seen.append(sh)
            chosen.append(record)
    return {"max_words": MAX_WORDS, "windows": chosen, "excluded": excluded}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", default="../shared/corpora/farsnews/articles.jsonl")
    parser.add_argument("--selection", default="data/annotation/selection.json")
    parser.add_argument("--corpus", default="data/annotation/texts", help="texts of the corpus documents (near-duplicate check)")
    parser.add_argument("--write", help="write windows.json and the window texts (texts/) under this folder")
    parser.add_argument("--check", help="compare with a windows.json")
    args = parser.parse_args(argv)
    articles = list(read_articles(args.articles))
    sel = json.load(open(args.selection, encoding="utf-8"))
    selected = set(sel["proposal_trigger"]) | set(sel["ordinary"])
    corpus_texts = [p.read_bytes().decode("utf-8") for p in sorted(Path(args.corpus).glob("*.txt")) if "-w" not in p.stem]
    result = select_windows(articles, selected, corpus_texts)
    by_id = {a["id"]: a for a in articles}
    n_articles = len({w["article"] for w in result["windows"]})
    n_triggers = sum(len(w["triggers"]) for w in result["windows"])
    print(f"{len(result['windows'])} windows from {n_articles} articles, {n_triggers} trigger occurrences; {len(result['excluded'])} excluded")
    if args.write:
        out = Path(args.write)
        (out / "windows.json").write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        for w in result["windows"]:
            text = farsnews_text(by_id[w["article"]])[w["start"]:w["end"]]
            (out / "texts" / f"{w['id']}.txt").write_bytes(text.encode("utf-8"))
    if args.check:
        recorded = json.load(open(args.check, encoding="utf-8"))
        same = recorded == json.loads(json.dumps(result))
        print("matches" if same else "DIFFERS from", args.check)
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
