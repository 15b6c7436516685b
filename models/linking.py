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

Kept refinements (``DEFAULT_RULES``, chosen on dev with the paired bootstrap,
docs/benchmarks.md section 7; ``link(..., rules=())`` gives the rules above alone):

* ``honorific_gap``: honorifics (``دکتر``, ``حجت‌الاسلام``, ...) may stand in the
  apposition gap (``شهردار مشهد دکتر محمد ...``); candidates within 60 characters.
* ``genitive_proposer``: a PER/ORG/TITLE right after the trigger inside the
  proposal (``درخواست استقلالی‌ها برای ...``, SCHEMA.md: "unless it sits inside
  the phrase as a genitive") is the proposer, and so not a party.
* ``addressee_party``: a CITY/ORG after ``از``/``به`` right before the trigger
  (``از سازمان لیگ درخواست``) is a party (the addressee) and never the proposer.
* ``verb_stops_party``: the party search after the proposal also stops at the
  first light verb (``شد``, ``کرد`` ...): what follows is another clause.

Holder stays within one sentence (SCHEMA.md section 3: "not across
sentences"), so the seed's lead office and the next sentence's name are not
linked. Tried and rejected on dev: ``pronoun_proposer``, ``subject_proposer``,
``opening_subject`` (still selectable by name).

Records: ``officials`` (each holder relation: person and title) and
``proposals`` (each PROPOSAL with proposer and parties), each with the
offsets of its source sentence.
"""

from __future__ import annotations

import bisect

from persian_ie.data.document import Relation, Span

PARTY_BREAKS = ("،", ".", ":", "\n", "؛", "!", "؟")
PRONOUNS = ("وی", "او")
LIGHT_VERBS = ("شد", "شدند", "کرد", "کردند", "داد", "دادند", "است", "بود", "شود", "کند", "كرد", "كردند", "كند")
# Optional rules, tried on dev (docs/benchmarks.md section 7); DEFAULT_RULES are the kept ones.
HONORIFICS = ("دکتر", "دكتر", "مهندس", "حجت‌الاسلام", "حجت الاسلام", "حجت‌الاسلام‌والمسلمین", "والمسلمین", "آیت‌الله", "آيت‌الله", "آیت الله", "سردار", "آقای", "آقاي", "خانم", "حضرت", "امام", "سرلشکر", "سرتیپ", "تیمسار", "استاد")
RULES = ("honorific_gap", "genitive_proposer", "opening_subject", "subject_proposer", "pronoun_proposer", "addressee_party", "verb_stops_party")
DEFAULT_RULES: frozenset = frozenset({"genitive_proposer", "verb_stops_party", "addressee_party", "honorific_gap"})
APPOSITION_CHARS = " \t\n\u200c\u00a0«»\"'،,()-–"


_APPOSITION_RUN = set(APPOSITION_CHARS) | set("به عنوان")


class SentenceIndex:
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


def is_apposition_gap(gap: str) -> bool:
    """Apposition: nothing but spaces, quotes, commas, brackets or ``به عنوان`` between."""
    gap = gap.replace("به عنوان", " ")
    return not gap.strip(APPOSITION_CHARS)


def _clamp(pos: int, n: int) -> int:
    return min(max(pos, 0), n)


def is_honorific_gap(gap: str) -> bool:
    """Apposition once honorifics are dropped (``شهردار مشهد دکتر محمد ...``)."""
    words = [w for w in gap.replace("به عنوان", " ").split() if w.strip(APPOSITION_CHARS) not in HONORIFICS]
    return is_apposition_gap(" ".join(words))


def _link_holders(text, spans, sent_of, runs, rules=frozenset()) -> list[Relation]:
    """Candidates come from the apposition run around the title (bisect), not all names."""
    left, right = runs
    if "honorific_gap" in rules:  # honorific letters break the runs: look 60 characters around instead
        left = _Window(left, -60)
        right = _Window(right, 60)
    persons = [(i, s) for i, s in enumerate(spans) if s.label == "PER"]
    by_end, by_start = _Sorted(persons, "end"), _Sorted(persons, "start")
    relations = []
    for title in (s for s in spans if s.label == "TITLE"):
        sent, n = sent_of(title.start), len(text)
        near_before = by_end.between(left[_clamp(title.start, n)], title.start)
        near_after = by_start.between(title.end, right[_clamp(title.end, n)])
        # sorted by list index: ties between equal offsets resolve as the plain scan did
        fits = is_honorific_gap if "honorific_gap" in rules else is_apposition_gap
        before = sorted(c for c in near_before if fits(text[c[1].end:title.start]) and sent_of(c[1].start) == sent)
        after = sorted(c for c in near_after if c[1].start >= title.end and fits(text[title.end:c[1].start]) and sent_of(c[1].start) == sent)
        best = before[-1][1] if before else (after[0][1] if after else None)
        if best is not None:
            relations.append(Relation("holder", title.id, best.id))
    return relations


class _Window:
    """Stands in for a run array: the offset ``reach`` characters away (or the run's, if further)."""

    def __init__(self, runs: list[int], reach: int):
        self.runs, self.reach = runs, reach

    def __getitem__(self, pos: int) -> int:
        far = pos + self.reach
        return min(self.runs[pos], far) if self.reach < 0 else max(self.runs[pos], far)


def _outermost(spans: list[Span]) -> list[Span]:
    """Drop mentions nested in another one (an ORG inside its TITLE)."""
    return [s for s in spans if not any(o is not s and o.start <= s.start and s.end <= o.end and (o.end - o.start) > (s.end - s.start) for o in spans)]


def _latest_before(by_end: _Sorted, pos: int, lo: float, skip=None) -> list[tuple[int, Span]]:
    """Mentions starting at ``lo`` or later that share the largest end <= ``pos``.

    Only those can win the proposer rule (largest end first; a mention that
    contains one of them ends there too), so the rest is never looked at.
    """
    i = bisect.bisect_right(by_end.keys, pos) - 1
    found: list[tuple[int, Span]] = []
    while i >= 0 and (not found or by_end.keys[i] == found[0][1].end):
        if by_end.items[i][1].start >= lo and not (skip and skip(by_end.items[i][1])):
            found.append(by_end.items[i])
        i -= 1
    return sorted(found)


def _genitive(text, prop, agents_by_start):
    """A PER/ORG/TITLE right after the trigger inside the proposal (``درخواست استقلالی‌ها برای ...``)."""
    for _, a in agents_by_start.between(prop.start + 1, prop.end):
        words = text[prop.start:a.start].split()
        if a.end <= prop.end and (len(words) == 1 or (len(words) == 2 and (words[1] in ("از", "اخیر", "اخير") or words[0] == "اعلام"))):
            return a
    return None


def _subject(text, prop, sent, sent_of, agents_by_start):
    """The first mention of the proposal's sentence before it (the subject), not a ``X:`` source line."""
    lo = sent_of.first_offset(sent)
    pool = [a for _, a in agents_by_start.between(lo, prop.start) if a.end <= prop.start]
    pool = [a for a in _outermost(pool) if not (a.label == "ORG" and text[a.end:a.end + 2].strip().startswith(":"))]
    return pool[0] if pool else None


def _opening_subject(text, prop, sent, sent_of, agents_by_start):
    """A name or title opening the proposal's sentence (at most one word before it), not a ``X:`` source."""
    found = _subject(text, prop, sent, sent_of, agents_by_start)
    start = sent_of.starts[sent] if sent_of.starts else 0
    if found is None or found.label == "ORG" or len(text[start:found.start].split()) > 1:
        return None
    after = text[found.end:found.end + 12].split()
    return None if after and after[0].rstrip(":") in ("گفت", "افزود", "می‌گوید", "گفته") or text[found.end:found.end + 2].strip().startswith(":") else found


def _pronoun_antecedent(text, prop, sent, sent_of, persons_by_end):
    """``وی``/``او`` opening the proposal's sentence: the last person named before it."""
    start = sent_of.starts[sent] if sent_of.starts else 0
    words = text[start:prop.start].split()
    if not words or words[0].strip("«»\"'،,:") not in PRONOUNS:
        return None
    i = bisect.bisect_right(persons_by_end.keys, start) - 1
    limit = sent_of.first_offset(max(0, sent - 5))
    if i >= 0 and persons_by_end.items[i][1].start >= limit:
        return persons_by_end.items[i][1]
    return None


def _find_proposer(prop, sent, sent_of, agents_by_end, holder_of, by_id, ctx=None):
    """The nearest outermost mention in the proposal's sentence, else the one before."""
    if ctx is not None:
        text, rules, agents_by_start, persons_by_end = ctx
        found = None
        if "genitive_proposer" in rules:
            found = _genitive(text, prop, agents_by_start)
        if found is None and "pronoun_proposer" in rules:
            found = _pronoun_antecedent(text, prop, sent, sent_of, persons_by_end)
        if found is None and "opening_subject" in rules:
            found = _opening_subject(text, prop, sent, sent_of, agents_by_start)
        if found is None and "subject_proposer" in rules:
            found = _subject(text, prop, sent, sent_of, agents_by_start)
        if found is not None:
            return by_id[holder_of[found.id]] if found.label == "TITLE" and found.id in holder_of else found
    skip = None
    if ctx is not None and "addressee_party" in ctx[1]:
        skip = lambda a: a.label in ("ORG", "CITY") and _is_addressee(ctx[0], a, prop)
    for lo in (sent_of.first_offset(sent), sent_of.first_offset(sent - 1)):
        top = _latest_before(agents_by_end, prop.start, lo, skip)
        if top:
            proposer = max(_outermost([s for _, s in top]), key=lambda a: (a.end, a.label == "PER"))
            if proposer.label == "TITLE" and proposer.id in holder_of:
                proposer = by_id[holder_of[proposer.id]]
            return proposer
    return None


def _is_addressee(text, a, prop) -> bool:
    before = text[max(0, a.start - 4):a.start].split()
    return a.end <= prop.start and is_apposition_gap(text[a.end:prop.start]) and bool(before) and before[-1] in ("از", "به")


def _addressees(text, prop, sent, sent_of, parties_by_start) -> list[tuple[int, Span]]:
    """``از X درخواست`` / ``به X پیشنهاد``: a CITY/ORG right before the trigger, after از/به."""
    lo = max(sent_of.first_offset(sent), prop.start - 200)
    found = []
    for item in parties_by_start.between(lo, prop.start):
        if _is_addressee(text, item[1], prop):
            found.append(item)
    return found


def _verb_stop(text, start, stop) -> int:
    """The first light verb (``شد``, ``کرد`` ...) after the proposal ends the party search."""
    pos = start
    for word in text[start:stop].split():
        pos = text.find(word, pos)
        if word.strip("،.") in LIGHT_VERBS:
            return pos
        pos += len(word)
    return stop


def _link_proposals(text, spans, holders, sent_of, rules=DEFAULT_RULES) -> list[Relation]:
    relations = []
    holder_of = {r.head: r.tail for r in holders}
    by_id = {s.id: s for s in spans}
    agents_by_end = _Sorted([(i, s) for i, s in enumerate(spans) if s.label in ("PER", "ORG", "TITLE")], "end")
    parties_by_start = _Sorted([(i, s) for i, s in enumerate(spans) if s.label in ("CITY", "ORG")], "start")
    breaks = [i for i, ch in enumerate(text) if ch in PARTY_BREAKS]
    ctx = None
    if rules:
        persons_by_end = _Sorted([(i, s) for i, s in enumerate(spans) if s.label == "PER"], "end")
        ctx = (text, rules, _Sorted([(i, s) for i, s in enumerate(spans) if s.label in ("PER", "ORG", "TITLE")], "start"), persons_by_end)
    for prop in (s for s in spans if s.label == "PROPOSAL"):
        sent = sent_of(prop.start)
        proposer = _find_proposer(prop, sent, sent_of, agents_by_end, holder_of, by_id, ctx)
        if proposer is not None:
            relations.append(Relation("proposer", prop.id, proposer.id))
        k = bisect.bisect_left(breaks, prop.end)
        stop = breaks[k] if k < len(breaks) else len(text)
        if "verb_stops_party" in rules:
            stop = _verb_stop(text, prop.end, stop)
        addressed = dict(_addressees(text, prop, sent, sent_of, parties_by_start)) if "addressee_party" in rules else {}
        candidates = {**dict(parties_by_start.between(prop.start, max(prop.end, stop))), **addressed}
        for i, party in sorted(candidates.items(), key=lambda x: x[0]):
            inside = prop.start <= party.start and party.end <= prop.end
            after = prop.end <= party.start and party.end <= stop and sent_of(party.start) == sent
            if (inside or after or i in addressed) and (proposer is None or party.id != proposer.id):
                relations.append(Relation("party", prop.id, party.id))
    return relations


def link(text: str, spans: list[Span], sentence_bounds: list[tuple[int, int]], rules=None) -> list[Relation]:
    """Relations between ``spans`` (original offsets) by the rules above.

    ``sentence_bounds`` are (start, end) character offsets of sentences, in order.
    O(n log n) in spans plus the text length (candidates by bisect), so a
    1,000,000-character document links like many small ones.
    """
    sent_of = SentenceIndex(sentence_bounds)
    rules = DEFAULT_RULES if rules is None else frozenset(rules)
    holders = _link_holders(text, spans, sent_of, _apposition_runs(text), rules)
    return holders + _link_proposals(text, spans, holders, sent_of, rules)


def build_records(text: str, spans: list[Span], relations: list[Relation], sentence_bounds, meta: dict | None = None) -> dict:
    """``officials`` and ``proposals`` records, with source-sentence offsets."""
    by_id = {s.id: s for s in spans}
    meta = {k: v for k, v in (meta or {}).items() if k in ("source", "date", "url", "category")}

    sentences = SentenceIndex(sentence_bounds)

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
