"""The evaluation harness: metrics pinned on hand-made cases, seqeval agreement
on real data, bootstrap determinism, bad-input rules, comparison."""

import copy
import json
import random

import pytest

from persian_ie.cli import main
from persian_ie.data.document import Document, Relation, Span, write_documents
from persian_ie.data.schema import load_schema
from persian_ie.eval.report import compare_reports, evaluate_documents
from persian_ie.eval.seqeval_scores import seqeval_label_scores
from persian_ie.eval.matching import pair_documents
from persian_ie.errors import EvaluationError

TEXT = "شهردار مشهد گفت: پیشنهاد خواهرخواندگی با غزه‌ای داد و احمد رفت."
SCHEMA = load_schema()


def span(i, start, end, label):
    return Span(f"s{i}", start, end, label)


def gold_doc():
    spans = [span(1, 0, 11, "TITLE"), span(2, 7, 11, "CITY"), span(3, 17, 47, "PROPOSAL"), span(4, 41, 44, "CITY"), span(5, 55, 59, "PER")]
    rels = [Relation("holder", "s1", "s5"), Relation("party", "s3", "s4"), Relation("proposer", "s3", "s1")]
    return Document("d1", TEXT, spans, rels)


def test_perfect_prediction_with_nested_spans_across_layers():
    report = evaluate_documents([gold_doc()], [gold_doc()], SCHEMA, bootstrap=0)
    assert report["micro"]["f1"] == 1.0
    assert all(report["labels"][l]["f1"] == 1.0 for l in ("PER", "CITY", "TITLE", "PROPOSAL"))
    assert report["labels"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "tp": 0, "fp": 0, "fn": 0}
    assert report["relations"]["holder"]["f1"] == 1.0 and report["records"]["proposals"]["f1"] == 1.0


def test_overlapping_but_not_equal_spans_count_as_errors():
    pred = gold_doc()
    pred.spans[2] = span(3, 17, 38, "PROPOSAL")  # boundary error
    pred.spans[4] = span(5, 55, 59, "ORG")  # type confusion
    pred.spans.append(span(6, 12, 15, "ORG"))  # spurious
    del pred.spans[3]  # a missed CITY (its party relation goes with it)
    pred.relations = [r for r in pred.relations if r.tail != "s4"]
    report = evaluate_documents([gold_doc()], [pred], SCHEMA, bootstrap=0)
    assert report["labels"]["PROPOSAL"]["tp"] == 0 and report["labels"]["PROPOSAL"]["fp"] == 1
    assert report["labels"]["CITY"] == {**report["labels"]["CITY"], "tp": 1, "fn": 1, "fp": 0}
    assert report["micro"]["tp"] == 2 and report["micro"]["fp"] == 3 and report["micro"]["fn"] == 3
    assert report["micro"]["precision"] == pytest.approx(2 / 5) and report["micro"]["recall"] == pytest.approx(2 / 5)
    counts = report["errors"]["counts"]
    assert counts == {"boundary": 1, "type": 1, "miss": 1, "spurious": 1}
    assert report["errors"]["confusion"]["PER"] == {"ORG": 1}
    assert report["matching"]["partial"]["recall"] > report["matching"]["strict"]["recall"]
    assert report["matching"]["type"]["recall"] == pytest.approx(3 / 5)
    # a relation counts only when both ends match strictly: holder's tail is now ORG
    assert report["relations"]["holder"]["tp"] == 0


def test_seqeval_agrees_with_span_sets_on_real_data(corpus_docs):
    rng = random.Random(3)
    gold = corpus_docs["test"]
    pred = copy.deepcopy(gold)
    for doc in pred:  # drop some spans and relabel others
        doc.spans = [s for s in doc.spans if rng.random() > 0.2]
        for s in doc.spans:
            if s.label in ("PER", "ORG", "CITY") and rng.random() < 0.1:
                s.label = rng.choice(["PER", "ORG", "CITY"])
        ids = {s.id for s in doc.spans}
        doc.relations = [r for r in doc.relations if r.head in ids and r.tail in ids]
    report = evaluate_documents(gold, pred, SCHEMA, bootstrap=0)
    seq = seqeval_label_scores(pair_documents(gold, pred, SCHEMA).pairs, SCHEMA)
    for label in SCHEMA.labels:
        assert seq[label]["f1"] == pytest.approx(report["labels"][label]["f1"], abs=1e-9), label
    assert report["seqeval"]["agrees"] and 0.5 < report["micro"]["f1"] < 1.0


def test_bootstrap_is_deterministic_with_a_seed(corpus_docs):
    gold = corpus_docs["dev"]
    pred = copy.deepcopy(gold)
    for doc in pred[::2]:
        doc.spans = doc.spans[::2]
        doc.relations = []
    a = evaluate_documents(gold, pred, SCHEMA, bootstrap=200, seed=7)
    b = evaluate_documents(gold, pred, SCHEMA, bootstrap=200, seed=7)
    assert a["micro"]["ci"] == b["micro"]["ci"]
    lo, hi = a["micro"]["ci"]["f1"]
    assert lo <= a["micro"]["f1"] <= hi


def test_bad_input_rules():
    g = gold_doc()
    other = Document("d2", "متن دیگر", [], [])
    with pytest.raises(EvaluationError, match="text-mismatch"):
        evaluate_documents([g], [Document("d1", TEXT + " ", [], [])], SCHEMA, bootstrap=0)
    with pytest.raises(EvaluationError, match="span-bounds"):
        evaluate_documents([g], [Document("d1", TEXT, [span(1, 0, 999, "PER")], [])], SCHEMA, bootstrap=0)
    with pytest.raises(EvaluationError, match="duplicate-id"):
        evaluate_documents([g, g], [g], SCHEMA, bootstrap=0)
    report = evaluate_documents([g, other], [Document("d1", TEXT, [span(1, 55, 59, "FOO")], []), Document("x", "y")], SCHEMA, bootstrap=0)
    assert report["warnings"] == {"extra-prediction": 1, "missing-prediction": 1, "unknown-label": 1}
    with pytest.raises(EvaluationError, match="no-common-id: none of the 1 gold documents has a prediction among the 1 predicted"):
        evaluate_documents([g], [other], SCHEMA, bootstrap=0)  # a mix-up of files, not a model scoring 0
    with pytest.raises(EvaluationError, match="no-common-id: .* among the 0 predicted"):
        evaluate_documents([g], [], SCHEMA, bootstrap=0)
    # without text, the sha1 stands in for it
    no_text = Document("d1", None, g.spans, g.relations, extra={"text_sha1": g.text_sha1})
    assert evaluate_documents([g], [no_text], SCHEMA, bootstrap=0)["micro"]["f1"] == 1.0


def test_cli_report_files_and_compare(tmp_path, corpus_docs, capsys):
    gold = corpus_docs["dev"]
    worse = copy.deepcopy(gold)
    for doc in worse:
        doc.spans = doc.spans[: len(doc.spans) // 2]
        ids = {s.id for s in doc.spans}
        doc.relations = [r for r in doc.relations if r.head in ids and r.tail in ids]
    write_documents(tmp_path / "gold.jsonl", gold)
    write_documents(tmp_path / "worse.jsonl", worse)
    assert main(["evaluate", "--gold", str(tmp_path / "gold.jsonl"), "--pred", str(tmp_path / "gold.jsonl"), "--out", str(tmp_path / "a.json"), "--bootstrap", "50"]) == 0
    assert main(["evaluate", "--gold", str(tmp_path / "gold.jsonl"), "--pred", str(tmp_path / "worse.jsonl"), "--out", str(tmp_path / "b.json"), "--markdown", str(tmp_path / "b.md"), "--bootstrap", "50"]) == 0
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["version"] == 1 and set(report) >= {"schema", "labels", "layers", "micro", "macro", "relations", "per_document"}
    assert "| PER |" in (tmp_path / "b.md").read_text()
    result = compare_reports(json.loads((tmp_path / "a.json").read_text()), report, n=200)
    assert result["delta"]["micro"] < 0 and result["p_value"]["micro"] < 0.05
    assert main(["evaluate", "--compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--bootstrap", "100"]) == 0
    assert "micro" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--model", "some/model"], "not both"),
    (["--save-predictions", "p.jsonl"], "--save-predictions applies to --model only"),
    (["--decoding", "argmax", "--link-gold-spans"], "--decoding, --link-gold-spans apply to --model only"),
    (["--backend", "onnx"], "--backend applies to --model only"),
])
def test_evaluate_refuses_options_it_would_drop(tmp_path, capsys, extra, message):
    write_documents(tmp_path / "gold.jsonl", [gold_doc()])
    gold = str(tmp_path / "gold.jsonl")
    assert main(["evaluate", "--gold", gold, "--pred", gold, *extra]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["evaluate", "--gold", "g", "--pred", "p", "--bootstrap", "-5"], ["bench", "--docs", "0"],
                                  ["predict", "x", "--out", "o", "--chunk-size", "0"], ["validate", "x", "--max-problems", "-1"],
                                  ["predict", "x", "--out", "o", "--gpus-per-actor", "nan"]])
def test_counts_below_their_floor_are_refused_naming_the_option(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and f"argument {argv[-2]}: expected a" in capsys.readouterr().err


def test_bench_refuses_a_missing_texts_file_before_timing_anything(tmp_path, capsys):
    assert main(["bench", "--texts", str(tmp_path / "none.jsonl")]) == 2
    assert "--texts" in capsys.readouterr().err


def test_compare_refuses_the_options_of_scoring_one_run(tmp_path, capsys):
    assert main(["evaluate", "--compare", "a.json", "b.json", "--gold", "g.jsonl", "--markdown", "m.md"]) == 2
    assert "--gold, --markdown belong to scoring one" in capsys.readouterr().err
