"""persian-ie: information extraction from Persian news.

One import namespace over the project's stage folders (see pyproject.toml):
``persian_ie.data`` (data/), ``persian_ie.models`` (models/),
``persian_ie.training`` (training/), ``persian_ie.eval`` (eval/),
``persian_ie.inference`` (inference/), ``persian_ie.bench`` (bench/).
Data flows data -> training -> models -> eval / inference.

Importing the package registers the model with transformers' auto classes,
so ``AutoModel.from_pretrained(MODEL_DIR)`` returns the full layered model.
"""

import sys

__version__ = "0.1.0"


def _register_auto_classes() -> None:
    # models/layered.py registers config and model when it is imported; a
    # models module that is importing right now registers at its own end.
    if "persian_ie.models.configuration" not in sys.modules and "persian_ie.models.layered" not in sys.modules:
        import persian_ie.models.layered  # noqa: F401


class _RegisterAfterTransformers:
    """Registers the auto classes right after ``transformers`` is imported.

    Importing transformers and torch takes seconds; the data-only commands
    (validate, stats, ...) never need them, so registration waits for the
    first import of transformers instead of forcing it.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "transformers":
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_register(module):
            exec_module(module)
            _register_auto_classes()

        spec.loader.exec_module = exec_and_register
        return spec


if "transformers" in sys.modules:
    _register_auto_classes()
elif not any(isinstance(f, _RegisterAfterTransformers) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterTransformers())
