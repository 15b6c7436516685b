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


def _sentence_index(bounds: list[tuple[int, int]], pos: int) -> int:
    starts = [b[0] for b in bounds]
    return max(0, bisect.bisect_right(starts, pos) - 1)


def _adjacent(gap: str) -> bool:
    """Apposition: nothing but spaces, quotes, commas, brackets or ``به عنوان`` between."""
    gap = gap.replace("به عنوان", " ")
    return not gap.strip(APPOSITION_CHARS)


def _link_holders(text, spans, sent_of) -> list[Relation]:
    relations = []
    persons = [s for s in spans if s.label == "PER"]
    for title in (s for s in spans if s.label == "TITLE"):
        before = [p for p in persons if p.end <= title.start and _adjacent(text[p.end:title.start]) and sent_of(p.start) == sent_of(title.start)]
        after = [p for p in persons if p.start >= title.end and _adjacent(text[title.end:p.start]) and sent_of(p.start) == sent_of(title.start)]
        best = before[-1] if before else (after[0] if after else None)
        if best is not None:
            relations.append(Relation("holder", title.id, best.id))
    return relations


def _outermost(spans: list[Span]) -> list[Span]:
    """Drop mentions nested in another one (an ORG inside its TITLE)."""
    return [s for s in spans if not any(o is not s and o.start <= s.start and s.end <= o.end and (o.end - o.start) > (s.end - s.start) for o in spans)]


def _link_proposals(text, spans, holders, sent_of) -> list[Relation]:
    relations = []
    holder_of = {r.head: r.tail for r in holders}
    by_id = {s.id: s for s in spans}
    agents = [s for s in spans if s.label in ("PER", "ORG", "TITLE")]
    parties = [s for s in spans if s.label in ("CITY", "ORG")]
    for prop in (s for s in spans if s.label == "PROPOSAL"):
        sent = sent_of(prop.start)
        before = [a for a in agents if a.end <= prop.start and sent - 1 <= sent_of(a.start) <= sent]
        proposer = None
        if before:
            same = [a for a in before if sent_of(a.start) == sent]
            pool = _outermost(same or before)
            proposer = max(pool, key=lambda a: (a.end, a.label == "PER"))
            if proposer.label == "TITLE" and proposer.id in holder_of:
                proposer = by_id[holder_of[proposer.id]]
            relations.append(Relation("proposer", prop.id, proposer.id))
        stop = min((text.find(b, prop.end) for b in PARTY_BREAKS if text.find(b, prop.end) != -1), default=len(text))
        for party in parties:
            inside = prop.start <= party.start and party.end <= prop.end
            after = prop.end <= party.start and party.end <= stop and sent_of(party.start) == sent
            if (inside or after) and (proposer is None or party.id != proposer.id):
                relations.append(Relation("party", prop.id, party.id))
    return relations


def link(text: str, spans: list[Span], sentence_bounds: list[tuple[int, int]]) -> list[Relation]:
    """Relations between ``spans`` (original offsets) by the rules above.

    ``sentence_bounds`` are (start, end) character offsets of sentences.
    """
    sent_of = lambda pos: _sentence_index(sentence_bounds, pos)
    holders = _link_holders(text, spans, sent_of)
    return holders + _link_proposals(text, spans, holders, sent_of)


def build_records(text: str, spans: list[Span], relations: list[Relation], sentence_bounds, meta: dict | None = None) -> dict:
    """``officials`` and ``proposals`` records, with source-sentence offsets."""
    by_id = {s.id: s for s in spans}
    meta = {k: v for k, v in (meta or {}).items() if k in ("source", "date", "url", "category")}

    def sentence(pos):
        start, end = sentence_bounds[_sentence_index(sentence_bounds, pos)] if sentence_bounds else (0, len(text))
        return {"start": start, "end": end}

    def ref(span):
        return {"span": span.id, "label": span.label, "text": text[span.start:span.end]}

    officials = []
    for rel in (r for r in relations if r.type == "holder"):
        title, person = by_id[rel.head], by_id[rel.tail]
        officials.append({"person": ref(person), "title": ref(title), "sentence": sentence(title.start), **({"meta": meta} if meta else {})})
    proposals = []
    for prop in (s for s in spans if s.label == "PROPOSAL"):
        proposer = [by_id[r.tail] for r in relations if r.type == "proposer" and r.head == prop.id]
        party = [by_id[r.tail] for r in relations if r.type == "party" and r.head == prop.id]
        proposals.append({
            "proposal": ref(prop),
            "proposer": ref(proposer[0]) if proposer else None,
            "parties": [ref(p) for p in party],
            "sentence": sentence(prop.start),
            **({"meta": meta} if meta else {}),
        })
    return {"officials": officials, "proposals": proposals}
