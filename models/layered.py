"""The layered token classifier: one encoder, one softmax head per schema layer.

Each layer (entity, role, event in the default schema) has its own IOB2 tag
set and linear head; the loss is the weighted sum of the layers'
cross-entropies (labels -100 ignored). The heads come from the label
schema, so the same class trains the project schema, PEYMA's seven types or
a user's own.
"""

from __future__ import annotations

import torch
from torch import nn

from persian_ie.data.schema import LabelSchema


class LayeredTokenClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, schema: LabelSchema, dropout: float = 0.1, loss_weights: dict | None = None):
        super().__init__()
        self.encoder = encoder
        self.schema = schema
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({layer: nn.Linear(hidden, len(schema.tags(layer))) for layer in schema.layers})
        unknown = set(loss_weights or {}) - set(schema.layers)
        if unknown:
            from persian_ie.errors import ConfigError

            raise ConfigError(f"model.loss_weights: {sorted(unknown)} are not layers of schema {schema.name!r} {list(schema.layers)}")
        self.loss_weights = {layer: float((loss_weights or {}).get(layer, 1.0)) for layer in schema.layers}
        for head in self.heads.values():
            nn.init.normal_(head.weight, std=0.02)
            nn.init.zeros_(head.bias)

    @property
    def layers(self) -> list[str]:
        return list(self.schema.layers)

    def forward(self, input_ids, attention_mask=None, labels: dict | None = None, **encoder_kwargs):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **encoder_kwargs).last_hidden_state
        hidden = self.dropout(hidden)
        logits = {layer: head(hidden) for layer, head in self.heads.items()}
        out = {"logits": logits}
        if labels is not None:
            loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
            loss = hidden.new_zeros((), dtype=torch.float32)
            for layer, layer_logits in logits.items():
                target = labels[layer]
                loss = loss + self.loss_weights[layer] * loss_fn(layer_logits.float().flatten(0, 1), target.flatten())
            out["loss"] = loss
        return out
