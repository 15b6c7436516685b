"""The frozen lower layers' output per training window, computed once per run.

With ``model.freeze_layers: n`` the embeddings and the encoder's lower ``n``
layers never change during training, so their output for a window is the
same at every epoch. ``LowerStateCache`` computes it once, in eval mode (no
dropout in the frozen layers), and the collator hands each batch its rows, so
a training step runs only the layers above (models/encoder_split.py). It
holds each window's length x hidden float32 values in memory (unpadded): at
most 0.37 GB for the 936 windows of the quickstart corpus at hidden 384
(0.27 GB measured).
"""

from __future__ import annotations

import logging

import torch

from persian_ie.models.encoder_split import lower_states

log = logging.getLogger(__name__)


class LowerStateCache:
    def __init__(self, encoder, dataset, layers: int, device, pad_id: int, batch_size: int = 16, show_progress: bool = True):
        from tqdm.auto import tqdm

        self.layers = layers
        order = sorted(range(len(dataset)), key=lambda i: dataset[i]["length"])  # similar lengths: little padding
        self.states: list[torch.Tensor | None] = [None] * len(dataset)
        was_training = encoder.training
        encoder.eval()
        with torch.no_grad():
            for start in tqdm(range(0, len(order), batch_size), desc=f"caching lower {layers} layers", unit="batch", disable=not show_progress):
                rows = [dataset[i] for i in order[start:start + batch_size]]
                ids, mask = _padded(rows, pad_id)
                hidden = lower_states(encoder, ids.to(device), mask.to(device), layers).float().cpu()
                for k, row in enumerate(rows):
                    self.states[order[start + k]] = hidden[k, :len(row["input_ids"])].clone()
        encoder.train(was_training)
        log.info("cached the lower %d layers' output for %d windows (%.2f GB)", layers, len(dataset), self.gigabytes())

    def gigabytes(self) -> float:
        return sum(s.numel() * s.element_size() for s in self.states) / 1e9

    def batch(self, indices: list[int], width: int) -> torch.Tensor:
        """[len(indices), width, hidden], zero past each window's end (masked there anyway)."""
        first = self.states[indices[0]]
        out = first.new_zeros((len(indices), width, first.shape[-1]))
        for k, i in enumerate(indices):
            out[k, :len(self.states[i])] = self.states[i]
        return out


def _padded(rows: list[dict], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, row in enumerate(rows):
        ids[k, :len(row["input_ids"])] = torch.tensor(row["input_ids"])
        mask[k, :len(row["input_ids"])] = 1
    return ids, mask


class Indexed(torch.utils.data.Dataset):
    """Rows of ``dataset`` with their position under ``index`` (the cache's key)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        return {**self.dataset[i], "index": i}
