"""An exponential moving average of the trained weights (``optim.ema_decay``).

With a few hundred steps on a small corpus the dev F1 of the raw weights
moves up and down from one evaluation to the next; the average of the
recent weights is usually a steadier and slightly better model. When on,
every dev evaluation, and so the model that is kept, uses the averaged
weights; training itself always continues from the raw ones.

The average covers the parameters that train (a frozen embedding matrix is
the same in both). Its decay warms up as ``min(decay, (1 + n) / (10 + n))``
after ``n`` updates, so early evaluations are not dominated by the
untrained start. It is saved with the checkpoint, so ``--resume`` continues it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from torch import nn

FILE = "weight_average.safetensors"


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.params = {name: p for name, p in model.named_parameters() if p.requires_grad}
        self.shadow = {name: p.detach().clone() for name, p in self.params.items()}

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        """Fold the current weights in; call after each optimizer step."""
        keep = self.current_decay()
        for name, p in self.params.items():
            self.shadow[name].lerp_(p.detach(), 1.0 - keep)
        self.updates += 1

    @contextlib.contextmanager
    @torch.no_grad()
    def swapped_in(self):
        """The model holds the averaged weights inside the block, its own ones again after it."""
        raw = {name: p.detach().clone() for name, p in self.params.items()}
        for name, p in self.params.items():
            p.copy_(self.shadow[name])
        try:
            yield
        finally:
            for name, p in self.params.items():
                p.copy_(raw[name])

    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        tmp = directory / (FILE + ".tmp")
        save_file({name: t.contiguous() for name, t in self.shadow.items()}, str(tmp), metadata={"updates": str(self.updates)})
        tmp.replace(directory / FILE)

    def load(self, directory: Path) -> None:
        """The average a checkpoint saved (ConfigError if it has none, or one of other parameters)."""
        from safetensors import safe_open

        from persian_ie.errors import ConfigError

        if not (directory / FILE).exists():
            raise ConfigError(f"--resume: optim.ema_decay is set but {directory} has no {FILE} (the run started without it); "
                              "resume with the run's own config.yaml")
        with safe_open(str(directory / FILE), framework="pt") as fh:
            if set(fh.keys()) != set(self.shadow):
                differ = sorted(set(fh.keys()) ^ set(self.shadow))
                raise ConfigError(f"--resume: {directory / FILE} averages other parameters than this config trains "
                                  f"({len(differ)} differ, e.g. {differ[0]}); resume with the run's own config.yaml")
            self.updates = int(fh.metadata()["updates"])
            for name in self.shadow:
                self.shadow[name].copy_(fh.get_tensor(name))
