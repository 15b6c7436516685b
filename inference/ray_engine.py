"""Scale-out prediction on Ray Data: the same output, sharded.

The driver plans shards: ``(input file, first record, last record)`` ranges
of ``shard_size`` records. A Ray Dataset of shard descriptors goes through
``map_batches`` with model-holding actors (``ShardPredictor``: one per GPU
with ``num_gpus=1``, or CPU actors); each actor reads its shard, predicts
and writes ``OUT.shards/<shard>.jsonl`` and ``<shard>.errors.jsonl``
atomically (temp file + rename). When all shards are done the driver
concatenates them, in shard order, into OUT and its errors file.

Resume works at shard level: with ``resume=True`` shards whose files exist
are skipped; a shard interrupted mid-way is redone whole (its temp file is
never renamed), so no record is lost or written twice.

On a cluster: ``ray start --head`` on one node, ``ray start --address=HEAD:6379``
on the others, then ``persian-ie predict --engine ray --ray-address HEAD:6379 ...``
with the model directory and inputs on storage every node can read.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from persian_ie.inference.inputs import FieldConfig, iter_inputs


def plan_shards(inputs: list[str], shard_size: int, fields: FieldConfig) -> list[dict]:
    shards = []
    for path in inputs:
        files = sorted(Path(path).glob("*.txt")) if Path(path).is_dir() else [Path(path)]
        for file in files:
            n = sum(1 for _ in iter_inputs([str(file)], fields))
            for first in range(0, n, shard_size):
                shards.append({"shard": f"{len(shards):06d}", "file": str(file), "first": first, "last": min(n, first + shard_size)})
    return shards


class ShardPredictor:
    """Ray actor: holds one model, predicts whole shards."""

    def __init__(self, model_dir: str, shard_dir: str, fields: dict, include_text: bool, batch_tokens: int, device: str):
        from persian_ie.models.predictor import Predictor

        self.predictor = Predictor.from_pretrained(model_dir, device=device)
        self.shard_dir = Path(shard_dir)
        self.fields = FieldConfig(**fields)
        self.include_text = include_text
        self.batch_tokens = batch_tokens

    def __call__(self, batch: dict) -> dict:
        from persian_ie.inference.runner import RunSummary, process_chunk
        from persian_ie.data.document import Document
        from persian_ie.inference.inputs import InputRecord

        results = {"shard": [], "documents": [], "errors": []}
        for shard, file, first, last in zip(batch["shard"], batch["file"], batch["first"], batch["last"]):
            records = list(itertools.islice(iter_inputs([file], self.fields), int(first), int(last)))
            good = [r for r in records if isinstance(r, InputRecord)]
            prepared = [self.predictor.prepare(Document(r.id, r.text, meta=r.meta)) for r in good]
            summary = RunSummary()
            out_lines, err_lines = process_chunk(self.predictor, records, prepared, self.include_text, self.batch_tokens, summary)
            _atomic_write(self.shard_dir / f"{shard}.errors.jsonl", err_lines)
            _atomic_write(self.shard_dir / f"{shard}.jsonl", out_lines)  # last: its presence marks the shard done
            results["shard"].append(shard)
            results["documents"].append(summary.documents)
            results["errors"].append(summary.errors)
        return results


def _atomic_write(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(lines)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def run_prediction_ray(model_dir: str, inputs: list[str], out: Path, errors: Path | None = None, resume: bool = False,
                       fields: FieldConfig | None = None, include_text: bool = True, shard_size: int = 1000,
                       batch_tokens: int = 8192, address: str | None = None, num_actors: int = 1, gpus_per_actor: float = 0) -> dict:
    import ray

    fields = fields or FieldConfig()
    out = Path(out)
    errors = Path(errors) if errors else out.with_name(out.name + ".errors.jsonl")
    shard_dir = out.with_name(out.name + ".shards")
    shard_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        for f in shard_dir.glob("*"):
            f.unlink()
    shards = plan_shards(inputs, shard_size, fields)
    todo = [s for s in shards if not (shard_dir / f"{s['shard']}.jsonl").exists()]
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    if todo:
        device = "cuda" if gpus_per_actor else "cpu"
        ds = ray.data.from_items(todo, override_num_blocks=len(todo))
        done = ds.map_batches(
            ShardPredictor, batch_size=1, concurrency=num_actors, num_gpus=gpus_per_actor or None,
            fn_constructor_kwargs={"model_dir": str(Path(model_dir).resolve()), "shard_dir": str(shard_dir.resolve()), "fields": fields.__dict__,
                                   "include_text": include_text, "batch_tokens": batch_tokens, "device": device},
        )
        done.materialize()
    _concatenate(shards, shard_dir, out, errors)
    docs = sum(1 for _ in open(out, encoding="utf-8"))
    errs = sum(1 for _ in open(errors, encoding="utf-8"))
    return {"shards": len(shards), "shards_run": len(todo), "documents": docs, "errors": errs}


def _concatenate(shards, shard_dir: Path, out: Path, errors: Path) -> None:
    for target, suffix in ((out, ".jsonl"), (errors, ".errors.jsonl")):
        tmp = target.with_name(target.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for s in shards:
                fh.write((shard_dir / f"{s['shard']}{suffix}").read_text("utf-8"))
        tmp.replace(target)
    (shard_dir / "COMPLETE").write_text(json.dumps({"shards": len(shards)}))
