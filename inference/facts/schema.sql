-- The facts database (SQLite). Per-document rows live in tables keyed by
-- doc_id, so reloading a document replaces its rows; the per-person and
-- per-office aggregates are views over them, never stale.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS documents (
  doc_id TEXT PRIMARY KEY, text_sha1 TEXT, model TEXT, date TEXT,
  source_file TEXT, source_line INTEGER, loads INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS person_ids (
  person_id INTEGER PRIMARY KEY, name_key TEXT NOT NULL, name TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS person_ids_key ON person_ids(name_key);
CREATE TABLE IF NOT EXISTS mentions (
  doc_id TEXT NOT NULL, span_id TEXT NOT NULL, label TEXT NOT NULL, start INTEGER, "end" INTEGER,
  text TEXT, canonical_key TEXT, person_id INTEGER, evidence TEXT, PRIMARY KEY (doc_id, span_id));
CREATE INDEX IF NOT EXISTS mentions_person ON mentions(person_id);
CREATE TABLE IF NOT EXISTS holdings (
  doc_id TEXT NOT NULL, person_id INTEGER NOT NULL, office TEXT NOT NULL, title TEXT,
  date TEXT, evidence TEXT);
CREATE INDEX IF NOT EXISTS holdings_doc ON holdings(doc_id);
CREATE INDEX IF NOT EXISTS holdings_office ON holdings(office);
CREATE INDEX IF NOT EXISTS holdings_person ON holdings(person_id);
CREATE TABLE IF NOT EXISTS proposals (
  doc_id TEXT NOT NULL, span_id TEXT NOT NULL, text TEXT, proposer TEXT, proposer_label TEXT,
  proposer_person_id INTEGER, parties TEXT, date TEXT, evidence TEXT, PRIMARY KEY (doc_id, span_id));
CREATE INDEX IF NOT EXISTS proposals_person ON proposals(proposer_person_id);
CREATE VIEW IF NOT EXISTS persons AS
  SELECT p.person_id, p.name, p.name_key,
    (SELECT group_concat(v, ' | ') FROM (SELECT DISTINCT m2.text AS v FROM mentions m2
       WHERE m2.person_id = p.person_id ORDER BY v)) AS variants,
    count(m.span_id) AS mentions, count(DISTINCT m.doc_id) AS documents
  FROM person_ids p JOIN mentions m ON m.person_id = p.person_id GROUP BY p.person_id;
CREATE VIEW IF NOT EXISTS officials AS
  SELECT h.person_id, p.name, h.office, min(h.date) AS first_seen, max(h.date) AS last_seen,
    count(DISTINCT h.doc_id) AS documents, min(h.evidence) AS evidence
  FROM holdings h JOIN person_ids p ON p.person_id = h.person_id GROUP BY h.person_id, h.office;
CREATE VIEW IF NOT EXISTS offices AS
  SELECT office, count(DISTINCT person_id) AS holders, count(DISTINCT doc_id) AS documents,
    min(date) AS first_seen, max(date) AS last_seen FROM holdings GROUP BY office;
