"""The ``persian-ie`` command line.

Each ``<cmd>_cli`` function parses its arguments, calls a library function
that returns data, prints, and returns an exit status. Library code raises
``PersianIEError``; ``main`` is the one place that turns them into exit
codes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

from persian_ie.arg_types import non_negative_int, positive_int
from persian_ie.errors import PersianIEError


def _schema_arg(parser):
    parser.add_argument("--schema", default="default", help="label schema: builtin name (default, peyma, parstwiner) or YAML/JSON path")


def validate_cli(args) -> int:
    from persian_ie.data.schema import load_schema
    from persian_ie.data.validate import validate_files

    report = validate_files(args.files, load_schema(args.schema))
    for problem in report.problems[: args.max_problems]:
        print(problem)
    if len(report.problems) > args.max_problems:
        print(f"... {len(report.problems) - args.max_problems} more problem(s) not shown (--max-problems)")
    print(report.summary())
    return 0 if report.ok else 1


def stats_cli(args) -> int:
    from persian_ie.commands import refuse_missing_files
    from persian_ie.data.schema import load_schema
    from persian_ie.data.stats import corpus_stats, format_stats

    refuse_missing_files(args.files, "stats takes JSONL files")  # a row of 0 documents would look like an empty file
    stats = corpus_stats(args.files, load_schema(args.schema))
    print(json.dumps(stats, ensure_ascii=False, indent=2) if args.json else format_stats(stats))
    for name, st in stats["files"].items():
        if st["unreadable_lines"]:
            print(f"warning: {name}: {st['unreadable_lines']} unreadable line(s) not counted; `persian-ie validate {name}` names them",
                  file=sys.stderr)
    return 0


def annotate_cli(args) -> int:
    from persian_ie.commands import refuse_missing_files
    from persian_ie.data.annotation_tools import check_ann_file, describe_spans
    from persian_ie.data.schema import load_schema

    schema = load_schema(args.schema)
    texts = Path(args.texts) if args.texts else None
    failed = 0
    refuse_missing_files(args.files, "annotate check takes .ann files")  # else each is reported as a missing original text
    for path in args.files:
        result = check_ann_file(Path(path), schema, texts)
        if result.ok:
            print(f"OK {path}: {len(result.doc.spans)} spans, {len(result.doc.relations)} relations")
        else:
            failed += 1
            print(f"FAIL {path}:")
            for err in result.errors:
                print(f"  {err}")
        if result.doc is not None and (args.show or not result.ok):
            print(describe_spans(result.doc))
    print(f"{len(args.files) - failed} ok, {failed} failed")
    return 1 if failed else 0


def show_cli(args) -> int:
    from persian_ie.commands import refuse_outputs_over_inputs
    from persian_ie.data.display import show_file

    refuse_outputs_over_inputs([args.pred, args.gold], {"--out": args.out})
    page = show_file(args.pred, args.out, args.gold, args.ids, args.limit, args.schema)
    for problem in page.problems:
        print(problem, file=sys.stderr)
    print(f"wrote {args.out}: {page.documents} document(s), {len(page.problems)} problem(s) in the input")
    return 1 if page.problems else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="persian-ie", description="Persian news information extraction")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an internal error (also PERSIAN_IE_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check JSONL documents against SCHEMA.md and a label schema")
    p.add_argument("files", nargs="+")
    _schema_arg(p)
    p.add_argument("--max-problems", type=non_negative_int, default=200)
    p.set_defaults(func=validate_cli)

    p = sub.add_parser("stats", help="documents, words, spans per label/layer, relations per type")
    p.add_argument("files", nargs="+")
    _schema_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=stats_cli)

    p = sub.add_parser("annotate", help="annotation tools: check inline .ann files")
    p.add_argument("action", choices=["check"])
    p.add_argument("files", nargs="+")
    p.add_argument("--texts", help="folder of original <id>.txt files (default: ../texts beside the .ann folder)")
    p.add_argument("--show", action="store_true", help="print the span list for passing files too")
    _schema_arg(p)
    p.set_defaults(func=annotate_cli)

    p = sub.add_parser("show", help="draw documents (and differences from gold) as one self-contained right-to-left HTML page")
    p.add_argument("pred", help="JSONL(.gz) of documents, e.g. predict's output")
    p.add_argument("--gold", help="gold JSONL: mark missed, spurious, wrong-boundary and wrong-label spans")
    p.add_argument("--out", required=True, help="the HTML page to write")
    p.add_argument("--ids", nargs="+", help="only these document ids")
    p.add_argument("--limit", type=positive_int, help="at most N documents")
    _schema_arg(p)
    p.set_defaults(func=show_cli)

    _register_later_commands(sub)
    return parser


def _register_later_commands(sub) -> None:
    """Commands of the later stages (training, eval, inference, bench)."""
    from persian_ie import commands

    commands.register(sub)
    from persian_ie import facts_commands

    facts_commands.register(sub)


def _way_on(args) -> str:
    """What an interrupted run kept and how to continue it, for the commands that can."""
    if args.command == "predict" and getattr(args, "out", None) and not getattr(args, "text", None):
        if getattr(args, "engine", None) == "ray":
            return f": the finished shards in {args.out}.shards/ are kept; the same command with --resume continues with the others"
        return f": the chunks committed to {args.out} are kept; the same command with --resume continues after them"
    if args.command == "train":
        return (": the last checkpoint (OUTPUT_DIR/checkpoint, saved at each dev evaluation, if one was reached) is kept; "
                "the same command with --resume continues from it")
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except PersianIEError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a missing or unreadable file named on the command line
        print(f"error: [E502] {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted{_way_on(args)}", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: exit 3 so scripts can tell the two apart
        return _internal_error(exc, args.debug or os.environ.get("PERSIAN_IE_DEBUG") == "1")


def _internal_error(exc: Exception, debug: bool) -> int:
    """Exit codes: 0 ok, 1 invalid data (validate, annotate), 2 a coded error, 3 an internal error."""
    if debug:
        traceback.print_exc()
    first_line = (str(exc).splitlines() or [""])[0][:300]
    hint = "" if debug else " (run with --debug or PERSIAN_IE_DEBUG=1 for the traceback, and report it)"
    print(f"internal error: {type(exc).__name__}: {first_line}{hint}", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main())
