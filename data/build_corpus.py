"""Build the project corpus (data/corpus/{train,dev,test}.jsonl) from the
annotators' inline files. Run from the repository root:

    python -m persian_ie.data.build_corpus --articles ../shared/corpora/farsnews/articles.jsonl

Every .ann file must pass ``persian-ie annotate check``; a failing file stops
the build with its errors (nothing is dropped silently).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from persian_ie.data.annotation_tools import article_meta, assign_splits, check_ann_file, choose_sources
from persian_ie.data.document import write_documents
from persian_ie.data.schema import load_schema

SEED_ID = "shabestan-1730839"


def build(ann_root: Path, articles_path: Path, out_dir: Path) -> dict[str, int]:
    schema = load_schema("default")
    articles = {}
    with open(articles_path, encoding="utf-8") as fh:
        for line in fh:
            art = json.loads(line)
            articles[art["id"]] = art
    docs, failures = [], []
    for doc_id, path in sorted(choose_sources(ann_root).items()):
        result = check_ann_file(path, schema, ann_root / "texts", article_meta(doc_id, articles))
        if not result.ok:
            failures.append(f"{path}: " + "; ".join(result.errors[:3]))
            continue
        docs.append(result.doc)
    if failures:
        raise SystemExit("corpus build failed:\n" + "\n".join(failures))
    splits = assign_splits(docs, {SEED_ID})
    counts = {}
    for split in ("train", "dev", "test"):
        part = [d for d in docs if splits[d.id] == split]
        counts[split] = write_documents(out_dir / f"{split}.jsonl", part)
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", default="data/annotation")
    parser.add_argument("--articles", default="../shared/corpora/farsnews/articles.jsonl")
    parser.add_argument("--out", default="data/corpus")
    args = parser.parse_args(argv)
    counts = build(Path(args.annotations), Path(args.articles), Path(args.out))
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
