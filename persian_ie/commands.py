"""CLI wiring of the later stages: train, evaluate, predict, bench, build-base."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from persian_ie.arg_types import non_negative_float, non_negative_int, positive_int
from persian_ie.errors import InputError
from persian_ie.models.backends import BACKENDS


def train_cli(args) -> int:
    import logging

    from persian_ie.eval.report import to_terminal
    from persian_ie.training.config import load_config
    from persian_ie.training.train import train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("accelerate", "transformers", "datasets", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    cfg = load_config(args.config, args.set)
    summary = train(cfg, resume=args.resume, show_progress=not args.no_progress)
    if not summary.get("main_process", True):
        return 0  # under a multi-process launcher the main process reports
    print(f"\nrun directory: {summary['output_dir']} (best model in model/, reports dev_report.*, test_report.*)")
    print(f"steps: {summary['steps']}, best dev micro-F1: {summary['best_dev_micro_f1']:.4f} at step {summary['best_step']}, training time {summary['train_seconds']:.0f}s")
    if "test_report" in summary:
        print(f"\nTest split ({summary['test_report']['documents']} documents), strict entity-level scores:")
        print(to_terminal(summary["test_report"]))
    if cfg.data.predict_texts:
        _print_facts(Path(cfg.output_dir) / "model", cfg.data.predict_texts)
    return 0


def _print_facts(model_dir: Path, paths: list[str]) -> None:
    from persian_ie.data.readers import read_text_files
    from persian_ie.models.predictor import Predictor

    from persian_ie.data.document import write_documents
    from persian_ie.eval.checklist import SEED_ID, check_seed, format_checklist

    predictor = Predictor.from_pretrained(model_dir)
    docs = predictor.predict_documents(list(read_text_files(paths)))
    # Kept next to the model so `persian-ie show` can render what was printed.
    write_documents(model_dir.parent / "predict_texts.jsonl", docs)
    for doc in docs:
        print(f"\nFacts extracted from {doc.id}:")
        print(format_facts(doc, predictor.schema.labels))
        if doc.id == SEED_ID:  # the user's own example: its key facts as a checklist (issue 10)
            print(format_checklist(check_seed(doc)))
    print(f"\npredictions written to {model_dir.parent / 'predict_texts.jsonl'}")


def format_facts(doc, labels: list[str]) -> str:
    """The spans of each of the schema's ``labels``, then the records (if the model links relations)."""
    text = doc.text or ""
    lines = []
    for label in labels:
        found = sorted({text[s.start:s.end] for s in doc.spans if s.label == label})
        if found:
            lines.append(f"  {label:<9} " + " | ".join(found))
    records = doc.extra.get("records", {})
    for off in records.get("officials", []):
        lines.append(f"  official: {off['person']['text']} — {off['title']['text']}")
    for prop in records.get("proposals", []):
        who = prop["proposer"]["text"] if prop["proposer"] else "?"
        # one name once: a proposal may link two mentions of the same city (the records keep both)
        parties = ", ".join(dict.fromkeys(p["text"] for p in prop["parties"])) or "-"
        lines.append(f"  proposal: «{prop['proposal']['text']}» by {who}; parties: {parties}")
    return "\n".join(lines) or "  (nothing found)"


def _config_and_documents(args):
    """(config, train documents, dev documents) for the commands that add a part to a trained model."""
    from persian_ie.data.schema import load_schema
    from persian_ie.training.config import load_config
    from persian_ie.training.corpora import load_training_documents

    cfg = load_config(args.config, args.set)
    train_docs, dev_docs, _ = load_training_documents(cfg.data, load_schema(cfg.data.schema))
    return cfg, train_docs, dev_docs


def _check_copy_target(args) -> None:
    """train-relations and train-refiner write a copy: an --out that is --model would replace the model read."""
    from persian_ie.errors import OutputPathError

    if Path(args.out).resolve() == Path(args.model).resolve():
        raise OutputPathError(f"--out {args.out} is --model {args.model}: this command writes a copy of the model with the new part, "
                              "and would replace the model it reads. Give a new folder")


def train_relations_cli(args) -> int:
    from persian_ie.training.relations import add_relation_head

    _check_copy_target(args)
    cfg, train_docs, dev_docs = _config_and_documents(args)
    summary = add_relation_head(args.model, args.out, train_docs, dev_docs, cfg.model.relation_head)
    print(f"relation head: {summary['pairs']} candidate pairs ({summary['positives']} gold of {summary['gold_relations']} gold relations), "
          f"loss {summary['loss_first']:.4f} -> {summary['loss_last']:.4f}, {summary['seconds']:.0f}s")
    if "dev_tuned" in summary:
        print("dev (gold spans), F1 at 0.5 -> at tuned thresholds " + json.dumps(summary["thresholds"]))
        for key, row in summary["dev_tuned"].items():
            print(f"  {key:<9} {summary['dev_at_0.5'][key][3]:.3f} -> {row[3]:.3f}")
    print(f"model with relation head: {summary['model_dir']}")
    return 0


def train_refiner_cli(args) -> int:
    from persian_ie.training.span_refiner import add_span_refiner

    _check_copy_target(args)
    cfg, train_docs, dev_docs = _config_and_documents(args)
    summary = add_span_refiner(args.model, args.out, train_docs, dev_docs, cfg.model.span_refiner)
    print(f"span refiner ({summary['label']}): {summary['gold_spans']} gold spans, loss {summary['loss_first']:.4f} -> {summary['loss_last']:.4f}, "
          f"{summary['seconds']:.0f}s")
    if "dev_refined" in summary:
        before, after = summary["dev_tagger"], summary["dev_refined"]
        print(f"dev exact-match F1 of {summary['label']} (word ranges): tagger {before['f1']:.3f} -> refined {after['f1']:.3f} "
              f"(tp {before['tp']} -> {after['tp']}, fp {before['fp']} -> {after['fp']}, fn {before['fn']} -> {after['fn']})")
    print(f"model with span refiner: {summary['model_dir']}")
    return 0


def refuse_outputs_over_inputs(inputs, outputs: dict) -> None:
    """predict's rule for every command that writes files: no output may be an input
    (``evaluate --gold g.jsonl --html g.jsonl`` replaced the gold file) or another output.
    ``outputs``: {option name: path or None}."""
    from persian_ie.inference.run_state import check_output_paths

    check_output_paths([p for p in inputs if p], {name: Path(p) for name, p in outputs.items() if p})


def refuse_missing_files(files, takes: str) -> None:
    """Every command that reads named files: one that is a folder or does not exist is an error naming it,
    before anything is read or written (else it showed up as an empty file, a bad line or a missing text)."""
    not_files = [f"{f} ({'a folder' if Path(f).is_dir() else 'no such file'})" for f in files if not Path(f).is_file()]
    if not_files:
        raise InputError(f"{takes}: {', '.join(not_files)}")


def _given_options(args, names) -> list[str]:
    """The options among ``names`` (argparse dests) the user gave, as typed."""
    return [f"--{name.replace('_', '-')}" for name in names if getattr(args, name)]


MODEL_ONLY_OPTIONS = ("save_predictions", "decoding", "link_gold_spans", "backend")


def _check_evaluate_options(args) -> None:
    """Options that would be dropped without a word are errors: --pred with --model, model options with --pred."""
    if args.pred and args.model:
        raise InputError("evaluate scores --pred or --model, not both: give one")
    unused = _given_options(args, MODEL_ONLY_OPTIONS) if args.pred else []
    if unused:
        raise InputError(f"{', '.join(unused)} {'apply' if len(unused) > 1 else 'applies'} to --model only; with --pred the predictions are read as they are")


def evaluate_cli(args) -> int:
    from persian_ie.data.document import Document, read_documents, write_documents
    from persian_ie.data.schema import load_schema
    from persian_ie.eval.report import compare_reports, evaluate_documents, load_report, to_markdown, to_terminal

    refuse_outputs_over_inputs([args.gold, args.pred, *(args.compare or [])],
                               {"--out": args.out, "--markdown": args.markdown, "--html": args.html, "--save-predictions": args.save_predictions})
    if args.compare:
        unused = _given_options(args, ("gold", "pred", "model", "markdown", "html", "save_predictions"))
        if unused:  # they would be dropped without a word
            raise InputError(f"--compare reads two saved reports; {', '.join(unused)} belong to scoring one (run that first, with --out)")
        a, b = (load_report(p) for p in args.compare)
        result = compare_reports(a, b, args.bootstrap or 1000, args.seed)
        print(f"{'':<22} {'A':>7} {'B':>7} {'delta':>8} {'p':>7}")
        for key in result["delta"]:
            print(f"{key:<22} {result['a'][key]:>7.3f} {result['b'][key]:>7.3f} {result['delta'][key]:>+8.3f} {result['p_value'][key]:>7.3f}")
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=1))
        return 0
    if not args.gold or not (args.pred or args.model):
        raise InputError("evaluate needs --gold and one of --pred or --model (or --compare A.json B.json)")
    _check_evaluate_options(args)
    gold = read_documents(args.gold)
    if args.model:
        from persian_ie.models.predictor import Predictor

        schema = load_schema(args.schema) if args.schema else None
        predictor = Predictor.from_pretrained(args.model, expected_schema=schema, decoding=args.decoding, backend=args.backend or "torch")
        schema = schema or predictor.schema
        if args.link_gold_spans:
            pred = predictor.link_documents([Document(d.id, d.text, d.spans, [], d.meta) for d in gold])
        else:
            pred = predictor.predict_documents(gold_without_annotations(gold))
        if args.save_predictions:
            write_documents(args.save_predictions, pred)
    else:
        schema = load_schema(args.schema or "default")
        pred = read_documents(args.pred)
    report = evaluate_documents(gold, pred, schema, bootstrap=args.bootstrap, seed=args.seed, max_examples=args.examples)
    if args.out:
        Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(to_markdown(report), encoding="utf-8")
    if args.html:
        from persian_ie.eval.html_report import write_html_report

        write_html_report(args.html, report, gold, pred, schema)
    print(to_terminal(report))
    return 0


def gold_without_annotations(docs):
    from persian_ie.data.document import Document

    return [Document(d.id, d.text, meta=d.meta) for d in docs]


def _checked_text(text: str) -> str:
    """``--text`` as Python got it: bytes that are not UTF-8 arrive as lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"--text is not valid UTF-8 (bad byte at character {exc.start}); pass UTF-8 text or a file") from None
    return text


def _warn_unread_folder_entries(inputs, out: Path) -> None:
    from persian_ie.inference.inputs import unread_folder_entries

    for folder, names in unread_folder_entries(inputs, out).items():
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        print(f"warning: {folder}: {len(names)} entr{'y' if len(names) == 1 else 'ies'} not read ({shown}): a folder "
              "gives its *.txt files only; name .jsonl, .csv or .parquet files as inputs themselves", file=sys.stderr)


def predict_cli(args) -> int:
    from persian_ie.inference.inputs import FieldConfig

    fields = FieldConfig(id_field=args.id_field, text_field=args.text_field)
    if args.text is not None:
        batch_only = [name for name, given in (("INPUT files", args.inputs), ("--out", args.out), ("--errors", args.errors),
                                               ("--resume", args.resume), ("--engine ray", args.engine == "ray")) if given]
        if batch_only:  # they would be dropped without a word
            raise InputError(f"--text predicts one string and prints its facts; {', '.join(batch_only)} belong to batch runs. "
                             "Put the text in a .txt file to predict it with the inputs into --out")
        from persian_ie.models.predictor import Predictor

        text = _checked_text(args.text)
        predictor = Predictor.from_pretrained(args.model, backend=args.backend)
        doc = predictor.predict_texts([text])[0]
        print(json.dumps(doc.to_dict(), ensure_ascii=False, indent=1) if args.json else format_facts(doc, predictor.schema.labels))
        return 0
    if not args.inputs or not args.out:
        raise InputError("predict needs INPUT... and --out (or --text)")
    _warn_unread_folder_entries(args.inputs, Path(args.out))
    if args.engine == "ray":
        from persian_ie.inference.ray_engine import RayOptions, run_prediction_ray

        options = RayOptions(errors=args.errors, resume=args.resume, fields=fields, include_text=not args.no_text,
                             shard_size=args.shard_size, batch_tokens=args.batch_tokens, address=args.ray_address,
                             num_actors=args.actors, gpus_per_actor=args.gpus_per_actor, device=args.device, precision=args.precision)
        from persian_ie.inference.runner import id_warnings

        result = run_prediction_ray(args.model, args.inputs, Path(args.out), options)
        print(json.dumps(result))
        for line in id_warnings(result["duplicate_ids"], result["first_duplicate"], result["unnamed"], result["first_unnamed"]):
            print(line, file=sys.stderr)
        if result["shards_unchecked"]:
            print(f"note: {result['shards_unchecked']} shards have no ids file (done by an earlier version): their ids were not checked", file=sys.stderr)
        return 0
    from persian_ie.inference.run_state import check_output_paths
    from persian_ie.inference.runner import resolve_device, run_prediction
    from persian_ie.models.predictor import Predictor

    out = Path(args.out)
    errors = Path(args.errors) if args.errors else out.with_name(out.name + ".errors.jsonl")
    check_output_paths(args.inputs, {"--out": out, "--errors": errors})  # before the model loads: fail fast
    device, dtype = resolve_device(args.device, args.precision)
    predictor = Predictor.from_pretrained(args.model, device=device, dtype=dtype, backend=args.backend)
    summary = run_prediction(predictor, args.inputs, out, errors, resume=args.resume, fields=fields, include_text=not args.no_text,
                             chunk_size=args.chunk_size, batch_tokens=args.batch_tokens, progress=not args.no_progress, model_dir=args.model,
                             prep_workers=args.prep_workers)
    print(summary.line(), file=sys.stderr)
    return 0


def bench_cli(args) -> int:
    from persian_ie.bench.cpu import main as bench_main

    refuse_outputs_over_inputs([args.texts], {"--out": args.out})
    refuse_missing_files([args.texts], "--texts takes a JSONL of articles with a \"text\" field")  # not the timed child processes
    return bench_main(args)


def build_base_cli(args) -> int:
    from persian_ie.models.offline_base import offline_model_dir

    print(offline_model_dir())
    return 0


def convert_model_cli(args) -> int:
    from persian_ie.models.io import convert_model

    print(convert_model(args.old, args.new))
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="fine-tune a layered token classifier from a YAML config")
    p.add_argument("config")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. --set optim.epochs=2")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/checkpoint")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=train_cli)

    p = sub.add_parser("train-relations", help="train the learned relation head on a trained model (encoder frozen) and save a copy")
    p.add_argument("config", help="the YAML config: data.train/dev and model.relation_head settings")
    p.add_argument("--model", required=True, help="a trained model directory (read only)")
    p.add_argument("--out", required=True, help="where the model with its relation head is written")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. --set model.relation_head.epochs=20")
    p.set_defaults(func=train_relations_cli)

    p = sub.add_parser("train-refiner", help="train the span boundary refiner (PROPOSAL by default) on a trained model (frozen) and save a copy")
    p.add_argument("config", help="the YAML config: data.train/dev and model.span_refiner settings")
    p.add_argument("--model", required=True, help="a trained model directory (read only)")
    p.add_argument("--out", required=True, help="where the model with its span refiner is written")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. --set model.span_refiner.epochs=5")
    p.set_defaults(func=train_refiner_cli)

    p = sub.add_parser("evaluate", help="score predictions (or a model) against gold documents")
    p.add_argument("--gold")
    p.add_argument("--pred")
    p.add_argument("--model")
    p.add_argument("--schema")
    p.add_argument("--out", help="write the JSON report here")
    p.add_argument("--markdown", help="write the Markdown report here")
    p.add_argument("--html", help="write the report as a self-contained HTML page (plots, worst documents drawn)")
    p.add_argument("--save-predictions", help="with --model: also write the predictions JSONL")
    p.add_argument("--decoding", choices=["constrained", "argmax"], help="with --model: override the model's decoding")
    p.add_argument("--bootstrap", type=non_negative_int, default=1000, help="bootstrap samples for confidence intervals (0: none)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--examples", type=non_negative_int, default=5, help="error examples per kind")
    p.add_argument("--backend", choices=BACKENDS, help="forward pass with --model: torch (default: float32, the reference figures, the same on every CPU), auto (what predict runs by default), torch-bf16, onnx, onnx-int8")
    p.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"), help="per-label deltas and paired-bootstrap p-values")
    p.add_argument("--link-gold-spans", action="store_true", help="with --model: keep the gold spans and score the model's relation component alone")
    p.set_defaults(func=evaluate_cli)

    p = sub.add_parser("predict", help="extract spans, relations and records from texts or archives")
    p.add_argument("inputs", nargs="*", help=".txt files, folders of them, .jsonl(.gz), .csv or .parquet")
    p.add_argument("--model", required=True)
    p.add_argument("--out")
    p.add_argument("--text", help="predict one string and print the facts")
    p.add_argument("--json", action="store_true", help="with --text: print the JSON document")
    p.add_argument("--errors", help="bad input records go here (default: OUT.errors.jsonl)")
    p.add_argument("--resume", action="store_true", help="skip the records a previous run committed")
    p.add_argument("--no-text", action="store_true", help="leave the text out of the output (text_sha1 stays)")
    p.add_argument("--id-field", default="id")
    p.add_argument("--text-field", default="text")
    p.add_argument("--chunk-size", type=positive_int, default=256, help="records per committed chunk")
    p.add_argument("--batch-tokens", type=positive_int, default=None, help="padded tokens per model batch (default: 2048 on CPU, 8192 on GPU)")
    p.add_argument("--prep-workers", type=non_negative_int, default=0,
                   help="processes for normalization, tokenization and windowing (default 0: a background thread; the local engine only)")
    p.add_argument("--device")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="bf16", help="weights on GPU (on CPU, --backend decides)")
    p.add_argument("--backend", default="auto", choices=BACKENDS, help="forward pass: auto (CPU: bf16 torch where the CPU has bf16 hardware, else float32 ONNX Runtime, else float32 torch; GPU: torch), torch, torch-bf16, onnx, onnx-int8")
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", help="Ray cluster address (default: start a local one)")
    p.add_argument("--actors", type=positive_int, default=1, help="model-holding Ray actors")
    p.add_argument("--gpus-per-actor", type=non_negative_float, default=0)
    p.add_argument("--shard-size", type=positive_int, default=1000)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=predict_cli)

    p = sub.add_parser("bench", help="whole-process wall time and peak memory: HF pipeline vs persian-ie predict on the same texts")
    p.add_argument("--model", help="trained persian-ie model directory (default: heads on the offline base)")
    p.add_argument("--texts", default="../shared/corpora/farsnews/articles.jsonl")
    p.add_argument("--docs", type=positive_int, default=200)
    p.add_argument("--pairs", type=positive_int, default=3, help="timed pairs, alternating order; the ratio is their median")
    p.add_argument("--threads", type=positive_int, help="OMP_NUM_THREADS for both contestants (default: unset, each library's own choice)")
    p.add_argument("--predict-arg", action="append", default=[], metavar="ARG", help="extra predict option, e.g. --predict-arg=--backend=torch")
    p.add_argument("--out", help="write the JSON results here")
    p.set_defaults(func=bench_cli)

    p = sub.add_parser("convert-model", help="write a 0.1.0 model directory (persian_ie.json) in the Hugging Face layout")
    p.add_argument("old")
    p.add_argument("new")
    p.set_defaults(func=convert_model_cli)

    p = sub.add_parser("build-base", help="build (or locate) the offline base model and print its directory")
    p.set_defaults(func=build_base_cli)
