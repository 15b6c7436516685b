"""Within-article person clustering (rules documented in docs/facts.md).

Input is one ``Document`` (gold or predicted); output is one ``Cluster`` per
person with the indexes of its PER spans. Only this module decides which
mentions of an article are the same person; the store decides across articles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from persian_ie.data.document import Document, Span
from persian_ie.data.names import edit_distance, name_tokens, office_key, person_key

_SENTENCE_END = re.compile(r"[.!?؟\n]")
_GAP_OK = re.compile(r"^[\s،,:؛\-–()«»]*$")
MIN_TAIL = 4  # a full name's last word shorter than this never absorbs a longer surname


@dataclass
class Cluster:
    key: str  # the person key of the fullest name in the cluster
    tokens: list[str]
    spans: list[Span] = field(default_factory=list)
    offices: set[str] = field(default_factory=set)


def surface(doc: Document, span: Span) -> str:
    if span.text is not None:
        return span.text
    return doc.text[span.start:span.end] if doc.text is not None else ""


def sentence_of(text: str | None, start: int, end: int) -> str | None:
    """The sentence around ``[start, end)``: the evidence shown with each fact."""
    if text is None:
        return None
    left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    right = _SENTENCE_END.search(text, end)
    return text[left:right.end() if right else len(text)].strip()


def title_office(doc: Document, title: Span) -> str:
    """The office key of a TITLE; a bare one-word office («شهردار») is
    completed with a CITY/ORG span that follows it directly in the text."""
    text = surface(doc, title)
    if len(text.split()) == 1 and doc.text is not None:
        for span in doc.spans:
            if span.label in ("CITY", "ORG") and 0 <= span.start - title.end <= 1 and _GAP_OK.match(doc.text[title.end:span.start]):
                return office_key(text, surface(doc, span))
    return office_key(text)


def context_offices(doc: Document, per: Span) -> set[str]:
    """Offices stated for a PER: holder relations, or a TITLE in apposition
    (directly before or after it, separated by nothing but spaces/punctuation)."""
    by_id = doc.span_by_id()
    offices = {title_office(doc, by_id[r.head]) for r in doc.relations
               if r.type == "holder" and r.tail == per.id and r.head in by_id}
    if doc.text is None:
        return offices
    for span in doc.spans:
        if span.label != "TITLE":
            continue
        gap = doc.text[span.end:per.start] if span.end <= per.start else doc.text[per.end:span.start] if per.end <= span.start else None
        if gap is not None and len(gap) <= 3 and _GAP_OK.match(gap):
            offices.add(title_office(doc, span))
    return offices


def cluster_document(doc: Document) -> list[Cluster]:
    """Group the document's PER spans into people (rules in docs/facts.md)."""
    groups: dict[str, Cluster] = {}
    for span in sorted((s for s in doc.spans if s.label == "PER"), key=lambda s: s.start):
        key = person_key(surface(doc, span))
        if not key:
            continue
        cluster = groups.setdefault(key, Cluster(key, name_tokens(surface(doc, span), zwnj="")))
        cluster.spans.append(span)
        cluster.offices |= context_offices(doc, span)
    clusters = list(groups.values())
    for rule in (_partial_of, _near_spelling):
        clusters = _absorb(clusters, rule)
    return clusters


def _absorb(clusters: list[Cluster], rule) -> list[Cluster]:
    """Merge each shorter cluster into the one longer cluster ``rule`` accepts;
    a mention that two different people would accept stays alone (precision first)."""
    clusters.sort(key=lambda c: (-len(c.key), -len(c.tokens)))
    kept: list[Cluster] = []
    for cluster in clusters:
        hosts = [other for other in kept if rule(cluster, other)]
        if len(hosts) == 1:
            host = hosts[0]
            host.spans.extend(cluster.spans)
            host.offices |= cluster.offices
        else:
            kept.append(cluster)
    return kept


def _tails(full: Cluster) -> list[str]:
    """The compact suffixes of a full name at word boundaries (not the whole
    name); a ZWNJ is no boundary, so «سلیمانی» is no tail of «حسن علیدادی‌سلیمانی»."""
    return ["".join(full.tokens[i:]) for i in range(1, len(full.tokens))]


def _partial_of(part: Cluster, full: Cluster) -> bool:
    """A surname-only or partial mention of a longer name: its compact form is
    a word-boundary tail of the full name (معصومی فر → احمد معصومی‌فر), or the
    full name's last word begins it (قلندرشریف → محمدرضا قلندر)."""
    if len(part.key) >= len(full.key) or len(part.key) < 3:
        return False
    return any(part.key == tail or (len(tail) >= MIN_TAIL and part.key.startswith(tail)) for tail in _tails(full))


def _same_shape(a: str, b: str) -> bool:
    return a[0] == b[0] and a[-2:] == b[-2:] and abs(len(a) - len(b)) <= 1


def _near_spelling(part: Cluster, full: Cluster) -> bool:
    """A near-identical spelling (a typo): small edit distance to a tail of the
    full name, and either a shared office or the same surname shape
    (first letter, last two letters, length ±1): مسعودی فر → احمد معصومی‌فر."""
    if len(part.key) >= len(full.key) or len(part.key) < 5:
        return False
    shared_office = bool(part.offices & full.offices)
    for tail in _tails(full):
        limit = max(1, int(0.4 * len(tail)))
        if edit_distance(part.key, tail, limit + 1) <= limit and (shared_office or _same_shape(part.key, tail)):
            return True
    return False


__all__ = ["Cluster", "cluster_document", "sentence_of", "surface", "title_office", "context_offices"]
