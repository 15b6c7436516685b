"""Batch prediction over archives: incremental, atomic, resumable, loss-free.

Records are read in a fixed order and processed in chunks. After each chunk
the output lines and the error lines are appended and flushed to disk, and
only then a line is appended to the ledger ``OUT.ledger`` holding the chunk's
record keys (``file#position``) and the byte sizes of the output and error
files. ``--resume`` reads the ledger, truncates both files back to the last
committed sizes (dropping a half-written chunk), and skips exactly the
committed keys. So after any crash or ``kill -9`` the final output holds each
input document once, whatever the ids look like.

Preprocessing (reading, normalization, tokenization, windowing) runs in a
background thread while the model works on the previous chunk.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from persian_ie.data.document import Document, dumps_document
from persian_ie.inference.inputs import BadRecord, FieldConfig, InputRecord, count_records, iter_inputs


@dataclass
class RunSummary:
    documents: int = 0
    errors: int = 0
    skipped_done: int = 0
    tokens: int = 0
    seconds: float = 0.0
    error_reasons: dict = field(default_factory=dict)

    def line(self) -> str:
        rate = self.documents / self.seconds if self.seconds else 0.0
        tok_rate = self.tokens / self.seconds if self.seconds else 0.0
        return (f"{self.documents} documents written, {self.errors} bad records (see errors file), "
                f"{self.skipped_done} already done; {self.seconds:.1f}s, {rate:.1f} docs/s, {tok_rate:,.0f} tokens/s")


class Ledger:
    def __init__(self, out: Path):
        self.path = out.with_name(out.name + ".ledger")

    def read(self) -> tuple[set[str], int, int]:
        done, out_bytes, err_bytes = set(), 0, 0
        if not self.path.exists():
            return done, out_bytes, err_bytes
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    break  # a torn last line: that chunk was not committed
                done.update(entry["keys"])
                out_bytes, err_bytes = entry["out_bytes"], entry["err_bytes"]
        return done, out_bytes, err_bytes

    def commit(self, keys: list[str], out_bytes: int, err_bytes: int) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"keys": keys, "out_bytes": out_bytes, "err_bytes": err_bytes}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _append(fh, lines: list[str]) -> int:
    if lines:
        fh.write("".join(lines).encode("utf-8"))
    fh.flush()
    os.fsync(fh.fileno())
    return fh.tell()


def _chunks(records, size: int, done: set[str], summary: RunSummary):
    chunk = []
    for rec in records:
        if rec.key in done:
            summary.skipped_done += 1
            continue
        chunk.append(rec)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _prefetch(iterator, predictor, depth: int = 2):
    """Run reading + preprocessing of the next chunks in a background thread."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    sentinel = object()

    def work():
        try:
            for chunk in iterator:
                good = [r for r in chunk if isinstance(r, InputRecord)]
                prepared = [predictor.prepare(Document(r.id, r.text, meta=r.meta)) for r in good]
                q.put((chunk, prepared))
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


def run_prediction(predictor, inputs: list[str], out: Path, errors: Path | None = None, resume: bool = False,
                   fields: FieldConfig | None = None, include_text: bool = True, chunk_size: int = 256,
                   batch_tokens: int = 8192, progress: bool = True) -> RunSummary:
    from tqdm.auto import tqdm

    out = Path(out)
    errors = Path(errors) if errors else out.with_name(out.name + ".errors.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(out)
    if not resume:
        for path in (out, errors, ledger.path):
            path.unlink(missing_ok=True)
    done, out_bytes, err_bytes = ledger.read()
    summary = RunSummary()
    started = time.time()
    total = count_records(inputs) if progress else None
    bar = tqdm(desc="predict", unit="doc", total=total, initial=len(done) if total else 0, disable=not progress)
    with open(out, "ab+") as out_fh, open(errors, "ab+") as err_fh:
        out_fh.truncate(out_bytes)
        err_fh.truncate(err_bytes)
        out_fh.seek(out_bytes)
        err_fh.seek(err_bytes)
        records = iter_inputs(inputs, fields)
        for chunk, prepared in _prefetch(_chunks(records, chunk_size, done, summary), predictor):
            out_lines, err_lines = process_chunk(predictor, chunk, prepared, include_text, batch_tokens, summary)
            out_pos, err_pos = _append(out_fh, out_lines), _append(err_fh, err_lines)
            ledger.commit([r.key for r in chunk], out_pos, err_pos)
            summary.seconds = time.time() - started
            bar.update(len(chunk))
            bar.set_postfix(docs_s=f"{summary.documents / summary.seconds:.1f}", tokens_s=f"{summary.tokens / summary.seconds:,.0f}")
    bar.close()
    summary.seconds = time.time() - started
    return summary


def process_chunk(predictor, chunk, prepared, include_text, batch_tokens, summary):
    good = [r for r in chunk if isinstance(r, InputRecord)]
    probs = predictor.forward(prepared, batch_tokens)
    by_key = {}
    for rec, prep, wp in zip(good, prepared, probs):
        doc = predictor.postprocess(prep, wp)
        doc.extra["input"] = {"file": rec.source, "record": rec.position}
        by_key[rec.key] = dumps_document(doc, include_text) + "\n"
        summary.tokens += sum(len(ids) for ids, _ in prep.inputs)
    out_lines, err_lines = [], []
    for rec in chunk:  # input order, so the output is deterministic
        if isinstance(rec, BadRecord):
            err_lines.append(json.dumps({"file": rec.source, "line": rec.position, "reason": rec.reason}, ensure_ascii=False) + "\n")
            summary.errors += 1
            summary.error_reasons[rec.reason.split(":")[0]] = summary.error_reasons.get(rec.reason.split(":")[0], 0) + 1
        else:
            out_lines.append(by_key[rec.key])
            summary.documents += 1
    return out_lines, err_lines
