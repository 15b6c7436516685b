"""Phase 2 of training: the learned relation head over a frozen encoder.

After span training (or on any trained model directory, ``persian-ie
train-relations``): for a head with ``span_vectors``, one inference pass over
the training documents caches the encoder's word vectors (the default,
features-only head needs no encoder pass); candidate pairs are built on the GOLD spans
(models/relation_head.py) and labelled by the gold relations; the small head
trains for a few epochs on the cached vectors (seconds on CPU); the
threshold of each relation type is then chosen for that type's F1 on dev
(gold spans; ``thresholds_from: dev``, the default) or on out-of-fold scores
of the training documents (5 folds, ``thresholds_from: train_cv``). The
model's config switches to ``persian_ie.relation_head.v1``
with the thresholds, so ``save_pretrained`` writes the head into
model.safetensors (``relation_head.*``) and its settings into config.json.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from persian_ie.data.dataset import fully_annotated
from persian_ie.errors import RelationTrainingError
from persian_ie.models.relation_head import LEARNED_V1, N_FEATURES, TYPE_NAMES, build_relation_head, candidate_tensors, decode

DEFAULTS = {"epochs": 20, "lr": 1e-3, "batch_size": 64, "proj_size": 64, "mlp_size": 128, "dropout": 0.1, "weight_decay": 1e-4, "seed": 13,
            "thresholds_from": "dev",  # dev: tuned on the dev split; train_cv: on out-of-fold scores of train (5 folds)
            "span_vectors": False,  # span vectors lost on dev with the quickstart encoder (docs/benchmarks.md section 9); true adds them
            "max_sentence_gap": {"holder": 0, "proposer": 2, "party": 2}}
THRESHOLD_GRID = tuple(round(x, 2) for x in np.arange(0.05, 0.96, 0.05))


def relation_settings(overrides: dict | None) -> dict:
    """DEFAULTS with ``overrides`` (unknown keys are errors naming the allowed ones)."""
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise RelationTrainingError(f"relation head settings: unknown keys {sorted(unknown)}; allowed: {sorted(DEFAULTS)}")
    if overrides.get("thresholds_from", "train_cv") not in ("train_cv", "dev"):
        raise RelationTrainingError(f"relation head settings: thresholds_from is {overrides['thresholds_from']!r}; use train_cv or dev")
    return {**DEFAULTS, **overrides}


def attach_head(model, settings: dict) -> None:
    """Switch ``model`` to the learned component and give it a fresh ``relation_head``."""
    if not model.schema.relations:
        raise RelationTrainingError(f"schema {model.schema.name!r} has no relation types; a relation head has nothing to learn")
    params = {"proj_size": settings["proj_size"], "mlp_size": settings["mlp_size"], "n_features": N_FEATURES, "span_vectors": bool(settings["span_vectors"]), "dropout": settings["dropout"],
              "max_sentence_gap": dict(settings["max_sentence_gap"]), "thresholds": {t: 0.5 for t in TYPE_NAMES}}
    model.config.relation_model = {"name": LEARNED_V1, "params": params}
    torch.manual_seed(settings["seed"])
    model.relation_head = build_relation_head(model.config).to(next(model.parameters()).device)


def _examples(predictor, docs) -> list[tuple]:
    """Per document: (candidates, head inputs, labels, gold relation keys)."""
    component = predictor.relations
    prepared = [predictor.prepare(d) for d in docs]
    # the encoder runs only for a head that reads span vectors; a features-only head needs word positions
    window_probs = predictor.forward(prepared) if predictor.needs_states else [None] * len(prepared)
    out = []
    for prep, wp in zip(prepared, window_probs):
        doc = prep.doc
        states = predictor.relation_inputs(prep, wp)
        from persian_ie.models.relation_head import candidate_pairs

        cands = candidate_pairs(doc.text or "", doc.spans, prep.tokenized.sentence_offsets(), states[0], component.gaps)
        gold = {(r.type, r.head, r.tail) for r in doc.relations}
        labels = torch.tensor([float((c.type, c.head.id, c.tail.id) in gold) for c in cands])
        out.append((cands, candidate_tensors(cands, *states), labels, gold, prep.tokenized.sentence_offsets()))
    return out


def _stack(examples) -> dict:
    keys = ("head_vecs", "tail_vecs", "features", "type_ids")
    parts = [e for e in examples if e[0]]
    stacked = {k: torch.cat([e[1][k] for e in parts]) for k in keys}
    stacked["labels"] = torch.cat([e[2] for e in parts])
    return stacked


def _fit(head: nn.Module, data: dict, settings: dict) -> list[float]:
    """Binary cross-entropy on the cached pairs; returns the loss per epoch."""
    device = next(head.parameters()).device
    data = {k: v.to(device) for k, v in data.items()}
    optimizer = torch.optim.AdamW(head.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(settings["seed"])
    n, losses = len(data["labels"]), []
    head.train()
    for _ in range(settings["epochs"]):
        total = 0.0
        for idx in torch.randperm(n, generator=generator).split(settings["batch_size"]):
            logits = head(data["head_vecs"][idx], data["tail_vecs"][idx], data["features"][idx], data["type_ids"][idx])
            loss = loss_fn(logits, data["labels"][idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / max(n, 1))
    head.eval()
    return losses


def _scores(head, examples) -> list[list[float]]:
    device = next(head.parameters()).device
    out = []
    with torch.inference_mode():
        for cands, inputs, *_ in examples:
            if not cands:
                out.append([])
                continue
            out.append(torch.sigmoid(head(**{k: v.to(device) for k, v in inputs.items()})).cpu().tolist())
    return out


def type_f1(examples, scores, thresholds: dict) -> dict:
    """Per relation type and micro: (tp, fp, fn, f1) of ``decode`` at ``thresholds``."""
    counts = {t: [0, 0, 0] for t in TYPE_NAMES}
    for (cands, _, _, gold, _), doc_scores in zip(examples, scores):
        pred = {(r.type, r.head, r.tail) for r in decode(cands, doc_scores, thresholds)}
        for t in TYPE_NAMES:
            g, p = {k for k in gold if k[0] == t}, {k for k in pred if k[0] == t}
            counts[t][0] += len(g & p)
            counts[t][1] += len(p - g)
            counts[t][2] += len(g - p)
    counts["micro"] = [sum(c[i] for c in counts.values()) for i in range(3)]
    return {k: (*c, 2 * c[0] / (2 * c[0] + c[1] + c[2]) if c[0] else 0.0) for k, c in counts.items()}


def tune_thresholds(examples, scores) -> dict:
    """Per type, the grid threshold with the best dev F1 of that type (ties: the one nearest 0.5).

    In ``TYPE_NAMES`` order, with the types chosen before in force: party comes
    last because a proposal's proposer is never also its party.
    """
    chosen: dict = {}
    for t in TYPE_NAMES:
        base = {**{u: 1.1 for u in TYPE_NAMES}, **chosen}
        ranked = sorted(THRESHOLD_GRID, key=lambda x: (-type_f1(examples, scores, {**base, t: x})[t][3], abs(x - 0.5)))
        chosen[t] = float(ranked[0])
    return chosen


def out_of_fold_scores(model, train_ex, settings: dict, folds: int = 5) -> list[list[float]]:
    """Scores of each training document from a head trained on the other folds (then discarded)."""
    scores: list = [None] * len(train_ex)
    for fold in range(folds):
        held = [i for i in range(len(train_ex)) if i % folds == fold]
        rest = [e for i, e in enumerate(train_ex) if i % folds != fold and e[0]]
        if not rest:
            continue
        attach_head(model, settings)
        _fit(model.relation_head, _stack(rest), settings)
        for i, doc_scores in zip(held, _scores(model.relation_head, [train_ex[i] for i in held])):
            scores[i] = doc_scores
    return [s if s is not None else [0.0] * len(e[0]) for s, e in zip(scores, train_ex)]


def train_relation_head(model, tokenizer, train_docs, dev_docs, overrides: dict | None = None) -> dict:
    """Attach, train and tune the head on ``model`` in place; returns a summary (dev F1 per type)."""
    from persian_ie.models.predictor import Predictor

    settings = relation_settings(overrides)
    started = time.time()
    # relations are learnt from documents annotated for every label: a partly annotated one
    # (PEYMA: PER and ORG only) would make every pair it cannot see a negative
    train_docs, skipped = fully_annotated(train_docs, model.schema.labels)
    attach_head(model, settings)
    predictor = Predictor(model, tokenizer, device=str(next(model.parameters()).device))
    train_ex = _examples(predictor, train_docs)
    data = _stack(train_ex) if any(e[0] for e in train_ex) else None
    if data is None or not data["labels"].sum():
        raise RelationTrainingError("the training documents give no candidate pair with a gold relation; the relation head needs documents with TITLE/PROPOSAL spans and relations")
    cv_thresholds = None
    if settings["thresholds_from"] == "train_cv":
        cv_thresholds = tune_thresholds(train_ex, out_of_fold_scores(model, train_ex, settings))
        attach_head(model, settings)  # the final head: all training documents
    losses = _fit(model.relation_head, data, settings)
    summary = {"documents": len(train_docs), "partly_annotated_skipped": skipped, "pairs": int(len(data["labels"])), "positives": int(data["labels"].sum()),
               "gold_relations": sum(len(e[3]) for e in train_ex), "loss_first": losses[0], "loss_last": losses[-1]}
    thresholds = {t: 0.5 for t in TYPE_NAMES}
    if dev_docs:
        dev_ex = _examples(predictor, dev_docs)
        dev_scores = _scores(model.relation_head, dev_ex)
        summary["dev_at_0.5"] = type_f1(dev_ex, dev_scores, thresholds)
        thresholds = cv_thresholds or tune_thresholds(dev_ex, dev_scores)
        summary["dev_tuned"] = type_f1(dev_ex, dev_scores, thresholds)
    elif cv_thresholds:
        thresholds = cv_thresholds
    model.config.relation_model["params"]["thresholds"] = thresholds
    summary["thresholds"] = thresholds
    summary["seconds"] = round(time.time() - started, 1)
    return summary


def add_relation_head(model_dir, out_dir, train_docs, dev_docs, overrides: dict | None = None) -> dict:
    """Load the model in ``model_dir``, train its relation head, save the whole model to ``out_dir``
    (``model_dir`` itself after span training). Returns the training summary."""
    from persian_ie.training.saving import add_trained_part

    return add_trained_part(model_dir, out_dir, lambda model, tokenizer: train_relation_head(model, tokenizer, train_docs, dev_docs, overrides))
