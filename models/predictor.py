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
  reading by default), map spans to ORIGINAL offsets, link relations, build records.

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


CPU_BATCH_TOKENS = 2048  # measured: same forward time as 8,192 on CPU, 230-290 MB lower peak (benchmarks §4b)
GPU_BATCH_TOKENS = 8192


class Predictor:
    """Settings (window, normalization, decoding, relation component) come from ``model.config``."""

    def __init__(self, model, tokenizer, device: str = "cpu", dtype=None, decoding: str | None = None, name: str | None = None,
                 *, backend=None, config=None, relation_head=None):
        """``model``: a LayeredTokenClassifier run with torch; or None with ``backend`` and ``config``
        (an ONNX backend needs no torch weights in memory). ``relation_head``: the learned relation
        head to link with, when it is not ``model.relation_head`` (models.io.load_relation_head)."""
        from persian_ie.models.backends import TorchBackend

        self.backend = backend or TorchBackend(model, device, dtype)
        self.model = getattr(self.backend, "model", None)
        self.tokenizer = tokenizer
        config = config if config is not None else model.config
        self.schema = config.label_schema
        self.device = device
        self.preparer = Preparer.from_settings(tokenizer, config.normalization, config.window)
        self.normalizer, self.max_length, self.stride = self.preparer.normalizer, self.preparer.max_length, self.preparer.stride
        strategy = decoding or config.decoding
        self.decoders = {layer: Decoder(self.schema.tags(layer), strategy) for layer in self.schema.layers}
        self.relations = resolve_component(config.relation_model, self.schema)
        self.needs_states = bool(getattr(self.relations, "needs_states", False))
        self.needs_words = self.needs_states or bool(getattr(self.relations, "needs_words", False))
        if self.needs_words:
            self.relations.bind(relation_head if relation_head is not None else getattr(model, "relation_head", None))
        self.model_info = {"name": name or config.run_name or "persian-ie", "version": config.persian_ie_version}

    @classmethod
    def from_pretrained(cls, directory, device: str = "cpu", dtype=None, decoding=None, expected_schema=None, backend: str | None = "auto"):
        """``backend``: auto (see ``persian_ie.models.backends``), torch, torch-bf16, onnx, onnx-int8."""
        from persian_ie.models.backends import backend_dtype, ensure_export, export_dir_for, load_backend, resolve_backend
        import torch

        from persian_ie.models.io import check_weights, load_pretrained, load_relation_head, load_tokenizer_and_config, read_config

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
            head = load_relation_head(directory, config)  # float32 beside an ONNX or bf16 forward: the scores it was tuned with
        return cls(model, tokenizer, device, dtype, decoding, name=config.run_name or str(directory), backend=runner, config=config, relation_head=head)

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

    def forward(self, prepared: list[Prepared], batch_tokens: int | None = None, max_batch: int = 256) -> list[list[dict]]:
        """Per document, per window: {layer: probs [words, tags] as numpy}."""
        batch_tokens = batch_tokens or self.default_batch_tokens()
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
            output = self.backend.logits(ids, mask, states=self.needs_states)
            probs = {layer: softmax(x) for layer, x in output.items() if layer != STATES}
            if self.needs_states:  # word vectors for the learned relation head, under a key no layer has
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
            per_window = [[row for row in wp[layer]] for wp in window_probs]
            word_probs = merge_window_predictions(prep.windows, per_window, len(tokens))
            probs = np.stack(word_probs) if word_probs else np.zeros((0, len(self.schema.tags(layer))))
            tags_by_layer[layer], chosen_by_layer[layer] = self.decoders[layer].decode(probs)
        spans = tags_to_spans(tokens, tags_by_layer, scores=chosen_by_layer, text=text)
        return self._linked(prep, spans, window_probs)

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
        (``needs_states``); a features-only head gets no columns and needs no forward."""
        tokens = prep.tokenized.tokens
        starts, ends = [t.start for t in tokens], [t.end for t in tokens]
        if not self.needs_states:
            return starts, ends, np.zeros((len(tokens), 0), dtype=np.float32)
        per_window = [list(wp[STATES]) for wp in window_probs]
        merged = merge_window_predictions(prep.windows, per_window, len(tokens))
        width = self.model.config.encoder.hidden_size
        vectors = np.stack(merged) if merged else np.zeros((0, width), dtype=np.float32)
        return starts, ends, vectors

    def link_documents(self, docs: list[Document], batch_tokens: int | None = None) -> list[Document]:
        """``docs`` with their own (gold) spans and relations from this model's component:
        the relation model alone, as ``evaluate --link-gold-spans`` scores it."""
        prepared = [self.prepare(d) for d in docs]
        probs = self.forward(prepared, batch_tokens) if self.needs_states else [[] for _ in prepared]
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
