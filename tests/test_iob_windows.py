"""Spans -> IOB2 -> spans is the identity on real documents; windowing is lossless."""

import pytest

from persian_ie.data.encoding import merge_window_predictions, plan_windows, sentence_end_positions
from persian_ie.data.iob import spans_to_tags, tag_chunks, tags_to_spans
from persian_ie.data.readers import read_peyma
from persian_ie.data.schema import load_schema
from persian_ie.data.tokenize import tokenize

from conftest import CORPORA


def _keys(spans):
    return sorted((s.label, s.start, s.end) for s in spans)


def round_trip(doc, schema):
    tokens = tokenize(doc.text).tokens
    return _keys(tags_to_spans(tokens, spans_to_tags(tokens, doc.spans, schema)))


def test_round_trip_on_every_corpus_document(corpus_docs):
    schema = load_schema()
    for split, docs in corpus_docs.items():
        for doc in docs:
            assert round_trip(doc, schema) == _keys(doc.spans), (split, doc.id)


def test_round_trip_on_peyma():
    schema = load_schema("peyma")
    docs = list(read_peyma(CORPORA / "peyma" / "test.txt"))
    assert len(docs) == 1026
    for doc in docs:
        assert round_trip(doc, schema) == _keys(doc.spans), doc.id


def test_strict_chunks_ignore_orphan_inside_tags():
    assert tag_chunks(["B-PER", "I-PER", "O", "I-ORG", "B-ORG", "I-PER"]) == [("PER", 0, 2), ("ORG", 4, 5)]


def test_repair_reading_starts_an_entity_at_an_orphan_inside_tag():
    # the reading of external corpora (PEYMA, CoNLL readers): as conlleval reads IOB
    assert tag_chunks(["B-PER", "I-PER", "O", "I-ORG", "I-ORG", "I-PER", "E-LOC"], repair=True) == [("PER", 0, 2), ("ORG", 3, 5), ("PER", 5, 6)]


@pytest.mark.parametrize("max_pieces,stride", [(16, 4), (40, 10), (7, 0), (1000, 32)])
def test_windowing_is_lossless_on_gold(corpus_docs, max_pieces, stride):
    schema = load_schema()
    for doc in corpus_docs["test"][:25]:
        tokenized = tokenize(doc.text)
        counts = [1 + len(t.text) // 4 for t in tokenized.tokens]  # a stand-in for subword counts
        windows = plan_windows(counts, sentence_end_positions(tokenized), max_pieces, stride)
        assert windows[0].first_word == 0 and windows[-1].last_word == len(counts)
        for a, b in zip(windows, windows[1:]):
            assert b.first_word <= a.last_word and b.first_word > a.first_word  # overlapping or adjacent, always advancing
        for w in windows:
            assert sum(counts[w.first_word:w.last_word]) <= max_pieces or w.last_word - w.first_word == 1
        tags = spans_to_tags(tokenized.tokens, doc.spans, schema)
        for layer, seq in tags.items():
            per_window = [seq[w.first_word:w.last_word] for w in windows]
            assert merge_window_predictions(windows, per_window, len(seq)) == seq


def test_window_prefers_sentence_ends():
    counts = [1] * 30
    windows = plan_windows(counts, {12, 30}, 20, 0)
    assert windows[0].last_word == 12


def test_predicted_spans_never_end_on_punctuation():
    # A tagger that carries I- over a comma or a closing guillemet: the span
    # keeps its words and loses the punctuation (SCHEMA.md section 2).
    text = "«مترو پلیس»، مشهد"
    tokens = tokenize(text).tokens
    words = [t.text for t in tokens]
    tags = ["B-ORG" if w == "«" else "I-ORG" if w in ("مترو", "پلیس", "»", "،") else "O" for w in words]
    spans = tags_to_spans(tokens, {"entity": tags}, text=text)
    assert [(s.label, s.text) for s in spans] == [("ORG", "مترو پلیس")]
    only_punct = tags_to_spans(tokens, {"entity": ["B-ORG" if w == "،" else "O" for w in words]}, text=text)
    assert only_punct == []
