"""Tiny shared values with no imports, usable by every module without import cycles."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def identity(x: T) -> T:
    """Return ``x`` unchanged (the default ``key`` of several operators)."""
    return x


class NoStart:
    """The type of :data:`NO_START`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<first element>"


NO_START = NoStart()
"""Default ``start`` of ``accumulate``: the first element becomes the state."""
