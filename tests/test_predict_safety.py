"""Batch prediction never loses data: outputs never overwrite inputs, a
resume never pads or mixes runs, two runs never share an output, and the
ledger is checked. Every probe input is generated here and small."""

import json
import os
import shutil

import pytest

from persian_ie.data.document import read_documents
from persian_ie.errors import LedgerError, OutputLockedError, OutputPathError, OutputWriteError, ResumeMismatchError
from persian_ie.inference.run_state import Ledger, OutputLock
from persian_ie.inference.runner import run_prediction
from persian_ie.models.predictor import Predictor

TEXTS = ["شهردار مشهد گفت", "وزیر کشور آمد", "رئیس مجلس پیشنهاد داد", "استاندار تهران", "شهر قم", "دبیر کل سازمان"]


@pytest.fixture(scope="module")
def predictor(tiny_model_dir):
    return Predictor.from_pretrained(tiny_model_dir)


def _jsonl(path, n=6, prefix="d"):
    path.write_text("".join(json.dumps({"id": f"{prefix}{i}", "text": TEXTS[i % len(TEXTS)]}, ensure_ascii=False) + "\n" for i in range(n)), "utf-8")
    return path


def _run(predictor, inputs, out, model_dir, **kw):
    return run_prediction(predictor, [str(p) for p in inputs], out, progress=False, chunk_size=2, model_dir=model_dir, **kw)


# ---- 1. an output that is an input --------------------------------------------------
@pytest.mark.parametrize("target", ["out", "errors", "folder-entry", "new-folder-entry"])
def test_an_output_naming_an_input_is_refused_and_the_input_kept(tmp_path, predictor, tiny_model_dir, target):
    src = _jsonl(tmp_path / "in.jsonl")
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("شهردار مشهد", "utf-8")
    before = {p: p.read_bytes() for p in (src, folder / "a.txt")}
    out, errors = tmp_path / "out.jsonl", None
    if target == "out":
        out = tmp_path / "sub" / ".." / "in.jsonl"  # the same file, spelled differently
    elif target == "errors":
        errors = src
    elif target == "folder-entry":
        out = folder / "a.txt"
    else:
        errors = folder / "errors.txt"  # not there yet, but the folder would list it
    with pytest.raises(OutputPathError, match="E503.*input"):
        run_prediction(predictor, [str(src), str(folder)], out, errors, progress=False, model_dir=tiny_model_dir)
    assert {p: p.read_bytes() for p in before} == before


def test_errors_equal_to_out_is_refused(tmp_path, predictor, tiny_model_dir):
    src = _jsonl(tmp_path / "in.jsonl")
    with pytest.raises(OutputPathError, match="--out and --errors are the same file"):
        run_prediction(predictor, [str(src)], tmp_path / "o.jsonl", tmp_path / "o.jsonl", progress=False)


def test_cli_refuses_an_output_naming_an_input_before_loading_the_model(tmp_path, capsys):
    from persian_ie.cli import main

    src = _jsonl(tmp_path / "in.jsonl")
    data = src.read_bytes()
    assert main(["predict", str(src), "--model", str(tmp_path / "no-model"), "--out", str(src)]) == 2
    assert "E503" in capsys.readouterr().err and src.read_bytes() == data


# ---- 3. resume onto a shorter output --------------------------------------------------
def _half_run(predictor, tmp_path, model_dir, n=6):
    src = _jsonl(tmp_path / "in.jsonl", n)
    out = tmp_path / "out.jsonl"
    _run(predictor, [src], out, model_dir)
    return src, out


@pytest.mark.parametrize("damage", ["truncate-mid-line", "delete", "ledger-past-end"])
def test_resume_onto_a_shorter_output_is_refused_never_padded(tmp_path, predictor, tiny_model_dir, damage):
    src, out = _half_run(predictor, tmp_path, tiny_model_dir)
    ledger = Ledger(out).path
    size = out.stat().st_size
    if damage == "truncate-mid-line":
        os.truncate(out, size - 10)
    elif damage == "delete":
        out.unlink()
    else:
        lines = ledger.read_text().splitlines()
        last = json.loads(lines[-1])
        last["out_bytes"] += 5000
        ledger.write_text("\n".join(lines[:-1] + [json.dumps(last)]) + "\n")
    with pytest.raises(LedgerError, match="E505.*(truncated|missing|committed)"):
        _run(predictor, [src], out, tiny_model_dir, resume=True)
    if out.exists():
        assert b"\x00" not in out.read_bytes() and out.stat().st_size <= size


def test_resume_without_a_ledger_never_truncates_an_existing_output(tmp_path, predictor, tiny_model_dir):
    src = _jsonl(tmp_path / "in.jsonl")
    out = tmp_path / "precious.jsonl"
    out.write_text('{"keep": "me"}\n')
    with pytest.raises(LedgerError, match="not written by a resumable run"):
        _run(predictor, [src], out, tiny_model_dir, resume=True)
    assert out.read_text() == '{"keep": "me"}\n'


# ---- 4. one run per output -----------------------------------------------------------
def test_a_second_run_on_a_locked_output_is_refused_naming_the_holder(tmp_path, predictor, tiny_model_dir):
    src = _jsonl(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    with OutputLock(out):
        with pytest.raises(OutputLockedError, match=rf"E504.*pid {os.getpid()} on host"):
            _run(predictor, [src], out, tiny_model_dir)
    _run(predictor, [src], out, tiny_model_dir)  # released: the next run goes
    assert len(read_documents(out)) == 6


# ---- 5. resume keyed by resolved path, same inputs, same model -----------------------
def test_resume_with_the_input_spelled_differently_duplicates_nothing(tmp_path, predictor, tiny_model_dir, monkeypatch):
    src = _jsonl(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    _run(predictor, [src], out, tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    summary = _run(predictor, ["in.jsonl"], out, tiny_model_dir, resume=True)
    assert summary.documents == 0 and summary.skipped_done == 6
    assert [d.id for d in read_documents(out)] == [f"d{i}" for i in range(6)]


def test_resume_with_other_inputs_or_a_changed_input_is_refused(tmp_path, predictor, tiny_model_dir):
    src = _jsonl(tmp_path / "in.jsonl")
    other = _jsonl(tmp_path / "other.jsonl", prefix="o")
    out = tmp_path / "out.jsonl"
    _run(predictor, [src], out, tiny_model_dir)
    with pytest.raises(ResumeMismatchError, match=r"E506.*inputs differ \(added .*other.jsonl"):
        _run(predictor, [src, other], out, tiny_model_dir, resume=True)
    with open(src, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "late", "text": "قم"}) + "\n")
    with pytest.raises(ResumeMismatchError, match="in.jsonl changed since the run began.*size"):
        _run(predictor, [src], out, tiny_model_dir, resume=True)


def test_resume_with_another_model_is_refused(tmp_path, predictor, tiny_model_dir):
    src = _jsonl(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    _run(predictor, [src], out, tiny_model_dir)
    other = tmp_path / "other-model"
    shutil.copytree(tiny_model_dir, other)
    with open(next(other.glob("*.safetensors")), "ab") as fh:
        fh.write(b" ")  # other weights (only hashed here, never loaded)
    with pytest.raises(ResumeMismatchError, match="the model differs.*weights sha256"):
        _run(predictor, [src], out, other, resume=True)
    header = json.loads(Ledger(out).path.read_text().splitlines()[0])
    assert len(header["run"]["model"]["weights_sha256"]) == 64


@pytest.mark.parametrize("bad_line, message", [(b"\xff\xfe{}\n", "not valid UTF-8"), (b"{}\n", "a commit needs 'keys'"),
                                               (b"[1]\n", "a ledger line must be a JSON object")])
def test_a_corrupt_ledger_is_a_coded_error(tmp_path, predictor, tiny_model_dir, bad_line, message):
    src, out = _half_run(predictor, tmp_path, tiny_model_dir)
    with open(Ledger(out).path, "ab") as fh:
        fh.write(bad_line)
    with pytest.raises(LedgerError, match=f"E505.*ledger:\\d+: {message}"):
        _run(predictor, [src], out, tiny_model_dir, resume=True)


def test_a_torn_ledger_line_is_cut_and_the_resume_goes_on(tmp_path, predictor, tiny_model_dir):
    src, out = _half_run(predictor, tmp_path, tiny_model_dir)
    with open(Ledger(out).path, "ab") as fh:
        fh.write(b'{"keys": ["x')  # a commit killed mid-write
    _run(predictor, [src], out, tiny_model_dir, resume=True)
    _run(predictor, [src], out, tiny_model_dir, resume=True)  # and the ledger stays readable
    assert [d.id for d in read_documents(out)] == [f"d{i}" for i in range(6)]


# ---- 11. messages name the file --------------------------------------------------------
def test_disk_full_names_the_file():
    from persian_ie.inference.runner import _append

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "wb", buffering=0) as fh, pytest.raises(OutputWriteError, match="E507.*cannot write /dev/full.*--resume"):
        _append(fh, [b"x" * 100])


def test_an_output_hard_linked_to_an_input_is_refused(tmp_path, predictor, tiny_model_dir):
    src = _jsonl(tmp_path / "in.jsonl")
    os.link(src, tmp_path / "alias.jsonl")
    with pytest.raises(OutputPathError, match="is an input"):
        _run(predictor, [src], tmp_path / "alias.jsonl", tiny_model_dir)
    assert len(src.read_text("utf-8").splitlines()) == 6


@pytest.mark.parametrize("command", ["train-relations", "train-refiner"])
def test_adding_a_part_refuses_an_out_that_is_the_model_and_keeps_it(tmp_path, tiny_model_dir, capsys, command):
    import shutil

    from persian_ie.cli import main

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    before = {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()}
    # the same folder spelled another way is still the same folder
    assert main([command, "configs/quickstart.yaml", "--model", str(model), "--out", f"{tmp_path}/./model/"]) == 2
    assert "E503" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()} == before


def test_cli_refuses_an_out_that_is_a_folder_before_loading_the_model(tmp_path, capsys):
    from persian_ie.cli import main

    src = _jsonl(tmp_path / "in.jsonl")
    folder = tmp_path / "outdir"
    folder.mkdir()
    assert main(["predict", str(src), "--model", str(tmp_path / "no-model"), "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "E503" in err and "--out" in err and "is a folder" in err and not (tmp_path / "outdir.lock").exists()
