"""Learning curve: the quickstart config on nested shares of the training set.

    python -m persian_ie.bench.learning_curve [--config configs/quickstart.yaml] [--fractions 0.25 0.5 0.75]
        [--runs runs/curve] [--full /work/main/runs/quickstart] [--table-only]

Each share trains ``CONFIG --set data.train_fraction=F --set output_dir=RUNS-NN``
(same seed, same settings; the subsets are nested, training/corpora.py
``train_subset``) unless that run directory already holds a
``test_report.json``. ``--full`` names the 100 % run to reuse (e.g. the
quickstart's). Prints a Markdown table of test strict micro-F1, PROPOSAL F1
and end-to-end relation micro-F1, each with its bootstrap 95 % CI, from the
runs' ``test_report.json`` (written by training itself).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from persian_ie.eval.curve import curve_table


def run_dir(runs: str, fraction: float) -> Path:
    return Path(f"{runs}-{round(fraction * 100)}")


def train_share(config: str, fraction: float, out: Path) -> None:
    from persian_ie.training.config import load_config
    from persian_ie.training.train import train

    # every point so far links with the rules: the relation column stays comparable if the config changes
    train(load_config(config, [f"data.train_fraction={fraction}", f"output_dir={out}", "model.linking=rules"]))


def training_documents(config: str, fraction: float) -> int:
    from persian_ie.data.document import read_documents
    from persian_ie.training.config import load_config
    from persian_ie.training.corpora import train_subset

    cfg = load_config(config)
    docs = [d for path in cfg.data.train for d in read_documents(path)]
    return len(train_subset(docs, fraction, cfg.seed))


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/quickstart.yaml")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 0.75])
    parser.add_argument("--runs", default="runs/curve", help="run directories are RUNS-25, RUNS-50, ...")
    parser.add_argument("--full", help="run directory of the 100 %% point (its test_report.json is reused)")
    parser.add_argument("--table-only", action="store_true", help="train nothing; rows for runs without a report are left out")
    args = parser.parse_args(argv)
    points = []
    shares = [(f, run_dir(args.runs, f)) for f in args.fractions] + ([(1.0, Path(args.full))] if args.full else [])
    for fraction, out in shares:
        report_path = out / "test_report.json"
        if not report_path.exists() and not args.table_only and fraction < 1:
            train_share(args.config, fraction, out)
        if report_path.exists():
            report = json.loads(report_path.read_text("utf-8"))
            points.append((fraction, training_documents(args.config, fraction), report))
    table = curve_table(points)
    print(table)
    return table


if __name__ == "__main__":
    main()
