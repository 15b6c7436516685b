"""Issue 13 item 3: ``transformers.pipeline("token-classification", model=DIR)``
on a persian-ie model directory fails at load time with a message naming the
Predictor, instead of loading and crashing on the per-layer logits
(``KeyError: 0`` in the pipeline's postprocess before)."""

import pytest

import persian_ie  # noqa: F401  (registers the model with the Auto classes)
from persian_ie.errors import UnsupportedUseError


def test_pipeline_refuses_with_a_message_naming_the_predictor(tiny_model_dir):
    from transformers import pipeline

    with pytest.raises(UnsupportedUseError, match=r"\[E305\].*pipeline\('token-classification'\).*Predictor\.from_pretrained\(DIR\)"):
        pipeline("token-classification", model=str(tiny_model_dir))


def test_token_classification_auto_class_refuses_and_auto_model_loads(tiny_model_dir):
    from transformers import AutoConfig, AutoModel, AutoModelForTokenClassification

    from persian_ie.models.layered import LayeredTokenClassifier

    with pytest.raises(UnsupportedUseError, match="AutoModel.from_pretrained"):
        AutoModelForTokenClassification.from_pretrained(tiny_model_dir, trust_remote_code=False)
    with pytest.raises(UnsupportedUseError):
        AutoModelForTokenClassification.from_config(AutoConfig.from_pretrained(tiny_model_dir, trust_remote_code=False))
    assert type(AutoModel.from_pretrained(tiny_model_dir, trust_remote_code=False)) is LayeredTokenClassifier
