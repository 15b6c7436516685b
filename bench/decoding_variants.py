"""Event-layer decodings compared on one forward pass (issue 10 item 3).

    python -m persian_ie.bench.decoding_variants --model DIR --gold data/corpus/dev.jsonl --out runs/decoding-dev
        [--layer event] [--strategies argmax constrained lenient inside] [--bootstrap 500]

The model's per-word probabilities are computed once; then ``--layer`` is
decoded with each strategy (the other layers keep the model's own decoding)
and scored. Writes ``OUT/STRATEGY.json`` reports (compare two with
``persian-ie evaluate --compare``) and ``OUT/STRATEGY.predictions.jsonl``;
prints PROPOSAL F1, micro-F1, relation micro-F1 and the PROPOSAL error counts.

Besides the model's own strategies (``argmax``, ``constrained``), two
boundary-minded readings live here only, because on dev they lost
(docs/benchmarks.md section 10): ``lenient`` (argmax; an orphan ``I-X``
starts a span instead of being dropped) and ``inside`` (a word is in an X
span when ``P(B-X) + P(I-X)`` beats ``P(O)`` and every other label; ``B-X``
vs ``I-X`` decides only where a new span starts).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from persian_ie.models.decoding import Decoder

STRATEGIES = ("argmax", "constrained", "lenient", "inside")


def lenient_ids(tags: list[str], ids: list[int]) -> list[int]:
    """Argmax ids where an ``I-X`` not after ``B-X``/``I-X`` becomes ``B-X`` (it starts a span)."""
    index = {t: i for i, t in enumerate(tags)}
    out = list(ids)
    for k, i in enumerate(out):
        label = tags[i][2:]
        previous = tags[out[k - 1]][2:] if k else ""
        if tags[i].startswith("I-") and previous != label:
            out[k] = index[f"B-{label}"]
    return out


def inside_ids(tags: list[str], probs: np.ndarray) -> list[int]:
    """Label by ``P(B-X) + P(I-X)`` against ``P(O)``; ``B-X`` only at a span start or where it beats ``I-X``."""
    index = {t: i for i, t in enumerate(tags)}
    labels = [t[2:] for t in tags if t.startswith("B-")]
    out, previous = [], None
    for row in probs:
        mass = {x: row[index[f"B-{x}"]] + row[index[f"I-{x}"]] for x in labels}
        best = max(labels, key=mass.get) if labels else None
        if best is None or row[index["O"]] >= mass[best]:
            out.append(index["O"])
            previous = None
            continue
        starts = previous != best or row[index[f"B-{best}"]] > row[index[f"I-{best}"]]
        out.append(index[f"{'B' if starts else 'I'}-{best}"])
        previous = best
    return out


class BenchDecoder(Decoder):
    """The model's ``Decoder`` plus the two readings tried here."""

    def __init__(self, tags: list[str], strategy: str):
        super().__init__(tags, strategy if strategy in ("argmax", "constrained") else "argmax")
        self.strategy = strategy

    def decode(self, probs: np.ndarray) -> tuple[list[str], list[float]]:
        if self.strategy not in ("lenient", "inside") or probs.shape[0] == 0:
            return super().decode(probs)
        ids = lenient_ids(self.tags, probs.argmax(axis=1).tolist()) if self.strategy == "lenient" else inside_ids(self.tags, probs)
        return [self.tags[i] for i in ids], probs[np.arange(len(ids)), ids].tolist()


def decode_variants(model: str, gold: str, out: str, layer: str, strategies: list[str], bootstrap: int) -> dict:
    from persian_ie.data.document import read_documents, write_documents
    from persian_ie.eval.report import evaluate_documents
    from persian_ie.models.predictor import Predictor

    predictor = Predictor.from_pretrained(model)
    docs = read_documents(gold)
    prepared = [predictor.prepare(d) for d in docs]
    probs = predictor.forward(prepared)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for strategy in strategies:
        predictor.decoders[layer] = BenchDecoder(predictor.schema.tags(layer), strategy)
        predictions = [predictor.postprocess(p, wp) for p, wp in zip(prepared, probs)]
        write_documents(out_dir / f"{strategy}.predictions.jsonl", predictions)
        report = evaluate_documents(docs, predictions, predictor.schema, bootstrap=bootstrap)
        (out_dir / f"{strategy}.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        results[strategy] = report
    return results


def summary_line(strategy: str, report: dict) -> str:
    proposal = report["labels"].get("PROPOSAL", {})
    errors = report.get("proposal_errors", {}).get("total", {})
    relations = report.get("relations", {}).get("micro", {})
    counts = " ".join(f"{k}={errors.get(k, 0)}" for k in ("exact", "boundary", "boundary_start", "boundary_end", "boundary_both", "miss", "spurious"))
    return (f"{strategy:<12} PROPOSAL P/R/F1 {proposal.get('precision', 0):.3f}/{proposal.get('recall', 0):.3f}/{proposal.get('f1', 0):.3f}"
            f"  micro {report['micro']['f1']:.3f}  relations {relations.get('f1', 0):.3f}  {counts}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--gold", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--layer", default="event")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--bootstrap", type=int, default=500)
    args = parser.parse_args(argv)
    for strategy, report in decode_variants(args.model, args.gold, args.out, args.layer, args.strategies, args.bootstrap).items():
        print(summary_line(strategy, report))


if __name__ == "__main__":
    main()
