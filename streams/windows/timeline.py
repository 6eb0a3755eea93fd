"""The windows a node holds, and when things happen to them.

:class:`Timeline` orders windows by a time (the watermark at which they fire, or expire):
a heap of the *distinct* times, each with its windows in creation order. Tumbling
windows of 1,000 keys share one end, so opening and closing them costs one heap
operation per end, not one per window.
"""

from __future__ import annotations

from heapq import heappop, heappush
from typing import Any

from .aggregations import _Agg
from .kinds import _past

__all__ = ["Timeline"]


class _Window:
    """One open window of one key."""

    __slots__ = (
        "count",
        "created",
        "early_at",
        "end",
        "fired",
        "fresh",
        "gone",
        "index",
        "key",
        "late_since",
        "md",
        "replaces",
        "start",
        "state",
    )

    def __init__(
        self, key: Any, start: Any, end: Any, agg: _Agg, created: int, discarding: bool
    ) -> None:
        self.key = key
        self.start = start
        self.end = end
        self.created = created
        self.state = agg.init()  # all its elements
        self.fresh = agg.init() if discarding else None  # its elements since its last pane
        self.count = 0  # elements since its last pane
        self.index = 0  # the next pane's index
        self.fired = False  # past: its on_time pane went out (or it was created past)
        self.gone = False  # purged, or merged into another session
        self.late_since = 0  # late elements since its last pane
        self.early_at: float | None = None  # loop time of its next early pane
        self.md: Any = ()  # refs of elements in no settling pane yet (a list once any)
        self.replaces: tuple[tuple[Any, Any], ...] = ()  # sessions merged in since a pane


class Timeline:
    """Windows by a time, earliest first (ties in creation order)."""

    __slots__ = ("buckets", "times")

    def __init__(self) -> None:
        self.times: list[Any] = []  # a heap of the distinct times
        self.buckets: dict[Any, list[_Window]] = {}

    def __bool__(self) -> bool:
        return bool(self.times)

    def add(self, t: Any, window: _Window) -> None:
        bucket = self.buckets.get(t)
        if bucket is None:
            self.buckets[t] = [window]
            heappush(self.times, t)
        else:
            bucket.append(window)

    def first(self) -> Any:
        """The earliest time with a window still there (``None``: none)."""
        times = self.times
        while times:
            if any(not w.gone for w in self.buckets[times[0]]):
                return times[0]
            del self.buckets[heappop(times)]
        return None

    def take_until(self, w: Any, inclusive: bool, out: list[_Window]) -> None:
        """Move the windows whose time is past at watermark ``w`` to ``out``, in time
        order (gone ones too: the caller skips them)."""
        times = self.times
        while times and _past(times[0], w, inclusive):
            out.extend(self.buckets.pop(heappop(times)))

    def take_all(self, out: list[_Window]) -> None:
        for t in sorted(self.times):
            out.extend(self.buckets[t])
        self.times.clear()
        self.buckets.clear()
