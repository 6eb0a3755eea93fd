"""The builder ``stream.window(...)`` returns: pick the aggregation."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..core import Stream
from .aggregations import (
    _Agg,
    _aggregate,
    _collect,
    _count,
    _extreme,
    _mean,
    _reduce,
    _sum,
)
from .clocks import _negative
from .kinds import Hopping, Session, Sliding, Tumbling
from .node import EventWindow


class WindowBuilder:
    """What ``stream.window(...)`` returns: pick the aggregation of the windows."""

    def __init__(self, upstream: Stream[Any], kind: Any, **options: Any) -> None:
        if not isinstance(kind, Tumbling | Hopping | Session | Sliding):
            raise TypeError(
                f"window: kind must be Tumbling, Hopping, Session or Sliding, got {kind!r}"
            )
        emit = options.get("emit", "final")
        if emit not in ("final", "update"):
            raise ValueError(f"window: emit must be 'final' or 'update', got {emit!r}")
        _count_option("late_count", options.get("late_count", 1))
        early_count = options.get("early_count")
        early_interval = options.get("early_interval")
        if early_count is not None:
            _count_option("early_count", early_count)
        if early_interval is not None and not (
            isinstance(early_interval, int | float) and 0 < early_interval < math.inf
        ):
            raise ValueError(
                f"window: early_interval must be a positive number of seconds, "
                f"got {early_interval!r}"
            )
        if emit == "update" and (early_count is not None or early_interval is not None):
            raise ValueError(
                "window: early_count and early_interval are for emit='final' "
                "(emit='update' emits a pane after every element already)"
            )
        lateness = options.get("allowed_lateness", 0)
        if _negative(lateness):
            raise ValueError(f"window: allowed_lateness must not be negative, got {lateness!r}")
        self.upstream = upstream
        self.kind = kind
        self.options = options

    def _node(self, agg: _Agg) -> EventWindow:
        if self.kind.merging and agg.merge is None:
            raise ValueError(
                f"window: {agg.name} over Session windows needs merge= (sessions merge)"
            )
        return EventWindow(self.upstream, self.kind, agg, **self.options)

    def count(self) -> EventWindow:
        """The number of elements per window."""
        return self._node(_count())

    def sum(self, f: Callable[[Any], Any] | None = None) -> EventWindow:
        """The sum of the elements (or of ``f(element)``) per window."""
        return self._node(_sum(f))

    def mean(self, f: Callable[[Any], Any] | None = None) -> EventWindow:
        """The mean of the elements (or of ``f(element)``) per window."""
        return self._node(_mean(f))

    def min(self, f: Callable[[Any], Any] | None = None) -> EventWindow:
        """The smallest element (or ``f(element)``) per window."""
        return self._node(_extreme("min", min, f))

    def max(self, f: Callable[[Any], Any] | None = None) -> EventWindow:
        """The largest element (or ``f(element)``) per window."""
        return self._node(_extreme("max", max, f))

    def reduce(self, f: Callable[[Any, Any], Any]) -> EventWindow:
        """``f`` folded over the elements per window, in arrival order (and over two
        partial results when sessions merge, so ``f`` must be associative)."""
        return self._node(_reduce(f))

    def collect(self, f: Callable[[Any], Any] | None = None) -> EventWindow:
        """The elements (or ``f(element)``) per window, in timestamp order (arrival order
        among equal timestamps)."""
        return self._node(_collect(f, None))

    def apply(self, func: Callable[[list[Any]], Any]) -> EventWindow:
        """``func(elements)`` per window, the elements in timestamp order."""
        return self._node(_collect(None, func))

    def aggregate(
        self,
        init: Any,
        add: Callable[[Any, Any], Any],
        merge: Callable[[Any, Any], Any] | None = None,
        result: Callable[[Any], Any] | None = None,
    ) -> EventWindow:
        """A fold of your own: ``init`` (a value, copied per window, or a callable making
        one), ``add(state, element)``, ``merge(state, state)`` (needed for sessions) and
        ``result(state)``."""
        return self._node(_aggregate(init, add, merge, result))


def _count_option(name: str, n: Any) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"window: {name} must be a positive int, got {n!r}")
