"""GPU benchmark: training-step and batch-inference throughput, correctness.

    bash bench/gpu_run.sh                                         # on the GPU machine, < 5 min, no install needed
    python -m persian_ie.bench.gpu --smoke                        # tiny shapes on CPU (the CI smoke test)

Uses ParsBERT-base shape (12 layers, hidden 768, vocab 42,000) with random
weights (no hub there) and a WordPiece tokenizer of 42,000 pieces trained on
the corpus texts in data/annotation/texts, so window lengths follow the real
article length distribution. Measures:

1. training steps of the real code path (LayeredTokenClassifier, Collator,
   AdamW groups, bf16 autocast): naive fixed-length padding vs length-grouped
   batches, eager and torch.compile; non-padding tokens/s and model FLOP
   utilization (6 x non-embedding params x tokens + attention, over the card's
   dense bf16 peak);
2. inference: ``persian-ie predict`` end to end (JSONL in, JSONL out) in
   bf16; the raw encoder forward in bf16 on full batches; the HF pipeline at
   default batch size and 64 on a subset;
3. correctness: fp32 (TF32 off) GPU spans == CPU spans on a sample; bf16
   span agreement with fp32.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from persian_ie.models.wordpiece import build_wordpiece_tokenizer

ROOT = Path(__file__).resolve().parent.parent
PEAK_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0}


def corpus_texts() -> list[str]:
    return [p.read_text("utf-8") for p in sorted((ROOT / "data" / "annotation" / "texts").glob("*.txt"))]


def build_model_dir(directory: Path, texts, smoke: bool):
    """A persian-ie model directory of ParsBERT-base shape, random weights."""
    from transformers import BertConfig, BertModel

    from persian_ie.data.schema import load_schema
    from persian_ie.models.configuration import build_config
    from persian_ie.models.io import save_pretrained
    from persian_ie.models.layered import LayeredTokenClassifier

    size = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128) if smoke else dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    tokenizer = build_wordpiece_tokenizer(texts, 2000 if smoke else 42000, directory)
    config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=512, pad_token_id=0, **size)
    torch.manual_seed(0)
    encoder = BertModel(config, add_pooling_layer=False)
    model = LayeredTokenClassifier(build_config(config, load_schema(), {"max_length": 256, "stride": 32}, run_name="parsbert-shape-random"), encoder=encoder)
    save_pretrained(model, tokenizer, directory)
    return model, tokenizer


def nonembedding_params(model) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)


def train_throughput(model, tokenizer, texts, device, steps: int, batch_size: int, variant: str) -> dict:
    from persian_ie.data.dataset import encode_document
    from persian_ie.data.document import Document
    from persian_ie.data.normalize import Normalizer
    from persian_ie.training.batching import Collator, LengthGroupedBatches, batch_to

    schema = model.schema
    # the rows build_dataset would hold, without needing `datasets` on the GPU machine
    ds = [row for i, t in enumerate(texts) for row in encode_document(Document(f"d{i}", t), tokenizer, schema, Normalizer(), 256, 32)]
    layers = list(schema.layers)
    collate = Collator(tokenizer.pad_token_id, layers)
    if variant.startswith("naive"):
        order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0)).tolist()
        batches = [order[i:i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]
    else:
        batches = list(LengthGroupedBatches([r["length"] for r in ds], batch_size, seed=0))
    m = model.to(device).train()
    fwd = torch.compile(m) if variant.endswith("compile") else m
    opt = torch.optim.AdamW(m.parameters(), lr=1e-5, fused=device == "cuda")
    use_bf16 = device == "cuda"

    def step(idx):
        rows = [ds[i] for i in idx]
        batch = collate(rows)
        if variant.startswith("naive"):  # pad every batch to the window length
            pad = 256 - batch["input_ids"].shape[1]
            batch["input_ids"] = torch.nn.functional.pad(batch["input_ids"], (0, pad), value=tokenizer.pad_token_id)
            batch["attention_mask"] = torch.nn.functional.pad(batch["attention_mask"], (0, pad))
            batch["labels"] = {k: torch.nn.functional.pad(v, (0, pad), value=-100) for k, v in batch["labels"].items()}
        real = int(batch["attention_mask"].sum())
        batch = batch_to(batch, device, non_blocking=True)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=use_bf16):
            loss = fwd(**batch)["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return real, batch["input_ids"].numel()

    warm = min(3, len(batches) // 2)
    for idx in batches[:warm]:
        step(idx)
    _sync(device)
    start = time.perf_counter()
    real = padded = 0
    for idx in (batches * 10)[warm:warm + steps]:
        r, p = step(idx)
        real += r
        padded += p
    _sync(device)
    seconds = time.perf_counter() - start
    cfg = m.encoder.config
    flops = 6 * nonembedding_params(m) * real + 12 * cfg.num_hidden_layers * cfg.hidden_size * real * 256 / 2
    return {"variant": variant, "steps": steps, "tokens_per_s": real / seconds, "padding_share": 1 - real / padded, "achieved_tflops": flops / seconds / 1e12}


def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def inference_throughput(model_dir: Path, texts, device, repeat: int, smoke: bool) -> dict:
    from transformers import AutoTokenizer

    from persian_ie.inference.runner import run_prediction
    from persian_ie.models.predictor import Predictor

    docs = (texts * repeat)
    tok = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    n_tokens = sum(len(x) for x in tok(docs, add_special_tokens=False)["input_ids"])
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        src.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(docs)), encoding="utf-8")
        dtype = torch.bfloat16 if device == "cuda" else None
        pred = Predictor.from_pretrained(model_dir, device=device, dtype=dtype, backend="torch")
        pred.predict_texts(texts[:8])
        _sync(device)
        start = time.perf_counter()
        run_prediction(pred, [str(src)], Path(tmp) / "out.jsonl", chunk_size=2048, batch_tokens=65536 if device == "cuda" else 8192, progress=False)
        _sync(device)
        e2e = time.perf_counter() - start
    raw = raw_forward(pred.model, device, 2 if smoke else 20)
    out = {"documents": len(docs), "tokens": n_tokens, "predict_end_to_end_tokens_per_s": n_tokens / e2e, "raw_forward_tokens_per_s": raw}
    out.update(pipeline_throughput(model_dir, texts[: 8 if smoke else 64], device))
    return out


@torch.inference_mode()
def raw_forward(model, device, iters: int, batch: int = 128, length: int = 256) -> float:
    ids = torch.randint(5, 1000, (batch, length), device=device)
    mask = torch.ones_like(ids)
    model(ids, attention_mask=mask)
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        model(ids, attention_mask=mask)
    _sync(device)
    return batch * length * iters / (time.perf_counter() - start)


def pipeline_throughput(model_dir: Path, texts, device) -> dict:
    from transformers import AutoTokenizer

    from persian_ie.bench.cpu import hf_pipeline

    tok = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    n_tokens = sum(len(x) for x in tok(texts, add_special_tokens=False)["input_ids"])
    out = {}
    for name, bs in (("hf_pipeline_default_tokens_per_s", None), ("hf_pipeline_batch64_tokens_per_s", 64)):
        pipe = hf_pipeline(model_dir, bs)
        if device == "cuda":
            pipe.model.to(device)
            pipe.device = torch.device(device)
        pipe(texts[:2])
        start = time.perf_counter()
        pipe(texts, **({"batch_size": bs} if bs else {}))
        out[name] = n_tokens / (time.perf_counter() - start)
    return out


def correctness(model_dir: Path, texts, device) -> dict:
    from persian_ie.bench.cpu import span_agreement
    from persian_ie.models.predictor import Predictor

    sample = texts[:16]
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cpu = Predictor.from_pretrained(model_dir, device="cpu", backend="torch").predict_texts(sample)  # the float32 reference
    fp32 = Predictor.from_pretrained(model_dir, device=device, backend="torch").predict_texts(sample)
    out = {"fp32_device_equals_cpu": span_agreement(cpu, fp32) == 1.0}
    if device == "cuda":
        bf16 = Predictor.from_pretrained(model_dir, device=device, dtype=torch.bfloat16).predict_texts(sample)
        out["bf16_span_agreement"] = span_agreement(fp32, bf16)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="GPU training/inference benchmark")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes, CPU, seconds")
    parser.add_argument("--out", help="write JSON results here")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    texts = corpus_texts()[: 24 if args.smoke else None]
    result = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu", "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        model, tokenizer = build_model_dir(model_dir, texts, args.smoke)
        steps = 2 if args.smoke else args.steps
        variants = ["naive", "grouped"] + ([] if args.smoke else ["grouped+compile"])
        result["train"] = [train_throughput(model, tokenizer, texts, device, steps, 32, v) for v in variants]
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in result["device"]), None)
        for row in result["train"]:
            row["mfu"] = row["achieved_tflops"] / peak if peak else None
        result["inference"] = inference_throughput(model_dir, texts, device, 1 if args.smoke else 30, args.smoke)
        result["correctness"] = correctness(model_dir, texts, device)
    print(format_table(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


def format_table(r: dict) -> str:
    lines = [f"device: {r['device']}, torch {r['torch']}, {r['date']}", f"{'training variant':<20} {'tokens/s':>12} {'padding':>8} {'TFLOP/s':>8} {'MFU':>6}"]
    for row in r["train"]:
        mfu = f"{row['mfu']:.1%}" if row.get("mfu") else "-"
        lines.append(f"{row['variant']:<20} {row['tokens_per_s']:>12,.0f} {row['padding_share']:>8.1%} {row['achieved_tflops']:>8.1f} {mfu:>6}")
    inf = r["inference"]
    lines.append(f"inference ({inf['documents']} docs, {inf['tokens']:,} tokens), tokens/s:")
    for k in ("predict_end_to_end_tokens_per_s", "raw_forward_tokens_per_s", "hf_pipeline_default_tokens_per_s", "hf_pipeline_batch64_tokens_per_s"):
        lines.append(f"  {k:<36} {inf[k]:>12,.0f}")
    lines.append(f"  end-to-end vs default pipeline: {inf['predict_end_to_end_tokens_per_s'] / inf['hf_pipeline_default_tokens_per_s']:.1f}x")
    lines.append(f"correctness: {r['correctness']}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
