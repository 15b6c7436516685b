"""A rule and gazetteer baseline with no learning, scored by the same harness.

    python -m persian_ie.eval.baseline --train data/corpus/train.jsonl --gold data/corpus/test.jsonl [--out report.json]

* PER, ORG, CITY: longest-match lookup of gazetteers, the surface strings
  of the TRAIN split's spans (normalized; no statistics, no weights).
* TITLE: an office head word (``شهردار``, ``وزیر``, ``رئیس`` ...) plus at
  most 5 following words, stopping at punctuation, a stop word (verbs,
  prepositions, ``و``) or a sentence end.
* PROPOSAL: a trigger (``پیشنهاد``, ``درخواست``, ``خواستار``, ``اعلام
  آمادگی``, ``تقاضا``) plus at most 7 following words, stopping before
  ``را``, ``که``, a light verb, a preposition or punctuation.
* Relations: the same linking rules as the model output (models/linking.py).

``--link-gold`` scores the linking rules alone: gold spans in, relations
out (``python -m persian_ie.eval.baseline --link-gold --gold data/corpus/test.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from persian_ie.data.document import Document, Span, number_spans, read_documents
from persian_ie.data.normalize import Normalizer
from persian_ie.data.schema import load_schema
from persian_ie.data.tokenize import is_punct, tokenize
from persian_ie.models.linking import build_records, link

TITLE_HEADS = {"شهردار", "استاندار", "فرماندار", "وزیر", "رئیس", "رییس", "معاون", "مدیرکل", "مدیر", "نماینده", "سفیر", "سخنگوی", "سخنگو",
               "دبیرکل", "دادستان", "فرمانده", "بخشدار", "دهیار", "سرپرست", "دبیر", "نخست", "رئیس‌جمهور", "امام", "عضو", "رهبر", "مشاور"}
TRIGGERS = ("پیشنهاد", "درخواست", "خواستار", "تقاضا", "اعلام آمادگی")
STOP_WORDS = {"را", "که", "کرد", "داد", "شد", "است", "بود", "کرده", "داده", "شده", "گفت", "افزود", "کند", "دهد", "می", "و", "با", "در", "از", "به", "تا", "برای"}


def build_gazetteers(train_docs, normalizer) -> dict[str, dict[tuple, str]]:
    """Token tuples of every PER/ORG/CITY surface in the training split."""
    gaz: dict[tuple, str] = {}
    for doc in train_docs:
        for span in doc.spans:
            if span.label in ("PER", "ORG", "CITY"):
                key = tuple(t.text for t in tokenize(doc.text[span.start:span.end], normalizer).tokens)
                gaz.setdefault(key, span.label)
    return gaz


def _lookup(tokens, gaz, max_len):
    spans, i = [], 0
    while i < len(tokens):
        for n in range(min(max_len, len(tokens) - i), 0, -1):
            label = gaz.get(tuple(t.text for t in tokens[i:i + n]))
            if label:
                spans.append((label, i, i + n))
                i += n
                break
        else:
            i += 1
    return spans


def _phrase(tokens, i, limit):
    j = i + 1
    while j < len(tokens) and j - i < limit:
        t = tokens[j].text
        if is_punct(t[0]) or t in STOP_WORDS or tokens[j].sentence != tokens[i].sentence:
            break
        j += 1
    return j


def predict(doc: Document, gaz, max_len, normalizer) -> Document:
    tokenized = tokenize(doc.text, normalizer)
    tokens = tokenized.tokens
    found = _lookup(tokens, gaz, max_len)
    for i, tok in enumerate(tokens):
        if tok.text in TITLE_HEADS:
            found.append(("TITLE", i, _phrase(tokens, i, 6)))
        for trig in TRIGGERS:
            words = trig.split()
            if [t.text for t in tokens[i:i + len(words)]] == words:
                found.append(("PROPOSAL", i, _phrase(tokens, i + len(words) - 1, 8)))
    spans, taken = [], {}
    for label, lo, hi in sorted(found, key=lambda x: (x[1], -(x[2] - x[1]))):
        layer = {"TITLE": "role", "PROPOSAL": "event"}.get(label, "entity")
        if any(lo < e and s < hi for s, e in taken.get(layer, [])):
            continue
        taken.setdefault(layer, []).append((lo, hi))
        spans.append(Span("", tokens[lo].start, tokens[hi - 1].end, label))
    number_spans(spans)
    bounds = tokenized.sentence_offsets()
    rels = link(doc.text, spans, bounds)
    return Document(doc.id, doc.text, spans, rels, doc.meta, {"records": build_records(doc.text, spans, rels, bounds), "model": {"name": "rules+gazetteer"}})


def link_gold(doc: Document, normalizer) -> Document:
    """The gold spans with relations from the linking rules (to score linking alone)."""
    bounds = tokenize(doc.text, normalizer).sentence_offsets()
    return Document(doc.id, doc.text, doc.spans, link(doc.text, doc.spans, bounds), doc.meta)


def main(argv=None) -> int:
    from persian_ie.eval.report import evaluate_documents, to_markdown, to_terminal

    parser = argparse.ArgumentParser(description="rule and gazetteer baseline")
    parser.add_argument("--train", default="data/corpus/train.jsonl")
    parser.add_argument("--gold", default="data/corpus/test.jsonl")
    parser.add_argument("--out")
    parser.add_argument("--markdown")
    parser.add_argument("--link-gold", action="store_true", help="score the linking rules alone on gold spans")
    args = parser.parse_args(argv)
    normalizer = Normalizer()
    gold = read_documents(args.gold)
    if args.link_gold:
        preds = [link_gold(d, normalizer) for d in gold]
    else:
        gaz = build_gazetteers(read_documents(args.train), normalizer)
        max_len = max(map(len, gaz)) if gaz else 1
        preds = [predict(Document(d.id, d.text, meta=d.meta), gaz, max_len, normalizer) for d in gold]
    report = evaluate_documents(gold, preds, load_schema(), bootstrap=1000)
    print(to_terminal(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(to_markdown(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
