"""argparse types shared by the commands: numbers with a floor (argparse names the option in its error).

Kept free of heavy imports: ``persian-ie --help`` must stay quick.
"""

from __future__ import annotations

import argparse


def _whole_number_from(least: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {least}, got {text!r}")
        return value

    return parse


non_negative_int = _whole_number_from(0)
positive_int = _whole_number_from(1)


def non_negative_float(text: str) -> float:
    """An argparse type: a number >= 0 (a fraction of a GPU is a Ray resource)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value
