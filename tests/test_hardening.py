"""Issue 15: hostile or broken YAML, configs, training data and validate inputs
give coded errors (or reported problems), never tracebacks or silent nonsense."""

import json

import pytest

from persian_ie.cli import main
from persian_ie.data.schema import load_schema
from persian_ie.errors import ConfigError, TrainingDataError, YamlError
from persian_ie.training.config import load_config

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"


def test_billion_laughs_schema_is_refused_with_file_and_line(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(LAUGHS)
    with pytest.raises(YamlError, match=r"laughs.yaml:1: YAML anchor &a is not allowed"):
        load_schema(str(path))


def test_alias_in_config_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\noptim: &o {epochs: 1}\nwindow: *o\n")
    with pytest.raises(YamlError, match=r"c.yaml:2: YAML anchor &o"):
        load_config(path)


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\noptim: [1, 2\n")
    with pytest.raises(YamlError, match=r"c.yaml:\d+: invalid YAML"):
        load_config(path)


@pytest.mark.parametrize("override, match", [
    ("optim.batch_size=0", r"optim.batch_size: expected an integer >= 1, got 0"),
    ("optim.batch_size=-3", r"optim.batch_size"),
    ("optim.epochs=-1", r"optim.epochs: expected a number > 0"),
    ("optim.epochs=0", r"optim.epochs"),
    ("optim.epochs=[1, 2]", r"optim.epochs: expected a number > 0 .*, got \[1, 2\]"),
    ("optim.epochs=abc", r"optim.epochs: expected a float"),
    ("seed.x=1", r"'seed' is a value \(13\), not a section"),
    ("model.decoding=viterbi", r"model.decoding: 'viterbi' is not one of argmax, constrained"),
    ("optim.precision=fp8", r"optim.precision: 'fp8' is not one of auto, fp32, bf16, fp16"),
    ("data.format=csv", r"data.format: 'csv' is not one of jsonl, peyma, conll"),
    ("window.max_length=0", r"window.max_length"),
    ("optim.lr=-1", r"optim.lr: expected a number >= 0"),
    ("optim.epoch=3", r"unknown key 'epoch'"),
    ("normalization.digits=roman", r"normalization.digits must be latin, persian or keep"),
    ("normalization=5", r"normalization: expected a mapping"),
])
def test_bad_config_values_fail_at_load(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, ["seed=13", override] if override.startswith("seed.") else [override])


def test_default_and_quickstart_configs_still_load():
    load_config(None, [])
    assert load_config("configs/quickstart.yaml").optim.epochs == 6


@pytest.mark.parametrize("content", ["", json.dumps({"id": "a", "text": "   \n "}) + "\n"])
def test_training_on_no_usable_document_is_a_coded_error(tmp_path, content):
    from persian_ie.training.corpora import load_training_documents

    train = tmp_path / "train.jsonl"
    train.write_text(content)
    cfg = load_config(None, [f"data.train=[{train}]"])
    with pytest.raises(TrainingDataError, match="no document with text"):
        load_training_documents(cfg.data, load_schema("default"))


def test_training_documents_get_validate_rules(tmp_path):
    from persian_ie.training.corpora import load_training_documents

    train = tmp_path / "train.jsonl"
    spans = [{"id": "s1", "start": 0, "end": 3, "label": "PER"}, {"id": "s2", "start": 1, "end": 5, "label": "PER"}]
    train.write_text(json.dumps({"id": "a", "text": "علی رضا آمد", "spans": spans}) + "\n")
    cfg = load_config(None, [f"data.train=[{train}]"])
    with pytest.raises(TrainingDataError, match=r"overlap.*persian-ie validate"):
        load_training_documents(cfg.data, load_schema("default"))


def _validate(tmp_path, capsys, line: str):
    path = tmp_path / "f.jsonl"
    path.write_text(line + "\n")
    status = main(["validate", str(path)])
    return status, capsys.readouterr()


@pytest.mark.parametrize("line, expected", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"id": "a", "text": "x", "n": ' + "9" * 5000 + "}", "5,000 digits"),
    (json.dumps({"id": "a", "text": "hello", "spans": 5}), "'spans' must be a list, got int"),
    (json.dumps({"id": "a", "text": "hello", "spans": True}), "'spans' must be a list, got bool"),
    (json.dumps({"id": "a", "text": "hello", "relations": 7}), "'relations' must be a list, got int"),
    (json.dumps({"id": "a", "text_sha1": "ab", "spans": [{"id": "s1", "start": -1, "end": 10**9, "label": "PER"}]}), "span-bounds"),
])
def test_validate_reports_hostile_lines_as_invalid(tmp_path, capsys, line, expected):
    status, out = _validate(tmp_path, capsys, line)
    assert status == 1 and "Traceback" not in out.err
    assert "f.jsonl:1" in out.out and expected in out.out and "INVALID" in out.out


def test_internal_error_exits_3_with_one_line_and_a_hint(monkeypatch, capsys, tmp_path):
    import persian_ie.data.validate as validate

    def boom(*_):
        raise RuntimeError("unexpected\nsecond line")

    monkeypatch.setattr(validate, "validate_files", boom)
    monkeypatch.delenv("PERSIAN_IE_DEBUG", raising=False)
    assert main(["validate", str(tmp_path / "x.jsonl")]) == 3
    err = capsys.readouterr().err
    assert err.strip() == "internal error: RuntimeError: unexpected (run with --debug or PERSIAN_IE_DEBUG=1 for the traceback, and report it)"
    assert main(["--debug", "validate", str(tmp_path / "x.jsonl")]) == 3
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("PERSIAN_IE_DEBUG", "1")
    assert main(["validate", str(tmp_path / "x.jsonl")]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_coded_errors_keep_exit_code_2(capsys):
    assert main(["validate", "--schema", "no-such-schema", "x.jsonl"]) == 2
    assert "[E101]" in capsys.readouterr().err


# --- evaluate -------------------------------------------------------------------------------------

TEXT = "علی رضا آمد و رفت"


def _jsonl(path, *docs):
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    return str(path)


def _span(i, start, end, label="PER"):
    return {"id": i, "start": start, "end": end, "label": label}


def test_evaluate_empty_gold_is_a_coded_error(tmp_path, capsys):
    gold = _jsonl(tmp_path / "g.jsonl")
    pred = _jsonl(tmp_path / "p.jsonl", {"id": "a", "text": TEXT})
    assert main(["evaluate", "--gold", gold, "--pred", pred, "--bootstrap", "0"]) == 2
    assert "empty-gold" in capsys.readouterr().err


@pytest.mark.parametrize("pred_line, expected", [
    (json.dumps({"id": "a", "text": TEXT, "spans": 5}), "'spans' must be a list"),
    ('{"id": "a", "text": "x", "spans": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
])
def test_evaluate_broken_predictions_are_coded_errors(tmp_path, capsys, pred_line, expected):
    gold = _jsonl(tmp_path / "g.jsonl", {"id": "a", "text": TEXT})
    (tmp_path / "p.jsonl").write_text(pred_line + "\n")
    assert main(["evaluate", "--gold", gold, "--pred", str(tmp_path / "p.jsonl"), "--bootstrap", "0"]) == 2
    err = capsys.readouterr().err
    assert "[E102]" in err and "p.jsonl:1" in err and expected in err


def test_evaluate_drops_impossible_gold_and_warns_on_broken_predictions(tmp_path):
    from persian_ie.data.document import read_documents
    from persian_ie.eval.report import evaluate_documents

    gold = _jsonl(tmp_path / "g.jsonl", {"id": "a", "text": TEXT, "spans": [_span("s1", 0, 3), _span("s2", 5, 999), _span("s3", 0, 3, "FOO")]})
    pred = _jsonl(tmp_path / "p.jsonl", {"id": "a", "text": TEXT, "spans": [_span("p1", 0, 3), _span("p2", 1, 7)],
                                         "relations": [{"type": "holder", "head": "p1", "tail": "zz"}]})
    report = evaluate_documents(read_documents(gold), read_documents(pred), load_schema("default"), bootstrap=0)
    assert report["warnings"] == {"gold-span-bounds": 1, "gold-unknown-label": 1, "pred-overlap": 1, "pred-relation-end": 1}
    assert "doc=a span=s2" in report["warning_examples"]["gold-span-bounds"]
    assert "span=s3" in report["warning_examples"]["gold-unknown-label"]
    assert report["labels"]["PER"]["support"] == 1  # only the possible gold span is scored


def test_compare_refuses_invalid_and_mismatched_reports(tmp_path, capsys):
    gold = _jsonl(tmp_path / "g.jsonl", {"id": "a", "text": TEXT, "spans": [_span("s1", 0, 3)]})
    other = _jsonl(tmp_path / "g2.jsonl", {"id": "b", "text": TEXT, "spans": [_span("s1", 0, 3)]})
    assert main(["evaluate", "--gold", gold, "--pred", gold, "--bootstrap", "0", "--out", str(tmp_path / "a.json")]) == 0
    assert main(["evaluate", "--gold", other, "--pred", other, "--bootstrap", "0", "--out", str(tmp_path / "b.json")]) == 0
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "thin.json").write_text('{"schema": "default"}')
    capsys.readouterr()
    for pair, expected in (((tmp_path / "bad.json", tmp_path / "a.json"), "[E402]"),
                           ((tmp_path / "thin.json", tmp_path / "a.json"), "'per_document' missing"),
                           ((tmp_path / "a.json", tmp_path / "b.json"), "different documents")):
        assert main(["evaluate", "--compare", *map(str, pair)]) == 2
        assert expected in capsys.readouterr().err


# --- predict inputs and the resume ledger ---------------------------------------------------------

def test_malformed_json_message_says_at_column_once(tmp_path):
    from persian_ie.data.document import iter_documents

    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "a", "text": }\n')
    (error,) = list(iter_documents(path))
    assert "Expecting value at column 21" in error.reason and "at at" not in error.reason


def test_a_deeply_nested_ledger_line_is_a_coded_error(tmp_path):
    from persian_ie.errors import LedgerError
    from persian_ie.inference.run_state import Ledger

    out = tmp_path / "out.jsonl"
    ledger = Ledger(out)
    ledger.start({"inputs": []})
    with open(ledger.path, "ab") as fh:
        fh.write(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    with pytest.raises(LedgerError, match=r":2: malformed JSON"):
        ledger.read()


def test_train_cli_stops_on_bad_config_or_data_before_any_model_loads(tmp_path, capsys):
    empty = tmp_path / "train.jsonl"
    empty.write_text("")
    config = tmp_path / "c.yaml"
    config.write_text("seed: 1\n")
    base = ["train", str(config), "--set", f"output_dir={tmp_path / 'run'}", "--set", "model.base=/no/such/model", "--no-progress"]
    assert main([*base, "--set", f"data.train=[{empty}]"]) == 2  # a model load would fail with E301 instead
    assert "[E202]" in capsys.readouterr().err
    assert main([*base, "--set", f"data.train=[{empty}]", "--set", "optim.batch_size=0"]) == 2
    assert "[E201] optim.batch_size" in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ["evaluate", "--gold", "{gold}", "--pred", "{pred}", "--out", "{pred}"],
    ["evaluate", "--gold", "{gold}", "--pred", "{pred}", "--html", "{gold}"],
    ["evaluate", "--gold", "{gold}", "--pred", "{pred}", "--markdown", "{out}", "--html", "{out}"],
    ["evaluate", "--gold", "{gold}", "--pred", "{pred}", "--save-predictions", "{gold}"],
    ["evaluate", "--compare", "{gold}", "{pred}", "--out", "{gold}"],
    ["show", "{pred}", "--out", "{pred}"],
    ["show", "{pred}", "--gold", "{gold}", "--out", "{gold}"],
    ["bench", "--texts", "{gold}", "--out", "{gold}"],
])
def test_no_command_writes_over_its_input(tmp_path, capsys, command):
    # An output path equal to an input replaced the input (evaluate, show, bench);
    # now refused before anything is read or written, as predict does.
    doc = json.dumps({"id": "d1", "text": "شهردار مشهد", "spans": [{"id": "s1", "start": 0, "end": 11, "label": "TITLE"}]}, ensure_ascii=False) + "\n"
    files = {name: tmp_path / f"{name}.jsonl" for name in ("gold", "pred", "out")}
    files["gold"].write_text(doc, encoding="utf-8")
    files["pred"].write_text(doc, encoding="utf-8")
    args = [part.format(**{k: str(v) for k, v in files.items()}) for part in command]
    assert main(args) == 2
    assert "[E503]" in capsys.readouterr().err
    assert files["gold"].read_text(encoding="utf-8") == doc and files["pred"].read_text(encoding="utf-8") == doc
    assert not files["out"].exists()


# ---- oversized shapes in a model directory's config.json (E304, refused before anything is built) ----

REFINER = {"label": "PROPOSAL", "layer": "event", "max_width": 16, "proj_size": 128, "mlp_size": 256, "dropout": 0.2, "members": 1}
HEAD = {"name": "persian_ie.relation_head.v1", "params": {"proj_size": 64, "mlp_size": 128, "span_vectors": False, "dropout": 0.1,
                                                          "max_sentence_gap": {"holder": 0, "proposer": 2, "party": 2}}}


def _config(span_refiner=None, relation_model=None):
    """A model config (tiny encoder, default schema) as config.json holds it."""
    from transformers import BertConfig

    from persian_ie.models.configuration import build_config

    encoder = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    return build_config(encoder, load_schema("default"), {"max_length": 64, "stride": 8}, span_refiner=span_refiner, relation_model=relation_model)


def _model_dir(tmp_path, **settings):
    import torch
    from safetensors.torch import save_file

    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(_config(**settings).to_dict()), "utf-8")
    save_file({"placeholder": torch.zeros(1)}, str(directory / "model.safetensors"))  # a complete file: loading gets as far as building the model
    return directory


OVERSIZED = {
    "refiner max_width": (dict(span_refiner={**REFINER, "max_width": 10**9}), r"field 'span_refiner.max_width' is 1000000000, above the 64 limit"),
    "refiner proj_size": (dict(span_refiner={**REFINER, "proj_size": 10**9}), r"field 'span_refiner.proj_size' is 1000000000, above the 4096 limit"),
    "refiner mlp_size": (dict(span_refiner={**REFINER, "mlp_size": 4097}), r"field 'span_refiner.mlp_size' is 4097, above the 4096 limit"),
    "refiner members": (dict(span_refiner={**REFINER, "members": 10**6}), r"field 'span_refiner.members' is 1000000, above the 16 limit"),
    "refiner float width": (dict(span_refiner={**REFINER, "max_width": 1e9}), r"field 'span_refiner.max_width' must be a positive integer"),
    "refiner dropout": (dict(span_refiner={**REFINER, "dropout": 5}), r"field 'span_refiner.dropout' must be a number in \[0, 1\), got 5"),
    "head proj_size": (dict(relation_model={**HEAD, "params": {**HEAD["params"], "proj_size": 10**9}}),
                       r"field 'relation_model': params.proj_size is 1000000000, above the 4096 limit"),
    "head mlp_size": (dict(relation_model={**HEAD, "params": {**HEAD["params"], "mlp_size": 10**9}}),
                      r"field 'relation_model': params.mlp_size is 1000000000, above the 4096 limit"),
    "head string size": (dict(relation_model={**HEAD, "params": {**HEAD["params"], "mlp_size": "128"}}),
                         r"field 'relation_model': params.mlp_size must be an integer >= 1, got '128'"),
    "head dropout": (dict(relation_model={**HEAD, "params": {**HEAD["params"], "dropout": -1}}), r"field 'relation_model': params.dropout must be a number in \[0, 1\)"),
    "head sentence gap": (dict(relation_model={**HEAD, "params": {**HEAD["params"], "max_sentence_gap": {"party": 10**12}}}),
                          r"field 'relation_model': params.max_sentence_gap: party: expected an integer in \[0, 32\], got 1000000000000"),
    "head gap type": (dict(relation_model={**HEAD, "params": {**HEAD["params"], "max_sentence_gap": {"partner": 1}}}),
                      r"field 'relation_model': params.max_sentence_gap: unknown relation type 'partner'"),
}


@pytest.mark.parametrize("case", sorted(OVERSIZED))
def test_oversized_part_shapes_in_config_json_are_refused_before_anything_is_built(tmp_path, monkeypatch, capsys, case):
    # A corrupt or hostile config.json asked for a 10**9-row width embedding (64 GB) or a
    # 10**9-wide projection: loading tried to allocate it. Now E304 names file, field, value and limit.
    import time

    from persian_ie.errors import ModelConfigError
    from persian_ie.models import relation_head, span_refiner
    from persian_ie.models.io import load_pretrained
    from persian_ie.models.predictor import Predictor

    def built(*args, **kwargs):
        raise AssertionError("a part was built before config.json was checked")

    monkeypatch.setattr(span_refiner.SpanRefiner, "__init__", built)
    monkeypatch.setattr(relation_head.RelationHead, "__init__", built)
    settings, message = OVERSIZED[case]
    directory = _model_dir(tmp_path, **settings)
    started = time.perf_counter()
    from transformers import AutoModel

    for load in (load_pretrained, lambda d: Predictor.from_pretrained(d, backend="torch"), AutoModel.from_pretrained):
        with pytest.raises(ModelConfigError, match=r"\[E304\] .*model/config.json: " + message):
            load(directory)
    assert time.perf_counter() - started < 5
    assert main(["predict", "--model", str(directory), "--text", "سلام"]) == 2
    assert "[E304]" in capsys.readouterr().err


def test_part_shape_limits_leave_trained_and_benchmarked_settings_loading():
    from persian_ie.models.configuration import MAX_PART_SIZE, MAX_REFINER_MEMBERS, MAX_REFINER_WIDTH, MAX_SENTENCE_GAP, check_config
    from persian_ie.training.relations import DEFAULTS as HEAD_DEFAULTS
    from persian_ie.training.span_refiner import ARCHITECTURE, DEFAULTS as REFINER_DEFAULTS

    trained = {**{k: REFINER_DEFAULTS[k] for k in ARCHITECTURE}, "layer": "event"}
    at_limits = {**REFINER, "max_width": MAX_REFINER_WIDTH, "proj_size": MAX_PART_SIZE, "mlp_size": MAX_PART_SIZE, "members": MAX_REFINER_MEMBERS}
    for refiner in (trained, {**trained, "max_width": 24, "members": 3}, at_limits):  # 24 and 3 members: benchmarks §10c variants
        check_config(_config(span_refiner=refiner))
    head = {k: HEAD_DEFAULTS[k] for k in ("proj_size", "mlp_size", "span_vectors", "dropout", "max_sentence_gap")}
    for params in (head, {**head, "proj_size": 0}, {**head, "proj_size": MAX_PART_SIZE, "mlp_size": MAX_PART_SIZE, "max_sentence_gap": {"party": MAX_SENTENCE_GAP}}):
        check_config(_config(relation_model={"name": HEAD["name"], "params": params}))


def test_training_data_errors_name_the_key_file_and_line(tmp_path):
    from persian_ie.training.corpora import load_training_documents

    train = tmp_path / "train.jsonl"
    good = json.dumps({"id": "a", "text": "علی آمد"})
    bad_range = json.dumps({"id": "b", "text": "علی آمد", "spans": [{"id": "s1", "start": 0, "end": 99, "label": "PER"}]})
    train.write_text(good + "\n\n" + bad_range + "\n")  # the blank line counts: the document is on line 3
    cfg = load_config(None, [f"data.train=[{train}]"])
    with pytest.raises(TrainingDataError, match=rf"data.train \({train}\): 1 problem.*{train}:3 doc=b span=s1: span-bounds"):
        load_training_documents(cfg.data, load_schema("default"))
    bad_label = json.dumps({"id": "c", "text": "علی آمد", "spans": [{"id": "s9", "start": 0, "end": 3, "label": "FOO"}]})
    train.write_text(good + "\n" + bad_label + "\n")
    with pytest.raises(ConfigError, match=rf"labels \['FOO'\] .*FOO at {train}:2 doc=c span=s9.*data.schema"):
        load_training_documents(cfg.data, load_schema("default"))


def test_a_missing_corpus_file_names_its_key_and_the_folder_relative_paths_start_from(tmp_path, monkeypatch):
    from persian_ie.training.corpora import load_training_documents

    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, ["data.train=[data/corpus/train.jsonl]"])
    with pytest.raises(ConfigError, match=rf"data.train: data/corpus/train.jsonl is not a file \(relative paths are read from the current folder, {tmp_path}\)"):
        load_training_documents(cfg.data, load_schema("default"))


def test_only_the_documents_an_auxiliary_corpus_keeps_are_checked(tmp_path):
    from persian_ie.training.corpora import load_training_documents

    train, aux = tmp_path / "train.jsonl", tmp_path / "aux.jsonl"
    train.write_text(json.dumps({"id": "a", "text": "علی آمد"}) + "\n")
    odd = {"id": "c", "text": "علی آمد", "spans": [{"id": "s9", "start": 0, "end": 3, "label": "FOO"}]}
    aux.write_text(json.dumps({"id": "b", "text": "علی آمد"}) + "\n" + json.dumps(odd) + "\n")
    cfg = load_config(None, [f"data.train=[{train}]", f"data.auxiliary=[{{path: {aux}, max_documents: 1}}]"])
    assert len(load_training_documents(cfg.data, load_schema("default"))[0]) == 2
    cfg = load_config(None, [f"data.train=[{train}]", f"data.auxiliary=[{{path: {aux}}}]"])
    with pytest.raises(ConfigError, match=rf"FOO at {aux}:2 doc=c"):
        load_training_documents(cfg.data, load_schema("default"))
