"""The facts database: merge rules, the seed article, incremental builds, exports, CLI."""

import csv
import gzip
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from persian_ie.cli import main
from persian_ie.data.document import Document, Relation, Span, read_documents
from persian_ie.inference.facts.cluster import cluster_document
from persian_ie.inference.facts.query import TABLES, export, person, who
from persian_ie.inference.facts.store import build

ROOT = Path(__file__).resolve().parents[1]
SEED_ID = "shabestan-1730839"


def _doc(doc_id: str, text: str, names: list[str], titles=(), holders=(), meta=None) -> Document:
    """A document whose spans are the first occurrence after the previous one of each string."""
    spans, at = [], 0
    for i, (label, name) in enumerate([("PER", n) for n in names] + [("TITLE", t) for t in titles], start=1):
        start = text.index(name, at if label == "PER" else 0)
        at = start + len(name) if label == "PER" else at
        spans.append(Span(f"s{i}", start, start + len(name), label))
    relations = [Relation("holder", f"s{len(names) + t + 1}", f"s{p + 1}") for t, p in holders]
    return Document(doc_id, text, spans, relations, meta or {})


def _seed() -> Document:
    return next(d for d in read_documents(ROOT / "data/corpus/test.jsonl") if d.id == SEED_ID)


def _groups(doc: Document) -> list[set[str]]:
    return [{doc.text[s.start:s.end] for s in c.spans} for c in cluster_document(doc)]


def test_seed_gold_mayor_and_representative_are_one_person_each():
    groups = _groups(_seed())
    assert {"محمدرضا قلندر", "قلندرشریف"} in groups
    assert any({"احمد معصومیفر", "معصومی فر"} <= g for g in groups)
    assert len(groups) == 2


def test_seed_prediction_with_bare_title_completes_the_office(tmp_path):
    """A predicted document: spans with text, a holder on a bare «شهردار» followed by CITY مشهد."""
    seed = _seed()
    keep = [s for s in seed.spans if s.label in ("PER", "CITY")]
    mayor = next(s for s in seed.spans if seed.text[s.start:s.end] == "محمدرضا قلندر")
    title_start = seed.text.index("شهردار مشهد", mayor.end)
    title = Span("t1", title_start, title_start + len("شهردار"), "TITLE", "شهردار", 0.9)
    pred = Document(seed.id, seed.text, [Span(s.id, s.start, s.end, s.label, seed.text[s.start:s.end], 0.9) for s in keep] + [title],
                    [Relation("holder", "t1", mayor.id)], {}, {"model": {"name": "m", "version": "1"}})
    path = tmp_path / "pred.jsonl"
    path.write_text(json.dumps(pred.to_dict(), ensure_ascii=False) + "\n", encoding="utf-8")
    db = tmp_path / "f.db"
    build([path], db)
    assert [r["name"] for r in who(db, "شهردار مشهد")] == ["محمدرضا قلندر"]
    [mayor_row] = person(db, "قلندر")
    assert set(mayor_row["variants"].split(" | ")) == {"محمدرضا قلندر", "قلندرشریف"}


def test_partial_joins_only_an_unambiguous_full_name():
    doc = _doc("d", "علی کریمی و حسن کریمی آمدند. کریمی گفت.", ["علی کریمی", "حسن کریمی", "کریمی"])
    assert {"کریمی"} in _groups(doc)  # two Karimis: the surname alone stays apart
    doc = _doc("d", "علی کریمی آمد. کریمی گفت.", ["علی کریمی", "کریمی"])
    assert _groups(doc) == [{"علی کریمی", "کریمی"}]


def test_near_spelling_needs_shape_or_office():
    doc = _doc("d", "احمد معصومی‌فر آمد. مسعودی فر گفت.", ["احمد معصومی‌فر", "مسعودی فر"])
    assert len(_groups(doc)) == 1
    doc = _doc("d", "احمد معصومی‌فر آمد. محمودی گفت.", ["احمد معصومی‌فر", "محمودی"])
    assert len(_groups(doc)) == 2


def _write(path: Path, docs, extra_lines=()) -> Path:
    lines = [json.dumps(d.to_dict(), ensure_ascii=False) for d in docs] + list(extra_lines)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def _mayor(doc_id, name, city, date="1395-01-01"):
    text = f"{name}، شهردار {city} گفت."
    return _doc(doc_id, text, [name], [f"شهردار {city}"], [(0, 0)], {"date": date})


def test_incremental_build_dedupes_replaces_and_reports(tmp_path):
    db = tmp_path / "f.db"
    first = _write(tmp_path / "a.jsonl", [_mayor("a1", "علی کریمی", "مشهد"), _mayor("a2", "علی کريمي", "مشهد", "1396-01-01")])
    report = build([first], db)
    assert (report.loaded, len(report.problems)) == (2, 0)
    bad = _write(tmp_path / "b.jsonl.gz", [_mayor("a1", "علی کریمی", "مشهد")], ["{not json", '{"id": 5}'])
    report = build([bad, first], db)
    assert (report.loaded, report.unchanged, len(report.problems)) == (0, 3, 2)
    assert "b.jsonl.gz:2" in report.problems[0]
    changed = _mayor("a1", "علی کریمی", "مشهد")
    changed.extra["model"] = {"name": "m", "version": "2"}
    report = build([_write(tmp_path / "c.jsonl", [changed])], db)
    assert report.replaced == 1
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM mentions WHERE label = 'PER'").fetchone()[0] == 2
    assert json.loads(con.execute("SELECT model FROM documents WHERE doc_id = 'a1'").fetchone()[0])["version"] == "2"
    [row] = con.execute("SELECT name, office, first_seen, last_seen, documents FROM officials").fetchall()
    assert row == ("علی کریمی", "شهردار مشهد", "1395-01-01", "1396-01-01", 2)


def test_missing_date_is_kept_and_counted(tmp_path):
    report = build([_write(tmp_path / "a.jsonl", [_mayor("x", "علی کریمی", "مشهد", date="")])], tmp_path / "f.db")
    assert (report.loaded, report.undated) == (1, 1)
    assert who(tmp_path / "f.db", "شهردار مشهد")[0]["first_seen"] is None


def test_same_name_conflicting_offices_same_year_are_two_people(tmp_path):
    docs = [_mayor("a", "علی کریمی", "مشهد"), _mayor("b", "علی کریمی", "تهران"), _mayor("c", "علی کریمی", "مشهد", "1399-01-01")]
    db = tmp_path / "f.db"
    build([_write(tmp_path / "a.jsonl", docs)], db)
    people = person(db, "علی کریمی")
    assert sorted(p["documents"] for p in people) == [1, 2]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_every_table_with_its_columns(tmp_path, fmt):
    db = tmp_path / "f.db"
    build([ROOT / "data/corpus/test.jsonl"], db)
    paths = export(db, tmp_path / "out", fmt)
    assert set(paths) == set(TABLES)
    if fmt == "csv":
        with open(paths["persons"], encoding="utf-8") as fh:
            header = next(csv.reader(fh))
    else:
        import pyarrow.parquet as pq

        header = pq.read_schema(paths["persons"]).names
    assert header[:2] == ["person_id", "name"] and {"variants", "mentions", "documents"} <= set(header)


def test_cli_round_trip(tmp_path, capsys):
    db = str(tmp_path / "f.db")
    assert main(["facts", "build", str(ROOT / "data/corpus/test.jsonl"), "--db", db]) == 0
    assert main(["facts", "who", "شهردار سابق مشهد", "--db", db]) == 0
    assert "محمدرضا قلندر" in capsys.readouterr().out
    assert main(["facts", "person", "قلندر", "--db", db]) == 0
    assert "قلندرشریف" in capsys.readouterr().out
    assert main(["facts", "export", "--db", db, "--format", "xml", "--out", str(tmp_path)]) == 2
    assert "E702" in capsys.readouterr().err
    assert main(["facts", "who", "x", "--db", str(tmp_path / "missing.db")]) == 2


def test_zwnj_compound_surname_is_not_split_into_a_tail():
    doc = _doc("d", "سردار سلیمانی آمد. حسن علیدادی‌سلیمانی گفت.", ["سلیمانی", "حسن علیدادی‌سلیمانی"])
    assert len(_groups(doc)) == 2


def test_clustering_scores_against_annotated_ids_meet_the_targets():
    from persian_ie.eval.clustering import b_cubed, evaluate

    assert b_cubed({"a": 1, "b": 2}, {"a": "x", "b": "x"}) == (1.0, 0.5)
    gold = ROOT / "data/annotation/person_ids"
    corpus = [ROOT / f"data/corpus/{s}.jsonl" for s in ("train", "dev", "test")]
    within = evaluate(gold / "test.jsonl", corpus, across=False, n=20)["scores"]
    across = evaluate(gold / "across.jsonl", corpus, across=True, n=20)["scores"]
    assert within["b3_f1"] >= 0.93 and within["b3_p"] >= 0.95
    assert across["b3_f1"] >= 0.90 and across["b3_p"] >= 0.95


def test_scale_bench_small_run(tmp_path):
    # run as its own process, as a user runs it (tests do not import bench)
    done = subprocess.run([sys.executable, "-m", "persian_ie.bench.facts_scale", "--docs", "300", "--work", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "300 document(s) loaded" in out and "peak RSS" in out
    con = sqlite3.connect(tmp_path / "facts.db")
    assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 300
    # the generated copies of one article share people: fewer people than PER clusters loaded
    assert con.execute("SELECT count(*) FROM person_ids").fetchone()[0] < con.execute(
        "SELECT count(DISTINCT doc_id || '/' || person_id) FROM mentions WHERE label = 'PER'").fetchone()[0]


def test_build_refuses_a_missing_file_before_touching_the_database(tmp_path, capsys):
    db = tmp_path / "facts.sqlite"
    assert main(["facts", "build", str(ROOT / "data/corpus/test.jsonl"), str(tmp_path / "typo.jsonl"), "--db", str(db)]) == 2
    assert "typo.jsonl" in capsys.readouterr().err and not db.exists()


def test_build_makes_the_database_folder_and_queries_refuse_an_empty_name(tmp_path, capsys):
    db = tmp_path / "new" / "facts.sqlite"
    assert main(["facts", "build", str(ROOT / "data/corpus/test.jsonl"), "--db", str(db)]) == 0 and db.is_file()
    assert main(["facts", "person", " ", "--db", str(db)]) == 2
    assert main(["facts", "who", "", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "give a name" in err and "give an office" in err
