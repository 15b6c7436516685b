"""Batch prediction: input formats, original offsets, linking, batch-size
invariance, kill-and-resume, bad input, the Python API and the Ray engine."""

import csv
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from persian_ie.cli import main
from persian_ie.data.document import Document, Span, read_documents
from persian_ie.data.schema import load_schema
from persian_ie.data.validate import validate_files
from persian_ie.inference.inputs import iter_inputs
from persian_ie.inference.runner import run_prediction
from persian_ie.models.linking import build_records, link
from persian_ie.models.predictor import Predictor

from conftest import ROOT, SEED_TEXT


@pytest.fixture(scope="module")
def predictor(tiny_model_dir):
    return Predictor.from_pretrained(tiny_model_dir, backend="torch")  # the float32 reference (tests/test_backends.py covers the others)


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_every_input_format(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "txt"
    folder.mkdir()
    (folder / "a.txt").write_text("متن الف", encoding="utf-8")
    (folder / "b.txt").write_text("متن ب", encoding="utf-8")
    _jsonl(tmp_path / "x.jsonl", [{"id": "j1", "text": "یک"}, {"title": "t", "abstract": "a", "paragraphs": ["p"], "id": "fars-1"}])
    with gzip.open(tmp_path / "x.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"doc": "g1", "body": "دو"}) + "\n")
    with open(tmp_path / "x.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerow(["c1", "سه"])
    pq.write_table(pa.table({"id": ["q1"], "text": ["چهار"]}), tmp_path / "x.parquet")
    got = [(r.id, r.text) for r in iter_inputs([folder, tmp_path / "x.jsonl", tmp_path / "x.csv", tmp_path / "x.parquet"])]
    assert got == [("a", "متن الف"), ("b", "متن ب"), ("j1", "یک"), ("fars-1", "t\na\np"), ("c1", "سه"), ("q1", "چهار")]
    from persian_ie.inference.inputs import FieldConfig

    assert [(r.id, r.text) for r in iter_inputs([tmp_path / "x.jsonl.gz"], FieldConfig("doc", "body"))] == [("g1", "دو")]


def test_output_validates_and_carries_records(tmp_path, predictor, corpus_docs):
    docs = predictor.predict_documents(corpus_docs["test"][:5])
    from persian_ie.data.document import write_documents

    write_documents(tmp_path / "p.jsonl", docs)
    assert validate_files([str(tmp_path / "p.jsonl")], load_schema()).ok
    assert all("records" in d.extra and "model" in d.extra for d in docs)


def test_linking_rules_on_gold_like_cases():
    text = "شهردار مشهد محمد کلایی پیشنهاد خواهرخواندگی با غزه را داد. وزیر گفت."
    spans = [Span("s1", 0, 11, "TITLE"), Span("s2", 7, 11, "CITY"), Span("s3", 12, 22, "PER"), Span("s4", 23, 50, "PROPOSAL"), Span("s5", 47, 50, "CITY"), Span("s6", 60, 64, "TITLE")]
    bounds = [(0, 58), (59, len(text))]
    rels = {(r.type, r.head, r.tail) for r in link(text, spans, bounds)}
    assert rels == {("holder", "s1", "s3"), ("proposer", "s4", "s3"), ("party", "s4", "s5")}
    records = build_records(text, spans, link(text, spans, bounds), bounds, {"source": "x"})
    assert records["officials"][0]["person"]["text"] == "محمد کلایی" and records["officials"][0]["title"]["text"] == "شهردار مشهد"
    prop = records["proposals"][0]
    assert prop["proposer"]["text"] == "محمد کلایی" and [p["text"] for p in prop["parties"]] == ["غزه"]
    assert prop["sentence"] == {"start": 0, "end": 58} and prop["meta"] == {"source": "x"}


def test_float32_results_do_not_depend_on_batch_size(predictor, corpus_docs):
    docs = corpus_docs["test"][:8]
    a = predictor.predict_documents(docs, batch_tokens=64)
    b = predictor.predict_documents(docs, batch_tokens=100_000)
    key = lambda ds: [[(s.label, s.start, s.end) for s in d.spans] for d in ds]
    assert key(a) == key(b)
    for da, db in zip(a, b):
        for sa, sb in zip(da.spans, db.spans):
            assert sa.score == pytest.approx(sb.score, abs=1e-4)


def test_bad_records_go_to_the_errors_file(tmp_path, predictor):
    src = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": "ok1", "text": "شهردار مشهد"}), "{broken", json.dumps({"id": "nt"}), json.dumps({"id": "e", "text": "  "}),
             json.dumps({"id": "big", "text": "a" * 1_000_001}), json.dumps({"id": "h", "text": "<div><p>x</p><p>y</p></div>"}), json.dumps({"id": "ok2", "text": "تهران"})]
    src.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe\n")
    summary = run_prediction(predictor, [str(src)], tmp_path / "out.jsonl", progress=False)
    out = read_documents(tmp_path / "out.jsonl")
    errors = [json.loads(l) for l in (tmp_path / "out.jsonl.errors.jsonl").read_text().splitlines()]
    assert [d.id for d in out] == ["ok1", "ok2"]
    assert [(e["line"], e["reason"].split(":")[0].split(" (")[0]) for e in errors] == [
        (2, "malformed JSON"), (3, "no 'text' field"), (4, "empty text"), (5, "text of 1,000,001 characters exceeds the 1,000,000 limit"),
        (6, "text looks like HTML markup; strip the markup first"), (8, "not valid UTF-8")]
    assert summary.documents == 2 and summary.errors == 6


def test_preparation_in_worker_processes_gives_the_same_files(tmp_path, predictor):
    """Issue 14 item 2: preprocessing in processes changes nothing in the output, errors or order."""
    src = tmp_path / "in.jsonl"
    rows = [json.dumps({"id": f"d{i}", "text": SEED_TEXT.read_text("utf-8")[: 150 + 40 * i]}, ensure_ascii=False) for i in range(23)]
    rows[5], rows[17] = "{broken", json.dumps({"id": "e", "text": "  "})
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    outs = {}
    for workers in (0, 2):
        out = tmp_path / f"out{workers}.jsonl"
        summary = run_prediction(predictor, [str(src)], out, progress=False, chunk_size=4, prep_workers=workers)
        outs[workers] = (out.read_bytes(), out.with_name(out.name + ".errors.jsonl").read_bytes(), summary.documents, summary.errors)
    assert outs[2] == outs[0]
    assert outs[0][2:] == (21, 2)


def test_worker_failure_and_early_stop_leave_no_worker_behind(tmp_path, predictor, monkeypatch):
    import multiprocessing

    import persian_ie.inference.runner as runner

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": f"شهردار مشهد {i}"}) + "\n" for i in range(12)), encoding="utf-8")
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk gone")
        return real(*args)

    real = runner.process_chunk
    monkeypatch.setattr(runner, "process_chunk", failing)
    with pytest.raises(OSError, match="disk gone"):
        run_prediction(predictor, [str(src)], tmp_path / "out.jsonl", progress=False, chunk_size=2, prep_workers=2)
    assert multiprocessing.active_children() == []  # the pool was shut down with the failure, not later
    assert len(read_documents(tmp_path / "out.jsonl")) == 2  # the first chunk stays committed


class _PreparerThatDies:
    """Kills its own worker process (as the out-of-memory killer would) on a marked text."""

    def __init__(self, preparer):
        self.preparer = preparer

    def __call__(self, doc):
        if "KILL-THIS-WORKER" in doc.text:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.preparer(doc)


def test_a_worker_killed_hard_stops_the_run_clearly_and_resume_finishes_it(tmp_path, predictor, monkeypatch):
    import multiprocessing

    from persian_ie.errors import WorkerDiedError

    src = tmp_path / "in.jsonl"
    texts = [f"شهردار مشهد {i}" + (" KILL-THIS-WORKER" if i == 9 else "") for i in range(16)]
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(predictor, "preparer", _PreparerThatDies(predictor.preparer))
    with pytest.raises(WorkerDiedError, match=r"\[E508\] a preprocessing worker process died abruptly .* --resume"):
        run_prediction(predictor, [str(src)], out, progress=False, chunk_size=2, prep_workers=2)
    assert multiprocessing.active_children() == []  # the broken pool left no process behind
    committed = [d.text for d in read_documents(out)]
    assert committed == texts[:len(committed)] and len(committed) <= 8  # whole chunks before the dead one, in order
    monkeypatch.setattr(predictor, "preparer", predictor.preparer.preparer)
    run_prediction(predictor, [str(src)], out, progress=False, chunk_size=2, prep_workers=2, resume=True)
    assert [d.text for d in read_documents(out)] == texts  # nothing lost, nothing twice


def test_prep_workers_cli_check(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "x.txt", "--model", "m", "--out", "o.jsonl", "--prep-workers", "-1"])
    assert "--prep-workers" in capsys.readouterr().err


def _archive(tmp_path, n=60):
    texts = [SEED_TEXT.read_text("utf-8")[: 200 + 7 * i] for i in range(n)]
    rows = [{"id": "same-id", "text": t} for t in texts]  # duplicate ids must not confuse resume
    return _jsonl(tmp_path / "archive.jsonl", rows), texts


def _stat(pid: int) -> list[str]:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _children(pid: int) -> list[int]:
    return [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and _stat(int(d.name))[1:2] == [str(pid)]]


def _alive(pid: int) -> bool:
    state = _stat(pid)[:1]
    return bool(state) and state != ["Z"]  # a zombie has exited; only its parent's wait is missing


@pytest.mark.parametrize("prep_workers", ["0", "2"])
def test_kill_and_resume_loses_and_duplicates_nothing(tmp_path, tiny_model_dir, prep_workers):
    src, texts = _archive(tmp_path)
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "persian_ie.cli", "predict", str(src), "--model", str(tiny_model_dir), "--out", str(out), "--chunk-size", "4", "--no-progress",
           "--prep-workers", prep_workers]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ledger = out.with_name(out.name + ".ledger")
    deadline = time.time() + 120
    while time.time() < deadline and (not ledger.exists() or len(ledger.read_text().splitlines()) < 3):
        time.sleep(0.05)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert bool(workers) == (prep_workers != "0")
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "preprocessing workers outlived the killed run"
    done_before = len(ledger.read_text().splitlines())
    assert 3 <= done_before < 15, "the run should have been killed part way"
    with open(out, "ab") as fh:
        fh.write(b'{"id": "half-written')  # a torn chunk after the last commit
    assert subprocess.run(cmd + ["--resume"], capture_output=True).returncode == 0
    got = read_documents(out)
    assert [d.text for d in got] == texts  # every input once, in input order
    assert [d.extra["input"]["record"] for d in got] == list(range(1, len(texts) + 1))


def test_ray_engine_local_mode_matches_local_engine(tmp_path, tiny_model_dir, predictor):
    pytest.importorskip("ray")
    src, texts = _archive(tmp_path, n=12)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n{"id": "y", "text": "مشهد"}\n', encoding="utf-8")
    from persian_ie.inference.ray_engine import RayOptions, run_prediction_ray

    import ray

    out = tmp_path / "ray.jsonl"
    try:
        result = run_prediction_ray(str(tiny_model_dir), [str(src), str(bad)], out, RayOptions(shard_size=5, num_actors=1))
        assert {k: result[k] for k in ("shards", "shards_run", "documents", "errors")} == {"shards": 4, "shards_run": 4, "documents": 13, "errors": 1}
        local = run_prediction(predictor, [str(src), str(bad)], tmp_path / "local.jsonl", progress=False)
        # the archive's 12 records share one id: both engines count the 11 repeats (across Ray's shards too)
        assert result["duplicate_ids"] == local.duplicate_ids == 11 and result["unnamed"] == local.unnamed == 0
        strip = lambda d: {k: v for k, v in d.to_dict().items() if k != "model"}
        assert [strip(d) for d in read_documents(out)] == [strip(d) for d in read_documents(tmp_path / "local.jsonl")]
        # resume at shard level: a finished run redoes nothing, and still reads every shard's ids
        again = run_prediction_ray(str(tiny_model_dir), [str(src), str(bad)], out, RayOptions(shard_size=5, resume=True))
        assert again["shards_run"] == 0 and again["documents"] == 13 and again["duplicate_ids"] == 11
    finally:
        ray.shutdown()  # a failure here must not leave Ray running for the next test's ray.init


def test_cli_predict_text(tiny_model_dir, capsys):
    from persian_ie.cli import main

    assert main(["predict", "--model", str(tiny_model_dir), "--text", "شهردار مشهد", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["text"] == "شهردار مشهد" and "spans" in out


def test_non_utf8_csv_row_is_an_error_record_and_the_other_rows_are_kept(tmp_path):
    from persian_ie.inference.inputs import BadRecord, InputRecord

    path = tmp_path / "bad.csv"
    path.write_bytes("id,text\na,مشهد\n".encode() + b"b,\xff\xfe\nc,\xd8\xaa\n")
    records = list(iter_inputs([path]))
    assert [type(r) for r in records] == [InputRecord, BadRecord, InputRecord]
    assert [r.position for r in records] == [2, 3, 4]
    assert "not valid UTF-8" in records[1].reason and records[2].text == "ت"
