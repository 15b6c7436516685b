"""Loading the training, dev and test documents a config names."""

from __future__ import annotations

import itertools
import logging
import math
import random
from pathlib import Path

from persian_ie.data.document import Document, PartialAnnotation, read_numbered_documents
from persian_ie.data.readers import ReaderStats, read_conll, read_peyma
from persian_ie.data.schema import LabelSchema
from persian_ie.data.validate import document_problems
from persian_ie.errors import ConfigError, TrainingDataError
from persian_ie.training.config import AuxCorpus

log = logging.getLogger(__name__)


def read_corpus(path: str, fmt: str = "jsonl", label_map: dict | None = None, limit: int | None = None) -> tuple[list[Document], list[int]]:
    """The first ``limit`` documents (all when None) of one corpus file and each one's line in it (for
    JSONL as `persian-ie validate` counts them; for the tagged formats the sentence's first line, which
    the readers keep in ``meta``). Spans the label map drops are counted over the documents kept."""
    if fmt == "jsonl":
        numbered = read_numbered_documents(path, limit=limit)
        docs, lines = [doc for _, doc in numbered], [line for line, _ in numbered]
        if label_map:
            dropped: dict = {}
            docs = [_remap(d, label_map, dropped) for d in docs]
            if dropped:
                log.info("%s: dropped spans by label map: %s", path, dropped)
        return docs, lines
    if fmt in ("peyma", "conll"):
        stats = ReaderStats()
        reader = read_peyma if fmt == "peyma" else read_conll
        docs = list(itertools.islice(reader(path, label_map or None, stats=stats), limit))
        if stats.dropped:
            log.info("%s: dropped spans by label map: %s", path, dict(stats.dropped))
        return docs, [int((d.meta or {}).get("line", 0)) for d in docs]
    raise ConfigError(f"unknown corpus format {fmt!r} for {path}; use jsonl, peyma or conll")


def _remap(doc: Document, label_map: dict, dropped: dict) -> Document:
    kept = []
    for span in doc.spans:
        target = label_map.get(span.label, span.label)
        if target is None:
            dropped[span.label] = dropped.get(span.label, 0) + 1
            doc.dropped_spans.append((span.start, span.end, span.label))
        else:
            span.label = target
            kept.append(span)
    ids = {s.id for s in kept}
    doc.spans = kept
    doc.relations = [r for r in doc.relations if r.head in ids and r.tail in ids]
    return doc


def _check_labels(docs: list[Document], schema: LabelSchema, where: str, places: list[str]) -> None:
    first: dict[str, str] = {}  # label -> where it first occurs
    for doc, place in zip(docs, places):
        for span in doc.spans:
            if schema.layer_of(span.label) is None:
                first.setdefault(span.label, f"{place} span={span.id}")
    if first:
        raise ConfigError(
            f"{where}: labels {sorted(first)} are not in schema {schema.name!r} {schema.labels} (first: "
            + "; ".join(f"{label} at {first[label]}" for label in sorted(first))
            + "); map them with a label_map (null drops a label) or choose another schema (data.schema)"
        )


def train_subset(docs: list[Document], fraction: float, seed: int) -> list[Document]:
    """The first ``ceil(fraction * n)`` documents of one seeded order, in corpus order.

    The order depends on the seed and the number of documents only, so for one
    corpus and seed a smaller fraction's subset lies inside a larger one's
    (nested learning-curve points).
    """
    if fraction >= 1:
        return list(docs)
    order = list(range(len(docs)))
    random.Random(f"train-fraction:{seed}").shuffle(order)
    keep = sorted(order[: max(1, math.ceil(fraction * len(docs)))])
    return [docs[i] for i in keep]


def load_training_documents(data_cfg, schema: LabelSchema, seed: int = 13) -> tuple[list[Document], list[Document], list[Document]]:
    """(train + auxiliary, dev, test) documents, each file checked against the schema as it is read."""
    if not data_cfg.train:
        raise ConfigError("data.train is empty: name at least one training file")
    train = [d for path in data_cfg.train for d in _read_checked(path, data_cfg.format, schema, "data.train")]
    fraction = getattr(data_cfg, "train_fraction", 1.0)
    if fraction < 1:
        read = len(train)
        train = train_subset(train, fraction, seed)
        log.info("data.train_fraction %.2f: %d of %d training documents", fraction, len(train), read)
    for i, aux in enumerate(data_cfg.auxiliary):
        aux = aux if isinstance(aux, AuxCorpus) else AuxCorpus(**aux)
        docs = _read_checked(aux.path, aux.format, schema, f"data.auxiliary[{i}]", aux.label_map, aux.max_documents)
        train += mark_partial(docs, aux, schema, f"data.auxiliary[{i}]")
    dev = _read_checked(data_cfg.dev, data_cfg.format, schema, "data.dev") if data_cfg.dev else []
    test = _read_checked(data_cfg.test, data_cfg.format, schema, "data.test") if data_cfg.test else []
    if not any(d.text and d.text.strip() for d in train):
        raise TrainingDataError(
            f"data.train ({', '.join(map(str, data_cfg.train))}): no document with text "
            f"({len(train)} read); training needs at least one non-empty document"
        )
    return train, dev, test


def annotated_labels(aux: AuxCorpus, docs: list[Document], schema: LabelSchema, key: str) -> frozenset:
    """The schema labels an auxiliary corpus annotates: ``annotates`` when given; else, with a
    label map, its targets and the labels its spans keep; else every label."""
    kept = {s.label for d in docs for s in d.spans}
    if aux.annotates is not None:
        not_in_schema = sorted(set(aux.annotates) - set(schema.labels))
        if not_in_schema:
            raise ConfigError(f"{key}.annotates: {not_in_schema} are not labels of schema {schema.name!r} {schema.labels}")
        unlisted = sorted(kept - set(aux.annotates))
        if unlisted:
            raise ConfigError(f"{key}.annotates: the corpus has spans labelled {unlisted}, which annotates {sorted(aux.annotates)} leaves out; "
                              "list them, or map them to null in label_map")
        annotated = frozenset(aux.annotates)
    elif aux.label_map:
        annotated = (frozenset(t for t in aux.label_map.values() if t is not None) | kept) & frozenset(schema.labels)
    else:
        annotated = frozenset(schema.labels)
    if not annotated:
        raise ConfigError(f"{key}: the corpus annotates no label of schema {schema.name!r} {schema.labels} (label_map {aux.label_map}); it would teach nothing")
    return annotated


def mark_partial(docs: list[Document], aux: AuxCorpus, schema: LabelSchema, key: str) -> list[Document]:
    """Give each document of a partly annotated auxiliary corpus its ``PartialAnnotation``: the
    words of spans the label map dropped are unknown, except for labels in ``aux.outside``
    (dates, amounts: never a schema label); logs what the corpus teaches. A fully annotated corpus
    that dropped nothing is left as it is."""
    outside = set(aux.outside or ())
    dropped_on_purpose = {label for label, target in (aux.label_map or {}).items() if target is None}
    if outside - dropped_on_purpose:
        raise ConfigError(f"{key}.outside: {sorted(outside - dropped_on_purpose)} are not labels the label_map drops (mapped to null)")
    annotated = annotated_labels(aux, docs, schema, key)
    unknown = [tuple((start, end) for start, end, label in d.dropped_spans if label not in outside) for d in docs]
    unknown_spans = sum(map(len, unknown))
    if annotated >= set(schema.labels) and not unknown_spans:
        return docs
    for doc, ranges in zip(docs, unknown):
        doc.partial = PartialAnnotation(annotated, ranges)
    silent = [layer for layer, labels in schema.layers.items() if not annotated & set(labels)]
    log.info("%s (%s): annotates %s; layers not trained on it: %s; the words of %d dropped spans are unknown, not O%s",
             key, aux.path, ", ".join(sorted(annotated)), ", ".join(silent) or "none", unknown_spans,
             f" ({', '.join(sorted(outside))} words are O)" if outside else "")
    return docs


def _read_checked(path, fmt: str, schema: LabelSchema, key: str, label_map: dict | None = None, limit: int | None = None) -> list[Document]:
    """One corpus file (its first ``limit`` documents), labels and the rules of ``persian-ie validate`` checked;
    errors name the key and file."""
    if not Path(path).is_file():
        where = "" if Path(path).is_absolute() else f" (relative paths are read from the current folder, {Path.cwd()})"
        raise ConfigError(f"{key}: {path} is not a file{where}")
    docs, lines = read_corpus(path, fmt, label_map, limit or None)  # only the documents kept are read and checked
    _check_labels(docs, schema, f"{key} ({path})", [f"{path}:{line} doc={d.id}" for d, line in zip(docs, lines)])
    _check_documents(docs, schema, f"{key} ({path})", str(path), lines)
    return docs


def _check_documents(docs: list[Document], schema: LabelSchema, where: str, path: str, lines: list[int], show: int = 5) -> None:
    """The rules of ``persian-ie validate``, applied before any model is loaded."""
    problems = [p for d, line in zip(docs, lines) for p in document_problems(d, schema, path, line) if p.rule != "empty-text"]
    if problems:
        listed = "; ".join(str(p) for p in problems[:show])
        more = f" (and {len(problems) - show} more)" if len(problems) > show else ""
        raise TrainingDataError(
            f"{where}: {len(problems)} problem(s) by the rules of `persian-ie validate`: {listed}{more}; "
            "run `persian-ie validate` on the file and fix them"
        )
