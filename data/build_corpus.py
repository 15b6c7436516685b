"""Build the project corpus (data/corpus/{train,dev,test}.jsonl) from the
annotators' inline files. Run from the repository root:

    python -m persian_ie.data.build_corpus --articles ../shared/corpora/farsnews/articles.jsonl

Every .ann file must pass ``persian-ie annotate check``; a failing file stops
the build with its errors (nothing is dropped silently).

Splits are pinned: ``data/annotation/splits.json`` records the split of every
document of the first corpus (330 articles), so adding documents never moves
one, and test stays as it was. The articles of the v1.2 addition
(``selection_v12.json``) go to train or dev, 8:1 by a hash of their id. Window documents (``data/annotation/windows/``,
cut by ``select_windows``) go to train or dev only, dealt 8:1 by a hash of
their source article's id, so all windows of one article share a split.
A window annotated twice and adjudicated (``windows_adjudicated/``) is taken
from there, as ``adjudicated/`` is preferred over ``pass_a/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from persian_ie.data.annotation_tools import article_meta, check_ann_file, choose_sources
from persian_ie.data.document import write_documents
from persian_ie.data.readers import read_articles
from persian_ie.data.schema import load_schema

SEED_ID = "shabestan-1730839"
# Per document the first folder that holds it: adjudicated before single-annotated.
SOURCE_FOLDERS = ("adjudicated", "pass_a", "windows_adjudicated", "windows")
WINDOW_PATTERN = ("train",) * 8 + ("dev",)


def window_split(article_id: str) -> str:
    """train or dev (never test) for the windows of one article, 8:1 by id hash."""
    digest = int(hashlib.sha1(article_id.encode()).hexdigest(), 16)
    return WINDOW_PATTERN[digest % len(WINDOW_PATTERN)]


def pinned_splits(doc_ids: list[str], pinned: dict[str, str], windows: dict[str, dict],
                  additions: frozenset[str] = frozenset()) -> dict[str, str]:
    """The split of every document: the recorded one for the first corpus,
    train/dev by article for windows and for the articles of later additions
    (``selection_v12.json``); any other document is an error, so a new
    document can never slip into test by accident."""
    splits, unknown = {}, []
    for doc_id in doc_ids:
        if doc_id in pinned:
            splits[doc_id] = pinned[doc_id]
        elif doc_id in windows:
            splits[doc_id] = window_split(windows[doc_id]["article"])
        elif doc_id in additions:
            splits[doc_id] = window_split(doc_id)
        else:
            unknown.append(doc_id)
    if unknown:
        raise SystemExit(f"corpus build failed: documents with no pinned split and no window record: {unknown[:5]}")
    if splits.get(SEED_ID, "test") != "test":
        raise SystemExit(f"corpus build failed: {SEED_ID} must be in test")
    return splits


def window_meta(record: dict, articles: dict) -> dict:
    """Source metadata of a window: its article's, plus where the window sits in it."""
    meta = article_meta(record["article"], articles)
    meta.update({"article": record["article"], "window_start": record["start"], "window_end": record["end"]})
    return meta


def addition_ids(ann_root: Path) -> frozenset[str]:
    """Articles of the v1.2 addition (``select_additions``): train or dev only."""
    record = ann_root / "selection_v12.json"
    if not record.exists():
        return frozenset()
    rounds = json.loads(record.read_text("utf-8"))["rounds"]
    return frozenset(doc_id for chosen in rounds for doc_id in chosen["invitation_trigger"] + chosen["ordinary"])


def build(ann_root: Path, articles_path: Path, out_dir: Path) -> dict[str, int]:
    schema = load_schema("default")
    articles = {art["id"]: art for art in read_articles(articles_path)}
    pinned = json.loads((ann_root / "splits.json").read_text("utf-8"))
    windows_file = ann_root / "windows.json"
    windows = {w["id"]: w for w in json.loads(windows_file.read_text("utf-8"))["windows"]} if windows_file.exists() else {}
    docs, failures = [], []
    for doc_id, path in sorted(choose_sources(ann_root, SOURCE_FOLDERS).items()):
        meta = window_meta(windows[doc_id], articles) if doc_id in windows else article_meta(doc_id, articles)
        result = check_ann_file(path, schema, ann_root / "texts", meta)
        if not result.ok:
            failures.append(f"{path}: " + "; ".join(result.errors[:3]))
            continue
        docs.append(result.doc)
    if failures:
        raise SystemExit("corpus build failed:\n" + "\n".join(failures))
    splits = pinned_splits([d.id for d in docs], pinned, windows, addition_ids(ann_root))
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
