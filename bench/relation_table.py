"""Markdown rows (F1 with 95% CI) from the reports bench/relation_compare.sh writes.

    python -m bench.relation_table runs/eval-150 dev
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _cell(block: dict) -> str:
    lo, hi = block.get("ci", {}).get("f1", [float("nan"), float("nan")])
    return f"{block['f1']:.3f} [{lo:.3f}, {hi:.3f}]"


def rows(directory: Path, split: str) -> list[str]:
    out = []
    for kind, label in (("gold", "gold spans"), ("e2e", "end to end")):
        for name in ("rules", "learned"):
            report = json.loads((directory / f"{name}_{kind}_{split}.json").read_text("utf-8"))
            rel, rec = report["relations"], report["records"]
            out.append(f"| {split} | {label} | {name} | " + " | ".join(_cell(rel[k]) for k in ("micro", "holder", "proposer", "party")) + f" | {_cell(rec['proposals'])} |")
    return out


if __name__ == "__main__":
    print("\n".join(rows(Path(sys.argv[1]), sys.argv[2])))
