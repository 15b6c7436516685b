"""Batch prediction over archives: incremental, atomic, resumable, loss-free.

Records are read in a fixed order and processed in chunks. After each chunk
the output lines and the error lines are appended and flushed to disk, and
only then a line is appended to the ledger ``OUT.ledger`` holding the chunk's
record keys (``resolved file#position``) and the byte sizes of the output
and error files. The ledger starts with the run's identity (inputs with
their file identity, model weights hash, options; see ``run_state``).

``--resume`` checks that identity (a different input list, a changed input
file, another model or other options are refused, naming the difference),
checks that the output and errors files are at least as long as committed
(a truncated or deleted output is refused, never padded), truncates both
back to the last committed sizes (dropping a half-written chunk) and skips
exactly the committed keys. So after any crash or ``kill -9`` the final
output holds each input document once, whatever the ids look like. The
whole run holds an OS lock on ``OUT.lock``; a second run is refused.

Preprocessing (normalization, tokenization, windowing) runs off the critical
path while the model works on earlier chunks: in a background thread
(``prep_workers=0``, the default), or in ``prep_workers`` processes, which
take the tokenization off the main process's GIL (it then only unpickles the
prepared chunks; measured in docs/benchmarks.md §4c). Chunks are committed
in input order either way, so the output and resume are the same. Workers
run ``predictor.preparer``: a subclass that overrides ``prepare`` runs its
override only with the thread.
"""

from __future__ import annotations

import collections
import contextlib
import json
import multiprocessing
import os
import queue
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from persian_ie.data.document import Document, dumps_document
from persian_ie.errors import LedgerError, OutputWriteError, WorkerDiedError
from persian_ie.inference.inputs import BadRecord, FieldConfig, InputRecord, count_records, iter_inputs, printable
from persian_ie.inference.run_state import Ledger, OutputLock, check_output_paths, check_same_run, model_identity, run_identity


@dataclass
class RunSummary:
    documents: int = 0
    errors: int = 0
    skipped_done: int = 0
    tokens: int = 0
    seconds: float = 0.0
    error_reasons: dict = field(default_factory=dict)
    duplicate_ids: int = 0  # records whose id an earlier record had (all are kept, keyed by file and line)
    first_duplicate: str | None = None
    unnamed: int = 0  # records without an id in the id field, named after file and position
    first_unnamed: str | None = None

    def line(self) -> str:
        rate = self.documents / self.seconds if self.seconds else 0.0
        tok_rate = self.tokens / self.seconds if self.seconds else 0.0
        text = (f"{self.documents} documents written, {self.errors} bad records (see errors file), "
                f"{self.skipped_done} already done; {self.seconds:.1f}s, {rate:.1f} docs/s, {tok_rate:,.0f} tokens/s")
        return "\n".join([text, *id_warnings(self.duplicate_ids, self.first_duplicate, self.unnamed, self.first_unnamed)])

    def add_error(self, reason: str) -> None:
        self.errors += 1
        kind = reason.split(":")[0].split(" (")[0]
        self.error_reasons[kind] = self.error_reasons.get(kind, 0) + 1


def id_warnings(duplicate_ids: int, first_duplicate, unnamed: int, first_unnamed) -> list[str]:
    """The warnings both engines print about ids (none when all is well)."""
    lines = []
    if duplicate_ids:
        lines.append(f"warning: {duplicate_ids} records repeat an earlier record's id (first: {first_duplicate}); "
                     f"all were predicted, each output line names its input file and record")
    if unnamed:
        lines.append(f"warning: {unnamed} records had no id in their id field (--id-field, default 'id') and were named "
                     f"after their file and position (first: {first_unnamed}); check --id-field if they have ids")
    return lines


class _IdWatch:
    """Counts records that repeat an earlier id (hashes only, to bound memory) and records without an id."""

    def __init__(self, summary: RunSummary):
        self.seen: set[int] = set()
        self.summary = summary

    def see(self, rec) -> None:
        if not isinstance(rec, InputRecord):
            return
        if not rec.id_given:
            self.summary.unnamed += 1
            self.summary.first_unnamed = self.summary.first_unnamed or _where(rec)
        h = hash(rec.id)
        if h in self.seen:
            self.summary.duplicate_ids += 1
            self.summary.first_duplicate = self.summary.first_duplicate or _where(rec)
        self.seen.add(h)


def _where(rec: InputRecord) -> str:
    return f"{rec.id!r} at {rec.source}:{rec.position}"


def _append(fh, lines: list[bytes]) -> int:
    try:
        data = b"".join(lines)
        written = 0
        while written < len(data):  # an unbuffered write may be partial
            written += fh.write(data[written:])
        fh.flush()
        os.fsync(fh.fileno())
    except OSError as exc:
        raise OutputWriteError(f"cannot write {fh.name}: {exc.strerror or exc}; everything up to the last committed chunk "
                               f"is kept: free space and rerun with --resume") from None
    return fh.tell()


def _chunks(records, size: int, done: set[str], summary: RunSummary):
    chunk, ids = [], _IdWatch(summary)
    for rec in records:
        ids.see(rec)
        if rec.key in done:
            summary.skipped_done += 1
            continue
        chunk.append(rec)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _prepare_chunk(prepare, chunk) -> tuple[list, list]:
    """Preprocess a chunk with ``prepare`` (Document -> Prepared); a record that fails becomes a ``BadRecord``."""
    records, prepared = [], []
    for rec in chunk:
        if isinstance(rec, InputRecord):
            try:
                prepared.append(prepare(Document(rec.id, rec.text, meta=rec.meta)))
            except (ValueError, TypeError, IndexError, RecursionError, UnicodeError) as exc:
                rec = BadRecord(rec.source, rec.position, f"preprocessing failed: {type(exc).__name__}: {str(exc)[:120]}", rec.file_key)
        records.append(rec)
    return records, prepared


def _prefetch(iterator, prepare, depth: int = 2):
    """Run reading + preprocessing of the next chunks in a background thread."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    sentinel = object()

    def work():
        try:
            for chunk in iterator:
                q.put(_prepare_chunk(prepare, chunk))
        except BaseException as exc:  # surfaced in the consumer
            q.put(exc)
        q.put(sentinel)

    threading.Thread(target=work, daemon=True).start()
    while True:
        item = q.get()
        if item is sentinel:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


_WORKER_PREPARE = None  # the Preparer of a preprocessing worker process


def _start_worker(preparer) -> None:
    global _WORKER_PREPARE
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # parallel across processes, not inside each
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the run in the main process, once
    parent = multiprocessing.parent_process()
    if parent is not None:  # a killed main process (kill -9, out of memory) must not leave workers behind
        threading.Thread(target=lambda: (parent.join(), os._exit(1)), daemon=True).start()
    _WORKER_PREPARE = preparer


def _prepare_in_worker(chunk) -> tuple[list, list]:
    return _prepare_chunk(_WORKER_PREPARE, chunk)


def _prefetch_processes(iterator, preparer, workers: int, depth: int = 2):
    """Preprocess chunks in ``workers`` processes, up to ``workers + depth`` chunks ahead; yield them in input order."""
    # spawn, not fork: a forked child of a process running ONNX Runtime or torch threads can hang
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker, initargs=(preparer,))
    pending: collections.deque = collections.deque()
    chunks = iter(iterator)
    try:
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except Exception:
                while pending:  # as with the thread: chunks read before a failing input are still committed
                    yield pending.popleft().result()
                raise
            pending.append(pool.submit(_prepare_in_worker, chunk))
            if len(pending) >= workers + depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool as exc:  # from submit or result, whichever sees the dead worker first
        raise _worker_died() from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _worker_died() -> WorkerDiedError:
    # The pool cannot say which document its dead worker was on, only that the run cannot go on.
    return WorkerDiedError(
        "a preprocessing worker process died abruptly (killed by a signal or by the system, e.g. out of memory); "
        "every document before the chunk it was preparing is committed. Rerun with --resume to continue, "
        "with fewer --prep-workers, or with --prep-workers 0 to prepare in the main process")


def _committed_size(path: Path, committed: int, ledger: Ledger) -> None:
    """Refuse to resume onto an output shorter than the ledger committed
    (truncating it up would pad NULs and lose those documents)."""
    size = path.stat().st_size if path.exists() else None
    if size is None or size < committed:
        found = "is missing" if size is None else f"has {size:,} bytes"
        raise LedgerError(f"{path} {found} but {ledger.path} committed {committed:,} bytes: the file was truncated, "
                          f"deleted or replaced after the run. Nothing was changed; rerun without --resume to start over")
    if committed:
        with open(path, "rb") as fh:
            fh.seek(committed - 1)
            if fh.read(1) != b"\n":
                raise LedgerError(f"{path}: the committed part does not end with a newline at byte {committed:,}; "
                                  f"the file was changed after the run. Rerun without --resume to start over")


def _open_run(inputs, out: Path, errors: Path, ledger: Ledger, resume: bool, identity: dict) -> tuple[set[str], int, int]:
    """Start a fresh ledger, or check the one being resumed; the committed keys and sizes."""
    if resume and ledger.path.exists():
        saved, done, out_bytes, err_bytes = ledger.read()
        check_same_run(ledger.path, saved, identity)
        _committed_size(out, out_bytes, ledger)
        _committed_size(errors, err_bytes, ledger)
        return done, out_bytes, err_bytes
    if resume and out.exists() and out.stat().st_size:
        raise LedgerError(f"--resume: {ledger.path} is missing, so {out} was not written by a resumable run "
                          f"(or its ledger was deleted); nothing was changed. Rerun without --resume to start over")
    for path in (out, errors):
        path.unlink(missing_ok=True)
    ledger.start(identity)
    return set(), 0, 0


def resolve_device(device: str | None, precision: str = "bf16"):
    """``(device, torch dtype or None)``: CUDA when present unless ``device``
    says otherwise; ``precision`` applies on GPU only (CPU stays fp32)."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision] if device != "cpu" else None
    return device, dtype


@dataclass
class PredictOptions:
    """How a batch run reads, writes and resumes (the Ray engine's ``RayOptions`` extends it)."""

    errors: str | Path | None = None  # default: OUT.errors.jsonl
    resume: bool = False
    fields: FieldConfig | None = None
    include_text: bool = True
    chunk_size: int = 256  # records per committed chunk
    batch_tokens: int | None = None  # None: the predictor's default for its device
    progress: bool = True
    prep_workers: int = 0  # preprocessing processes; 0: a background thread

    def errors_path(self, out: Path) -> Path:
        return Path(self.errors) if self.errors else out.with_name(out.name + ".errors.jsonl")

    def identity_options(self) -> dict:
        """The options that change the output, as saved with the run."""
        fields = self.fields or FieldConfig()
        return {"fields": fields.__dict__ | {"meta_fields": list(fields.meta_fields)}, "include_text": self.include_text}


def run_prediction(predictor, inputs: list[str], out: Path, errors: Path | None = None, *, resume: bool = False,
                   fields: FieldConfig | None = None, include_text: bool = True, chunk_size: int = 256,
                   batch_tokens: int | None = None, progress: bool = True, model_dir=None, prep_workers: int = 0) -> RunSummary:
    """Predict every record of ``inputs`` into ``out`` (see the module doc).
    The options are keyword-only (a call reads as its settings, as ``RayOptions`` does for Ray).
    ``model_dir`` names the model for the ledger (default: the predictor's name, if a directory)."""
    options = PredictOptions(errors, resume, fields or FieldConfig(), include_text, chunk_size, batch_tokens, progress, prep_workers)
    out = Path(out)
    errors = options.errors_path(out)
    ledger = Ledger(out)
    check_output_paths(inputs, {"--out": out, "--errors": errors, "the ledger": ledger.path, "the lock": out.with_name(out.name + ".lock")})
    out.parent.mkdir(parents=True, exist_ok=True)
    name = getattr(predictor, "model_name", None)
    identity = run_identity(inputs, model_identity(model_dir or name, name), options.identity_options())
    with OutputLock(out):
        done, out_bytes, err_bytes = _open_run(inputs, out, errors, ledger, resume, identity)
        return _run(predictor, inputs, (out, errors), ledger, (done, out_bytes, err_bytes), options)


def _run(predictor, inputs, paths, ledger, committed, options: PredictOptions) -> RunSummary:
    from tqdm.auto import tqdm

    (out, errors), (done, *sizes) = paths, committed
    summary = RunSummary()
    started = time.time()
    total = count_records(inputs) if options.progress else None
    bar = tqdm(desc="predict", unit="doc", total=total, initial=len(done) if total else 0, disable=not options.progress)
    # unbuffered: a failed write (disk full) fails in _append, not again when the file closes
    with open(out, "r+b" if out.exists() else "w+b", buffering=0) as out_fh, \
            open(errors, "r+b" if errors.exists() else "w+b", buffering=0) as err_fh:
        for fh, size in zip((out_fh, err_fh), sizes):  # sizes were checked: this only drops an uncommitted tail
            fh.truncate(size)
            fh.seek(size)
        records = iter_inputs(inputs, options.fields)
        chunks = _chunks(records, options.chunk_size, done, summary)
        workers = options.prep_workers
        prefetched = _prefetch_processes(chunks, predictor.preparer, workers) if workers > 0 else _prefetch(chunks, predictor.prepare)
        with contextlib.closing(prefetched):  # a failed chunk stops the workers now, not when the traceback is freed
            for chunk, prepared in prefetched:
                out_lines, err_lines = process_chunk(predictor, chunk, prepared, options.include_text, options.batch_tokens, summary)
                out_pos, err_pos = _append(out_fh, out_lines), _append(err_fh, err_lines)
                ledger.commit([r.key for r in chunk], out_pos, err_pos)
                summary.seconds = time.time() - started
                bar.update(len(chunk))
                bar.set_postfix(docs_s=f"{summary.documents / summary.seconds:.1f}", tokens_s=f"{summary.tokens / summary.seconds:,.0f}")
    bar.close()
    summary.seconds = time.time() - started
    return summary


def error_line(rec: BadRecord) -> bytes:
    return (json.dumps({"file": printable(rec.source), "line": rec.position, "reason": printable(rec.reason)}, ensure_ascii=False) + "\n").encode("utf-8")


def _output_line(predictor, rec: InputRecord, prep, window_probs, include_text: bool) -> bytes | BadRecord:
    """One document's output line, or why it cannot be written (never invalid JSON)."""
    try:
        doc = predictor.postprocess(prep, window_probs)
        doc.extra["input"] = {"file": printable(rec.source), "record": rec.position}
        return (dumps_document(doc, include_text, allow_nan=False) + "\n").encode("utf-8")
    except (ValueError, TypeError, IndexError, RecursionError, UnicodeError) as exc:
        return BadRecord(rec.source, rec.position, f"output cannot be built: {type(exc).__name__}: {str(exc)[:120]}", rec.file_key)


# A model whose refiner (or span-vector relation head) reads word vectors gets them with the
# forward: 1.5 KB a word in float32, 160 MB for a chunk of 200 news articles. So such a chunk
# goes through forward and postprocess this many documents at a time, and only one group's
# vectors are held (docs/benchmarks.md §4b: peak memory and time, same spans).
STATES_GROUP = 32


def process_chunk(predictor, chunk, prepared, include_text, batch_tokens, summary) -> tuple[list[bytes], list[bytes]]:
    """Predict the good records of a chunk; output and error lines in input order."""
    good = [r for r in chunk if isinstance(r, InputRecord)]
    by_key = {}
    group = STATES_GROUP if predictor.needs_states else max(len(good), 1)
    for start in range(0, len(good), group):
        part = prepared[start:start + group]
        for rec, prep, wp in zip(good[start:start + group], part, predictor.forward(part, batch_tokens)):
            by_key[rec.key] = _output_line(predictor, rec, prep, wp, include_text)
            summary.tokens += sum(len(ids) for ids, _ in prep.inputs)
    out_lines, err_lines = [], []
    for rec in chunk:  # input order, so the output is deterministic
        line = by_key.get(rec.key, rec)
        if isinstance(line, BadRecord):
            err_lines.append(error_line(line))
            summary.add_error(line.reason)
        else:
            out_lines.append(line)
            summary.documents += 1
    return out_lines, err_lines
