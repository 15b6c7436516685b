"""Preprocessing for prediction: normalize, word-tokenize, subword-encode, plan windows.

No model and no torch here, so that worker processes can run it
(``persian_ie.inference.runner``, ``prep_workers``) without loading either.
"""

from __future__ import annotations

from dataclasses import dataclass

from persian_ie.data.document import Document
from persian_ie.data.encoding import build_window_inputs, plan_windows, sentence_end_positions, word_piece_ids
from persian_ie.data.normalize import Normalizer, NormalizerConfig
from persian_ie.data.tokenize import TokenizedText, tokenize


@dataclass
class Prepared:
    """One document after preprocessing."""

    doc: Document
    tokenized: TokenizedText
    windows: list
    inputs: list[tuple[list[int], list[int]]]  # (input_ids, first-subword positions) per window


@dataclass
class Preparer:
    """Preprocessing alone, no model: picklable, so worker processes can run it."""

    tokenizer: object
    normalizer: Normalizer
    max_length: int
    stride: int

    @classmethod
    def from_settings(cls, tokenizer, normalization: dict, window: dict) -> "Preparer":
        """From a model config's ``normalization`` and ``window`` settings (config.json)."""
        return cls(tokenizer, Normalizer(NormalizerConfig.from_dict(normalization)), window["max_length"], window["stride"])

    def __call__(self, doc: Document) -> Prepared:
        tokenized = tokenize(doc.text or "", self.normalizer)
        words = [t.text for t in tokenized.tokens]
        pieces = word_piece_ids(words, self.tokenizer)
        windows = plan_windows([len(p) for p in pieces], sentence_end_positions(tokenized), self.max_length - 2, self.stride)
        inputs = [build_window_inputs(pieces, w, self.tokenizer, self.max_length) for w in windows]
        return Prepared(doc, tokenized, windows, inputs)
