"""Static (calibrated) int8 for the ONNX encoder: agreement, F1 and speed (issue 14).

    python -m persian_ie.bench.static_int8 --model runs/quickstart/model [--calibration 16 --articles 65]

Dynamic int8 (`onnx-int8`) stays below the agreement bar (benchmarks §4b);
static int8, which fixes every activation's scale from calibration windows
ahead of time, was the variant not yet tried. This exports the model's
encoder as the backends do, quantizes it statically in several ways
(calibration: windows of the first ``--calibration`` train articles), and for
each variant predicts the test split with the model's own heads, relation
head and refiner, against float32 ONNX (the same export, unquantized):

* span agreement (spans both predict over spans either predicts),
* test micro-F1 and PROPOSAL F1,
* forward seconds on the test split's windows, each variant timed in turn,
  twice, beside float32 ONNX and dynamic int8.

Prints what it measured. The static graphs live in a temporary folder;
nothing is saved into the model (the float32 and dynamic int8 graphs are the
backends' usual cached export).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

# Variants: (calibration method, MatMuls left in float). "ffn_out": the FFN's
# second product, the most sensitive kind under dynamic int8 (§4b).
VARIANTS = {
    "static minmax": ("MinMax", ()),
    "static percentile 99.999": ("Percentile", ()),
    "static minmax, FFN output in float": ("MinMax", ("ffn_out",)),
    "static percentile 99.999, FFN output in float": ("Percentile", ("ffn_out",)),
}


class RecordingBackend:
    """Passes batches to float32 ONNX and keeps the encoder's inputs (the calibration feeds)."""

    def __init__(self, backend):
        self.backend, self.feeds = backend, []

    def logits(self, ids, mask, states=False):
        self.feeds.append({"inputs_embeds": np.take(self.backend.embeddings, ids, axis=0).astype(np.float32), "attention_mask": mask.astype(np.int64)})
        return self.backend.logits(ids, mask, states=states)


def same_shape_windows(feeds, width: int = 128, rows: int = 8) -> list[dict]:
    """Calibration batches of one shape: the histogram calibrators stack every batch's
    activations, so shapes must agree, and windows vary in length (they end at
    sentences). Each window of at least ``width`` tokens gives its first ``width``
    (a valid shorter input, no padding to skew the ranges); shorter ones are dropped."""
    keep = [f["inputs_embeds"][i, :width] for f in feeds for i in range(len(f["attention_mask"])) if f["attention_mask"][i].sum() >= width]
    return [{"inputs_embeds": np.stack(keep[i:i + rows]), "attention_mask": np.ones((rows, width), np.int64)}
            for i in range(0, len(keep) - rows + 1, rows)]


def calibration_reader(feeds):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(feeds)

        def get_next(self):
            return next(self.items, None)

    return Reader()


def ffn_output_matmuls(graph: Path) -> list[str]:
    """The second FFN product of every layer: exported as ``.../output/dense/MatMul`` (not ``attention/output``)."""
    import onnx

    names = [n.name for n in onnx.load(str(graph)).graph.node if n.op_type == "MatMul"]
    return [n for n in names if "/output/dense/" in n and "attention" not in n]


def quantize_static_variant(plain: Path, out: Path, feeds, method: str, keep_float: tuple) -> int:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from persian_ie.models.backends import quiet_quantizer

    excluded = ffn_output_matmuls(plain) if "ffn_out" in keep_float else []
    with quiet_quantizer():
        quantize_static(str(plain), str(out), calibration_reader(feeds), quant_format=QuantFormat.QDQ, op_types_to_quantize=["MatMul"],
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=excluded,
                        calibrate_method=getattr(CalibrationMethod, method),
                        extra_options={"MatMulConstBOnly": True, "CalibPercentile": 99.999})
    return len(excluded)


def predict_with(predictor, session, docs):
    """Predictions and forward seconds with ``session`` as the ONNX backend's encoder (embeddings and heads stay)."""
    from persian_ie.bench.cpu import timed_predictions

    predictor.backend.session = session
    return timed_predictions(predictor, docs)


def main(argv=None) -> int:
    from persian_ie.bench.cpu import span_agreement
    from persian_ie.data.document import read_documents
    from persian_ie.eval.report import evaluate_documents
    from persian_ie.models.backends import cpu_session, export_dir_for, export_encoder
    from persian_ie.models.io import load_pretrained
    from persian_ie.models.predictor import Predictor

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--calibration", type=int, default=32, help="train articles whose windows calibrate the scales")
    parser.add_argument("--articles", type=int, default=65, help="test articles predicted")
    args = parser.parse_args(argv)

    predictor = Predictor.from_pretrained(args.model, backend="onnx")  # builds the backends' export if it is not cached
    export = export_dir_for(Path(args.model))
    fp32_session = predictor.backend.session
    recorder = RecordingBackend(predictor.backend)
    predictor.backend = recorder
    predictor.forward([predictor.prepare(d) for d in read_documents("data/corpus/train.jsonl")[:args.calibration]])
    predictor.backend = recorder.backend
    feeds = same_shape_windows(recorder.feeds)
    print(f"calibration: {sum(len(f['attention_mask']) for f in feeds)} windows of {feeds[0]['attention_mask'].shape[1]} tokens "
          f"from {args.calibration} train articles")

    gold = read_documents("data/corpus/test.jsonl")[:args.articles]
    sessions = {"onnx float32 (reference)": fp32_session, "onnx-int8 (dynamic, shipped option)": cpu_session(export / "encoder-int8.onnx")}
    with tempfile.TemporaryDirectory() as tmp:
        model, _ = load_pretrained(args.model)
        plain = Path(tmp) / "plain.onnx"
        export_encoder(model.float().eval().encoder, plain, model.config.encoder.hidden_size)
        del model
        for name, (method, keep_float) in VARIANTS.items():
            out = Path(tmp) / f"{len(sessions)}.onnx"
            start = time.perf_counter()
            excluded = quantize_static_variant(plain, out, feeds, method, keep_float)
            print(f"{name}: quantized in {time.perf_counter() - start:.0f} s, {excluded} MatMuls left in float")
            sessions[name] = cpu_session(out)
        results, times = {}, {name: [] for name in sessions}
        for round_ in range(2):  # each variant in turn, twice: the machine's drift lands on all alike
            for name, session in sessions.items():
                results[name], seconds = predict_with(predictor, session, gold)
                times[name].append(seconds)
    reference = results["onnx float32 (reference)"]
    base_time = float(np.median(times["onnx float32 (reference)"]))
    for name, preds in results.items():
        report = evaluate_documents(gold, preds, predictor.schema, bootstrap=0, with_seqeval=False)
        print(json.dumps({"variant": name, "span_agreement": round(span_agreement(reference, preds), 4), "test_micro_f1": round(report["micro"]["f1"], 4),
                          "proposal_f1": round(report["labels"]["PROPOSAL"]["f1"], 4), "relations_f1": round(report["relations"]["micro"]["f1"], 4),
                          "forward_s": [round(t, 2) for t in times[name]], "speed_vs_float32": round(base_time / float(np.median(times[name])), 2)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
