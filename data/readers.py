"""Readers for outside corpora, all yielding ``Document`` objects.

* ``read_peyma``: one ``token|TAG`` a line (split on the LAST ``|``, tokens
  may hold spaces), ``B_X``/``I_X`` tags, blank line between sentences.
* ``read_conll``: ``token tag`` or ``token<TAB>tag`` (ParsTwiNER, ARMAN),
  ``B-X``/``I-X`` tags, blank line between sentences.
* ``read_farsnews``: the Fars News article JSONL; text = title, abstract and
  paragraphs joined by newlines, id = the ``id`` field.
* ``read_text_files``: ``.txt`` files; text = content unchanged, id = stem.

Tagged corpora become one document per sentence, the tokens joined by single
spaces. ``label_map`` renames labels; a label mapped to ``None`` is dropped
on purpose and counted in ``ReaderStats.dropped``; the dropped spans'
``(start, end, label)`` stay in ``doc.dropped_spans`` (in memory only),
so training can treat their words as unknown rather than as "O". Nothing is
dropped silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from persian_ie.data.document import Document, Span, iter_json_objects
from persian_ie.data.iob import tag_chunks
from persian_ie.data.tokenize import is_bad_edge_char
from persian_ie.errors import InputError


@dataclass
class ReaderStats:
    sentences: int = 0
    spans: int = 0
    dropped: Counter = field(default_factory=Counter)
    repaired_tags: int = 0  # I-X with no B-X before it, read as B-X (IOB1 style)
    trimmed_edges: int = 0  # spans whose edge tokens were punctuation (`« فردا »`), trimmed to the words


def _sentences(path: Path, split_line) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    tokens: list[tuple[str, str]] = []
    first_line = 1
    with open(path, encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("-DOCSTART-"):
                if tokens:
                    yield first_line, tokens
                tokens = []
                first_line = number + 1
                continue
            parsed = split_line(line)
            if parsed is None:
                raise InputError(f"{path}:{number}: cannot split into token and tag: {line[:60]!r}")
            tokens.append(parsed)
    if tokens:
        yield first_line, tokens


def _split_peyma(line: str):
    token, sep, tag = line.rpartition("|")
    return (token, tag.strip()) if sep and token else None


def _split_conll(line: str):
    parts = line.split("\t") if "\t" in line else line.rsplit(" ", 1)
    if len(parts) < 2 or not parts[0]:
        return None
    return parts[0].strip(), parts[-1].strip()


def _iob_tag(tag: str) -> str:
    """``B-X``/``I-X`` from a corpus tag (``B_X`` too); anything else is ``O``."""
    return f"{tag[0]}-{tag[2:]}" if len(tag) > 2 and tag[1] in "-_" else "O"


def _tagged_to_document(doc_id, tokens, label_map, stats: ReaderStats, meta) -> Document:
    text_parts, bounds, offset = [], [], 0
    for token, _ in tokens:
        token = token.strip() or "_"
        text_parts.append(token)
        bounds.append((offset, offset + len(token)))
        offset += len(token) + 1
    tags = [_iob_tag(tag) for _, tag in tokens]
    chunks = tag_chunks(tags, repair=True)
    stats.repaired_tags += sum(tags[lo].startswith("I-") for _, lo, _ in chunks)
    spans = [(label, bounds[lo][0], bounds[hi - 1][1]) for label, lo, hi in chunks]
    doc_spans, dropped = [], []
    text = " ".join(text_parts)
    for label, start, end in spans:
        trimmed = _trim(text, start, end)
        if trimmed != (start, end):
            stats.trimmed_edges += 1
        start, end = trimmed
        if end <= start:
            stats.dropped[f"{label} (punctuation only)"] += 1
            continue
        target = label_map.get(label, label) if label_map else label
        if target is None:
            stats.dropped[label] += 1
            dropped.append((start, end, label))
            continue
        doc_spans.append(Span(f"s{len(doc_spans) + 1}", start, end, target))
    stats.sentences += 1
    stats.spans += len(doc_spans)
    return Document(doc_id, text, doc_spans, [], meta, dropped_spans=dropped)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span so it neither starts nor ends with punctuation or space."""
    while start < end and is_bad_edge_char(text[start]):
        start += 1
    while end > start and is_bad_edge_char(text[end - 1]):
        end -= 1
    return start, end


def read_tagged(path, fmt: str, label_map: dict | None = None, id_prefix: str | None = None, stats: ReaderStats | None = None) -> Iterator[Document]:
    """PEYMA (``fmt='peyma'``) or CoNLL (``fmt='conll'``) sentences as documents."""
    path = Path(path)
    stats = stats if stats is not None else ReaderStats()
    split = {"peyma": _split_peyma, "conll": _split_conll}.get(fmt)
    if split is None:
        raise InputError(f"unknown tagged format {fmt!r}; use 'peyma' or 'conll'")
    prefix = id_prefix or f"{path.parent.name}-{path.stem}"
    for n, (line, tokens) in enumerate(_sentences(path, split), start=1):
        meta = {"source": str(path.name), "line": line}
        yield _tagged_to_document(f"{prefix}-{n:06d}", tokens, label_map, stats, meta)


def read_peyma(path, label_map=None, id_prefix=None, stats=None):
    return read_tagged(path, "peyma", label_map, id_prefix, stats)


def read_conll(path, label_map=None, id_prefix=None, stats=None):
    return read_tagged(path, "conll", label_map, id_prefix, stats)


FARSNEWS_PARTS = ("title", "abstract", "paragraphs")


def is_farsnews(obj: dict) -> bool:
    """Whether a JSON object has the Fars News article layout."""
    return set(FARSNEWS_PARTS) <= obj.keys()


def farsnews_text(article: dict) -> str:
    """Title, abstract and paragraphs joined by newlines; a ``null`` part is
    left out. Any other non-string part raises ``InputError`` naming it."""
    paragraphs = article.get("paragraphs")
    if paragraphs is None:
        paragraphs = []
    if not isinstance(paragraphs, list):
        raise InputError(f"Fars News field 'paragraphs' must be a list of strings, got {type(paragraphs).__name__}")
    parts = [article.get("title"), article.get("abstract"), *paragraphs]
    for name, part in zip(["title", "abstract"] + [f"paragraphs[{i}]" for i in range(len(paragraphs))], parts):
        if part is not None and not isinstance(part, str):
            raise InputError(f"Fars News field {name!r} must be a string, got {type(part).__name__}")
    return "\n".join(p for p in parts if p is not None)


def farsnews_meta(article: dict) -> dict:
    """The one Fars News metadata mapping: ``link`` -> ``url`` (the
    attribution link), ``cat`` -> ``category``; empty values left out."""
    meta = {"source": "farsnews", "url": article.get("link"), "category": article.get("cat")}
    return {k: v for k, v in meta.items() if v}


def farsnews_document(article: dict) -> Document:
    return Document(article["id"], farsnews_text(article), [], [], farsnews_meta(article))


def read_articles(path) -> Iterator[dict]:
    """The raw article objects of a Fars News JSONL file (bounded); a bad line raises ``InputError`` naming it."""
    return iter_json_objects(path)


def read_farsnews(path) -> Iterator[Document]:
    for number, article in enumerate(read_articles(path), start=1):
        try:
            yield farsnews_document(article)
        except (KeyError, TypeError, InputError) as exc:
            raise InputError(f"{path}: article {number}: not a Fars News article ({exc})") from exc


def read_text_files(paths) -> Iterator[Document]:
    """Each ``.txt`` file (or every ``.txt`` in a folder) as one document."""
    for path in paths:
        path = Path(path)
        files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
        for file in files:
            yield Document(file.stem, file.read_bytes().decode("utf-8"), [], [], {"source": file.name})
