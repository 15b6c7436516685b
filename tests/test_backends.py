"""Forward-pass backends (torch, torch-bf16, onnx, onnx-int8), their choice, and the bench command."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import CORPORA

TEXTS = [
    "علی لاریجانی رئیس مجلس شورای اسلامی امروز در تهران گفت که طرح جدید به زودی بررسی می‌شود.",
    "وزیر امور خارجه با همتای خود در مسکو دیدار کرد.",
    "شورای شهر اصفهان طرح کاهش ترافیک را تصویب کرد و شهردار از آن استقبال کرد. " * 20,
]


def spans_of(docs):
    return [[(s.label, s.start, s.end) for s in d.spans] for d in docs]


@pytest.fixture()
def onnx_cache(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    monkeypatch.setenv("PERSIAN_IE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_onnx_gives_the_spans_and_probabilities_of_torch(tiny_model_dir, onnx_cache):
    from persian_ie.models.predictor import Predictor

    torch_pred = Predictor.from_pretrained(tiny_model_dir, backend="torch")
    onnx_pred = Predictor.from_pretrained(tiny_model_dir, backend="onnx")
    assert onnx_pred.model is None  # the ONNX path holds no torch weights
    assert spans_of(onnx_pred.predict_texts(TEXTS)) == spans_of(torch_pred.predict_texts(TEXTS))
    prepared = [torch_pred.prepare(d) for d in torch_pred.predict_texts(TEXTS)]
    a, b = torch_pred.forward(prepared, batch_tokens=256), onnx_pred.forward(prepared, batch_tokens=256)
    for doc_a, doc_b in zip(a, b):  # several batch widths: the exported graph's shapes are dynamic
        for win_a, win_b in zip(doc_a, doc_b):
            for layer in win_a:
                np.testing.assert_allclose(win_a[layer], win_b[layer], atol=1e-4)
    metas = list(onnx_cache.glob("onnx/*/meta.json"))
    assert metas, "the export is cached"
    fused = json.loads(metas[0].read_text("utf-8"))["fused"]
    layers = torch_pred.model.config.encoder.num_hidden_layers
    assert fused.get("Attention") == layers and fused.get("SkipLayerNormalization") == 2 * layers, fused  # ORT's fused kernels run
    again = Predictor.from_pretrained(tiny_model_dir, backend="onnx")  # from the cache, without loading torch weights
    assert spans_of(again.predict_texts(TEXTS[:1])) == spans_of(torch_pred.predict_texts(TEXTS[:1]))


def test_int8_runs_and_its_agreement_is_measured(tiny_model_dir, onnx_cache):
    from persian_ie.models.predictor import Predictor

    fp32 = Predictor.from_pretrained(tiny_model_dir, backend="torch")
    int8 = Predictor.from_pretrained(tiny_model_dir, backend="onnx-int8")
    prepared = [fp32.prepare(d) for d in fp32.predict_texts(TEXTS)]
    ref, got = fp32.forward(prepared), int8.forward(prepared)
    diffs = [np.abs(r[layer] - g[layer]).max() for rd, gd in zip(ref, got) for r, g in zip(rd, gd) for layer in r]
    assert 0 < max(diffs) < 0.2, "int8 is a different computation, close to float"
    agree = [(r[layer].argmax(-1) == g[layer].argmax(-1)).mean() for rd, gd in zip(ref, got) for r, g in zip(rd, gd) for layer in r]
    assert np.mean(agree) > 0.9


def test_auto_falls_back_to_torch_without_onnxruntime(monkeypatch, capsys):
    from persian_ie.errors import BackendError
    from persian_ie.models import backends

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    monkeypatch.setattr(backends, "cpu_has_bf16", lambda: False)
    assert backends.resolve_backend("auto") == "torch"
    assert "onnxruntime is not installed" in capsys.readouterr().err
    with pytest.raises(BackendError) as exc:
        backends.resolve_backend("onnx-int8")
    assert exc.value.code == "E520" and "pip install" in str(exc.value)
    monkeypatch.setattr(backends, "cpu_has_bf16", lambda: True)
    assert backends.resolve_backend("auto") == "torch-bf16"
    assert backends.resolve_backend("auto", device="cuda") == "torch"
    with pytest.raises(BackendError):
        backends.resolve_backend("fast")


def test_bf16_backend_loads_bf16_weights(tiny_model_dir):
    import torch

    from persian_ie.models.predictor import Predictor

    pred = Predictor.from_pretrained(tiny_model_dir, backend="torch-bf16")
    assert next(pred.model.parameters()).dtype == torch.bfloat16
    assert len(pred.predict_texts(TEXTS[:1])) == 1


def test_bench_runs_both_contestants_as_processes(tiny_model_dir, tmp_path):
    texts = tmp_path / "texts.jsonl"
    texts.write_text("".join(json.dumps({"id": f"t{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(TEXTS)), encoding="utf-8")
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "persian_ie", "bench", "--model", str(tiny_model_dir), "--texts", str(texts), "--docs", "3",
                           "--pairs", "1", "--out", str(out), "--predict-arg=--backend=torch"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split()[0] for line in done.stdout.splitlines()]
    assert "pipeline" in rows and "predict" in rows, done.stdout
    result = json.loads(out.read_text())
    assert result["documents"] == 3 and len(result["speedups"]) == 1
    assert all(r["peak_rss_mib"] > 10 and r["seconds"] > 0 for rs in result["runs"].values() for r in rs)


def test_cpu_batches_default_to_2048_tokens_and_give_the_same_spans(tiny_model_dir):
    from persian_ie.models.predictor import CPU_BATCH_TOKENS, Predictor

    pred = Predictor.from_pretrained(tiny_model_dir, backend="torch")
    assert pred.default_batch_tokens() == CPU_BATCH_TOKENS == 2048
    docs = pred.predict_texts(TEXTS)
    prepared = [pred.prepare(d) for d in docs]
    default, big = pred.forward(prepared), pred.forward(prepared, batch_tokens=65536)
    for doc_a, doc_b in zip(default, big):
        for win_a, win_b in zip(doc_a, doc_b):
            for layer in win_a:
                np.testing.assert_allclose(win_a[layer], win_b[layer], atol=1e-5)
