"""Label schemas: layers of mutually exclusive labels, and relation types.

The schema is data, not code (a small YAML or JSON file). The project's
default is SCHEMA.md's; PEYMA, ParsTwiNER or a user's corpus bring their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from persian_ie.data.safe_yaml import load_yaml
from persian_ie.errors import SchemaError

BUILTIN_SCHEMAS = ("default", "peyma", "parstwiner")

# Records (SCHEMA.md section 4) are facts assembled from relations:
# ``officials`` from ``holder`` (a PER holding a TITLE), ``proposals`` from
# each PROPOSAL with its ``proposer`` and ``party`` relations. A schema has a
# kind of record only when it has the labels and at least one of the
# relations it is made of, so a schema without them (PEYMA) has no records
# section at all rather than a row of zeros.
RECORD_KINDS = {
    "officials": {"labels": ("PER", "TITLE"), "relations": ("holder",)},
    "proposals": {"labels": ("PROPOSAL",), "relations": ("proposer", "party")},
}


@dataclass(frozen=True)
class RelationType:
    name: str
    head: tuple[str, ...]
    tail: tuple[str, ...]


@dataclass(frozen=True)
class LabelSchema:
    """Layers (name -> labels) and relation types of one annotation scheme."""

    name: str
    layers: dict[str, tuple[str, ...]]
    relations: dict[str, RelationType] = field(default_factory=dict)
    version: int = 1

    def __post_init__(self):
        seen: dict[str, str] = {}
        for layer, labels in self.layers.items():
            if not labels:
                raise SchemaError(f"schema {self.name!r}: layer {layer!r} has no labels")
            for label in labels:
                if label in seen:
                    raise SchemaError(
                        f"schema {self.name!r}: label {label!r} is in layers "
                        f"{seen[label]!r} and {layer!r}; a label belongs to one layer"
                    )
                if not label or label != label.strip() or "-" in label:
                    raise SchemaError(f"schema {self.name!r}: bad label name {label!r} (no '-' or spaces)")
                seen[label] = layer
        for rel in self.relations.values():
            for label in rel.head + rel.tail:
                if label not in seen:
                    raise SchemaError(
                        f"schema {self.name!r}: relation {rel.name!r} names unknown label {label!r}"
                    )

    @property
    def labels(self) -> list[str]:
        return [label for labels in self.layers.values() for label in labels]

    @property
    def record_types(self) -> list[str]:
        """The kinds of record (``RECORD_KINDS``) this schema can express."""
        return [
            kind for kind, parts in RECORD_KINDS.items()
            if all(label in self.labels for label in parts["labels"]) and any(rel in self.relations for rel in parts["relations"])
        ]

    def layer_of(self, label: str) -> str | None:
        for layer, labels in self.layers.items():
            if label in labels:
                return layer
        return None

    def tags(self, layer: str) -> list[str]:
        """IOB2 tags of one layer: ``O`` first, then ``B-X``, ``I-X`` per label."""
        tags = ["O"]
        for label in self.layers[layer]:
            tags += [f"B-{label}", f"I-{label}"]
        return tags

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "layers": {k: list(v) for k, v in self.layers.items()},
            "relations": {
                r.name: {"head": list(r.head), "tail": list(r.tail)} for r in self.relations.values()
            },
        }

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "<dict>") -> "LabelSchema":
        if not isinstance(raw, dict) or not isinstance(raw.get("layers"), dict):
            raise SchemaError(f"{origin}: a schema needs a mapping 'layers: {{layer: [labels]}}'")
        layers = {str(k): tuple(str(x) for x in (v or [])) for k, v in raw["layers"].items()}
        relations = {}
        for name, spec in (raw.get("relations") or {}).items():
            if not isinstance(spec, dict) or "head" not in spec or "tail" not in spec:
                raise SchemaError(f"{origin}: relation {name!r} needs 'head' and 'tail' label lists")
            relations[name] = RelationType(name, tuple(spec["head"]), tuple(spec["tail"]))
        return cls(str(raw.get("name", origin)), layers, relations, int(raw.get("version", 1)))

    def describe_difference(self, other: "LabelSchema") -> str:
        """Human-readable difference, used in schema-mismatch errors."""
        parts = []
        for layer in sorted(set(self.layers) | set(other.layers)):
            a, b = self.layers.get(layer), other.layers.get(layer)
            if a != b:
                parts.append(f"layer {layer!r}: {list(a) if a else 'absent'} vs {list(b) if b else 'absent'}")
        if set(self.relations) != set(other.relations):
            parts.append(f"relations {sorted(self.relations)} vs {sorted(other.relations)}")
        return "; ".join(parts) or "identical"


def load_schema(spec: str | Path | None = None) -> LabelSchema:
    """Load a schema by builtin name (``default``, ``peyma``, ``parstwiner``) or path."""
    if spec is None:
        spec = "default"
    if isinstance(spec, LabelSchema):
        return spec
    spec = str(spec)
    if spec in BUILTIN_SCHEMAS:
        text = resources.files("persian_ie.data").joinpath(f"schemas/{spec}.yaml").read_text("utf-8")
        return LabelSchema.from_dict(load_yaml(text, spec), origin=spec)
    path = Path(spec)
    if not path.exists():
        raise SchemaError(
            f"schema {spec!r} is neither a builtin ({', '.join(BUILTIN_SCHEMAS)}) nor an existing file"
        )
    text = path.read_text("utf-8")
    if path.suffix != ".json":
        return LabelSchema.from_dict(load_yaml(text, str(path)), origin=str(path))
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise SchemaError(f"{path}: cannot parse schema: {exc}") from exc
    return LabelSchema.from_dict(raw, origin=str(path))
