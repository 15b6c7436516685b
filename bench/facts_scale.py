"""Scale of `persian-ie facts build`: N generated predict documents.

The corpus documents are repeated with new ids (and dates spread over
years) in predict's format (spans with text and score, a model record),
written to one JSONL.gz, then loaded into a new facts database. Prints the
build time, documents/s, the database size and the process's peak RSS.

    python -m persian_ie.bench.facts_scale --docs 100000 --work /tmp/facts-scale
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import resource
import time
from pathlib import Path

from persian_ie.data.document import read_documents


def generate(corpus: list[Path], out: Path, n: int) -> int:
    base = [d for p in corpus for d in read_documents(p)]
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=1) as fh:
        for i in range(n):
            doc = base[i % len(base)].to_dict()
            doc["id"] = f"gen-{i:07d}"
            doc["meta"] = {**doc.get("meta", {}), "date": f"{1380 + i % 20}-{1 + i % 12:02d}-01"}
            for span in doc["spans"]:
                span["text"] = doc["text"][span["start"]:span["end"]]
                span["score"] = 0.9
            doc["model"] = {"name": "bench", "version": "1"}
            fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return n


def main(argv=None) -> None:
    from persian_ie.inference.facts.store import build

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--work", default="/tmp/facts-scale")
    parser.add_argument("--corpus", nargs="+", default=["data/corpus/train.jsonl", "data/corpus/dev.jsonl", "data/corpus/test.jsonl"])
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    src, db = work / "pred.jsonl.gz", work / "facts.db"
    db.unlink(missing_ok=True)
    generate([Path(p) for p in args.corpus], src, args.docs)
    start = time.perf_counter()
    report = build([src], db)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"input: {args.docs:,} documents, {src.stat().st_size / 2**20:.1f} MiB gzip")
    print(report.summary())
    print(f"build: {seconds:.1f} s, {args.docs / seconds:,.0f} documents/s")
    print(f"database: {db.stat().st_size / 2**20:.1f} MiB; peak RSS {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
