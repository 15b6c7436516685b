"""Archive facts: one record per person and office across predict output,
in an embedded SQLite database (see docs/facts.md)."""
