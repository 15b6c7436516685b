"""Issue 13: things defined once, and stage imports pointing one way.

A grep over the package source: a second copy of a definition, or an import
against the stage order, fails here before review has to find it."""

import re

from conftest import ROOT

STAGES = ("data", "models", "training", "eval", "inference", "persian_ie")


def _sources():
    for stage in STAGES:
        for path in sorted((ROOT / stage).rglob("*.py")):
            yield path, path.read_text("utf-8")


def _matches(pattern: str) -> list[str]:
    rx = re.compile(pattern)
    return [f"{path.relative_to(ROOT)}:{n}" for path, text in _sources() for n, line in enumerate(text.splitlines(), 1) if rx.search(line)]


def test_zero_width_set_is_defined_once():
    definitions = _matches(r"^ZERO_WIDTH\s*=")
    assert len(definitions) == 1 and definitions[0].startswith("data/normalize.py:"), definitions
    # no other module spells the zero-width characters out as a set of its own
    literal = r"\{[^}]*\\u200[bd][^}]*\}"
    assert [m for m in _matches(literal) if not m.startswith("data/normalize.py:")] == []


def test_text_in_context_snippets_have_one_implementation():
    # a snippet is built by slicing some width before a position: text[max(0, start - N):...]
    slicing = _matches(r"\[max\(0,\s*\w+\s*-\s*\w+\)\s*:")
    assert slicing and all(m.startswith("data/snippets.py:") for m in slicing), slicing
    users = {m.split(":")[0] for m in _matches(r"from persian_ie\.data\.snippets import")}
    assert {"data/validate.py", "data/inline.py", "eval/analysis.py", "eval/agreement.py"} <= users


def test_data_never_imports_the_later_stages():
    later = r"persian_ie\.(models|training|eval|inference|bench)\b"
    offenders = [m for m in _matches(rf"^\s*(from|import)\s+{later}") if m.startswith("data/")]
    assert offenders == []


def test_tests_do_not_import_bench():
    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if re.match(r"^\s*(from|import)\s+(persian_ie\.)?bench\b", line):
                offenders.append(f"{path.name}:{n}")
    assert offenders == []


def test_yaml_is_read_only_through_safe_yaml():
    readers = _matches(r"yaml\.(safe_load|load|full_load|unsafe_load)\(")
    assert [m for m in readers if not m.startswith("data/safe_yaml.py:")] == []
