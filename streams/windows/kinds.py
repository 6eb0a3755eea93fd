"""Window kinds (which windows an element belongs to), results, and time arithmetic."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, NamedTuple


class WindowResult(NamedTuple):
    """One pane of a window: its result after some of its elements."""

    key: Any
    start: Any
    end: Any
    value: Any
    timing: str  # "early" (before the window is past), "on_time" or "late"
    index: int  # type: ignore[assignment]  # the pane number (0, 1...); shadows tuple.index
    replaces: tuple[tuple[Any, Any], ...] = ()  # sessions merged into this one


# ------------------------------------------------------------------ window kinds


class Tumbling:
    """Windows of ``size`` one after the other: ``[start, start + size)`` with ``start``
    a multiple of ``size`` (shifted by ``offset``)."""

    merging = False

    def __init__(self, size: Any, offset: Any = 0) -> None:
        if not size > _zero(size):
            raise ValueError(f"Tumbling: size must be positive, got {size!r}")
        self.size = size
        self.offset = offset

    def assign(self, t: Any) -> list[tuple[Any, Any]]:
        start = t - (t - _origin(t, self.offset)) % self.size
        return [(start, start + self.size)]

    def __repr__(self) -> str:
        return f"Tumbling({self.size!r})"


class Hopping:
    """Windows of ``size`` starting every ``step`` (``0 < step <= size``): an element is
    in ``size / step`` of them."""

    merging = False

    def __init__(self, size: Any, step: Any, offset: Any = 0) -> None:
        if not size > _zero(size):
            raise ValueError(f"Hopping: size must be positive, got {size!r}")
        if not (_zero(step) < step <= size):
            raise ValueError(
                f"Hopping: step must be positive and at most the size ({size!r}), got {step!r}"
            )
        self.size = size
        self.step = step
        self.offset = offset

    def assign(self, t: Any) -> list[tuple[Any, Any]]:
        start = t - (t - _origin(t, self.offset)) % self.step
        spans = []
        while start > t - self.size:
            spans.append((start, start + self.size))
            start = start - self.step
        spans.reverse()  # ascending start
        return spans

    def __repr__(self) -> str:
        return f"Hopping({self.size!r}, {self.step!r})"


class Session:
    """Windows of activity: elements of a key less than ``gap`` apart (exactly ``gap``
    too) are in one session ``[first, last + gap)``."""

    merging = True

    def __init__(self, gap: Any) -> None:
        if not gap > _zero(gap):
            raise ValueError(f"Session: gap must be positive, got {gap!r}")
        self.gap = gap

    def assign(self, t: Any) -> list[tuple[Any, Any]]:
        return [(t, t + self.gap)]

    def __repr__(self) -> str:
        return f"Session({self.gap!r})"


class Sliding:
    """One window per element: ``[t - size, t]`` (both ends included) for an element at
    ``t``, holding every element of its key within ``size`` before it (Flink and Kafka
    Streams' sliding windows; Bytewax's are :class:`Hopping`). An element also joins
    every open sliding window that contains it."""

    merging = False

    def __init__(self, size: Any) -> None:
        if not size > _zero(size):
            raise ValueError(f"Sliding: size must be positive, got {size!r}")
        self.size = size

    def assign(self, t: Any) -> list[tuple[Any, Any]]:
        return [(t - self.size, t)]

    def __repr__(self) -> str:
        return f"Sliding({self.size!r})"


def _origin(t: Any, offset: Any) -> Any:
    """Where windows are counted from: ``offset`` for numbers; for datetimes the Unix
    epoch (in ``t``'s time zone) shifted by ``offset`` (a timedelta, or 0)."""
    if isinstance(t, datetime):
        epoch = datetime(1970, 1, 1, tzinfo=t.tzinfo)
        return epoch + offset if isinstance(offset, timedelta) else epoch
    return offset


def _zero(x: Any) -> Any:
    return type(x)() if hasattr(x, "total_seconds") else 0


# Times are numbers or datetimes; the watermark starts at -inf and flush makes it +inf,
# which a datetime cannot be compared with: these compare through the infinities first.


def _later(a: Any, b: Any) -> Any:
    """The later of two times (``a`` may be -inf, ``b`` +inf)."""
    if a == -math.inf or b == math.inf:
        return b
    if a == math.inf or b == -math.inf:
        return a
    return b if b > a else a


def _past(end: Any, w: Any, inclusive: bool = False) -> bool:
    """Whether a window ending at ``end`` is past at watermark ``w`` (``end < w`` for
    windows that include their end)."""
    if w == math.inf:
        return True
    if w == -math.inf:
        return False
    return bool(end < w) if inclusive else bool(end <= w)


def _minus(t: Any, bound: Any) -> Any:
    return t - bound if bound else t
