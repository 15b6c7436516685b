"""Person-clustering scores: pairwise and B³ precision/recall/F1 with bootstrap CIs.

Gold is a person id per PER mention (``data/annotation/person_ids/*.jsonl``:
one line per document, ``{"id": DOC, "person_ids": {SPAN_ID: PERSON}}``);
predicted ids come from the facts clustering. Mentions are keyed by
``(doc_id, span_id)``, so the same functions score within-article clusters
(ids made document-local) and across-article ones (archive-wide ids).

>>> b_cubed({"a": 1, "b": 1, "c": 2}, {"a": "x", "b": "x", "c": "x"})
(1.0, 0.5555555555555555)
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
from collections import defaultdict
from pathlib import Path

from persian_ie.data.document import iter_json_objects


def _clusters(assign: dict) -> dict:
    out = defaultdict(set)
    for mention, cluster in assign.items():
        out[cluster].add(mention)
    return out


def b_cubed(pred: dict, gold: dict) -> tuple[float, float]:
    """B³ (precision, recall) over the mentions of ``gold`` (missing predictions are singletons)."""
    pred = {m: pred.get(m, ("singleton", m)) for m in gold}
    p_cl, g_cl = _clusters(pred), _clusters(gold)
    precision = sum(len(p_cl[pred[m]] & g_cl[gold[m]]) / len(p_cl[pred[m]]) for m in gold) / max(len(gold), 1)
    recall = sum(len(p_cl[pred[m]] & g_cl[gold[m]]) / len(g_cl[gold[m]]) for m in gold) / max(len(gold), 1)
    return precision, recall


def pair_counts(pred: dict, gold: dict) -> tuple[int, int, int]:
    """(same in both, same in pred, same in gold) counted over mention pairs."""
    pred = {m: pred.get(m, ("singleton", m)) for m in gold}
    both = sum(len(a & b) * (len(a & b) - 1) // 2 for a in _clusters(pred).values() for b in _clusters(gold).values())
    in_pred = sum(len(c) * (len(c) - 1) // 2 for c in _clusters(pred).values())
    in_gold = sum(len(c) * (len(c) - 1) // 2 for c in _clusters(gold).values())
    return both, in_pred, in_gold


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def scores(pred: dict, gold: dict) -> dict:
    bp, br = b_cubed(pred, gold)
    both, in_pred, in_gold = pair_counts(pred, gold)
    pp = both / in_pred if in_pred else 1.0
    pr = both / in_gold if in_gold else 1.0
    return {"b3_p": bp, "b3_r": br, "b3_f1": _f1(bp, br), "pair_p": pp, "pair_r": pr, "pair_f1": _f1(pp, pr),
            "mentions": len(gold), "gold_people": len(_clusters(gold))}


def bootstrap(pred: dict, gold: dict, units: dict, n: int = 1000, seed: int = 0, local: bool = False) -> dict:
    """95% percentile CIs by resampling ``units`` (mention → its document)
    with replacement; a unit drawn twice contributes two copies of its
    mentions; with ``local`` (within-article scores) each copy's ids are its
    own, else a copy is clustered like a second, identical article."""
    groups = defaultdict(list)
    for mention in gold:
        groups[units[mention]].append(mention)
    keys = sorted(groups)
    rng = random.Random(seed)
    samples = defaultdict(list)
    for _ in range(n):
        p, g = {}, {}
        for copy, unit in enumerate(rng.choice(keys) for _ in keys):
            for m in groups[unit]:
                tag = copy if local else None
                p[(copy, m)] = (tag, pred.get(m, ("singleton", m)))
                g[(copy, m)] = (tag, gold[m])
        for name, value in scores(p, g).items():
            samples[name].append(value)
    return {name: (sorted(v)[int(0.025 * n)], sorted(v)[int(0.975 * n) - 1]) for name, v in samples.items()}


def read_gold(path) -> dict:
    """(doc_id, span_id) → gold person id from a person_ids JSONL file."""
    gold = {}
    for row in iter_json_objects(path):
        gold.update({(row["id"], span): person for span, person in row["person_ids"].items()})
    return gold


def predicted_ids(corpus_paths, doc_ids: set) -> dict:
    """(doc_id, span_id) → person id given by the facts build (the code under test, end to end)."""
    from persian_ie.data.document import read_documents, write_documents
    from persian_ie.inference.facts.store import build

    with tempfile.TemporaryDirectory() as tmp:
        docs = [d for p in corpus_paths for d in read_documents(p) if d.id in doc_ids]
        write_documents(Path(tmp) / "docs.jsonl", docs)
        build([Path(tmp) / "docs.jsonl"], Path(tmp) / "facts.db")
        con = sqlite3.connect(Path(tmp) / "facts.db")
        rows = con.execute("SELECT doc_id, span_id, person_id FROM mentions WHERE label = 'PER'").fetchall()
        con.close()
    return {(d, s): p for d, s, p in rows}


def evaluate(gold_path, corpus_paths, across: bool, n: int = 1000) -> dict:
    """Scores and CIs of the facts clustering against one gold file; within
    an article (``across=False``) ids are compared per document."""
    gold = read_gold(gold_path)
    pred = predicted_ids(corpus_paths, {d for d, _ in gold})
    if not across:
        gold = {m: (m[0], g) for m, g in gold.items()}
        pred = {m: (m[0], p) for m, p in pred.items()}
    units = {m: m[0] for m in gold}
    return {"scores": scores(pred, gold), "ci95": bootstrap(pred, gold, units, n, local=not across),
            "documents": len(set(units.values()))}


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="person clustering scores against annotated person ids")
    parser.add_argument("--gold", default="data/annotation/person_ids")
    parser.add_argument("--corpus", nargs="+", default=["data/corpus/train.jsonl", "data/corpus/dev.jsonl", "data/corpus/test.jsonl"])
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args(argv)
    for name, across in (("test.jsonl", False), ("across.jsonl", False), ("across.jsonl", True)):
        result = evaluate(Path(args.gold) / name, args.corpus, across, args.n)
        s, ci = result["scores"], result["ci95"]
        print(f"{name} {'across' if across else 'within'}: {result['documents']} docs, {s['mentions']} mentions, {s['gold_people']} people")
        for key in ("b3_p", "b3_r", "b3_f1", "pair_p", "pair_r", "pair_f1"):
            print(f"  {key:8s} {s[key]:.3f}  [{ci[key][0]:.3f}, {ci[key][1]:.3f}]")


if __name__ == "__main__":
    main()


__all__ = ["b_cubed", "pair_counts", "scores", "bootstrap", "read_gold", "predicted_ids", "evaluate"]
