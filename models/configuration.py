"""``PersianIEConfig``: everything a trained model needs, in its ``config.json``.

The encoder's own config is nested (stored as a dict, exposed as a config
object, as encoder-decoder configs do); next to it the label schema and its
per-layer ``id2label``/``label2id``, the window, normalization, decoding and
the relation component (``relation_model``: registry name + params, see
``components.py``) and the optional span boundary refiner (``span_refiner``). ``check_config`` refuses anything a model could not run
with, naming the file and the field (E304).
"""

from __future__ import annotations

from transformers import AutoConfig, PretrainedConfig

from persian_ie.data.schema import LabelSchema
from persian_ie.errors import ModelConfigError, SchemaError

MODEL_TYPE = "persian_ie_layered"
DECODINGS = ("argmax", "constrained")
MAX_VOCAB = 10_000_000  # far above any real vocabulary; guards against absurd embedding allocations
# Shapes of the small learned parts (span refiner, relation head): far above any trained value
# (refiner max_width 16/24, proj 128, mlp 256, members 1/3; relation head proj 8-64, mlp 128;
# the longest gold span in the corpus has 15 words), low enough that a corrupt or hostile
# config.json cannot make loading allocate gigabytes (refiner width embedding: max_width + 1 rows;
# members x Linear(hidden, proj_size) and Linear(5 * proj_size + ..., mlp_size)).
MAX_REFINER_WIDTH = 64
MAX_PART_SIZE = 4096  # proj_size and mlp_size of the refiner and the relation head
MAX_REFINER_MEMBERS = 16
# relation candidates look back this many sentences at most (the pair features tell 0, 1 and 2+
# apart; defaults 0/2/2); a huge gap would make candidate enumeration loop over it per head span
MAX_SENTENCE_GAP = 32


def sentence_gap_problem(gaps) -> str | None:
    """What is wrong with a relation head's ``max_sentence_gap`` (None if nothing): relation type ->
    sentences looked back, an integer in [0, MAX_SENTENCE_GAP] (candidate enumeration loops over the
    gap for every head span). One rule for training configs and model directories."""
    from persian_ie.models.relation_head import TYPE_NAMES

    if not isinstance(gaps, dict):
        return f"expected a mapping of relation types ({', '.join(TYPE_NAMES)}) to integers, got {gaps!r}"
    for key, value in gaps.items():
        if key not in TYPE_NAMES:
            return f"unknown relation type {key!r}; known: {', '.join(TYPE_NAMES)}"
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SENTENCE_GAP:
            return f"{key}: expected an integer in [0, {MAX_SENTENCE_GAP}], got {value!r}"
    return None


def is_rate(value) -> bool:
    """A number in [0, 1) (not a bool): every dropout setting of a model, and the training
    weight average's decay (training/config.py)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 <= value < 1


class PersianIEConfig(PretrainedConfig):
    model_type = MODEL_TYPE

    def __init__(self, encoder=None, schema: dict | None = None, window: dict | None = None, normalization: dict | None = None,
                 decoding: str = "argmax", relation_model: dict | None = None, span_refiner: dict | None = None, dropout: float = 0.1, loss_weights: dict | None = None, tag_weights: dict | None = None,
                 base_model: str | None = None, run_name: str | None = None, training_config: dict | None = None,
                 layer_id2label: dict | None = None, layer_label2id: dict | None = None, persian_ie_version: str | None = None, **kwargs):
        if isinstance(encoder, dict):
            encoder = dict(encoder)
            encoder = AutoConfig.for_model(encoder.pop("model_type", "bert"), **encoder)
        self.encoder = encoder
        self.schema = schema
        self.window = window
        self.normalization = normalization or {}
        self.decoding = decoding
        self.relation_model = relation_model
        self.span_refiner = span_refiner  # None, or the boundary refiner's label, layer and shape (models/span_refiner.py)
        self.dropout = dropout
        self.loss_weights = loss_weights
        self.tag_weights = tag_weights
        self.base_model = base_model
        self.run_name = run_name
        self.training_config = training_config
        if schema is not None and layer_id2label is None:
            layer_id2label, layer_label2id = _label_maps(LabelSchema.from_dict(schema))
        self.layer_id2label = layer_id2label
        self.layer_label2id = layer_label2id
        self.persian_ie_version = persian_ie_version
        super().__init__(**kwargs)

    @property
    def label_schema(self) -> LabelSchema:
        return LabelSchema.from_dict(self.schema, origin="config.json")

    def to_dict(self) -> dict:
        out = super().to_dict()
        if isinstance(self.encoder, PretrainedConfig):
            out["encoder"] = self.encoder.to_dict()
            out["encoder"].pop("transformers_version", None)
        return out


def _label_maps(schema: LabelSchema) -> tuple[dict, dict]:
    id2label = {layer: {str(i): tag for i, tag in enumerate(schema.tags(layer))} for layer in schema.layers}
    label2id = {layer: {tag: i for i, tag in enumerate(schema.tags(layer))} for layer in schema.layers}
    return id2label, label2id


def build_config(encoder_config, schema: LabelSchema, window: dict, **settings) -> PersianIEConfig:
    """A config for a new model on ``encoder_config`` (training, 0.1.0 conversion)."""
    from persian_ie.models.components import default_relation_model

    settings.setdefault("relation_model", default_relation_model(schema))
    return PersianIEConfig(encoder=encoder_config.to_dict(), schema=schema.to_dict(), window=dict(window), **settings)


def _positive_int(value, origin: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ModelConfigError(f"{origin}: field '{field}' must be a positive integer, got {value!r}")
    return value


def _bounded_int(value, origin: str, field: str, limit: int) -> int:
    """A positive integer at most ``limit`` (a size that allocates: refused before anything is built)."""
    _positive_int(value, origin, field)
    if value > limit:
        raise ModelConfigError(f"{origin}: field '{field}' is {value}, above the {limit} limit")
    return value


def _check_settings(config: PersianIEConfig, origin: str) -> None:
    """dropout, loss_weights and normalization: values a model would only trip over later."""
    from persian_ie.data.normalize import NormalizerConfig
    from persian_ie.errors import ConfigError

    dropout = config.dropout
    if not is_rate(dropout):
        raise ModelConfigError(f"{origin}: field 'dropout' must be a number in [0, 1), got {dropout!r}")
    weights = config.loss_weights or {}
    if not isinstance(weights, dict) or any(isinstance(w, bool) or not isinstance(w, (int, float)) for w in weights.values()):
        raise ModelConfigError(f"{origin}: field 'loss_weights' must map layers to numbers, got {weights!r}")
    tag_weights = config.tag_weights or {}
    if not isinstance(tag_weights, dict) or not all(
            isinstance(tags, dict) and all(not isinstance(w, bool) and isinstance(w, (int, float)) and w > 0 for w in tags.values())
            for tags in tag_weights.values()):
        raise ModelConfigError(f"{origin}: field 'tag_weights' must map layers to {{tag: positive number}}, got {tag_weights!r}")
    try:
        NormalizerConfig.from_dict(config.normalization)
    except (ConfigError, TypeError, ValueError, AttributeError) as exc:
        raise ModelConfigError(f"{origin}: field 'normalization' is invalid: {exc}") from None


def check_config(config: PersianIEConfig, origin: str = "config.json") -> None:
    """Refuse settings a model cannot run with; every message names ``origin`` and the field."""
    encoder = config.encoder
    if not isinstance(encoder, PretrainedConfig):
        raise ModelConfigError(f"{origin}: field 'encoder' is missing or not an encoder config")
    vocab = _positive_int(getattr(encoder, "vocab_size", None), origin, "encoder.vocab_size")
    if vocab > MAX_VOCAB:
        raise ModelConfigError(f"{origin}: field 'encoder.vocab_size' is {vocab}, above the {MAX_VOCAB} limit")
    _positive_int(getattr(encoder, "hidden_size", None), origin, "encoder.hidden_size")
    try:
        schema = config.label_schema
    except (SchemaError, TypeError, ValueError, AttributeError) as exc:
        raise ModelConfigError(f"{origin}: field 'schema' is invalid: {exc}") from None
    window = config.window if isinstance(config.window, dict) else {}
    max_length = _positive_int(window.get("max_length"), origin, "window.max_length")
    if max_length < 3:
        raise ModelConfigError(f"{origin}: field 'window.max_length' is {max_length}; a window needs room for [CLS], one word and [SEP]")
    positions = getattr(encoder, "max_position_embeddings", None)
    if isinstance(positions, int) and max_length > positions:
        raise ModelConfigError(f"{origin}: field 'window.max_length' is {max_length}, above the encoder's {positions} positions")
    stride = window.get("stride")
    if isinstance(stride, bool) or not isinstance(stride, int) or not 0 <= stride < max_length:
        raise ModelConfigError(f"{origin}: field 'window.stride' must be an integer in [0, window.max_length), got {stride!r}")
    _check_settings(config, origin)
    if config.decoding not in DECODINGS:
        raise ModelConfigError(f"{origin}: field 'decoding' is {config.decoding!r}; use one of {list(DECODINGS)}")
    if config.layer_id2label is not None and config.layer_id2label != _label_maps(schema)[0]:
        raise ModelConfigError(f"{origin}: field 'layer_id2label' does not match the schema's tags {_label_maps(schema)[0]}")
    from persian_ie.models.components import resolve_component

    resolve_component(config.relation_model, schema, origin)
    _check_span_refiner(config.span_refiner, schema, origin)


def _check_span_refiner(params, schema: LabelSchema, origin: str) -> None:
    """None, or {label, layer, max_width, ...} with the label's B- tag in that layer; sizes within
    MAX_REFINER_WIDTH, MAX_PART_SIZE and MAX_REFINER_MEMBERS, dropout in [0, 1)."""
    if params is None:
        return
    if not isinstance(params, dict) or not {"label", "layer"} <= set(params):
        raise ModelConfigError(f"{origin}: field 'span_refiner' must be null or a mapping with 'label' and 'layer', got {params!r}")
    layer, label = params["layer"], params["label"]
    if layer not in schema.layers or f"B-{label}" not in schema.tags(layer):
        raise ModelConfigError(f"{origin}: field 'span_refiner' names label {label!r} in layer {layer!r}, which the schema does not have")
    limits = {"max_width": MAX_REFINER_WIDTH, "proj_size": MAX_PART_SIZE, "mlp_size": MAX_PART_SIZE, "members": MAX_REFINER_MEMBERS}
    for key, limit in limits.items():
        if key in params:
            _bounded_int(params[key], origin, f"span_refiner.{key}", limit)
    dropout = params.get("dropout", 0.0)
    if not is_rate(dropout):
        raise ModelConfigError(f"{origin}: field 'span_refiner.dropout' must be a number in [0, 1), got {dropout!r}")


# The model class registers both auto classes (layered.py imports this module).
from persian_ie.models import layered as _layered  # noqa: E402,F401
