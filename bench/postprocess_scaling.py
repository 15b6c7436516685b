"""Postprocessing time vs document length (issue 15 item 7).

Runs the predictor's real postprocess step (window merge, decoding, spans to
original offsets, linking, records) without a model: the "model output" is
one-hot probabilities of the gold tags, so spans and relations are as dense
as in the corpus. Documents are corpus documents (gold spans) joined until
they reach each length. Prints seconds per length and the ratio of one
1,000,000-character document to 100 documents of 10,000 characters
(target < 3).

    python bench/postprocess_scaling.py [--corpus data/corpus/test.jsonl] [--max 1000000]
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np

from persian_ie.data.document import Document, Span, read_documents
from persian_ie.data.encoding import plan_windows, sentence_end_positions
from persian_ie.data.iob import spans_to_tags
from persian_ie.data.normalize import Normalizer
from persian_ie.data.schema import load_schema
from persian_ie.data.tokenize import tokenize
from persian_ie.models.decoding import Decoder
from persian_ie.models.predictor import Predictor, Prepared


def tiled_document(docs: list[Document], length: int, doc_id: str) -> Document:
    """Corpus documents joined by newlines (spans shifted) up to ``length`` characters."""
    parts, spans, pos, i = [], [], 0, 0
    while pos < length:
        doc = docs[i % len(docs)]
        i += 1
        spans += [Span("", s.start + pos, s.end + pos, s.label) for s in doc.spans if s.end + pos <= length]
        parts.append(doc.text)
        pos += len(doc.text) + 1
    return Document(doc_id, "\n".join(parts)[:length], spans)


def gold_window_probs(doc: Document, schema, normalizer):
    """Prepared document and one-hot per-window probabilities of its gold tags."""
    tokenized = tokenize(doc.text, normalizer)
    windows = plan_windows([1] * len(tokenized.tokens), sentence_end_positions(tokenized), 254, 32)
    tags = spans_to_tags(tokenized.tokens, doc.spans, schema)
    onehot = {}
    for layer in schema.layers:
        names = schema.tags(layer)
        onehot[layer] = np.eye(len(names), dtype=np.float32)[[names.index(t) for t in tags[layer]]]
    probs = [{layer: onehot[layer][w.first_word:w.last_word] for layer in schema.layers} for w in windows]
    return Prepared(Document(doc.id, doc.text), tokenized, windows, []), probs


def postprocessor(schema):
    """The predictor's postprocess bound to the attributes it reads (no model loaded)."""
    fake = SimpleNamespace(schema=schema, decoders={layer: Decoder(schema.tags(layer), "argmax") for layer in schema.layers}, model_name="bench", meta={})
    return lambda prep, probs: Predictor.postprocess(fake, prep, probs)


def timed(run, items) -> tuple[float, int]:
    start = time.perf_counter()
    relations = sum(len(run(prep, probs).relations) for prep, probs in items)
    return time.perf_counter() - start, relations


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="data/corpus/test.jsonl")
    parser.add_argument("--max", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    schema, normalizer = load_schema(), Normalizer()
    docs = [d for d in read_documents(args.corpus) if d.text]
    run = postprocessor(schema)
    print(f"{'chars':>10} {'spans':>8} {'relations':>10} {'seconds':>9}")
    for length in sorted({n for n in (10_000, 30_000, 100_000, 300_000, args.max) if n <= args.max}):
        doc = tiled_document(docs, length, f"len-{length}")
        item = gold_window_probs(doc, schema, normalizer)
        seconds, rels = timed(run, [item])
        print(f"{length:>10} {len(doc.spans):>8} {rels:>10} {seconds:>9.3f}", flush=True)
    big = gold_window_probs(tiled_document(docs, args.max, "big"), schema, normalizer)
    small = [gold_window_probs(tiled_document(docs[k:] + docs[:k], args.max // 100, f"small-{k}"), schema, normalizer) for k in range(100)]
    big_s, _ = timed(run, [big])
    small_s, _ = timed(run, small)
    print(f"one {args.max}-char document: {big_s:.3f} s; 100 documents of {args.max // 100} chars: {small_s:.3f} s; ratio {big_s / small_s:.2f}x (target < 3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
