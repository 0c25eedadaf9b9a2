"""Counts in words, as every command prints them: "1 source", "2 sources"."""

from __future__ import annotations


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``number`` and its noun, singular for one; ``plural`` where adding "s" is wrong."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
