"""Saving and loading a trained model directory (Hugging Face layout).

Layout (weights in safetensors only, never pickle, never remote code)::

    config.json            PersianIEConfig: nested encoder config, label schema and
                           per-layer id2label, window, normalization, decoding,
                           relation component, base model, training config
    model.safetensors      encoder + heads
    tokenizer.json ...     the fast tokenizer
    README.md              model card: training data and licences

After ``import persian_ie``, ``AutoModel.from_pretrained(DIR)`` gives the same
model. ``load_pretrained`` adds the checks a user-supplied directory needs
(E304 naming file and field) and converts 0.1.0 directories (bare encoder
config.json + ``persian_ie.json``) on the fly; ``convert_model`` writes them
in the new layout.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import persian_ie
from persian_ie.data.schema import LabelSchema
from persian_ie.errors import ModelConfigError, ModelLoadError, SchemaError, SchemaMismatchError
from persian_ie.models.configuration import MODEL_TYPE, PersianIEConfig, build_config, check_config
from persian_ie.models.layered import LayeredTokenClassifier

LEGACY_META = "persian_ie.json"  # 0.1.0's side file; read only to convert
WEIGHTS = "model.safetensors"


def save_pretrained(model: LayeredTokenClassifier, tokenizer, directory, card: str | None = None) -> Path:
    """Write the model directory (config.json, model.safetensors, tokenizer, optional card)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.config.persian_ie_version = persian_ie.__version__
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    if card:
        (directory / "README.md").write_text(card, encoding="utf-8")
    return directory


def replace_pretrained(model: LayeredTokenClassifier, tokenizer, directory, card: str | None = None) -> Path:
    """Write the model over an existing model ``directory`` without a moment where neither copy exists.

    The new copy is written beside it first; the old one is renamed aside, the new one
    renamed into place, and only then is the old one removed. A crash at any point leaves
    the old model (in ``directory`` or ``directory.old``) or the new one, never neither.
    """
    directory = Path(directory)
    staging = directory.with_name(directory.name + ".new")
    old = directory.with_name(directory.name + ".old")
    for leftover in (staging, old):  # from an earlier crash; ``directory`` itself is still whole then
        if leftover.exists() and directory.exists():
            shutil.rmtree(leftover)
    save_pretrained(model, tokenizer, staging, card)
    if directory.exists():
        directory.rename(old)
    staging.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
    return directory


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise ModelConfigError(f"{path}: file is missing")
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: bad JSON or a huge integer
        raise ModelConfigError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ModelConfigError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    if "auto_map" in raw:
        raise ModelConfigError(f"{path}: field 'auto_map' asks to run code from the model directory; persian-ie never runs such code")
    return raw


def _legacy_config(directory: Path, raw: dict) -> PersianIEConfig:
    """0.1.0 layout -> PersianIEConfig (the weights' keys are unchanged)."""
    from transformers import AutoConfig

    meta_path = directory / LEGACY_META
    meta = _read_json(meta_path)
    try:
        encoder = AutoConfig.for_model(**raw)
        schema = LabelSchema.from_dict(meta["schema"], origin=str(meta_path))
    except (KeyError, TypeError, ValueError, AttributeError, SchemaError) as exc:
        raise ModelConfigError(f"{meta_path}: field 'schema' or {directory / 'config.json'} is invalid ({exc!r})") from None
    return build_config(encoder, schema, meta.get("window"), normalization=meta.get("normalization"), decoding=meta.get("decoding", "argmax"),
                        loss_weights=meta.get("loss_weights"), base_model=meta.get("base_model"), run_name=meta.get("name"),
                        training_config=meta.get("training_config"))


def read_config(directory) -> tuple[PersianIEConfig, bool]:
    """(checked config, True when it was converted from a 0.1.0 directory)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(f"{directory} is not a model directory")
    path = directory / "config.json"
    raw = _read_json(path)
    legacy = raw.get("model_type") != MODEL_TYPE and (directory / LEGACY_META).exists()
    if legacy:
        config = _legacy_config(directory, raw)
    elif raw.get("model_type") != MODEL_TYPE:
        raise ModelConfigError(f"{path}: field 'model_type' is {raw.get('model_type')!r}, not {MODEL_TYPE!r}: not a persian-ie model directory")
    else:
        try:
            config = PersianIEConfig.from_dict(raw)
        except (TypeError, ValueError, KeyError, AttributeError, SchemaError) as exc:
            raise ModelConfigError(f"{path}: invalid config ({exc})") from None
    check_config(config, str(directory / (LEGACY_META if legacy else "config.json")))
    return config, legacy


def _check_weights(path: Path) -> None:
    """A real, complete safetensors file (a pickle renamed, or a cut file, is refused unread)."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise ModelConfigError(f"{path}: file is missing (only safetensors weights are loaded)")
    try:
        with safe_open(str(path), framework="pt") as fh:
            for key in fh.keys():
                fh.get_slice(key)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelConfigError(f"{path}: not a complete safetensors file ({exc})") from None


def check_weights(directory) -> None:
    """E304 unless ``directory`` holds a real, complete safetensors weights file (checked without loading it)."""
    _check_weights(Path(directory) / WEIGHTS)


def _load_weights(config: PersianIEConfig, directory: Path, legacy: bool, dtype=None) -> LayeredTokenClassifier:
    weights = directory / WEIGHTS
    _check_weights(weights)
    if legacy:
        from safetensors.torch import load_file

        model = LayeredTokenClassifier(config)
        try:
            missing, unexpected = model.load_state_dict(load_file(str(weights)), strict=False)
        except RuntimeError as exc:
            raise ModelConfigError(f"{weights}: weights do not match {directory / 'config.json'} ({str(exc).splitlines()[0]})") from None
    else:
        try:
            extra = {} if dtype is None else {"dtype": dtype}
            model, info = LayeredTokenClassifier.from_pretrained(directory, config=config, trust_remote_code=False, output_loading_info=True, **extra)
        except RuntimeError as exc:  # tensor shapes that contradict config.json
            raise ModelConfigError(f"{weights}: weights do not match config.json ({str(exc).splitlines()[0]})") from None
        missing, unexpected = info["missing_keys"], info["unexpected_keys"]
        mismatched = info.get("mismatched_keys") or []
        missing = list(missing) + [str(m) for m in mismatched]
    if missing or unexpected:
        raise ModelConfigError(f"{weights}: weights do not match config.json (missing or mismatched {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]})")
    return model


def _load_tokenizer(directory: Path):
    from transformers import AutoTokenizer

    tok_config = directory / "tokenizer_config.json"
    if tok_config.exists():
        _read_json(tok_config)  # refuses an auto_map there too
    try:
        return AutoTokenizer.from_pretrained(directory, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise ModelConfigError(f"{directory}: cannot load the tokenizer ({str(exc).splitlines()[0]})") from None


def _check_schema(directory: Path, schema: LabelSchema, expected_schema: LabelSchema | None) -> None:
    if expected_schema is not None and schema.to_dict()["layers"] != expected_schema.to_dict()["layers"]:
        raise SchemaMismatchError(
            f"model {directory} was trained with schema {schema.name!r}, not {expected_schema.name!r}: "
            f"{schema.describe_difference(expected_schema)}. Use a model trained on this schema, or pass --schema {schema.name}."
        )


def load_pretrained(directory, expected_schema: LabelSchema | None = None, device: str = "cpu", dtype=None):
    """(model, tokenizer) from a model directory. With ``expected_schema``, a different schema is an error.
    ``dtype``: load the weights straight into it (no float32 copy first)."""
    directory = Path(directory)
    config, legacy = read_config(directory)
    _check_schema(directory, config.label_schema, expected_schema)
    model = _load_weights(config, directory, legacy, dtype)
    if dtype is not None:
        model.to(dtype)  # the 0.1.0 layout loads float32 first
    tokenizer = _load_tokenizer(directory)
    model.to(device).eval()
    return model, tokenizer


def load_part(directory, config: PersianIEConfig, prefix: str):
    """A learned part of the model alone, in float32, read from the weights file: ``relation_head``
    or ``span_refiner`` (None when the config has no such part; E304 when the config has one
    and the weights file has no ``PREFIX.*`` tensors). For backends that hold no torch model, or a bf16 one: the part's scores stay those
    it was trained and tuned with."""
    from safetensors import safe_open

    from persian_ie.models.relation_head import build_relation_head
    from persian_ie.models.span_refiner import build_span_refiner

    builders = {"relation_head": build_relation_head, "span_refiner": build_span_refiner}
    part = builders[prefix](config)
    weights = Path(directory) / WEIGHTS
    if part is None:
        return None
    _check_weights(weights)
    with safe_open(str(weights), framework="pt") as fh:
        state = {k[len(prefix) + 1:]: fh.get_tensor(k).float() for k in fh.keys() if k.startswith(prefix + ".")}
    if not state:
        raise ModelConfigError(f"{weights}: config.json describes a {prefix} but the weights file has no {prefix}.* tensors")
    try:
        part.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelConfigError(f"{weights}: {prefix} weights do not match config.json ({str(exc).splitlines()[0]})") from None
    return part.float().eval()


def load_tokenizer_and_config(directory, expected_schema: LabelSchema | None = None):
    """(config, tokenizer) with the checks of ``load_pretrained`` but no weights (for a backend that has its own)."""
    directory = Path(directory)
    config, _ = read_config(directory)
    _check_schema(directory, config.label_schema, expected_schema)
    return config, _load_tokenizer(directory)


def convert_model(source, target) -> Path:
    """Write a 0.1.0 (or current) model directory ``source`` in the current layout at ``target``."""
    source, target = Path(source), Path(target)
    if target.resolve() == source.resolve():
        raise ModelLoadError(f"convert-model: the target {target} is the source; write the new layout to another directory")
    model, tokenizer = load_pretrained(source)
    card = source / "README.md"
    return save_pretrained(model, tokenizer, target, card.read_text("utf-8") if card.exists() else None)
