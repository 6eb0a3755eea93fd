"""Clocks: where a window node's timestamps and watermark come from.

A clock's state is a :class:`Watermark`: one for the node, or one per key with
``per_key=True``. Its rules are C1-C7 of the event-time spec: ``W`` starts at ``-inf``
and never goes back; an element moves it to ``max_ts - max_out_of_order`` (the least of
that over the active partitions with ``partition=``); with ``idle_timeout`` a partition
with no element for that many loop seconds stops holding ``W`` back, and when every
partition is idle ``W`` goes on at the loop's pace.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .kinds import _later, _minus

__all__ = ["EventClock", "ProcessingClock"]


class EventClock:
    """How a window node tells time from its elements.

    Parameters
    ----------
    timestamp : callable or str, optional
        The element's timestamp: a number or a ``datetime`` (then window sizes are
        ``timedelta``); a string ``name`` means ``element[name]`` (the column of that
        name for a streaming DataFrame). By default the ``"timestamp"`` entry of the
        element's metadata: the Kafka source sets it to the message's timestamp in
        seconds.
    max_out_of_order : number or timedelta
        How far behind the largest timestamp seen an element may still be on time: the
        watermark is that largest timestamp less this. ``math.inf``: only
        ``advance_watermark`` and ``flush`` move the watermark (and idleness).
    idle_timeout : float, optional
        Loop seconds without an element after which a partition stops holding the
        watermark back; when every partition is idle the watermark moves on at the
        loop's pace (one second of time per loop second), so windows close although no
        element comes. ``None``: only elements move the watermark.
    partition : callable, optional
        ``partition(element)``: the input partition an element came from (a Kafka
        partition, a sensor). The watermark is the least over the active partitions, so
        a partition that lags behind holds the windows open for it.
    per_key : bool
        One watermark per key (an element only moves its own key's time) instead of one
        for the node.

    Examples
    --------
    >>> from operator import itemgetter
    >>> clock = EventClock(timestamp=itemgetter("ts"), max_out_of_order=5)
    >>> clock
    EventClock(max_out_of_order=5)
    """

    processing = False  # timestamps are the loop's time (ProcessingClock)

    def __init__(
        self,
        timestamp: Callable[[Any], Any] | str | None = None,
        max_out_of_order: Any = 0,
        idle_timeout: float | None = None,
        partition: Callable[[Any], Any] | None = None,
        per_key: bool = False,
    ) -> None:
        if timestamp is not None and not callable(timestamp) and not isinstance(timestamp, str):
            raise TypeError(
                f"EventClock: timestamp must be callable or a field name, got {timestamp!r}"
            )
        if partition is not None and not callable(partition):
            raise TypeError(f"EventClock: partition must be callable, got {partition!r}")
        if _negative(max_out_of_order):
            raise ValueError(
                f"EventClock: max_out_of_order must not be negative, got {max_out_of_order!r}"
            )
        if idle_timeout is not None and not (
            isinstance(idle_timeout, int | float) and 0 <= idle_timeout < math.inf
        ):
            raise ValueError(
                "EventClock: idle_timeout must be a number of seconds >= 0 or None, "
                f"got {idle_timeout!r}"
            )
        self.timestamp = timestamp
        self.max_out_of_order = max_out_of_order
        self.idle_timeout = idle_timeout
        self.partition = partition
        self.per_key = per_key

    def __repr__(self) -> str:
        shown = [f"max_out_of_order={self.max_out_of_order!r}"]
        if self.idle_timeout is not None:
            shown.append(f"idle_timeout={self.idle_timeout!r}")
        if self.partition is not None:
            shown.append("partition=...")
        if self.per_key:
            shown.append("per_key=True")
        return f"{type(self).__name__}({', '.join(shown)})"

    # -------------------------------------------------------------- the rules

    def observe(self, wm: Watermark, part: Any, t: Any, now: float) -> None:
        """C2: an element of partition ``part`` with timestamp ``t`` was handled."""
        bound = self.max_out_of_order
        if self.partition is None and self.idle_timeout is None:  # the common case
            wm.top = _later(wm.top, t)
            if bound != math.inf:
                wm.w = _later(wm.w, _minus(wm.top, bound))
            return
        before = wm.max_ts.get(part, -math.inf)
        wm.max_ts[part] = _later(before, t)
        if self.idle_timeout is not None:
            wm.last[part] = now
            wm.idle_from = None  # this partition is active again
        if bound != math.inf:
            self.catch_up(wm, now)

    def catch_up(self, wm: Watermark, now: float) -> None:
        """Bring ``wm`` to loop time ``now``: C2 over the active partitions, C5-C6."""
        bound = self.max_out_of_order
        d = self.idle_timeout
        if wm.idle_from is not None:  # every partition idle: W moves with the loop
            since, base = wm.idle_from
            wm.w = _later(wm.w, _plus_seconds(base, now - since))
            return
        if d is None:
            active = wm.max_ts
        else:
            active = {p: m for p, m in wm.max_ts.items() if wm.last[p] + d > now}
        if active:
            if bound != math.inf:
                wm.w = _later(wm.w, _minus(_least(active.values()), bound))
            return
        if not wm.max_ts:
            return  # nothing seen yet
        assert d is not None
        # every partition is idle: W as it was when the last one went idle, then onwards
        since = max(wm.last.values()) + d
        last_ones = [m for p, m in wm.max_ts.items() if wm.last[p] + d == since]
        base = wm.w if bound == math.inf else _later(wm.w, _minus(_least(last_ones), bound))
        wm.idle_from = (since, base)
        wm.w = _later(wm.w, _plus_seconds(base, now - since))

    def next_change(self, wm: Watermark, now: float, target: Any) -> float | None:
        """The loop time at which ``wm`` may next reach ``target`` by idleness (a
        partition going idle, or the loop's pace once all are): ``None`` if never."""
        d = self.idle_timeout
        if d is None or not wm.max_ts:
            return None
        if wm.idle_from is None:
            coming = [last + d for last in wm.last.values() if last + d > now]
            return min(coming) if coming else now
        since, base = wm.idle_from
        if base == -math.inf or target == math.inf:
            return None
        gap = target - base
        seconds = gap.total_seconds() if isinstance(gap, timedelta) else gap
        return max(now, since + seconds)


class ProcessingClock(EventClock):
    """Processing time under the event-time API: an element's timestamp is the loop's
    time when it arrives, and the watermark is the loop's time, so windows close when the
    loop's clock passes their end (``timed_window`` groups the same way, streamz style).

    Examples
    --------
    >>> ProcessingClock()
    ProcessingClock()
    """

    processing = True

    def __init__(self) -> None:
        super().__init__(timestamp=None, max_out_of_order=0, idle_timeout=0)

    def __repr__(self) -> str:
        return "ProcessingClock()"


class Watermark:
    """The state of one watermark: ``w``, the largest timestamp per partition, and (with
    an idle timeout) when each partition last had an element."""

    __slots__ = ("idle_from", "last", "max_ts", "top", "w")

    def __init__(self, w: Any = -math.inf) -> None:
        self.w = w
        self.top: Any = -math.inf  # the largest timestamp (one partition, no idleness)
        self.max_ts: dict[Any, Any] = {}
        self.last: dict[Any, float] = {}
        self.idle_from: tuple[float, Any] | None = None  # (loop time, W then): all idle


def _least(times: Any) -> Any:
    it = iter(times)
    least = next(it)
    for t in it:
        if t < least:
            least = t
    return least


def _plus_seconds(t: Any, seconds: float) -> Any:
    """``t`` moved on by ``seconds`` loop seconds (a timedelta for datetimes)."""
    if t == -math.inf or seconds <= 0:
        return t
    if hasattr(t, "tzinfo"):
        return t + timedelta(seconds=seconds)
    return t + seconds


def _negative(x: Any) -> bool:
    try:
        return bool(x < (type(x)() if isinstance(x, timedelta) else 0))
    except TypeError:
        return False
