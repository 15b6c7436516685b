"""What one training step of the encoder costs under each way of making it cheaper, side by side.

A forward and backward pass of one batch (``--batch`` windows of ``--length``
tokens, random ids) through the base encoder, timed for:

* ``full``: every layer trained, float32 (what the quickstart does: like it,
  every variant keeps the 250k-row embedding matrix fixed);
* ``upper-K``: the lower layers' output given (as ``model.freeze_layers``
  does from its cache), only the upper K layers run and trained;
* ``keep-N``: only the lower N layers kept (``model.encoder_layers``);
* ``bf16-autocast``: every layer, matrix products in bf16 (CPU autocast);
* ``compiled``: every layer, float32, through ``torch.compile`` (dynamic shapes,
  as ``optim.compile`` compiles the encoder); its compilation falls in the warm-up.

``--embeddings`` times the word-embedding choices instead, each step with its
AdamW update (where they differ): ``frozen`` (the quickstart), ``trained``
(``model.freeze_embeddings: false``: the whole 250k-row matrix) and
``seen-rows`` (``unseen``: offsets for the rows the quickstart's training
windows use, read from ``--rows-from`` or drawn from the batch's own ids).

Variants run in turn, ``--repeats`` rounds, so machine load falls on all of
them alike; the table gives each one's median and its ratio to ``full``.
Timings are for choosing; the quality of each choice is a training run's.

    python -m persian_ie.bench.train_step_cost --upper 4 6 --keep 8 --bf16
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import torch

from persian_ie.models.base import load_encoder_and_tokenizer
from persian_ie.models.backends import cpu_has_bf16
from persian_ie.models.encoder_split import keep_lower_layers, lower_states, transformer_blocks, upper_states


def _step(run) -> float:
    start = time.perf_counter()
    hidden = run()
    hidden.float().pow(2).mean().backward()
    return time.perf_counter() - start


def variants(encoder, ids, mask, upper: list[int], keep: list[int], bf16: bool, compiled: bool = False) -> tuple[dict, list]:
    """Name -> step function, and every encoder whose gradients a round must clear."""
    total = len(transformer_blocks(encoder))
    encoders = [encoder]
    out = {"full": lambda: encoder(input_ids=ids, attention_mask=mask).last_hidden_state}
    for k in upper:
        with torch.no_grad():
            given = lower_states(encoder, ids, mask, total - k)
        out[f"upper-{k}"] = lambda given=given, k=k: upper_states(encoder, given, mask, total - k)
    for n in keep:
        short = copy.deepcopy(encoder)
        keep_lower_layers(short, n)
        encoders.append(short)
        out[f"keep-{n}"] = lambda short=short: short(input_ids=ids, attention_mask=mask).last_hidden_state
    if bf16:
        def autocast():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        out["bf16-autocast"] = autocast
    if compiled:
        twin = copy.deepcopy(encoder)
        twin.compile(dynamic=True)
        encoders.append(twin)
        out["compiled"] = lambda: twin(input_ids=ids, attention_mask=mask).last_hidden_state
    return out, encoders


def embedding_variants(encoder, ids, mask, rows: torch.Tensor) -> dict:
    """Name -> step function (forward, backward, AdamW step, zero_grad) for each word-embedding choice."""
    from persian_ie.models.encoder_split import train_seen_rows

    def stepper(model):
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)

        def run():
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            hidden.pow(2).mean().backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return hidden.detach().requires_grad_()  # _step's own backward then costs nothing
        return run

    frozen = copy.deepcopy(encoder)
    frozen.get_input_embeddings().requires_grad_(False)
    trained = copy.deepcopy(encoder)
    trained.get_input_embeddings().requires_grad_(True)
    seen = copy.deepcopy(encoder)
    train_seen_rows(seen, rows)
    return {"frozen": stepper(frozen), "trained": stepper(trained), "seen-rows": stepper(seen)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default="offline:multilingual-e5-small")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--length", type=int, default=256)
    p.add_argument("--upper", type=int, nargs="*", default=[4, 6], help="upper-K variants")
    p.add_argument("--keep", type=int, nargs="*", default=[8], help="keep-N variants")
    p.add_argument("--bf16", action="store_true", help="add bf16 autocast")
    p.add_argument("--compile", action="store_true", help="add torch.compile (optim.compile)")
    p.add_argument("--embeddings", action="store_true", help="time frozen, trained and seen-rows embeddings (with AdamW) instead of --upper/--keep/--bf16/--compile")
    p.add_argument("--rows-from", help="a run's window cache (runs/X/cache/windows-*): its piece ids are the seen rows")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", help="JSON with every timing")
    args = p.parse_args(argv)

    torch.manual_seed(0)
    encoder, tokenizer = load_encoder_and_tokenizer(args.base)
    encoder.train()
    encoder.get_input_embeddings().requires_grad_(False)  # configs/quickstart.yaml: freeze_embeddings
    ids = torch.randint(5, tokenizer.vocab_size, (args.batch, args.length))
    mask = torch.ones_like(ids)
    if args.embeddings:
        rows = _rows(args.rows_from, ids)
        ids = rows[torch.randint(len(rows), ids.shape)]  # a batch reads only rows the training data has
        runs, encoders = embedding_variants(encoder, ids, mask, rows), []
        print(f"seen rows: {len(rows)} of {encoder.get_input_embeddings().num_embeddings}")
    else:
        runs, encoders = variants(encoder, ids, mask, args.upper, args.keep, args.bf16, args.compile)
    for run in runs.values():  # warm-up: first calls pay for allocation and kernel choice
        _step(run)
    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            for each in encoders:
                each.zero_grad(set_to_none=True)
            times[name].append(_step(run))
    base = statistics.median(times["frozen" if args.embeddings else "full"])
    print(f"{args.batch} x {args.length} tokens, {args.repeats} rounds, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, bf16 hardware: {cpu_has_bf16()}")
    print(f"| variant | median s | ratio to {'frozen' if args.embeddings else 'full'} |\n|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} | {statistics.median(ts) / base:.2f} |")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "times": times}, f, indent=1)


def _rows(cache: str | None, ids: torch.Tensor) -> torch.Tensor:
    if cache is None:
        return torch.unique(ids)
    from datasets import load_from_disk

    from persian_ie.training.train import seen_piece_ids

    return seen_piece_ids(load_from_disk(cache))


if __name__ == "__main__":
    main()
