"""Coded errors: every message says what failed, shows the value and, where
one exists, the fix. Library code raises these; only the CLI exits."""


class PersianIEError(Exception):
    """Base class. ``code`` is a short stable identifier such as ``E101``."""

    code = "E000"

    def __init__(self, message: str):
        super().__init__(f"[{self.code}] {message}")


class SchemaError(PersianIEError):
    code = "E101"


class DocumentError(PersianIEError):
    """A document that breaks the format of SCHEMA.md section 4."""

    code = "E102"


class InlineMarkupError(PersianIEError):
    code = "E103"


class ConfigError(PersianIEError):
    code = "E201"


class DistributedSetupError(PersianIEError):
    """Launcher processes that did not join one training group (each would train alone into the same run directory)."""

    code = "E220"


class ModelLoadError(PersianIEError):
    code = "E301"


class SchemaMismatchError(PersianIEError):
    code = "E302"


class OfflineModelError(PersianIEError):
    code = "E303"


class EvaluationError(PersianIEError):
    code = "E401"


class InputError(PersianIEError):
    code = "E501"


class OutputPathError(PersianIEError):
    """An output path that would overwrite an input or the other output."""

    code = "E503"


class OutputLockedError(PersianIEError):
    """Another run holds the output's lock."""

    code = "E504"


class LedgerError(PersianIEError):
    """A resume ledger that is corrupt, or does not match its output files."""

    code = "E505"


class ResumeMismatchError(PersianIEError):
    """``--resume`` with other inputs, model, fields or shard plan than the run it continues."""

    code = "E506"


class OutputWriteError(PersianIEError):
    """Writing an output file failed (disk full, permissions)."""

    code = "E507"


class WorkerDiedError(PersianIEError):
    """A preprocessing worker process ended abruptly (killed by a signal, out of memory)."""

    code = "E508"


class ModelConfigError(PersianIEError):
    """A model directory whose config.json or weights are missing, invalid or unsafe (names file and field)."""

    code = "E304"
class YamlError(PersianIEError):
    """A schema or config YAML file that cannot be read safely (invalid, or uses anchors/aliases)."""

    code = "E104"


class TrainingDataError(PersianIEError):
    """Training data that breaks ``validate``'s rules, or has no usable document."""

    code = "E202"


class UnsupportedUseError(PersianIEError):
    """A tool that cannot run a persian-ie model (``transformers.pipeline``); the message names what can."""

    code = "E305"


class ReportError(PersianIEError):
    """An evaluation report (``evaluate --compare``) that is not valid JSON or lacks its fields."""

    code = "E402"
class FactsDatabaseError(PersianIEError):
    """A facts database that cannot be opened, or was written by an incompatible schema version."""

    code = "E701"


class FactsExportError(PersianIEError):
    """An export that cannot be written (unknown format, Parquet without pyarrow)."""

    code = "E702"


class RelationHeadError(PersianIEError):
    """A learned relation component that cannot run: no ``relation_head`` weights, or no word vectors given."""

    code = "E310"


class RelationTrainingError(PersianIEError):
    """Relation-head training that cannot start: a model without relations, or training data without gold relations."""

    code = "E210"


class RefinerTrainingError(PersianIEError):
    """Span-refiner training that cannot start: a label in no layer of the schema, unknown settings,
    or training data without a gold span of the label."""

    code = "E211"


class BackendError(PersianIEError):
    """An inference backend that cannot run here (unknown name, onnxruntime missing, export failed)."""

    code = "E520"
