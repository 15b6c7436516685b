"""Auxiliary corpora annotated for some labels only (PEYMA: PER and ORG, LOC dropped).

Their unannotated layers and the words of dropped spans must teach nothing:
-100 in the labels, never "O".
"""

import json
import math

import pytest
import torch

from persian_ie.data.dataset import encode_document, fully_annotated, is_fully_annotated
from persian_ie.data.encoding import IGNORE
from persian_ie.data.normalize import Normalizer
from persian_ie.data.schema import load_schema
from persian_ie.errors import ConfigError
from persian_ie.models.layered import _layer_loss
from persian_ie.training.config import load_config
from persian_ie.training.corpora import load_training_documents

PEYMA_LINES = "سعید|B_PER\nپورعلی|I_PER\nدر|O\nتهران|B_LOC\nو|O\nمعاون|O\nخبرگزاری|B_ORG\nمهر|I_ORG\nگفت|O\n\nپیشنهاد|O\nداد|O\n"
PEYMA_MAP = "{PER: PER, ORG: ORG, LOC: null}"


def _aux_config(tmp_path, extra: str = ""):
    train, aux = tmp_path / "train.jsonl", tmp_path / "peyma.txt"
    train.write_text(json.dumps({"id": "a", "text": "شهردار مشهد آمد"}, ensure_ascii=False) + "\n", encoding="utf-8")
    aux.write_text(PEYMA_LINES, encoding="utf-8")
    return load_config(None, [f"data.train=[{train}]", f"data.auxiliary=[{{path: {aux}, format: peyma, label_map: {PEYMA_MAP}{extra}}}]"])


def test_an_auxiliary_corpus_knows_only_its_mapped_labels_and_its_dropped_spans_are_unknown(tmp_path):
    train, _, _ = load_training_documents(_aux_config(tmp_path).data, load_schema("default"))
    primary, first, second = train
    assert primary.partial is None  # the project corpus annotates everything
    partial = first.partial
    assert partial.annotated == {"PER", "ORG"}
    assert [first.text[s:e] for s, e in partial.unknown] == ["تهران"]
    assert second.partial.unknown == ()
    assert not is_fully_annotated(first, ["PROPOSAL"]) and is_fully_annotated(first, ["PER"]) and is_fully_annotated(primary, ["PROPOSAL"])
    assert fully_annotated(train, ["PER", "PROPOSAL"]) == ([primary], 2)  # what the relation head and refiner learn from
    assert set(first.to_dict()) == {"id", "text", "spans", "relations", "meta"}  # in memory only, never written


def test_the_labels_of_a_partly_annotated_document_are_ignored_where_it_does_not_say(tmp_path, tiny_base):
    from transformers import AutoTokenizer

    schema = load_schema("default")
    train, _, _ = load_training_documents(_aux_config(tmp_path).data, schema)
    doc = train[1]
    (row,) = encode_document(doc, AutoTokenizer.from_pretrained(tiny_base), schema, Normalizer(), 64, 8)
    words = [t for t in row["labels_entity"] if t != IGNORE]
    tags = schema.tags("entity")
    # سعید پورعلی در [تهران] و معاون خبرگزاری مهر گفت: the city's word is unknown, the rest is known
    assert [tags[t] for t in words] == ["B-PER", "I-PER", "O", "O", "O", "B-ORG", "I-ORG", "O"]
    assert row["labels_entity"].count(IGNORE) > 0
    assert set(row["labels_role"]) == {IGNORE} and set(row["labels_event"]) == {IGNORE}
    # the same document fully annotated: every layer has its tags, TITLE's word معاون is O
    doc.partial = None
    (full,) = encode_document(doc, AutoTokenizer.from_pretrained(tiny_base), schema, Normalizer(), 64, 8)
    assert len([t for t in full["labels_role"] if t != IGNORE]) == 9


def test_annotates_overrides_the_label_map_and_is_checked(tmp_path):
    schema = load_schema("default")
    train, _, _ = load_training_documents(_aux_config(tmp_path, ", annotates: [PER, ORG]").data, schema)
    assert train[1].partial.annotated == {"PER", "ORG"}  # annotates lists the labels; the map keeps ORG too
    with pytest.raises(ConfigError, match=r"data.auxiliary\[0\].annotates: the corpus has spans labelled \['ORG'\], which annotates \['PER'\] leaves out"):
        load_training_documents(_aux_config(tmp_path, ", annotates: [PER]").data, schema)
    with pytest.raises(ConfigError, match=r"data.auxiliary\[0\].annotates: \['LOC'\] are not labels of schema"):
        load_training_documents(_aux_config(tmp_path, ", annotates: [PER, LOC]").data, schema)
    with pytest.raises(ConfigError, match=r"data.auxiliary\[0\].annotates: expected a list of labels"):
        _aux_config(tmp_path, ", annotates: PER")


def test_an_auxiliary_corpus_in_the_schema_without_a_label_map_counts_as_fully_annotated(tmp_path):
    train, aux = tmp_path / "train.jsonl", tmp_path / "aux.jsonl"
    for path in (train, aux):
        path.write_text(json.dumps({"id": path.stem, "text": "علی آمد"}) + "\n")
    cfg = load_config(None, [f"data.train=[{train}]", f"data.auxiliary=[{{path: {aux}}}]"])
    docs, _, _ = load_training_documents(cfg.data, load_schema("default"))
    assert all(d.partial is None for d in docs)


def test_a_layer_with_no_label_in_the_batch_adds_zero_loss_not_nan():
    logits = torch.randn(6, 3, requires_grad=True)
    nothing = torch.full((6,), IGNORE)
    loss = _layer_loss(logits, nothing, None)
    loss.backward()
    assert loss.item() == 0.0 and torch.count_nonzero(logits.grad) == 0
    some = torch.tensor([0, 2, IGNORE, 1, IGNORE, 0])
    expected = torch.nn.CrossEntropyLoss(ignore_index=IGNORE)(logits, some)
    assert torch.equal(_layer_loss(logits, some, None), expected)  # fully annotated training is unchanged


def test_training_with_a_partly_annotated_corpus_keeps_a_finite_loss(tmp_path, tiny_base, corpus_docs):
    from persian_ie.data.document import write_documents
    from persian_ie.training.train import train

    cfg = _aux_config(tmp_path)
    write_documents(tmp_path / "train.jsonl", corpus_docs["train"][:2])
    write_documents(tmp_path / "dev.jsonl", corpus_docs["dev"][:2])
    # batches of one window: some hold only the PEYMA sentences, where the role and event layers say nothing
    cfg = load_config(None, [f"output_dir={tmp_path / 'run'}", f"model.base={tiny_base}", f"data.train=[{tmp_path / 'train.jsonl'}]", f"data.dev={tmp_path / 'dev.jsonl'}",
                             f"data.auxiliary=[{{path: {tmp_path / 'peyma.txt'}, format: peyma, label_map: {PEYMA_MAP}}}]",
                             "optim.epochs=1", "optim.eval_every_steps=1", "optim.patience=null", "optim.batch_size=1", "window.max_length=64", "window.stride=8",
                             "bootstrap=0", "model.linking=rules"])
    train(cfg, show_progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [row["loss"] for row in log if "loss" in row]
    # one epoch of one-window batches: each PEYMA sentence was a batch of its own
    assert len(losses) >= 3 and all(math.isfinite(x) for x in losses)


def test_max_documents_reads_and_counts_only_the_documents_kept(tmp_path, caplog):
    import logging

    train, aux = tmp_path / "train.jsonl", tmp_path / "peyma.txt"
    train.write_text(json.dumps({"id": "a", "text": "علی آمد"}) + "\n")
    aux.write_text(PEYMA_LINES + "\nتهران|B_LOC\n\n" + "خراب\n", encoding="utf-8")  # a bad line after the documents kept
    cfg = load_config(None, [f"data.train=[{train}]", f"data.auxiliary=[{{path: {aux}, format: peyma, max_documents: 1, label_map: {PEYMA_MAP}}}]"])
    with caplog.at_level(logging.INFO, logger="persian_ie.training.corpora"):
        docs, _, _ = load_training_documents(cfg.data, load_schema("default"))
    assert len(docs) == 2
    assert "{'LOC': 1}" in caplog.text  # the LOC of the third sentence is not counted


def test_outside_labels_are_o_and_must_be_labels_the_map_drops(tmp_path):
    schema = load_schema("default")
    train, _, _ = load_training_documents(_aux_config(tmp_path, ", outside: [LOC]").data, schema)
    assert train[1].partial.unknown == () and train[1].partial.annotated == {"PER", "ORG"}
    with pytest.raises(ConfigError, match=r"data.auxiliary\[0\].outside: \['PER'\] are not labels the label_map drops"):
        load_training_documents(_aux_config(tmp_path, ", outside: [PER]").data, schema)


def test_a_corpus_that_annotates_no_label_of_the_schema_is_refused(tmp_path):
    cfg = _aux_config(tmp_path)
    cfg.data.auxiliary[0].label_map = {"PER": None, "ORG": None, "LOC": None}
    with pytest.raises(ConfigError, match=r"data.auxiliary\[0\]: the corpus annotates no label of schema"):
        load_training_documents(cfg.data, load_schema("default"))


@pytest.mark.parametrize("value", ["0", "-1", "true"])
def test_max_documents_must_be_a_positive_count(tmp_path, value):
    with pytest.raises(ConfigError, match=r"data.auxiliary\[0\].max_documents: expected an integer >= 1"):
        _aux_config(tmp_path, f", max_documents: {value}")


def test_a_jsonl_auxiliary_corpus_with_a_label_map_marks_its_dropped_spans_unknown(tmp_path):
    train, aux = tmp_path / "train.jsonl", tmp_path / "aux.jsonl"
    train.write_text(json.dumps({"id": "a", "text": "علی آمد"}) + "\n")
    text = "علی در مشهد گفت"
    spans = [{"id": "s1", "start": 0, "end": 3, "label": "PER"}, {"id": "s2", "start": 7, "end": 11, "label": "CITY"}]
    aux.write_text(json.dumps({"id": "b", "text": text, "spans": spans}, ensure_ascii=False) + "\n", encoding="utf-8")
    cfg = load_config(None, [f"data.train=[{train}]", f"data.auxiliary=[{{path: {aux}, label_map: {{CITY: null}}}}]"])
    docs, _, _ = load_training_documents(cfg.data, load_schema("default"))
    assert docs[1].partial.annotated == {"PER"} and docs[1].partial.unknown == ((7, 11),)
