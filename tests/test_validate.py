"""Every validation rule, bad input by line, and the CLI's messages."""

import gzip
import json

import pytest

from persian_ie.cli import main
from persian_ie.data.schema import load_schema
from persian_ie.data.validate import validate_files

TEXT = "شهردار مشهد گفت: پیشنهاد خواهرخواندگی با غزه‌ای داد."


def doc(spans=(), relations=(), text=TEXT, doc_id="d1"):
    return {"id": doc_id, "text": text, "spans": [dict(zip(("id", "start", "end", "label"), s)) for s in spans],
            "relations": [dict(zip(("type", "head", "tail"), r)) for r in relations]}


def write(tmp_path, lines, name="f.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l, ensure_ascii=False) for l in lines) + "\n", encoding="utf-8")
    return path


def rules(tmp_path, *lines):
    report = validate_files([str(write(tmp_path, lines))], load_schema())
    return sorted(p.rule for p in report.problems), report


def test_valid_document(tmp_path):
    found, report = rules(tmp_path, doc([("s1", 0, 11, "TITLE"), ("s2", 7, 11, "CITY"), ("s3", 17, 47, "PROPOSAL"), ("s4", 41, 44, "CITY")],
                                        [("party", "s3", "s4")]))
    assert found == [] and report.ok and report.spans == 4


@pytest.mark.parametrize("span,rule", [
    (("s1", 5, 3, "CITY"), "span-bounds"),
    (("s1", 7, 999, "CITY"), "span-bounds"),
    (("s1", 8, 11, "CITY"), "span-edge"),  # starts inside مشهد
    (("s1", 6, 11, "CITY"), "span-edge"),  # starts with a space
    (("s1", 41, 45, "CITY"), "span-edge"),  # includes the ZWNJ... then ends inside غزه‌ای
    (("s1", 7, 11, "city"), "label"),
    (("s1", 7, 11, "LOC"), "label"),
])
def test_span_rules(tmp_path, span, rule):
    assert rule in rules(tmp_path, doc([span]))[0]


def test_enclitic_after_zwnj_is_a_boundary(tmp_path):
    assert rules(tmp_path, doc([("s1", 41, 44, "CITY")]))[0] == []


def test_lowercase_label_hint(tmp_path):
    _, report = rules(tmp_path, doc([("s1", 7, 11, "city")]))
    assert "did you mean 'CITY'" in str(report.problems[0])


def test_overlap_in_layer_but_not_across(tmp_path):
    assert rules(tmp_path, doc([("s1", 0, 11, "ORG"), ("s2", 7, 11, "CITY")]))[0] == ["overlap"]
    assert rules(tmp_path, doc([("s1", 0, 11, "TITLE"), ("s2", 7, 11, "CITY")]))[0] == []


def test_relation_rules(tmp_path):
    spans = [("s1", 0, 11, "TITLE"), ("s2", 7, 11, "CITY")]
    assert rules(tmp_path, doc(spans, [("holder", "s1", "s2")]))[0] == ["relation-label"]
    assert rules(tmp_path, doc(spans, [("holder", "s1", "s9")]))[0] == ["relation-end"]
    assert rules(tmp_path, doc(spans, [("boss", "s1", "s2")]))[0] == ["relation-type"]


def test_ids_and_empty_text(tmp_path):
    assert rules(tmp_path, doc([("s1", 7, 11, "CITY"), ("s1", 41, 44, "CITY")]))[0] == ["span-id"]
    assert rules(tmp_path, doc(), doc())[0] == ["doc-id"]
    assert rules(tmp_path, doc(text=""))[0] == ["empty-text"]


def test_bad_lines_are_reported_and_reading_goes_on(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = json.dumps(doc(doc_id="ok"), ensure_ascii=False).encode()
    path.write_bytes(b"\xef\xbb\xbf" + good + b"\r\n" + b"{not json\r\n" + b"[1, 2]\n" + b"\xff\xfe bad bytes\n" + json.dumps(doc(doc_id="ok2")).encode() + b"\n")
    report = validate_files([str(path)], load_schema())
    assert report.documents == 2  # BOM and CRLF accepted on valid lines
    assert report.unreadable_lines == 3
    lines = sorted(p.line for p in report.problems)
    assert lines == [2, 3, 4]


def test_large_document_and_gzip(tmp_path):
    big = ("شهر مشهد " * 600_000)[:5_000_000].strip()
    path = tmp_path / "big.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "big", "text": big, "spans": [{"id": "s1", "start": 4, "end": 8, "label": "CITY"}]}, ensure_ascii=False) + "\n")
    report = validate_files([str(path)], load_schema())
    assert report.ok and report.documents == 1


def test_cli_messages_name_file_line_doc_span_rule(tmp_path, capsys):
    path = write(tmp_path, [doc([("s1", 8, 11, "CITY")], doc_id="doc-7")])
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:1 doc=doc-7 span=s1: span-edge: span starts inside a word" in out
    assert "[مشهد]" not in out and "«شهد»" in out
    assert out.strip().splitlines()[-1].startswith("INVALID: 1 file(s), 1 document(s)")
    good = write(tmp_path, [doc([("s1", 7, 11, "CITY")])], "good.jsonl")
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out.startswith("OK: 1 file(s), 1 document(s), 1 spans")


def test_span_text_must_match_offsets(tmp_path):
    bad = doc([("s1", 7, 11, "CITY")])
    bad["spans"][0]["text"] = "تهران"
    assert rules(tmp_path, bad)[0] == ["span-text"]


def test_stats_table_and_json(tmp_path, capsys):
    path = write(tmp_path, [doc([("s1", 0, 11, "TITLE"), ("s2", 7, 11, "CITY")], [], doc_id="a"), doc(doc_id="b")])
    assert main(["stats", str(path)]) == 0
    table = capsys.readouterr().out
    assert "CITY" in table and "holder" in table
    assert main(["stats", "--json", str(path)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["total"]["documents"] == 2 and stats["total"]["labels"]["CITY"] == 1 and stats["total"]["layers"]["role"] == 1


def test_stats_refuses_a_missing_file_and_names_unreadable_lines(tmp_path, capsys):
    path = write(tmp_path, [doc(doc_id="a")])
    assert main(["stats", str(path), str(tmp_path / "typo.jsonl")]) == 2
    assert "typo.jsonl" in capsys.readouterr().err
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    assert main(["stats", str(path)]) == 0
    assert "1 unreadable line(s) not counted" in capsys.readouterr().err


def test_annotate_check_refuses_a_folder_or_missing_file_naming_it(tmp_path, capsys):
    assert main(["annotate", "check", str(tmp_path), str(tmp_path / "none.ann")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} (a folder)" in err and "none.ann (no such file)" in err
