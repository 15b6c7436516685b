"""persian-ie: information extraction from Persian news.

One import namespace over the project's stage folders (see pyproject.toml):
``persian_ie.data`` (data/), ``persian_ie.models`` (models/),
``persian_ie.training`` (training/), ``persian_ie.eval`` (eval/),
``persian_ie.inference`` (inference/), ``persian_ie.bench`` (bench/).
Data flows data -> training -> models -> eval / inference.

Importing the package registers the model with transformers' auto classes,
so ``AutoModel.from_pretrained(MODEL_DIR)`` returns the full layered model.
"""

__version__ = "0.1.0"


def _register_auto_classes() -> None:
    try:
        from transformers import AutoConfig, AutoModel, AutoModelForTokenClassification
    except ImportError:  # the data-only tools run without transformers
        return
    from persian_ie.models.configuration import MODEL_TYPE, PersianIEConfig
    from persian_ie.models.layered import LayeredTokenClassifier

    AutoConfig.register(MODEL_TYPE, PersianIEConfig, exist_ok=True)
    AutoModel.register(PersianIEConfig, LayeredTokenClassifier, exist_ok=True)
    AutoModelForTokenClassification.register(PersianIEConfig, LayeredTokenClassifier, exist_ok=True)


_register_auto_classes()
