"""Read the facts database: exports (CSV / Parquet) and the ``who`` / ``person`` look-ups."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from persian_ie.data.names import compact, office_key
from persian_ie.errors import FactsDatabaseError, FactsExportError

TABLES = ("documents", "mentions", "persons", "offices", "officials", "proposals")


def open_existing(db: str | Path) -> sqlite3.Connection:
    if not Path(db).is_file():
        raise FactsDatabaseError(f"{db}: no such facts database; create it with `persian-ie facts build PRED.jsonl --db {db}`")
    from persian_ie.inference.facts.store import connect

    return connect(db)


def export(db: str | Path, out: str | Path, fmt: str = "csv") -> dict[str, Path]:
    """Write every table (and aggregate view) as ``OUT/<table>.csv|parquet``; returns the paths."""
    if fmt not in ("csv", "parquet"):
        raise FactsExportError(f"--format {fmt!r}: use csv or parquet")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise FactsExportError("--format parquet needs pyarrow: pip install 'persian-ie[parquet]', or use --format csv") from exc
    con = open_existing(db)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    try:
        for table in TABLES:
            cursor = con.execute(f"SELECT * FROM {table}")
            columns = [c[0] for c in cursor.description]
            path = out / f"{table}.{fmt}"
            (_write_csv if fmt == "csv" else _write_parquet)(path, columns, cursor)
            written[table] = path
    finally:
        con.close()
    return written


def _write_csv(path: Path, columns, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(rows)


def _write_parquet(path: Path, columns, cursor, batch: int = 50_000) -> None:
    """Streamed in row groups so a large table never sits whole in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    while True:
        rows = cursor.fetchmany(batch)
        if not rows and writer is not None:
            break
        table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
        if writer is None:  # a column that is all NULL in the first batch is typed as text
            schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema])
            writer = pq.ParquetWriter(str(path), schema)
        writer.write_table(table.cast(writer.schema) if table.num_rows else table)
        if not rows:
            break
    writer.close()


def who(db: str | Path, office: str) -> list[dict]:
    """Holders of an office (exact canonical key first, else offices containing it), with dates and evidence."""
    key = office_key(office)
    con = open_existing(db)
    try:
        sql = "SELECT name, person_id, office, first_seen, last_seen, documents, evidence FROM officials WHERE office {} ORDER BY first_seen, name"
        rows = con.execute(sql.format("= ?"), (key,)).fetchall() or con.execute(sql.format("LIKE ?"), (f"%{key}%",)).fetchall()
    finally:
        con.close()
    names = ("name", "person_id", "office", "first_seen", "last_seen", "documents", "evidence")
    return [dict(zip(names, r)) for r in rows]


def person(db: str | Path, name: str) -> list[dict]:
    """People whose canonical key contains the query, each with offices and proposals."""
    key = compact(name)
    con = open_existing(db)
    try:
        people = con.execute("SELECT person_id, name, variants, mentions, documents FROM persons "
                             "WHERE name_key LIKE ? OR variants LIKE ? ORDER BY documents DESC, person_id",
                             (f"%{key}%", f"%{name}%")).fetchall()
        result = []
        for pid, pname, variants, mentions, documents in people:
            offices = con.execute("SELECT office, first_seen, last_seen, documents, evidence FROM officials WHERE person_id = ?", (pid,)).fetchall()
            proposals = con.execute("SELECT text, parties, date, doc_id, evidence FROM proposals WHERE proposer_person_id = ?", (pid,)).fetchall()
            result.append({"person_id": pid, "name": pname, "variants": variants, "mentions": mentions, "documents": documents,
                           "offices": [dict(zip(("office", "first_seen", "last_seen", "documents", "evidence"), o)) for o in offices],
                           "proposals": [dict(zip(("text", "parties", "date", "doc_id", "evidence"), p)) for p in proposals]})
    finally:
        con.close()
    return result


__all__ = ["export", "who", "person", "TABLES", "open_existing"]
