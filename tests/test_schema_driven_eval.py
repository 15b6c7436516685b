"""Issue 13: the rule baseline and record scoring follow the label schema.

A schema without PER/TITLE/PROPOSAL or relations (PEYMA) gets spans of its
own labels and no relations or records section, instead of the project's
labels, warnings and rows of zeros."""

import itertools
import json

from conftest import CORPORA
from persian_ie.data.document import Document, Relation, Span, write_documents
from persian_ie.data.normalize import Normalizer
from persian_ie.data.readers import read_peyma
from persian_ie.data.schema import LabelSchema, load_schema
from persian_ie.eval.baseline import main as baseline_main
from persian_ie.eval.baseline import predict_all
from persian_ie.eval.report import evaluate_documents, to_markdown, to_terminal

PEYMA = load_schema("peyma")


def _peyma_docs(n=25):
    return list(itertools.islice(read_peyma(CORPORA / "peyma" / "dev.txt"), n))


def test_baseline_with_the_peyma_schema_predicts_peyma_labels():
    docs = _peyma_docs()
    assert {s.label for d in docs for s in d.spans} >= {"LOC", "ORG"}
    # gazetteers from the same documents: every gold surface is in them, so
    # a baseline that looks up PEYMA's labels finds most of the gold spans
    preds = predict_all(docs, docs, Normalizer(), PEYMA)
    predicted = {s.label for d in preds for s in d.spans}
    assert predicted and predicted <= set(PEYMA.labels)
    assert all(not d.relations and "records" not in d.extra for d in preds)
    report = evaluate_documents(docs, preds, PEYMA, bootstrap=0)
    assert list(report["labels"]) == PEYMA.labels
    assert report["micro"]["recall"] >= 0.6 and report["labels"]["LOC"]["f1"] >= 0.5
    assert not report["warnings"]  # no span of a label outside the schema
    assert "relations" not in report and "records" not in report and "proposal_errors" not in report


def test_baseline_cli_takes_a_schema(tmp_path, capsys):
    docs = _peyma_docs(10)
    write_documents(tmp_path / "p.jsonl", docs)
    assert baseline_main(["--schema", "peyma", "--train", str(tmp_path / "p.jsonl"), "--gold", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "r.json")]) == 0
    printed = capsys.readouterr().out
    assert "LOC" in printed and "rel:" not in printed and "rec:" not in printed and "TITLE" not in printed
    report = json.loads((tmp_path / "r.json").read_text("utf-8"))
    assert report["schema"] == "peyma" and report["micro"]["f1"] > 0.3


def test_link_gold_with_a_schema_without_relations_links_nothing():
    from persian_ie.eval.baseline import link_gold

    doc = _peyma_docs(1)[0]
    assert link_gold(doc, Normalizer(), PEYMA).relations == []


TEXT = "شهردار مشهد گفت: پیشنهاد خواهرخواندگی با غزه‌ای داد و احمد رفت."


def _doc():
    spans = [Span("s1", 0, 11, "TITLE"), Span("s2", 7, 11, "CITY"), Span("s3", 17, 47, "PROPOSAL"), Span("s4", 41, 44, "CITY"), Span("s5", 55, 59, "PER")]
    return Document("d1", TEXT, spans, [Relation("holder", "s1", "s5"), Relation("party", "s3", "s4")])


def test_record_kinds_follow_the_schema():
    assert load_schema().record_types == ["officials", "proposals"]
    assert PEYMA.record_types == []
    holder_only = LabelSchema("holders", {"entity": ("PER", "CITY"), "role": ("TITLE",), "event": ("PROPOSAL",)},
                              {"holder": load_schema().relations["holder"]})
    assert holder_only.record_types == ["officials"]
    report = evaluate_documents([_doc()], [_doc()], holder_only, bootstrap=0)
    assert set(report["records"]) == {"officials"} and report["records"]["officials"]["f1"] == 1.0
    assert set(report["relations"]) == {"holder", "micro"}


def test_reports_without_relations_print_cleanly():
    peyma_doc = Document("p1", "تهران و مشهد", [Span("s1", 0, 5, "LOC")])
    report = evaluate_documents([peyma_doc], [peyma_doc], PEYMA, bootstrap=0)
    assert "relations" not in report and "records" not in report
    assert "rel:" not in to_terminal(report) and "Relations" not in to_markdown(report)
    assert report["micro"]["f1"] == 1.0
