"""Turning per-word tag probabilities into a valid IOB2 sequence.

``argmax`` takes the most probable tag per word (an ``I-X`` with no ``B-X``
before it is then dropped by the strict reader). ``constrained`` runs Viterbi
over log-probabilities with IOB2 transitions only (never ``O -> I-X`` or
``B-X -> I-Y``), so every predicted ``I-`` has its ``B-``. Measured on the
corpus test split (docs/benchmarks.md), argmax with the strict reading is as
good overall and better for PROPOSAL (constrained decoding joins pieces into
over-long proposal spans), so argmax is the default; ``constrained`` stays
available (``model.decoding`` in the config, ``--decoding`` on evaluate).

Two boundary-minded readings, measured for the event layer (issue 10 item 3,
docs/benchmarks.md): ``lenient`` is argmax where an orphan ``I-X`` starts a
span instead of being dropped; ``inside`` decides membership first (a word is
in an X span when ``P(B-X) + P(I-X)`` beats ``P(O)`` and every other label),
then lets ``B-X`` vs ``I-X`` decide only where a new span starts, so a word
the model splits between B and I is not lost to ``O``.
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


STRATEGIES = ("argmax", "constrained", "lenient", "inside")


def lenient_ids(tags: list[str], ids: list[int]) -> list[int]:
    """Argmax ids where an ``I-X`` not after ``B-X``/``I-X`` becomes ``B-X`` (it starts a span)."""
    index = {t: i for i, t in enumerate(tags)}
    out = list(ids)
    for k, i in enumerate(out):
        tag = tags[i]
        if tag.startswith("I-") and (k == 0 or tags[out[k - 1]][2:] != tag[2:] or tags[out[k - 1]] == "O"):
            out[k] = index[f"B-{tag[2:]}"]
    return out


def inside_ids(tags: list[str], probs: np.ndarray) -> list[int]:
    """Label by ``P(B-X) + P(I-X)`` against ``P(O)``; ``B-X`` only at a span start or where it beats ``I-X``."""
    index = {t: i for i, t in enumerate(tags)}
    labels = [t[2:] for t in tags if t.startswith("B-")]
    out, previous = [], None
    for row in probs:
        mass = {x: row[index[f"B-{x}"]] + row[index[f"I-{x}"]] for x in labels}
        best = max(labels, key=mass.get) if labels else None
        if best is None or row[index["O"]] >= mass[best]:
            out.append(index["O"])
            previous = None
            continue
        starts = previous != best or row[index[f"B-{best}"]] > row[index[f"I-{best}"]]
        out.append(index[f"{'B' if starts else 'I'}-{best}"])
        previous = best
    return out


class Decoder:
    def __init__(self, tags: list[str], strategy: str = "argmax"):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown decoding strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
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
        elif self.strategy == "lenient":
            ids = lenient_ids(self.tags, probs.argmax(axis=1).tolist())
        elif self.strategy == "inside":
            ids = inside_ids(self.tags, probs)
        else:
            ids = viterbi(np.log(np.clip(probs, 1e-12, 1.0)), self._allowed, self._starts)
        chosen = probs[np.arange(len(ids)), ids].tolist()
        return [self.tags[i] for i in ids], chosen
