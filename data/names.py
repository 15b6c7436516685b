"""Canonical keys for person names and offices (pure functions).

A key must survive the spelling variation of Persian news text: Arabic
ي/ك against Persian ی/ک, a ZWNJ against a space against nothing
(معصومی‌فر / معصومی فر / معصومیفر), diacritics, kashida, digit sets, and the
honorifics or ranks a writer puts in front (دکتر، مهندس، حجت‌الاسلام،
سردار ...). ``سید`` belongs to the PER span (SCHEMA.md) but not to the key,
since writers drop it freely.
"""

from __future__ import annotations

import re

from persian_ie.data.normalize import ARABIC_DIGITS, ARABIC_TO_PERSIAN, PERSIAN_DIGITS, ZERO_WIDTH, is_diacritic

# Leading words that are honorifics, ranks or titles of address, never the name.
# (Not امیر: it is a rank, but far more often the first name Amir.)
HONORIFICS = (
    "آقای", "آقا", "خانم", "دکتر", "مهندس", "استاد", "حجت الاسلام", "حجه الاسلام", "حجت الاسلام و المسلمین",
    "والمسلمین", "و المسلمین", "آیت الله", "آیه الله", "آیت الله العظمی", "سردار", "سرلشکر", "سرتیپ",
    "سرهنگ", "سرگرد", "سروان", "ستوان", "سرتیپ دوم", "دریادار", "شیخ", "سید", "سیده", "حاج",
    "حاجی", "حاجیه", "جناب", "مرحوم", "شهید", "علامه", "امام", "حضرت",
)
_HONORIFIC_KEYS = sorted({h.replace(" ", "") for h in HONORIFICS}, key=len, reverse=True)
# Qualifiers of an office that do not change which office it is.
OFFICE_QUALIFIERS = {"سابق", "جدید", "وقت", "اسبق", "فعلی", "کنونی", "محترم", "منتخب", "پیشین", "موقت"}
_DIGITS = {ord(d): str(i) for s in (PERSIAN_DIGITS, ARABIC_DIGITS) for i, d in enumerate(s)}
_PUNCT = re.compile(r"[\s\.\,،؛:«»\"'()\[\]\-ـ]+")


def fold(text: str, zwnj: str = " ") -> str:
    """Letters, digits and spacing folded: Persian ی/ک, Latin digits, no
    diacritics or kashida, every zero-width character to ``zwnj`` (a space by
    default; "" keeps a ZWNJ-joined compound one word) and space runs to one space."""
    out = []
    for ch in text:
        ch = ARABIC_TO_PERSIAN.get(ch, ch)
        if is_diacritic(ch) or ch == "\u0640":
            continue
        if ch in ZERO_WIDTH:
            ch = zwnj
        out.append(ch)
    folded = "".join(out).translate(_DIGITS).replace("أ", "ا").replace("إ", "ا").replace("آ", "آ")
    return _PUNCT.sub(" ", folded).strip()


def _strip_honorifics(tokens: list[str]) -> list[str]:
    # Compare honorifics without spaces, so حجت‌الاسلام / حجت الاسلام / حجتالاسلام all match.
    changed = True
    while changed and len(tokens) > 1:
        changed = False
        for n in (3, 2, 1):
            head = "".join(tokens[:n])
            if len(tokens) > n and head in _HONORIFIC_KEYS:
                tokens = tokens[n:]
                changed = True
                break
    return tokens


def name_tokens(surface: str, zwnj: str = " ") -> list[str]:
    """The name's words after folding and dropping leading honorifics;
    ``zwnj=""`` splits on spaces only (علیدادی‌سلیمانی stays one word)."""
    return _strip_honorifics(fold(surface, zwnj).split())


def person_key(surface: str) -> str:
    """The canonical key of a person mention: honorifics dropped, spelling
    folded, and no spaces at all (ZWNJ / space / nothing give one key)."""
    return "".join(name_tokens(surface))


def office_key(surface: str, place: str | None = None) -> str:
    """The canonical key of an office: folded, qualifiers (سابق، جدید، وقت ...)
    dropped, words joined by one space. ``place`` (a CITY/ORG completing a
    bare office word) is appended when the title does not already hold it."""
    words = [w for w in fold(surface).split() if w not in OFFICE_QUALIFIERS]
    key = " ".join(words)
    if place:
        extra = fold(place)
        if extra and extra not in key:
            key = f"{key} {extra}".strip()
    return key


def compact(text: str) -> str:
    """A folded string without spaces: how surnames are compared."""
    return fold(text).replace(" ", "")


def edit_distance(a: str, b: str, limit: int = 4) -> int:
    """Levenshtein distance, cut off at ``limit`` (returns ``limit`` when larger)."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) >= limit:
            return limit
        prev = cur
    return min(prev[-1], limit)


__all__ = ["fold", "name_tokens", "person_key", "office_key", "compact", "edit_distance", "HONORIFICS", "OFFICE_QUALIFIERS"]
