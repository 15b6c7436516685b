"""Readers of outside corpora and the inline annotation converter."""

import json

import pytest

from persian_ie.data.annotation_tools import check_ann_file
from persian_ie.data.inline import document_to_inline, parse_inline
from persian_ie.data.readers import ReaderStats, read_conll, read_farsnews, read_peyma, read_text_files
from persian_ie.data.schema import load_schema
from persian_ie.data.validate import document_problems
from persian_ie.errors import InlineMarkupError

from conftest import CORPORA, ROOT, SEED_TEXT


def test_peyma_reader_spans_and_label_map(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("به|O\nگزارش|O\nخبرگزاری|B_ORG\nمهر|I_ORG\n،|O\nسعید|B_PER\nپورعلی|I_PER\n\nتهران|B_LOC\n", encoding="utf-8")
    stats = ReaderStats()
    docs = list(read_peyma(path, {"LOC": None}, stats=stats))
    assert [docs[0].text[s.start:s.end] for s in docs[0].spans] == ["خبرگزاری مهر", "سعید پورعلی"]
    assert docs[1].spans == [] and stats.dropped["LOC"] == 1


def test_conll_reader_repairs_orphan_inside_tags_and_counts_them(tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("سعید I-PER\nپورعلی I-PER\nدر O\nتهران I-LOC\nو O\nمهر B-ORG\n", encoding="utf-8")
    stats = ReaderStats()
    (doc,) = read_conll(path, stats=stats)
    assert [(doc.text[s.start:s.end], s.label) for s in doc.spans] == [("سعید پورعلی", "PER"), ("تهران", "LOC"), ("مهر", "ORG")]
    assert stats.repaired_tags == 2


def test_peyma_token_with_spaces_and_pipe():
    docs = list(read_peyma(CORPORA / "peyma" / "dev.txt"))
    assert len(docs) == 925
    schema = load_schema("peyma")
    assert all(not document_problems(d, schema) for d in docs[:300])


def test_conll_parstwiner():
    docs = list(read_conll(CORPORA / "parstwiner" / "dev.txt"))
    assert len(docs) == 446
    schema = load_schema("parstwiner")
    labels = {s.label for d in docs for s in d.spans}
    assert labels <= set(schema.labels) and "PER" in labels


def test_farsnews_reader_text_rule():
    docs = read_farsnews(CORPORA / "farsnews" / "articles.jsonl")
    first = next(docs)
    raw = json.loads(open(CORPORA / "farsnews" / "articles.jsonl", encoding="utf-8").readline())
    assert first.id == raw["id"] and first.text == "\n".join([raw["title"], raw["abstract"], *raw["paragraphs"]])
    assert first.meta["url"] == raw["link"]


def test_text_files_reader(tmp_path):
    docs = list(read_text_files([SEED_TEXT]))
    assert docs[0].id == "shabestan-1730839" and docs[0].text == SEED_TEXT.read_bytes().decode("utf-8")


ORIGINAL = "شهردار مشهد، قلندر شريف، پيشنهاد خواهرخواندگي با غزه را داد."


def test_inline_converts_with_copying_slips():
    # the annotator typed Persian ی where the original has Arabic ي, and dropped a space
    markup = "<TITLE:t1>شهردار <CITY>مشهد</CITY></TITLE>، <PER:p1>قلندر شریف</PER>، <PROPOSAL:r1>پیشنهاد خواهرخواندگی با <CITY:c1>غزه</CITY></PROPOSAL> راداد.\n=== relations\nholder t1 p1\nproposer r1 p1\nparty r1 c1\n"
    result = parse_inline(markup, ORIGINAL, "d", load_schema())
    assert not result.errors
    got = {(s.label, ORIGINAL[s.start:s.end]) for s in result.doc.spans}
    assert got == {("TITLE", "شهردار مشهد"), ("CITY", "مشهد"), ("PER", "قلندر شريف"), ("PROPOSAL", "پيشنهاد خواهرخواندگي با غزه"), ("CITY", "غزه")}
    assert len(result.doc.relations) == 3
    again = parse_inline(document_to_inline(result.doc), ORIGINAL, "d", load_schema())
    assert [(s.label, s.start, s.end) for s in again.doc.spans] == [(s.label, s.start, s.end) for s in result.doc.spans]


def test_inline_rejects_changed_text():
    with pytest.raises(InlineMarkupError, match="differs from the original"):
        parse_inline("<CITY>تهران</CITY> گفت", "مشهد گفت", "d", load_schema())


def test_inline_reports_unclosed_tags_and_unknown_ids():
    result = parse_inline("<CITY>مشهد گفت\n=== relations\nholder t9 p1\n", "مشهد گفت", "d", load_schema())
    assert any("never closed" in e for e in result.errors)
    assert any("unknown id" in e for e in result.errors)


def test_every_annotation_file_passes_its_check():
    schema = load_schema()
    root = ROOT / "data" / "annotation"
    files = sorted(root.glob("pass_*/*.ann")) + sorted(root.glob("adjudicated/*.ann"))
    assert len(files) >= 370
    failures = [str(f) for f in files if not check_ann_file(f, schema, root / "texts").ok]
    assert failures == []
