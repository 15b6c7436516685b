"""Checking annotators' inline files and building corpus JSONL from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from persian_ie.data.document import Document
from persian_ie.data.inline import parse_inline
from persian_ie.data.readers import farsnews_meta
from persian_ie.data.schema import LabelSchema
from persian_ie.data.validate import document_problems
from persian_ie.errors import InlineMarkupError


@dataclass
class AnnCheck:
    path: Path
    doc: Document | None
    errors: list[str]

    @property
    def ok(self) -> bool:
        return self.doc is not None and not self.errors


def default_texts_dir(ann_path: Path) -> Path:
    """``data/annotation/pass_a/X.ann`` -> ``data/annotation/texts``."""
    return ann_path.resolve().parent.parent / "texts"


def check_ann_file(path: Path, schema: LabelSchema, texts_dir: Path | None = None, meta: dict | None = None) -> AnnCheck:
    path = Path(path)
    doc_id = path.stem
    source = (texts_dir or default_texts_dir(path)) / f"{doc_id}.txt"
    if not source.exists():
        return AnnCheck(path, None, [f"no original text for id {doc_id!r} at {source}"])
    original = source.read_bytes().decode("utf-8")
    try:
        result = parse_inline(path.read_text("utf-8"), original, doc_id, schema, meta)
    except InlineMarkupError as exc:
        return AnnCheck(path, None, [str(exc)])
    errors = list(result.errors)
    for problem in document_problems(result.doc, schema, str(path), 0):
        errors.append(f"{problem.rule}: span={problem.span_id} {problem.message}")
    return AnnCheck(path, result.doc, errors)


def describe_spans(doc: Document) -> str:
    text = doc.text or ""
    rows = [f"  {s.id:>4} {s.label:<8} [{s.start},{s.end}) {text[s.start:s.end]}" for s in doc.spans]
    rows += [f"  rel {r.type} {r.head} -> {r.tail}" for r in doc.relations]
    return "\n".join(rows)


def article_meta(doc_id: str, articles: dict) -> dict:
    """Source metadata (with the attribution link) of a corpus document."""
    if doc_id.startswith("shabestan-"):
        return {"source": "shabestan", "news_code": doc_id.split("-", 1)[1]}
    return farsnews_meta(articles.get(doc_id, {}))


def choose_sources(ann_root: Path, order=("adjudicated", "pass_a")) -> dict[str, Path]:
    """Per document id, the .ann file to use: adjudicated first, else pass A."""
    chosen: dict[str, Path] = {}
    for folder in reversed(order):
        for path in sorted((ann_root / folder).glob("*.ann")):
            chosen[path.stem] = path
    return chosen


def assign_splits(docs: list[Document], test_ids: set[str], pattern=("train",) * 7 + ("dev", "test", "test")) -> dict[str, str]:
    """Deterministic, stratified split: documents with and without PROPOSAL
    are ordered by a hash of their id and dealt out by ``pattern`` (70/10/20),
    so proposal-rich articles spread over every split; ``test_ids`` go to test."""
    import hashlib

    splits: dict[str, str] = {}
    for has_proposal in (True, False):
        group = [d for d in docs if any(s.label == "PROPOSAL" for s in d.spans) == has_proposal and d.id not in test_ids]
        group.sort(key=lambda d: hashlib.sha1(d.id.encode()).hexdigest())
        for i, doc in enumerate(group):
            splits[doc.id] = pattern[i % len(pattern)]
    splits.update({doc_id: "test" for doc_id in test_ids})
    return splits
