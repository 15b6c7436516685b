"""Would a marker cross-encoder beat the features-only relation head? (issue 10 item 1; gold spans, dev)

The quickstart's head scores a pair from hand-made pair features only: the
span vectors of the shared encoder lost on dev (benchmarks §9). This bench
tries the other way of using the encoder for relations: re-encode the
context of each head span (a TITLE's sentence; a PROPOSAL's sentence and the
two before it) with the head wrapped in markers («<< ... >>»), so every
candidate tail's vector is read *knowing which head is asked about*, and
fine-tune that encoder (a copy of the quickstart model's) on the train
candidates. One pass per head span, not per pair: 961 passes per epoch
on corpus v1.2's train split.

Scores are compared with the features-only head on the same cached dev
candidates (``bench/relation_variants.py``'s cache), thresholds tuned on dev
and at 0.5::

    python -m persian_ie.bench.relation_cross_encoder --model runs/quickstart/model --cache runs/relcache.pt
"""

from __future__ import annotations

import argparse
import bisect
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from persian_ie.bench.relation_extra_cues import features_head_scores, scored_f1
from persian_ie.bench.relation_variants import cached_examples
from persian_ie.data.document import read_documents
from persian_ie.models.relation_head import N_FEATURES, TYPE_NAMES

OPEN, CLOSE = " << ", " >> "  # single pieces of the e5 tokenizer, absent from news text


@dataclass
class HeadGroup:
    """One encoder pass: a head span's marked context and its candidates (indices into the document's)."""

    doc: int
    cand_idx: list[int]
    input_ids: list[int]
    marker: int  # token index of the opening marker
    tail_tokens: list[tuple[int, int]]  # per candidate: [first, last) token of the tail
    features: torch.Tensor
    type_ids: torch.Tensor
    labels: torch.Tensor


def _sentence_of(bounds, pos: int) -> int:
    return max(0, bisect.bisect_right([b[0] for b in bounds], pos) - 1)


def _marked_window(text: str, head, lo: int, hi: int) -> tuple[str, callable]:
    """The context text[lo:hi] with the head wrapped in markers, and a map from document offsets into it."""
    window = text[lo:head.start] + OPEN + text[head.start:head.end] + CLOSE + text[head.end:hi]

    def moved(pos: int, end: bool = False) -> int:
        # an end offset at the head's start (or end) stays before that marker; a start offset there comes after it
        past = (lambda mark: pos > mark) if end else (lambda mark: pos >= mark)
        return pos - lo + (len(OPEN) if past(head.start) else 0) + (len(CLOSE) if past(head.end) else 0)

    return window, moved


def _token_range(offsets, start: int, end: int) -> tuple[int, int]:
    inside = [i for i, (a, b) in enumerate(offsets) if b > a and a < end and b > start]
    return (inside[0], inside[-1] + 1) if inside else (0, 1)


def head_groups(examples, docs, tokenizer, max_tokens: int = 512) -> list[HeadGroup]:
    groups = []
    for d, ((cands, inputs, labels, _, bounds), doc) in enumerate(zip(examples, docs)):
        by_head = defaultdict(list)
        for i, cand in enumerate(cands):
            by_head[cand.head.id].append(i)
        for idx in by_head.values():
            head = cands[idx[0]].head
            first = min([_sentence_of(bounds, head.start)] + [_sentence_of(bounds, cands[i].tail.start) for i in idx])
            lo, hi = bounds[first][0], max([bounds[_sentence_of(bounds, head.start)][1], head.end] + [cands[i].tail.end for i in idx])
            window, moved = _marked_window(doc.text, head, lo, hi)
            enc = tokenizer(window, return_offsets_mapping=True, truncation=True, max_length=max_tokens)
            offsets = enc["offset_mapping"]
            marker = _token_range(offsets, moved(head.start) - len(OPEN) + 1, moved(head.start) - 1)[0]
            for i in idx:  # the marks must leave every tail's text where the token ranges below look for it
                tail = cands[i].tail
                assert window[moved(tail.start):moved(tail.end, end=True)] == doc.text[tail.start:tail.end], (doc.id, tail)
            tails = [_token_range(offsets, moved(cands[i].tail.start), moved(cands[i].tail.end, end=True)) for i in idx]
            groups.append(HeadGroup(d, idx, enc["input_ids"], marker, tails, inputs["features"][idx], inputs["type_ids"][idx], labels[idx]))
    return groups


class CrossScorer(nn.Module):
    """Encoder over the marked context; MLP over [head marker, tail mean, their product, pair features]."""

    def __init__(self, encoder: nn.Module, use_features: bool, mlp_size: int = 256, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.use_features = use_features
        hidden = encoder.config.hidden_size
        self.mlp = nn.Sequential(nn.Linear(3 * hidden + (N_FEATURES if use_features else 0), mlp_size), nn.ReLU(), nn.Dropout(dropout), nn.Linear(mlp_size, len(TYPE_NAMES)))

    def forward(self, groups: list[HeadGroup]) -> torch.Tensor:
        width = max(len(g.input_ids) for g in groups)
        ids = torch.zeros(len(groups), width, dtype=torch.long)
        mask = torch.zeros(len(groups), width, dtype=torch.long)
        for row, g in enumerate(groups):
            ids[row, :len(g.input_ids)] = torch.tensor(g.input_ids)
            mask[row, :len(g.input_ids)] = 1
        states = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        heads, tails = [], []
        for row, g in enumerate(groups):
            for a, b in g.tail_tokens:
                heads.append(states[row, g.marker])
                tails.append(states[row, a:b].mean(dim=0))
        h, t = torch.stack(heads), torch.stack(tails)
        parts = [h, t, h * t] + ([torch.cat([g.features for g in groups])] if self.use_features else [])
        logits = self.mlp(torch.cat(parts, dim=-1))
        return logits.gather(1, torch.cat([g.type_ids for g in groups]).unsqueeze(1)).squeeze(1)


def train_scorer(scorer: CrossScorer, groups: list[HeadGroup], epochs: int, batch: int, lr: float, head_lr: float, seed: int) -> list[float]:
    for p in scorer.encoder.embeddings.word_embeddings.parameters():
        p.requires_grad_(False)  # as in the quickstart: 250k rows, nothing to learn from 961 contexts
    encoder_params = [p for p in scorer.encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": encoder_params, "lr": lr}, {"params": scorer.mlp.parameters(), "lr": head_lr}], weight_decay=0.01)
    steps = epochs * ((len(groups) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / (0.1 * steps), max(0.0, (steps - s) / (0.9 * steps))))
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(seed)
    losses = []
    scorer.train()
    for epoch in range(epochs):
        total, started = 0.0, time.time()
        for k, idx in enumerate(torch.randperm(len(groups), generator=generator).split(batch)):
            chunk = [groups[i] for i in idx]
            loss = loss_fn(scorer(chunk), torch.cat([g.labels for g in chunk]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
            if k % 20 == 0:
                print(json.dumps({"epoch": epoch, "step": k, "loss": round(total / (k + 1), 4), "s": round(time.time() - started)}), flush=True)
        losses.append(round(total / (k + 1), 4))
    scorer.eval()
    return losses


def group_scores(scorer: CrossScorer, groups: list[HeadGroup], examples) -> list[list[float]]:
    """Per document, the score of each cached candidate (in the cache's order)."""
    scores = [[0.0] * len(e[0]) for e in examples]
    with torch.inference_mode():
        for start in range(0, len(groups), 16):
            chunk = groups[start:start + 16]
            flat = iter(torch.sigmoid(scorer(chunk)).tolist())  # the chunk's candidates, group by group
            for g in chunk:
                for i in g.cand_idx:
                    scores[g.doc][i] = next(flat)
    return scores


def fused(cross: list[list[float]], features: list[list[float]], weight: float) -> list[list[float]]:
    """Per candidate, ``weight`` × the cross-encoder's score + (1 - ``weight``) × the features head's."""
    return [[weight * a + (1 - weight) * b for a, b in zip(doc_a, doc_b)] for doc_a, doc_b in zip(cross, features)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--layers", type=int, default=0, help="keep only the encoder's first N layers (0: all)")
    parser.add_argument("--no-features", action="store_true", help="the encoder's vectors alone, no pair features")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--save-scores", help="write the dev scores here (JSON) for a later comparison")
    args = parser.parse_args(argv)
    splits = {"train": "data/corpus/train.jsonl", "dev": "data/corpus/dev.jsonl"}
    model, data = cached_examples(args.model, splits, Path(args.cache))
    from persian_ie.models.io import load_pretrained

    _, tokenizer = load_pretrained(args.model)
    docs = {name: read_documents(path) for name, path in splits.items()}
    groups = {name: head_groups(data[name], docs[name], tokenizer) for name in splits}
    lengths = sorted(len(g.input_ids) for g in groups["train"])
    print(json.dumps({"groups": {n: len(g) for n, g in groups.items()}, "train tokens": sum(lengths), "median": lengths[len(lengths) // 2], "max": lengths[-1]}), flush=True)
    features_scores = features_head_scores(data["train"], data["dev"], N_FEATURES, args.seed)
    print(json.dumps({"variant": "pair features (the quickstart head)", "seed": args.seed, "dev": scored_f1(data["dev"], features_scores)}), flush=True)
    torch.manual_seed(args.seed)
    encoder = model.encoder
    if args.layers:
        encoder.encoder.layer = encoder.encoder.layer[:args.layers]
    scorer = CrossScorer(encoder, use_features=not args.no_features)
    started = time.time()
    losses = train_scorer(scorer, groups["train"], args.epochs, args.batch, args.lr, args.head_lr, args.seed)
    scores = group_scores(scorer, groups["dev"], data["dev"])
    name = f"marker cross-encoder{'' if args.no_features else ' + pair features'}{f', {args.layers} layers' if args.layers else ''}"
    print(json.dumps({"variant": name, "seed": args.seed, "epochs": args.epochs, "losses": losses, "train_s": round(time.time() - started), "dev": scored_f1(data["dev"], scores)}, ensure_ascii=False), flush=True)
    for weight in (0.25, 0.5, 0.75):  # late fusion with the features head (weight chosen on dev: optimistic)
        print(json.dumps({"variant": f"{name}, fused at {weight} with the features head", "dev": scored_f1(data["dev"], fused(scores, features_scores, weight))}, ensure_ascii=False))
    if args.save_scores:
        Path(args.save_scores).write_text(json.dumps(scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
