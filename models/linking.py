"""Rule-based relations (SCHEMA.md section 3) and the records derived from them.

The first, documented linking rule (a learned one may follow):

* ``holder`` TITLE -> PER: a PER in apposition with the TITLE in the same
  sentence: nothing but spaces, quotes, commas, brackets or ``به عنوان``
  between them. A name before the title (``کلایی، شهردار مشهد``, the most
  frequent order in the corpus) wins over one after it (``شهردار مشهد
  محمد ...``). A title with no adjacent name gets no holder.
* ``proposer`` PROPOSAL -> PER/ORG/TITLE: the nearest mention that ends
  before the proposal starts, in its sentence, else in the sentence
  before; mentions nested in another (an ORG inside its TITLE) give way to
  the outer one, and a TITLE with a holder gives way to the holder (the
  name). None when nothing qualifies.
* ``party`` PROPOSAL -> CITY/ORG: every CITY or ORG inside the proposal span
  (other than its proposer), then those following it in the same sentence
  up to the next break (``،`` ``.`` ``:`` ``؛`` ``!`` ``؟`` or a newline).

Records: ``officials`` (each holder relation: person and title) and
``proposals`` (each PROPOSAL with proposer and parties), each with the
offsets of its source sentence.
"""

from __future__ import annotations

import bisect

from persian_ie.data.document import Relation, Span

PARTY_BREAKS = ("،", ".", ":", "\n", "؛", "!", "؟")
APPOSITION_CHARS = " \t\n\u200c\u00a0«»\"'،,()-–"


_APPOSITION_RUN = set(APPOSITION_CHARS) | set("به عنوان")


class _SentenceIndex:
    """Sentence number of a character offset by bisect (starts built once)."""

    def __init__(self, bounds: list[tuple[int, int]]):
        self.bounds = bounds
        self.starts = [b[0] for b in bounds]

    def __call__(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self.starts, pos) - 1)

    def first_offset(self, sent: int) -> float:
        """Smallest offset whose sentence number is ``sent`` or more (sentence 0 takes everything before)."""
        return self.starts[sent] if sent >= 1 else float("-inf")

    def bounds_of(self, pos: int, text_len: int) -> tuple[int, int]:
        return self.bounds[self(pos)] if self.bounds else (0, text_len)


def _apposition_runs(text: str) -> tuple[list[int], list[int]]:
    """For each offset, where the run of apposition characters around it starts and ends.

    A gap can only be an apposition inside such a run, so candidates are looked up
    there instead of scanning every name in the document (linear, not quadratic).
    """
    n = len(text)
    left = list(range(n + 1))
    for i in range(1, n + 1):
        if text[i - 1] in _APPOSITION_RUN:
            left[i] = left[i - 1]
    right = list(range(n + 1))
    for i in range(n - 1, -1, -1):
        if text[i] in _APPOSITION_RUN:
            right[i] = right[i + 1]
    return left, right


class _Sorted:
    """Spans (with their list index) sorted by one offset, for range queries by bisect."""

    def __init__(self, indexed: list[tuple[int, Span]], key: str):
        self.items = sorted(indexed, key=lambda x: (getattr(x[1], key), x[0]))
        self.keys = [getattr(s, key) for _, s in self.items]

    def between(self, lo, hi) -> list[tuple[int, Span]]:
        """Items whose key lies in [lo, hi]."""
        return self.items[bisect.bisect_left(self.keys, lo):bisect.bisect_right(self.keys, hi)]


def _adjacent(gap: str) -> bool:
    """Apposition: nothing but spaces, quotes, commas, brackets or ``به عنوان`` between."""
    gap = gap.replace("به عنوان", " ")
    return not gap.strip(APPOSITION_CHARS)


def _clamp(pos: int, n: int) -> int:
    return min(max(pos, 0), n)


def _link_holders(text, spans, sent_of, runs) -> list[Relation]:
    """Candidates come from the apposition run around the title (bisect), not all names."""
    left, right = runs
    persons = [(i, s) for i, s in enumerate(spans) if s.label == "PER"]
    by_end, by_start = _Sorted(persons, "end"), _Sorted(persons, "start")
    relations = []
    for title in (s for s in spans if s.label == "TITLE"):
        sent, n = sent_of(title.start), len(text)
        near_before = by_end.between(left[_clamp(title.start, n)], title.start)
        near_after = by_start.between(title.end, right[_clamp(title.end, n)])
        # sorted by list index: ties between equal offsets resolve as the plain scan did
        before = sorted(c for c in near_before if _adjacent(text[c[1].end:title.start]) and sent_of(c[1].start) == sent)
        after = sorted(c for c in near_after if c[1].start >= title.end and _adjacent(text[title.end:c[1].start]) and sent_of(c[1].start) == sent)
        best = before[-1][1] if before else (after[0][1] if after else None)
        if best is not None:
            relations.append(Relation("holder", title.id, best.id))
    return relations


def _outermost(spans: list[Span]) -> list[Span]:
    """Drop mentions nested in another one (an ORG inside its TITLE)."""
    return [s for s in spans if not any(o is not s and o.start <= s.start and s.end <= o.end and (o.end - o.start) > (s.end - s.start) for o in spans)]


def _latest_before(by_end: _Sorted, pos: int, lo: float) -> list[tuple[int, Span]]:
    """Mentions starting at ``lo`` or later that share the largest end <= ``pos``.

    Only those can win the proposer rule (largest end first; a mention that
    contains one of them ends there too), so the rest is never looked at.
    """
    i = bisect.bisect_right(by_end.keys, pos) - 1
    found: list[tuple[int, Span]] = []
    while i >= 0 and (not found or by_end.keys[i] == found[0][1].end):
        if by_end.items[i][1].start >= lo:
            found.append(by_end.items[i])
        i -= 1
    return sorted(found)


def _find_proposer(prop, sent, sent_of, agents_by_end, holder_of, by_id):
    """The nearest outermost mention in the proposal's sentence, else the one before."""
    for lo in (sent_of.first_offset(sent), sent_of.first_offset(sent - 1)):
        top = _latest_before(agents_by_end, prop.start, lo)
        if top:
            proposer = max(_outermost([s for _, s in top]), key=lambda a: (a.end, a.label == "PER"))
            if proposer.label == "TITLE" and proposer.id in holder_of:
                proposer = by_id[holder_of[proposer.id]]
            return proposer
    return None


def _link_proposals(text, spans, holders, sent_of) -> list[Relation]:
    relations = []
    holder_of = {r.head: r.tail for r in holders}
    by_id = {s.id: s for s in spans}
    agents_by_end = _Sorted([(i, s) for i, s in enumerate(spans) if s.label in ("PER", "ORG", "TITLE")], "end")
    parties_by_start = _Sorted([(i, s) for i, s in enumerate(spans) if s.label in ("CITY", "ORG")], "start")
    breaks = [i for i, ch in enumerate(text) if ch in PARTY_BREAKS]
    for prop in (s for s in spans if s.label == "PROPOSAL"):
        sent = sent_of(prop.start)
        proposer = _find_proposer(prop, sent, sent_of, agents_by_end, holder_of, by_id)
        if proposer is not None:
            relations.append(Relation("proposer", prop.id, proposer.id))
        k = bisect.bisect_left(breaks, prop.end)
        stop = breaks[k] if k < len(breaks) else len(text)
        for _, party in sorted(parties_by_start.between(prop.start, max(prop.end, stop))):
            inside = prop.start <= party.start and party.end <= prop.end
            after = prop.end <= party.start and party.end <= stop and sent_of(party.start) == sent
            if (inside or after) and (proposer is None or party.id != proposer.id):
                relations.append(Relation("party", prop.id, party.id))
    return relations


def link(text: str, spans: list[Span], sentence_bounds: list[tuple[int, int]]) -> list[Relation]:
    """Relations between ``spans`` (original offsets) by the rules above.

    ``sentence_bounds`` are (start, end) character offsets of sentences, in order.
    O(n log n) in spans plus the text length (candidates by bisect), so a
    1,000,000-character document links like many small ones.
    """
    sent_of = _SentenceIndex(sentence_bounds)
    holders = _link_holders(text, spans, sent_of, _apposition_runs(text))
    return holders + _link_proposals(text, spans, holders, sent_of)


def build_records(text: str, spans: list[Span], relations: list[Relation], sentence_bounds, meta: dict | None = None) -> dict:
    """``officials`` and ``proposals`` records, with source-sentence offsets."""
    by_id = {s.id: s for s in spans}
    meta = {k: v for k, v in (meta or {}).items() if k in ("source", "date", "url", "category")}

    sentences = _SentenceIndex(sentence_bounds)

    def sentence(pos):
        start, end = sentences.bounds_of(pos, len(text))
        return {"start": start, "end": end}

    def ref(span):
        return {"span": span.id, "label": span.label, "text": text[span.start:span.end]}

    officials = []
    for rel in (r for r in relations if r.type == "holder"):
        title, person = by_id[rel.head], by_id[rel.tail]
        officials.append({"person": ref(person), "title": ref(title), "sentence": sentence(title.start), **({"meta": meta} if meta else {})})
    tails: dict[tuple[str, str], list[str]] = {}
    for rel in relations:  # grouped once: a scan of all relations per proposal is quadratic
        tails.setdefault((rel.type, rel.head), []).append(rel.tail)
    proposals = []
    for prop in (s for s in spans if s.label == "PROPOSAL"):
        proposer = [by_id[t] for t in tails.get(("proposer", prop.id), [])]
        party = [by_id[t] for t in tails.get(("party", prop.id), [])]
        proposals.append({
            "proposal": ref(prop),
            "proposer": ref(proposer[0]) if proposer else None,
            "parties": [ref(p) for p in party],
            "sentence": sentence(prop.start),
            **({"meta": meta} if meta else {}),
        })
    return {"officials": officials, "proposals": proposals}
