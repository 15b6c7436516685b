"""Span boundary refiner: the tagger finds a span, a small scorer picks its extent.

Why: most PROPOSAL errors are boundaries, mostly the end (a proposal cut back
to its bare trigger, ``لایحه`` for ``لایحه مدیریت خدمات کشوری``), and no
reading of the tagger's per-word probabilities recovers them: after a trigger
the tagger puts its mass on ``O`` (docs/benchmarks.md §10). A span-level
scorer sees the whole candidate at once. For each span of ``label`` that the
tagger predicts, every span that overlaps it, stays inside its sentence(s)
and has at most ``max_width`` words is a candidate; the scorer rates each
from the encoder's word vectors (first word, last word, mean, the words just
outside) and the tagger's own probabilities at its edges, and the best one
replaces the predicted span. It only moves boundaries (two pieces of one
span may merge); it never adds a span, so misses and spurious spans stay the
tagger's.

Configured by ``config.span_refiner`` (None: no refiner), weights
``span_refiner.*`` in model.safetensors, trained after the spans on the
frozen model (training/span_refiner.py).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from persian_ie.data.iob import tag_chunks

N_EDGE_FEATURES = 8


class SpanScorer(nn.Module):
    """One scorer of candidate spans ``[start, end)`` of a document's words."""

    def __init__(self, hidden_size: int, edge_tags: tuple[int, int, int], max_width: int, proj_size: int, mlp_size: int, dropout: float):
        super().__init__()
        # tag indices of B-label, I-label and O in the label's layer, for the edge features
        self.b, self.i, self.o = edge_tags
        self.project = nn.Linear(hidden_size, proj_size)
        self.width = nn.Embedding(max_width + 1, 16)
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(5 * proj_size + 16 + N_EDGE_FEATURES, mlp_size), nn.ReLU(),
                                 nn.Dropout(dropout), nn.Linear(mlp_size, 1))

    def forward(self, vectors: torch.Tensor, probs: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        x = self.project(vectors)
        zero = x.new_zeros(1, x.shape[1])
        sums = torch.cat([zero, x.cumsum(0)])
        width = (ends - starts).unsqueeze(1)
        mean = (sums[ends] - sums[starts]) / width
        padded = torch.cat([zero, x, zero])  # the word before the first and after the last is zero
        parts = [x[starts], x[ends - 1], mean, padded[starts], padded[ends + 1], self.width(ends - starts), self._edges(probs, starts, ends)]
        return self.mlp(torch.cat(parts, 1)).squeeze(1)

    def _edges(self, probs: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """What the tagger says at the candidate's edges: B/I at its first word, I inside, what
        follows it and what precedes it (outside the text counts as O)."""
        outside = probs.new_zeros(1, probs.shape[1])
        outside[0, self.o] = 1.0
        padded = torch.cat([outside, probs, outside])
        inside = torch.cat([probs.new_zeros(1), probs[:, self.i].cumsum(0)])
        width = (ends - starts).float()
        mean_inside = (inside[ends] - inside[starts + 1]) / (width - 1).clamp(min=1)
        after, before = padded[ends + 1], padded[starts]
        return torch.stack([probs[starts, self.b], probs[starts, self.i], mean_inside, after[:, self.i], after[:, self.o], before[:, self.o],
                            before[:, self.b] + before[:, self.i], (width == 1).float()], 1)


class SpanRefiner(nn.Module):
    """``members`` scorers trained from different seeds; a candidate's score is their mean. One
    scorer's choice moves with its seed (dev F1 0.57 to 0.68 over five seeds, benchmarks §10c);
    the mean of a few is steadier."""

    def __init__(self, hidden_size: int, tags: list[str], label: str, max_width: int = 24, proj_size: int = 128, mlp_size: int = 256,
                 dropout: float = 0.2, members: int = 1):
        super().__init__()
        self.max_width = max_width
        edge_tags = (tags.index(f"B-{label}"), tags.index(f"I-{label}"), tags.index("O"))
        self.members = nn.ModuleList(SpanScorer(hidden_size, edge_tags, max_width, proj_size, mlp_size, dropout) for _ in range(members))

    def forward(self, vectors: torch.Tensor, probs: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """``vectors`` [words, hidden], ``probs`` [words, tags] of the label's layer, candidate
        ``starts``/``ends`` [candidates] (end exclusive); returns one score per candidate."""
        return torch.stack([m(vectors, probs, starts, ends) for m in self.members]).mean(0)


def build_span_refiner(config) -> SpanRefiner | None:
    """The refiner ``config.span_refiner`` describes, or None."""
    params = getattr(config, "span_refiner", None)
    if not params:
        return None
    tags = config.label_schema.tags(params["layer"])
    settings = {k: params[k] for k in ("max_width", "proj_size", "mlp_size", "dropout", "members") if k in params}
    return SpanRefiner(config.encoder.hidden_size, tags, params["label"], **settings)


def sentence_index(sentence_bounds: list[tuple[int, int]], n_words: int) -> np.ndarray:
    """The sentence number of each word."""
    index = np.zeros(n_words, dtype=np.int64)
    for k, (lo, hi) in enumerate(sentence_bounds):
        index[lo:hi] = k
    return index


def candidate_spans(lo: int, hi: int, sentence_bounds, sentence_of: np.ndarray, max_width: int) -> list[tuple[int, int]]:
    """Spans of at most ``max_width`` words that overlap ``[lo, hi)`` and stay within the
    sentences it touches. ``[lo, hi)`` itself is one of them when it is no wider."""
    first = sentence_bounds[sentence_of[lo]][0]
    last = sentence_bounds[sentence_of[hi - 1]][1]
    return [(s, e) for s in range(max(first, hi - max_width), hi) for e in range(max(s + 1, lo + 1), min(last, s + max_width) + 1)]


def refine_spans(refiner: SpanRefiner, spans: list[tuple[int, int]], vectors: np.ndarray, probs: np.ndarray, sentence_bounds) -> list[tuple[int, int] | None]:
    """The best-scoring candidate for each of ``spans`` (word ranges), in the same order. Refined
    spans never overlap: taken best score first, a span whose best candidate overlaps one already
    taken keeps its own range, or, when that overlaps too (two pieces of one proposal), becomes
    None: it merged into the other."""
    if not spans:
        return []
    sentence_of = sentence_index(sentence_bounds, len(vectors))
    v = torch.from_numpy(np.asarray(vectors, dtype=np.float32))
    p = torch.from_numpy(np.asarray(probs, dtype=np.float32))
    best = []
    with torch.inference_mode():
        for lo, hi in spans:
            cands = candidate_spans(lo, hi, sentence_bounds, sentence_of, refiner.max_width)  # never empty: (hi - 1, hi) is one
            starts, ends = torch.tensor(cands).T
            scores = refiner(v, p, starts, ends)
            k = int(scores.argmax())
            best.append((float(scores[k]), cands[k]))
    out: list = [None] * len(spans)
    taken: list[tuple[int, int]] = []
    for n in sorted(range(len(spans)), key=lambda n: -best[n][0]):
        for span in (best[n][1], spans[n]):
            if all(span[1] <= a or span[0] >= b for a, b in taken):
                out[n] = span
                taken.append(span)
                break
    return out


def label_chunks(tags: list[str], label: str) -> list[tuple[int, int]]:
    """Word ranges of ``label`` in a strict IOB2 reading."""
    return [(lo, hi) for lab, lo, hi in tag_chunks(tags) if lab == label]


def retag(tags: list[str], label: str, spans: list[tuple[int, int]]) -> list[str]:
    """``tags`` with the chunks of ``label`` replaced by ``spans`` (one per chunk, in order; None
    drops it); a span that would cut into
    another label's chunk of the same layer is left out and the old chunk kept."""
    others = [(lo, hi) for lab, lo, hi in tag_chunks(tags) if lab != label]
    old = label_chunks(tags, label)
    out = ["O" if (t.startswith(("B-", "I-")) and t[2:] == label) else t for t in tags]
    for span, fallback in zip(spans, old):
        if span is None:  # merged into another refined span
            continue
        lo, hi = span
        if any(lo < b and hi > a for a, b in others):
            lo, hi = fallback
        out[lo] = f"B-{label}"
        out[lo + 1:hi] = [f"I-{label}"] * (hi - lo - 1)
    return out
