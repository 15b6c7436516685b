"""Layered heads, decoding, save/load round trip, schema mismatch, offline builder format."""

import numpy as np
import pytest
import torch

from persian_ie.data.schema import load_schema
from persian_ie.errors import ModelLoadError, SchemaMismatchError
from persian_ie.models.decoding import Decoder
from persian_ie.models.configuration import build_config
from persian_ie.models.io import load_pretrained
from persian_ie.models.layered import LayeredTokenClassifier
from persian_ie.models.offline_base import dequantize_q4


def test_heads_follow_the_schema(tiny_base):
    from transformers import AutoModel

    for name, sizes in (("default", {"entity": 7, "role": 3, "event": 3}), ("peyma", {"entity": 15})):
        encoder = AutoModel.from_pretrained(tiny_base, trust_remote_code=False)
        model = LayeredTokenClassifier(build_config(encoder.config, load_schema(name), {"max_length": 64, "stride": 8}), encoder=encoder)
        ids = torch.randint(5, 100, (2, 9))
        labels = {layer: torch.full((2, 9), -100) for layer in sizes}
        for layer in sizes:
            labels[layer][:, 1] = 1
        out = model(ids, torch.ones_like(ids), labels=labels)
        assert {k: v.shape[-1] for k, v in out.logits.items()} == sizes
        assert out.loss.ndim == 0 and out.loss.item() > 0


def test_constrained_decoding_never_emits_orphan_inside_tags():
    tags = load_schema().tags("entity")
    probs = np.full((4, len(tags)), 0.01)
    probs[0, tags.index("O")] = 0.9
    probs[1, tags.index("I-PER")] = 0.9  # argmax would emit an orphan I-PER
    probs[1, tags.index("B-PER")] = 0.05
    probs[2, tags.index("I-PER")] = 0.9
    probs[3, tags.index("O")] = 0.9
    probs /= probs.sum(1, keepdims=True)
    assert Decoder(tags, "argmax").decode(probs)[0] == ["O", "I-PER", "I-PER", "O"]
    assert Decoder(tags, "constrained").decode(probs)[0] == ["O", "B-PER", "I-PER", "O"]


def test_schema_mismatch_is_explained(tiny_model_dir):
    with pytest.raises(SchemaMismatchError, match="layer 'entity'"):
        load_pretrained(tiny_model_dir, expected_schema=load_schema("peyma"))


def test_missing_or_foreign_directory(tmp_path, tiny_base):
    from persian_ie.errors import ModelConfigError

    with pytest.raises(ModelConfigError, match="config.json: file is missing"):
        load_pretrained(tmp_path)
    with pytest.raises(ModelConfigError, match="field 'model_type' is 'bert'.*not a persian-ie model directory"):
        load_pretrained(tiny_base)  # a bare encoder is not a trained model
    with pytest.raises(ModelLoadError, match="is not a model directory"):
        load_pretrained(tmp_path / "absent")


def test_hub_failure_names_the_offline_option(monkeypatch):
    from persian_ie.models.base import load_encoder_and_tokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="offline:multilingual-e5-small"):
        load_encoder_and_tokenizer("HooshvareLab/bert-fa-zwnj-base")


def test_q4_block_layout():
    # one block: scale 0.5, weights 0..15 from low nibbles, 16..31 from high nibbles
    scale = np.array([0.5], dtype=np.float16).view(np.uint8)
    low = np.arange(16, dtype=np.uint8)  # nibble j -> weight j
    high = (15 - np.arange(16, dtype=np.uint8))  # -> weights 16..31
    block = np.concatenate([scale, (low | (high << 4)).astype(np.uint8)])
    values = dequantize_q4(block.tobytes(), 1, 32)[0]
    assert values[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert values[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]
