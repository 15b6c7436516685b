"""Training the span boundary refiner (models/span_refiner.py) on a frozen model.

After span training (``model.refine_spans: true``) or on any trained model
directory (``persian-ie train-refiner``): one inference pass over the
training documents gives the encoder's word vectors and the tagger's
probabilities; for every GOLD span of the label, the candidates around it
(every span overlapping it, within its sentence, at most ``max_width``
words) are scored and the refiner learns, by cross-entropy over them, to
put the gold one first. Seconds to a minute on CPU after the inference pass.
The summary gives exact-match F1 of the label on dev with the tagger's spans
and with the refined ones (word ranges, before edge punctuation is trimmed;
the evaluation harness gives the real figure).
"""

from __future__ import annotations

import random
import time

import torch
from torch import nn

from persian_ie.data.dataset import fully_annotated
from persian_ie.data.iob import spans_to_tags
from persian_ie.errors import RefinerTrainingError
from persian_ie.models.span_refiner import build_span_refiner, candidate_spans, label_chunks, refine_spans, sentence_index

# max_width 16 and 3 epochs: the best dev mean over 5 seeds of the variants tried (benchmarks §10c);
# one member: 3 averaged scorers were no steadier over seeds
DEFAULTS = {"label": "PROPOSAL", "max_width": 16, "proj_size": 128, "mlp_size": 256, "dropout": 0.2, "members": 1,
            "epochs": 3, "lr": 1e-3, "weight_decay": 1e-4, "seed": 13}
ARCHITECTURE = ("label", "max_width", "proj_size", "mlp_size", "dropout", "members")


def refiner_settings(overrides: dict | None) -> dict:
    """DEFAULTS with ``overrides`` (unknown keys are errors naming the allowed ones)."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise RefinerTrainingError(f"span refiner settings: unknown keys {unknown}; allowed: {sorted(DEFAULTS)}")
    return {**DEFAULTS, **overrides}


def refined_layer(schema, label: str) -> str:
    """The schema layer that tags ``label``."""
    layers = [layer for layer in schema.layers if f"B-{label}" in schema.tags(layer)]
    if not layers:
        raise RefinerTrainingError(f"span refiner: label {label!r} is in no layer of schema {schema.name!r}")
    return layers[0]


def attach_refiner(model, settings: dict) -> None:
    """Give ``model`` a fresh refiner for ``settings['label']``."""
    layer = refined_layer(model.schema, settings["label"])
    model.config.span_refiner = {**{k: settings[k] for k in ARCHITECTURE}, "layer": layer}
    torch.manual_seed(settings["seed"])
    model.span_refiner = build_span_refiner(model.config).to(next(model.parameters()).device)


def word_inputs(predictor, docs, label: str, layer: str) -> list[dict]:
    """Per document: word vectors, the layer's probabilities, sentence bounds (in words), the
    tagger's and the gold word ranges of ``label``."""
    prepared = [predictor.prepare(d) for d in docs]
    out = []
    for prep, window_probs in zip(prepared, predictor.forward(prepared, states=True)):
        probs, vectors = predictor.word_outputs(prep, window_probs, layer)
        tags, _ = predictor.decoders[layer].decode(probs)
        # gold word ranges as span training aligns them (spans_to_tags), read back as chunks
        gold = spans_to_tags(prep.tokenized.tokens, prep.doc.spans, predictor.schema)[layer]
        out.append({"vectors": vectors, "probs": probs, "bounds": prep.tokenized.sentence_bounds(),
                    "predicted": label_chunks(tags, label), "gold": label_chunks(gold, label)})
    return out


def _fit(refiner, items: list[dict], settings: dict) -> list[float]:
    """Cross-entropy over each gold span's candidates; returns the mean loss per epoch."""
    examples = []
    for item in items:
        sentence_of = sentence_index(item["bounds"], len(item["vectors"]))
        tensors = (torch.from_numpy(item["vectors"]), torch.from_numpy(item["probs"]))
        for lo, hi in item["gold"]:
            cands = candidate_spans(lo, hi, item["bounds"], sentence_of, refiner.max_width)
            if (lo, hi) in cands:  # a gold span wider than max_width cannot be chosen: nothing to learn
                examples.append((tensors, torch.tensor(cands).T, cands.index((lo, hi))))
    if not examples:
        raise RefinerTrainingError("span refiner: the training documents have no gold span of the label to learn from")
    losses = [0.0] * settings["epochs"]
    deterministic = torch.are_deterministic_algorithms_enabled()
    # the backward of the gathers accumulates in parallel in an order that varies run to run, and a few
    # hundred updates amplify it (dev F1 0.61 vs 0.62 from one seed): the deterministic kernels keep a seed a seed
    torch.use_deterministic_algorithms(True)
    try:
        for k, member in enumerate(refiner.members):  # member k: seed + k for its dropout and example order
            torch.manual_seed(settings["seed"] + k)
            optimizer = torch.optim.AdamW(member.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
            member.train()
            for epoch, loss in enumerate(_epochs(member, list(examples), optimizer, random.Random(settings["seed"] + k), settings["epochs"])):
                losses[epoch] += loss / len(refiner.members)
    finally:
        torch.use_deterministic_algorithms(deterministic)
    refiner.eval()
    return losses


def _epochs(scorer, examples, optimizer, rng, epochs: int) -> list[float]:
    """Mean loss per epoch of one scorer."""
    losses = []
    for _ in range(epochs):
        rng.shuffle(examples)
        total = 0.0
        for (vectors, probs), (starts, ends), target in examples:
            scores = scorer(vectors, probs, starts, ends)
            loss = nn.functional.cross_entropy(scores.unsqueeze(0), torch.tensor([target]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        losses.append(total / len(examples))
    return losses


def exact_f1(items: list[dict], refiner=None) -> dict:
    """Exact-match P/R/F1 of the tagger's ranges, or of the refined ones with ``refiner``."""
    tp = fp = fn = 0
    for item in items:
        predicted = item["predicted"]
        if refiner is not None:
            predicted = [s for s in refine_spans(refiner, predicted, item["vectors"], item["probs"], item["bounds"]) if s is not None]
        pred, gold = set(predicted), set(item["gold"])
        tp, fp, fn = tp + len(pred & gold), fp + len(pred - gold), fn + len(gold - pred)
    return {"tp": tp, "fp": fp, "fn": fn, "f1": round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0}


def train_span_refiner(model, tokenizer, train_docs, dev_docs, overrides: dict | None = None) -> dict:
    """Attach and train the refiner on ``model`` in place; returns a summary (dev F1 before/after)."""
    from persian_ie.models.predictor import Predictor

    settings = refiner_settings(overrides)
    started = time.time()
    layer = refined_layer(model.schema, settings["label"])
    # a partly annotated document (PEYMA) has no gold spans of the label to learn boundaries from
    train_docs, skipped = fully_annotated(train_docs, [settings["label"]])
    predictor = Predictor(model, tokenizer, device=str(next(model.parameters()).device))
    with torch.inference_mode():
        train_items = word_inputs(predictor, train_docs, settings["label"], layer)
        dev_items = word_inputs(predictor, dev_docs, settings["label"], layer) if dev_docs else None
    # the refiner is built right before it trains, so a seed gives the same refiner here and in
    # bench/refiner_variants.py (which builds it the same way after its own inference pass)
    attach_refiner(model, settings)
    losses = _fit(model.span_refiner, train_items, settings)
    summary = {"label": settings["label"], "documents": len(train_docs), "partly_annotated_skipped": skipped,
               "gold_spans": sum(len(i["gold"]) for i in train_items), "loss_first": losses[0], "loss_last": losses[-1]}
    if dev_items is not None:
        summary["dev_tagger"] = exact_f1(dev_items)
        summary["dev_refined"] = exact_f1(dev_items, model.span_refiner)
    summary["seconds"] = round(time.time() - started, 1)
    return summary


def add_span_refiner(model_dir, out_dir, train_docs, dev_docs, overrides: dict | None = None) -> dict:
    """Load the model in ``model_dir``, train its refiner, save the whole model to ``out_dir``
    (``model_dir`` itself after span training). Returns the training summary."""
    from persian_ie.training.saving import add_trained_part

    return add_trained_part(model_dir, out_dir, lambda model, tokenizer: train_span_refiner(model, tokenizer, train_docs, dev_docs, overrides))
