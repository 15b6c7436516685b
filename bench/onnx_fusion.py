"""Plain vs fused ONNX encoder: the same export timed side by side.

    python -m bench.onnx_fusion --model runs/quickstart/model [--batch 16 --length 256 --repeats 3]

Exports the model's encoder to a plain ONNX graph (as ``persian_ie.models.backends``
does), fuses it with ``onnxruntime.transformers.optimizer`` (what the export
ships), checks the two agree, and times them in alternating runs on the same
random input. Prints what it measured; nothing is cached.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    from persian_ie.models.backends import available_cores, cpu_session, export_encoder, fuse_encoder
    from persian_ie.models.io import load_pretrained

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    model, _ = load_pretrained(args.model)
    config = model.config.encoder
    with tempfile.TemporaryDirectory() as tmp:
        plain, fused = Path(tmp) / "plain.onnx", Path(tmp) / "fused.onnx"
        export_encoder(model.encoder, plain, config.hidden_size)
        print("fused ops:", fuse_encoder(plain, fused, config))
        threads = available_cores()
        sessions = {"plain": cpu_session(plain, threads), "fused": cpu_session(fused, threads)}
        rng = np.random.default_rng(0)
        feed = {"inputs_embeds": rng.standard_normal((args.batch, args.length, config.hidden_size)).astype(np.float32),
                "attention_mask": np.ones((args.batch, args.length), np.int64)}
        feed["attention_mask"][args.batch // 2, args.length // 3:] = 0
        outputs = {name: s.run(None, feed)[0] for name, s in sessions.items()}  # also the warm-up
        real = feed["attention_mask"].astype(bool)
        print(f"max abs difference fused vs plain: {np.abs(outputs['plain'] - outputs['fused'])[real].max():.2e}")
        times = {name: [] for name in sessions}
        for _ in range(args.repeats):
            for name, s in sessions.items():
                start = time.perf_counter()
                s.run(None, feed)
                times[name].append(time.perf_counter() - start)
        for name, runs in times.items():
            print(f"{name}: " + " ".join(f"{t:.2f}" for t in runs) + f" s (median {np.median(runs):.2f})")
        print(f"fused is {np.median(times['plain']) / np.median(times['fused']):.2f}x the plain graph's speed "
              f"({args.batch} x {args.length}, {threads} threads)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
