"""Load predict output into the SQLite facts database, streaming and incrementally.

One document at a time: its PER spans are clustered (``cluster.py``), each
cluster is linked to a person id across the archive (same canonical full
name unless the offices conflict, see docs/facts.md), and its rows replace
any earlier rows of the same document id. Memory is bounded by one document
plus SQLite's page cache; nothing of the archive is held in Python.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from persian_ie.data.document import Document, LineError, iter_documents
from persian_ie.errors import FactsDatabaseError
from persian_ie.inference.facts.cluster import Cluster, cluster_document, sentence_of, surface, title_office

SCHEMA_VERSION = "1"
_FARS_ID = re.compile(r"^farsnews-(\d{8}|\d{10}|\d{14})$")


@dataclass
class BuildReport:
    loaded: int = 0
    unchanged: int = 0  # same id, text and model as already loaded: skipped
    replaced: int = 0  # same id with another text or model: its rows replaced
    undated: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.loaded} document(s) loaded, {self.replaced} replaced, {self.unchanged} already loaded (skipped), "
                f"{self.undated} without a date, {len(self.problems)} bad line(s) skipped")


def connect(db: str | Path) -> sqlite3.Connection:
    """Open (or create) a facts database; refuse one of another schema version."""
    try:
        con = sqlite3.connect(str(db))
        con.executescript(resources.files("persian_ie.inference.facts").joinpath("schema.sql").read_text("utf-8"))
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise FactsDatabaseError(f"{db}: not a facts database ({exc}); give a new path or one written by `persian-ie facts build`") from exc
    if row is None:
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    elif row[0] != SCHEMA_VERSION:
        raise FactsDatabaseError(f"{db}: schema version {row[0]}, this persian-ie writes {SCHEMA_VERSION}; rebuild into a new file")
    return con


def document_date(doc: Document) -> str | None:
    """``meta.date`` if given, else the Jalali date in a Fars News id
    (farsnews-13901113000042 → 1390-11-13, farsnews-8203160036 → 1382-03-16)."""
    date = doc.meta.get("date")
    if isinstance(date, str) and date:
        return date
    match = _FARS_ID.match(doc.id)
    if not match:
        return None
    digits = match.group(1)
    if len(digits) == 10:
        digits = "13" + digits
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"


def model_name(doc: Document) -> str | None:
    model = doc.extra.get("model")
    return json.dumps(model, ensure_ascii=False, sort_keys=True) if isinstance(model, dict) else model


def build(paths, db: str | Path, batch: int = 500) -> BuildReport:
    """Load documents from JSONL(.gz) files; bad lines are reported and skipped."""
    report = BuildReport()
    Path(db).parent.mkdir(parents=True, exist_ok=True)  # a new database in a new folder, as predict's --out
    con = connect(db)
    try:
        pending = 0
        for path in paths:
            for item in iter_documents(path):
                if isinstance(item, LineError):
                    report.problems.append(f"{item.path}:{item.line}: {item.reason}")
                    continue
                load_document(con, item.doc, report, (item.path, item.line))
                pending += 1
                if pending >= batch:
                    con.commit()
                    pending = 0
        con.commit()
    finally:
        con.close()
    return report


def load_document(con: sqlite3.Connection, doc: Document, report: BuildReport, source=(None, None)) -> None:
    sha1, model, date = doc.text_sha1, model_name(doc), document_date(doc)
    old = con.execute("SELECT text_sha1, model FROM documents WHERE doc_id = ?", (doc.id,)).fetchone()
    if old is not None and tuple(old) == (sha1, model):
        report.unchanged += 1
        return
    if old is not None:
        for table in ("mentions", "holdings", "proposals"):
            con.execute(f"DELETE FROM {table} WHERE doc_id = ?", (doc.id,))
        con.execute("UPDATE documents SET text_sha1 = ?, model = ?, date = ?, source_file = ?, source_line = ?, "
                    "loads = loads + 1 WHERE doc_id = ?", (sha1, model, date, *source, doc.id))
        report.replaced += 1
    else:
        con.execute("INSERT INTO documents (doc_id, text_sha1, model, date, source_file, source_line) VALUES (?, ?, ?, ?, ?, ?)",
                    (doc.id, sha1, model, date, *source))
        report.loaded += 1
    report.undated += date is None
    person_of_span = _load_persons(con, doc, date)
    _load_other_mentions(con, doc)
    _load_holdings(con, doc, date, person_of_span)
    _load_proposals(con, doc, date, person_of_span)


def _load_persons(con, doc: Document, date: str | None) -> dict[str, int]:
    person_of_span: dict[str, int] = {}
    for cluster in cluster_document(doc):
        person_id = link_person(con, cluster, doc, date)
        for span in cluster.spans:
            person_of_span[span.id] = person_id
            _insert_mention(con, doc, span, cluster.key, person_id)
    return person_of_span


def _insert_mention(con, doc: Document, span, key, person_id=None) -> None:
    con.execute("INSERT OR REPLACE INTO mentions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (doc.id, span.id, span.label, span.start, span.end, surface(doc, span), key, person_id,
                 sentence_of(doc.text, span.start, span.end)))


def _load_other_mentions(con, doc: Document) -> None:
    from persian_ie.data.names import fold

    for span in doc.spans:
        if span.label == "PER":
            continue
        key = title_office(doc, span) if span.label == "TITLE" else fold(surface(doc, span))
        _insert_mention(con, doc, span, key or None)


def _year(date: str | None) -> str | None:
    return date[:4] if date else None


def link_person(con, cluster: Cluster, doc: Document, date: str | None) -> int:
    """The archive-wide person id of a cluster: an existing person with the
    same canonical name whose offices do not conflict, or a new one."""
    for (person_id,) in con.execute("SELECT person_id FROM person_ids WHERE name_key = ? ORDER BY person_id", (cluster.key,)).fetchall():
        if not _conflicts(con, person_id, cluster.offices, _year(date)):
            return person_id
    name = max((surface(doc, s) for s in cluster.spans), key=lambda t: (len(t.split()), len(t)))
    return con.execute("INSERT INTO person_ids (name_key, name) VALUES (?, ?)", (cluster.key, name)).lastrowid


def _conflicts(con, person_id: int, offices: set[str], year: str | None) -> bool:
    """Conflict: in the same year the person already holds an office with the
    same head word (شهردار) but another place or body (شهردار تهران vs شهردار مشهد)."""
    if not offices or year is None:
        return False
    rows = con.execute("SELECT office FROM holdings WHERE person_id = ? AND substr(date, 1, 4) = ?", (person_id, year)).fetchall()
    for (held,) in rows:
        for office in offices:
            if held != office and held.split()[:1] == office.split()[:1] and held not in office and office not in held:
                return True
    return False


def _load_holdings(con, doc: Document, date, person_of_span: dict[str, int]) -> None:
    by_id = doc.span_by_id()
    for rel in doc.relations:
        if rel.type != "holder" or rel.tail not in person_of_span or rel.head not in by_id:
            continue
        title = by_id[rel.head]
        evidence = sentence_of(doc.text, min(title.start, by_id[rel.tail].start), max(title.end, by_id[rel.tail].end))
        con.execute("INSERT INTO holdings VALUES (?, ?, ?, ?, ?, ?)",
                    (doc.id, person_of_span[rel.tail], title_office(doc, title), surface(doc, title), date, evidence))


def _load_proposals(con, doc: Document, date, person_of_span: dict[str, int]) -> None:
    by_id = doc.span_by_id()
    for span in doc.spans:
        if span.label != "PROPOSAL":
            continue
        proposer = next((by_id[r.tail] for r in doc.relations if r.type == "proposer" and r.head == span.id and r.tail in by_id), None)
        parties = [surface(doc, by_id[r.tail]) for r in doc.relations if r.type == "party" and r.head == span.id and r.tail in by_id]
        con.execute("INSERT OR REPLACE INTO proposals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (
            doc.id, span.id, surface(doc, span), surface(doc, proposer) if proposer else None,
            proposer.label if proposer else None, person_of_span.get(proposer.id) if proposer else None,
            " | ".join(dict.fromkeys(parties)) or None, date, sentence_of(doc.text, span.start, span.end)))


__all__ = ["build", "connect", "BuildReport", "document_date", "load_document", "link_person"]
