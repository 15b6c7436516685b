"""Batch-inference throughput: Hugging Face pipeline vs ``persian-ie predict``.

    persian-ie bench [--model DIR] [--texts ARTICLES.jsonl] [--docs 64] [--out bench.json]

Same texts (whole Fars News articles), same encoder weights:

(a) ``pipeline("token-classification", aggregation_strategy="simple",
    stride=32)`` over an ``AutoModelForTokenClassification`` built on the
    model's encoder with one head of the entity layer's size (the pipeline
    cannot run three heads), at its default batch size and at 32;
(b) ``persian-ie predict`` end to end (reading JSONL, normalization,
    tokenization, model, decoding of three layers, linking, writing JSONL).

Tokens are the non-padding pieces of the model's tokenizer over the input
texts (no special tokens), the same count for every contestant. Each
contestant gets one warm-up pass on a few documents, then one timed pass.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path


def load_texts(path: str, n: int) -> list[str]:
    from persian_ie.inference.inputs import InputRecord, iter_inputs

    texts = []
    for rec in iter_inputs([path]):
        if isinstance(rec, InputRecord):
            texts.append(rec.text)
        if len(texts) >= n:
            break
    return texts


def default_model(tmpdir: Path) -> Path:
    """Untrained heads on the offline base: speed does not depend on the weights."""
    from persian_ie.data.schema import load_schema
    from persian_ie.models.base import load_encoder_and_tokenizer
    from persian_ie.models.configuration import build_config
    from persian_ie.models.io import save_pretrained
    from persian_ie.models.layered import LayeredTokenClassifier

    encoder, tokenizer = load_encoder_and_tokenizer("offline:multilingual-e5-small")
    config = build_config(encoder.config, load_schema(), {"max_length": 512, "stride": 32}, run_name="bench-untrained")
    return save_pretrained(LayeredTokenClassifier(config, encoder=encoder), tokenizer, tmpdir / "bench-model")


def hf_pipeline(model_dir: Path, batch_size: int | None):
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer, pipeline

    from persian_ie.models.io import load_pretrained

    layered, tokenizer = load_pretrained(model_dir)
    n_labels = len(layered.schema.tags(layered.layers[0]))
    encoder_config = layered.config.encoder.to_dict()
    config = AutoConfig.for_model(encoder_config.pop("model_type"), **{**encoder_config, "num_labels": n_labels})
    hf = AutoModelForTokenClassification.from_config(config)
    missing = hf.base_model.load_state_dict(layered.encoder.state_dict(), strict=False)
    assert not missing.missing_keys or all("pooler" in k for k in missing.missing_keys), missing
    hf.classifier.load_state_dict(layered.heads[layered.layers[0]].state_dict())
    hf.eval()
    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    return pipeline("token-classification", model=hf, tokenizer=AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False), aggregation_strategy="simple", stride=32, device=-1, **kwargs)


def time_pipeline(pipe, texts, batch_size) -> float:
    pipe(texts[:2])
    start = time.perf_counter()
    out = pipe(texts, **({"batch_size": batch_size} if batch_size else {}))
    assert len(out) == len(texts)
    return time.perf_counter() - start


def time_predict(model_dir: Path, texts: list[str], tmp: Path) -> float:
    from persian_ie.inference.runner import run_prediction
    from persian_ie.models.predictor import Predictor

    src = tmp / "bench-input.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    predictor = Predictor.from_pretrained(model_dir)
    predictor.predict_texts(texts[:2])
    start = time.perf_counter()
    summary = run_prediction(predictor, [str(src)], tmp / "bench-out.jsonl", progress=False)
    assert summary.documents == len(texts)
    return time.perf_counter() - start


def span_agreement(a_docs, b_docs) -> float:
    """Share of spans (label, start, end) two predictions have in common, over their union."""
    key = lambda docs: [{(s.label, s.start, s.end) for s in d.spans} for d in docs]
    a, b = key(a_docs), key(b_docs)
    union = sum(len(x | y) for x, y in zip(a, b))
    return sum(len(x & y) for x, y in zip(a, b)) / union if union else 1.0


def bf16_agreement(model_dir: Path, texts: list[str]) -> float:
    """Share of spans (label, start, end) that bf16 weights predict identically to
    float32 (union of both span sets as denominator). Runs on CPU, which has
    bf16 matmuls; a GPU run of bench/gpu.py measures the same on the card."""
    import torch

    from persian_ie.models.predictor import Predictor

    fp32 = Predictor.from_pretrained(model_dir).predict_texts(texts)
    bf16 = Predictor.from_pretrained(model_dir, dtype=torch.bfloat16).predict_texts(texts)
    return span_agreement(fp32, bf16)


def run_bench(model_dir: Path | None, texts_path: str, n_docs: int) -> dict:
    import torch
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = Path(model_dir) if model_dir else default_model(tmp)
        texts = load_texts(texts_path, n_docs)
        tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
        tokens = sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
        results = {}
        for name, bs in (("hf_pipeline_default_batch", None), ("hf_pipeline_batch_32", 32)):
            results[name] = time_pipeline(hf_pipeline(model_dir, bs), texts, bs)
        results["persian_ie_predict"] = time_predict(model_dir, texts, tmp)
        agreement = bf16_agreement(model_dir, texts[:16])
    base = results["hf_pipeline_default_batch"]
    rows = {name: {"seconds": round(sec, 2), "docs_per_s": round(len(texts) / sec, 2), "tokens_per_s": round(tokens / sec, 1), "speedup_vs_default_pipeline": round(base / sec, 2)} for name, sec in results.items()}
    return {"documents": len(texts), "tokens": tokens, "torch_threads": torch.get_num_threads(), "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores", "results": rows, "bf16_span_agreement_with_fp32": round(agreement, 4)}


def format_table(result: dict) -> str:
    lines = [f"{result['documents']} documents, {result['tokens']:,} tokens, {result['machine']}, torch threads {result['torch_threads']}",
             f"{'contestant':<28} {'seconds':>8} {'docs/s':>8} {'tokens/s':>10} {'vs default':>10}"]
    for name, r in result["results"].items():
        lines.append(f"{name:<28} {r['seconds']:>8.2f} {r['docs_per_s']:>8.2f} {r['tokens_per_s']:>10,.0f} {r['speedup_vs_default_pipeline']:>9.2f}x")
    lines.append(f"bf16 weights vs float32: {result['bf16_span_agreement_with_fp32']:.1%} of spans identical (16 documents)")
    return "\n".join(lines)


def main(args) -> int:
    result = run_bench(args.model, args.texts, args.docs)
    print(format_table(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0
