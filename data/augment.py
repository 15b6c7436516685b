"""Mention replacement: training copies of documents with other names in them.

A copy of a training document in which some PER, ORG and CITY mentions are
replaced by other mentions of the same label drawn from the training set
(Dai & Adel 2020, "An Analysis of Simple Data Augmentation for Named Entity
Recognition"). The tagger then sees the same contexts with names it has not
memorised there, which is meant to teach it the context rather than the
surface string. Every span and relation is kept; spans after or around a
replaced mention are shifted by the change in length, so the copy is a valid
document with exact offsets.

Only mentions that sit on word boundaries and overlap no other span except
ones around them are replaced: a glued suffix (``غزه‌ای``, ``تهرانی``) would
make the new word ungrammatical, a span inside the mention would lose its
words and one crossing it its boundary.

    python -m persian_ie.data.augment data/corpus/train.jsonl --out runs/aug/train_aug.jsonl --copies 1
"""

from __future__ import annotations

import argparse
import random

from persian_ie.data.document import Document, Relation, Span, read_documents, write_documents

REPLACED_LABELS = ("PER", "ORG", "CITY")


def mention_pool(docs: list[Document], labels=REPLACED_LABELS) -> dict[str, list[str]]:
    """Every distinct surface string of each label in ``docs``, sorted (so a seed fixes the draw)."""
    pool: dict[str, set[str]] = {label: set() for label in labels}
    for doc in docs:
        for span in doc.spans:
            if span.label in pool and "\n" not in doc.text[span.start:span.end]:
                pool[span.label].add(doc.text[span.start:span.end])
    return {label: sorted(strings) for label, strings in pool.items()}


def _on_word_boundaries(text: str, span: Span) -> bool:
    before = text[span.start - 1] if span.start > 0 else " "
    after = text[span.end] if span.end < len(text) else " "
    return not (before.isalnum() or after.isalnum() or before == "\u200c" or after == "\u200c")


def _replaceable(doc: Document, span: Span) -> bool:
    if span.label not in REPLACED_LABELS or not _on_word_boundaries(doc.text, span):
        return False
    # a span inside the mention would lose its words, one crossing it its boundary
    return not any(o is not span and o.start < span.end and span.start < o.end and not (o.start <= span.start and span.end <= o.end)
                   for o in doc.spans)


def replace_mentions(doc: Document, pool: dict[str, list[str]], rng: random.Random, rate: float) -> Document:
    """A copy of ``doc`` with each replaceable mention swapped, with probability ``rate``, for another of its label."""
    # one draw per (label, string), so a name repeated in the document stays one name
    decided: dict[tuple[str, str], str | None] = {}
    chosen: dict[str, str] = {}
    for span in doc.spans:
        if not _replaceable(doc, span):
            continue
        key = (span.label, doc.text[span.start:span.end])
        if key not in decided:
            others = [s for s in pool.get(span.label, []) if s != key[1]]
            decided[key] = rng.choice(others) if others and rng.random() < rate else None
        if decided[key] is not None:
            chosen[span.id] = decided[key]
    by_id = {s.id: s for s in doc.spans}
    edits = sorted((by_id[i].start, by_id[i].end, new) for i, new in chosen.items())  # (start, end, new string)
    pieces, last = [], 0
    for start, end, new in edits:
        pieces += [doc.text[last:start], new]
        last = end
    text = "".join(pieces) + doc.text[last:]
    spans = [Span(s.id, _moved(s.start, edits), _moved(s.end, edits), s.label) for s in doc.spans]
    relations = [Relation(r.type, r.head, r.tail) for r in doc.relations]
    meta = dict(doc.meta, augmented_from=doc.id)
    return Document(f"{doc.id}#aug", text, spans, relations, meta)


def _moved(pos: int, edits) -> int:
    """Where offset ``pos`` of the old text lies in the new one: shifted by every edit that ends at or before
    it (so a span starting where a mention starts stays put, and one ending where it ends takes its length)."""
    return pos + sum(len(new) - (end - start) for start, end, new in edits if end <= pos)


def augment(docs: list[Document], copies: int, rate: float, seed: int) -> list[Document]:
    """``docs`` followed by ``copies`` mention-replaced copies of each, in a seeded draw."""
    pool = mention_pool(docs)
    rng = random.Random(seed)
    out = list(docs)
    for k in range(copies):
        for doc in docs:
            copy = replace_mentions(doc, pool, rng, rate)
            copy.id = f"{doc.id}#aug{k + 1}"
            out.append(copy)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train", help="training documents (JSONL)")
    ap.add_argument("--out", required=True, help="where to write the originals and their copies (JSONL)")
    ap.add_argument("--copies", type=int, default=1)
    ap.add_argument("--rate", type=float, default=0.5, help="probability of replacing each replaceable mention")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)
    docs = augment(read_documents(args.train), args.copies, args.rate, args.seed)
    write_documents(args.out, docs)  # atomic, and the input is read in full first
    print(f"{len(docs)} documents written to {args.out}")


if __name__ == "__main__":
    main()
