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
