"""Learning-rate probe: can the model overfit 8 windows in 30 full-batch steps?

    python -m persian_ie.bench.lr_probe ENCODER_LR HEAD_LR [CONFIG]

Used to choose the quickstart's learning rates (docs/benchmarks.md): with
the offline encoder, encoder LRs of 2e-4 and above collapse to all-O.
Prints the final loss and how many gold entity tokens the model gets right.
"""

from __future__ import annotations

import sys

import torch


def probe(encoder_lr: str, head_lr: str, config: str = "configs/quickstart.yaml") -> dict:
    from persian_ie.data.dataset import build_dataset
    from persian_ie.data.document import read_documents
    from persian_ie.data.normalize import Normalizer
    from persian_ie.data.schema import load_schema
    from persian_ie.training.batching import Collator
    from persian_ie.training.config import load_config
    from persian_ie.training.train import _optimizer, build_model

    cfg = load_config(config, [f"optim.lr={encoder_lr}", f"optim.head_lr={head_lr}"])
    schema = load_schema(cfg.data.schema)
    torch.manual_seed(0)
    normalizer = Normalizer()
    model, tokenizer = build_model(cfg, schema, normalizer, "lr-probe")
    docs = read_documents(cfg.data.train[0])[:4]
    dataset = build_dataset(docs, tokenizer, schema, normalizer, cfg.window.max_length, cfg.window.stride)
    batch = Collator(tokenizer.pad_token_id, list(schema.layers))([dataset[i] for i in range(len(dataset))])
    optimizer = _optimizer(model, cfg)
    model.train()
    for _ in range(30):
        out = model(**batch)
        out["loss"].backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    with torch.no_grad():
        pred = model(**batch)["logits"]["entity"].argmax(-1)
    gold = batch["labels"]["entity"]
    mask = gold != -100
    right = ((pred[mask] == gold[mask]) & (gold[mask] != 0)).sum().item()
    return {"loss": out["loss"].item(), "entity_tokens_right": right, "entity_tokens": (gold[mask] != 0).sum().item(), "predicted_non_O": (pred[mask] != 0).sum().item()}


if __name__ == "__main__":
    print(probe(*sys.argv[1:]))
