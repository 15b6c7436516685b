"""Frozen lower layers: the split encoder equals the whole one, training keeps them fixed and runs only the rest."""

import pytest
import torch

from persian_ie.errors import ConfigError
from persian_ie.models.encoder_split import check_split, freeze_lower, lower_states, upper_states
from persian_ie.training.config import load_config
from persian_ie.training.train import train


def _encoder(tiny_base):
    from transformers import AutoModel

    return AutoModel.from_pretrained(tiny_base, add_pooling_layer=False).eval()


def test_lower_then_upper_equals_the_whole_encoder(tiny_base):
    encoder = _encoder(tiny_base)
    torch.manual_seed(0)
    ids = torch.randint(5, 500, (3, 17))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # a padded row: the mask must reach the upper layers too
    with torch.no_grad():
        whole = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        split = upper_states(encoder, lower_states(encoder, ids, mask, 1), mask, 1)
    real = mask.bool()
    assert torch.allclose(whole[real], split[real], atol=1e-5)


def test_a_split_must_leave_a_layer_to_train(tiny_base):
    encoder = _encoder(tiny_base)  # 2 layers
    check_split(encoder, 1)
    for bad in (2, 5):
        with pytest.raises(ConfigError, match="model.freeze_layers: .* between 1 and 1 .*2 layers"):
            check_split(encoder, bad)


def test_freeze_lower_stops_gradients_below_the_split(tiny_base):
    encoder = _encoder(tiny_base)
    freeze_lower(encoder, 1)
    trainable = {".".join(name.split(".")[:3]) for name, p in encoder.named_parameters() if p.requires_grad}
    assert trainable == {"encoder.layer.1"}


def test_training_with_frozen_layers_changes_only_the_layers_above(tiny_base, tmp_path, corpus_docs):
    from safetensors.torch import load_file

    from persian_ie.data.document import write_documents

    write_documents(tmp_path / "train.jsonl", corpus_docs["train"][:6])
    write_documents(tmp_path / "dev.jsonl", corpus_docs["dev"][:3])
    cfg = load_config(None, [f"output_dir={tmp_path / 'run'}", f"model.base={tiny_base}", f"data.train=[{tmp_path / 'train.jsonl'}]",
                             f"data.dev={tmp_path / 'dev.jsonl'}", "data.test=null", "optim.batch_size=8", "window.max_length=64",
                             "window.stride=8", "bootstrap=0", "optim.max_steps=3", "optim.patience=null", "model.freeze_layers=1",
                             "optim.lr=1e-2"])
    summary = train(cfg, show_progress=False)
    assert summary["steps"] == 3
    base = load_file(tiny_base / "model.safetensors")
    trained = load_file(tmp_path / "run" / "model" / "model.safetensors")

    def same(prefix):
        keys = [k for k in base if k.startswith(prefix)]
        assert keys
        return all(torch.equal(base[k], trained["encoder." + k]) for k in keys)

    assert same("embeddings.") and same("encoder.layer.0.")
    assert not same("encoder.layer.1.")  # the layer above the split trained


def test_freeze_layers_must_be_a_count():
    with pytest.raises(ConfigError, match="model.freeze_layers: expected an integer >= 0"):
        load_config(None, ["model.freeze_layers=-1"])


def test_a_model_trained_on_the_lower_layers_saves_and_loads_with_that_depth(tiny_base, tmp_path, corpus_docs):
    from persian_ie.data.document import write_documents
    from persian_ie.models.io import load_pretrained

    write_documents(tmp_path / "train.jsonl", corpus_docs["train"][:4])
    write_documents(tmp_path / "dev.jsonl", corpus_docs["dev"][:2])
    cfg = load_config(None, [f"output_dir={tmp_path / 'run'}", f"model.base={tiny_base}", f"data.train=[{tmp_path / 'train.jsonl'}]",
                             f"data.dev={tmp_path / 'dev.jsonl'}", "data.test=null", "optim.batch_size=8", "window.max_length=64",
                             "window.stride=8", "bootstrap=0", "optim.max_steps=2", "optim.patience=null", "model.encoder_layers=1"])
    train(cfg, show_progress=False)
    model, _ = load_pretrained(tmp_path / "run" / "model")
    assert model.config.encoder.num_hidden_layers == 1
    assert len(model.encoder.encoder.layer) == 1


def test_encoder_layers_must_fit_the_encoder(tiny_base):
    from persian_ie.models.encoder_split import keep_lower_layers

    with pytest.raises(ConfigError, match="model.encoder_layers: 3 must be between 1 and 2"):
        keep_lower_layers(_encoder(tiny_base), 3)
    with pytest.raises(ConfigError, match="model.encoder_layers: expected an integer >= 1"):
        load_config(None, ["model.encoder_layers=0"])


def test_frozen_layers_must_leave_a_kept_layer_to_train():
    with pytest.raises(ConfigError, match=r"model.freeze_layers: 4 must be below model.encoder_layers \(4\)"):
        load_config(None, ["model.encoder_layers=4", "model.freeze_layers=4"])
    load_config(None, ["model.encoder_layers=4", "model.freeze_layers=3"])


def test_reinit_gives_only_the_top_layers_fresh_weights(tiny_base):
    from persian_ie.models.encoder_split import reinit_upper_layers

    encoder = _encoder(tiny_base)  # 2 layers
    with torch.no_grad():  # as pretrained weights would be: nothing at its initial value
        for p in encoder.parameters():
            p.add_(0.5)
    pretrained = {name: value.clone() for name, value in encoder.state_dict().items()}
    torch.manual_seed(0)
    reinit_upper_layers(encoder, 1)
    for name, value in encoder.state_dict().items():
        if not name.startswith("encoder.layer.1."):
            assert torch.equal(value, pretrained[name]), name  # the lower layer and the embeddings are kept
        elif name.endswith("LayerNorm.weight"):
            assert torch.all(value == 1), name
        elif name.endswith("bias"):
            assert torch.all(value == 0), name
        else:  # a weight matrix, drawn again
            assert value.ndim == 2 and not torch.equal(value, pretrained[name]), name
    std = encoder.encoder.layer[1].intermediate.dense.weight.std().item()
    assert abs(std - encoder.config.initializer_range) < 0.01


def test_reinit_must_fit_above_the_frozen_layers(tiny_base):
    from persian_ie.models.encoder_split import reinit_upper_layers

    with pytest.raises(ConfigError, match=r"model.reinit_layers: 2 must be between 1 and 1 .*2 layers, 1 frozen"):
        reinit_upper_layers(_encoder(tiny_base), 2, frozen=1)
    with pytest.raises(ConfigError, match="model.reinit_layers: expected an integer >= 0"):
        load_config(None, ["model.reinit_layers=-1"])
    with pytest.raises(ConfigError, match=r"model.reinit_layers: 3 must be at most model.encoder_layers \(4\) minus model.freeze_layers \(2\)"):
        load_config(None, ["model.encoder_layers=4", "model.freeze_layers=2", "model.reinit_layers=3"])
    load_config(None, ["model.encoder_layers=4", "model.freeze_layers=2", "model.reinit_layers=2"])


def test_seen_rows_start_at_the_pretrained_vectors_and_train_only_their_offsets(tiny_base):
    from persian_ie.models.encoder_split import SeenRowsEmbedding

    base = _encoder(tiny_base).get_input_embeddings()
    before = base.weight.detach().clone()
    embedding = SeenRowsEmbedding(base, torch.tensor([7, 3, 7, 11]))
    ids = torch.tensor([[3, 4, 7, 11, 12]])
    assert torch.equal(embedding(ids), before[ids])  # zero offsets: the pretrained model
    embedding(ids).sum().backward()
    assert base.weight.grad is None and embedding.offset.grad.shape == (3, before.shape[1])
    with torch.no_grad():
        embedding.offset += 1.0
    merged = embedding.merged()
    assert torch.equal(merged(ids), embedding(ids))  # the folded-in matrix gives what training saw
    moved = (merged.weight != before).any(dim=1).nonzero().flatten().tolist()
    assert moved == [3, 7, 11]  # and no other row


def test_training_unseen_frozen_changes_only_the_rows_the_windows_use(tiny_base, tmp_path, corpus_docs):
    from safetensors.torch import load_file

    from persian_ie.data.document import write_documents
    from persian_ie.models.io import load_pretrained

    write_documents(tmp_path / "train.jsonl", corpus_docs["train"][:4])
    write_documents(tmp_path / "dev.jsonl", corpus_docs["dev"][:2])
    cfg = load_config(None, [f"output_dir={tmp_path / 'run'}", f"model.base={tiny_base}", f"data.train=[{tmp_path / 'train.jsonl'}]",
                             f"data.dev={tmp_path / 'dev.jsonl'}", "data.test=null", "optim.batch_size=8", "window.max_length=64",
                             "window.stride=8", "bootstrap=0", "optim.max_steps=3", "optim.patience=null",
                             "model.freeze_embeddings=unseen", "optim.lr=1e-2"])
    train(cfg, show_progress=False)
    base = load_file(tiny_base / "model.safetensors")["embeddings.word_embeddings.weight"]
    saved = load_file(tmp_path / "run" / "model" / "model.safetensors")
    assert not any("offset" in key or "base." in key for key in saved)  # a plain model on disk
    changed = set((saved["encoder.embeddings.word_embeddings.weight"] != base).any(dim=1).nonzero().flatten().tolist())
    from datasets import load_from_disk

    cache = next((tmp_path / "run" / "cache").iterdir())
    used = {i for ids in load_from_disk(str(cache))["input_ids"] for i in ids}
    assert changed and changed <= used
    model, _ = load_pretrained(tmp_path / "run" / "model")
    assert torch.equal(model.encoder.get_input_embeddings().weight, saved["encoder.embeddings.word_embeddings.weight"])
    # resuming with other training data would put the saved offsets on other rows: refused by name
    write_documents(tmp_path / "train.jsonl", corpus_docs["train"][:2])
    cfg.optim.max_steps = 4
    with pytest.raises(ConfigError, match="trained embedding rows"):
        train(cfg, resume=True, show_progress=False)


def test_unseen_rows_need_the_embeddings_to_be_read():
    with pytest.raises(ConfigError, match="model.freeze_embeddings: unseen trains embedding rows"):
        load_config(None, ["model.freeze_embeddings=unseen", "model.freeze_layers=1"])
    with pytest.raises(ConfigError, match="expected true, false or unseen, got 'some'"):
        load_config(None, ["model.freeze_embeddings=some"])
