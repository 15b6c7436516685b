"""Mention replacement keeps every span on its words and every relation."""

import random

from persian_ie.data.augment import augment, mention_pool, replace_mentions
from persian_ie.data.document import Document, Relation, Span
from persian_ie.data.schema import load_schema
from persian_ie.data.validate import document_problems

TEXT = "شهردار مشهد گفت: پیشنهاد خواهرخواندگی مشهد با غزه را داد. نمازگزاران غزه‌ای و یونسکو آمدند."


def _span(sid, surface, label, nth=0):
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(surface, start + 1)
    return Span(sid, start, start + len(surface), label)


def seed_like() -> Document:
    spans = [
        _span("t1", "شهردار مشهد", "TITLE"),
        _span("c1", "مشهد", "CITY"),
        _span("p1", "پیشنهاد خواهرخواندگی مشهد با غزه", "PROPOSAL"),
        _span("c2", "مشهد", "CITY", nth=1),
        _span("c3", "غزه", "CITY"),
        _span("c4", "غزه", "CITY", nth=1),     # its suffix follows a ZWNJ: غزه‌ای
        _span("o1", "یونسکو", "ORG"),
    ]
    return Document("d1", TEXT, spans, [Relation("party", "p1", "c2"), Relation("party", "p1", "c3")])


POOL = {"PER": ["علی رضایی"], "ORG": ["سازمان ملل متحد"], "CITY": ["تبریز", "کرمانشاه"]}


def test_every_replaced_mention_is_replaced_and_every_other_span_keeps_its_words():
    doc = seed_like()
    copy = replace_mentions(doc, POOL, random.Random(0), rate=1.0)
    by_id = {s.id: copy.text[s.start:s.end] for s in copy.spans}
    assert by_id["c1"] == by_id["c2"] != "مشهد"          # one name stays one name in the copy
    assert by_id["c3"] in ("تبریز", "کرمانشاه") and by_id["o1"] == "سازمان ملل متحد"
    assert by_id["t1"] == "شهردار " + by_id["c1"]         # the enclosing office grew with it
    assert by_id["p1"] == f"پیشنهاد خواهرخواندگی {by_id['c2']} با {by_id['c3']}"
    assert by_id["c4"] == "غزه" and "غزه‌ای" in copy.text  # a suffixed stem is left alone
    assert [(r.type, r.head, r.tail) for r in copy.relations] == [(r.type, r.head, r.tail) for r in doc.relations]
    assert document_problems(copy, load_schema()) == []


def test_rate_zero_changes_nothing_and_the_originals_come_first():
    doc = seed_like()
    copy = replace_mentions(doc, POOL, random.Random(0), rate=0.0)
    assert copy.text == doc.text and [(s.start, s.end) for s in copy.spans] == [(s.start, s.end) for s in doc.spans]
    out = augment([doc], copies=2, rate=0.5, seed=1)
    assert [d.id for d in out] == ["d1", "d1#aug1", "d1#aug2"] and out[0] is doc


def test_the_pool_holds_each_labels_strings_once():
    pool = mention_pool([seed_like(), seed_like()])
    assert pool["CITY"] == ["غزه", "مشهد"] and pool["ORG"] == ["یونسکو"] and pool["PER"] == []


def test_a_mention_another_span_crosses_is_left_alone():
    text = "احمد رضایی گفت"
    doc = Document("d2", text, [Span("p", 0, 10, "PER"), Span("x", 5, 14, "PROPOSAL")])
    copy = replace_mentions(doc, POOL, random.Random(0), rate=1.0)
    assert copy.text == text
