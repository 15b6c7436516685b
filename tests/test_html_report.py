"""``evaluate --html``: every figure on the page equals the JSON report's."""

from __future__ import annotations

import json
import random
import re
from urllib.parse import unquote

from persian_ie.cli import main
from persian_ie.data.document import Span, read_documents, write_documents

from conftest import CORPUS
from test_display import doc_sections, parse


def perturbed(docs, seed=7):
    """Predictions with every kind of error: dropped, relabelled and shortened spans."""
    rng = random.Random(seed)
    out = []
    for doc in docs:
        spans = []
        for span in doc.spans:
            r = rng.random()
            if r < 0.1:
                continue
            if r < 0.16:
                span.label = {"CITY": "ORG", "ORG": "CITY", "PER": "ORG"}.get(span.label, span.label)
            elif r < 0.2 and " " in doc.text[span.start:span.end]:
                span.end = span.start + doc.text[span.start:span.end].rindex(" ")
            spans.append(span)
        kept = {s.id for s in spans}
        spans += [Span("x1", *free_word(doc.text, spans), "PER")]  # a spurious span
        doc.spans = spans
        doc.relations = [r for r in doc.relations if r.head in kept and r.tail in kept]
        out.append(doc)
    return out


def free_word(text, spans):
    """Offsets of the first letters-only word that no span touches."""
    for match in re.finditer(r"\w{3,}", text):
        if match.group().isalpha() and not any(s.start < match.end() and match.start() < s.end for s in spans):
            return match.start(), match.end()
    raise AssertionError("no free word")


def resolve(report, path):
    for key in path:
        report = report[key]
    return report


def test_html_figures_equal_the_json_report(tmp_path, capsys):
    gold = CORPUS / "test.jsonl"
    pred = tmp_path / "pred.jsonl"
    write_documents(pred, perturbed(read_documents(gold)))
    out_json, out_html = tmp_path / "report.json", tmp_path / "report.html"
    assert main(["evaluate", "--gold", str(gold), "--pred", str(pred), "--bootstrap", "50",
                 "--out", str(out_json), "--html", str(out_html)]) == 0
    capsys.readouterr()
    report = json.loads(out_json.read_text("utf-8"))
    root = parse(out_html.read_text("utf-8"))
    figures = [n for n in root.iter() if "data-metric" in n.attrs]
    shown = set()
    for node in figures:
        path = json.loads(node.attrs["data-metric"])
        value = json.loads(node.attrs["data-value"])
        assert value == resolve(report, path), path
        text = node.text().strip()
        if isinstance(value, float):
            assert text == f"{value:.3f}", (path, text)
        elif isinstance(value, int):
            assert text == str(value), (path, text)
        shown.add(tuple(path))
    for label in report["labels"]:
        assert ("labels", label, "f1") in shown and ("labels", label, "ci", "f1") in shown
    for kind in report["errors"]["counts"]:
        assert ("errors", "counts", kind) in shown
    assert {"miss", "spurious", "type", "boundary"} <= set(report["errors"]["counts"])
    for g, row in report["errors"]["confusion"].items():
        for p in row:
            assert ("errors", "confusion", g, p) in shown
    # the worst documents link to their rendering on the same page
    anchors = {s.attrs["id"] for s in doc_sections(root)}
    links = [unquote(n.attrs["href"][1:]) for n in root.iter() if n.tag == "a" and n.parent.tag == "li"]
    worst = [w["doc"] for w in report["errors"]["worst_documents"]]
    assert links == [f"d-{d}" for d in worst] and set(links) <= anchors


def test_viewer_marks_the_errors_the_report_counts(tmp_path, capsys):
    gold = CORPUS / "test.jsonl"
    pred = tmp_path / "pred.jsonl"
    write_documents(pred, perturbed(read_documents(gold)))
    out_json, page = tmp_path / "report.json", tmp_path / "page.html"
    assert main(["evaluate", "--gold", str(gold), "--pred", str(pred), "--bootstrap", "0", "--out", str(out_json)]) == 0
    # 1: the perturbation breaks a few relation labels, which show reports; the page is written all the same
    assert main(["show", str(pred), "--gold", str(gold), "--out", str(page)]) in (0, 1)
    capsys.readouterr()
    counts = json.loads(out_json.read_text("utf-8"))["errors"]["counts"]
    marked = {"spurious": 0, "miss": 0}
    for section in doc_sections(parse(page.read_text("utf-8"))):
        for kind in marked:
            marked[kind] += len({n.attrs["data-s"] for n in section.iter() if f"k-{kind}" in n.classes()})
    assert marked == {"spurious": counts["spurious"], "miss": counts["miss"]}
    assert marked["spurious"] > 0 and marked["miss"] > 0
