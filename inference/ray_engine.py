"""Scale-out prediction on Ray Data: the same output as the local engine, sharded.

**Plan.** The driver cuts every plain JSONL file into byte ranges of
``shard_size`` lines with one pass that only counts newlines (no parsing);
each shard knows its byte range and the number of its first line, so a
worker seeks straight to its range (no shard re-reads the file before it)
and records keep the local engine's keys and line numbers. A file that
cannot be cut by bytes (``.jsonl.gz``, ``.csv``, whose quoted fields may hold
newlines, ``.parquet``) is one shard; ``.txt`` files are grouped
``shard_size`` to a shard. The plan is saved as ``OUT.shards/PLAN.json``
together with the run's identity (inputs with file identity, model weights
hash, options including ``shard_size``).

**Run.** A Ray Dataset of shard descriptors goes through ``map_batches``
with model-holding actors (``ShardPredictor``; one per GPU with
``gpus_per_actor=1``, or CPU actors), which Ray Data restarts without limit
and whose tasks it retries: a killed worker's shard is redone. Each
shard is written to ``OUT.shards/<shard>.jsonl`` and ``<shard>.errors.jsonl``
atomically (temp file + rename), so a redone shard replaces, never adds.
When all shards are done the driver concatenates them, in plan order, into
OUT and its errors file: every record once, in input order. Each shard also
leaves ``<shard>.ids.json`` (a digest of each record's id and its records
without one), from which the driver warns, as the local engine does, about
ids repeated across the whole run and records named after their position.

**Resume.** ``resume=True`` reuses the saved plan only if the run's identity
is unchanged (another input list, a changed file, another model or another
``shard_size`` is refused, naming the difference) and skips shards whose
files exist. The output holds an OS lock for the whole run, as locally.

On a cluster: ``ray start --head`` on one node, ``ray start --address=HEAD:6379``
on the others, then ``persian-ie predict --engine ray --ray-address HEAD:6379 ...``
with the model directory and inputs on storage every node can read (paths
are resolved on the driver).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from persian_ie.errors import LedgerError
from persian_ie.inference.inputs import FieldConfig, InputRecord, input_files, iter_file, resolved
from persian_ie.inference.runner import PredictOptions
from persian_ie.inference.run_state import OutputLock, check_output_paths, check_same_run, model_identity, run_identity

PLAN_VERSION = 1
_BLOCK = 1 << 20


@dataclass
class RayOptions(PredictOptions):
    """Everything ``run_prediction_ray`` needs besides model, inputs and output
    (``chunk_size``, ``progress`` and ``prep_workers`` of ``PredictOptions`` are not used: a shard is
    the unit, and Ray's actors are the parallelism)."""

    shard_size: int = 1000  # lines (or .txt files) per shard
    address: str | None = None  # Ray cluster address; None: the running or a new local instance
    num_actors: int = 1
    gpus_per_actor: float = 0
    device: str | None = None  # default: cuda when gpus_per_actor, else cpu
    precision: str = "bf16"  # on GPU; CPU stays fp32


# ---- the plan --------------------------------------------------------------------
def _line_cuts(path: Path, shard_size: int) -> list[dict]:
    """Byte ranges of ``shard_size`` lines each, from one newline-counting pass."""
    cuts, start, first_line, lines, offset = [], 0, 1, 0, 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            at = 0
            while (nl := block.find(b"\n", at)) >= 0:
                lines += 1
                at = nl + 1
                if lines == shard_size:
                    cuts.append({"start": start, "end": offset + at, "first_line": first_line})
                    start, first_line, lines = offset + at, first_line + shard_size, 0
            offset += len(block)
    if offset > start:
        cuts.append({"start": start, "end": offset, "first_line": first_line})
    return cuts


def _byte_shardable(path: Path) -> bool:
    return path.name.endswith((".jsonl", ".json")) and os.path.isfile(path)  # regular files only (after links)


def _whole_file(path: Path) -> bool:
    return path.name.endswith((".gz", ".csv", ".parquet", ".jsonl", ".json"))


def plan_shards(inputs: list[str], shard_size: int) -> list[dict]:
    """Shards in input order; each is a list of parts ``{"file", "display"}``
    plus, for a byte range, ``start``/``end``/``first_line``."""
    shards: list[list[dict]] = []
    loose: list[dict] = []  # consecutive .txt files, grouped
    for path in input_files(inputs):
        part = {"file": resolved(path), "display": str(path)}
        if not _whole_file(path):  # read as one text document each
            loose.append(part)
            if len(loose) == shard_size:
                shards.append(loose)
                loose = []
            continue
        if loose:
            shards.append(loose)
            loose = []
        if _byte_shardable(path):
            shards.extend([{**part, **cut}] for cut in _line_cuts(path, shard_size))
        else:
            shards.append([part])
    if loose:
        shards.append(loose)
    return [{"shard": f"{n:06d}", "parts": parts} for n, parts in enumerate(shards)]


def read_shard(parts: list[dict], fields: FieldConfig):
    """The records of one shard, read from its byte ranges only."""
    for part in parts:
        ranges = {k: part[k] for k in ("start", "end", "first_line") if k in part}
        yield from iter_file(part["file"], fields, display=part["display"], **ranges)


# ---- the actor ------------------------------------------------------------------
class ShardPredictor:
    """Ray actor: holds one model, predicts whole shards."""

    def __init__(self, model_dir: str, shard_dir: str, fields: dict, include_text: bool, batch_tokens: int | None,
                 device: str, precision: str):
        from persian_ie.inference.runner import resolve_device
        from persian_ie.models.predictor import Predictor

        device, dtype = resolve_device(device, precision)
        self.predictor = Predictor.from_pretrained(model_dir, device=device, dtype=dtype)
        self.shard_dir = Path(shard_dir)
        self.fields = FieldConfig(**{**fields, "meta_fields": tuple(fields["meta_fields"])})
        self.include_text = include_text
        self.batch_tokens = batch_tokens

    def __call__(self, batch: dict) -> dict:
        from persian_ie.inference.runner import RunSummary, _prepare_chunk, process_chunk

        results = {"shard": [], "documents": [], "errors": []}
        for shard, parts in zip(batch["shard"], batch["parts"]):
            read = list(read_shard(json.loads(parts), self.fields))
            records, prepared = _prepare_chunk(self.predictor.prepare, read)
            summary = RunSummary()
            out_lines, err_lines = process_chunk(self.predictor, records, prepared, self.include_text, self.batch_tokens, summary)
            _atomic_write(self.shard_dir / f"{shard}.errors.jsonl", err_lines)
            _atomic_write(self.shard_dir / f"{shard}.ids.json", [json.dumps(shard_ids(read)).encode()])
            _atomic_write(self.shard_dir / f"{shard}.jsonl", out_lines)  # last: its presence marks the shard done
            results["shard"].append(shard)
            results["documents"].append(summary.documents)
            results["errors"].append(summary.errors)
        return results


def shard_ids(records) -> dict:
    """What the driver needs to warn, as the local engine does, about ids across all shards: an
    8-byte digest of each record's id, in order (hex), and the records that had no id."""
    from persian_ie.inference.runner import RunSummary, _IdWatch

    watch = _IdWatch(RunSummary())  # the local engine's count of records without an id
    for record in records:
        watch.see(record)
    named = [r for r in records if isinstance(r, InputRecord)]
    return {"digests": "".join(hashlib.blake2b(r.id.encode("utf-8"), digest_size=8).hexdigest() for r in named),
            "unnamed": watch.summary.unnamed, "first_unnamed": watch.summary.first_unnamed}


def collect_id_counts(shards: list[dict], shard_dir: Path, fields: FieldConfig) -> dict:
    """Records repeating an earlier record's id and records without one, over every shard in plan
    order (a shard without an ids file, done by an earlier version, is counted as unchecked). The
    first repeat is named as the local engine names it, its shard read again to find the record."""
    from persian_ie.inference.runner import _where

    seen: set[int] = set()  # ints, as the local engine keeps its hashes: 8 bytes of digest per id
    found = {"duplicate_ids": 0, "first_duplicate": None, "unnamed": 0, "first_unnamed": None, "shards_unchecked": 0}
    for s in shards:
        path = shard_dir / f"{s['shard']}.ids.json"
        if not path.exists():
            found["shards_unchecked"] += 1
            continue
        ids = json.loads(path.read_text("utf-8"))
        digests = ids["digests"]
        for k in range(0, len(digests), 16):
            digest = int(digests[k:k + 16], 16)
            if digest in seen:
                found["duplicate_ids"] += 1
                if found["first_duplicate"] is None:
                    named = [r for r in read_shard(s["parts"], fields) if isinstance(r, InputRecord)]
                    found["first_duplicate"] = _where(named[k // 16])
            seen.add(digest)
        found["unnamed"] += ids["unnamed"]
        found["first_unnamed"] = found["first_unnamed"] or ids["first_unnamed"]
    return found


def _atomic_write(path: Path, lines: list[bytes]) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # per process: a retried shard never shares a temp file
    with open(tmp, "wb") as fh:
        fh.write(b"".join(lines))
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


# ---- the driver -----------------------------------------------------------------
def _identity(model_dir, inputs, options: RayOptions) -> dict:
    return run_identity(inputs, model_identity(model_dir), options.identity_options() | {"shard_size": options.shard_size, "engine": "ray"})


def _load_or_make_plan(shard_dir: Path, inputs, identity: dict, options: RayOptions) -> list[dict]:
    plan_file = shard_dir / "PLAN.json"
    if options.resume and plan_file.exists():
        try:
            saved = json.loads(plan_file.read_text("utf-8"))
            run, shards = saved["run"], saved["shards"]
        except (ValueError, KeyError, TypeError) as exc:
            raise LedgerError(f"{plan_file}: not a readable shard plan ({exc}); rerun without --resume to start over") from None
        check_same_run(plan_file, run, identity)
        return shards
    for f in shard_dir.glob("*"):
        if f.is_file():
            f.unlink()
    shards = plan_shards(inputs, options.shard_size)
    tmp = plan_file.with_name("PLAN.json.tmp")
    tmp.write_text(json.dumps({"version": PLAN_VERSION, "run": identity, "shards": shards}), "utf-8")
    tmp.replace(plan_file)
    return shards


def _run_shards(todo: list[dict], model_dir, shard_dir: Path, fields: FieldConfig, options: RayOptions) -> None:
    import ray

    if not ray.is_initialized():
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    rows = [{"shard": s["shard"], "parts": json.dumps(s["parts"])} for s in todo]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    done = ds.map_batches(
        ShardPredictor, batch_size=1, concurrency=options.num_actors, num_gpus=options.gpus_per_actor or None,
        # Ray Data's actor pools default to max_restarts=-1 and max_task_retries=-1: a killed
        # worker's actor restarts and its shard is redone (the two-node test kills one)
        fn_constructor_kwargs={
            "model_dir": resolved(model_dir), "shard_dir": resolved(shard_dir), "fields": fields.__dict__,
            "include_text": options.include_text, "batch_tokens": options.batch_tokens,
            "device": options.device or ("cuda" if options.gpus_per_actor else "cpu"), "precision": options.precision},
    )
    done.materialize()


def run_prediction_ray(model_dir: str, inputs: list[str], out: Path, options: RayOptions | None = None) -> dict:
    """Predict ``inputs`` into ``out`` on Ray (see the module doc); a summary dict."""
    options = options or RayOptions()
    fields = options.fields or FieldConfig()
    out = Path(out)
    errors = options.errors_path(out)
    shard_dir = out.with_name(out.name + ".shards")
    check_output_paths(inputs, {"--out": out, "--errors": errors, "the lock": out.with_name(out.name + ".lock")})
    shard_dir.mkdir(parents=True, exist_ok=True)
    with OutputLock(out):
        shards = _load_or_make_plan(shard_dir, inputs, _identity(model_dir, inputs, options), options)
        todo = [s for s in shards if not (shard_dir / f"{s['shard']}.jsonl").exists()]
        if todo:
            _run_shards(todo, model_dir, shard_dir, fields, options)
        _concatenate(shards, shard_dir, out, errors)
        warnings = collect_id_counts(shards, shard_dir, fields)
    docs = _count_lines(out)
    errs = _count_lines(errors)
    return {"shards": len(shards), "shards_run": len(todo), "documents": docs, "errors": errs, **warnings}


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(_BLOCK), b""))


def _concatenate(shards, shard_dir: Path, out: Path, errors: Path) -> None:
    for target, suffix in ((out, ".jsonl"), (errors, ".errors.jsonl")):
        tmp = target.with_name(target.name + ".tmp")
        with open(tmp, "wb") as fh:
            for s in shards:
                with open(shard_dir / f"{s['shard']}{suffix}", "rb") as part:
                    for block in iter(lambda: part.read(_BLOCK), b""):
                        fh.write(block)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(target)
    (shard_dir / "COMPLETE").write_text(json.dumps({"shards": len(shards)}))


__all__ = ["RayOptions", "run_prediction_ray", "plan_shards", "read_shard", "ShardPredictor", "shard_ids", "collect_id_counts"]
