"""int8 with one scale per token, in torch: agreement, F1 and speed (issue 14).

    python -m persian_ie.bench.torch_int8 --model runs/quickstart/model [--articles 65 --calibration 32 --rounds 3]

ONNX Runtime's int8 (dynamic and static, benchmarks §4b) gives each
activation tensor one scale, and its spans agree with float32 at 0.86-0.88,
far below the 98 % bar. This measures the scheme LLM.int8-style work uses
instead: every row (token) of a weight product's input gets its own scale,
every output channel of the weight its own, and the product runs as
``torch._int_mm`` (int8 x int8 -> int32, oneDNN's VNNI kernels on CPU).
Optionally SmoothQuant's per-channel factors (``--alpha``, 0.5 by default; activation maxima
from the windows of the first ``--calibration`` train articles) move the
activations' outlier channels into the weights first. Attention scores,
softmax, LayerNorm, GELU and the heads stay in float.

Variants, each predicting the test split with the model's own heads,
relation head and refiner:

* float32 torch (the reference) and bf16 torch (``torch-bf16``, the default
  where the CPU has bf16 hardware),
* int8 per token, every weight product,
* the same with smoothing,
* the same without smoothing, the FFN's second product left in float (the
  most sensitive one under ONNX Runtime's int8, §4b),
* smoothing, with everything outside the int8 products in bf16.

For each: span agreement with float32, test micro / PROPOSAL / relation
F1, and forward seconds on the test split's windows, each variant timed in
turn for ``--rounds`` rounds (the machine's drift lands on all alike).
Prints what it measured; nothing is saved into the model.
"""

from __future__ import annotations

import argparse
import copy
import json

import numpy as np
import torch

SMOOTH_ALPHA = 0.5
KINDS = ("qkv", "attn_out", "ffn_in", "ffn_out")


class Int8Linear(torch.nn.Module):
    """``linear`` with int8 weights (one scale per output channel) and int8 inputs (one scale per row)."""

    def __init__(self, linear: torch.nn.Linear, smooth: torch.Tensor | None = None):
        super().__init__()
        weight = linear.weight.detach().float()
        self.inverse_smooth = None
        if smooth is not None:  # x W^T = (x / s)(W s)^T: the activation's large channels scaled down
            weight = weight * smooth[None, :]
            self.inverse_smooth = 1.0 / smooth
        self.weight_scale = weight.abs().amax(1).clamp_min(1e-8) / 127
        self.weight_int8 = (weight / self.weight_scale[:, None]).round().clamp(-127, 127).to(torch.int8).t().contiguous()
        self.bias = None if linear.bias is None else linear.bias.detach().float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape, dtype = x.shape, x.dtype
        x = x.reshape(-1, shape[-1]).float()
        if self.inverse_smooth is not None:
            x = x * self.inverse_smooth
        row_scale = x.abs().amax(1, keepdim=True).clamp_min(1e-8) / 127
        x_int8 = (x / row_scale).round_().to(torch.int8)
        y = torch._int_mm(x_int8, self.weight_int8).float().mul_(row_scale).mul_(self.weight_scale)
        if self.bias is not None:
            y.add_(self.bias)
        return y.to(dtype).reshape(*shape[:-1], -1)


def weight_products(encoder):
    """(layer index, kind, parent module, attribute) of every weight product in a BERT encoder."""
    for i, layer in enumerate(encoder.encoder.layer):
        attention = layer.attention.self
        for name in ("query", "key", "value"):
            yield i, "qkv", attention, name
        yield i, "attn_out", layer.attention.output, "dense"
        yield i, "ffn_in", layer.intermediate, "dense"
        yield i, "ffn_out", layer.output, "dense"


def quantized(model, kinds, smooth: dict | None = None):
    """A copy of ``model`` whose weight products of ``kinds`` run in int8."""
    model = copy.deepcopy(model)
    for i, kind, parent, name in weight_products(model.encoder):
        if kind in kinds:
            setattr(parent, name, Int8Linear(getattr(parent, name), None if smooth is None else smooth[(i, kind)]))
    return model


def smoothing_factors(model, predictor, docs, alpha: float = SMOOTH_ALPHA) -> dict:
    """SmoothQuant's s_j = max|x_j|^alpha / max|W_j|^(1-alpha) per input channel, from the activations
    ``docs`` produce; Q, K and V share their input and so one factor."""
    from persian_ie.models.backends import TorchBackend

    maxima, hooks = {}, []
    for i, kind, parent, name in weight_products(model.encoder):
        if kind == "qkv" and name != "query":
            continue

        def record(module, inputs, output, key=(i, kind)):
            seen = inputs[0].detach().float().reshape(-1, inputs[0].shape[-1]).abs().amax(0)
            maxima[key] = torch.maximum(maxima[key], seen) if key in maxima else seen

        hooks.append(getattr(parent, name).register_forward_hook(record))
    predictor.backend = TorchBackend(model)
    predictor.forward([predictor.prepare(d) for d in docs])
    for hook in hooks:
        hook.remove()
    factors = {}
    for i, kind, parent, name in weight_products(model.encoder):
        members = [parent.query, parent.key, parent.value] if kind == "qkv" else [getattr(parent, name)]
        weight_max = torch.cat([m.weight.detach().float() for m in members]).abs().amax(0).clamp_min(1e-5)
        factors[(i, kind)] = (maxima[(i, kind)].clamp_min(1e-5) ** alpha / weight_max ** (1 - alpha)).clamp_min(1e-5)
    return factors


def predict_with(predictor, model, docs):
    from persian_ie.bench.cpu import timed_predictions
    from persian_ie.models.backends import TorchBackend

    predictor.backend = TorchBackend(model)
    return timed_predictions(predictor, docs)


def main(argv=None) -> int:
    from persian_ie.bench.cpu import span_agreement
    from persian_ie.data.document import read_documents
    from persian_ie.eval.report import evaluate_documents
    from persian_ie.models.io import load_pretrained
    from persian_ie.models.predictor import Predictor

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--articles", type=int, default=65, help="test articles predicted")
    parser.add_argument("--calibration", type=int, default=32, help="train articles whose activations set the smoothing factors")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds, every variant once per round")
    parser.add_argument("--alpha", type=float, default=SMOOTH_ALPHA, help="SmoothQuant's migration strength (0: none, 1: all into the weights)")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    predictor = Predictor.from_pretrained(args.model, backend="torch")
    model, _ = load_pretrained(args.model)
    model = model.float().eval()
    smooth = smoothing_factors(model, predictor, read_documents("data/corpus/train.jsonl")[:args.calibration], args.alpha)
    gold = read_documents("data/corpus/test.jsonl")[:args.articles]
    everything = set(KINDS)
    variants = {
        "torch float32 (reference)": model,
        "torch-bf16": copy.deepcopy(model).to(torch.bfloat16),
        "int8 per token": quantized(model, everything),
        "int8 per token, smoothed": quantized(model, everything, smooth),
        "int8 per token, FFN output float": quantized(model, everything - {"ffn_out"}),
        "int8 per token, smoothed, the rest bf16": quantized(model, everything, smooth).to(torch.bfloat16),
    }
    results, times = {}, {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, variant in variants.items():
            results[name], seconds = predict_with(predictor, variant, gold)
            times[name].append(seconds)
    reference = results["torch float32 (reference)"]
    base, bf16 = (float(np.median(times[k])) for k in ("torch float32 (reference)", "torch-bf16"))
    for name, preds in results.items():
        report = evaluate_documents(gold, preds, predictor.schema, bootstrap=0, with_seqeval=False)
        median = float(np.median(times[name]))
        print(json.dumps({"variant": name, "span_agreement": round(span_agreement(reference, preds), 4),
                          "test_micro_f1": round(report["micro"]["f1"], 4), "proposal_f1": round(report["labels"]["PROPOSAL"]["f1"], 4),
                          "relations_f1": round(report["relations"]["micro"]["f1"], 4), "forward_s": [round(t, 2) for t in times[name]],
                          "speed_vs_float32": round(base / median, 2), "speed_vs_bf16": round(bf16 / median, 2)}, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
