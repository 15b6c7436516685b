"""PROPOSAL error breakdown on small hand-made documents."""

from persian_ie.data.document import Document, Span
from persian_ie.data.schema import load_schema
from persian_ie.eval.matching import DocPair
from persian_ie.eval.proposal_errors import proposal_errors, proposal_pattern
from persian_ie.eval.report import evaluate_documents, to_terminal

TEXT = "شهردار پیشنهاد خواهرخواندگی مشهد با غزه داد. وی خواستار برگزاری اجلاس شد. طرح ایجاد مرکز را پیشنهاد کرد. او درخواست کرد که بیایند. دعوت از وزیر برای سفر."


def _p(phrase, sid, nth=0):
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(phrase, start + 1)
    return Span(sid, start, start + len(phrase), "PROPOSAL")


def _docs():
    gold = Document("d", TEXT, [
        _p("پیشنهاد خواهرخواندگی مشهد با غزه", "g1"),   # exact
        _p("خواستار برگزاری اجلاس", "g2"),              # end boundary
        _p("طرح ایجاد مرکز را پیشنهاد", "g3"),          # start boundary
        _p("درخواست", "g4"),                              # miss
    ])
    pred = Document("d", TEXT, [
        _p("پیشنهاد خواهرخواندگی مشهد با غزه", "p1"),
        _p("خواستار برگزاری", "p2"),
        _p("پیشنهاد", "p3", 1),
        _p("دعوت از وزیر برای سفر", "p4"),               # spurious
    ])
    return gold, pred


def test_patterns():
    assert proposal_pattern("درخواست") == "trigger_only"
    assert proposal_pattern("طرح ایجاد مرکز را پیشنهاد") == "content_first_ra"
    assert proposal_pattern("خواستار برگزاری اجلاس") == "khastar"
    assert proposal_pattern("دعوت از وزیر برای سفر") == "invitation"
    assert proposal_pattern("پیشنهاد خواهرخواندگی مشهد با غزه") == "trigger_content"


def test_breakdown_counts_each_kind_and_side():
    gold, pred = _docs()
    out = proposal_errors([DocPair(gold, pred)])
    total = out["total"]
    assert (total["gold"], total["exact"], total["boundary"], total["miss"], total["spurious"], total["predicted"]) == (4, 1, 2, 1, 1, 4)
    assert (total["boundary_start"], total["boundary_end"], total["boundary_both"]) == (1, 1, 0)
    by = out["by_pattern"]
    assert by["khastar"]["boundary_end"] == 1 and by["content_first_ra"]["boundary_start"] == 1
    assert by["trigger_only"]["miss"] == 1 and by["invitation"]["spurious"] == 1 and by["trigger_content"]["exact"] == 1
    assert {e["wrong"] for e in out["boundary_examples"]} == {"start", "end"}


def test_in_evaluate_report_and_printed():
    gold, pred = _docs()
    report = evaluate_documents([gold], [pred], load_schema(), bootstrap=0, with_seqeval=False)
    assert report["proposal_errors"]["total"]["miss"] == 1
    assert "PROPOSAL errors" in to_terminal(report)
