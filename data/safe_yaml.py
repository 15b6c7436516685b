"""The one YAML loader for schema and config files.

YAML anchors and aliases let a few hundred bytes expand to gigabytes (the
"billion laughs" file: 340 bytes took 33 s and 2.7 GB). Our files never need
them, so the loader refuses any anchor or alias before building a single
object, and the error names the file and line.
"""

from __future__ import annotations

import yaml

from persian_ie.errors import YamlError


class _NoAliasLoader(yaml.SafeLoader):
    """``SafeLoader`` that stops at the first anchor (``&a``) or alias (``*a``)."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            kind = "alias *" if isinstance(event, yaml.AliasEvent) else "anchor &"
            raise _AliasFound(f"{kind}{event.anchor}", event.start_mark.line + 1)
        return super().compose_node(parent, index)


class _AliasFound(Exception):
    def __init__(self, what: str, line: int):
        super().__init__(what)
        self.what, self.line = what, line


def load_yaml(text: str, origin: str = "<yaml>"):
    """Parse ``text`` (from ``origin``, a path or name for messages) with no anchors or aliases.

    Raises ``YamlError`` (E104) for an alias/anchor or invalid YAML.
    """
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except _AliasFound as exc:
        raise YamlError(
            f"{origin}:{exc.line}: YAML {exc.what} is not allowed (anchors and aliases can expand "
            "without bound); write the value out in full"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise YamlError(f"{origin}{line}: invalid YAML: {str(exc).splitlines()[0]}") from None
