"""The model directory as a Hugging Face model: auto classes, round trips, unsafe or broken
directories (E304), 0.1.0 conversion, the compile path, schema-driven output and components."""

import json
import pickle
import shutil
import subprocess
import sys

import pytest
import torch

import persian_ie  # noqa: F401  (registers the auto classes)
from persian_ie.cli import main
from persian_ie.data.schema import load_schema
from persian_ie.errors import ModelConfigError
from persian_ie.models.components import register_component
from persian_ie.models.configuration import PersianIEConfig, build_config
from persian_ie.models.io import load_pretrained, save_pretrained
from persian_ie.models.layered import LayeredTokenClassifier
from persian_ie.models.predictor import Predictor
from persian_ie.training.config import load_config
from persian_ie.training.train import train


def _spans(docs):
    return [[(s.label, s.start, s.end, s.score) for s in d.spans] for d in docs]


def _logits(model, ids):
    with torch.no_grad():
        return model(ids, attention_mask=torch.ones_like(ids)).logits


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _edit_config(directory, **changes):
    path = directory / "config.json"
    raw = json.loads(path.read_text("utf-8"))
    for dotted, value in changes.items():
        node, *keys = [raw, *dotted.split("__")]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    path.write_text(json.dumps(raw), "utf-8")


def test_tiny_model_overfits_four_documents(tiny_base, tmp_path, corpus_docs):
    from persian_ie.data.document import write_documents

    four = tmp_path / "four.jsonl"
    write_documents(four, corpus_docs["train"][:4])
    assert sum(len(d.spans) for d in corpus_docs["train"][:4]) > 20
    cfg = load_config(None, [f"output_dir={tmp_path / 'run'}", f"model.base={tiny_base}", f"data.train=[{four}]", f"data.dev={four}", f"data.test={four}",
                             "optim.max_steps=120", "optim.batch_size=8", "optim.lr=3e-3", "optim.head_lr=0.01", "optim.warmup_ratio=0",
                             "optim.eval_every_steps=20", "optim.patience=null", "model.dropout=0", "window.max_length=128", "window.stride=16", "bootstrap=0"])
    summary = train(cfg, show_progress=False)
    assert summary["test_micro_f1"] >= 0.9


def test_auto_classes_give_the_full_model(tiny_model_dir):
    from transformers import AutoConfig, AutoModel

    assert isinstance(AutoConfig.from_pretrained(tiny_model_dir, trust_remote_code=False), PersianIEConfig)
    own, _ = load_pretrained(tiny_model_dir)
    ids = torch.randint(5, 200, (2, 11))
    # AutoModelForTokenClassification refuses the layered model (tests/test_pipeline_refusal.py)
    for auto in (AutoModel,):
        model, info = auto.from_pretrained(tiny_model_dir, trust_remote_code=False, output_loading_info=True)
        assert type(model) is LayeredTokenClassifier
        assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
        model.eval()
        a, b = _logits(model, ids), _logits(own, ids)
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_save_pretrained_round_trip_keeps_outputs(tiny_model_dir, tmp_path, corpus_docs):
    model, tokenizer = load_pretrained(tiny_model_dir)
    docs = corpus_docs["test"][:3]
    before = Predictor(model, tokenizer).predict_documents(docs)
    ids = torch.randint(5, 200, (2, 11))
    logits = _logits(model, ids)
    save_pretrained(model, tokenizer, tmp_path / "copy")
    again, _ = load_pretrained(tmp_path / "copy")
    assert all(torch.equal(logits[k], _logits(again, ids)[k]) for k in logits)
    assert _spans(Predictor.from_pretrained(tmp_path / "copy", backend="torch").predict_documents(docs)) == _spans(before)
    names = sorted(p.name for p in (tmp_path / "copy").iterdir())
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(names) and "persian_ie.json" not in names
    assert not list((tmp_path / "copy").glob("*.bin")) and not list((tmp_path / "copy").glob("*.pt"))


def test_without_the_import_transformers_refuses_the_directory(tiny_model_dir):
    code = f"from transformers import AutoModel; AutoModel.from_pretrained({str(tiny_model_dir)!r}, trust_remote_code=False)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "persian_ie_layered" in result.stderr


def test_auto_map_is_refused_and_no_code_runs(tiny_model_dir, tmp_path):
    d = _copy(tiny_model_dir, tmp_path / "hostile")
    marker = tmp_path / "ran"
    (d / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    _edit_config(d, auto_map={"AutoModel": "evil.Model", "AutoConfig": "evil.Config"})
    with pytest.raises(ModelConfigError, match=r"config.json: field 'auto_map'"):
        load_pretrained(d)
    assert not marker.exists()


def _pickle_weights(d):
    with open(d / "model.safetensors", "wb") as fh:
        pickle.dump({"x": 1}, fh)


def _truncate_weights(d):
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])


BAD_DIRS = {
    "negative window": (lambda d: _edit_config(d, window__max_length=-5), r"field 'window.max_length'"),
    "string window": (lambda d: _edit_config(d, window__max_length="256"), r"field 'window.max_length'"),
    "zero window": (lambda d: _edit_config(d, window__max_length=0), r"field 'window.max_length'"),
    "window over positions": (lambda d: _edit_config(d, window__max_length=1862), r"'window.max_length' is 1862, above the encoder's 512"),
    "bad stride": (lambda d: _edit_config(d, window__stride=500), r"field 'window.stride'"),
    "missing config": (lambda d: (d / "config.json").unlink(), r"config.json: file is missing"),
    "invalid config": (lambda d: (d / "config.json").write_text("{not json"), r"config.json: not valid JSON"),
    "bad decoding": (lambda d: _edit_config(d, decoding="viterbi"), r"field 'decoding' is 'viterbi'"),
    "absurd vocab": (lambda d: _edit_config(d, encoder__vocab_size=10**12), r"field 'encoder.vocab_size'"),
    "unknown component": (lambda d: _edit_config(d, relation_model={"name": "nope.v1"}), r"field 'relation_model.name'"),
    "deep nesting": (lambda d: (d / "config.json").write_text("[" * 100000 + "]" * 100000), r"config.json: not valid JSON"),
    "unknown encoder type": (lambda d: _edit_config(d, encoder__model_type="xyz"), r"config.json: invalid config"),
    "encoder shape contradicts weights": (lambda d: _edit_config(d, encoder__hidden_size=32), r"model.safetensors: weights do not match config.json"),
    "bad dropout": (lambda d: _edit_config(d, dropout="x"), r"field 'dropout'"),
    "bad normalization": (lambda d: _edit_config(d, normalization={"digit": 1}), r"field 'normalization'"),
    "bad component params": (lambda d: _edit_config(d, relation_model={"name": "persian_ie.linking_rules.v1", "params": {"x": 1}}), r"field 'relation_model.params'"),
    "truncated weights": (_truncate_weights, r"model.safetensors: not a complete safetensors file"),
    "pickle as safetensors": (_pickle_weights, r"model.safetensors: not a complete safetensors file"),
    "missing weights": (lambda d: (d / "model.safetensors").unlink(), r"model.safetensors: file is missing"),
}


@pytest.mark.parametrize("case", sorted(BAD_DIRS))
def test_bad_model_directories_get_coded_errors(tiny_model_dir, tmp_path, case):
    breaker, message = BAD_DIRS[case]
    d = _copy(tiny_model_dir, tmp_path / "bad")
    breaker(d)
    for backend in ("torch", "onnx"):  # auto picks either, by machine; both must refuse the same way
        if backend == "onnx":
            pytest.importorskip("onnxruntime")
        with pytest.raises(ModelConfigError, match=r"\[E304\].*" + message):
            Predictor.from_pretrained(d, backend=backend)
    assert main(["predict", "--model", str(d), "--text", "سلام"]) == 2


def _write_010_directory(model_dir, target):
    """The 0.1.0 layout: the bare encoder's config.json, persian_ie.json, same weight keys."""
    model, tokenizer = load_pretrained(model_dir)
    target.mkdir()
    shutil.copy(model_dir / "model.safetensors", target / "model.safetensors")
    model.config.encoder.save_pretrained(target)
    tokenizer.save_pretrained(target)
    c = model.config
    meta = {"format_version": 1, "schema": c.schema, "loss_weights": c.loss_weights, "window": c.window, "normalization": c.normalization,
            "decoding": c.decoding, "base_model": c.base_model, "name": c.run_name, "versions": {"persian_ie": "0.1.0"}}
    (target / "persian_ie.json").write_text(json.dumps(meta), "utf-8")
    return target


def test_010_directory_loads_and_converts(tiny_model_dir, tmp_path, corpus_docs, capsys):
    old = _write_010_directory(tiny_model_dir, tmp_path / "old")
    docs = corpus_docs["test"][:3]
    expected = _spans(Predictor.from_pretrained(tiny_model_dir).predict_documents(docs))
    assert _spans(Predictor.from_pretrained(old).predict_documents(docs)) == expected
    assert main(["convert-model", str(old), str(tmp_path / "new")]) == 0
    new = tmp_path / "new"
    assert json.loads((new / "config.json").read_text())["model_type"] == "persian_ie_layered"
    assert not (new / "persian_ie.json").exists()
    assert _spans(Predictor.from_pretrained(new).predict_documents(docs)) == expected
    meta = json.loads((old / "persian_ie.json").read_text())
    meta["window"] = {"max_length": 0, "stride": 0}
    (old / "persian_ie.json").write_text(json.dumps(meta))
    with pytest.raises(ModelConfigError, match=r"persian_ie.json: field 'window.max_length'"):
        load_pretrained(old)


def test_compile_in_place_trains_and_reloads(tiny_base, tmp_path, corpus_docs):
    from persian_ie.data.document import write_documents
    from safetensors import safe_open

    if not hasattr(torch.nn.Module, "compile"):
        pytest.skip("this torch has no nn.Module.compile")
    data = tmp_path / "train.jsonl"
    write_documents(data, corpus_docs["train"][:2])
    cfg = load_config(None, [f"output_dir={tmp_path / 'run'}", f"model.base={tiny_base}", f"data.train=[{data}]", f"data.dev={data}",
                             "optim.max_steps=2", "optim.batch_size=8", "optim.compile=true", "window.max_length=64", "window.stride=8", "bootstrap=0"])
    summary = train(cfg, show_progress=False)  # reloads the best model at the end
    assert summary["steps"] == 2
    with safe_open(str(tmp_path / "run" / "model" / "model.safetensors"), "pt") as fh:
        keys = list(fh.keys())
    assert keys and not [k for k in keys if "_orig_mod" in k]
    assert Predictor.from_pretrained(tmp_path / "run" / "model").predict_texts(["شهردار تهران"])[0].id == "text-1"


def _peyma_model_dir(tiny_base, tmp_path):
    """Untrained PEYMA-schema model whose entity head says B-LOC for every word."""
    from transformers import AutoModel, AutoTokenizer

    encoder = AutoModel.from_pretrained(tiny_base, trust_remote_code=False, add_pooling_layer=False)
    schema = load_schema("peyma")
    config = build_config(encoder.config, schema, {"max_length": 64, "stride": 8})
    assert config.relation_model is None  # PEYMA has no relation types: no linker
    model = LayeredTokenClassifier(config, encoder=encoder)
    with torch.no_grad():
        model.heads["entity"].bias[schema.tags("entity").index("B-LOC")] = 50.0
    return save_pretrained(model, AutoTokenizer.from_pretrained(tiny_base, trust_remote_code=False), tmp_path / "peyma")


def test_predict_text_prints_the_schema_labels(tiny_base, tmp_path, capsys):
    d = _peyma_model_dir(tiny_base, tmp_path)
    assert main(["predict", "--model", str(d), "--text", "تهران و مشهد"]) == 0
    out = capsys.readouterr().out
    assert "LOC" in out and "(nothing found)" not in out and "proposal" not in out


def test_relation_component_is_chosen_by_name(tiny_model_dir, tmp_path):
    from persian_ie.data.document import Relation

    @register_component("test.every_pair.v1")
    class EveryPair:
        def __init__(self, schema, relation="holder"):
            self.relation = relation

        def link(self, text, spans, bounds):
            return [Relation(self.relation, a.id, b.id) for a, b in zip(spans, spans[1:])]

        def records(self, text, spans, relations, bounds, meta):
            return {"pairs": len(relations)}

    d = _copy(tiny_model_dir, tmp_path / "m")
    _edit_config(d, relation_model={"name": "test.every_pair.v1", "params": {"relation": "party"}})
    predictor = Predictor.from_pretrained(d, backend="torch")  # torch: the test edits a head's weights
    predictor.model.heads["entity"].bias.data[1] = 50.0  # B-PER everywhere: one span per word
    doc = predictor.predict_texts(["شهردار مشهد گفت"])[0]
    assert len(doc.spans) >= 3 and doc.extra["records"] == {"pairs": len(doc.spans) - 1}
    assert {r.type for r in doc.relations} == {"party"}


def test_spans_of_messy_text_carry_original_offsets_and_scores(tiny_model_dir):
    predictor = Predictor.from_pretrained(tiny_model_dir, backend="torch")  # torch: the test edits a head's weights
    predictor.model.heads["entity"].bias.data[1] = 50.0  # B-PER everywhere: every word is a span
    text = "شهردار  مشـــهد، آقاي قلندر شريف، گفت ۱۴۰۲\u200f پيشنهاد داد."
    spans = predictor.predict_texts([text])[0].spans
    assert len([s for s in spans if s.label == "PER"]) >= 6
    assert all(s.text == text[s.start:s.end] and 0.0 < s.score <= 1.0 for s in spans)
    assert [s.text for s in spans if s.label == "PER"][1] == "مشـــهد"


@pytest.mark.parametrize("first", ["import persian_ie", "import transformers; import persian_ie", "from persian_ie.models.configuration import PersianIEConfig"])
def test_registration_holds_whatever_is_imported_first(tiny_model_dir, first):
    # ``import persian_ie`` alone must stay light (no torch) and still register once transformers loads.
    code = (f"import sys; {first}; light = 'torch' not in sys.modules\n"
            f"from transformers import AutoModel; m = AutoModel.from_pretrained({str(tiny_model_dir)!r}, trust_remote_code=False)\n"
            "print(type(m).__name__, light)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[0] == "LayeredTokenClassifier"
    if first == "import persian_ie":
        assert result.stdout.split()[1] == "True"
