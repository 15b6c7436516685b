"""A ``datasets.Dataset`` view of documents for training and evaluation.

One row per model window: ``input_ids``, ``labels_<layer>`` (tag ids at
first subwords, -100 elsewhere), ``doc_index``, ``length``. Rows are cached
on disk under a fingerprint of the documents, tokenizer, schema,
normalization and window settings, so repeated runs skip the encoding.

A document may be annotated for some labels only (an auxiliary corpus such
as PEYMA knows PER and ORG but not TITLE or PROPOSAL): its
``PartialAnnotation`` (``doc.partial``) says which labels it
annotates and which character ranges are unknown (spans a label map
dropped). A layer with none of its labels annotated gets -100 everywhere,
and words in an unknown range get -100 in every layer, so the loss never
reads "O" where the corpus simply did not look.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from pathlib import Path

from persian_ie.data.document import Document
from persian_ie.data.encoding import IGNORE, align_labels, build_window_inputs, plan_windows, sentence_end_positions, word_piece_ids
from persian_ie.data.iob import spans_to_tags
from persian_ie.data.normalize import Normalizer
from persian_ie.data.schema import LabelSchema
from persian_ie.data.tokenize import tokenize


def is_fully_annotated(doc: Document, labels) -> bool:
    """True when ``doc`` annotates every one of ``labels`` (a document without a
    ``PartialAnnotation`` annotates all)."""
    return doc.partial is None or set(labels) <= doc.partial.annotated


def fully_annotated(docs: list[Document], labels) -> tuple[list[Document], int]:
    """The documents that annotate every one of ``labels``, and how many were left out."""
    kept = [d for d in docs if is_fully_annotated(d, labels)]
    return kept, len(docs) - len(kept)


def _word_tags(doc: Document, tokens, schema: LabelSchema) -> dict[str, list[int]]:
    """Tag ids per layer and word; IGNORE where the document does not say."""
    tags = spans_to_tags(tokens, doc.spans, schema)
    tag_ids = {layer: {t: i for i, t in enumerate(schema.tags(layer))} for layer in schema.layers}
    ids = {layer: [tag_ids[layer][t] for t in tags[layer]] for layer in schema.layers}
    partial = doc.partial
    if partial is None:
        return ids
    starts, ends = [t.start for t in tokens], [t.end for t in tokens]
    # every word that overlaps an unknown range (tokens are in text order): a bisect per range, not a scan
    unknown_words = [k for start, end in partial.unknown for k in range(bisect.bisect_right(ends, start), bisect.bisect_left(starts, end))]
    for layer, labels in schema.layers.items():
        if not partial.annotated & set(labels):
            ids[layer] = [IGNORE] * len(tokens)
        for k in unknown_words:
            ids[layer][k] = IGNORE
    return ids


def encode_document(doc: Document, tokenizer, schema: LabelSchema, normalizer: Normalizer, max_length: int, stride: int) -> list[dict]:
    tokenized = tokenize(doc.text or "", normalizer)
    word_tags = _word_tags(doc, tokenized.tokens, schema)
    pieces = word_piece_ids([t.text for t in tokenized.tokens], tokenizer)
    windows = plan_windows([len(p) for p in pieces], sentence_end_positions(tokenized), max_length - 2, stride)
    rows = []
    for window in windows:
        ids, first_pos = build_window_inputs(pieces, window, tokenizer, max_length)
        row = {"input_ids": ids, "length": len(ids)}
        for layer in schema.layers:
            row[f"labels_{layer}"] = align_labels(first_pos, word_tags[layer][window.first_word:window.last_word], len(ids))
        rows.append(row)
    return rows


def _fingerprint(docs, tokenizer, schema, normalizer, max_length, stride) -> str:
    digest = hashlib.sha1()
    digest.update(json.dumps([schema.to_dict(), normalizer.config.to_dict(), max_length, stride, tokenizer.name_or_path, len(tokenizer)], sort_keys=True).encode())
    for doc in docs:
        digest.update(doc.id.encode())
        digest.update((doc.text or "").encode())
        digest.update(json.dumps([s.to_dict() for s in doc.spans]).encode())
        if doc.partial is not None:
            digest.update(json.dumps(doc.partial.to_dict()).encode())
    return digest.hexdigest()[:16]


def build_dataset(docs: list[Document], tokenizer, schema: LabelSchema, normalizer: Normalizer, max_length: int = 256, stride: int = 32, cache_dir: str | Path | None = None):
    """The windows of ``docs`` as a ``datasets.Dataset`` (cached when ``cache_dir`` is given)."""
    import datasets

    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"windows-{_fingerprint(docs, tokenizer, schema, normalizer, max_length, stride)}"
        if path.exists():
            return datasets.load_from_disk(str(path))
    rows: dict[str, list] = {"input_ids": [], "length": [], "doc_index": []}
    for layer in schema.layers:
        rows[f"labels_{layer}"] = []
    for index, doc in enumerate(docs):
        for row in encode_document(doc, tokenizer, schema, normalizer, max_length, stride):
            row["doc_index"] = index
            for key, value in row.items():
                rows[key].append(value)
    dataset = datasets.Dataset.from_dict(rows)
    if path is not None:
        dataset.save_to_disk(str(path))
    return dataset
