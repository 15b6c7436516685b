"""Would copying a document's predicted names to their other mentions help? (issue 10; rejected)

A common NER post-process: a string the model tagged once in a document is
tagged again wherever else it occurs as whole words there (same label, only
where nothing of that layer is predicted). The misses of benchmarks §10 look
like candidates (استقلالی missed four times in one article). This reads a
run's saved predictions, propagates per label set, scores against the gold
file and compares each variant with the unchanged predictions by paired
bootstrap; no model is run::

    python -m persian_ie.bench.label_propagation --pred runs/quickstart/dev_report.predictions.jsonl --gold data/corpus/dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import re

from persian_ie.data.document import Span, read_documents
from persian_ie.data.schema import load_schema
from persian_ie.eval.report import compare_reports, evaluate_documents

VARIANTS = (("PER",), ("ORG",), ("CITY",), ("TITLE",), ("PER", "ORG", "CITY"))
MIN_CHARS = 3  # shorter strings match inside too many unrelated words


def _inside_word(text: str, start: int, end: int) -> bool:
    letter = lambda ch: ch.isalpha() or ch == "\u200c"
    return (start > 0 and letter(text[start - 1])) or (end < len(text) and letter(text[end]))


def propagate(doc, labels: tuple, layer_of: dict) -> int:
    """Add the other whole-word occurrences of ``doc``'s predicted ``labels`` strings; returns how many."""
    strings: dict[str, set] = {}
    for s in doc.spans:
        if s.label in labels and s.end - s.start >= MIN_CHARS:
            strings.setdefault(doc.text[s.start:s.end], set()).add(s.label)
    added = []
    for string, found in strings.items():
        if len(found) != 1:  # tagged with two labels in this document: no evidence which
            continue
        label = next(iter(found))
        for m in re.finditer(re.escape(string), doc.text):
            taken = any(layer_of[o.label] == layer_of[label] and o.start < m.end() and m.start() < o.end for o in doc.spans + added)
            if not taken and not _inside_word(doc.text, m.start(), m.end()):
                added.append(Span(f"copy{len(added)}", m.start(), m.end(), label))
    doc.spans = doc.spans + added
    return len(added)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pred", required=True, help="a run's saved predictions (e.g. dev_report.predictions.jsonl)")
    parser.add_argument("--gold", required=True)
    args = parser.parse_args(argv)
    schema = load_schema("default")
    layer_of = {label: layer for layer, labels in schema.layers.items() for label in labels}
    gold = read_documents(args.gold)
    base = evaluate_documents(gold, read_documents(args.pred, strict=False), schema, bootstrap=0, with_seqeval=False)
    print(json.dumps({"variant": "as predicted", "micro": round(base["micro"]["f1"], 4)}))
    for labels in VARIANTS:
        pred = read_documents(args.pred, strict=False)
        added = sum(propagate(doc, labels, layer_of) for doc in pred)
        report = evaluate_documents(gold, pred, schema, bootstrap=0, with_seqeval=False)
        cmp = compare_reports(base, report)
        row = {"variant": "+".join(labels), "spans added": added, "micro": round(report["micro"]["f1"], 4),
               **{f"delta {k} (p)": f"{cmp['delta'][k]:+.4f} ({cmp['p_value'][k]:.3f})" for k in ("micro", *(f"labels.{label}" for label in labels))}}
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
