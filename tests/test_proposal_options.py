"""Issue 10 items 3-4: PROPOSAL tag weights in the loss, nested training subsets for learning curves."""

import pytest
import torch

from persian_ie.errors import ConfigError
from persian_ie.training.config import load_config


def test_tag_weights_are_checked_before_training():
    ok = load_config(None, ["model.tag_weights={event: {B-PROPOSAL: 2.0, I-PROPOSAL: 1.5}}"])
    assert ok.model.tag_weights == {"event": {"B-PROPOSAL": 2.0, "I-PROPOSAL": 1.5}}
    with pytest.raises(ConfigError, match="'B-PROPOSL' is not a tag of layer 'event'"):
        load_config(None, ["model.tag_weights={event: {B-PROPOSL: 2.0}}"])
    with pytest.raises(ConfigError, match="'events' is not a layer"):
        load_config(None, ["model.tag_weights={events: {B-PROPOSAL: 2.0}}"])
    with pytest.raises(ConfigError, match="expected a number > 0"):
        load_config(None, ["model.tag_weights={event: {B-PROPOSAL: 0}}"])
    with pytest.raises(ConfigError, match="'entities' is not a layer"):
        load_config(None, ["model.loss_weights={entities: 2.0}"])
    with pytest.raises(ConfigError, match="expected a number > 0"):
        load_config(None, ["model.loss_weights={event: yes}"])


def test_train_fraction_is_checked():
    assert load_config(None, ["data.train_fraction=0.25"]).data.train_fraction == 0.25
    for bad in ("0", "1.5", "-0.1", "half"):
        with pytest.raises(ConfigError, match="train_fraction"):
            load_config(None, [f"data.train_fraction={bad}"])


def _tiny_model(tiny_base, **settings):
    from transformers import AutoModel

    from persian_ie.data.schema import load_schema
    from persian_ie.models.configuration import build_config
    from persian_ie.models.layered import LayeredTokenClassifier

    encoder = AutoModel.from_pretrained(tiny_base, trust_remote_code=False)
    config = build_config(encoder.config, load_schema(), {"max_length": 64, "stride": 8}, **settings)
    return LayeredTokenClassifier(config, encoder=encoder).eval()


def _batch(model):
    torch.manual_seed(1)
    ids = torch.randint(5, 100, (2, 6))
    labels = {layer: torch.zeros(2, 6, dtype=torch.long) for layer in model.layers}
    labels["event"][0, 2], labels["event"][0, 3] = 1, 2  # B-PROPOSAL, I-PROPOSAL
    return ids, labels


def test_tag_weights_change_the_loss_and_survive_save_load(tiny_base, tmp_path):
    plain = _tiny_model(tiny_base)
    weighted = _tiny_model(tiny_base, tag_weights={"event": {"B-PROPOSAL": 3.0, "I-PROPOSAL": 3.0}})
    weighted.load_state_dict(plain.state_dict())  # same weights: only the loss differs
    ids, labels = _batch(plain)
    with torch.no_grad():
        a = plain(ids, labels=labels).loss
        b = weighted(ids, labels=labels).loss
        same_logits = torch.equal(plain(ids).logits["event"], weighted(ids).logits["event"])
    assert same_logits and not torch.isclose(a, b)
    # By hand: the event layer's weighted mean over the 12 positions.
    with torch.no_grad():
        logits = plain(ids).logits
    nll = torch.nn.functional.cross_entropy(logits["event"].flatten(0, 1), labels["event"].flatten(), reduction="none")
    w = torch.tensor([3.0 if t else 1.0 for t in labels["event"].flatten().tolist()])
    others = sum(torch.nn.functional.cross_entropy(logits[l].flatten(0, 1), labels[l].flatten()) for l in plain.layers if l != "event")
    assert torch.isclose(b, others + (w * nll).sum() / w.sum(), atol=1e-5)

    from persian_ie.models.layered import LayeredTokenClassifier

    weighted.save_pretrained(tmp_path / "m")
    reloaded = LayeredTokenClassifier.from_pretrained(tmp_path / "m")
    assert reloaded.config.tag_weights == {"event": {"B-PROPOSAL": 3.0, "I-PROPOSAL": 3.0}}
    assert reloaded.class_weights == {"event": [1.0, 3.0, 3.0]}
    with torch.no_grad():
        assert torch.isclose(reloaded.eval()(ids, labels=labels).loss, b, atol=1e-6)


def test_train_subsets_are_deterministic_and_nested(corpus_docs):
    from persian_ie.training.corpora import train_subset

    docs = corpus_docs["train"]
    quarter, half, three = (train_subset(docs, f, seed=13) for f in (0.25, 0.5, 0.75))
    ids = lambda ds: [d.id for d in ds]
    assert ids(quarter) == ids(train_subset(docs, 0.25, seed=13))
    assert len(quarter) == -(-len(docs) // 4) and len(half) == -(-len(docs) // 2)
    assert set(ids(quarter)) < set(ids(half)) < set(ids(three)) < set(ids(docs))
    order = {d.id: i for i, d in enumerate(docs)}
    assert ids(half) == sorted(ids(half), key=order.get)  # corpus order kept
    assert ids(quarter) != ids(docs[: len(quarter)])  # a seeded sample, not the head of the file
    assert set(ids(train_subset(docs, 0.25, seed=14))) != set(ids(quarter))
    assert ids(train_subset(docs, 1.0, seed=13)) == ids(docs)


def test_learning_curve_table_reads_test_reports():
    from persian_ie.eval.curve import curve_table

    score = lambda f, ci=None: {"f1": f, **({"ci": {"f1": ci}} if ci else {})}
    report = {"micro": score(0.7, [0.65, 0.75]), "labels": {"PROPOSAL": score(0.4, [0.3, 0.5])}, "relations": {"micro": score(0.35)}}
    table = curve_table([(0.25, 80, report), (1.0, 320, {"micro": score(0.77), "labels": {}, "relations": {}})])
    lines = table.splitlines()
    assert lines[2] == "| 25 % | 80 | 0.700 (0.650–0.750) | 0.400 (0.300–0.500) | 0.350 |"
    assert lines[3] == "| 100 % | 320 | 0.770 | n/a | n/a |"

