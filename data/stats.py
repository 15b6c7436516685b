"""Corpus statistics: documents, words, spans per label and layer, relations per type."""

from __future__ import annotations

from collections import Counter

from persian_ie.data.document import LineError, iter_documents
from persian_ie.data.schema import LabelSchema


def file_stats(path: str, schema: LabelSchema) -> dict:
    labels, layers, relations = Counter(), Counter(), Counter()
    docs = words = unreadable = 0
    for item in iter_documents(path):
        if isinstance(item, LineError):
            unreadable += 1
            continue
        doc = item.doc
        docs += 1
        words += len((doc.text or "").split())
        for span in doc.spans:
            labels[span.label] += 1
            layers[schema.layer_of(span.label) or "unknown"] += 1
        relations.update(r.type for r in doc.relations)
    return {
        "documents": docs,
        "words": words,
        "unreadable_lines": unreadable,
        "labels": {label: labels.get(label, 0) for label in schema.labels} | {k: v for k, v in labels.items() if k not in schema.labels},
        "layers": {layer: layers.get(layer, 0) for layer in schema.layers},
        "relations": {r: relations.get(r, 0) for r in schema.relations},
    }


def corpus_stats(paths, schema: LabelSchema) -> dict:
    """Per-file statistics plus a ``total`` entry summing them."""
    per_file = {str(p): file_stats(str(p), schema) for p in paths}
    total: dict = {"documents": 0, "words": 0, "unreadable_lines": 0, "labels": Counter(), "layers": Counter(), "relations": Counter()}
    for st in per_file.values():
        for key in ("documents", "words", "unreadable_lines"):
            total[key] += st[key]
        for key in ("labels", "layers", "relations"):
            total[key].update(st[key])
    total = {k: dict(v) if isinstance(v, Counter) else v for k, v in total.items()}
    return {"schema": schema.name, "files": per_file, "total": total}


def format_stats(stats: dict) -> str:
    files = list(stats["files"].items()) + ([("TOTAL", stats["total"])] if len(stats["files"]) > 1 else [])
    labels = list(stats["total"]["labels"])
    layers = list(stats["total"]["layers"])
    rels = list(stats["total"]["relations"])
    cols = ["docs", "words"] + labels + [f"[{l}]" for l in layers] + rels
    name_w = max(len(n) for n, _ in files)
    lines = [" " * name_w + "  " + " ".join(f"{c:>9}" for c in cols)]
    for name, st in files:
        vals = [st["documents"], st["words"]] + [st["labels"].get(l, 0) for l in labels]
        vals += [st["layers"].get(l, 0) for l in layers] + [st["relations"].get(r, 0) for r in rels]
        lines.append(f"{name:<{name_w}}  " + " ".join(f"{v:>9}" for v in vals))
    return "\n".join(lines)


