"""Linking rules: output unchanged by the O(n log n) rewrite, and the rules' behaviour."""

import json
from pathlib import Path

from persian_ie.data.document import Span, read_documents
from persian_ie.data.normalize import Normalizer
from persian_ie.data.tokenize import tokenize
from persian_ie.models.linking import build_records, link

ROOT = Path(__file__).resolve().parents[1]
# relations of the rules before the rewrite on every corpus document (gold spans)
EXPECTED = ROOT / "tests" / "linking_expected.json"


def test_relations_identical_to_saved_output_on_whole_corpus():
    expected = json.loads(EXPECTED.read_text("utf-8"))
    normalizer = Normalizer()
    seen = 0
    for path in sorted((ROOT / "data" / "corpus").glob("*.jsonl")):
        for doc in read_documents(path):
            bounds = tokenize(doc.text, normalizer).sentence_offsets()
            # the optional rules off: the documented rules as they were before the rewrite
            got = [[r.type, r.head, r.tail] for r in link(doc.text, doc.spans, bounds, rules=())]
            assert got == expected[doc.id], doc.id
            seen += 1
    assert seen == len(expected)


def _at(text, label, sid, phrase):
    start = text.index(phrase)
    return Span(sid, start, start + len(phrase), label)


def _doc():
    text = "کلایی، شهردار مشهد پیشنهاد خواهرخواندگی با غزه داد. وی گفت."
    spans = [
        _at(text, "PER", "s1", "کلایی"),
        _at(text, "TITLE", "s2", "شهردار مشهد"),
        _at(text, "CITY", "s3", "مشهد"),
        _at(text, "PROPOSAL", "s4", "پیشنهاد خواهرخواندگی با غزه"),
        _at(text, "CITY", "s5", "غزه"),
    ]
    end = text.index(".") + 1
    return text, spans, [(0, end), (end + 1, len(text))]


def test_holder_proposer_party_and_records():
    text, spans, bounds = _doc()
    rels = [(r.type, r.head, r.tail) for r in link(text, spans, bounds)]
    assert ("holder", "s2", "s1") in rels
    assert ("proposer", "s4", "s1") in rels  # the title gives way to its holder
    assert ("party", "s4", "s5") in rels
    records = build_records(text, spans, link(text, spans, bounds), bounds)
    assert records["proposals"][0]["proposer"]["span"] == "s1"
    assert records["proposals"][0]["sentence"] == {"start": 0, "end": bounds[0][1]}


def test_no_holder_without_apposition_or_across_sentences():
    text = "شهردار مشهد آمد. کلایی گفت."
    spans = [_at(text, "TITLE", "t", "شهردار مشهد"), _at(text, "PER", "p", "کلایی")]
    cut = text.index(".") + 1
    assert link(text, spans, [(0, cut), (cut + 1, len(text))]) == []


def _rels(text, spans, rules=None):
    return {(r.type, r.head, r.tail) for r in link(text, spans, [(0, len(text))], rules)}


def test_genitive_proposer_inside_the_proposal_is_proposer_not_party():
    text = "کمالوند با درخواست استقلالی‌ها برای تعویق بازی مخالفت کرد"
    spans = [_at(text, "PER", "p", "کمالوند"), _at(text, "PROPOSAL", "x", "درخواست استقلالی‌ها برای تعویق بازی"), _at(text, "ORG", "o", "استقلالی‌ها")]
    assert ("proposer", "x", "p") in _rels(text, spans, ())  # the old rule: nearest before
    kept = _rels(text, spans)
    assert ("proposer", "x", "o") in kept and ("party", "x", "o") not in kept


def test_addressee_before_trigger_is_party_and_not_proposer():
    text = "اداره کل ورزش از سازمان لیگ درخواست کند"
    spans = [_at(text, "ORG", "a", "اداره کل ورزش"), _at(text, "ORG", "b", "سازمان لیگ"), _at(text, "PROPOSAL", "x", "درخواست")]
    assert ("proposer", "x", "b") in _rels(text, spans, ())
    kept = _rels(text, spans)
    assert ("proposer", "x", "a") in kept and ("party", "x", "b") in kept


def test_light_verb_ends_the_party_search():
    text = "نماینده خواستار توقف واگذاری شدند و در شرکت سنگ آهن"
    spans = [_at(text, "PROPOSAL", "x", "خواستار توقف واگذاری"), _at(text, "ORG", "o", "سنگ آهن")]
    assert ("party", "x", "o") in _rels(text, spans, ())
    assert ("party", "x", "o") not in _rels(text, spans)


def test_honorific_between_title_and_name_still_gives_holder():
    text = "شهردار مشهد دکتر محمد پژمان آمد"
    spans = [_at(text, "TITLE", "t", "شهردار مشهد"), _at(text, "PER", "p", "محمد پژمان")]
    assert _rels(text, spans, ()) == set()
    assert _rels(text, spans) == {("holder", "t", "p")}
