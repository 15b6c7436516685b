"""The evaluation report as one self-contained right-to-left HTML page.

Every figure on the page is read from the JSON report (``report.py``), never
recomputed, and carries its source: ``data-metric`` is the JSON path of the
value (a JSON array of keys) and ``data-value`` its exact value, so a test
can check that the page and the JSON agree. Plots are inline SVG (no
scripts, fonts or network): per-label F1 with its bootstrap interval, error
counts by kind, and the label confusion as a shaded table. The worst
documents link to their rendering, drawn below by the viewer
(``persian_ie.data.display``) with the differences from gold marked.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from persian_ie.data.display import KIND_NAMES, LABEL_NAMES, RELATION_NAMES, doc_href, documents_html, legend_html, page_html
from persian_ie.data.document import DocRecord, Document
from persian_ie.data.schema import LabelSchema

# Plot geometry (px). Right to left: names on the right, the axis runs from
# 0 at the right to 1 at the left, as a Persian reader scans the row.
NAME_W, PLOT_W, VALUE_W, ROW_H, TOP = 150, 420, 70, 26, 24
KIND_ORDER = ("miss", "spurious", "boundary", "type", "boundary+type")


def write_html_report(path: str | Path, report: dict, gold_docs: list[Document] | None = None,
                      pred_docs: list[Document] | None = None, schema: LabelSchema | None = None) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(report_html(report, gold_docs, pred_docs, schema), encoding="utf-8")


def report_html(report: dict, gold_docs: list[Document] | None = None, pred_docs: list[Document] | None = None,
                schema: LabelSchema | None = None) -> str:
    """The page; ``gold_docs`` and ``pred_docs`` (optional) draw the worst documents."""
    schema = schema or LabelSchema.from_dict(report["schema_definition"], origin="report")
    parts = [_summary(report), _section("F1 هر برچسب، با بازهٔ اطمینان 95٪", _f1_chart(report, _span_rows(report)))]
    parts.append(_section("دقت، بازیابی و F1 (جدول)", _score_table(report, _span_rows(report) + _relation_rows(report))))
    if report.get("relations"):
        parts.append(_section("روابط و رکوردها", _f1_chart(report, _relation_rows(report))))
    errors = report.get("errors") or {}
    if errors:
        parts.append(_section("خطاها بر حسب نوع", _error_chart(errors)))
        parts.append(_section("درهم‌ریختگی برچسب‌ها (مرجع ← پیش‌بینی)", _confusion(errors, schema)))
    if report.get("matching"):
        parts.append(_section("طرح‌های تطبیق (micro)", _matching_table(report["matching"])))
    worst_html, documents = _worst_documents(errors, gold_docs, pred_docs, schema)
    if documents:
        worst_html += legend_html(schema, with_gold=True) + documents
    parts.append(_section("بدترین سندها", worst_html))
    title = f"گزارش ارزیابی persian-ie ({report['schema']})"
    heading = f"گزارش ارزیابی <bdi>persian-ie</bdi> (<bdi>{_e(report['schema'])}</bdi>)"
    return page_html(title, f'<div class="pie-report"><h1>{heading}</h1>{"".join(parts)}</div>', _CSS)


# ------------------------------------------------------------------ parts


def _summary(report: dict) -> str:
    micro, macro = report["micro"], report["macro"]
    boot = report.get("bootstrap")
    lines = [f"<li>{report['documents']} سند · طرح برچسب <bdi>{_e(report['schema'])}</bdi></li>",
             f"<li>F1 خرد (micro): {_num(micro['f1'], ['micro', 'f1'])}{_ci_text(micro, ['micro'])}</li>",
             f"<li>F1 کلان (macro): {_num(macro['f1'], ['macro', 'f1'])}{_ci_text(macro, ['macro'])}</li>"]
    if boot:
        lines.append(f"<li>بازه‌ها: بوت‌استرپ روی سندها، {boot['samples']} نمونه، بذر {boot['seed']}</li>")
    if report.get("warnings"):
        lines.append("<li>هشدارها: " + "، ".join(f"<bdi>{_e(k)}</bdi>: {_num(v, ['warnings', k], '{}')}" for k, v in report["warnings"].items()) + "</li>")
    return f'<ul class="pie-summary">{"".join(lines)}</ul>'


def _span_rows(report: dict) -> list[tuple[str, list]]:
    rows = [(_label_name(k), ["labels", k]) for k in report["labels"]]
    rows += [(f"لایهٔ {k}", ["layers", k]) for k in report["layers"]]
    return rows + [("micro", ["micro"]), ("macro", ["macro"])]


def _relation_rows(report: dict) -> list[tuple[str, list]]:
    rows = [(RELATION_NAMES.get(k, k) + f" ({k})" if k != "micro" else "روابط micro", ["relations", k]) for k in report.get("relations", {})]
    return rows + [(f"رکورد {k}", ["records", k]) for k in report.get("records", {})]


def _f1_chart(report: dict, rows: list[tuple[str, list]]) -> str:
    height = TOP + ROW_H * len(rows) + 6
    width = NAME_W + PLOT_W + VALUE_W
    out = [f'<svg class="pie-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    for tick in (0, 0.2, 0.4, 0.6, 0.8, 1.0):
        x = _x(tick)
        out.append(f'<line x1="{x}" y1="{TOP - 4}" x2="{x}" y2="{height - 4}" class="grid"/>'
                   f'<text x="{x}" y="{TOP - 8}" class="tick">{tick:.1f}</text>')
    for i, (name, path) in enumerate(rows):
        scores = _get(report, path)
        y = TOP + i * ROW_H + ROW_H / 2
        f1 = scores["f1"]
        ci = (scores.get("ci") or {}).get("f1")
        tip = f"{name}: F1 {f1:.3f}" + (f"، بازه {ci[0]:.3f}–{ci[1]:.3f}" if ci else "") + f"، دقت {scores['precision']:.3f}، بازیابی {scores['recall']:.3f}"
        out.append(f'<g><title>{_e(tip)}</title>'
                   f'<text x="{width - 4}" y="{y + 5}" class="name">{_e(name)}</text>'
                   f'<rect x="{_x(f1)}" y="{y - 7}" width="{_x(0) - _x(f1):.1f}" height="14" class="bar"/>')
        if ci:
            out.append(f'<line x1="{_x(ci[0])}" y1="{y}" x2="{_x(ci[1])}" y2="{y}" class="ci" {_attrs(path + ["ci", "f1"], ci)}/>'
                       f'<line x1="{_x(ci[0])}" y1="{y - 5}" x2="{_x(ci[0])}" y2="{y + 5}" class="ci"/>'
                       f'<line x1="{_x(ci[1])}" y1="{y - 5}" x2="{_x(ci[1])}" y2="{y + 5}" class="ci"/>')
        out.append(f'<circle cx="{_x(f1)}" cy="{y}" r="4" class="dot"/>'
                   f'<text x="{VALUE_W - 8}" y="{y + 5}" class="value" {_attrs(path + ["f1"], f1)}>{f1:.3f}</text></g>')
    return "".join(out) + "</svg>"


def _score_table(report: dict, rows: list[tuple[str, list]]) -> str:
    head = "<tr><th></th><th>دقت</th><th>بازیابی</th><th>F1</th><th>بازهٔ 95٪ F1</th><th>پشتیبان</th></tr>"
    body = []
    for name, path in rows:
        s = _get(report, path)
        cells = [_num(s[m], path + [m]) for m in ("precision", "recall", "f1")]
        ci = (s.get("ci") or {}).get("f1")
        cells.append(f'<bdi {_attrs(path + ["ci", "f1"], ci)}>{ci[0]:.3f}–{ci[1]:.3f}</bdi>' if ci else "")
        cells.append(_num(s["support"], path + ["support"], "{}") if "support" in s else "")
        body.append(f"<tr><th>{_e(name)}</th>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table class="pie-table">{head}{"".join(body)}</table>'


def _error_chart(errors: dict) -> str:
    counts = errors.get("counts", {})
    kinds = [k for k in KIND_ORDER if k in counts] + sorted(k for k in counts if k not in KIND_ORDER)
    if not kinds:
        return "<p>خطایی نیست.</p>"
    top = max(counts.values()) or 1
    width = NAME_W + PLOT_W + VALUE_W
    height = ROW_H * len(kinds) + 8
    out = [f'<svg class="pie-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    for i, kind in enumerate(kinds):
        n = counts[kind]
        y = 4 + i * ROW_H + ROW_H / 2
        x = _x(n / top)
        out.append(f'<g><title>{_e(KIND_NAMES.get(kind, kind))}: {n}</title>'
                   f'<text x="{width - 4}" y="{y + 5}" class="name">{_e(KIND_NAMES.get(kind, kind).split(" (")[0])}</text>'
                   f'<rect x="{x}" y="{y - 8}" width="{_x(0) - x:.1f}" height="16" class="bar err"/>'
                   f'<text x="{VALUE_W - 8}" y="{y + 5}" class="value" {_attrs(["errors", "counts", kind], n)}>{n}</text></g>')
    return "".join(out) + "</svg>"


def _confusion(errors: dict, schema: LabelSchema) -> str:
    confusion = errors.get("confusion", {})
    if not confusion:
        return "<p>هیچ برچسبی با برچسب دیگری اشتباه نشده است.</p>"
    golds = [l for l in schema.labels if l in confusion]
    preds = [l for l in schema.labels if any(l in row for row in confusion.values())]
    top = max(n for row in confusion.values() for n in row.values()) or 1
    head = "<tr><th>مرجع ↓ / پیش‌بینی ←</th>" + "".join(f"<th>{_e(_label_name(p))}</th>" for p in preds) + "</tr>"
    rows = []
    for g in golds:
        cells = []
        for p in preds:
            n = confusion[g].get(p)
            shade = f' style="background: rgba(204, 51, 17, {0.12 + 0.6 * n / top:.2f})"' if n else ""
            cells.append(f'<td{shade}>{_num(n, ["errors", "confusion", g, p], "{}") if n else ""}</td>')
        rows.append(f"<tr><th>{_e(_label_name(g))}</th>{''.join(cells)}</tr>")
    return f'<table class="pie-table pie-confusion">{head}{"".join(rows)}</table>'


def _matching_table(matching: dict) -> str:
    head = "<tr><th>طرح</th><th>دقت</th><th>بازیابی</th><th>F1</th></tr>"
    rows = "".join(f"<tr><th><bdi>{_e(k)}</bdi></th>" + "".join(f"<td>{_num(v[m], ['matching', k, m])}</td>" for m in ("precision", "recall", "f1")) + "</tr>"
                   for k, v in matching.items())
    return f'<table class="pie-table">{head}{rows}</table>'


def _worst_documents(errors: dict, gold_docs, pred_docs, schema: LabelSchema) -> tuple[str, str]:
    """The list (linking to each rendering when the documents are given) and the renderings."""
    worst = errors.get("worst_documents", [])
    if not worst:
        return "<p>سندی با خطا نیست.</p>", ""
    gold = {d.id: d for d in gold_docs or []}
    pred = {d.id: d for d in pred_docs or []}
    drawable = [w["doc"] for w in worst if w["doc"] in gold]
    items = []
    for i, w in enumerate(worst):
        name = f"<bdi>{_e(w['doc'])}</bdi>"
        link = f'<a href="{doc_href(w["doc"])}">{name}</a>' if w["doc"] in drawable else name
        items.append(f"<li>{link}: {_num(w['errors'], ['errors', 'worst_documents', i, 'errors'], '{}')} خطا</li>")
    records = [DocRecord("<predictions>", n, pred.get(d) or Document(d, gold[d].text)) for n, d in enumerate(drawable, 1)]
    golds = {d: DocRecord("<gold>", n, gold[d]) for n, d in enumerate(drawable, 1)}
    documents, _, _ = documents_html(records, golds, schema)
    return f'<ol class="pie-worst">{"".join(items)}</ol>', documents


# ---------------------------------------------------------------- helpers


def _section(title: str, body: str) -> str:
    return f"<section class=\"pie-report-part\"><h2>{title}</h2>{body}</section>"


def _x(value: float) -> float:
    """Mirrored axis: 0 at the right end of the plot, 1 at the left."""
    return round(VALUE_W + PLOT_W * (1 - max(0.0, min(1.0, value))), 1)


def _get(report: dict, path: list):
    value = report
    for key in path:
        value = value[key]
    return value


def _attrs(path: list, value) -> str:
    return f"data-metric='{_e(json.dumps(path, ensure_ascii=False))}' data-value='{_e(json.dumps(value))}'"


def _num(value, path: list, fmt: str = "{:.3f}") -> str:
    return f"<span {_attrs(path, value)}>{fmt.format(value)}</span>"


def _ci_text(scores: dict, path: list) -> str:
    ci = (scores.get("ci") or {}).get("f1")
    return f' (بازهٔ 95٪: <bdi {_attrs(path + ["ci", "f1"], ci)}>{ci[0]:.3f}–{ci[1]:.3f}</bdi>)' if ci else ""


def _label_name(label: str) -> str:
    name = LABEL_NAMES.get(label)
    return f"{name} ({label})" if name else label


def _e(value) -> str:
    return html.escape(str(value), quote=True)


_CSS = """
.pie-report h2 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
.pie-summary { padding-inline-start: 1.2rem; line-height: 1.9; }
.pie-chart { display: block; max-width: 100%; height: auto; font-family: inherit; direction: ltr; }
.pie-chart .grid { stroke: #e3e3e3; }
.pie-chart .tick { font-size: 11px; fill: #666; text-anchor: middle; }
.pie-chart .name { font-size: 13px; direction: rtl; text-anchor: start; } /* rtl start: right-aligned at x */
.pie-chart .value { font-size: 13px; text-anchor: end; font-variant-numeric: tabular-nums; }
.pie-chart .bar { fill: #9ecae1; }
.pie-chart .bar.err { fill: #f4a582; }
.pie-chart .ci { stroke: #08306b; stroke-width: 1.6; }
.pie-chart .dot { fill: #08306b; }
.pie-table { border-collapse: collapse; font-size: .9rem; }
.pie-table th, .pie-table td { border: 1px solid #ccc; padding: .2rem .55rem; text-align: center; font-variant-numeric: tabular-nums; }
.pie-table th { background: #f5f5f5; font-weight: normal; }
.pie-worst { line-height: 1.9; }
"""

__all__ = ["report_html", "write_html_report"]
