"""The learned relation head (issue 10 item 1): it learns, saves and loads with the model,
applies the thresholds in config.json, and the rules stay selectable."""

import json
import shutil
from pathlib import Path

import pytest
import torch

import persian_ie  # noqa: F401  (registers the auto classes)
from persian_ie.cli import main
from persian_ie.data.document import Document, Relation, Span, read_documents, write_documents
from persian_ie.errors import ConfigError, ModelConfigError, RelationHeadError
from persian_ie.models.components import RULES_V1
from persian_ie.models.io import load_pretrained, save_pretrained
from persian_ie.models.layered import LayeredTokenClassifier
from persian_ie.models.predictor import Predictor
from persian_ie.models.relation_head import LEARNED_V1, Candidate, decode
from persian_ie.training.config import load_config
from persian_ie.training.relations import add_relation_head, type_f1

OVERFIT = {"epochs": 150, "lr": 0.005, "dropout": 0.0, "batch_size": 32, "seed": 3}


def _keys(docs):
    return {(d.id, r.type, r.head, r.tail) for d in docs for r in d.relations}


def _f1(gold_docs, pred_docs) -> float:
    g, p = _keys(gold_docs), _keys(pred_docs)
    return 2 * len(g & p) / (len(g) + len(p)) if g or p else 1.0


@pytest.fixture(scope="module")
def few_docs(corpus_docs):
    """Five training documents with all three relation types among them."""
    docs = [d for d in corpus_docs["train"] if len({r.type for r in d.relations}) == 3][:5]
    assert {r.type for d in docs for r in d.relations} == {"holder", "proposer", "party"}
    return docs


@pytest.fixture(scope="module")
def learned_dir(tiny_model_dir, tmp_path_factory, few_docs):
    out = tmp_path_factory.mktemp("learned") / "model"
    summary = add_relation_head(tiny_model_dir, out, few_docs, few_docs, OVERFIT)
    assert summary["loss_last"] < summary["loss_first"] / 3
    return out


def test_head_overfits_few_documents_and_scores_every_relation(learned_dir, few_docs):
    from persian_ie.data.normalize import Normalizer
    from persian_ie.eval.baseline import link_gold

    rules = [link_gold(d, Normalizer()) for d in few_docs]
    assert _f1(few_docs, rules) < 0.9  # the rules (a head feature) alone do not pass this bar: 0.80
    predictor = Predictor.from_pretrained(learned_dir)
    pred = predictor.link_documents(few_docs)
    assert _f1(few_docs, pred) >= 0.9
    scores = [r.score for d in pred for r in d.relations]
    assert scores and all(0 <= s <= 1 for s in scores)
    assert {r.type for d in pred for r in d.relations} == {"holder", "proposer", "party"}


def test_head_saved_in_safetensors_and_loaded_with_no_missing_keys(learned_dir, few_docs, tmp_path):
    from safetensors import safe_open

    with safe_open(str(learned_dir / "model.safetensors"), framework="pt") as fh:
        assert any(k.startswith("relation_head.") for k in fh.keys())
    raw = json.loads((learned_dir / "config.json").read_text("utf-8"))
    assert raw["relation_model"]["name"] == LEARNED_V1
    assert set(raw["relation_model"]["params"]["thresholds"]) == {"holder", "proposer", "party"}
    model, info = LayeredTokenClassifier.from_pretrained(learned_dir, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    # save again, load again: the same relations with the same scores
    model, tokenizer = load_pretrained(learned_dir)
    again = save_pretrained(model, tokenizer, tmp_path / "again")
    first = [[r.to_dict() for r in d.relations] for d in Predictor.from_pretrained(learned_dir).link_documents(few_docs)]
    second = [[r.to_dict() for r in d.relations] for d in Predictor.from_pretrained(again).link_documents(few_docs)]
    assert first == second


def test_learned_model_predicts_end_to_end_with_records(learned_dir, few_docs):
    doc = Predictor.from_pretrained(learned_dir).predict_documents([Document(few_docs[0].id, few_docs[0].text)])[0]
    assert set(doc.extra["records"]) == {"officials", "proposals"}
    assert all(r.score is not None for r in doc.relations)


def test_thresholds_from_config_json_are_applied(learned_dir, few_docs, tmp_path):
    edited = shutil.copytree(learned_dir, tmp_path / "edited")
    raw = json.loads((edited / "config.json").read_text("utf-8"))
    raw["relation_model"]["params"]["thresholds"] = {"holder": 1.0, "proposer": 0.0, "party": 0.0}
    (edited / "config.json").write_text(json.dumps(raw), "utf-8")
    predictor = Predictor.from_pretrained(edited)
    assert predictor.relations.thresholds == {"holder": 1.0, "proposer": 0.0, "party": 0.0}
    pred = predictor.link_documents(few_docs)
    tuned = Predictor.from_pretrained(learned_dir).link_documents(few_docs)
    n_props = sum(1 for d in few_docs for s in d.spans if s.label == "PROPOSAL")
    types = [r.type for d in pred for r in d.relations]
    assert types.count("holder") < sum(1 for d in tuned for r in d.relations if r.type == "holder")
    assert types.count("party") >= sum(1 for d in tuned for r in d.relations if r.type == "party")
    assert 0 < types.count("proposer") <= n_props  # one proposer per proposal, even at threshold 0


def test_bad_thresholds_and_missing_head_weights_are_refused(learned_dir, tiny_model_dir, tmp_path):
    bad = shutil.copytree(learned_dir, tmp_path / "bad")
    raw = json.loads((bad / "config.json").read_text("utf-8"))
    raw["relation_model"]["params"]["thresholds"] = {"holdr": 0.5}
    (bad / "config.json").write_text(json.dumps(raw), "utf-8")
    with pytest.raises(ModelConfigError, match="thresholds"):
        load_pretrained(bad)
    # a rules model's weights under a learned config: relation_head.* missing
    nohead = shutil.copytree(tiny_model_dir, tmp_path / "nohead")
    rules_raw = json.loads((nohead / "config.json").read_text("utf-8"))
    rules_raw["relation_model"] = raw["relation_model"] | {"params": {"thresholds": {"holder": 0.5}}}
    (nohead / "config.json").write_text(json.dumps(rules_raw), "utf-8")
    with pytest.raises(ModelConfigError, match="relation_head"):
        load_pretrained(nohead)


def test_features_only_head_links_alike_beside_every_forward_backend(learned_dir, few_docs):
    """The default head reads no encoder vectors: with an ONNX or bf16 forward it is loaded alone,
    in float32, from the weights file, and gives the torch run's relations and scores."""
    reference = Predictor.from_pretrained(learned_dir, backend="torch")
    assert reference.needs_words and not reference.needs_states  # no encoder pass for linking gold spans
    want = [[r.to_dict() for r in d.relations] for d in reference.link_documents(few_docs)]
    assert any(want)
    assert reference.relations.head is reference.model.relation_head  # float32 torch: the model's own head
    for backend in ("onnx", "torch-bf16"):
        other = Predictor.from_pretrained(learned_dir, backend=backend)
        assert next(other.relations.head.parameters()).dtype == torch.float32
        assert other.relations.head is not getattr(other.model, "relation_head", None)  # not the bf16 copy
        assert [[r.to_dict() for r in d.relations] for d in other.link_documents(few_docs)] == want, backend
    # end to end: the ONNX forward (float32) gives the same spans, so the same relations and scores
    texts = [d.text for d in few_docs]
    onnx_docs = Predictor.from_pretrained(learned_dir, backend="onnx").predict_texts(texts)
    torch_docs = reference.predict_texts(texts)
    assert [[r.to_dict() for r in d.relations] for d in onnx_docs] == [[r.to_dict() for r in d.relations] for d in torch_docs]


def test_span_vector_head_falls_back_to_float32_torch(tiny_model_dir, few_docs, tmp_path, capsys):
    out = tmp_path / "vectors"
    add_relation_head(tiny_model_dir, out, few_docs, few_docs, {"epochs": 3, "span_vectors": True})
    capsys.readouterr()
    for backend in ("onnx", "torch-bf16"):
        predictor = Predictor.from_pretrained(out, backend=backend)
        assert "using float32 torch" in capsys.readouterr().err
        assert predictor.needs_states and type(predictor.backend).__name__ == "TorchBackend"
        assert next(predictor.model.parameters()).dtype == torch.float32


def test_learned_component_outside_predictor_says_what_it_needs(learned_dir):
    predictor = Predictor.from_pretrained(learned_dir)
    with pytest.raises(RelationHeadError, match="E310"):
        predictor.relations.link("x", [], [(0, 1)])


def test_decode_keeps_one_proposer_and_drops_it_as_party():
    prop, a, b = Span("p", 10, 20, "PROPOSAL"), Span("a", 0, 3, "ORG"), Span("b", 4, 8, "ORG")
    cands = [Candidate("proposer", prop, a, []), Candidate("proposer", prop, b, []), Candidate("party", prop, a, []), Candidate("party", prop, b, [])]
    rels = decode(cands, [0.7, 0.9, 0.8, 0.6], {"proposer": 0.5, "party": 0.65})
    assert [(r.type, r.tail) for r in rels] == [("proposer", "b"), ("party", "a")]
    assert rels[0].score == 0.9
    assert decode(cands, [0.7, 0.9, 0.8, 0.6], {"proposer": 0.95, "party": 0.95}) == []


def test_type_f1_counts_against_gold():
    prop, a = Span("p", 10, 20, "PROPOSAL"), Span("a", 0, 3, "ORG")
    ex = [([Candidate("proposer", prop, a, [])], None, None, {("proposer", "p", "a"), ("party", "p", "a")}, None)]
    got = type_f1(ex, [[0.9]], {"proposer": 0.5})
    assert got["proposer"][3] == 1.0 and got["party"][2] == 1 and got["micro"][3] == pytest.approx(2 / 3)


def test_rules_remain_the_default_and_selectable(tiny_model_dir):
    assert load_config(None).model.linking == "rules"
    assert load_config(None, ["model.linking=learned"]).model.linking == "learned"
    with pytest.raises(ConfigError, match="model.linking"):
        load_config(None, ["model.linking=neural"])
    with pytest.raises(ConfigError, match="model.relation_head"):
        load_config(None, ["model.relation_head.epoch=3"])
    predictor = Predictor.from_pretrained(tiny_model_dir)
    assert tiny_model_dir.joinpath("config.json").read_text("utf-8").count(RULES_V1) == 1
    assert not predictor.needs_states
    doc = Document("d", "شهردار مشهد محمد قلندر گفت.", [Span("t", 0, 11, "TITLE"), Span("n", 12, 22, "PER")])
    assert [r.to_dict() for r in predictor.link_documents([doc])[0].relations] == [{"type": "holder", "head": "t", "tail": "n"}]


def test_train_relations_and_evaluate_on_gold_spans_from_the_cli(tiny_model_dir, few_docs, tmp_path, capsys):
    data = tmp_path / "few.jsonl"
    write_documents(data, few_docs)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"data:\n  train: [{data}]\n  dev: {data}\nmodel:\n  linking: learned\n  relation_head: {{epochs: 5}}\n", "utf-8")
    assert main(["train-relations", str(cfg), "--model", str(tiny_model_dir), "--out", str(tmp_path / "m")]) == 0
    assert "relation head:" in capsys.readouterr().out
    report = tmp_path / "r.json"
    assert main(["evaluate", "--gold", str(data), "--model", str(tmp_path / "m"), "--link-gold-spans", "--bootstrap", "0", "--out", str(report)]) == 0
    got = json.loads(report.read_text("utf-8"))
    assert got["micro"]["f1"] == 1.0  # gold spans in, gold spans out
    assert read_documents(data)[0].relations  # the gold file itself is untouched


def test_train_with_learned_linking_saves_the_head_in_the_best_model(tiny_base, few_docs, tmp_path):
    from persian_ie.training.train import train

    data = tmp_path / "few.jsonl"
    write_documents(data, few_docs)
    cfg = load_config(None, [f"output_dir={tmp_path / 'run'}", f"model.base={tiny_base}", f"data.train=[{data}]", f"data.dev={data}",
                             "optim.max_steps=2", "optim.batch_size=8", "window.max_length=64", "window.stride=8", "bootstrap=0",
                             "model.linking=learned", "model.relation_head={epochs: 3}"])
    train(cfg, show_progress=False)
    model_dir = tmp_path / "run" / "model"
    assert json.loads((model_dir / "config.json").read_text("utf-8"))["relation_model"]["name"] == LEARNED_V1
    assert json.loads((tmp_path / "run" / "relation_head.json").read_text("utf-8"))["pairs"] > 0
    _, info = LayeredTokenClassifier.from_pretrained(model_dir, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert not (tmp_path / "run" / "model.relations-tmp").exists()


def test_thresholds_from_train_folds_and_bad_settings(tiny_model_dir, few_docs, tmp_path):
    from persian_ie.errors import RelationTrainingError
    from persian_ie.training.relations import THRESHOLD_GRID, relation_settings

    with pytest.raises(RelationTrainingError, match="thresholds_from"):
        relation_settings({"thresholds_from": "test"})
    summary = add_relation_head(tiny_model_dir, tmp_path / "cv", few_docs, [], {"epochs": 5, "thresholds_from": "train_cv"})
    assert set(summary["thresholds"].values()) <= set(THRESHOLD_GRID) and "dev_tuned" not in summary
    saved = json.loads((tmp_path / "cv" / "config.json").read_text("utf-8"))["relation_model"]["params"]["thresholds"]
    assert saved == summary["thresholds"]


def test_in_place_save_never_leaves_the_model_missing(tiny_model_dir, tmp_path, monkeypatch):
    # train-relations --out equal to --model: a crash while the new copy is written
    # must leave the old model loadable, and a finished save leaves no side copies.
    import persian_ie.models.io as io

    target = shutil.copytree(tiny_model_dir, tmp_path / "model")
    before = (target / "model.safetensors").read_bytes()
    model, tokenizer = io.load_pretrained(target)
    real_save = io.save_pretrained

    def crash_midway(model, tokenizer, directory, card=None):
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "config.json").write_text("{", encoding="utf-8")  # half-written
        raise KeyboardInterrupt

    monkeypatch.setattr(io, "save_pretrained", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        io.replace_pretrained(model, tokenizer, target)
    assert (target / "model.safetensors").read_bytes() == before
    io.load_pretrained(target)
    monkeypatch.setattr(io, "save_pretrained", real_save)
    io.replace_pretrained(model, tokenizer, target, "card")  # the half-written side copy from the crash is cleared first
    assert (target / "README.md").read_text("utf-8") == "card"
    io.load_pretrained(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
