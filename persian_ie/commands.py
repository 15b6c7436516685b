"""CLI wiring of the later stages: train, evaluate, predict, bench."""

from __future__ import annotations


def register(sub) -> None:
    return None
