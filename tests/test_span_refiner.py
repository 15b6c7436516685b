"""The span boundary refiner (issue 10 item 3): candidates, re-tagging, learning on a few
documents, the full predictor path, saving and loading with the model, and refusals."""

import json
import shutil

import numpy as np
import pytest
import torch

import persian_ie  # noqa: F401  (registers the auto classes)
from persian_ie.cli import main
from persian_ie.errors import ConfigError, ModelConfigError, RefinerTrainingError
from persian_ie.models.backends import STATES
from persian_ie.models.io import load_pretrained, save_pretrained
from persian_ie.models.layered import LayeredTokenClassifier
from persian_ie.models.predictor import Predictor
from persian_ie.models.span_refiner import candidate_spans, refine_spans, retag, sentence_index
from persian_ie.training.config import load_config
from persian_ie.training.span_refiner import add_span_refiner, exact_f1, word_inputs

OVERFIT = {"epochs": 40, "lr": 3e-3, "dropout": 0.0, "seed": 3}


def test_candidates_overlap_the_span_stay_in_its_sentence_and_width():
    bounds = [(0, 5), (5, 30)]
    sentence_of = sentence_index(bounds, 30)
    cands = candidate_spans(7, 8, bounds, sentence_of, max_width=4)
    assert (7, 8) in cands and (5, 9) in cands and (7, 11) in cands
    assert all(5 <= s < e <= 30 and e - s <= 4 and s < 8 and e > 7 for s, e in cands)
    assert (4, 8) not in cands and (7, 12) not in cands  # previous sentence; wider than 4
    assert len(cands) == len(set(cands))


def test_retag_moves_boundaries_merges_pieces_and_leaves_other_labels_alone():
    tags = ["B-PROPOSAL", "O", "O", "B-PROPOSAL", "O", "B-X", "I-X", "O"]
    assert retag(tags, "PROPOSAL", [(0, 3), None]) == ["B-PROPOSAL", "I-PROPOSAL", "I-PROPOSAL", "O", "O", "B-X", "I-X", "O"]
    # a refined span cutting into another label's chunk keeps the tagger's range
    assert retag(tags, "PROPOSAL", [(0, 1), (3, 6)]) == tags
    assert retag(["O", "I-PROPOSAL", "O"], "PROPOSAL", []) == ["O", "O", "O"]  # an orphan I- was no span


class _Stub(torch.nn.Module):
    """Scores a candidate by how close it is to a wanted range."""

    max_width = 6

    def __init__(self, wanted):
        super().__init__()
        self.wanted = wanted

    def forward(self, vectors, probs, starts, ends):
        return -torch.stack([(starts - a).abs() + (ends - b).abs() for a, b in self.wanted]).min(0).values.float()


def test_refined_spans_keep_order_and_never_overlap():
    vectors, probs = np.zeros((12, 4), np.float32), np.zeros((12, 3), np.float32)
    bounds = [(0, 12)]
    assert refine_spans(_Stub([(2, 6), (8, 10)]), [(2, 3), (8, 9)], vectors, probs, bounds) == [(2, 6), (8, 10)]
    # two pieces of one span both pulled to (2, 6): the second merges into the first
    assert refine_spans(_Stub([(2, 6)]), [(2, 3), (5, 6)], vectors, probs, bounds) in ([(2, 6), None], [None, (2, 6)])


def test_a_refiner_of_several_members_scores_with_their_mean():
    from persian_ie.models.span_refiner import SpanRefiner

    torch.manual_seed(0)
    refiner = SpanRefiner(8, ["O", "B-PROPOSAL", "I-PROPOSAL"], "PROPOSAL", max_width=4, members=3).eval()
    vectors, probs = torch.randn(6, 8), torch.softmax(torch.randn(6, 3), 1)
    starts, ends = torch.tensor([0, 1, 2]), torch.tensor([1, 3, 6])
    each = torch.stack([m(vectors, probs, starts, ends) for m in refiner.members])
    assert not torch.allclose(each[0], each[1])
    assert torch.allclose(refiner(vectors, probs, starts, ends), each.mean(0))


@pytest.fixture(scope="module")
def few_docs(corpus_docs):
    docs = [d for d in corpus_docs["train"] if sum(s.label == "PROPOSAL" for s in d.spans) >= 2][:6]
    assert sum(s.label == "PROPOSAL" and len(d.text[s.start:s.end].split()) > 1 for d in docs for s in d.spans) >= 5
    return docs


@pytest.fixture(scope="module")
def refined_dir(tiny_model_dir, tmp_path_factory, few_docs):
    out = tmp_path_factory.mktemp("refined") / "model"
    summary = add_span_refiner(tiny_model_dir, out, few_docs, few_docs, OVERFIT)
    assert summary["loss_last"] < summary["loss_first"] / 3
    return out


def _trigger_only(items):
    """The tagger's spans replaced by the first word of each gold span: every multi-word
    proposal cut back to its trigger, the error the refiner is for."""
    for item in items:
        item["predicted"] = [(lo, lo + 1) for lo, _ in item["gold"]]
    return items


def test_refiner_learns_to_extend_trigger_only_spans_on_few_documents(refined_dir, few_docs):
    model, tokenizer = load_pretrained(refined_dir)
    predictor = Predictor(model, tokenizer)
    with torch.inference_mode():
        items = _trigger_only(word_inputs(predictor, few_docs, "PROPOSAL", "event"))
    assert exact_f1(items)["f1"] < 0.5
    assert exact_f1(items, model.span_refiner)["f1"] >= 0.9


def test_predictor_reports_the_refined_spans_in_original_offsets(refined_dir, few_docs):
    """Through ``postprocess``: the event layer made to say trigger-only, the documents come
    out with the gold PROPOSAL spans (offsets, text) for at least 90 % of them."""
    predictor = Predictor.from_pretrained(refined_dir, backend="torch")
    assert predictor.needs_states and predictor.refine["label"] == "PROPOSAL"
    prepared = [predictor.prepare(d) for d in few_docs]
    gold = pred = hits = 0
    for prep, window_probs in zip(prepared, predictor.forward(prepared)):
        tokens = prep.tokenized.tokens
        starts = {next(k for k, t in enumerate(tokens) if t.end > s.start) for s in prep.doc.spans if s.label == "PROPOSAL"}
        for window, wp in zip(prep.windows, window_probs):
            event = np.zeros_like(wp["event"])
            for k in range(len(event)):
                event[k, 1 if window.first_word + k in starts else 0] = 1.0  # B-PROPOSAL at each gold start, O elsewhere
            wp["event"] = event
        assert STATES in window_probs[0]
        doc = predictor.postprocess(prep, window_probs)
        want = {(s.start, s.end, prep.doc.text[s.start:s.end]) for s in prep.doc.spans if s.label == "PROPOSAL"}
        got = {(s.start, s.end, s.text) for s in doc.spans if s.label == "PROPOSAL"}
        gold, pred, hits = gold + len(want), pred + len(got), hits + len(want & got)
    assert hits / gold >= 0.9 and pred <= gold


def test_refiner_saved_with_the_model_and_loaded_alike_beside_every_backend(refined_dir, few_docs, tmp_path):
    from safetensors import safe_open

    with safe_open(str(refined_dir / "model.safetensors"), framework="pt") as fh:
        assert any(k.startswith("span_refiner.") for k in fh.keys())
    raw = json.loads((refined_dir / "config.json").read_text("utf-8"))
    assert raw["span_refiner"]["label"] == "PROPOSAL" and raw["span_refiner"]["layer"] == "event"
    model, info = LayeredTokenClassifier.from_pretrained(refined_dir, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    model, tokenizer = load_pretrained(refined_dir)
    again = save_pretrained(model, tokenizer, tmp_path / "again")
    texts = [d.text for d in few_docs]
    spans = lambda docs: [[s.to_dict() for s in d.spans] for d in docs]  # noqa: E731
    first = spans(Predictor.from_pretrained(refined_dir, backend="torch").predict_texts(texts))
    assert spans(Predictor.from_pretrained(again, backend="torch").predict_texts(texts)) == first
    onnx = Predictor.from_pretrained(refined_dir, backend="onnx")
    assert onnx.model is None and next(onnx.refiner.parameters()).dtype == torch.float32  # loaded alone
    assert [[(s["start"], s["end"], s["label"]) for s in d] for d in spans(onnx.predict_texts(texts))] == \
        [[(s["start"], s["end"], s["label"]) for s in d] for d in first]


def test_bad_refiner_settings_and_missing_weights_are_refused(refined_dir, tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="model.span_refiner: unknown keys"):
        load_config(None, ["model.span_refiner={epoch: 3}"])
    with pytest.raises(RefinerTrainingError, match="label 'PROPSAL'"):
        add_span_refiner(tiny_model_dir, tmp_path / "x", [], [], {"label": "PROPSAL"})
    bad = shutil.copytree(refined_dir, tmp_path / "bad")
    raw = json.loads((bad / "config.json").read_text("utf-8"))
    raw["span_refiner"]["layer"] = "entity"
    (bad / "config.json").write_text(json.dumps(raw), "utf-8")
    with pytest.raises(ModelConfigError, match="span_refiner"):
        load_pretrained(bad)
    nohead = shutil.copytree(tiny_model_dir, tmp_path / "nohead")  # a config with a refiner, weights without
    plain = json.loads((nohead / "config.json").read_text("utf-8"))
    plain["span_refiner"] = json.loads((refined_dir / "config.json").read_text("utf-8"))["span_refiner"]
    (nohead / "config.json").write_text(json.dumps(plain), "utf-8")
    with pytest.raises(ModelConfigError, match="span_refiner"):
        Predictor.from_pretrained(nohead, backend="onnx")


def test_train_refiner_cli_and_train_with_refine_spans(tiny_base, tiny_model_dir, few_docs, tmp_path, capsys):
    from persian_ie.data.document import write_documents

    write_documents(tmp_path / "few.jsonl", few_docs)
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  train: [{tmp_path / 'few.jsonl'}]\n  dev: {tmp_path / 'few.jsonl'}\n", "utf-8")
    assert main(["train-refiner", str(config), "--model", str(tiny_model_dir), "--out", str(tmp_path / "m"), "--set", "model.span_refiner.epochs=2",
                 "--set", "model.span_refiner.members=2"]) == 0
    out = capsys.readouterr().out
    assert "span refiner (PROPOSAL)" in out and "dev exact-match F1 of PROPOSAL" in out
    assert json.loads((tmp_path / "m" / "config.json").read_text("utf-8"))["span_refiner"]["members"] == 2
    assert len(load_pretrained(tmp_path / "m")[0].span_refiner.members) == 2
    # `train` with model.refine_spans: the best model comes out with its refiner and the run keeps the summary
    from persian_ie.training.train import train

    cfg = load_config(None, [f"output_dir={tmp_path / 'run'}", f"model.base={tiny_base}", f"data.train=[{tmp_path / 'few.jsonl'}]",
                             f"data.dev={tmp_path / 'few.jsonl'}", "optim.max_steps=2", "window.max_length=64", "window.stride=8", "bootstrap=0",
                             "model.refine_spans=true", "model.span_refiner={epochs: 1}"])
    train(cfg, show_progress=False)
    assert json.loads((tmp_path / "run" / "model" / "config.json").read_text("utf-8"))["span_refiner"]["layer"] == "event"
    assert json.loads((tmp_path / "run" / "span_refiner.json").read_text("utf-8"))["label"] == "PROPOSAL"


def test_predict_holds_word_vectors_one_group_of_documents_at_a_time_and_writes_the_same(refined_dir, few_docs, tmp_path, monkeypatch):
    """A chunk goes through forward in groups of STATES_GROUP documents when the model reads word
    vectors (peak memory); the output file is byte-identical to one forward over the whole chunk."""
    from persian_ie.inference import runner

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"d{i}", "text": d.text}, ensure_ascii=False) + "\n" for i, d in enumerate(few_docs)), "utf-8")
    predictor = Predictor.from_pretrained(refined_dir, backend="torch")
    sizes = []
    forward = predictor.forward
    monkeypatch.setattr(predictor, "forward", lambda prepared, *a, **k: sizes.append(len(prepared)) or forward(prepared, *a, **k))

    def run(group, name):
        monkeypatch.setattr(runner, "STATES_GROUP", group)
        sizes.clear()
        runner.run_prediction(predictor, [str(source)], tmp_path / name, progress=False)
        return list(sizes), (tmp_path / name).read_bytes()

    grouped, grouped_out = run(4, "grouped.jsonl")
    whole, whole_out = run(1000, "whole.jsonl")
    assert grouped == [4, 2] and whole == [6]
    assert grouped_out == whole_out and grouped_out.count(b"\n") == 6
