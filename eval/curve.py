"""Learning-curve table: one row per share of train, read from test reports (issue 10 item 4).

``bench/learning_curve.py`` trains the shares; this only formats their
``test_report.json`` figures: strict micro-F1, PROPOSAL F1 and end-to-end
relation micro-F1, each with its bootstrap 95 % CI where the report has one.
"""

from __future__ import annotations


def _cell(score: dict | None) -> str:
    if not score:
        return "n/a"
    ci = score.get("ci", {}).get("f1")
    return f"{score['f1']:.3f} ({ci[0]:.3f}–{ci[1]:.3f})" if ci else f"{score['f1']:.3f}"


def curve_row(fraction: float, documents: int, report: dict) -> str:
    proposal = report.get("labels", {}).get("PROPOSAL")
    relations = report.get("relations", {}).get("micro")
    return f"| {round(fraction * 100)} % | {documents} | {_cell(report['micro'])} | {_cell(proposal)} | {_cell(relations)} |"


def curve_table(points: list[tuple[float, int, dict]]) -> str:
    head = ["| share of train | train documents | test micro-F1 (95 % CI) | PROPOSAL F1 | relations micro-F1 |", "|---|---|---|---|---|"]
    return "\n".join(head + [curve_row(f, n, r) for f, n, r in points])
