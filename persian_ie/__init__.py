"""persian-ie: information extraction from Persian news.

One import namespace over the project's stage folders (see pyproject.toml):
``persian_ie.data`` (data/), ``persian_ie.models`` (models/),
``persian_ie.training`` (training/), ``persian_ie.eval`` (eval/),
``persian_ie.inference`` (inference/), ``persian_ie.bench`` (bench/).
Data flows data -> training -> models -> eval / inference.
"""

__version__ = "0.1.0"
