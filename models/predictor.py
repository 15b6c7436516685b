"""Text -> spans, relations and records: preprocess -> forward -> postprocess.

* preprocess: normalize, word-tokenize, subword-encode, plan windows
  (``persian_ie.data.encoding``), all per document, no model involved.
* forward: windows of many documents sorted by length and packed into
  batches under a token budget (``batch_tokens``: 2,048 padded tokens on CPU,
  where bigger batches are no faster and only raise peak memory, 8,192 on
  GPU; docs/benchmarks.md §4b), run by a backend
  (``persian_ie.models.backends``: on CPU bf16 torch where the CPU has bf16
  hardware, else float32 ONNX Runtime, else float32 torch; torch with
  optional bf16/fp16 weights on GPU); per-word probabilities
  gathered at first-subword positions.
* postprocess: merge windows, decode each layer (argmax with the strict IOB2
  reading by default), let the span refiner (when the model has one,
  models/span_refiner.py) move the boundaries of its label's spans, map spans
  to ORIGINAL offsets, link relations, build records.

Span ``score``: the mean probability of the chosen tags over the span's
words, in [0, 1].
"""

from __future__ import annotations

import sys

import numpy as np

from persian_ie.data.document import Document
from persian_ie.data.encoding import merge_window_predictions
from persian_ie.data.iob import tags_to_spans
from persian_ie.data.prepare import Prepared, Preparer  # noqa: F401  (Prepared: part of this module's interface)
from persian_ie.models.decoding import Decoder
from persian_ie.models.backends import STATES  # backends return word vectors under this key
from persian_ie.models.components import resolve_component
from persian_ie.models.span_refiner import label_chunks, refine_spans, retag


CPU_BATCH_TOKENS = 2048  # measured: same forward time as 8,192 on CPU, 230-290 MB lower peak (benchmarks §4b)
GPU_BATCH_TOKENS = 8192


class Predictor:
    """Settings (window, normalization, decoding, relation component) come from ``model.config``."""

    def __init__(self, model, tokenizer, device: str = "cpu", dtype=None, decoding: str | None = None, name: str | None = None,
                 *, backend=None, config=None, relation_head=None, span_refiner=None):
        """``model``: a LayeredTokenClassifier run with torch; or None with ``backend`` and ``config``
        (an ONNX backend needs no torch weights in memory). ``relation_head``/``span_refiner``: the
        learned relation head and span refiner, when they are not the model's own (models.io.load_part)."""
        from persian_ie.models.backends import TorchBackend

        self.backend = backend or TorchBackend(model, device, dtype)
        self.model = getattr(self.backend, "model", None)
        self.tokenizer = tokenizer
        config = config if config is not None else model.config
        self.schema = config.label_schema
        self.encoder_hidden_size = config.encoder.hidden_size
        self.device = device
        self.preparer = Preparer.from_settings(tokenizer, config.normalization, config.window)
        self.normalizer, self.max_length, self.stride = self.preparer.normalizer, self.preparer.max_length, self.preparer.stride
        strategy = decoding or config.decoding
        self.decoders = {layer: Decoder(self.schema.tags(layer), strategy) for layer in self.schema.layers}
        self.tag_ids = {layer: {tag: i for i, tag in enumerate(self.schema.tags(layer))} for layer in self.schema.layers}
        self.relations = resolve_component(config.relation_model, self.schema)
        self.relation_vectors = bool(getattr(self.relations, "needs_states", False))
        self.needs_words = self.relation_vectors or bool(getattr(self.relations, "needs_words", False))
        self.refiner = span_refiner if span_refiner is not None else getattr(model, "span_refiner", None)
        self.refine = dict(config.span_refiner) if self.refiner is not None else None
        # the encoder's word vectors are fetched with the tag probabilities only when something reads them
        self.needs_states = self.relation_vectors or self.refiner is not None
        if self.needs_words:
            self.relations.bind(relation_head if relation_head is not None else getattr(model, "relation_head", None))
        self.model_info = {"name": name or config.run_name or "persian-ie", "version": config.persian_ie_version}

    @classmethod
    def from_pretrained(cls, directory, device: str = "cpu", dtype=None, decoding=None, expected_schema=None, backend: str | None = "auto"):
        """``backend``: auto (see ``persian_ie.models.backends``), torch, torch-bf16, onnx, onnx-int8."""
        from persian_ie.models.backends import backend_dtype, ensure_export, export_dir_for, load_backend, resolve_backend
        import torch

        from persian_ie.models.io import check_weights, load_part, load_pretrained, load_tokenizer_and_config, read_config

        backend = resolve_backend(backend, device, dtype)
        config, _ = read_config(directory)
        component = resolve_component(config.relation_model, config.label_schema)
        if getattr(component, "needs_states", False) and (backend != "torch" or backend_dtype(backend, dtype) not in (None, torch.float32)):
            # a span-vector relation head was trained on float32 torch states; other backends and dtypes were not checked with it
            print(f"persian-ie: backend {backend} ({dtype or 'float32'}) does not run a relation head trained with span vectors; using float32 torch", file=sys.stderr)
            backend, dtype = "torch", None
        dtype = backend_dtype(backend, dtype)
        onnx = backend.startswith("onnx")
        if onnx:
            check_weights(directory)  # the export's cache key is read off the weights file: refuse a broken one first
        if onnx and (export_dir_for(directory) / "meta.json").is_file():
            config, tokenizer = load_tokenizer_and_config(directory, expected_schema)  # cached export: no torch weights loaded
            model = None
        else:
            # straight to the run's dtype: no float32 copy of a bf16 model in memory
            model, tokenizer = load_pretrained(directory, expected_schema, device="cpu", dtype=None if onnx else dtype)
            config = model.config
            if onnx:
                ensure_export(directory, model)
                model = None  # freed before the run: the ONNX graph holds its own weights
        runner = load_backend(backend, directory, model, device, dtype)
        head, own = None, getattr(model, "relation_head", None)
        if getattr(component, "needs_words", False) and (own is None or next(own.parameters()).dtype != torch.float32):
            head = load_part(directory, config, "relation_head")  # float32 beside an ONNX or bf16 forward: the scores it was tuned with
        refiner, own = None, getattr(model, "span_refiner", None)
        if config.span_refiner and (own is None or next(own.parameters()).dtype != torch.float32):
            refiner = load_part(directory, config, "span_refiner")
        return cls(model, tokenizer, device, dtype, decoding, name=config.run_name or str(directory), backend=runner, config=config,
                   relation_head=head, span_refiner=refiner)

    # ---- preprocess -------------------------------------------------------
    def prepare(self, doc: Document) -> Prepared:
        return self.preparer(doc)

    # ---- forward ------------------------------------------------------------
    def _batches(self, items: list[tuple[int, int, int]], batch_tokens: int, max_batch: int):
        """Group (length, doc, window) items, longest first, under a padded-token budget."""
        batch: list = []
        for item in sorted(items, key=lambda x: -x[0]):
            if batch and (len(batch) + 1) * batch[0][0] > batch_tokens or len(batch) >= max_batch:
                yield batch
                batch = []
            batch.append(item)
        if batch:
            yield batch

    def default_batch_tokens(self) -> int:
        return CPU_BATCH_TOKENS if str(self.device).startswith("cpu") else GPU_BATCH_TOKENS

    def forward(self, prepared: list[Prepared], batch_tokens: int | None = None, max_batch: int = 256, states: bool | None = None) -> list[list[dict]]:
        """Per document, per window: {layer: probs [words, tags] as numpy}, and the word vectors
        under ``STATES`` with ``states`` (default: when the relation head or the refiner reads them)."""
        batch_tokens = batch_tokens or self.default_batch_tokens()
        states = self.needs_states if states is None else states
        out: list[list[dict | None]] = [[None] * len(p.inputs) for p in prepared]
        items = [(len(ids), d, w) for d, p in enumerate(prepared) for w, (ids, _) in enumerate(p.inputs)]
        pad = self.tokenizer.pad_token_id or 0
        for batch in self._batches(items, batch_tokens, max_batch):
            width = batch[0][0]
            ids = np.full((len(batch), width), pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, (length, d, w) in enumerate(batch):
                ids[row, :length] = prepared[d].inputs[w][0]
                mask[row, :length] = 1
            output = self.backend.logits(ids, mask, states=states)
            probs = {layer: softmax(x) for layer, x in output.items() if layer != STATES}
            if states:  # word vectors for the relation head or the refiner, under a key no layer has
                probs[STATES] = output[STATES]
            for row, (_, d, w) in enumerate(batch):
                first = prepared[d].inputs[w][1]
                out[d][w] = {layer: p[row, first] for layer, p in probs.items()}
        return out

    # ---- postprocess ---------------------------------------------------------
    def postprocess(self, prep: Prepared, window_probs: list[dict]) -> Document:
        text = prep.doc.text or ""
        tokens = prep.tokenized.tokens
        tags_by_layer, chosen_by_layer = {}, {}
        for layer in self.schema.layers:
            probs = self._merged(prep, window_probs, layer, len(self.schema.tags(layer)))
            tags = self.decoders[layer].decode(probs)[0]
            if self.refine and layer == self.refine["layer"]:
                tags = self._refined(prep, window_probs, probs, tags)
            tags_by_layer[layer] = tags
            # a span's score: the mean probability of its words' tags (refined ones included)
            chosen_by_layer[layer] = probs[np.arange(len(tags)), [self.tag_ids[layer][t] for t in tags]].tolist()
        spans = tags_to_spans(tokens, tags_by_layer, scores=chosen_by_layer, text=text)
        return self._linked(prep, spans, window_probs)

    def _merged(self, prep: Prepared, window_probs: list[dict], key: str, width: int) -> np.ndarray:
        """[words, width]: one key's per-window rows merged over the document's windows."""
        rows = merge_window_predictions(prep.windows, [list(wp[key]) for wp in window_probs], len(prep.tokenized.tokens))
        return np.stack(rows).astype(np.float32, copy=False) if rows else np.zeros((0, width), dtype=np.float32)

    def word_outputs(self, prep: Prepared, window_probs: list[dict], layer: str) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities of ``layer``, encoder vectors), each [words, ...], windows merged; the
        window probabilities must come from ``forward(..., states=True)``."""
        return self._merged(prep, window_probs, layer, len(self.schema.tags(layer))), self._merged(prep, window_probs, STATES, self.encoder_hidden_size)

    def _refined(self, prep: Prepared, window_probs: list[dict], probs: np.ndarray, tags: list[str]) -> list[str]:
        """``tags`` with the refiner's boundaries for the spans of its label."""
        label = self.refine["label"]
        spans = label_chunks(tags, label)
        if not spans:
            return tags
        vectors = self._merged(prep, window_probs, STATES, self.encoder_hidden_size)
        return retag(tags, label, refine_spans(self.refiner, spans, vectors, probs, prep.tokenized.sentence_bounds()))

    def _linked(self, prep: Prepared, spans, window_probs: list[dict]) -> Document:
        """The document with ``spans``, its relations and records."""
        text = prep.doc.text or ""
        bounds = prep.tokenized.sentence_offsets()
        extra = {"model": dict(self.model_info)}
        relations = []
        if self.relations is not None:
            if self.needs_words:
                relations = self.relations.link(text, spans, bounds, self.relation_inputs(prep, window_probs))
            else:
                relations = self.relations.link(text, spans, bounds)
            extra["records"] = self.relations.records(text, spans, relations, bounds, prep.doc.meta)
        return Document(prep.doc.id, prep.doc.text, spans, relations, dict(prep.doc.meta), extra)

    def relation_inputs(self, prep: Prepared, window_probs: list[dict]):
        """(word starts, word ends, [words, hidden] vectors) in original offsets: what a learned
        relation head reads. The encoder's vectors (windows merged) only for a span-vector head
        (``relation_vectors``); a features-only head gets no columns and needs no forward."""
        tokens = prep.tokenized.tokens
        starts, ends = [t.start for t in tokens], [t.end for t in tokens]
        if not self.relation_vectors:
            return starts, ends, np.zeros((len(tokens), 0), dtype=np.float32)
        return starts, ends, self._merged(prep, window_probs, STATES, self.encoder_hidden_size)

    def link_documents(self, docs: list[Document], batch_tokens: int | None = None) -> list[Document]:
        """``docs`` with their own (gold) spans and relations from this model's component:
        the relation model alone, as ``evaluate --link-gold-spans`` scores it."""
        prepared = [self.prepare(d) for d in docs]
        probs = self.forward(prepared, batch_tokens, states=True) if self.relation_vectors else [[] for _ in prepared]
        return [self._linked(p, list(p.doc.spans), wp) for p, wp in zip(prepared, probs)]

    def predict_documents(self, docs: list[Document], batch_tokens: int | None = None) -> list[Document]:
        prepared = [self.prepare(d) for d in docs]
        probs = self.forward(prepared, batch_tokens)
        return [self.postprocess(p, wp) for p, wp in zip(prepared, probs)]

    def predict_texts(self, texts: list[str], ids: list[str] | None = None) -> list[Document]:
        ids = ids or [f"text-{i + 1}" for i in range(len(texts))]
        return self.predict_documents([Document(i, t) for i, t in zip(ids, texts)])


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
