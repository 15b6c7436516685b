"""The seed-article checklist (issue 10 item 5): key facts of shabestan-1730839.

The seed (``../shared/corpora/seed/shabestan-1730839.txt``, gold in
``data/corpus/test.jsonl``) is the user's own example; these are the facts a
user reads off it. ``check_seed(doc)`` checks one prediction document (spans
and relations, SCHEMA.md format) and returns one result per fact;
``format_checklist`` prints them as ✓/✗ lines.

Surface strings are compared after folding Arabic ي/ك and removing spaces and
zero-width characters, since the article spells names both ways
(``معصومی‌فر`` / ``معصومیفر``, ``یونیسف`` / ``یونسیف``).

The representative's holder (the lead's «رئیس نمایندگی وزارت امور خارجه در
خراسان رضوی» and «احمد معصومی‌فر» at the start of the next sentence) is shown
but not counted: SCHEMA.md section 3 keeps ``holder`` within a sentence, so
the gold annotation does not have it.

    python -m persian_ie.eval.checklist predictions.jsonl
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from persian_ie.data.normalize import ZERO_WIDTH

# Bidi marks carry no letters either; they are not in ZERO_WIDTH because the
# normalizer keeps them in the text.
_INVISIBLE = ZERO_WIDTH | {"\u200e", "\u200f"}

SEED_ID = "shabestan-1730839"
UNICEF = ("یونیسف", "یونسیف")
UNESCO = ("یونسکو",)


def fold(text: str) -> str:
    """Comparison key: Persian letters, no spaces or zero-width characters."""
    text = text.replace("ي", "ی").replace("ك", "ک").replace("ى", "ی")
    return "".join(ch for ch in text if not ch.isspace() and ch not in _INVISIBLE)


@dataclass
class Fact:
    name: str
    ok: bool
    counted: bool = True


class _View:
    """Folded span texts and relations of one document."""

    def __init__(self, doc):
        text = doc.text or ""
        self.spans = {s.id: (s.label, fold(text[s.start:s.end] if text else (s.text or ""))) for s in doc.spans}
        self.rels = [(r.type, r.head, r.tail) for r in doc.relations]

    def tails(self, kind: str, head: str) -> list[tuple[str, str]]:
        return [self.spans[t] for k, h, t in self.rels if k == kind and h == head and t in self.spans]

    def heads(self, label: str, contains: str) -> list[str]:
        return [sid for sid, (lab, txt) in self.spans.items() if lab == label and fold(contains) in txt]


def _holder(view, title: str, person: str) -> bool:
    return any(fold(person) in txt for t in view.heads("TITLE", title) for lab, txt in view.tails("holder", t))


def _proposal(view, contains: str, proposer=None, parties=()) -> bool:
    """Some PROPOSAL containing ``contains`` with a proposer matching ``proposer`` and every party."""
    for p in view.heads("PROPOSAL", contains):
        who = view.tails("proposer", p)
        got = [txt for _, txt in view.tails("party", p)]
        if proposer and not any(proposer(lab, txt) for lab, txt in who):
            continue
        if all(any(any(fold(o) in txt for o in options) for txt in got) for options in parties):
            return True
    return False


def _mayor(label: str, txt: str) -> bool:
    return (label == "PER" and "قلندر" in txt) or (label == "TITLE" and txt == fold("شهردار مشهد"))


def check_seed(doc) -> list[Fact]:
    """The seed's key facts, checked against one prediction document."""
    view = _View(doc)
    never_per = [txt for lab, txt in view.spans.values() if lab == "PER" and txt in UNICEF + UNESCO]
    return [
        Fact("official: محمدرضا قلندر ← شهردار مشهد", _holder(view, "شهردار مشهد", "قلندر")),
        Fact("proposal «پیشنهاد خواهرخواندگی مشهد با غزه», proposer the mayor", _proposal(view, "پیشنهاد خواهرخواندگی مشهد با غزه", _mayor)),
        Fact("proposal «پیشنهاد خواهرخواندگی مشهد با غزه», parties مشهد and غزه", _proposal(view, "پیشنهاد خواهرخواندگی مشهد با غزه", None, (("مشهد",), ("غزه",)))),
        Fact("request to UNICEF (اجلاسیه شهرهای دوستدار کودک), party یونیسف", _proposal(view, "اجلاسیه شهرهای دوستدار کودک", None, (UNICEF,))),
        Fact("request to the organization of Islamic capitals (به میزبانی مشهد), parties the organization and مشهد",
             _proposal(view, "اجلاسیه شهرداران", None, (("سازمان شهرها و پایتخت",), ("مشهد",)))),
        Fact("UNESCO and UNICEF never PER", not never_per),
        Fact("representative: معصومی‌فر ← رئیس نمایندگی وزارت امور خارجه (across sentences; not a SCHEMA relation, not counted)",
             _holder(view, "رئیس نمایندگی", "معصومی"), counted=False),
    ]


def format_checklist(facts: list[Fact]) -> str:
    lines = [f"{'✓' if f.ok else '✗'} {f.name}" for f in facts]
    counted = [f for f in facts if f.counted]
    lines.append(f"seed checklist: {sum(f.ok for f in counted)}/{len(counted)} facts")
    return "\n".join(lines)


def main(argv=None) -> int:
    from persian_ie.data.document import read_documents

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m persian_ie.eval.checklist PREDICTIONS.jsonl", file=sys.stderr)
        return 2
    docs = [d for d in read_documents(argv[0]) if d.id == SEED_ID]
    if not docs:
        print(f"{argv[0]}: no document with id {SEED_ID}", file=sys.stderr)
        return 2
    print(format_checklist(check_seed(docs[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
