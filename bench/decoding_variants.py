"""Event-layer decodings compared on one forward pass (issue 10 item 3).

    python -m persian_ie.bench.decoding_variants --model DIR --gold data/corpus/dev.jsonl --out runs/decoding-dev
        [--layer event] [--strategies argmax constrained lenient inside] [--bootstrap 500]

The model's per-word probabilities are computed once; then ``--layer`` is
decoded with each strategy (the other layers keep the model's own decoding)
and scored. Writes ``OUT/STRATEGY.json`` reports (compare two with
``persian-ie evaluate --compare``) and ``OUT/STRATEGY.predictions.jsonl``;
prints PROPOSAL F1, micro-F1, relation micro-F1 and the PROPOSAL error counts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from persian_ie.models.decoding import STRATEGIES


def decode_variants(model: str, gold: str, out: str, layer: str, strategies: list[str], bootstrap: int) -> dict:
    from persian_ie.data.document import read_documents, write_documents
    from persian_ie.eval.report import evaluate_documents
    from persian_ie.models.decoding import Decoder
    from persian_ie.models.predictor import Predictor

    predictor = Predictor.from_pretrained(model)
    docs = read_documents(gold)
    prepared = [predictor.prepare(d) for d in docs]
    probs = predictor.forward(prepared)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for strategy in strategies:
        predictor.decoders[layer] = Decoder(predictor.schema.tags(layer), strategy)
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
