"""A rule and gazetteer baseline with no learning, scored by the same harness.

    python -m persian_ie.eval.baseline --train data/corpus/train.jsonl --gold data/corpus/test.jsonl [--schema peyma] [--out report.json]

It predicts the labels of the label schema (``--schema``, default the
project's):

* every label without a rule of its own (PER, ORG, CITY; all seven of
  PEYMA's): longest-match lookup of gazetteers, the surface strings of the
  TRAIN split's spans (normalized; no statistics, no weights).
* TITLE (when the schema has it): an office head word (``شهردار``, ``وزیر``, ``رئیس`` ...) plus at
  most 5 following words, stopping at punctuation, a stop word (verbs,
  prepositions, ``و``) or a sentence end.
* PROPOSAL (when the schema has it): a trigger (``پیشنهاد``, ``درخواست``, ``خواستار``, ``اعلام
  آمادگی``, ``تقاضا``) plus at most 7 following words, stopping before
  ``را``, ``که``, a light verb, a preposition or punctuation.
* Relations and records: the relation component a model of this schema
  gets (models/components.py: the linking rules for the project's schema,
  none for a schema without relation types).

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
from persian_ie.data.schema import LabelSchema, load_schema
from persian_ie.data.tokenize import is_punct, tokenize
from persian_ie.models.components import default_relation_model, resolve_component

TITLE_HEADS = {"شهردار", "استاندار", "فرماندار", "وزیر", "رئیس", "رییس", "معاون", "مدیرکل", "مدیر", "نماینده", "سفیر", "سخنگوی", "سخنگو",
               "دبیرکل", "دادستان", "فرمانده", "بخشدار", "دهیار", "سرپرست", "دبیر", "نخست", "رئیس‌جمهور", "امام", "عضو", "رهبر", "مشاور"}
TRIGGERS = ("پیشنهاد", "درخواست", "خواستار", "تقاضا", "اعلام آمادگی")
STOP_WORDS = {"را", "که", "کرد", "داد", "شد", "است", "بود", "کرده", "داده", "شده", "گفت", "افزود", "کند", "دهد", "می", "و", "با", "در", "از", "به", "تا", "برای"}


# Labels found by a rule of their own (word lists above), when the schema has them.
RULE_LABELS = ("TITLE", "PROPOSAL")


def gazetteer_labels(schema: LabelSchema) -> set[str]:
    """The schema's labels looked up in gazetteers: all but those with a rule."""
    return {label for label in schema.labels if label not in RULE_LABELS}


def build_gazetteers(train_docs, normalizer, labels=("PER", "ORG", "CITY")) -> dict[tuple, str]:
    """Token tuples of every surface of ``labels`` in the training split."""
    gaz: dict[tuple, str] = {}
    for doc in train_docs:
        for span in doc.spans:
            if span.label in labels:
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


def _rule_matches(tokens, labels) -> list[tuple[str, int, int]]:
    found = []
    for i, tok in enumerate(tokens):
        if "TITLE" in labels and tok.text in TITLE_HEADS:
            found.append(("TITLE", i, _phrase(tokens, i, 6)))
        for trig in TRIGGERS if "PROPOSAL" in labels else ():
            words = trig.split()
            if [t.text for t in tokens[i:i + len(words)]] == words:
                found.append(("PROPOSAL", i, _phrase(tokens, i + len(words) - 1, 8)))
    return found


def _no_overlap_within_layer(found, tokens, schema: LabelSchema) -> list[Span]:
    """Longest first at each start; a match overlapping a kept one of its layer is dropped."""
    spans, taken = [], {}
    for label, lo, hi in sorted(found, key=lambda x: (x[1], -(x[2] - x[1]))):
        layer = schema.layer_of(label)
        if any(lo < e and s < hi for s, e in taken.get(layer, [])):
            continue
        taken.setdefault(layer, []).append((lo, hi))
        spans.append(Span("", tokens[lo].start, tokens[hi - 1].end, label))
    number_spans(spans)
    return spans


def predict(doc: Document, gaz, max_len, normalizer, schema: LabelSchema | None = None, component=None) -> Document:
    """Spans of ``schema``'s labels (default: the project's), relations and records from ``component``."""
    schema = load_schema(schema)
    tokenized = tokenize(doc.text, normalizer)
    tokens = tokenized.tokens
    found = [m for m in _lookup(tokens, gaz, max_len) if m[0] in schema.labels] + _rule_matches(tokens, set(schema.labels))
    spans = _no_overlap_within_layer(found, tokens, schema)
    extra = {"model": {"name": "rules+gazetteer"}}
    component = _relation_component(schema) if component is None else component
    rels = []
    if component:
        bounds = tokenized.sentence_offsets()
        rels = component.link(doc.text, spans, bounds)
        extra["records"] = component.records(doc.text, spans, rels, bounds, None)
    return Document(doc.id, doc.text, spans, rels, doc.meta, extra)


def _relation_component(schema: LabelSchema):
    """What a model of this schema links with (models/components.py); False for none."""
    return resolve_component(default_relation_model(schema), schema, origin=f"schema {schema.name!r}") or False


def link_gold(doc: Document, normalizer, schema: LabelSchema | None = None) -> Document:
    """The gold spans with relations from the linking rules (to score linking alone)."""
    component = _relation_component(load_schema(schema))
    if not component:
        return Document(doc.id, doc.text, doc.spans, [], doc.meta)
    bounds = tokenize(doc.text, normalizer).sentence_offsets()
    return Document(doc.id, doc.text, doc.spans, component.link(doc.text, doc.spans, bounds), doc.meta)


def predict_all(train_docs, gold_docs, normalizer, schema: LabelSchema) -> list[Document]:
    """The baseline's predictions for ``gold_docs`` (text only), gazetteers from ``train_docs``."""
    gaz = build_gazetteers(train_docs, normalizer, gazetteer_labels(schema))
    max_len = max(map(len, gaz)) if gaz else 1
    component = _relation_component(schema)
    return [predict(Document(d.id, d.text, meta=d.meta), gaz, max_len, normalizer, schema, component) for d in gold_docs]


def main(argv=None) -> int:
    from persian_ie.eval.report import evaluate_documents, to_markdown, to_terminal

    parser = argparse.ArgumentParser(description="rule and gazetteer baseline")
    parser.add_argument("--train", default="data/corpus/train.jsonl")
    parser.add_argument("--gold", default="data/corpus/test.jsonl")
    parser.add_argument("--out")
    parser.add_argument("--markdown")
    parser.add_argument("--schema", default="default", help="label schema: builtin name (default, peyma, parstwiner) or file")
    parser.add_argument("--link-gold", action="store_true", help="score the linking rules alone on gold spans")
    args = parser.parse_args(argv)
    normalizer = Normalizer()
    schema = load_schema(args.schema)
    gold = read_documents(args.gold)
    if args.link_gold:
        preds = [link_gold(d, normalizer, schema) for d in gold]
    else:
        preds = predict_all(read_documents(args.train), gold, normalizer, schema)
    report = evaluate_documents(gold, preds, schema, bootstrap=1000)
    print(to_terminal(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(to_markdown(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
