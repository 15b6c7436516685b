"""The evaluation report: JSON (versioned, machine-readable), Markdown and a
compact terminal table; and the paired comparison of two reports.

JSON shape (values are fractions in [0, 1], 0 where undefined)::

    {"version": 1, "schema": "...", "documents": n, "warnings": {...},
     "labels": {"PER": {"precision", "recall", "f1", "support", "tp", "fp", "fn", "ci": {"f1": [lo, hi]}}},
     "layers": {...}, "micro": {...}, "macro": {...},
     "relations": {"holder": {...}, ..., "micro": {...}}, "records": {"officials": {...}, "proposals": {...}},
     "matching": {"strict": {...}, "exact": {...}, "partial": {...}, "type": {...}},
     "seqeval": {"micro": {...}, "agrees": true}, "errors": {...},
     "per_document": {"doc id": {"PER": [tp, fp, fn], "rel:holder": [...], ...}}}
"""

from __future__ import annotations

import random

from persian_ie.data.schema import LabelSchema
from persian_ie.eval.analysis import error_analysis
from persian_ie.eval.matching import pair_documents
from persian_ie.eval.proposal_errors import format_proposal_errors, proposal_errors
from persian_ie.eval.metrics import flat_f1s, bootstrap_intervals, document_counts, matching_scores, summary_scores
from persian_ie.eval.seqeval_scores import seqeval_label_scores
from persian_ie.errors import EvaluationError, ReportError

REPORT_VERSION = 1


def evaluate_documents(gold_docs, pred_docs, schema: LabelSchema, bootstrap: int = 1000, seed: int = 12345, max_examples: int = 5, with_seqeval: bool = True) -> dict:
    pairing = pair_documents(gold_docs, pred_docs, schema)
    per_doc = [document_counts(p, schema) for p in pairing.pairs]
    report = {"version": REPORT_VERSION, "schema": schema.name, "schema_definition": schema.to_dict(), "documents": len(pairing.pairs),
              "warnings": dict(pairing.warnings), "warning_examples": pairing.warning_examples}
    report.update(summary_scores(per_doc, schema))
    # Sections the schema cannot express are left out, not reported as zeros:
    # a PEYMA report has no relations or records.
    if not schema.relations:
        del report["relations"]
    if not schema.record_types:
        del report["records"]
    if bootstrap:
        _attach_intervals(report, bootstrap_intervals(per_doc, schema, bootstrap, seed), bootstrap, seed)
    report["matching"] = matching_scores(pairing.pairs, schema)
    if with_seqeval:
        seq = seqeval_label_scores(pairing.pairs, schema)
        report["seqeval"] = {"micro": seq["micro"], "agrees": bool(abs(seq["micro"]["f1"] - report["micro"]["f1"]) < 1e-9)}
    report["errors"] = error_analysis(pairing.pairs, schema, max_examples)
    if "PROPOSAL" in schema.labels:
        report["proposal_errors"] = proposal_errors(pairing.pairs, max_examples)
    report["per_document"] = {p.gold.id: c for p, c in zip(pairing.pairs, per_doc)}
    return report


def _attach_intervals(report: dict, intervals: dict, n: int, seed: int) -> None:
    report["bootstrap"] = {"samples": n, "seed": seed, "level": 0.95}
    for key, ci in intervals.items():
        if key in ("micro", "macro"):
            report[key].setdefault("ci", {})["f1"] = ci
            continue
        section, name = key.split(".", 1)
        if name in report.get(section, {}):
            report[section][name].setdefault("ci", {})["f1"] = ci


def compare_reports(a: dict, b: dict, n: int = 1000, seed: int = 12345) -> dict:
    """Per-label F1 deltas (b - a) and paired-bootstrap p-values over documents.

    The p-value is the share of resamples in which b's advantage does not
    hold (delta <= 0 when the observed delta is positive, >= 0 otherwise).
    """
    if a.get("schema") != b.get("schema"):
        raise EvaluationError(f"cannot compare reports of different schemas: {a.get('schema')!r} vs {b.get('schema')!r}")
    docs_a, docs_b = a.get("per_document", {}), b.get("per_document", {})
    if set(docs_a) != set(docs_b):
        raise EvaluationError(f"reports cover different documents ({len(set(docs_a) ^ set(docs_b))} differ); compare runs on the same gold file")
    schema = _schema_from_report(a)
    ids = sorted(docs_a)
    _check_counts(docs_a, "A")
    _check_counts(docs_b, "B")
    flat_a = flat_f1s(summary_scores([docs_a[i] for i in ids], schema))
    flat_b = flat_f1s(summary_scores([docs_b[i] for i in ids], schema))
    observed = {k: flat_b[k] - flat_a[k] for k in flat_a}
    worse = {k: 0 for k in observed}
    rng = random.Random(seed)
    for _ in range(n):
        sample = [ids[rng.randrange(len(ids))] for _ in ids]
        fa = flat_f1s(summary_scores([docs_a[i] for i in sample], schema))
        fb = flat_f1s(summary_scores([docs_b[i] for i in sample], schema))
        for k, delta in observed.items():
            d = fb[k] - fa[k]
            if (delta > 0 and d <= 0) or (delta < 0 and d >= 0) or delta == 0:
                worse[k] += 1
    return {"a": flat_a, "b": flat_b, "delta": observed, "p_value": {k: worse[k] / n for k in observed}, "samples": n, "seed": seed}


def _check_counts(per_doc: dict, which: str) -> None:
    for doc_id, counts in per_doc.items():
        for key, value in counts.items():
            if not (isinstance(value, list) and len(value) == 3 and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value)):
                raise ReportError(f"report {which}: per_document[{doc_id!r}][{key!r}] must be [tp, fp, fn] counts, got {str(value)[:40]}")


def load_report(path: str) -> dict:
    """A JSON report written by ``evaluate --out``, checked before ``--compare`` uses it."""
    import json
    from pathlib import Path

    try:
        report = json.loads(Path(path).read_text("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ReportError(f"{path}: not a JSON report ({type(exc).__name__}: {str(exc)[:80]}); pass files written by evaluate --out") from None
    if not isinstance(report, dict):
        raise ReportError(f"{path}: a report must be a JSON object, got {type(report).__name__}")
    docs = report.get("per_document")
    if not isinstance(docs, dict) or not all(isinstance(c, dict) for c in docs.values()):
        raise ReportError(f"{path}: field 'per_document' missing or not an object of per-document counts; re-run evaluate --out")
    if not docs:
        raise ReportError(f"{path}: field 'per_document' is empty; nothing to compare")
    if not isinstance(report.get("schema_definition"), dict):
        raise ReportError(f"{path}: field 'schema_definition' missing; re-run evaluate --out to produce it")
    return report


def _schema_from_report(report: dict) -> LabelSchema:
    if "schema_definition" not in report:
        raise EvaluationError("report has no 'schema_definition'; re-run persian-ie evaluate to produce it")
    return LabelSchema.from_dict(report["schema_definition"], origin="report")


def _row(name, s) -> str:
    ci = s.get("ci", {}).get("f1")
    ci_txt = f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    support = s.get("support", "")
    return f"{name:<14} {s['precision']:>9.3f} {s['recall']:>9.3f} {s['f1']:>9.3f} {str(support):>8} {ci_txt}"


def to_terminal(report: dict) -> str:
    lines = [f"{'':<14} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8} 95% CI (f1)"]
    lines += [_row(k, v) for k, v in report["labels"].items()]
    lines.append("-" * 70)
    lines += [_row(f"[{k}]", v) for k, v in report["layers"].items()]
    lines += [_row("micro", report["micro"]), _row("macro", report["macro"])]
    if report.get("relations"):
        lines.append("-" * 70)
        lines += [_row(f"rel:{k}", v) for k, v in report["relations"].items()]
        lines += [_row(f"rec:{k}", v) for k, v in report.get("records", {}).items()]
    if report.get("proposal_errors"):
        lines += ["-" * 70, format_proposal_errors(report["proposal_errors"])]
    if report.get("warnings"):
        lines.append("warnings: " + ", ".join(f"{k}={v}" for k, v in report["warnings"].items()))
        lines += [f"  {k}, e.g. {v}" for k, v in report.get("warning_examples", {}).items()]
    return "\n".join(lines)


def to_markdown(report: dict) -> str:
    def table(title, rows):
        out = [f"### {title}", "", "| | precision | recall | F1 | 95% CI (F1) | support |", "|---|---|---|---|---|---|"]
        for name, s in rows:
            ci = s.get("ci", {}).get("f1")
            out.append(f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {f'{ci[0]:.3f}–{ci[1]:.3f}' if ci else ''} | {s.get('support', '')} |")
        return "\n".join(out) + "\n"

    parts = [f"## Evaluation report (schema `{report['schema']}`, {report['documents']} documents)\n"]
    parts.append(table("Spans (strict)", list(report["labels"].items()) + [(f"layer {k}", v) for k, v in report["layers"].items()] + [("micro", report["micro"]), ("macro", report["macro"])]))
    if report.get("relations"):
        parts.append(table("Relations and records", [(f"relation {k}", v) for k, v in report["relations"].items()] + [(f"record {k}", v) for k, v in report.get("records", {}).items()]))
    m = report.get("matching", {})
    if m:
        parts.append("### Matching schemes (micro)\n\n| scheme | precision | recall | F1 |\n|---|---|---|---|\n" + "\n".join(f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} |" for k, v in m.items()) + "\n")
    errs = report.get("errors", {})
    if errs:
        parts.append("### Errors\n\n" + ", ".join(f"{k}: {v}" for k, v in sorted(errs["counts"].items())) + "\n")
        for kind, exs in errs.get("examples", {}).items():
            parts.append(f"**{kind}**\n\n" + "\n".join(f"- `{e['doc']}` gold={e.get('gold')} pred={e.get('pred')}: …{e['context']}…" for e in exs) + "\n")
    if report.get("warnings"):
        parts.append("### Warnings\n\n" + "\n".join(f"- {k}: {v}" for k, v in report["warnings"].items()) + "\n")
    return "\n".join(parts)
