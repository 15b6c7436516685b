"""A 1-epoch run of a tiny model, run directory contents, resume from a checkpoint, config errors."""

import json
from pathlib import Path

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
    ("model.relation_head={max_sentence_gap: {party: 10000}}", r"model.relation_head.max_sentence_gap: party: expected an integer in \[0, 32\], got 10000"),
    ("model.relation_head={max_sentence_gap: {foo: 1}}", r"model.relation_head.max_sentence_gap: unknown relation type 'foo'; known: holder, proposer, party"),
    ("model.relation_head={dropout: 1.0}", r"model.relation_head.dropout: must be a number in \[0, 1\)"),
    ("model.span_refiner={dropout: -0.1}", r"model.span_refiner.dropout: must be a number in \[0, 1\)"),
    ("model.dropout=1.0", r"model.dropout: must be a number in \[0, 1\)"),
])
def test_part_sizes_a_model_directory_would_refuse_are_refused_before_training(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_weight_average_follows_the_weights_with_a_warm_up():
    import torch

    from persian_ie.training.weight_average import WeightAverage

    layer = torch.nn.Linear(2, 1, bias=False)
    frozen = torch.nn.Parameter(torch.ones(1), requires_grad=False)
    layer.register_parameter("frozen", frozen)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    average = WeightAverage(layer, 0.5)
    assert set(average.shadow) == {"weight"}  # frozen parameters are the same in both
    with torch.no_grad():
        layer.weight.fill_(1.0)
    average.update()  # warm-up decay min(0.5, 1/10) = 0.1: 0.1 * 0 + 0.9 * 1
    assert torch.allclose(average.shadow["weight"], torch.full((1, 2), 0.9))
    with torch.no_grad():
        layer.weight.fill_(3.0)
    average.update()  # decay min(0.5, 2/11)
    keep = 2 / 11
    assert torch.allclose(average.shadow["weight"], torch.full((1, 2), keep * 0.9 + (1 - keep) * 3.0))
    with average.swapped_in():
        assert torch.allclose(layer.weight, average.shadow["weight"])
    assert torch.all(layer.weight == 3.0)  # the raw weights are back after the block


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize("ema, embeddings", [("0.0", "true"), ("0.9", "true"), ("0.9", "unseen")])
def test_an_interrupted_run_resumes_to_the_same_weights(tiny_base, tmp_path, small_files, monkeypatch, ema, embeddings):
    from safetensors.torch import load_file

    from persian_ie.training import train as train_module

    opts = ("optim.max_steps=4", "optim.eval_every_steps=2", "optim.patience=null", f"optim.ema_decay={ema}",
            f"model.freeze_embeddings={embeddings}")
    train(_cfg(tiny_base, tmp_path / "whole", *small_files, *opts), show_progress=False)
    save = train_module._save_checkpoint

    def save_then_stop(*args):  # the run is killed right after its first checkpoint
        save(*args)
        raise _Interrupted

    monkeypatch.setattr(train_module, "_save_checkpoint", save_then_stop)
    with pytest.raises(_Interrupted):
        train(_cfg(tiny_base, tmp_path / "part", *small_files, *opts), show_progress=False)
    monkeypatch.setattr(train_module, "_save_checkpoint", save)
    train(_cfg(tiny_base, tmp_path / "part", *small_files, *opts), resume=True, show_progress=False)
    logs = [[json.loads(l)["dev_micro_f1"] for l in (tmp_path / run / "log.jsonl").read_text().splitlines()] for run in ("whole", "part")]
    assert len(logs[0]) == 2 and logs[0] == logs[1]
    # bit-exact: dropout draws the same numbers after the resume (training/train.py, restored_rng)
    raw = [load_file(str(tmp_path / run / "checkpoint" / "model.safetensors")) for run in ("whole", "part")]
    assert raw[0].keys() == raw[1].keys() and all(torch_equal(raw[0][k], raw[1][k]) for k in raw[0])
    if ema != "0.0":
        whole, part = (_saved_average(tmp_path / run / "checkpoint") for run in ("whole", "part"))
        assert whole[0] == part[0] == 4  # the saved average was continued (4 updates), not restarted (2)
        assert whole[1].keys() == part[1].keys() and all(torch_equal(whole[1][k], part[1][k]) for k in whole[1])


def test_the_kept_model_is_the_weight_average(tiny_base, tmp_path, small_files):
    from safetensors.torch import load_file

    run = tmp_path / "run"
    train(_cfg(tiny_base, run, *small_files, "optim.max_steps=3", "optim.eval_every_steps=3", "optim.ema_decay=0.9"), show_progress=False)
    updates, average = _saved_average(run / "checkpoint")
    kept = load_file(str(run / "model" / "model.safetensors"))
    raw = load_file(str(run / "checkpoint" / "model.safetensors"))  # what training goes on from
    assert updates == 3 and all(torch_close(kept[k], average[k], 1e-6) for k in average)
    assert any(not torch_close(raw[k], average[k], 1e-6) for k in average)


def _saved_average(checkpoint):
    from safetensors import safe_open

    with safe_open(str(checkpoint / "weight_average.safetensors"), framework="pt") as fh:
        return int(fh.metadata()["updates"]), {k: fh.get_tensor(k) for k in fh.keys()}


def torch_close(x, y, atol: float) -> bool:
    import torch

    return bool(torch.allclose(x, y, atol=atol))


def torch_equal(x, y) -> bool:
    import torch

    return bool(torch.equal(x, y))


def test_resume_refuses_a_weight_average_the_run_did_not_have(tiny_base, tmp_path, small_files):
    out = tmp_path / "run"
    train(_cfg(tiny_base, out, *small_files, "optim.max_steps=1", "optim.patience=null"), show_progress=False)
    with pytest.raises(ConfigError, match="has no weight_average.safetensors"):
        train(_cfg(tiny_base, out, *small_files, "optim.max_steps=2", "optim.ema_decay=0.9"), resume=True, show_progress=False)


def test_resume_refuses_a_weight_average_of_other_parameters(tiny_base, tmp_path, small_files):
    out = tmp_path / "run"
    train(_cfg(tiny_base, out, *small_files, "optim.max_steps=1", "optim.patience=null", "optim.ema_decay=0.9"), show_progress=False)
    # the run trained every encoder layer; resumed with the lower one frozen, the average no longer fits
    # (a checkpoint saved before checkpoint/settings.json existed, so the settings check cannot catch it first)
    (out / "checkpoint" / "settings.json").unlink()
    with pytest.raises(ConfigError, match="averages other parameters than this config trains"):
        train(_cfg(tiny_base, out, *small_files, "optim.max_steps=2", "optim.ema_decay=0.9", "model.freeze_layers=1"), resume=True, show_progress=False)


@pytest.mark.parametrize("changed", ["model.freeze_layers=1", "model.encoder_layers=1", "model.freeze_embeddings=true", "optim.layer_lr_decay=0.5"])
def test_resume_refuses_a_changed_setting_that_shapes_the_checkpoint(tiny_base, tmp_path, small_files, changed):
    out = tmp_path / "run"
    train(_cfg(tiny_base, out, *small_files, "optim.max_steps=1", "optim.patience=null"), show_progress=False)
    key = changed.split("=")[0]
    with pytest.raises(ConfigError, match=rf"--resume: the checkpoint in .* was saved with other settings: {key}: .* then, .* now"):
        train(_cfg(tiny_base, out, *small_files, "optim.max_steps=2", "optim.patience=null", changed), resume=True, show_progress=False)
    # a refused resume changes nothing, and the same settings resume, the base's path written another way too;
    # so does a checkpoint saved before optim.layer_lr_decay was a setting (its settings.json lacks the key)
    settings_file = out / "checkpoint" / "settings.json"
    settings = json.loads(settings_file.read_text())
    del settings["optim.layer_lr_decay"]
    settings_file.write_text(json.dumps(settings))
    same_base = f"{Path(tiny_base).parent}/./{Path(tiny_base).name}"
    train(_cfg(same_base, out, *small_files, "optim.max_steps=2", "optim.patience=null"), resume=True, show_progress=False)


@pytest.mark.parametrize("value", ["1.0", "-0.1", "true"])
def test_ema_decay_outside_its_range_is_refused(value):
    with pytest.raises(ConfigError, match=r"optim.ema_decay: expected a number in \[0, 1\)"):
        load_config(None, [f"optim.ema_decay={value}"])


def test_layer_lr_decay_scales_each_encoder_layer_and_keeps_the_heads(tiny_base):
    from persian_ie.data.normalize import Normalizer, NormalizerConfig
    from persian_ie.data.schema import load_schema
    from persian_ie.training.train import _optimizer, build_model

    def groups(*extra):
        cfg = load_config(None, [f"model.base={tiny_base}", "optim.lr=1e-3", "optim.head_lr=1e-2", *extra])
        model, _ = build_model(cfg, load_schema("default"), Normalizer(NormalizerConfig()), "t")
        rate = {id(p): (g["lr"], g["weight_decay"]) for g in _optimizer(model, cfg).param_groups for p in g["params"]}
        return {name: rate[id(p)] for name, p in model.named_parameters() if p.requires_grad}, _optimizer(model, cfg).param_groups

    plain, plain_groups = groups()
    # without decay: the three groups checkpoints were always saved with, in that order
    assert [(g["lr"], g["weight_decay"]) for g in plain_groups] == [(1e-3, 0.01), (1e-3, 0.0), (1e-2, 0.0)]
    # at weight decay 0 too: matrices and the rest stay apart, so the group count does not depend on it
    _, no_decay_groups = groups("optim.weight_decay=0")
    assert [(g["lr"], g["weight_decay"]) for g in no_decay_groups] == [(1e-3, 0.0), (1e-3, 0.0), (1e-2, 0.0)]
    assert [len(g["params"]) for g in no_decay_groups] == [len(g["params"]) for g in plain_groups]
    decayed, _ = groups("optim.layer_lr_decay=0.5")  # the tiny base has 2 layers
    assert decayed["encoder.encoder.layer.1.output.dense.weight"] == pytest.approx((1e-3, 0.01))
    assert decayed["encoder.encoder.layer.0.output.dense.weight"] == pytest.approx((5e-4, 0.01))
    assert decayed["encoder.encoder.layer.0.output.dense.bias"] == pytest.approx((5e-4, 0.0))
    assert decayed["encoder.embeddings.LayerNorm.weight"] == pytest.approx((2.5e-4, 0.0))
    assert all(decayed[n] == plain[n] for n in plain if n.startswith("heads."))


@pytest.mark.parametrize("value", ["0", "1.5", "true"])
def test_layer_lr_decay_outside_its_range_is_refused(value):
    with pytest.raises(ConfigError, match=r"optim.layer_lr_decay: expected a number in \(0, 1\]"):
        load_config(None, [f"optim.layer_lr_decay={value}"])
