"""Spans <-> one IOB2 tag sequence per layer, over word tokens.

A span covers the tokens that lie inside ``[start, end)``. Tags back to
spans take the tokens' original offsets, so on any valid document the round
trip spans -> tags -> spans is the identity (tested on the whole corpus).
"""

from __future__ import annotations

import bisect

import numpy as np

from persian_ie.data.document import Span, number_spans
from persian_ie.data.schema import LabelSchema
from persian_ie.data.tokenize import Token, is_bad_edge_char


def spans_to_tags(tokens: tuple[Token, ...] | list[Token], spans: list[Span], schema: LabelSchema) -> dict[str, list[str]]:
    """One tag list per layer. Spans that cover no token are skipped (validation
    reports them); overlapping spans of one layer keep the first."""
    starts = [t.start for t in tokens]
    tags = {layer: ["O"] * len(tokens) for layer in schema.layers}
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        layer = schema.layer_of(span.label)
        if layer is None:
            continue
        lo = bisect.bisect_left(starts, span.start)
        hi = lo
        while hi < len(tokens) and tokens[hi].end <= span.end:
            hi += 1
        seq = tags[layer]
        if hi == lo or any(t != "O" for t in seq[lo:hi]):
            continue
        seq[lo] = f"B-{span.label}"
        for k in range(lo + 1, hi):
            seq[k] = f"I-{span.label}"
    return tags


def tag_chunks(tags: list[str], repair: bool = False) -> list[tuple[str, int, int]]:
    """(label, first token, last token + 1) for each entity in a strict IOB2
    reading: an ``I-X`` that does not continue a ``B-X``/``I-X`` is ignored.

    ``repair=True`` is the reading for external corpora (data/readers.py): such
    an ``I-X`` starts an entity instead, as conlleval reads it.
    """
    chunks: list[tuple[str, int, int]] = []
    current: list | None = None
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and current and current[0] == tag[2:]:
            current[2] = i + 1
        elif tag.startswith("B-") or (repair and tag.startswith("I-")):
            if current:
                chunks.append(tuple(current))
            current = [tag[2:], i, i + 1]
        else:
            if current:
                chunks.append(tuple(current))
            current = None
    if current:
        chunks.append(tuple(current))
    return chunks


def _is_punctuation_token(token: Token) -> bool:
    return all(is_bad_edge_char(ch) for ch in token.text)


def _without_edge_punctuation(tokens, lo: int, hi: int) -> tuple[int, int]:
    """Token range [lo, hi) less punctuation tokens at either end.

    SCHEMA.md section 2: a span never starts or ends with punctuation, but a
    tagger may carry I- over a comma (``مترو پلیس،``); those tokens are dropped.
    """
    while lo < hi and _is_punctuation_token(tokens[lo]):
        lo += 1
    while hi > lo and _is_punctuation_token(tokens[hi - 1]):
        hi -= 1
    return lo, hi


def tags_to_spans(tokens, tags_by_layer: dict[str, list[str]], id_prefix: str = "s", scores: dict[str, list[float]] | None = None,
                  text: str | None = None) -> list[Span]:
    """Spans in original offsets, sorted by (start, -end), ids ``s1``, ``s2``, ...

    With ``scores`` (per layer, one value per token) a span's score is the mean
    over its tokens; with ``text`` each span carries its surface text.
    """
    spans = []
    for layer, tags in tags_by_layer.items():
        for label, lo, hi in tag_chunks(tags):
            lo, hi = _without_edge_punctuation(tokens, lo, hi)
            if lo >= hi:
                continue
            start, end = tokens[lo].start, tokens[hi - 1].end
            score = float(np.mean(scores[layer][lo:hi])) if scores is not None else None
            spans.append(Span("", start, end, label, text[start:end] if text is not None else None, score))
    return number_spans(spans, id_prefix)
