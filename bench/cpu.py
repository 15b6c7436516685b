"""Batch inference, whole processes: transformers' pipeline vs ``persian-ie predict``.

    persian-ie bench [--model DIR] [--texts ARTICLES.jsonl] [--docs 200] [--pairs 3] [--out bench.json]

Same texts (whole Fars News articles), same encoder weights, each contestant a
separate process timed from start to exit (imports and model loading
included), and its peak RSS (VmHWM, which the process reports as it exits):

(a) the baseline a new user would write: ``pipeline("token-classification",
    model=DIR, aggregation_strategy="simple", stride=32)`` at its default
    batch size over a plain ``AutoModelForTokenClassification`` directory
    holding the model's encoder and its entity head (the pipeline cannot
    run three heads), written once before timing;
(b) ``persian-ie predict INPUT.jsonl --model DIR --out OUT`` with default
    options (reading JSONL, normalization, tokenization, the default
    backend, decoding of three layers, linking, writing JSONL).

One untimed run of each on 3 of the texts first (page cache, any one-time
export), then
``--pairs`` pairs in alternating order (AB, BA, ...), so that load from other
processes on a shared machine falls on both; the ratio is the median of the
per-pair ratios.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
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
    tags = layered.schema.tags(layered.layers[0])
    encoder_config = layered.config.encoder.to_dict()
    labels = {"id2label": dict(enumerate(tags)), "label2id": {t: i for i, t in enumerate(tags)}}  # B-/I- names: "simple" aggregation groups them
    config = AutoConfig.for_model(encoder_config.pop("model_type"), **{**encoder_config, **labels})
    hf = AutoModelForTokenClassification.from_config(config)
    missing = hf.base_model.load_state_dict(layered.encoder.state_dict(), strict=False)
    assert not missing.missing_keys or all("pooler" in k for k in missing.missing_keys), missing
    hf.classifier.load_state_dict(layered.heads[layered.layers[0]].state_dict())
    hf.eval()
    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    return pipeline("token-classification", model=hf, tokenizer=AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False), aggregation_strategy="simple", stride=32, device=-1, **kwargs)


def span_agreement(a_docs, b_docs) -> float:
    """Share of spans (label, start, end) two predictions have in common, over their union."""
    key = lambda docs: [{(s.label, s.start, s.end) for s in d.spans} for d in docs]
    a, b = key(a_docs), key(b_docs)
    union = sum(len(x | y) for x, y in zip(a, b))
    return sum(len(x & y) for x, y in zip(a, b)) / union if union else 1.0


def timed_predictions(predictor, docs) -> tuple[list, float]:
    """``predictor``'s documents for ``docs`` and the seconds its forward pass took (preparation and
    postprocessing not counted): the figure the int8 benches compare between encoders."""
    prepared = [predictor.prepare(d) for d in docs]
    start = time.perf_counter()
    probs = predictor.forward(prepared)
    seconds = time.perf_counter() - start
    return [predictor.postprocess(p, w) for p, w in zip(prepared, probs)], seconds


def bf16_agreement(model_dir: Path, texts: list[str]) -> float:
    """Share of spans (label, start, end) that bf16 weights predict identically to
    float32 (union of both span sets as denominator). Runs on CPU, which has
    bf16 matmuls; a GPU run of bench/gpu.py measures the same on the card."""
    import torch

    from persian_ie.models.predictor import Predictor

    fp32 = Predictor.from_pretrained(model_dir, backend="torch").predict_texts(texts)
    bf16 = Predictor.from_pretrained(model_dir, backend="torch-bf16").predict_texts(texts)
    return span_agreement(fp32, bf16)


def write_pipeline_model(model_dir: Path, target: Path) -> Path:
    """A plain token-classification directory the pipeline loads by itself (untimed)."""
    hf = hf_pipeline(model_dir, None).model
    hf.save_pretrained(target)
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False).save_pretrained(target)
    return target


# Each contestant reports its own peak RSS (VmHWM of its final address space):
# the kernel's ru_maxrss of a child also counts the parent's memory at fork.
REPORT_PEAK = """
import atexit, sys
def _report(path=sys.argv.pop(1)):
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    open(path, "w").write(line.split()[1])
atexit.register(_report)
"""

PREDICT_SCRIPT = REPORT_PEAK + """
from persian_ie.cli import main
sys.exit(main(sys.argv[1:]))
"""

PIPELINE_SCRIPT = REPORT_PEAK + """
import json
from transformers import pipeline
model, texts_path, out = sys.argv[1:4]
texts = [json.loads(line)["text"] for line in open(texts_path, encoding="utf-8")]
pipe = pipeline("token-classification", model=model, aggregation_strategy="simple", stride=32, device=-1)
results = pipe(texts)
with open(out, "w", encoding="utf-8") as fh:
    for r in results:
        fh.write(json.dumps([{k: (float(v) if k == "score" else v) for k, v in e.items()} for e in r], ensure_ascii=False) + "\\n")
"""


def run_process(argv: list[str], peak_file: Path, env: dict | None = None) -> dict:
    """Wall seconds and peak RSS (MiB) of one whole process."""
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} ... exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}")
    return {"seconds": seconds, "peak_rss_mib": int(peak_file.read_text()) / 1024}


def contestants(model_dir: Path, hf_dir: Path, texts_path: Path, tmp: Path, predict_args: list[str]) -> dict[str, list[str]]:
    """name -> argv; the argument after the script is where it writes its peak RSS (KiB)."""
    return {
        "pipeline": [sys.executable, "-c", PIPELINE_SCRIPT, str(tmp / "pipeline.peak"), str(hf_dir), str(texts_path), str(tmp / "pipeline-out.jsonl")],
        "predict": [sys.executable, "-c", PREDICT_SCRIPT, str(tmp / "predict.peak"), "predict", str(texts_path), "--model", str(model_dir),
                    "--out", str(tmp / "predict-out.jsonl"), "--no-progress", *predict_args],
    }


def run_bench(model_dir: Path | None, texts_path: str, n_docs: int, pairs: int = 3, predict_args: list[str] | None = None, threads: int | None = None) -> dict:
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = Path(model_dir) if model_dir else default_model(tmp)
        texts = load_texts(texts_path, n_docs)
        src = tmp / "texts.jsonl"
        src.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
        hf_dir = write_pipeline_model(model_dir, tmp / "pipeline-model")
        warm = tmp / "warm-up.jsonl"
        warm.write_text("".join(src.read_text("utf-8").splitlines(keepends=True)[:3]), encoding="utf-8")
        for name, command in contestants(model_dir, hf_dir, warm, tmp, predict_args or []).items():  # untimed: page cache, one-time export
            run_process(command, tmp / f"{name}.peak", env)
        for stale in tmp.glob("*-out.jsonl*"):
            stale.unlink()
        argv = contestants(model_dir, hf_dir, src, tmp, predict_args or [])
        runs: dict[str, list[dict]] = {name: [] for name in argv}
        for i in range(pairs):
            order = list(argv) if i % 2 == 0 else list(reversed(argv))
            for name in order:
                for stale in tmp.glob("predict-out.jsonl*"):
                    stale.unlink()
                runs[name].append(run_process(argv[name], tmp / f"{name}.peak", env))
                print(f"pair {i + 1} {name}: {runs[name][-1]['seconds']:.1f} s, {runs[name][-1]['peak_rss_mib']:.0f} MiB", file=sys.stderr, flush=True)
    ratios = [p["seconds"] / q["seconds"] for p, q in zip(runs["pipeline"], runs["predict"])]
    return {"documents": len(texts), "pairs": pairs, "machine": machine(), "predict_args": predict_args or [], "omp_threads": threads,
            "runs": runs, "speedup_median": statistics.median(ratios), "speedups": ratios,
            "peak_rss_mib": {name: max(r["peak_rss_mib"] for r in rs) for name, rs in runs.items()}}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return f"{cpu}, {os.cpu_count()} cores, {platform.machine()}"


def format_table(result: dict) -> str:
    lines = [f"{result['documents']} documents, {result['pairs']} alternating pairs, {result['machine']}, OMP_NUM_THREADS {result['omp_threads'] or 'unset'}",
             f"{'contestant':<10} {'median s':>9} {'runs (s)':<26} {'peak RSS MiB':>12}"]
    for name, rs in result["runs"].items():
        secs = [r["seconds"] for r in rs]
        lines.append(f"{name:<10} {statistics.median(secs):>9.2f} {' '.join(f'{x:.2f}' for x in secs):<26} {result['peak_rss_mib'][name]:>12.0f}")
    lines.append(f"predict is {result['speedup_median']:.2f}x the pipeline's speed (median of pairs: {' '.join(f'{x:.2f}' for x in result['speedups'])})")
    return "\n".join(lines)


def main(args) -> int:
    result = run_bench(args.model, args.texts, args.docs, args.pairs, args.predict_arg, args.threads)
    print(format_table(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0
