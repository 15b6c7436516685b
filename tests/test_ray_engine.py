"""The Ray engine at archive scale: shards are byte ranges planned without
parsing, read without re-reading the file before them, the plan is saved and
a differing resume refused, device/precision reach the actors, and on a
two-node cluster a worker killed mid-run still gives every id exactly once."""

import json
import os
import signal
import sys
import threading
import time
import types

import pytest

from persian_ie.errors import ResumeMismatchError
from persian_ie.inference.inputs import BadRecord, FieldConfig, iter_inputs
from persian_ie.inference.ray_engine import RayOptions, _identity, _load_or_make_plan, plan_shards, read_shard

TEXTS = ["شهردار مشهد گفت", "وزیر کشور آمد", "رئیس مجلس پیشنهاد داد", "استاندار تهران"]


def _jsonl(path, n, first_line_bad=False):
    rows = ["{broken"] if first_line_bad else []
    rows += [json.dumps({"id": f"d{i}", "text": TEXTS[i % 4]}, ensure_ascii=False) for i in range(n)]
    path.write_text("\n".join(rows) + "\n", "utf-8")
    return path


def test_plan_parses_nothing_and_a_shard_reads_only_its_range(tmp_path, monkeypatch):
    src = _jsonl(tmp_path / "a.jsonl", 20, first_line_bad=True)
    import persian_ie.inference.inputs as inputs

    with monkeypatch.context() as m:
        m.setattr(inputs, "_from_object", lambda *a: pytest.fail("planning parsed a record"))
        plan = plan_shards([str(src)], 6)
    assert [s["parts"][0]["first_line"] for s in plan] == [1, 7, 13, 19]
    later = list(read_shard(plan[1]["parts"], FieldConfig()))
    assert [r.position for r in later] == list(range(7, 13))
    assert not any(isinstance(r, BadRecord) for r in later)  # line 1 (broken) belongs to shard 0 only
    every = [(r.key, getattr(r, "id", None)) for s in plan for r in read_shard(s["parts"], FieldConfig())]
    assert every == [(r.key, getattr(r, "id", None)) for r in iter_inputs([str(src)])]


def test_resume_with_another_shard_size_or_input_is_refused(tmp_path, tiny_model_dir):
    src = _jsonl(tmp_path / "a.jsonl", 10)
    shard_dir = tmp_path / "out.jsonl.shards"
    shard_dir.mkdir()
    first = RayOptions(shard_size=5)
    plan = _load_or_make_plan(shard_dir, [str(src)], _identity(tiny_model_dir, [str(src)], first), first)
    assert len(plan) == 2 and (shard_dir / "PLAN.json").exists()
    again = RayOptions(shard_size=3, resume=True)
    with pytest.raises(ResumeMismatchError, match="option shard_size differs: 5 then, 3 now"):
        _load_or_make_plan(shard_dir, [str(src)], _identity(tiny_model_dir, [str(src)], again), again)
    other = _jsonl(tmp_path / "b.jsonl", 2)
    same = RayOptions(shard_size=5, resume=True)
    with pytest.raises(ResumeMismatchError, match="inputs differ"):
        _load_or_make_plan(shard_dir, [str(src), str(other)], _identity(tiny_model_dir, [str(src), str(other)], same), same)
    assert _load_or_make_plan(shard_dir, [str(src)], _identity(tiny_model_dir, [str(src)], same), same) == plan


def test_device_and_precision_reach_the_actors(tmp_path, tiny_model_dir, monkeypatch):
    from persian_ie.inference import ray_engine
    from persian_ie.inference.runner import resolve_device

    seen = {}

    class FakeDataset:
        def map_batches(self, fn, **kw):
            seen.update(kw["fn_constructor_kwargs"], num_gpus=kw["num_gpus"])
            return types.SimpleNamespace(materialize=lambda: None)

    fake_ray = types.SimpleNamespace(is_initialized=lambda: True, data=types.SimpleNamespace(from_items=lambda rows, **kw: FakeDataset()))
    monkeypatch.setitem(sys.modules, "ray", fake_ray)
    options = RayOptions(device="cuda:1", precision="fp16", gpus_per_actor=1)
    ray_engine._run_shards([{"shard": "000000", "parts": []}], tiny_model_dir, tmp_path, FieldConfig(), options)
    assert (seen["device"], seen["precision"], seen["num_gpus"]) == ("cuda:1", "fp16", 1)
    import torch

    assert resolve_device("cuda:1", "fp16") == ("cuda:1", torch.float16)
    assert resolve_device("cpu", "bf16") == ("cpu", None)


def _descendants_running(pattern: str) -> list[int]:
    """Processes below this one whose command line contains ``pattern``."""
    parents = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                parents[int(pid)] = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found = []
    for pid in parents:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().decode(errors="replace")
        except OSError:
            continue
        up = pid
        while up in parents and up != os.getpid():
            up = parents[up]
        if up == os.getpid() and pattern in cmd:
            found.append(pid)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker through /proc")
def test_two_node_cluster_with_a_worker_killed_mid_run_gives_every_id_once(tmp_path, tiny_model_dir):
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    from persian_ie.inference.ray_engine import run_prediction_ray

    n = 48
    src = _jsonl(tmp_path / "a.jsonl", n)
    out = tmp_path / "out.jsonl"
    shard_dir = out.with_name(out.name + ".shards")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    cluster.add_node(num_cpus=2)
    killed = {}

    def kill_a_worker():
        deadline = time.time() + 240
        while time.time() < deadline and not killed:
            done = len(list(shard_dir.glob("0*.jsonl"))) if shard_dir.exists() else 0
            workers = _descendants_running("ShardPredictor")
            if done >= 1 and workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.update(pid=workers[0], shards_done=done)
            time.sleep(0.02)

    try:
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
        assert len(ray.nodes()) == 2
        killer = threading.Thread(target=kill_a_worker, daemon=True)
        killer.start()
        result = run_prediction_ray(str(tiny_model_dir), [str(src)], out, RayOptions(shard_size=1, num_actors=2))
        killer.join(timeout=1)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert killed and killed["shards_done"] < n, f"no worker was killed mid-run: {killed}"
    ids = [json.loads(line)["id"] for line in out.read_text("utf-8").splitlines()]
    assert sorted(ids) == sorted(f"d{i}" for i in range(n)) and len(set(ids)) == n  # every id exactly once
    assert ids == [f"d{i}" for i in range(n)]  # in input order
    assert result["documents"] == n and result["errors"] == 0


class _InlineRay:
    """A stand-in for ``ray`` whose Dataset runs the actor class in this process, shard by shard:
    the driver, the actor and the warnings are exercised without starting Ray."""

    def __init__(self):
        self.data = types.SimpleNamespace(from_items=lambda rows, **kw: _InlineDataset(rows))

    @staticmethod
    def is_initialized():
        return True


class _InlineDataset:
    def __init__(self, rows):
        self.rows = rows

    def map_batches(self, fn, fn_constructor_kwargs, **kw):
        def materialize():
            actor = fn(**fn_constructor_kwargs)
            for row in self.rows:
                actor({"shard": [row["shard"]], "parts": [row["parts"]]})

        return types.SimpleNamespace(materialize=materialize)


def test_ray_engine_warns_about_ids_repeated_across_shards_and_records_without_one(tmp_path, tiny_model_dir, monkeypatch, capsys):
    from persian_ie.cli import main

    rows = [{"id": "a", "text": TEXTS[0]}, {"id": "b", "text": TEXTS[1]}, {"id": "c", "text": TEXTS[2]},
            {"id": "a", "text": TEXTS[3]}, {"text": TEXTS[0]}, {"id": "d", "text": TEXTS[1]}]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    monkeypatch.setitem(sys.modules, "ray", _InlineRay())
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(src), "--model", str(tiny_model_dir), "--out", str(out), "--engine", "ray", "--shard-size", "2"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert (summary["shards"], summary["documents"], summary["duplicate_ids"], summary["unnamed"]) == (3, 6, 1, 1)
    # the repeat of "a" is line 4, in the second shard (lines 3-4): found across shards, named as the local engine names it
    assert f"1 records repeat an earlier record's id (first: 'a' at {src}:4)" in captured.err
    assert "1 records had no id in their id field" in captured.err and f"at {src}:5" in captured.err
    assert [json.loads(line)["id"] for line in out.read_text("utf-8").splitlines()][:4] == ["a", "b", "c", "a"]


def test_ray_engine_says_nothing_about_ids_when_all_is_well(tmp_path, tiny_model_dir, monkeypatch, capsys):
    from persian_ie.cli import main

    src = _jsonl(tmp_path / "a.jsonl", 5)
    monkeypatch.setitem(sys.modules, "ray", _InlineRay())
    assert main(["predict", str(src), "--model", str(tiny_model_dir), "--out", str(tmp_path / "out.jsonl"), "--engine", "ray", "--shard-size", "2"]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err and "note:" not in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["duplicate_ids"] == 0


def test_a_resumed_ray_run_counts_shards_without_an_ids_file_as_unchecked(tmp_path, tiny_model_dir, monkeypatch, capsys):
    from persian_ie.cli import main

    src = _jsonl(tmp_path / "a.jsonl", 5)
    out = tmp_path / "out.jsonl"
    monkeypatch.setitem(sys.modules, "ray", _InlineRay())
    args = ["predict", str(src), "--model", str(tiny_model_dir), "--out", str(out), "--engine", "ray", "--shard-size", "2"]
    assert main(args) == 0
    (tmp_path / "out.jsonl.shards" / "000001.ids.json").unlink()  # as a shard done before ids files existed
    capsys.readouterr()
    assert main(args + ["--resume"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1])["shards_unchecked"] == 1
    assert "note: 1 shards have no ids file" in captured.err
