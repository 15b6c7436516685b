"""One bad record never stops a run, and no input exhausts memory or time.

Each hostile case is generated here (small), goes through a real
``run_prediction`` with the tiny model, and must come out as an error record
(file, line, reason) while the good records around it are predicted."""

import gzip
import json
import math
import os
import signal
import tracemalloc

import pytest

from persian_ie.data.document import iter_lines, read_documents
from persian_ie.inference.inputs import BadRecord, InputRecord, count_records, iter_inputs
from persian_ie.inference.runner import run_prediction
from persian_ie.models.predictor import Predictor

GOOD = json.dumps({"id": "good", "text": "شهردار مشهد گفت"}, ensure_ascii=False)


@pytest.fixture(scope="module")
def predictor(tiny_model_dir):
    return Predictor.from_pretrained(tiny_model_dir)


def _errors(out):
    return [json.loads(line) for line in out.with_name(out.name + ".errors.jsonl").read_text("utf-8").splitlines()]


HOSTILE_JSONL = {
    "lone surrogate in text": '{"id": "s1", "text": "ab\\ud800c"}',
    "lone surrogate in id": '{"id": "\\udc00", "text": "متن"}',
    "lone surrogate in meta": '{"id": "s3", "text": "متن", "source": "\\ud83d"}',
    "deep nesting": '{"id": "n", "text": "x", "source": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "5,000-digit number": '{"id": ' + "9" * 5000 + ', "text": "متن"}',
    "float overflowing to infinity": '{"id": "f", "text": "متن", "date": 1e999}',
    "NaN in metadata": '{"id": "nan", "text": "متن", "date": NaN}',
    "Fars News title of the wrong type": '{"id": "fn", "title": 7, "abstract": "a", "paragraphs": ["p"]}',
}


def test_each_hostile_jsonl_record_is_an_error_record_and_the_run_goes_on(tmp_path, predictor):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([GOOD, *HOSTILE_JSONL.values(), GOOD.replace('"good"', '"good2"')]) + "\n", "utf-8")
    out = tmp_path / "out.jsonl"
    summary = run_prediction(predictor, [str(src)], out, progress=False, chunk_size=3)
    assert [d.id for d in read_documents(out)] == ["good", "good2"]
    errors = _errors(out)
    assert [e["line"] for e in errors] == list(range(2, 2 + len(HOSTILE_JSONL)))
    assert all(e["file"] == str(src) and e["reason"] for e in errors)
    assert summary.errors == len(HOSTILE_JSONL)
    for line in out.read_text("utf-8").splitlines():  # strict JSON only: no bare NaN/Infinity
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in output"))


def test_fars_news_record_with_null_parts_keeps_the_rest(tmp_path, predictor):
    src = tmp_path / "fars.jsonl"
    src.write_text(json.dumps({"id": "f1", "title": None, "abstract": "چکیده", "paragraphs": ["بند"], "link": "http://x/1", "cat": "c"}) + "\n"
                   + json.dumps({"id": "f2", "title": "عنوان", "abstract": None, "paragraphs": None}) + "\n", "utf-8")
    docs = {d.id: d for d in read_documents_after_run(predictor, src, tmp_path)}
    assert docs["f1"].text == "چکیده\nبند" and docs["f1"].meta == {"source": "farsnews", "url": "http://x/1", "category": "c"}
    assert docs["f2"].text == "عنوان"


def read_documents_after_run(predictor, src, tmp_path):
    out = tmp_path / "out.jsonl"
    run_prediction(predictor, [str(src)], out, progress=False)
    return read_documents(out)


def test_hostile_files_are_reported_and_the_other_inputs_run(tmp_path, predictor):
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = tmp_path / "good.jsonl"
    good.write_text(GOOD + "\n", "utf-8")
    (tmp_path / "fake.parquet").write_text('{"text": "x"}')  # JSON named .parquet
    pq.write_table(pa.table({"text": ["متن"] * 50}), tmp_path / "cut.parquet")
    data = (tmp_path / "cut.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    payload = gzip.compress(("\n".join([GOOD] * 400) + "\n").encode())
    (tmp_path / "cut.jsonl.gz").write_bytes(payload[: len(payload) * 2 // 3])  # truncated mid-stream
    (tmp_path / "plain.jsonl.gz").write_text(GOOD)  # not gzip at all
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "ok.txt").write_text("وزیر کشور", "utf-8")
    (folder / "dir.txt").mkdir()
    os.symlink("loop.txt", folder / "loop.txt")
    os.symlink("nowhere.txt", folder / "dangling.txt")
    os.symlink("/dev/zero", folder / "zero.txt")
    os.mkfifo(folder / "fifo.txt")
    names = ["fake.parquet", "cut.parquet", "cut.jsonl.gz", "plain.jsonl.gz", "texts", "missing.jsonl", "good.jsonl"]
    out = tmp_path / "out.jsonl"
    signal.alarm(120)  # a FIFO read would hang: fail instead
    try:
        assert count_records([str(tmp_path / n) for n in names]) >= 2
        summary = run_prediction(predictor, [str(tmp_path / n) for n in names], out, progress=True)
    finally:
        signal.alarm(0)
    ids = [d.id for d in read_documents(out)]
    assert ids.count("good") >= 2 and "ok" in ids and ids[-1] == "good"  # lines before the gzip damage, and the inputs after
    reasons = {os.path.basename(e["file"]): e["reason"] for e in _errors(out)}
    assert "not a readable Parquet file" in reasons["fake.parquet"] and "not a readable Parquet file" in reasons["cut.parquet"]
    assert "cut.jsonl.gz" in reasons["cut.jsonl.gz"] and "truncated gzip" in reasons["cut.jsonl.gz"]
    assert "plain.jsonl.gz" in reasons["plain.jsonl.gz"] and "not a valid gzip file" in reasons["plain.jsonl.gz"]
    assert "a directory" in reasons["dir.txt"]
    assert "symbolic links" in reasons["loop.txt"]
    assert "No such file" in reasons["dangling.txt"] and "No such file" in reasons["missing.jsonl"]
    assert "not a regular file" in reasons["zero.txt"] and "not a regular file" in reasons["fifo.txt"]
    assert summary.errors == len(_errors(out))


# ---- 8. bounded reads --------------------------------------------------------------
def test_a_gzip_bomb_line_is_skipped_in_bounded_memory(tmp_path):
    bomb = tmp_path / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb") as fh:
        fh.write(b'{"text": "')
        for _ in range(40):
            fh.write(b"a" * 1_000_000)  # one 40 MB line from a ~40 KB file
        fh.write(b'"}\n' + GOOD.encode() + b"\n")
    assert bomb.stat().st_size < 200_000
    tracemalloc.start()
    records = list(iter_inputs([bomb]))
    total = count_records([bomb])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 25_000_000, f"peak {peak:,} bytes: the line was read whole"
    assert isinstance(records[0], BadRecord) and records[0].position == 1 and "line of more than 8,000,000 bytes" in records[0].reason
    assert isinstance(records[1], InputRecord) and records[1].position == 2
    assert total == 1


def test_line_reads_respect_a_small_limit(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"a" * 5000 + b"\nshort\n")
    items = list(iter_lines(path, max_line_bytes=100))
    assert items[0].line == 1 and "more than 100 bytes (5,001 read)" in items[0].reason
    assert items[1] == (2, b"short\n")


# ---- CSV ----------------------------------------------------------------------------------
def test_csv_unbalanced_quote_costs_one_row_and_the_swallowed_rows_are_read(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('id,text\na,اول\nb,"نیمه\nc,سوم\nd,"چهارم"x\ne,پنجم\n', "utf-8")
    records = list(iter_inputs([path]))
    got = [(type(r).__name__, r.position, getattr(r, "id", None)) for r in records]
    assert got == [("InputRecord", 2, "a"), ("BadRecord", 3, None), ("InputRecord", 4, "c"), ("BadRecord", 5, None), ("InputRecord", 6, "e")]
    assert "unbalanced quote" in records[1].reason and "resumes at line 4" in records[1].reason


def test_csv_field_over_131072_characters_is_read(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("id,text\nbig," + "ب" * 200_000 + "\nsmall,متن\n", "utf-8")
    records = list(iter_inputs([path]))
    assert [(r.id, len(r.text)) for r in records] == [("big", 200_000), ("small", 3)]


# ---- NaN from Parquet metadata, duplicate ids -------------------------------------------
def test_nan_metadata_never_reaches_the_output_and_duplicate_ids_are_warned(tmp_path, predictor):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"id": ["a", "a", "b"], "text": ["متن یک", "متن دو", "متن سه"], "date": [math.nan, 1.5, math.inf]}), path)
    out = tmp_path / "out.jsonl"
    summary = run_prediction(predictor, [str(path)], out, progress=False)
    lines = out.read_text("utf-8").splitlines()
    docs = [json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in output")) for line in lines]
    assert [d["id"] for d in docs] == ["a", "a", "b"] and "date" not in docs[0].get("meta", {}) and docs[1]["meta"]["date"] == 1.5
    assert docs[2]["meta"]["date"] is None  # Infinity: null, and the document kept
    assert summary.duplicate_ids == 1 and "repeat an earlier record's id (first: 'a' at" in summary.line()


def test_predict_text_with_invalid_utf8_is_a_coded_error(tiny_model_dir, capsys):
    from persian_ie.cli import main

    text = b"\xd8\xb4\xff".decode("utf-8", "surrogateescape")  # what Python makes of a non-UTF-8 argv
    assert main(["predict", "--model", str(tiny_model_dir), "--text", text]) == 2
    err = capsys.readouterr().err
    assert "E501" in err and "--text is not valid UTF-8" in err


def test_a_record_whose_preprocessing_fails_is_an_error_record(tmp_path, predictor):
    class Fussy:
        """The tiny predictor, except that one text breaks preprocessing."""

        model_name = None

        def prepare(self, doc):
            if "boom" in doc.text:
                raise ValueError("cannot window this")
            return predictor.prepare(doc)

        def __getattr__(self, name):
            return getattr(predictor, name)

    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([GOOD, json.dumps({"id": "b", "text": "boom"}), GOOD.replace('"good"', '"g2"')]) + "\n", "utf-8")
    out = tmp_path / "out.jsonl"
    run_prediction(Fussy(), [str(src)], out, progress=False)
    assert [d.id for d in read_documents(out)] == ["good", "g2"]
    assert _errors(out) == [{"file": str(src), "line": 2, "reason": "preprocessing failed: ValueError: cannot window this"}]


def test_an_oversized_txt_file_is_refused_unread(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as fh:
        fh.truncate(5_000_000)  # sparse: costs no disk
    (rec,) = list(iter_inputs([big]))
    assert isinstance(rec, BadRecord) and rec.position == 0 and "exceeds the 4,000,000-byte limit" in rec.reason


def test_a_file_name_that_is_not_utf8_is_written_as_valid_json(tmp_path, predictor):
    folder = tmp_path / "texts"
    folder.mkdir()
    name = os.fsdecode(b"\xff-bad.txt")
    (folder / name).write_text("وزیر کشور", "utf-8")
    (folder / "empty.txt").write_text("", "utf-8")
    os.rename(folder / "empty.txt", folder / os.fsdecode(b"\xfe-empty.txt"))
    out = tmp_path / "out.jsonl"
    run_prediction(predictor, [str(folder)], out, progress=False)
    (doc,) = read_documents(out)
    assert doc.extra["input"]["file"].endswith("\\xff-bad.txt")
    assert _errors(out)[0]["file"].endswith("\\xfe-empty.txt")


def test_predict_text_refuses_inputs_and_out_it_would_drop(tmp_path, capsys):
    from persian_ie.cli import main

    src = tmp_path / "in.txt"
    src.write_text("شهردار مشهد", encoding="utf-8")
    assert main(["predict", "--model", str(tmp_path / "no-model"), "--text", "سلام", str(src), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "--text predicts one string" in capsys.readouterr().err and not (tmp_path / "o.jsonl").exists()
    assert main(["predict", "--model", str(tmp_path / "no-model"), "--text", "سلام", "--resume", "--engine", "ray"]) == 2
    assert "--resume, --engine ray belong to batch runs" in capsys.readouterr().err


def test_predict_names_the_folder_entries_it_does_not_read(tmp_path, capsys):
    from persian_ie.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("شهردار مشهد", encoding="utf-8")
    (folder / "B.TXT").write_text("x", encoding="utf-8")
    (folder / "recs.jsonl").write_text('{"id": "r", "text": "x"}\n', encoding="utf-8")
    main(["predict", str(folder), "--model", str(tmp_path / "no-model"), "--out", str(tmp_path / "o.jsonl")])
    err = capsys.readouterr().err
    assert "2 entries not read (B.TXT, recs.jsonl)" in err and "a.txt" not in err
    # a file named beside its folder is read, and the run's own files (an --out inside the folder) are not inputs
    for own in ("o.jsonl", "o.jsonl.lock", "o.jsonl.ledger"):
        (folder / own).write_text("", encoding="utf-8")
    main(["predict", str(folder), str(folder / "recs.jsonl"), "--model", str(tmp_path / "no-model"), "--out", str(folder / "o.jsonl")])
    assert "1 entry not read (B.TXT)" in capsys.readouterr().err


def test_an_interrupted_predict_says_what_is_kept_and_how_to_go_on(tmp_path, capsys, monkeypatch):
    from persian_ie import commands
    from persian_ie.cli import main

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "predict_cli", interrupted)
    assert main(["predict", "in.jsonl", "--model", "m", "--out", str(tmp_path / "o.jsonl")]) == 130
    assert f"interrupted: the chunks committed to {tmp_path / 'o.jsonl'} are kept; the same command with --resume" in capsys.readouterr().err


def test_records_without_an_id_in_the_id_field_are_named_and_warned(tmp_path, predictor):
    from persian_ie.inference.inputs import FieldConfig

    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"r{i}", "text": "متن یک"}) for i in range(3)) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    summary = run_prediction(predictor, [str(path)], out, fields=FieldConfig(id_field="nope"), progress=False)  # a mistyped --id-field
    assert [json.loads(line)["id"] for line in out.read_text("utf-8").splitlines()] == ["x-1", "x-2", "x-3"]
    assert summary.unnamed == 3 and "3 records had no id in their id field (--id-field" in summary.line() and "'x-1' at" in summary.line()
    summary = run_prediction(predictor, [str(path)], tmp_path / "ok.jsonl", progress=False)
    assert summary.unnamed == 0 and "no id" not in summary.line()
