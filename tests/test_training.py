"""A 1-epoch run of a tiny model, run directory contents, resume from a checkpoint, config errors."""

import json

import pytest

from persian_ie.errors import ConfigError
from persian_ie.training.config import load_config
from persian_ie.training.train import train


def _cfg(tiny_base, out, train_file, dev_file, *extra):
    return load_config(None, [f"output_dir={out}", f"model.base={tiny_base}", f"data.train=[{train_file}]", f"data.dev={dev_file}",
                              f"data.test={dev_file}", "optim.batch_size=8", "window.max_length=64", "window.stride=8", "bootstrap=10", *extra])


@pytest.fixture(scope="module")
def small_files(tmp_path_factory, corpus_docs):
    from persian_ie.data.document import write_documents

    d = tmp_path_factory.mktemp("data")
    write_documents(d / "train.jsonl", corpus_docs["train"][:6])
    write_documents(d / "dev.jsonl", corpus_docs["dev"][:3])
    return d / "train.jsonl", d / "dev.jsonl"


def test_one_epoch_run_writes_the_run_directory(tiny_base, tmp_path, small_files):
    summary = train(_cfg(tiny_base, tmp_path / "run", *small_files, "optim.epochs=1"), show_progress=False)
    run = tmp_path / "run"
    for name in ("config.yaml", "log.jsonl", "model/model.safetensors", "model/config.json", "model/README.md", "dev_report.json", "test_report.md", "checkpoint/progress.json"):
        assert (run / name).exists(), name
    assert summary["steps"] >= 1 and summary["test_report"]["documents"] == 3
    assert not (run / "model" / "persian_ie.json").exists()
    log = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == summary["steps"] and "dev_micro_f1" in log[-1]


def test_resume_continues_where_the_checkpoint_stopped(tiny_base, tmp_path, small_files):
    out = tmp_path / "run"
    first = train(_cfg(tiny_base, out, *small_files, "optim.max_steps=2", "optim.eval_every_steps=2", "optim.patience=null"), show_progress=False)
    assert first["steps"] == 2
    resumed = train(_cfg(tiny_base, out, *small_files, "optim.max_steps=4", "optim.eval_every_steps=2", "optim.patience=null"), resume=True, show_progress=False)
    assert resumed["steps"] == 4
    steps = [json.loads(l)["step"] for l in (out / "log.jsonl").read_text().splitlines()]
    assert steps == [2, 4]


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'epoch'"):
        load_config(None, ["optim.epoch=3"])
    bad = tmp_path / "c.yaml"
    bad.write_text("optim: [1, 2]\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(bad)
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(None, ["optim.epochs"])


def test_free_form_sections_are_checked_too(tiny_base):
    from persian_ie.data.normalize import NormalizerConfig
    from persian_ie.data.schema import load_schema
    from persian_ie.models.layered import LayeredTokenClassifier
    from transformers import AutoModel

    with pytest.raises(ConfigError, match="unknown key"):
        NormalizerConfig.from_dict({"digit": "latin"})
    from persian_ie.models.configuration import build_config

    encoder = AutoModel.from_pretrained(tiny_base, trust_remote_code=False)
    config = build_config(encoder.config, load_schema(), {"max_length": 64, "stride": 8}, loss_weights={"entities": 2.0})
    with pytest.raises(ConfigError, match="not layers"):
        LayeredTokenClassifier(config, encoder=encoder)


def test_resume_without_checkpoint_is_a_clear_error(tiny_base, tmp_path, small_files):
    with pytest.raises(ConfigError, match="no checkpoint"):
        train(_cfg(tiny_base, tmp_path / "none", *small_files, "optim.max_steps=1"), resume=True, show_progress=False)


@pytest.mark.parametrize("override, message", [
    ("model.span_refiner={max_width: 1000000000}", r"model.span_refiner.max_width: expected an integer in \[1, 64\]"),
    ("model.span_refiner={members: 0}", r"model.span_refiner.members: expected an integer in \[1, 16\]"),
    ("model.relation_head={mlp_size: 99999}", r"model.relation_head.mlp_size: expected an integer in \[1, 4096\]"),
    ("model.relation_head={max_sentence_gap: {party: 10000}}", r"model.relation_head.max_sentence_gap.party: expected an integer in \[0, 32\]"),
    ("model.relation_head={max_sentence_gap: {foo: 1}}", r"model.relation_head.max_sentence_gap: unknown relation types \['foo'\]"),
    ("model.relation_head={dropout: 1.0}", r"model.relation_head.dropout: must be a number in \[0, 1\)"),
    ("model.span_refiner={dropout: -0.1}", r"model.span_refiner.dropout: must be a number in \[0, 1\)"),
    ("model.dropout=1.0", r"model.dropout: must be a number in \[0, 1\)"),
])
def test_part_sizes_a_model_directory_would_refuse_are_refused_before_training(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])
