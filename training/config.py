"""Training configuration: YAML, strict keys, dotted ``--set`` overrides.

Unknown keys are errors that name the key and list the allowed ones, so a
typo in a config never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persian_ie.data.normalize import NormalizerConfig
from persian_ie.data.safe_yaml import load_yaml
from persian_ie.errors import ConfigError, YamlError
from persian_ie.models.configuration import MAX_PART_SIZE, MAX_REFINER_MEMBERS, MAX_REFINER_WIDTH, is_rate, sentence_gap_problem


@dataclass
class AuxCorpus:
    """An extra corpus mapped into the training schema (e.g. PEYMA PER/ORG)."""

    path: str = ""
    format: str = "jsonl"  # jsonl | peyma | conll
    label_map: dict = field(default_factory=dict)  # source label -> target label or null (dropped)
    max_documents: int | None = None
    # The schema labels this corpus annotates; its other layers teach nothing and the
    # words of dropped spans count as unknown (data/document.py PartialAnnotation).
    # None: with a label_map, its targets and the labels its spans keep; without one, every label.
    annotates: list | None = None
    # Labels the label_map drops whose words are O for the schema (PEYMA's DAT, TIM, MON, PCT:
    # a date is never a PER, ORG or CITY) rather than unknown (its LOC holds the cities).
    outside: list = field(default_factory=list)


@dataclass
class DataConfig:
    schema: str = "default"
    train: list = field(default_factory=list)
    dev: str | None = None
    test: str | None = None
    format: str = "jsonl"  # format of train/dev/test: jsonl | peyma | conll
    auxiliary: list = field(default_factory=list)
    predict_texts: list = field(default_factory=list)  # .txt files to extract facts from after training
    # Share of data.train documents used (learning curves): a fixed seeded
    # order, so the 25% subset is inside the 50% one (auxiliary corpora untouched).
    train_fraction: float = 1.0


@dataclass
class ModelConfig:
    base: str = "offline:multilingual-e5-small"
    dropout: float = 0.1
    loss_weights: dict = field(default_factory=dict)  # layer -> weight of its cross-entropy
    tag_weights: dict = field(default_factory=dict)  # layer -> {tag: class weight}, e.g. {event: {B-PROPOSAL: 2}}
    # true: the word-embedding matrix stays fixed; false: all of it trains; "unseen": only the rows the
    # training windows use train, as offsets folded in when saving (models/encoder_split.py
    # SeenRowsEmbedding): the rows full training would change, at the frozen matrix's cost per step.
    freeze_embeddings: bool | str = False
    # The embeddings and the encoder's lower N layers stay fixed; their output is computed once per
    # run and each step trains only the layers above (training/lower_cache.py). 0: none.
    freeze_layers: int = 0
    # Keep only the encoder's lower N transformer layers (null: all of them); the saved model has N.
    encoder_layers: int | None = None
    # Re-initialize the encoder's top N transformer layers before training (0: none): a
    # sentence-embedding encoder's top layers are tuned for pooling, not for token tags.
    reinit_layers: int = 0
    decoding: str = "argmax"
    linking: str = "rules"  # rules | learned (a relation head trained after the spans, training/relations.py)
    relation_head: dict = field(default_factory=dict)  # its settings: epochs, lr, proj_size ... (training/relations.py DEFAULTS)
    refine_spans: bool = False  # a span boundary refiner trained after the spans (training/span_refiner.py)
    span_refiner: dict = field(default_factory=dict)  # its settings: label, max_width, epochs ... (training/span_refiner.py DEFAULTS)


@dataclass
class WindowConfig:
    max_length: int = 256
    stride: int = 32


@dataclass
class OptimConfig:
    epochs: float = 3
    max_steps: int | None = None
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 5e-5
    head_lr: float = 1e-3
    # Layer-wise learning-rate decay: encoder layer i of L trains at lr * decay^(L - 1 - i), the
    # embeddings at lr * decay^L (1: every layer at lr).
    layer_lr_decay: float = 1.0
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    group_by_length: bool = True
    eval_every_steps: int | None = None  # None: once per epoch
    patience: int | None = 3
    compile: bool = False
    ema_decay: float = 0.0  # > 0: dev evaluation and the kept model use a moving average of the weights (training/weight_average.py)


@dataclass
class TrainConfig:
    output_dir: str = "runs/model"
    seed: int = 13
    name: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    normalization: dict = field(default_factory=dict)
    optim: OptimConfig = field(default_factory=OptimConfig)
    bootstrap: int = 200

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _build(cls, raw: dict, where: str):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__} {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown key {key!r}; allowed keys: {', '.join(fields)}")
        sub = _nested_type(cls, key)
        if sub is not None:
            value = _build(sub, value, f"{where}.{key}")
        elif key == "auxiliary":
            value = [_build(AuxCorpus, v, f"{where}.auxiliary[{i}]") for i, v in enumerate(value or [])]
        else:
            value = _coerce(value, str(fields[key].type), f"{where}.{key}")
        kwargs[key] = value
    return cls(**kwargs)


def _coerce(value, type_name: str, where: str):
    """YAML reads ``2e-4`` as a string (YAML 1.1); numbers given so are converted."""
    if not isinstance(value, str) or value == "":
        return value
    for kind in ("float", "int"):
        if type_name.startswith(kind):
            try:
                return float(value) if kind == "float" else int(value)
            except ValueError:
                raise ConfigError(f"{where}: expected a {kind}, got {value!r}") from None
    return value


def _nested_type(cls, key):
    nested = {"data": DataConfig, "model": ModelConfig, "window": WindowConfig, "optim": OptimConfig}
    return nested.get(key) if cls is TrainConfig else None


def _parse_value(text: str) -> Any:
    try:
        return load_yaml(text, "--set value")
    except YamlError:
        return text


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """``key.sub=value`` pairs (values parsed as YAML) onto the raw config."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. --set optim.epochs=2)")
        key, value = item.split("=", 1)
        node = raw
        parts = key.strip().split(".")
        for part in parts[:-1]:
            if not isinstance(node.setdefault(part, {}), dict):
                raise ConfigError(f"override {item!r}: {part!r} is a value ({node[part]!r}), not a section")
            node = node[part]
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node[parts[-1]] = _parse_value(value)
    return raw


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        raw = load_yaml(path.read_text("utf-8"), str(path)) or {}
    raw = apply_overrides(raw, overrides or [])
    config = _build(TrainConfig, raw, str(path or "config"))
    if isinstance(config.data.train, str):
        config.data.train = [config.data.train]
    check_values(config)
    return config


# Keys whose value is one of a fixed set: a typo fails at load, not after the first epoch.
CHOICES = {
    "model.decoding": ("argmax", "constrained"),
    "model.linking": ("rules", "learned"),
    "optim.precision": ("auto", "fp32", "bf16", "fp16"),
    "data.format": ("jsonl", "peyma", "conll"),
}
# (key, smallest allowed value) for counts; epochs may be fractional.
POSITIVE_INTS = (("optim.batch_size", 1), ("optim.grad_accum", 1), ("window.max_length", 8), ("window.stride", 0),
                 ("optim.max_steps", 1), ("optim.eval_every_steps", 1), ("optim.patience", 0), ("bootstrap", 0), ("seed", 0),
                 ("model.freeze_layers", 0), ("model.encoder_layers", 1), ("model.reinit_layers", 0))


def _get(config: TrainConfig, key: str):
    value = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def check_values(config: TrainConfig) -> None:
    """Types, ranges and choices of the resolved config (``ConfigError`` naming key, value and what is allowed)."""
    if not isinstance(config.normalization, dict):
        raise ConfigError(f"normalization: expected a mapping, got {config.normalization!r}")
    NormalizerConfig.from_dict(config.normalization)  # its keys and choices, checked now rather than at train time
    for key, allowed in CHOICES.items():
        if _get(config, key) not in allowed:
            raise ConfigError(f"{key}: {_get(config, key)!r} is not one of {', '.join(allowed)}")
    _check_relation_head(config.model.relation_head)
    _check_span_refiner(config.model)
    _check_freeze_embeddings(config.model)
    for i, aux in enumerate(config.data.auxiliary):
        if aux.format not in CHOICES["data.format"]:
            raise ConfigError(f"data.auxiliary[{i}].format: {aux.format!r} is not one of {', '.join(CHOICES['data.format'])}")
        if aux.annotates is not None and (not isinstance(aux.annotates, list) or not all(isinstance(x, str) for x in aux.annotates)):
            raise ConfigError(f"data.auxiliary[{i}].annotates: expected a list of labels (or null), got {aux.annotates!r}")
        if not isinstance(aux.outside, list) or not all(isinstance(x, str) for x in aux.outside):
            raise ConfigError(f"data.auxiliary[{i}].outside: expected a list of labels, got {aux.outside!r}")
        if aux.max_documents is not None and (not isinstance(aux.max_documents, int) or isinstance(aux.max_documents, bool) or aux.max_documents < 1):
            raise ConfigError(f"data.auxiliary[{i}].max_documents: expected an integer >= 1 (or null for all), got {aux.max_documents!r}")
    for key, least in POSITIVE_INTS:
        value = _get(config, key)
        optional = key in ("optim.max_steps", "optim.eval_every_steps", "optim.patience", "model.encoder_layers")
        if value is None and optional:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ConfigError(f"{key}: expected an integer >= {least}, got {value!r}")
    kept, frozen = config.model.encoder_layers, config.model.freeze_layers
    if kept and frozen >= kept:
        raise ConfigError(f"model.freeze_layers: {frozen} must be below model.encoder_layers ({kept}) to leave a layer to train")
    fresh = config.model.reinit_layers
    if kept and fresh > kept - frozen:
        raise ConfigError(f"model.reinit_layers: {fresh} must be at most model.encoder_layers ({kept}) minus model.freeze_layers ({frozen})")
    epochs = config.optim.epochs
    if not isinstance(epochs, (int, float)) or isinstance(epochs, bool) or not epochs > 0 or epochs != epochs or epochs == float("inf"):
        raise ConfigError(f"optim.epochs: expected a number > 0 (e.g. 3 or 0.5), got {epochs!r}")
    _check_train_fraction(config.data.train_fraction)
    _check_loss_weights(config)
    for key in ("optim.lr", "optim.head_lr", "optim.weight_decay", "optim.warmup_ratio", "optim.max_grad_norm"):
        value = _get(config, key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{key}: expected a number >= 0, got {value!r}")
    _check_dropout("model", {"dropout": config.model.dropout})
    _check_ema_decay(config.optim.ema_decay)
    decay = config.optim.layer_lr_decay
    if not isinstance(decay, (int, float)) or isinstance(decay, bool) or not 0 < decay <= 1:
        raise ConfigError(f"optim.layer_lr_decay: expected a number in (0, 1] (1: no decay; e.g. 0.9), got {decay!r}")


def _check_ema_decay(value) -> None:
    if not is_rate(value):
        raise ConfigError(f"optim.ema_decay: expected a number in [0, 1) (0 switches the weight average off; e.g. 0.99), got {value!r}")


def _check_relation_head(settings) -> None:
    from persian_ie.training.relations import DEFAULTS

    if not isinstance(settings, dict):
        raise ConfigError(f"model.relation_head: expected a mapping, got {settings!r}")
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"model.relation_head: unknown keys {unknown}; allowed keys: {', '.join(DEFAULTS)}")
    _check_sizes("model.relation_head", settings, {"proj_size": (0, MAX_PART_SIZE), "mlp_size": (1, MAX_PART_SIZE)})
    problem = sentence_gap_problem(settings.get("max_sentence_gap", {}))
    if problem:
        raise ConfigError(f"model.relation_head.max_sentence_gap: {problem}")
    _check_dropout("model.relation_head", settings)


def _check_freeze_embeddings(model) -> None:
    value = model.freeze_embeddings
    if value is not True and value is not False and value != "unseen":
        raise ConfigError(f"model.freeze_embeddings: expected true, false or unseen, got {value!r}")
    if value == "unseen" and model.freeze_layers:
        # the frozen lower layers' output is computed once, so trained embedding rows would never be read
        raise ConfigError("model.freeze_embeddings: unseen trains embedding rows, which model.freeze_layers "
                          f"({model.freeze_layers}) keeps fixed; use one of the two")


def _check_span_refiner(model) -> None:
    from persian_ie.training.span_refiner import DEFAULTS

    if not isinstance(model.refine_spans, bool):
        raise ConfigError(f"model.refine_spans: expected true or false, got {model.refine_spans!r}")
    if not isinstance(model.span_refiner, dict):
        raise ConfigError(f"model.span_refiner: expected a mapping, got {model.span_refiner!r}")
    unknown = sorted(set(model.span_refiner) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"model.span_refiner: unknown keys {unknown}; allowed keys: {', '.join(DEFAULTS)}")
    _check_sizes("model.span_refiner", model.span_refiner, {"max_width": (1, MAX_REFINER_WIDTH), "proj_size": (1, MAX_PART_SIZE),
                                                            "mlp_size": (1, MAX_PART_SIZE), "members": (1, MAX_REFINER_MEMBERS)})
    _check_dropout("model.span_refiner", model.span_refiner)


def _check_dropout(section: str, settings: dict) -> None:
    """The range a model directory's config.json must have (models/configuration.py), checked before training."""
    value = settings.get("dropout", 0.0)
    if not is_rate(value):
        raise ConfigError(f"{section}.dropout: must be a number in [0, 1), got {value!r}")


def _check_sizes(section: str, settings: dict, ranges: dict) -> None:
    """The sizes a trained part is built with: a model directory refuses anything above these limits
    (models/configuration.py), so training must not save one."""
    for key, (low, high) in ranges.items():
        value = settings.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            raise ConfigError(f"{section}.{key}: expected an integer in [{low}, {high}], got {value!r}")


def _check_train_fraction(fraction) -> None:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ConfigError(f"data.train_fraction: expected a number in (0, 1] (e.g. 0.25), got {fraction!r}")


def _positive_weight(value, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ConfigError(f"{key}: expected a number > 0, got {value!r}")


def _check_loss_weights(config: TrainConfig) -> None:
    """Layer and tag weights name layers and tags of the schema (a typo fails before the base model loads)."""
    layer_weights, tag_weights = config.model.loss_weights, config.model.tag_weights
    for key, value in (("model.loss_weights", layer_weights), ("model.tag_weights", tag_weights)):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping of layers, got {value!r}")
    if not layer_weights and not tag_weights:
        return
    from persian_ie.data.schema import load_schema

    schema = load_schema(config.data.schema)
    for key, weights in (("model.loss_weights", layer_weights), ("model.tag_weights", tag_weights)):
        for layer in weights:
            if layer not in schema.layers:
                raise ConfigError(f"{key}: {layer!r} is not a layer of schema {schema.name!r}; allowed: {', '.join(schema.layers)}")
    for layer, weight in layer_weights.items():
        _positive_weight(weight, f"model.loss_weights.{layer}")
    for layer, weights in tag_weights.items():
        if not isinstance(weights, dict):
            raise ConfigError(f"model.tag_weights.{layer}: expected a mapping of tags to weights, got {weights!r}")
        for tag, weight in weights.items():
            if tag not in schema.tags(layer):
                raise ConfigError(f"model.tag_weights.{layer}: {tag!r} is not a tag of layer {layer!r}; allowed: {', '.join(schema.tags(layer))}")
            _positive_weight(weight, f"model.tag_weights.{layer}.{tag}")
