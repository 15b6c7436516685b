"""A learned relation model: candidate pairs scored over the encoder's span vectors.

Candidates (``RELATION_TYPES``): TITLE->PER ``holder``, PROPOSAL->PER/ORG/TITLE
``proposer``, PROPOSAL->CITY/ORG ``party``, with the tail in the head's
sentence or up to ``max_sentence_gap`` sentences before it (holder: same
sentence only, SCHEMA.md section 3; a tail after the head only in the same
sentence). Each pair is scored by ``RelationHead`` (an ``nn.Module`` that
lives in the model as ``relation_head.*`` and is saved in model.safetensors)
from ``pair_features``: relation type, tail label, order, token distance,
sentence gap, what lies between (apposition, honorific, a break, a light
verb, other candidates, a pronoun), subject and apposition cues, hashed
trigger and neighbouring words, and whether the rules (models/linking.py)
would link the pair; with ``span_vectors`` also from the two spans' mean
word vectors (the encoder's last layer at first-subword positions), which
lost on dev with the quickstart encoder (docs/benchmarks.md section 9). Decoding: per head, the best
``holder``/``proposer`` above its type's threshold, every ``party`` above
its threshold, never the proposer also as a party. Each relation carries its
``score`` (the pair's probability).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from persian_ie.data.document import Relation, Span

RELATION_TYPES = {"holder": ("TITLE", ("PER",)), "proposer": ("PROPOSAL", ("PER", "ORG", "TITLE")), "party": ("PROPOSAL", ("CITY", "ORG"))}
TYPE_NAMES = tuple(RELATION_TYPES)
TAIL_LABELS = ("PER", "ORG", "TITLE", "CITY")
SINGLE_TAIL = ("holder", "proposer")  # gold has one holder per title, one proposer per proposal
DEFAULT_GAPS = {"holder": 0, "proposer": 2, "party": 2}
DISTANCE_BUCKETS = (0, 1, 2, 4, 8, 16, 32)
SPEECH_VERBS = ("گفت", "افزود", "اظهار", "تاکید", "تأکید", "خواستار", "گفته", "اعلام")
LEXICAL_BUCKETS = 16  # hashed words: the head's first word (trigger), the words right before and after the tail
N_FEATURES = 3 + 4 + 4 + (len(DISTANCE_BUCKETS) + 1) + 3 + 3 + 4 + 8 + 5 + 3 * LEXICAL_BUCKETS


@dataclass
class Candidate:
    type: str
    head: Span
    tail: Span
    features: list[float]


class RelationHead(nn.Module):
    """Pair scorer: shared span projection, then an MLP with one logit per relation type."""

    def __init__(self, hidden_size: int, proj_size: int = 64, mlp_size: int = 128, n_features: int = N_FEATURES, dropout: float = 0.1, span_vectors: bool = True):
        super().__init__()
        # span_vectors=False: pair features only (proj_size 0), the variant that won on dev with the e5-small quickstart encoder
        self.proj_size = proj_size if span_vectors else 0
        if self.proj_size:
            self.span_proj = nn.Linear(hidden_size, proj_size)
        self.mlp = nn.Sequential(nn.Linear(3 * self.proj_size + n_features, mlp_size), nn.ReLU(), nn.Dropout(dropout), nn.Linear(mlp_size, len(TYPE_NAMES)))

    def forward(self, head_vecs, tail_vecs, features, type_ids):
        inputs = [features]
        if self.proj_size:
            h, t = torch.tanh(self.span_proj(head_vecs)), torch.tanh(self.span_proj(tail_vecs))
            inputs = [h, t, h * t, features]
        logits = self.mlp(torch.cat(inputs, dim=-1))
        return logits.gather(1, type_ids.unsqueeze(1)).squeeze(1)


def build_relation_head(config) -> RelationHead | None:
    """The head a config's ``relation_model`` asks for (None for the rules or no relations)."""
    spec = config.relation_model or {}
    if spec.get("name") != LEARNED_V1:
        return None
    params = spec.get("params") or {}
    return RelationHead(config.encoder.hidden_size, params.get("proj_size", 64), params.get("mlp_size", 128), params.get("n_features", N_FEATURES),
                        params.get("dropout", 0.1), params.get("span_vectors", True))


LEARNED_V1 = "persian_ie.relation_head.v1"

# ---- candidates and features ---------------------------------------------------------


def _one_hot(index: int, size: int) -> list[float]:
    out = [0.0] * size
    out[min(index, size - 1)] = 1.0
    return out


def _bucket(distance: int) -> int:
    return bisect.bisect_left(DISTANCE_BUCKETS, distance)


def _order(head: Span, tail: Span) -> int:
    """0 tail before head, 1 tail inside head, 2 head inside tail, 3 tail after head."""
    if tail.end <= head.start:
        return 0
    if head.start <= tail.start and tail.end <= head.end:
        return 1
    if tail.start <= head.start and head.end <= tail.end:
        return 2
    return 3


class _DocIndex:
    """Sentence and word numbers of character offsets."""

    def __init__(self, text: str, bounds, word_starts: list[int]):
        from persian_ie.models.linking import SentenceIndex

        self.text = text
        self.sentence = SentenceIndex(bounds)  # the linker's own index: one notion of "same sentence"
        self.word_starts = word_starts

    def word(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self.word_starts, pos) - 1)


def _gap_text(text: str, head: Span, tail: Span) -> str:
    lo, hi = (tail.end, head.start) if tail.end <= head.start else (head.end, tail.start)
    return text[lo:hi] if lo < hi else ""


@dataclass
class _Context:
    """Document-wide facts about mentions, computed once per document."""

    rules: set  # (type, head id, tail id) the rules link
    nested: set  # ids of mentions inside a longer one
    partnered: set  # ids of TITLE/PER mentions in apposition with a PER/TITLE
    subjects: set  # ids of the first outermost PER/ORG/TITLE of each sentence
    proposal_starts: list  # sorted starts of PROPOSAL spans


def _context(text, spans, bounds, index: _DocIndex) -> _Context:
    from persian_ie.models.linking import is_apposition_gap, link

    by_sentence = _by_sentence(spans, index)  # pairs are looked for within a sentence: linear in documents of many sentences
    nested = {s.id for group in by_sentence.values() for s in group
              if any(o is not s and o.start <= s.start and s.end <= o.end and (o.end - o.start) > (s.end - s.start) for o in group)}
    partnered = set()
    for group in by_sentence.values():
        for t, p in ((t, p) for t in group if t.label == "TITLE" for p in group if p.label == "PER"):
            lo, hi = (p.end, t.start) if p.end <= t.start else (t.end, p.start)
            if lo <= hi and hi - lo < 60 and is_apposition_gap(text[lo:hi]):
                partnered.update((t.id, p.id))
    subjects, seen = set(), set()
    for s in sorted((s for s in spans if s.label in ("PER", "ORG", "TITLE") and s.id not in nested), key=lambda s: s.start):
        sent = index.sentence(s.start)
        if sent not in seen:
            seen.add(sent)
            subjects.add(s.id)
    rules = {(r.type, r.head, r.tail) for r in link(text, spans, bounds)}
    return _Context(rules, nested, partnered, subjects, sorted(s.start for s in spans if s.label == "PROPOSAL"))


def _by_sentence(spans, index: _DocIndex) -> dict[int, list[Span]]:
    groups: dict[int, list[Span]] = {}
    for s in spans:
        groups.setdefault(index.sentence(s.start), []).append(s)
    return groups


def _extra_cues(head: Span, tail: Span, index: _DocIndex, ctx: _Context) -> list[float]:
    """Subject, apposition partner, a speech verb after the tail, another proposal or a pronoun between."""
    after = index.text[tail.end:tail.end + 40].split()[:3]
    lo, hi = sorted((tail.end, head.start))
    k = bisect.bisect_right(ctx.proposal_starts, lo)
    other_proposal = k < len(ctx.proposal_starts) and ctx.proposal_starts[k] < hi and ctx.proposal_starts[k] != head.start
    words = index.text[lo:hi].split() if lo < hi else []
    return [float(tail.id in ctx.subjects), float(tail.id in ctx.partnered), float(any(w.strip("،.:") in SPEECH_VERBS for w in after)),
            float(other_proposal), float(any(w.strip("«»،,:") in ("وی", "او") for w in words))]


def _word_bucket(word: str) -> int:
    import zlib

    return zlib.crc32(word.strip("«»\"'،,.:؛()").encode("utf-8")) % LEXICAL_BUCKETS


def _lexical(head: Span, tail: Span, text: str) -> list[float]:
    """Hashed identity of the trigger and of the tail's neighbouring words (stable across runs: crc32)."""
    out = []
    for words in (text[head.start:head.end].split()[:1], text[max(0, tail.start - 30):tail.start].split()[-1:], text[tail.end:tail.end + 30].split()[:1]):
        out += _one_hot(_word_bucket(words[0]), LEXICAL_BUCKETS) if words else [0.0] * LEXICAL_BUCKETS
    return out


def pair_features(c_type: str, head: Span, tail: Span, index: _DocIndex, rank: int, between: int, ctx: _Context) -> list[float]:
    """The pair's hand-made features (``N_FEATURES`` floats)."""
    from persian_ie.models.linking import LIGHT_VERBS, PARTY_BREAKS, is_apposition_gap, is_honorific_gap

    gap = _gap_text(index.text, head, tail)
    order = _order(head, tail)
    distance = abs(index.word(head.start) - index.word(tail.start))
    sent_gap = index.sentence(head.start) - index.sentence(tail.start)
    before = index.text[max(0, tail.start - 4):tail.start].split()
    cues = [
        float(order in (0, 3) and is_apposition_gap(gap)),
        float(order in (0, 3) and is_honorific_gap(gap)),
        float(any(ch in gap for ch in PARTY_BREAKS)),
        float(any(w.strip("،.") in LIGHT_VERBS for w in gap.split())),
        float(bool(before) and before[-1] in ("از", "به")),
        float((c_type, head.id, tail.id) in ctx.rules),
        float(tail.id in ctx.nested),
        float(index.text[tail.end:tail.end + 2].strip().startswith(":")),
    ]
    return (_one_hot(TYPE_NAMES.index(c_type), 3) + _one_hot(TAIL_LABELS.index(tail.label), 4) + _one_hot(order, 4)
            + _one_hot(_bucket(distance), len(DISTANCE_BUCKETS) + 1) + _one_hot(max(sent_gap, 0), 3) + _one_hot(between, 3) + _one_hot(rank, 4) + cues + _extra_cues(head, tail, index, ctx) + _lexical(head, tail, index.text))


def candidate_pairs(text: str, spans: list[Span], bounds, word_starts: list[int], gaps: dict | None = None) -> list[Candidate]:
    """Every allowed (type, head, tail) pair of ``spans`` with its features."""
    gaps = {**DEFAULT_GAPS, **(gaps or {})}
    index = _DocIndex(text, bounds, word_starts)
    ctx = _context(text, spans, bounds, index)
    out = []
    by_sentence = _by_sentence(spans, index)
    for c_type, (head_label, tail_labels) in RELATION_TYPES.items():
        for head in (s for s in spans if s.label == head_label):
            h_sent = index.sentence(head.start)
            near = [t for k in range(h_sent - gaps[c_type], h_sent + 1) for t in by_sentence.get(k, ())]
            fits = [t for t in near if t.label in tail_labels and t is not head and not (t.start >= head.end and index.sentence(t.start) != h_sent)]
            by_distance = sorted(fits, key=lambda t: abs(index.word(head.start) - index.word(t.start)))
            for rank, tail in enumerate(by_distance):
                lo, hi = sorted((tail.start, head.start))
                between = sum(1 for o in fits if o is not tail and lo < o.start < hi)
                feats = pair_features(c_type, head, tail, index, rank, min(between, 2), ctx)
                out.append(Candidate(c_type, head, tail, feats))
    return out


# ---- span vectors, scoring and decoding ------------------------------------------------


def span_vector(span: Span, word_starts: list[int], word_ends: list[int], states: np.ndarray) -> np.ndarray:
    """Mean word vector of the words the span covers (the nearest word if none)."""
    lo = bisect.bisect_left(word_ends, span.start + 1)
    hi = bisect.bisect_left(word_starts, span.end)
    if hi <= lo:
        hi = min(lo + 1, len(states))
        lo = max(0, hi - 1)
    return states[lo:hi].mean(axis=0)


def candidate_tensors(cands: list[Candidate], word_starts, word_ends, states: np.ndarray) -> dict:
    """Inputs of ``RelationHead`` for ``cands`` (float32 tensors)."""
    cache: dict[str, np.ndarray] = {}

    def vec(span):
        if span.id not in cache:
            cache[span.id] = span_vector(span, word_starts, word_ends, states)
        return cache[span.id]

    width = states.shape[1] if len(states) else 1
    if not cands:
        return {"head_vecs": torch.zeros(0, width), "tail_vecs": torch.zeros(0, width), "features": torch.zeros(0, N_FEATURES), "type_ids": torch.zeros(0, dtype=torch.long)}
    return {
        "head_vecs": torch.tensor(np.stack([vec(c.head) for c in cands]), dtype=torch.float32),
        "tail_vecs": torch.tensor(np.stack([vec(c.tail) for c in cands]), dtype=torch.float32),
        "features": torch.tensor([c.features for c in cands], dtype=torch.float32),
        "type_ids": torch.tensor([TYPE_NAMES.index(c.type) for c in cands], dtype=torch.long),
    }


def decode(cands: list[Candidate], scores, thresholds: dict) -> list[Relation]:
    """Relations scoring above their type's threshold; one holder/proposer per head; a proposer is never also a party."""
    best: dict[tuple[str, str], tuple[float, Candidate]] = {}
    parties = []
    for cand, score in zip(cands, scores):
        if score <= thresholds.get(cand.type, 0.5):  # above the threshold: 1.0 switches a type off
            continue
        if cand.type in SINGLE_TAIL:
            key = (cand.type, cand.head.id)
            if key not in best or score > best[key][0]:
                best[key] = (float(score), cand)
        else:
            parties.append((float(score), cand))
    relations = [Relation(c.type, c.head.id, c.tail.id, round(s, 4)) for s, c in best.values()]
    proposers = {(r.head, r.tail) for r in relations if r.type == "proposer"}
    relations += [Relation("party", c.head.id, c.tail.id, round(s, 4)) for s, c in parties if (c.head.id, c.tail.id) not in proposers]
    return relations
