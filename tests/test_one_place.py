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


def test_models_never_imports_the_later_stages():
    later = r"persian_ie\.(training|eval|inference|bench)\b"
    assert [m for m in _matches(rf"^\s*(from|import)\s+{later}") if m.startswith("models/")] == []


def test_the_later_stages_import_each_other_without_a_cycle():
    # training -> eval (model selection) and eval -> inference (the facts
    # clustering check) are used; a dependency back would make a cycle
    edges = {(m.split("/")[0], target) for target in ("training", "eval", "inference")
             for m in _matches(rf"^\s*(from|import)\s+persian_ie\.{target}\b") if not m.startswith(f"{target}/")}
    later = {"training", "eval", "inference"}
    edges = {(a, b) for a, b in edges if a in later}
    assert not any((b, a) in edges for a, b in edges), edges
    assert not {("eval", "training"), ("inference", "training"), ("inference", "eval")} & edges, edges


def test_jsonl_is_parsed_in_one_place():
    # every JSONL file is read through data/document.py iter_json_lines; the
    # resume ledger parses its own lines (it must see torn commits and byte sizes)
    parsers = _matches(r"json\.loads\((line|raw)\b")
    assert parsers and {m.split(":")[0] for m in parsers} <= {"data/document.py", "inference/run_state.py"}, parsers
    assert _matches(r"for line in (fh|f)\b.*json") == []


def test_tags_become_spans_in_one_place():
    # IOB2 chunks are read only by data/iob.py tag_chunks (strict for the model, repair=True for corpora)
    readers = _matches(r"startswith\(\"B-\"\)|== \"B\"|prefix == \"I\"")
    assert readers and all(m.startswith("data/iob.py:") for m in readers), readers


def test_ignore_index_is_defined_once():
    # code, not prose: -100 assigned, passed or listed
    uses = _matches(r"(=|\(|\[)\s*-100\b|-100\s*[,)\]]")
    assert uses == [m for m in uses if m.startswith("data/encoding.py:")] and len(uses) == 1, uses


def test_fars_news_metadata_is_mapped_in_one_place():
    mapped = _matches(r"get\(\"link\"\)|\[\"link\"\]|\"source\": \"farsnews\"")
    assert mapped and all(m.startswith("data/readers.py:") for m in mapped), mapped


def test_no_helper_returns_an_empty_list_after_working_through_a_callback():
    import ast

    offenders = []
    for path, text in _sources():
        for fn in ast.walk(ast.parse(text)):
            if not isinstance(fn, ast.FunctionDef) or not fn.body:
                continue
            last = fn.body[-1]
            params = {a.arg for a in fn.args.args}
            called = {c.func.id for c in ast.walk(fn) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
            if isinstance(last, ast.Return) and isinstance(last.value, ast.List) and not last.value.elts and params & called:
                offenders.append(f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}")
    assert offenders == []


def test_prediction_entry_points_take_options_not_long_positional_lists():
    import inspect

    from persian_ie.inference.ray_engine import run_prediction_ray
    from persian_ie.inference.runner import run_prediction

    for fn in (run_prediction, run_prediction_ray):
        positional = [p for p in inspect.signature(fn).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        assert len(positional) <= 4, (fn.__name__, [p.name for p in positional])


def test_dead_code_named_in_review_stays_gone():
    assert _matches(r"\bfrom_original\b|\bnormalizer_config\b") == []
