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
