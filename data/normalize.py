"""Persian normalization that never loses track of the original offsets.

Every operation is either a one-to-one character replacement or a deletion,
so each character of the normalized text comes from exactly one character of
the original. ``NormalizedText.to_original`` maps a normalized span back to
exact offsets in the original text; nothing is ever inserted.

Rules (each can be switched off in ``NormalizerConfig``):

* Arabic yeh/kaf variants to Persian: ي ى ئ(no) ۍ ې → ی, ك ڪ → ک, ة → ه
  (ئ and ؤ are real Persian letters and stay).
* Digits: Arabic-Indic (٠-٩) and Persian (۰-۹) and Latin to one set
  (``digits``: ``latin``, ``persian`` or ``keep``).
* Kashida (U+0640) and Arabic diacritics (U+064B-U+065F, U+0670) removed.
* ZWNJ look-alikes (U+200B, U+200D, U+00AC, U+00AD, U+FEFF inside text) to U+200C.
* Odd spaces (U+00A0, U+2000-U+200A, U+202F, U+205F, U+3000, tabs) and
  directional marks (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) to a
  plain space; runs of spaces collapse to one; with both ``collapse_spaces``
  and ``unify_zwnj``, repeated ZWNJs collapse and a ZWNJ next to a space is
  dropped. Newlines are kept (they separate sentences and paragraphs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ARABIC_TO_PERSIAN = {"ي": "ی", "ى": "ی", "ۍ": "ی", "ې": "ی", "ك": "ک", "ڪ": "ک", "ة": "ه"}
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
LATIN_DIGITS = "0123456789"
KASHIDA = "\u0640"
ZWNJ = "\u200c"
# The zero-width (and zero-width-like) characters, defined once for the package:
# ZWNJ, zero-width space/joiner, soft hyphen, BOM, and the not-sign some
# keyboards type for ZWNJ.
ZERO_WIDTH = frozenset({ZWNJ, "\u200b", "\u200d", "\u00ac", "\u00ad", "\ufeff"})
ZWNJ_LOOKALIKES = ZERO_WIDTH - {ZWNJ}
ODD_SPACES = {"\u00a0", "\u202f", "\u205f", "\u3000", "\t", "\u2028"} | {chr(c) for c in range(0x2000, 0x200B)}
DIRECTIONAL_MARKS = {"\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e"} | {
    chr(c) for c in range(0x2066, 0x206A)
}


def is_diacritic(ch: str) -> bool:
    code = ord(ch)
    return 0x064B <= code <= 0x065F or code == 0x0670


@dataclass(frozen=True)
class NormalizerConfig:
    arabic_letters: bool = True
    digits: str = "latin"  # latin | persian | keep
    remove_kashida: bool = True
    remove_diacritics: bool = True
    unify_zwnj: bool = True
    collapse_spaces: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict | None) -> "NormalizerConfig":
        from dataclasses import fields

        from persian_ie.errors import ConfigError

        allowed = {f.name for f in fields(cls)}
        unknown = set(raw or {}) - allowed
        if unknown:
            raise ConfigError(f"normalization: unknown key(s) {sorted(unknown)}; allowed keys: {', '.join(sorted(allowed))}")
        if (raw or {}).get("digits", "latin") not in ("latin", "persian", "keep"):
            raise ConfigError(f"normalization.digits must be latin, persian or keep, got {raw['digits']!r}")
        return cls(**(raw or {}))


@dataclass(frozen=True)
class NormalizedText:
    """Normalized text plus, for each of its characters, the original index."""

    original: str
    text: str
    index: tuple[int, ...]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalized span ``[start, end)`` to original offsets."""
        if end <= start:
            pos = self.index[start] if start < len(self.index) else len(self.original)
            return pos, pos
        return self.index[start], self.index[end - 1] + 1


class Normalizer:
    def __init__(self, config: NormalizerConfig | None = None):
        self.config = config or NormalizerConfig()
        self._table = self._build_table()

    def _build_table(self) -> dict[str, str]:
        """One-to-one replacements; an empty string means delete."""
        cfg = self.config
        table: dict[str, str] = {}
        if cfg.arabic_letters:
            table.update(ARABIC_TO_PERSIAN)
        if cfg.digits != "keep":
            target = LATIN_DIGITS if cfg.digits == "latin" else PERSIAN_DIGITS
            for digits in (PERSIAN_DIGITS, ARABIC_DIGITS, LATIN_DIGITS):
                table.update({d: target[i] for i, d in enumerate(digits) if d != target[i]})
        if cfg.remove_kashida:
            table[KASHIDA] = ""
        if cfg.unify_zwnj:
            table.update({c: ZWNJ for c in ZWNJ_LOOKALIKES})
        if cfg.collapse_spaces:
            table.update({c: " " for c in ODD_SPACES | DIRECTIONAL_MARKS})
        return table

    def __call__(self, text: str) -> NormalizedText:
        return self.normalize(text)

    def normalize(self, text: str) -> NormalizedText:
        out: list[str] = []
        index: list[int] = []
        table, cfg = self._table, self.config
        for i, ch in enumerate(text):
            ch = table.get(ch, ch)
            if not ch or (cfg.remove_diacritics and is_diacritic(ch)):
                continue
            if cfg.collapse_spaces and out:
                prev = out[-1]
                if ch == " " and prev in (" ", "\n"):
                    continue
                if cfg.unify_zwnj and ch == ZWNJ and prev in (" ", "\n", ZWNJ):
                    continue
                if cfg.unify_zwnj and ch in (" ", "\n") and prev == ZWNJ:
                    out[-1], index[-1] = ch, i  # a ZWNJ before a space is noise
                    continue
            out.append(ch)
            index.append(i)
        return NormalizedText(text, "".join(out), tuple(index))
