"""Relation components chosen by name (spaCy-factory style).

A model's config names its relation component (``relation_model: {name,
params}``); ``resolve_component`` builds it for the model's label schema. A
component has ``link(text, spans, sentence_bounds) -> relations`` and
``records(text, spans, relations, sentence_bounds, meta) -> dict``. The
schema decides which component runs, so a PEYMA model (no relations) runs
none, and a learned relation head can register under its own name.
"""

from __future__ import annotations

from typing import Callable

from persian_ie.errors import ModelConfigError

_COMPONENTS: dict[str, Callable] = {}

RULES_V1 = "persian_ie.linking_rules.v1"


def register_component(name: str):
    """Decorator: ``@register_component("my.relations.v1")`` on a factory ``f(schema, **params)``."""

    def wrap(factory):
        _COMPONENTS[name] = factory
        return factory

    return wrap


def registered_components() -> list[str]:
    return sorted(_COMPONENTS)


def resolve_component(spec: dict | None, schema, origin: str = "config.json"):
    """The component ``spec`` names, built for ``schema``; None when no relation model is set."""
    if spec is None:
        return None
    name = spec.get("name") if isinstance(spec, dict) else None
    if name not in _COMPONENTS:
        raise ModelConfigError(f"{origin}: field 'relation_model.name' is {name!r}; registered components: {registered_components()}")
    params = spec.get("params") or {}
    if not isinstance(params, dict):
        raise ModelConfigError(f"{origin}: field 'relation_model.params' must be a mapping, got {params!r}")
    try:
        return _COMPONENTS[name](schema, **params)
    except TypeError as exc:  # params the factory does not take
        raise ModelConfigError(f"{origin}: field 'relation_model.params' does not fit {name!r}: {exc}") from None
    except ModelConfigError as exc:
        raise ModelConfigError(f"{origin}: field 'relation_model': {str(exc)[7:]}") from None


def default_relation_model(schema) -> dict | None:
    """The rule linker for schemas with relation types, none otherwise."""
    return {"name": RULES_V1, "params": {}} if schema.relations else None


class RuleLinker:
    """SCHEMA.md's documented rules (models/linking.py), keeping only the schema's relation types."""

    needs = ("PER", "TITLE", "ORG", "CITY", "PROPOSAL")

    def __init__(self, schema):
        missing = [label for label in self.needs if label not in schema.labels]
        if missing:
            raise ModelConfigError(f"relation component {RULES_V1!r} needs labels {missing} that schema {schema.name!r} lacks; set relation_model to null")
        self.relation_types = set(schema.relations)

    def link(self, text, spans, bounds):
        from persian_ie.models.linking import link

        return [r for r in link(text, spans, bounds) if r.type in self.relation_types]

    def records(self, text, spans, relations, bounds, meta):
        from persian_ie.models.linking import build_records

        return build_records(text, spans, relations, bounds, meta)


register_component(RULES_V1)(RuleLinker)


class LearnedLinker:
    """``persian_ie.relation_head.v1``: the model's ``relation_head`` scores candidate pairs
    (models/relation_head.py). It needs the word positions (``needs_words``) and, only when the
    head was trained with ``span_vectors``, the encoder's word vectors (``needs_states``): a
    features-only head (the default) runs beside any forward backend.

    Params (config.json ``relation_model.params``): ``thresholds`` per relation type
    (tuned on dev), ``max_sentence_gap`` per type, ``proj_size``/``mlp_size``/``n_features``
    ``span_vectors`` and ``dropout`` (the head's shape, read by the model to build ``relation_head``).
    """

    needs = RuleLinker.needs
    needs_words = True

    def __init__(self, schema, thresholds: dict | None = None, max_sentence_gap: dict | None = None, proj_size: int = 64, mlp_size: int = 128, n_features: int | None = None,
                 span_vectors: bool = True, dropout: float = 0.1):
        from persian_ie.models.relation_head import DEFAULT_GAPS, LEARNED_V1, N_FEATURES, TYPE_NAMES

        missing = [label for label in self.needs if label not in schema.labels]
        if missing:
            raise ModelConfigError(f"relation component {LEARNED_V1!r} needs labels {missing} that schema {schema.name!r} lacks; set relation_model to null")
        self.thresholds = {t: 0.5 for t in TYPE_NAMES}
        for key, value in (thresholds or {}).items():
            if key not in TYPE_NAMES or isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ModelConfigError(f"params.thresholds: {key!r}: {value!r} must be a relation type {list(TYPE_NAMES)} with a number in [0, 1]")
            self.thresholds[key] = float(value)
        _check_head_shape(proj_size, mlp_size, dropout)
        self.gaps = {**DEFAULT_GAPS, **_checked_gaps(max_sentence_gap)}
        if n_features is not None and n_features != N_FEATURES:
            raise ModelConfigError(f"params.n_features is {n_features}, but this version computes {N_FEATURES} pair features; retrain the relation head (persian-ie train-relations)")
        self.relation_types = set(schema.relations)
        self.needs_states = bool(span_vectors)
        self.head = None

    def bind(self, module) -> None:
        """The model's ``relation_head`` (the predictor binds it; a model without one cannot link)."""
        from persian_ie.errors import RelationHeadError

        if module is None:
            raise RelationHeadError("config.json: relation_model is 'persian_ie.relation_head.v1' but the model has no relation_head weights; train them with persian-ie train-relations")
        self.head = module

    def scored_candidates(self, text, spans, bounds, states):
        """(candidates, probabilities) for the document; ``states`` = (word_starts, word_ends, vectors)."""
        from persian_ie.models.relation_head import candidate_pairs, candidate_tensors

        starts, ends, vectors = states
        cands = candidate_pairs(text, spans, bounds, starts, self.gaps)
        if not cands:
            return cands, []
        import torch

        inputs = candidate_tensors(cands, starts, ends, vectors)
        param = next(self.head.parameters())
        with torch.inference_mode():
            logits = self.head(**{k: v.to(param.device, param.dtype if v.is_floating_point() else v.dtype) for k, v in inputs.items()})
        return cands, torch.sigmoid(logits.float()).cpu().tolist()

    def link(self, text, spans, bounds, states=None):
        from persian_ie.errors import RelationHeadError
        from persian_ie.models.relation_head import decode

        if states is None or self.head is None:
            raise RelationHeadError("the learned relation component links with word positions (and, for a span-vector head, the encoder's word vectors); run it through Predictor (it binds the model's relation_head)")
        cands, scores = self.scored_candidates(text, spans, bounds, states)
        return [r for r in decode(cands, scores, self.thresholds) if r.type in self.relation_types]

    def records(self, text, spans, relations, bounds, meta):
        from persian_ie.models.linking import build_records

        return build_records(text, spans, relations, bounds, meta)


def _check_head_shape(proj_size, mlp_size, dropout) -> None:
    """The head's sizes allocate when the model is built: integers within MAX_PART_SIZE
    (proj_size may be 0: no span projection), dropout in [0, 1)."""
    from persian_ie.models.configuration import MAX_PART_SIZE, is_rate

    for key, value, low in (("proj_size", proj_size, 0), ("mlp_size", mlp_size, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ModelConfigError(f"params.{key} must be an integer >= {low}, got {value!r}")
        if value > MAX_PART_SIZE:
            raise ModelConfigError(f"params.{key} is {value}, above the {MAX_PART_SIZE} limit")
    if not is_rate(dropout):
        raise ModelConfigError(f"params.dropout must be a number in [0, 1), got {dropout!r}")


def _checked_gaps(gaps) -> dict:
    from persian_ie.models.configuration import sentence_gap_problem

    if gaps is None:
        return {}
    problem = sentence_gap_problem(gaps)
    if problem:
        raise ModelConfigError(f"params.max_sentence_gap: {problem}")
    return dict(gaps)


def _learned_factory(schema, **params):
    return LearnedLinker(schema, **params)


from persian_ie.models.relation_head import LEARNED_V1 as _LEARNED_V1  # noqa: E402

register_component(_LEARNED_V1)(_learned_factory)
