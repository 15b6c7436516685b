"""Turning per-word tag probabilities into a valid IOB2 sequence.

``argmax`` takes the most probable tag per word (an ``I-X`` with no ``B-X``
before it is then dropped by the strict reader). ``constrained`` runs Viterbi
over log-probabilities with IOB2 transitions only (never ``O -> I-X`` or
``B-X -> I-Y``), so every predicted ``I-`` has its ``B-``. Measured on the
corpus test split (docs/benchmarks.md), argmax with the strict reading is as
good overall and better for PROPOSAL (constrained decoding joins pieces into
over-long proposal spans), so argmax is the default; ``constrained`` stays
available (``model.decoding`` in the config, ``--decoding`` on evaluate).
"""

from __future__ import annotations

import numpy as np


def allowed_transitions(tags: list[str]) -> np.ndarray:
    """``allowed[i, j]``: tag j may follow tag i (IOB2)."""
    n = len(tags)
    allowed = np.ones((n, n), dtype=bool)
    for j, tag in enumerate(tags):
        if tag.startswith("I-"):
            label = tag[2:]
            for i, prev in enumerate(tags):
                allowed[i, j] = prev in (f"B-{label}", f"I-{label}")
    return allowed


def allowed_starts(tags: list[str]) -> np.ndarray:
    return np.array([not t.startswith("I-") for t in tags])


def viterbi(log_probs: np.ndarray, allowed: np.ndarray, starts: np.ndarray) -> list[int]:
    """Best tag path under the transition mask; ``log_probs`` is [words, tags]."""
    n_words = log_probs.shape[0]
    if n_words == 0:
        return []
    penalty = np.where(allowed, 0.0, -np.inf)
    score = np.where(starts, log_probs[0], -np.inf)
    back = np.zeros((n_words, log_probs.shape[1]), dtype=np.int64)
    for t in range(1, n_words):
        cand = score[:, None] + penalty
        back[t] = cand.argmax(axis=0)
        score = cand.max(axis=0) + log_probs[t]
    path = [int(score.argmax())]
    for t in range(n_words - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


class Decoder:
    def __init__(self, tags: list[str], strategy: str = "argmax"):
        if strategy not in ("constrained", "argmax"):
            raise ValueError(f"unknown decoding strategy {strategy!r}; use 'constrained' or 'argmax'")
        self.tags = tags
        self.strategy = strategy
        self._allowed = allowed_transitions(tags)
        self._starts = allowed_starts(tags)

    def decode(self, probs: np.ndarray) -> tuple[list[str], list[float]]:
        """Tags per word and the probability of each chosen tag."""
        if probs.shape[0] == 0:
            return [], []
        if self.strategy == "argmax":
            ids = probs.argmax(axis=1).tolist()
        else:
            ids = viterbi(np.log(np.clip(probs, 1e-12, 1.0)), self._allowed, self._starts)
        chosen = probs[np.arange(len(ids)), ids].tolist()
        return [self.tags[i] for i in ids], chosen
