"""Shared fixtures: paths to the corpora and a tiny BERT built by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPORA = SHARED / "corpora"
CORPUS = ROOT / "data" / "corpus"
SEED_TEXT = CORPORA / "seed" / "shabestan-1730839.txt"


def _training_texts() -> list[str]:
    texts = [SEED_TEXT.read_text("utf-8")]
    for path in sorted(CORPUS.glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh][:40]
    return texts


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A 2-layer, 64-wide BERT with a WordPiece tokenizer trained on corpus text:
    random weights, real tokenization, built in a second."""
    from transformers import BertConfig, BertModel

    from persian_ie.models.wordpiece import build_wordpiece_tokenizer
    from persian_ie.data.normalize import Normalizer

    norm = Normalizer()
    texts = [norm(t).text for t in _training_texts()]
    directory = tmp_path_factory.mktemp("tiny_base")
    fast = build_wordpiece_tokenizer(texts, 2000, directory)
    config = BertConfig(vocab_size=len(fast), hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128, max_position_embeddings=512, pad_token_id=0)
    import torch

    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def corpus_docs():
    from persian_ie.data.document import read_documents

    return {split: read_documents(CORPUS / f"{split}.jsonl") for split in ("train", "dev", "test")}


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_base, tmp_path_factory, corpus_docs) -> Path:
    """A tiny model trained for a few steps on a slice of the corpus."""
    from persian_ie.training.config import load_config
    from persian_ie.training.train import train

    out = tmp_path_factory.mktemp("tiny_run")
    train_file = out / "train.jsonl"
    dev_file = out / "dev.jsonl"
    from persian_ie.data.document import write_documents

    write_documents(train_file, corpus_docs["train"][:12])
    write_documents(dev_file, corpus_docs["dev"][:4])
    cfg = load_config(None, [f"output_dir={out}", f"model.base={tiny_base}", f"data.train=[{train_file}]", f"data.dev={dev_file}",
                             "optim.max_steps=6", "optim.batch_size=8", "optim.head_lr=0.01", "window.max_length=64", "window.stride=8", "bootstrap=0"])
    train(cfg, show_progress=False)
    return out / "model"
