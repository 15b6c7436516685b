"""PROPOSAL error breakdown of predictions vs gold (issue 10 item 3).

Each gold PROPOSAL is ``exact`` (same offsets as a predicted one), a
``boundary`` error (overlaps a predicted PROPOSAL, offsets differ: ``start``,
``end`` or ``both`` wrong) or a ``miss`` (no predicted PROPOSAL overlaps it).
A predicted PROPOSAL overlapping no gold one is ``spurious``. Counts are also
given by the pattern of the gold span (the predicted one for spurious):

* ``trigger_only``: one word (``درخواست``, ``خواستار`` before a که clause);
* ``content_first_ra``: content first, then را and the trigger
  (``طرح ایجاد مرکز را پیشنهاد``);
* ``khastar``: ``خواستار X`` (``خواستار شفاف‌سازی ...``);
* ``invitation``: ``دعوت ...``;
* ``trigger_content``: trigger then what is proposed (the rest).
"""

from __future__ import annotations

PATTERNS = ("trigger_only", "content_first_ra", "khastar", "invitation", "trigger_content")
KINDS = ("exact", "boundary", "miss", "spurious")


def proposal_pattern(text: str) -> str:
    """The pattern of one PROPOSAL surface string (first match in PATTERNS order)."""
    words = text.split()
    if len(words) <= 1:
        return "trigger_only"
    if "را" in words[1:]:
        return "content_first_ra"
    if words[0] in ("خواستار", "خواهان"):
        return "khastar"
    if words[0].startswith("دعوت"):
        return "invitation"
    return "trigger_content"


def _proposals(doc) -> list[tuple[int, int]]:
    return sorted({(s.start, s.end) for s in doc.spans if s.label == "PROPOSAL"})


def _empty() -> dict:
    return {"gold": 0, "predicted": 0, **{k: 0 for k in KINDS}, "boundary_start": 0, "boundary_end": 0, "boundary_both": 0}


def _add_gold(row: dict, kind: str, side: str | None) -> None:
    row["gold"] += 1
    row[kind] += 1
    if side:
        row[f"boundary_{side}"] += 1


def document_proposal_errors(gold, pred, total: dict, by_pattern: dict, examples: list, max_examples: int = 5) -> None:
    """Add one document pair's counts into ``total`` and ``by_pattern``."""
    text = gold.text or ""
    golds, preds = _proposals(gold), _proposals(pred)
    total["predicted"] += len(preds)
    overlaps = lambda a, b: a[0] < b[1] and b[0] < a[1]
    for g in golds:
        pattern = proposal_pattern(text[g[0]:g[1]])
        near = [p for p in preds if overlaps(g, p)]
        if g in preds:
            kind, side = "exact", None
        elif near:
            p = min(near, key=lambda p: abs(p[0] - g[0]) + abs(p[1] - g[1]))
            kind = "boundary"
            side = "both" if p[0] != g[0] and p[1] != g[1] else ("start" if p[0] != g[0] else "end")
            if len(examples) < max_examples:
                examples.append({"doc": gold.id, "gold": text[g[0]:g[1]], "predicted": text[p[0]:p[1]], "wrong": side})
        else:
            kind, side = "miss", None
        _add_gold(total, kind, side)
        _add_gold(by_pattern[pattern], kind, side)
    for p in preds:
        if not any(overlaps(g, p) for g in golds):
            total["spurious"] += 1
            by_pattern[proposal_pattern(text[p[0]:p[1]])]["spurious"] += 1
    for p in preds:
        by_pattern[proposal_pattern(text[p[0]:p[1]])]["predicted"] += 1


def proposal_errors(pairs, max_examples: int = 5) -> dict:
    """Breakdown over document pairs (objects with ``.gold`` and ``.pred`` Documents)."""
    total, examples = _empty(), []
    by_pattern = {p: _empty() for p in PATTERNS}
    for pair in pairs:
        document_proposal_errors(pair.gold, pair.pred, total, by_pattern, examples, max_examples)
    return {"total": total, "by_pattern": by_pattern, "boundary_examples": examples}


def format_proposal_errors(breakdown: dict) -> str:
    """Printed table: one row for all PROPOSALs, one per pattern."""
    cols = ("gold", "exact", "boundary", "boundary_start", "boundary_end", "boundary_both", "miss", "predicted", "spurious")
    head = f"{'PROPOSAL errors':<18}" + "".join(f"{c.replace('boundary_', 'b.'):>10}" for c in cols)
    rows = [("all", breakdown["total"])] + list(breakdown["by_pattern"].items())
    return "\n".join([head] + [f"{name:<18}" + "".join(f"{row[c]:>10}" for c in cols) for name, row in rows])
