"""An encoder cut in two at a layer: the lower part run once, the upper part trained.

Training with the lower ``n`` transformer layers frozen need not run them at
every step: their output for a window never changes, so training computes it
once (``lower_states``) and each step runs only the layers above
(``upper_states``). On the 2-core CPU machine the upper 4 of 12 layers of the
offline encoder take 0.31 of a whole forward and backward pass (docs/benchmarks.md).

Works for encoders laid out like BERT (``embeddings`` then ``encoder.layer``):
BERT, RoBERTa, XLM-R, ELECTRA, ParsBERT and the offline e5 encoder.
"""

from __future__ import annotations

import torch
from torch import nn

from persian_ie.errors import ConfigError


def transformer_blocks(encoder: nn.Module, option: str = "model.freeze_layers") -> nn.ModuleList:
    """The encoder's transformer layers, bottom first (``option``: the setting an error names)."""
    blocks = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not hasattr(encoder, "embeddings") or not isinstance(blocks, nn.ModuleList):
        raise ConfigError(f"{option}: the encoder {type(encoder).__name__} is not laid out like BERT "
                          f"(embeddings, then encoder.layer); leave {option} unset")
    return blocks


def check_split(encoder: nn.Module, layers: int) -> None:
    """``layers`` must leave at least one layer to train."""
    total = len(transformer_blocks(encoder))
    if not 0 < layers < total:
        raise ConfigError(f"model.freeze_layers: {layers} must be between 1 and {total - 1} for this encoder ({total} layers), or 0 for none")


def freeze_lower(encoder: nn.Module, layers: int) -> None:
    """No gradients for the embeddings and the lower ``layers`` transformer layers."""
    check_split(encoder, layers)
    for module in [encoder.embeddings, *transformer_blocks(encoder)[:layers]]:
        module.requires_grad_(False)


def keep_lower_layers(encoder: nn.Module, layers: int) -> None:
    """Drop the transformer layers above ``layers``; the encoder's config says so, so the model saves
    and loads with that depth (a sentence-embedding encoder's top layers need not suit token tags)."""
    blocks = transformer_blocks(encoder, "model.encoder_layers")
    if not 0 < layers <= len(blocks):
        raise ConfigError(f"model.encoder_layers: {layers} must be between 1 and {len(blocks)} for this encoder ({len(blocks)} layers)")
    encoder.encoder.layer = blocks[:layers]
    encoder.config.num_hidden_layers = layers


def reinit_upper_layers(encoder: nn.Module, layers: int, frozen: int = 0) -> None:
    """Give the top ``layers`` transformer layers fresh weights (BERT's initialization: normal with the
    config's ``initializer_range``, zero biases, unit LayerNorms); the torch seed decides them. None of
    them may be among the ``frozen`` lower layers (they would stay random)."""
    blocks = transformer_blocks(encoder, "model.reinit_layers")
    if not 0 < layers <= len(blocks) - frozen:
        raise ConfigError(f"model.reinit_layers: {layers} must be between 1 and {len(blocks) - frozen} for this encoder "
                          f"({len(blocks)} layers, {frozen} frozen), or 0 for none")
    std = getattr(encoder.config, "initializer_range", 0.02)
    for block in blocks[len(blocks) - layers:]:
        for module in block.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)


def _mask(encoder: nn.Module, hidden: torch.Tensor, attention_mask: torch.Tensor | None):
    from transformers.masking_utils import create_bidirectional_mask

    return create_bidirectional_mask(config=encoder.config, inputs_embeds=hidden, attention_mask=attention_mask)


def lower_states(encoder: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, layers: int) -> torch.Tensor:
    """The hidden states after the embeddings and the lower ``layers`` layers."""
    hidden = encoder.embeddings(input_ids=input_ids)
    mask = _mask(encoder, hidden, attention_mask)
    for block in transformer_blocks(encoder)[:layers]:
        hidden = block(hidden, mask)
    return hidden


def upper_states(encoder: nn.Module, hidden: torch.Tensor, attention_mask: torch.Tensor | None, layers: int) -> torch.Tensor:
    """The encoder's last hidden state from ``lower_states(..., layers)``: the layers above ``layers``."""
    mask = _mask(encoder, hidden, attention_mask)
    for block in transformer_blocks(encoder)[layers:]:
        hidden = block(hidden, mask)
    return hidden


class SeenRowsEmbedding(nn.Module):
    """A frozen word-embedding matrix plus a trained offset for the listed rows only.

    Training the whole 250k-row matrix of the offline encoder costs a dense
    gradient and an AdamW update of 96M numbers every step, although a step
    only reads the rows of its own pieces and the training data use a few
    percent of them. The rows the training windows contain get an offset
    (starting at zero, so training starts from the pretrained model); every
    other row stays as it was, as it would in full training, where it gets no
    gradient apart from weight decay. ``merged()`` folds the offsets back into
    a plain ``nn.Embedding``, so a saved model is an ordinary one. (Weight
    decay pulls an offset toward zero, i.e. a row toward its pretrained
    vector, where full training pulls the row toward zero: a small difference
    at the quickstart's rate and decay.)
    """

    def __init__(self, base: nn.Embedding, rows: torch.Tensor):
        super().__init__()
        self.base = base.requires_grad_(False)
        device = base.weight.device
        rows = torch.unique(rows.long().cpu())
        slot = torch.full((base.num_embeddings,), -1, dtype=torch.long)
        slot[rows] = torch.arange(len(rows))
        self.register_buffer("rows", rows.to(device), persistent=False)
        self.register_buffer("slot", slot.to(device), persistent=False)
        self.offset = nn.Parameter(torch.zeros(len(rows), base.embedding_dim, dtype=base.weight.dtype, device=device))

    def rows_digest(self) -> str:
        """Which rows train, in short: a resumed run must put its offsets on the same rows."""
        import hashlib

        return f"{len(self.rows)} rows, sha1 {hashlib.sha1(self.rows.cpu().numpy().tobytes()).hexdigest()[:12]}"

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        slot = self.slot[input_ids]
        trained = (slot >= 0).unsqueeze(-1)
        # an embedding lookup, not tensor indexing: its backward sums repeated ids in a fixed order, so a resumed run is exact
        return self.base(input_ids) + nn.functional.embedding(slot.clamp(min=0), self.offset) * trained

    def merged(self) -> nn.Embedding:
        weight = self.base.weight.detach().clone()
        weight[self.rows] += self.offset.detach().to(weight.dtype)
        return nn.Embedding.from_pretrained(weight, freeze=True, padding_idx=self.base.padding_idx)


def train_seen_rows(encoder: nn.Module, rows: torch.Tensor) -> SeenRowsEmbedding:
    """Replace the encoder's word embeddings by a frozen matrix with trained ``rows`` (``freeze_embeddings: unseen``)."""
    embedding = SeenRowsEmbedding(encoder.get_input_embeddings(), rows)
    encoder.set_input_embeddings(embedding)
    return embedding


class merged_embeddings:
    """While inside, the encoder has a plain embedding with the offsets folded in (for saving); then the trained one again."""

    def __init__(self, encoder: nn.Module):
        self.encoder = encoder
        self.trained = encoder.get_input_embeddings()

    def __enter__(self):
        if isinstance(self.trained, SeenRowsEmbedding):
            self.encoder.set_input_embeddings(self.trained.merged())
        return self.encoder

    def __exit__(self, *exc):
        self.encoder.set_input_embeddings(self.trained)
        return False
