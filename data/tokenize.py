"""Word tokenization with offsets in the original text, and sentence bounds.

A word is a maximal run of characters that are neither whitespace,
punctuation/symbols nor zero-width joiners; each punctuation or symbol
character is a token of its own. Zero-width characters (ZWNJ and its
look-alikes) separate tokens but are not tokens, so ``غزه‌ای`` is ``غزه`` +
``ای`` and a valid span (SCHEMA.md section 2) always covers whole tokens.

Tokenization runs on the normalized text (what the model sees); offsets are
mapped back to the original text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from persian_ie.data.normalize import KASHIDA, ZERO_WIDTH, NormalizedText, Normalizer, is_diacritic

SENTENCE_END = {".", "!", "?", "؟", "…"}


def is_punct(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "PS"


def is_bad_edge_char(ch: str) -> bool:
    """Characters a span may not start or end with (SCHEMA.md section 2)."""
    return ch.isspace() or is_punct(ch) or not ch.isprintable()


def is_boundary_char(ch: str) -> bool:
    """Characters a span edge may touch from outside (SCHEMA.md section 2)."""
    return ch.isspace() or ch in ZERO_WIDTH or is_punct(ch) or unicodedata.category(ch) == "Cf"


def is_word_internal_mark(ch: str) -> bool:
    """Deleted by normalization but part of the word around it."""
    return ch == KASHIDA or is_diacritic(ch) or unicodedata.category(ch) == "Mn"


@dataclass(frozen=True)
class Token:
    text: str  # normalized form (what the model sees)
    start: int  # offsets in the ORIGINAL text
    end: int
    sentence: int


@dataclass(frozen=True)
class TokenizedText:
    original: str
    normalized: NormalizedText
    tokens: tuple[Token, ...]

    def sentence_bounds(self) -> list[tuple[int, int]]:
        """(first token, last token + 1) of each sentence."""
        bounds: list[tuple[int, int]] = []
        for i, tok in enumerate(self.tokens):
            if not bounds or tok.sentence != self.tokens[i - 1].sentence:
                bounds.append((i, i + 1))
            else:
                bounds[-1] = (bounds[-1][0], i + 1)
        return bounds

    def sentence_offsets(self) -> list[tuple[int, int]]:
        """(start, end) character offsets in the original text of each sentence."""
        return [(self.tokens[lo].start, self.tokens[hi - 1].end) for lo, hi in self.sentence_bounds()]


def _raw_tokens(text: str):
    """Yield (start, end) of tokens in ``text`` and whether a newline preceded."""
    i, n, newline = 0, len(text), False
    while i < n:
        ch = text[i]
        if ch.isspace() or ch in ZERO_WIDTH:
            newline = newline or ch == "\n"
            i += 1
            continue
        if is_punct(ch):
            yield i, i + 1, newline
            newline = False
            i += 1
            continue
        j = i + 1
        while j < n and not (text[j].isspace() or text[j] in ZERO_WIDTH or is_punct(text[j])):
            j += 1
        yield i, j, newline
        newline = False
        i = j


def tokenize(text: str, normalizer: Normalizer | None = None) -> TokenizedText:
    normalizer = normalizer or Normalizer()
    norm = normalizer(text)
    tokens: list[Token] = []
    sentence = 0
    for start, end, after_newline in _raw_tokens(norm.text):
        if tokens and (after_newline or tokens[-1].text in SENTENCE_END):
            sentence += 1
        o_start, o_end = norm.to_original(start, end)
        while o_end < len(text) and is_word_internal_mark(text[o_end]):
            o_end += 1  # a trailing diacritic or kashida stays with its word
        tokens.append(Token(norm.text[start:end], o_start, o_end, sentence))
    return TokenizedText(text, norm, tuple(tokens))
