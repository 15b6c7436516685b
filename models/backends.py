"""Forward-pass backends: ids and mask in, per-layer logits out (numpy).

* ``torch``: the model as trained, float32 on CPU (any device; on a GPU
  ``--precision`` picks bf16/fp16 weights).
* ``torch-bf16``: bf16 weights on CPU. The CPU default where the processor
  multiplies bf16 in hardware (AMX or AVX512-BF16): 2.2x the float32
  forward with spans and test F1 kept (docs/benchmarks.md, section 4).
* ``onnx``: the encoder exported once to ONNX, its attention, GELU and
  residual LayerNorm subgraphs fused into ONNX Runtime's transformer
  kernels (``onnxruntime.transformers.optimizer``), run by ONNX Runtime in
  float32 (same spans as torch). The CPU default without bf16 hardware
  when onnxruntime is installed.
* ``onnx-int8``: the same graph with the encoder's weight MatMuls quantized
  to int8 (dynamic, per output channel, heads and embeddings in float).
  Offered, not a default: its spans agree with float32 well below the 98%
  bar (docs/benchmarks.md).

What stays out of the ONNX graph, and why:

* the word-embedding matrix (250k x 384 for the offline base, most of the
  model's memory): stored once as a ``.npy`` file and memory-mapped, so a
  run only pulls the rows its texts use into memory. The lookup is an
  exact float32 gather, so nothing is lost; the graph takes
  ``inputs_embeds`` and adds positions, token types and LayerNorm itself.
* the classification heads: three small float32 matrices applied in numpy,
  never quantized (their tags are the output).

Exported files are cached under ``$PERSIAN_IE_CACHE/onnx/<key>`` where the
key hashes the model's config.json, its weights' size, modification time and
resolved path, and the versions that shape the graph: a changed model gets a
fresh export, an unchanged one is exported once. Only ONNX, ``.npy`` and
JSON are read back (no pickle).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from persian_ie.errors import BackendError

STATES = "__word_states__"  # the predictor's key for word vectors (models.predictor.STATES)
BACKENDS = ("auto", "torch", "torch-bf16", "onnx", "onnx-int8")
EXPORT_VERSION = 2  # bump when the exported graph or the files beside it change (2: fused transformer kernels)
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def cpu_has_bf16() -> bool:
    """The processor multiplies bf16 in hardware (else bf16 on CPU is slower than float32)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace").split()
    except OSError:
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_backend(name: str | None, device: str = "cpu", dtype=None) -> str:
    """``auto`` on CPU: bf16 torch with bf16 hardware, else float32 ONNX, else float32 torch."""
    name = name or "auto"
    if name not in BACKENDS:
        raise BackendError(f"--backend {name!r}: choose one of {', '.join(BACKENDS)}")
    if name == "auto":
        if device != "cpu" or dtype is not None:
            return "torch"
        if cpu_has_bf16():
            return "torch-bf16"
        if not onnxruntime_available():
            print("persian-ie: onnxruntime is not installed; running the model with torch (slower on CPU). "
                  "Install it with: pip install 'persian-ie[onnx]'", file=sys.stderr)
            return "torch"
        return "onnx"
    if name != "torch" and device != "cpu":
        raise BackendError(f"--backend {name} runs on CPU only; use --backend torch (with --precision) for device {device!r}")
    if name.startswith("onnx"):
        if not onnxruntime_available():
            raise BackendError(f"--backend {name} needs onnxruntime: pip install 'persian-ie[onnx]' (or use --backend torch)")
    return name


def backend_dtype(name: str, dtype=None):
    """The torch dtype the weights run in: bf16 for ``torch-bf16``, else ``dtype`` as given."""
    if name == "torch-bf16":
        import torch

        return torch.bfloat16
    return dtype


# ---- torch ------------------------------------------------------------------
class TorchBackend:
    name = "torch"

    def __init__(self, model, device: str = "cpu", dtype=None):
        self.model = model.to(device).eval()
        if dtype is not None:
            self.model.to(dtype)
        self.device = device

    def logits(self, ids: np.ndarray, mask: np.ndarray, states: bool = False) -> dict[str, np.ndarray]:
        """{layer: logits}; with ``states`` also the encoder's output under ``STATES``."""
        import torch

        with torch.inference_mode():
            output = self.model(torch.from_numpy(ids).to(self.device), attention_mask=torch.from_numpy(mask).to(self.device))
            result = {layer: x.float().cpu().numpy() for layer, x in output["logits"].items()}
            if states:
                result[STATES] = output["last_hidden_state"].float().cpu().numpy()
            return result


# ---- ONNX Runtime -------------------------------------------------------------
class OnnxBackend:
    """Memory-mapped embeddings -> ONNX encoder -> float heads in numpy."""

    def __init__(self, export_dir: Path, int8: bool, threads: int | None = None):
        self.name = "onnx-int8" if int8 else "onnx"
        self.embeddings = np.load(export_dir / "word_embeddings.npy", mmap_mode="r")
        with np.load(export_dir / "heads.npz", allow_pickle=False) as heads:
            self.layers = json.loads((export_dir / "meta.json").read_text("utf-8"))["layers"]
            self.heads = {layer: (np.ascontiguousarray(heads[f"{layer}.weight"].T), heads[f"{layer}.bias"]) for layer in self.layers}
        self.session = cpu_session(export_dir / ("encoder-int8.onnx" if int8 else "encoder.onnx"), threads)

    def hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        embeds = np.take(self.embeddings, ids, axis=0)  # touches only the rows used
        return self.session.run(None, {"inputs_embeds": embeds.astype(np.float32, copy=False), "attention_mask": mask.astype(np.int64, copy=False)})[0]

    def logits(self, ids: np.ndarray, mask: np.ndarray, states: bool = False) -> dict[str, np.ndarray]:
        hidden = self.hidden(ids, mask)
        result = {layer: hidden @ w + b for layer, (w, b) in self.heads.items()}
        if states:
            result[STATES] = hidden
        return result


def cpu_session(graph: Path, threads: int | None = None):
    """An ONNX Runtime CPU session with every graph optimization, one op at a time on ``threads`` cores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or available_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# ---- export and cache -----------------------------------------------------------
def export_key(model_dir: Path) -> str:
    from importlib.metadata import version

    model_dir = Path(model_dir).resolve()
    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    h = hashlib.sha256()
    h.update((model_dir / "config.json").read_bytes())
    h.update(f"{weights}|{stat.st_size}|{stat.st_mtime_ns}|{EXPORT_VERSION}|{version('torch')}|{version('onnxruntime')}".encode())
    return h.hexdigest()[:24]


def export_dir_for(model_dir: Path) -> Path:
    from persian_ie.models.offline_base import cache_dir

    return cache_dir() / "onnx" / export_key(model_dir)


def ensure_export(model_dir: Path, model=None) -> Path:
    """The cached export of ``model_dir`` (built now if missing; ``model``: already loaded, saves a load)."""
    target = export_dir_for(model_dir)
    if (target / "meta.json").is_file():
        return target
    if model is None:
        from persian_ie.models.io import load_pretrained

        model, _ = load_pretrained(model_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        write_export(model, tmp)
        try:
            os.replace(tmp, target)  # atomic: a concurrent run sees all files or none
        except OSError:  # another process finished first: keep its copy
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def write_export(model, directory: Path) -> None:
    import torch

    model = model.float().eval()
    encoder = model.encoder
    np.save(directory / "word_embeddings.npy", encoder.get_input_embeddings().weight.detach().numpy())
    np.savez(directory / "heads.npz", **{f"{layer}.{part}": getattr(head, part).detach().numpy()
                                         for layer, head in model.heads.items() for part in ("weight", "bias")})
    plain = directory / "encoder-plain.onnx"
    export_encoder(encoder, plain, model.config.encoder.hidden_size)
    quantize_encoder(plain, directory / "encoder-int8.onnx")  # from the plain graph: the int8 figures were measured on it
    fused = fuse_encoder(plain, directory / "encoder.onnx", model.config.encoder)
    plain.unlink()
    meta = {"layers": list(model.heads.keys()), "export_version": EXPORT_VERSION, "torch": torch.__version__, "fused": fused}
    (directory / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def _encoder_from_embeds(encoder):
    """The encoder as a module whose graph takes ``inputs_embeds`` (the lookup stays outside)."""
    import torch

    class EncoderFromEmbeds(torch.nn.Module):  # defined here: torch is imported only when exporting
        def __init__(self):
            super().__init__()
            self.encoder = encoder

        def forward(self, inputs_embeds, attention_mask):
            return self.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state

    return EncoderFromEmbeds().eval()


def export_encoder(encoder, path: Path, hidden_size: int) -> None:
    import torch

    previous = getattr(encoder.config, "_attn_implementation", None)
    try:
        encoder.config._attn_implementation = "eager"  # the plain graph ORT's fusions recognize
    except AttributeError:
        pass
    embeds = torch.randn(2, 16, hidden_size)
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, 10:] = 0
    axes = {"inputs_embeds": {0: "batch", 1: "positions"}, "attention_mask": {0: "batch", 1: "positions"}, "hidden": {0: "batch", 1: "positions"}}
    try:
        with torch.inference_mode():
            torch.onnx.export(_encoder_from_embeds(encoder), (embeds, mask), str(path), input_names=["inputs_embeds", "attention_mask"],
                              output_names=["hidden"], dynamic_axes=axes, opset_version=17, dynamo=False)
    finally:  # the model stays usable with its own attention after a failed export too
        if previous is not None:
            encoder.config._attn_implementation = previous


def fuse_encoder(plain: Path, fused: Path, encoder_config) -> dict[str, int]:
    """Attention, bias+GELU and residual+LayerNorm subgraphs -> ONNX Runtime's fused CPU kernels.

    ORT's own session-level fusions do not recognize the exported attention,
    so without this every layer runs as a dozen small ops. On 2 AVX2 cores
    this measured no faster (benchmarks §4b: matrix products dominate); the
    output is the same either way. What was fused is recorded in meta.json
    (``fused``)."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(str(plain), model_type="bert", num_heads=encoder_config.num_attention_heads,
                               hidden_size=encoder_config.hidden_size, opt_level=0)
    optimized.save_model_to_file(str(fused))
    return {op: n for op, n in optimized.get_fused_operator_statistics().items() if n}


@contextlib.contextmanager
def quiet_quantizer():
    """ONNX Runtime's quantizer reports every tensor it leaves in float through the root logger
    (73 lines in the quickstart's output, none of them actionable here): errors only while it runs."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_encoder(fp32: Path, int8: Path) -> None:
    """Dynamic int8: weights per output channel, only MatMuls with a constant weight
    (the attention score products between activations stay float)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet_quantizer():
        quantize_dynamic(str(fp32), str(int8), per_channel=True, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                         extra_options={"MatMulConstBOnly": True})


def load_backend(name: str, model_dir: Path, model=None, device: str = "cpu", dtype=None):
    if name.startswith("torch"):
        dtype = backend_dtype(name, dtype)
        if model is None:
            from persian_ie.models.io import load_pretrained

            model, _ = load_pretrained(model_dir, dtype=dtype)
        return TorchBackend(model, device, dtype)
    return OnnxBackend(ensure_export(model_dir, model), int8=name == "onnx-int8")

