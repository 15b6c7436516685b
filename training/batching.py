"""Length-grouped batches and padding, so padding is not wasted.

``LengthGroupedBatches`` shuffles, cuts the windows into pools of 50
batches, sorts each pool by length and splits it into batches, then
shuffles the batches: batches hold windows of similar length while the
order stays random. It is seeded per epoch, so a resumed run sees the same
order.
"""

from __future__ import annotations

import random

import torch

from persian_ie.data.encoding import IGNORE


class LengthGroupedBatches(torch.utils.data.Sampler):
    def __init__(self, lengths: list[int], batch_size: int, seed: int, group: bool = True, pool_batches: int = 50):
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.group = group
        self.pool = pool_batches * batch_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        pools = [order[i:i + self.pool] for i in range(0, len(order), self.pool)] if self.group else [order]
        batches = []
        for pool in pools:
            if self.group:
                pool = sorted(pool, key=lambda k: -self.lengths[k])
            batches += [pool[j:j + self.batch_size] for j in range(0, len(pool), self.batch_size)]
        rng.shuffle(batches)
        return batches

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size


def batch_to(batch: dict, device, non_blocking: bool = False) -> dict:
    """Move a collated batch (tensors and the per-layer ``labels`` dict) to ``device``."""
    move = lambda t: t.to(device, non_blocking=non_blocking)
    return {k: move(v) if torch.is_tensor(v) else {layer: move(t) for layer, t in v.items()} for k, v in batch.items()}


class Collator:
    """Pads ``input_ids`` with the pad id and every ``labels_*`` with -100; with a
    ``lower`` cache (training/lower_cache.py), adds the rows' ``lower_states``."""

    def __init__(self, pad_id: int, layers: list[str], lower=None):
        self.pad_id = pad_id
        self.layers = layers
        self.lower = lower

    def __call__(self, rows: list[dict]) -> dict:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        labels = {layer: torch.full((len(rows), width), IGNORE, dtype=torch.long) for layer in self.layers}
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n] = torch.tensor(row["input_ids"])
            mask[i, :n] = 1
            for layer in self.layers:
                labels[layer][i, :n] = torch.tensor(row[f"labels_{layer}"])
        batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
        if self.lower is not None:
            batch["lower_states"] = self.lower.batch([r["index"] for r in rows], width)
        return batch
