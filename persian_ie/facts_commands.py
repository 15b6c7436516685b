"""CLI wiring of ``persian-ie facts build|export|who|person`` (library in inference/facts/)."""

from __future__ import annotations

import sys

from persian_ie.arg_types import non_negative_int


def _short(text, width: int = 110) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def build_cli(args) -> int:
    from persian_ie.commands import refuse_missing_files
    from persian_ie.inference.facts.store import build

    # before the database is touched: a mistyped name would skip a whole file as "1 bad line"
    refuse_missing_files(args.files, "facts build takes predict's JSONL files (nothing was loaded)")
    report = build(args.files, args.db)
    for problem in report.problems[: args.max_problems]:
        print(problem, file=sys.stderr)
    print(f"{args.db}: {report.summary()}")
    return 0


def export_cli(args) -> int:
    from persian_ie.inference.facts.query import export

    for table, path in export(args.db, args.out, args.format).items():
        print(f"{table}: {path}")
    return 0


def who_cli(args) -> int:
    from persian_ie.inference.facts.query import who

    if not args.office.strip():
        from persian_ie.errors import InputError

        raise InputError("facts who: give an office, e.g. «شهردار مشهد»")
    rows = who(args.db, args.office)
    if not rows:
        print(f"no holder of «{args.office}» in {args.db}")
        return 1
    for r in rows:
        print(f"{r['name']}  (person {r['person_id']})  {r['office']}  {r['first_seen'] or '?'} .. {r['last_seen'] or '?'}  in {r['documents']} document(s)")
        print(f"    evidence: {_short(r['evidence'])}")
    return 0


def person_cli(args) -> int:
    from persian_ie.inference.facts.query import person

    if not args.name.strip():  # an empty pattern matches everyone
        from persian_ie.errors import InputError

        raise InputError("facts person: give a name, or part of one")
    people = person(args.db, args.name)
    if not people:
        print(f"no person matching «{args.name}» in {args.db}")
        return 1
    for p in people:
        print(f"person {p['person_id']}: {p['name']}  ({p['mentions']} mention(s) in {p['documents']} document(s))")
        print(f"  spellings: {p['variants']}")
        for o in p["offices"]:
            print(f"  office: {o['office']}  {o['first_seen'] or '?'} .. {o['last_seen'] or '?'}\n    evidence: {_short(o['evidence'])}")
        for q in p["proposals"]:
            print(f"  proposed: {q['text']}  (parties: {q['parties'] or '-'}; {q['date'] or 'no date'}, {q['doc_id']})\n    evidence: {_short(q['evidence'])}")
    return 0


def register(sub) -> None:
    facts = sub.add_parser("facts", help="archive facts: people, offices and proposals across predict output, in SQLite")
    fsub = facts.add_subparsers(dest="facts_command", required=True)
    p = fsub.add_parser("build", help="load predict output (JSONL[.gz]) into the facts database, incrementally")
    p.add_argument("files", nargs="+")
    p.add_argument("--db", required=True, help="the SQLite file (created if missing)")
    p.add_argument("--max-problems", type=non_negative_int, default=50)
    p.set_defaults(func=build_cli)
    p = fsub.add_parser("export", help="write every table as CSV or Parquet")
    p.add_argument("--db", required=True)
    p.add_argument("--format", default="csv", help="csv or parquet")
    p.add_argument("--out", required=True, help="folder for <table>.<format>")
    p.set_defaults(func=export_cli)
    p = fsub.add_parser("who", help="who held an office, when, with evidence")
    p.add_argument("office")
    p.add_argument("--db", required=True)
    p.set_defaults(func=who_cli)
    p = fsub.add_parser("person", help="a person's spellings, offices and proposals")
    p.add_argument("name")
    p.add_argument("--db", required=True)
    p.set_defaults(func=person_cli)
