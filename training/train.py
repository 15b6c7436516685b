"""The training job: accelerate loop with dev-F1 model selection and resume.

``train(config)`` returns a summary dict; it never prints or exits (the CLI
does). Run directory layout::

    OUTPUT_DIR/config.yaml         the exact resolved config
    OUTPUT_DIR/log.jsonl           loss and dev F1 per evaluation
    OUTPUT_DIR/checkpoint/         last state for --resume (model, optimizer, scheduler, RNG, progress, and the
                                   settings it was built with, which a resume must keep: settings.json)
    OUTPUT_DIR/model/              best model by dev strict micro-F1 (persian-ie model directory)
    OUTPUT_DIR/dev_report.json|md, test_report.json|md

Multi-GPU: ``accelerate launch -m persian_ie.cli train CONFIG`` (or torchrun)
with the same config; accelerate shards the batches, so ``optim.batch_size``
is per process and a step sees ``batch_size x processes`` windows. Only the
main process writes the run directory (config, cache, log, model, reports);
the one exception is ``checkpoint/random_states_N.pkl``, each process's RNG
state, which accelerate saves so that ``--resume`` continues every process.
Without GPUs: ``ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu
--num_processes 2 ...`` (gloo; tests/test_multiprocess_training.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from persian_ie.data.dataset import build_dataset
from persian_ie.data.normalize import Normalizer, NormalizerConfig
from persian_ie.data.schema import load_schema
from persian_ie.errors import ConfigError, DistributedSetupError
from persian_ie.models.base import load_encoder_and_tokenizer
from persian_ie.models.configuration import build_config
from persian_ie.models.encoder_split import (SeenRowsEmbedding, freeze_lower, keep_lower_layers, merged_embeddings, reinit_upper_layers,
                                             train_seen_rows, transformer_blocks)
from persian_ie.models.layered import LayeredTokenClassifier
from persian_ie.training.batching import Collator, LengthGroupedBatches, batch_to
from persian_ie.training.config import TrainConfig
from persian_ie.training.lower_cache import Indexed, LowerStateCache
from persian_ie.training.corpora import load_training_documents
from persian_ie.training.evaluation import evaluate_model, write_reports
from persian_ie.training.saving import save_run_model
from persian_ie.training.weight_average import WeightAverage

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """What --resume needs besides the accelerate state."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_f1: float = -1.0
    best_step: int = 0
    evals_without_improvement: int = 0
    history: list = field(default_factory=list)


def _mixed_precision(cfg: TrainConfig) -> str:
    wanted = cfg.optim.precision
    if wanted == "auto":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    return {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[wanted]


def _lr_scales(model: LayeredTokenClassifier, decay: float) -> dict[int, float]:
    """``id(parameter)`` -> its share of ``optim.lr`` under layer-wise decay: transformer layer i of L at
    decay^(L - 1 - i), the rest of the encoder (embeddings) at decay^L; parameters not listed train at
    ``lr``. The layers are found as the other layer settings find them (a non-BERT layout is refused)."""
    if decay == 1:
        return {}
    blocks = transformer_blocks(model.encoder, "optim.layer_lr_decay")
    scales = {id(p): decay ** len(blocks) for p in model.encoder.parameters()}
    for i, block in enumerate(blocks):
        scales.update((id(p), decay ** (len(blocks) - 1 - i)) for p in block.parameters())
    return scales


def _optimizer(model: LayeredTokenClassifier, cfg: TrainConfig):
    scales = _lr_scales(model, cfg.optim.layer_lr_decay)
    groups: dict[tuple, dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name.startswith("heads."):
            key = (True, False, cfg.optim.head_lr)  # (a head, weight-decayed, lr)
        else:  # matrices decay, biases and LayerNorms do not, each its own group even at weight_decay 0
            key = (False, param.ndim >= 2, cfg.optim.lr * scales.get(id(param), 1.0))
        decay = cfg.optim.weight_decay if key[1] else 0.0
        groups.setdefault(key, {"params": [], "lr": key[2], "weight_decay": decay})["params"].append(param)
    # the order the groups always had (weight-decayed, not decayed, heads), so checkpoints stay loadable
    ordered = [groups[key] for key in sorted(groups, key=lambda k: (k[0], not k[1], -k[2]))]
    fused = torch.cuda.is_available()
    return torch.optim.AdamW(ordered, fused=fused)


def build_model(cfg: TrainConfig, schema, normalizer: Normalizer, name: str):
    """The model and tokenizer; the model's config carries every setting prediction needs."""
    encoder, tokenizer = load_encoder_and_tokenizer(cfg.model.base)
    if cfg.model.encoder_layers:
        keep_lower_layers(encoder, cfg.model.encoder_layers)
    config = build_config(encoder.config, schema, {"max_length": cfg.window.max_length, "stride": cfg.window.stride},
                          normalization=normalizer.config.to_dict(), decoding=cfg.model.decoding, dropout=cfg.model.dropout,
                          loss_weights=cfg.model.loss_weights, tag_weights=cfg.model.tag_weights, base_model=cfg.model.base, run_name=name, training_config=cfg.to_dict())
    model = LayeredTokenClassifier(config, encoder=encoder)
    if cfg.model.freeze_embeddings:
        # Most of the offline base's 118M parameters are its 250k-row word
        # embedding matrix: freezing it removes most optimizer work on CPU.
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
    if cfg.model.freeze_layers:
        freeze_lower(model.encoder, cfg.model.freeze_layers)  # checks the split first
    if cfg.model.reinit_layers:
        reinit_upper_layers(model.encoder, cfg.model.reinit_layers, frozen=cfg.model.freeze_layers)
    return model, tokenizer


def seen_piece_ids(dataset) -> torch.Tensor:
    """Every piece id the training windows contain (the embedding rows ``freeze_embeddings: unseen`` trains)."""
    return torch.unique(torch.cat([torch.as_tensor(ids, dtype=torch.long) for ids in dataset["input_ids"]]))


def shaping_settings(cfg: TrainConfig, model, schema) -> dict:
    """The settings a checkpoint's parameters and optimizer groups are built from, in a form that compares
    equal for the same model: the schema's tags (not its file name), a local base as its resolved path, the
    encoder's actual depth."""
    base = cfg.model.base
    if not base.startswith("offline:") and Path(base).exists():
        base = str(Path(base).resolve())
    settings = {"data.schema": {layer: list(schema.tags(layer)) for layer in schema.layers}, "model.base": base,
                "model.encoder_layers": model.encoder.config.num_hidden_layers, "model.freeze_layers": cfg.model.freeze_layers,
                "model.freeze_embeddings": cfg.model.freeze_embeddings if cfg.model.freeze_embeddings == "unseen" else bool(cfg.model.freeze_embeddings),
                "optim.layer_lr_decay": cfg.optim.layer_lr_decay}
    embedding = model.encoder.get_input_embeddings()
    if isinstance(embedding, SeenRowsEmbedding):  # other training data would put the offsets on other rows
        settings["trained embedding rows (from the training data)"] = embedding.rows_digest()
    return settings


def _write_json(path: Path, value) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, ensure_ascii=False))
    tmp.replace(path)  # never half written: a crash leaves the previous file


def _save_checkpoint(accelerator, out: Path, progress: Progress, average: WeightAverage | None, settings: dict) -> None:
    ckpt = out / "checkpoint"
    accelerator.save_state(str(ckpt), safe_serialization=True)
    if accelerator.is_main_process:
        if average is not None:
            average.save(ckpt)
        _write_json(ckpt / "settings.json", settings)
        _write_json(ckpt / "progress.json", progress.__dict__)


# Settings added to settings.json after checkpoints were first saved, with the value older ones were built with.
SETTINGS_ADDED_LATER = {"optim.layer_lr_decay": 1.0}


def _check_settings(ckpt: Path, settings: dict) -> None:
    """Refuse, naming each one, settings that differ from those the checkpoint was saved with: loading it
    would otherwise fail deep in accelerate (optimizer groups, tensor shapes) naming none of them."""
    saved_file = ckpt / "settings.json"
    if not saved_file.exists():
        return  # saved before the file existed: the loaders' own errors are all there is
    saved = {**SETTINGS_ADDED_LATER, **json.loads(saved_file.read_text())}
    changed = ["data.schema (its layers or tags differ)" if key == "data.schema" else f"{key}: {saved.get(key)!r} then, {value!r} now"
               for key, value in settings.items() if saved.get(key) != value]
    if changed:
        raise ConfigError(f"--resume: the checkpoint in {ckpt} was saved with other settings: {'; '.join(changed)}. "
                          "Set these back, or train into a new output_dir")


def _load_checkpoint(accelerator, out: Path, average: WeightAverage | None, settings: dict) -> Progress:
    ckpt = out / "checkpoint"
    if not (ckpt / "progress.json").exists():
        raise ConfigError(f"--resume: no checkpoint in {ckpt}; start without --resume, or point output_dir at the interrupted run")
    _check_settings(ckpt, settings)
    if average is not None:  # before the model and optimizer, whose mismatch errors would not name the option
        average.load(ckpt)
    accelerator.load_state(str(ckpt))
    return Progress(**json.loads((ckpt / "progress.json").read_text()))


def train(cfg: TrainConfig, resume: bool = False, show_progress: bool = True) -> dict:
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    out = Path(cfg.output_dir)
    set_seed(cfg.seed)
    accelerator = Accelerator(mixed_precision=_mixed_precision(cfg), gradient_accumulation_steps=cfg.optim.grad_accum)
    _check_one_run(accelerator)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), allow_unicode=True, sort_keys=False), encoding="utf-8")
    schema = load_schema(cfg.data.schema)
    normalizer = Normalizer(NormalizerConfig.from_dict(cfg.normalization))
    train_docs, dev_docs, test_docs = load_training_documents(cfg.data, schema, cfg.seed)
    model, tokenizer = build_model(cfg, schema, normalizer, cfg.name or out.name)
    with accelerator.main_process_first():  # the main process writes the window cache, the others read it
        dataset = build_dataset(train_docs, tokenizer, schema, normalizer, cfg.window.max_length, cfg.window.stride, out / "cache")
    if cfg.model.freeze_embeddings == "unseen":
        train_seen_rows(model.encoder, seen_piece_ids(dataset))
    sampler = LengthGroupedBatches(dataset["length"], cfg.optim.batch_size, cfg.seed, cfg.optim.group_by_length)
    pad_id = tokenizer.pad_token_id or 0
    lower = None
    if cfg.model.freeze_layers:
        lower = LowerStateCache(model.encoder.to(accelerator.device), dataset, cfg.model.freeze_layers, accelerator.device, pad_id,
                                show_progress=show_progress and accelerator.is_main_process)
        dataset = Indexed(dataset)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=Collator(pad_id, list(schema.layers), lower))
    # each process gets every num_processes-th batch (accelerate pads the last round)
    batches_per_epoch = math.ceil(len(sampler) / accelerator.num_processes)
    steps_per_epoch = math.ceil(batches_per_epoch / cfg.optim.grad_accum)
    total_steps = cfg.optim.max_steps or max(1, int(steps_per_epoch * cfg.optim.epochs))
    from transformers import get_linear_schedule_with_warmup

    optimizer = _optimizer(model, cfg)
    # accelerate steps a prepared scheduler once per process at each optimizer
    # step (lengths in single-process batches); ours are in optimizer steps
    per_step = accelerator.num_processes
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.optim.warmup_ratio * total_steps) * per_step, total_steps * per_step)
    if cfg.optim.compile:
        # In place (nn.Module.compile): the state-dict keys stay ``encoder.*``,
        # so the best model saves and reloads like an uncompiled one.
        model.encoder.compile(dynamic=True)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    average = WeightAverage(accelerator.unwrap_model(model), cfg.optim.ema_decay) if cfg.optim.ema_decay else None
    settings = shaping_settings(cfg, accelerator.unwrap_model(model), schema)
    progress = _load_checkpoint(accelerator, out, average, settings) if resume else Progress()
    # Starting a DataLoader iterator draws its base seed from the global RNG. The uninterrupted run drew
    # it before the checkpoint was saved, so the resumed run puts back the state the checkpoint restored
    # once its first iterator exists: dropout then sees the same numbers and resuming is exact.
    restored_rng = torch.get_rng_state() if resume else None
    bar = tqdm(total=total_steps, initial=progress.step, desc="train", disable=not (show_progress and accelerator.is_main_process), unit="step")
    started = time.time()
    stop = False
    while progress.step < total_steps and not stop:
        sampler.set_epoch(progress.epoch)
        epoch_loader = accelerator.prepare_data_loader(loader) if accelerator.num_processes > 1 else loader
        batches = accelerator.skip_first_batches(epoch_loader, progress.batch_in_epoch) if progress.batch_in_epoch else epoch_loader
        model.train()
        batches = iter(batches)
        if restored_rng is not None:
            torch.set_rng_state(restored_rng)
            restored_rng = None
        for batch in batches:
            batch = batch_to(batch, accelerator.device)
            with accelerator.accumulate(model):
                loss = model(**batch, lower_layers=cfg.model.freeze_layers)["loss"]
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.optim.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.optim.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            progress.batch_in_epoch += 1
            if not accelerator.sync_gradients:
                continue
            progress.step += 1
            if average is not None:
                average.update()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}", best_f1=f"{max(progress.best_f1, 0):.3f}")
            end_of_epoch = progress.batch_in_epoch >= batches_per_epoch
            due = (cfg.optim.eval_every_steps and progress.step % cfg.optim.eval_every_steps == 0) or (not cfg.optim.eval_every_steps and end_of_epoch)
            if due or progress.step >= total_steps:
                with average.swapped_in() if average is not None else contextlib.nullcontext():
                    stop = _evaluate_and_select(accelerator, model, tokenizer, dev_docs, schema, out, progress, float(loss.item()), cfg)
                _save_checkpoint(accelerator, out, progress, average, settings)
            if stop or progress.step >= total_steps:
                break
        else:
            progress.epoch += 1
            progress.batch_in_epoch = 0
    bar.close()
    if cfg.model.linking == "learned" and accelerator.is_main_process:
        from persian_ie.training.relations import add_relation_head

        # phase 2: the relation head on the best model's frozen encoder, saved into the same directory
        relations = add_relation_head(out / "model", out / "model", train_docs, dev_docs, cfg.model.relation_head)
        (out / "relation_head.json").write_text(json.dumps(relations, indent=1))
    if cfg.model.refine_spans and accelerator.is_main_process:
        from persian_ie.training.span_refiner import add_span_refiner

        # phase 3: the span boundary refiner on the same frozen model, saved into the same directory
        refiner = add_span_refiner(out / "model", out / "model", train_docs, dev_docs, cfg.model.span_refiner)
        (out / "span_refiner.json").write_text(json.dumps(refiner, indent=1))
    return _finish(accelerator, out, dev_docs, test_docs, schema, progress, cfg, time.time() - started)


def _check_one_run(accelerator) -> None:
    """Refuse launcher processes that do not form one group: each would train alone into the same directory."""
    launched = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if launched > 1 and accelerator.num_processes != launched:
        raise DistributedSetupError(
            f"the launcher started WORLD_SIZE={launched} processes but accelerate sees {accelerator.num_processes} "
            f"({accelerator.distributed_type}); without GPUs set ACCELERATE_USE_CPU=1 "
            "(ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes N -m persian_ie.cli train CONFIG)"
        )


def _evaluate_and_select(accelerator, model, tokenizer, dev_docs, schema, out, progress, loss, cfg) -> bool:
    """Dev evaluation, best-model saving and early stopping. Returns True to stop."""
    unwrapped = accelerator.unwrap_model(model)
    f1 = None
    if dev_docs:
        report = evaluate_model(unwrapped, tokenizer, dev_docs, schema, accelerator.device, bootstrap=0)
        f1 = report["micro"]["f1"]
    entry = {"step": progress.step, "epoch": progress.epoch, "loss": loss, "dev_micro_f1": f1, "time": time.time()}
    progress.history.append(entry)
    if accelerator.is_main_process:
        with open(out / "log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
        log.info("step %d: loss %.4f dev micro-F1 %s", progress.step, loss, f"{f1:.4f}" if f1 is not None else "n/a")
    improved = f1 is None or f1 > progress.best_f1
    if improved:
        progress.best_f1 = f1 if f1 is not None else progress.best_f1
        progress.best_step = progress.step
        progress.evals_without_improvement = 0
        if accelerator.is_main_process:
            with merged_embeddings(unwrapped.encoder):  # a saved model is a plain one
                save_run_model(unwrapped, tokenizer, out / "model", cfg, progress.best_f1)
    else:
        progress.evals_without_improvement += 1
    model.train()
    return bool(cfg.optim.patience) and progress.evals_without_improvement >= cfg.optim.patience


def _finish(accelerator, out, dev_docs, test_docs, schema, progress, cfg, seconds) -> dict:
    summary = {"output_dir": str(out), "steps": progress.step, "best_step": progress.best_step, "best_dev_micro_f1": progress.best_f1, "train_seconds": round(seconds, 1)}
    if accelerator.is_main_process:
        from persian_ie.models.predictor import Predictor

        # float32 torch: the run's reported figures must not depend on the CPU's bf16 hardware
        predictor = Predictor.from_pretrained(out / "model", device=str(accelerator.device), backend="torch")
        for split, docs in (("dev", dev_docs), ("test", test_docs)):
            if docs:
                report = write_reports(predictor, docs, schema, out / f"{split}_report", cfg.bootstrap)
                summary[f"{split}_micro_f1"] = report["micro"]["f1"]
                summary[f"{split}_report"] = report
        (out / "summary.json").write_text(json.dumps({k: v for k, v in summary.items() if not k.endswith("_report")}, indent=2))
    accelerator.wait_for_everyone()  # the other processes end with the main one's reports
    summary["main_process"] = accelerator.is_main_process
    return summary
