"""The layered token classifier: one encoder, one softmax head per schema layer.

Each layer (entity, role, event in the default schema) has its own IOB2 tag
set and linear head; the loss is the weighted sum of the layers'
cross-entropies (labels ``IGNORE`` ignored). The heads come from the label
schema, so the same class trains the project schema, PEYMA's seven types or
a user's own. A ``PreTrainedModel``: ``save_pretrained`` writes config.json
(``PersianIEConfig``) and model.safetensors; after ``import persian_ie``,
``AutoModel.from_pretrained(DIR)`` returns this class with every weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers.utils import ModelOutput

from persian_ie.data.encoding import IGNORE
from persian_ie.errors import ConfigError, UnsupportedUseError
from persian_ie.models.configuration import MODEL_TYPE, PersianIEConfig, check_config
from persian_ie.models.encoder_split import upper_states
from persian_ie.models.relation_head import build_relation_head
from persian_ie.models.span_refiner import build_span_refiner


@dataclass
class LayeredOutput(ModelOutput):
    """``logits``: {layer: [batch, positions, tags]}; ``loss`` when labels were given;
    ``last_hidden_state``: the encoder's output (the learned relation head pools it)."""

    loss: torch.Tensor | None = None
    logits: dict | None = None
    last_hidden_state: torch.Tensor | None = None


def encoder_from_config(encoder_config) -> nn.Module:
    kwargs = {"add_pooling_layer": False} if encoder_config.model_type == "bert" else {}
    return AutoModel.from_config(encoder_config, **kwargs)


class LayeredTokenClassifier(PreTrainedModel):
    config_class = PersianIEConfig
    base_model_prefix = "encoder"
    main_input_name = "input_ids"

    def __init__(self, config: PersianIEConfig, encoder: nn.Module | None = None):
        # AutoModel.from_pretrained(DIR) builds the model straight from config.json, without
        # persian-ie's loader: check it here too, before any part is allocated from its sizes.
        check_config(config, f"{config._name_or_path}/config.json" if config._name_or_path else "config")
        super().__init__(config)
        self.schema = config.label_schema
        self.encoder = encoder if encoder is not None else encoder_from_config(config.encoder)
        hidden = config.encoder.hidden_size
        self.dropout = nn.Dropout(config.dropout)
        self.heads = nn.ModuleDict({layer: nn.Linear(hidden, len(self.schema.tags(layer))) for layer in self.schema.layers})
        unknown = set(config.loss_weights or {}) - set(self.schema.layers)
        if unknown:
            raise ConfigError(f"model.loss_weights: {sorted(unknown)} are not layers of schema {self.schema.name!r} {list(self.schema.layers)}")
        self.loss_weights = {layer: float((config.loss_weights or {}).get(layer, 1.0)) for layer in self.schema.layers}
        # Plain lists, not buffers: they live in config.json, model.safetensors keeps its keys, and
        # from_pretrained's empty-weight init cannot leave them uninitialized.
        self.class_weights = self._class_weights(config.tag_weights or {})
        for head in self.heads.values():
            self._init_head(head)
            head._is_hf_initialized = True  # post_init must not draw from the RNG again (same seed, same run)
        if encoder is not None:
            self.encoder._is_hf_initialized = True  # pretrained weights: never re-initialized
        # ``relation_head.*``: only when config.relation_model names the learned head
        self.relation_head = build_relation_head(config)
        # ``span_refiner.*``: only when config.span_refiner is set (models/span_refiner.py)
        self.span_refiner = build_span_refiner(config)
        self.post_init()

    def _class_weights(self, tag_weights: dict) -> dict:
        """{layer: weight per tag, in tag order} for layers with tag weights; other tags weigh 1."""
        out = {}
        for layer, weights in tag_weights.items():
            if layer not in self.schema.layers:
                raise ConfigError(f"model.tag_weights: {layer!r} is not a layer of schema {self.schema.name!r} {list(self.schema.layers)}")
            tags = self.schema.tags(layer)
            unknown = set(weights) - set(tags)
            if unknown:
                raise ConfigError(f"model.tag_weights.{layer}: {sorted(unknown)} are not tags of layer {layer!r} {tags}")
            out[layer] = [float(weights.get(tag, 1.0)) for tag in tags]
        return out

    @staticmethod
    def _init_head(module: nn.Linear) -> None:
        nn.init.normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear) and any(module is h for h in self.heads.values()):
            self._init_head(module)
        elif module is not self and hasattr(self.encoder, "_init_weights"):
            self.encoder._init_weights(module)

    @property
    def layers(self) -> list[str]:
        return list(self.schema.layers)

    def forward(self, input_ids=None, attention_mask=None, labels: dict | None = None, lower_states=None, lower_layers: int = 0,
                **encoder_kwargs) -> LayeredOutput:
        """``lower_states`` (with ``lower_layers``): the output of the encoder's lower layers, computed
        before (models/encoder_split.py); only the layers above run. Training uses it with frozen lower layers."""
        if lower_states is not None:
            hidden = upper_states(self.encoder, lower_states, attention_mask, lower_layers)
        else:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **encoder_kwargs).last_hidden_state
        hidden = self.dropout(hidden)
        logits = {layer: head(hidden) for layer, head in self.heads.items()}
        loss = None
        if labels is not None:
            loss = hidden.new_zeros((), dtype=torch.float32)
            for layer, layer_logits in logits.items():
                # With tag weights the mean is over weights (torch's weighted mean), so weighting a
                # rare tag shifts the balance towards it without rescaling the layer's loss.
                weight = self.class_weights.get(layer)
                weight = torch.tensor(weight, device=layer_logits.device) if weight else None
                loss = loss + self.loss_weights[layer] * _layer_loss(layer_logits.float().flatten(0, 1), labels[layer].flatten(), weight)
        return LayeredOutput(loss=loss, logits=logits, last_hidden_state=hidden)


PIPELINE_MESSAGE = (
    "{what} expects one logits tensor and config.id2label; a persian-ie model has one head per label layer and "
    "needs Persian normalization with offsets, sentence windows and relation linking around it. Use "
    "persian_ie.models.predictor.Predictor.from_pretrained(DIR) (texts -> documents), `persian-ie predict --model DIR`, "
    "or AutoModel.from_pretrained(DIR) for the full model"
)


class TokenClassificationRefusal:
    """What ``AutoModelForTokenClassification`` gets for a persian-ie config.

    The token-classification contract (one ``logits`` tensor, ``config.id2label``)
    does not fit a layered model, and ``transformers.pipeline("token-classification")``
    loads through this auto class: refusing here gives one clear message at
    load time instead of a KeyError inside the pipeline's postprocess.
    """

    config_class = PersianIEConfig

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        raise UnsupportedUseError(PIPELINE_MESSAGE.format(what="AutoModelForTokenClassification (and transformers.pipeline('token-classification'))"))

    @classmethod
    def _from_config(cls, *args, **kwargs):  # what AutoModelForTokenClassification.from_config calls
        raise UnsupportedUseError(PIPELINE_MESSAGE.format(what="AutoModelForTokenClassification"))


def register_auto_classes() -> None:
    """``AutoConfig``/``AutoModel`` know this model; ``AutoModelForTokenClassification`` refuses it (run on import)."""
    from transformers import AutoConfig, AutoModelForTokenClassification

    AutoConfig.register(MODEL_TYPE, PersianIEConfig, exist_ok=True)
    AutoModel.register(PersianIEConfig, LayeredTokenClassifier, exist_ok=True)
    AutoModelForTokenClassification.register(PersianIEConfig, TokenClassificationRefusal, exist_ok=True)


register_auto_classes()


def _layer_loss(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Cross-entropy over the positions that have a label; 0, not NaN, when none has
    (a batch of partly annotated documents that says nothing about this layer).
    The check costs one host sync per layer; torch's own mean is kept so that
    fully annotated training gives the same numbers as before."""
    if not bool((labels != IGNORE).any()):
        return logits.sum() * 0.0
    return nn.CrossEntropyLoss(weight=weight, ignore_index=IGNORE)(logits, labels)
