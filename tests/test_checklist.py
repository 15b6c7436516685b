"""Seed checklist: the gold annotation passes, broken predictions fail the right lines."""

import copy
from pathlib import Path

from persian_ie.data.document import Span, read_documents
from persian_ie.data.normalize import Normalizer
from persian_ie.eval.baseline import link_gold
from persian_ie.eval.checklist import SEED_ID, check_seed, format_checklist

ROOT = Path(__file__).resolve().parents[1]


def _seed():
    return next(d for d in read_documents(ROOT / "data" / "corpus" / "test.jsonl") if d.id == SEED_ID)


def test_gold_seed_passes_every_counted_fact():
    facts = check_seed(_seed())
    assert all(f.ok for f in facts if f.counted), format_checklist(facts)
    assert not next(f for f in facts if not f.counted).ok  # the gold keeps holder within a sentence
    assert "6/6" in format_checklist(facts)


def test_missing_relations_and_unesco_as_person_fail():
    doc = copy.deepcopy(_seed())
    doc.relations = [r for r in doc.relations if r.type != "holder"]
    unesco = next(s for s in doc.spans if doc.text[s.start:s.end] == "یونسکو")
    doc.spans.append(Span("bad", unesco.start, unesco.end, "PER"))
    facts = {f.name.split(":")[0].split(" (")[0]: f.ok for f in check_seed(doc)}
    assert facts["official"] is False
    assert facts["UNESCO and UNICEF never PER"] is False
    assert facts["request to UNICEF"] is True


def test_linker_on_gold_spans_gets_the_seed_facts():
    facts = check_seed(link_gold(_seed(), Normalizer()))
    print(format_checklist(facts))
    assert next(f for f in facts if f.name.startswith("official")).ok


def test_printed_facts_name_each_party_once():
    from persian_ie.commands import format_facts
    from persian_ie.data.document import Document

    text = "پیشنهاد همکاری غزه با مشهد و غزه"
    doc = Document("d", text, [Span("p", 0, 14, "PROPOSAL"), Span("a", 15, 18, "CITY"), Span("b", 22, 26, "CITY"), Span("c", 29, 32, "CITY")])
    ref = lambda s: {"id": s.id, "text": text[s.start:s.end]}
    doc.extra["records"] = {"proposals": [{"proposal": ref(doc.spans[0]), "proposer": None, "parties": [ref(s) for s in doc.spans[1:]]}]}
    assert "by ?; parties: غزه, مشهد" in format_facts(doc, ["CITY", "PROPOSAL"])
