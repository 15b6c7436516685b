"""Saving and loading a trained model directory.

Layout (``save_pretrained`` style; weights in safetensors only, never pickle,
never ``trust_remote_code``)::

    model.safetensors      encoder + heads
    config.json            the encoder's transformers config
    tokenizer.json ...     the fast tokenizer
    persian_ie.json        label schema, normalization, window, decoding,
                           base model, training config, versions
    README.md              model card: training data and licences
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import persian_ie
from persian_ie.data.normalize import NormalizerConfig
from persian_ie.data.schema import LabelSchema
from persian_ie.errors import ModelLoadError, SchemaMismatchError
from persian_ie.models.layered import LayeredTokenClassifier

META_FILE = "persian_ie.json"
FORMAT_VERSION = 1


def save_model(model: LayeredTokenClassifier, tokenizer, directory, meta: dict, card: str | None = None) -> Path:
    """Write the model directory. ``meta`` holds normalization, window, base, training config."""
    import transformers

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    model.encoder.config.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    full_meta = {
        "format_version": FORMAT_VERSION,
        "schema": model.schema.to_dict(),
        "loss_weights": model.loss_weights,
        "versions": {"persian_ie": persian_ie.__version__, "torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version()},
        **meta,
    }
    (directory / META_FILE).write_text(json.dumps(full_meta, ensure_ascii=False, indent=2), encoding="utf-8")
    if card:
        (directory / "README.md").write_text(card, encoding="utf-8")
    return directory


def read_meta(directory) -> dict:
    path = Path(directory) / META_FILE
    if not path.exists():
        raise ModelLoadError(f"{directory} is not a persian-ie model directory: {META_FILE} is missing")
    return json.loads(path.read_text("utf-8"))


def load_model(directory, expected_schema: LabelSchema | None = None, device: str = "cpu"):
    """(model, tokenizer, meta). With ``expected_schema``, a different schema is an error."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    directory = Path(directory)
    meta = read_meta(directory)
    schema = LabelSchema.from_dict(meta["schema"], origin=str(directory))
    if expected_schema is not None and schema.to_dict()["layers"] != expected_schema.to_dict()["layers"]:
        raise SchemaMismatchError(
            f"model {directory} was trained with schema {schema.name!r}, not {expected_schema.name!r}: "
            f"{schema.describe_difference(expected_schema)}. Use a model trained on this schema, or pass --schema {schema.name}."
        )
    weights = directory / "model.safetensors"
    if not weights.exists():
        raise ModelLoadError(f"{directory}: model.safetensors is missing (only safetensors weights are loaded)")
    config = AutoConfig.from_pretrained(directory)
    kwargs = {"add_pooling_layer": False} if config.model_type == "bert" else {}
    encoder = AutoModel.from_config(config, **kwargs)
    model = LayeredTokenClassifier(encoder, schema, loss_weights=meta.get("loss_weights"))
    state = load_file(str(weights), device="cpu")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelLoadError(f"{weights}: weights do not match the model (missing {missing[:5]}, unexpected {unexpected[:5]})")
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model.to(device).eval()
    return model, tokenizer, meta


def normalizer_config(meta: dict) -> NormalizerConfig:
    return NormalizerConfig.from_dict(meta.get("normalization"))
