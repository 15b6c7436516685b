"""Inter-annotator agreement between two independent passes.

    python -m persian_ie.eval.agreement data/annotation/pass_a data/annotation/pass_b [--json OUT]

Scores pass B against pass A on the documents both annotated, with the
evaluation harness (strict span-level F1 is symmetric, so which pass is
"gold" does not matter for F1), per label, per layer and overall, plus
relations; and lists the most frequent disagreement patterns.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from persian_ie.data.annotation_tools import check_ann_file
from persian_ie.data.schema import load_schema
from persian_ie.data.snippets import in_context


def load_pass(folder: Path, schema, texts: Path, ids=None) -> dict:
    docs = {}
    for path in sorted(folder.glob("*.ann")):
        if ids is not None and path.stem not in ids:
            continue
        result = check_ann_file(path, schema, texts)
        if not result.ok:
            raise SystemExit(f"{path} does not pass the check: {result.errors[:2]}")
        docs[path.stem] = result.doc
    return docs


def agreement(pass_a: Path, pass_b: Path, texts: Path) -> dict:
    from persian_ie.eval.report import evaluate_documents

    schema = load_schema("default")
    b = load_pass(pass_b, schema, texts)
    a = load_pass(pass_a, schema, texts, set(b))
    common = sorted(set(a) & set(b))
    report = evaluate_documents([a[i] for i in common], [b[i] for i in common], schema, bootstrap=1000, max_examples=8)
    return {"documents": len(common), "labels": report["labels"], "layers": report["layers"], "micro": report["micro"],
            "macro": report["macro"], "relations": report.get("relations", {}), "matching": report["matching"],
            "disagreements": report["errors"]}


def print_diff(pass_a: Path, pass_b: Path, texts: Path) -> None:
    """Per document, the spans and relations only one pass has, in context."""
    schema = load_schema("default")
    b = load_pass(pass_b, schema, texts)
    a = load_pass(pass_a, schema, texts, set(b))
    for doc_id in sorted(set(a) & set(b)):
        da, db = a[doc_id], b[doc_id]
        text = da.text
        ka = {(s.label, s.start, s.end) for s in da.spans}
        kb = {(s.label, s.start, s.end) for s in db.spans}
        ra = _relation_strings(da)
        rb = _relation_strings(db)
        if ka == kb and ra == rb:
            continue
        print(f"== {doc_id}")
        for who, only in (("A only", ka - kb), ("B only", kb - ka)):
            for label, start, end in sorted(only, key=lambda x: x[1]):
                ctx = in_context(text, start, end, width=25)
                print(f"  {who}: {label:<8} [{start},{end}) {text[start:end]!r}  …{ctx}…")
        for who, only in (("A only", ra - rb), ("B only", rb - ra)):
            for rel in sorted(only):
                print(f"  {who}: relation {rel}")


def _relation_strings(doc) -> set:
    spans = doc.span_by_id()
    text = doc.text
    return {f"{r.type} {spans[r.head].label}:{text[spans[r.head].start:spans[r.head].end]!r} -> {spans[r.tail].label}:{text[spans[r.tail].start:spans[r.tail].end]!r}"
            for r in doc.relations}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("pass_a")
    parser.add_argument("pass_b")
    parser.add_argument("--texts", default="data/annotation/texts")
    parser.add_argument("--json")
    parser.add_argument("--diff", action="store_true", help="print every disagreement in context")
    args = parser.parse_args(argv)
    if args.diff:
        print_diff(Path(args.pass_a), Path(args.pass_b), Path(args.texts))
        return 0
    result = agreement(Path(args.pass_a), Path(args.pass_b), Path(args.texts))
    print(f"documents annotated twice: {result['documents']}")
    for name, s in list(result["labels"].items()) + [("micro", result["micro"])] + [(f"rel:{k}", v) for k, v in result["relations"].items()]:
        ci = s.get("ci", {}).get("f1")
        print(f"{name:<12} F1 {s['f1']:.3f}" + (f"  [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "") + f"  (A {s['tp'] + s['fn']}, B {s['tp'] + s['fp']}, both {s['tp']})")
    print("disagreements:", result["disagreements"]["counts"])
    if args.json:
        # The figure travels with the command that reproduces it.
        argv_used = sys.argv[1:] if argv is None else list(argv)
        result = {"command": "python -m persian_ie.eval.agreement " + " ".join(argv_used), **result}
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
