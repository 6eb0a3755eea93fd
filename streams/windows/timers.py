"""Loop timers of event-time windows: idleness (``idle_timeout``, ``ProcessingClock``)
and early panes every ``early_interval``. They run on the graph's loop only, so the
virtual-time loop drives them exactly in tests."""

from __future__ import annotations

import asyncio
import math
from heapq import heappop
from typing import Any

__all__ = ["Timers"]


class Timers:
    """The timer part of :class:`~streams.windows.EventWindow` (a mixin)."""

    _timer: asyncio.TimerHandle | None = None

    def _schedule(self: Any) -> None:
        """Set the loop timer for the next instant idleness or an early pane matters."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        when = math.inf
        early = self._early
        while early and not _early_valid(early[0]):
            heappop(early)
        if early:
            when = early[0][0]
        if self._idle:
            for scope in list(self._key_wm) if self._per_key else [None]:
                target = self._next_end(scope)
                if target is None:
                    continue
                at = self.clock.next_change(self._clock_of(scope), now, target)
                if at is not None and at < when:
                    when = at
        timer = self._timer
        if when == math.inf:
            if timer is not None:
                timer.cancel()
                self._timer = None
            return
        if when <= now:
            when = math.nextafter(now, math.inf)
        if timer is not None:
            if timer.when() == when:
                return
            timer.cancel()
        self._timer = loop.call_at(when, self._on_timer)

    def _next_end(self: Any, scope: Any) -> Any:
        """The least watermark at which something of ``scope`` fires or expires."""
        ends = [
            t
            for timeline in (self._due.get(scope), self._expiring.get(scope))
            if timeline is not None and (t := timeline.first()) is not None
        ]
        return min(ends) if ends else None

    def _on_timer(self: Any) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        panes: list[Any] = []
        if self._idle:
            moved = []
            for scope in list(self._key_wm) if self._per_key else [None]:
                wm = self._clock_of(scope)
                before = wm.w
                self.clock.catch_up(wm, now)
                if wm.w != before:
                    moved.append(scope)
            if moved:
                self._fire(moved, panes)
        early = self._early
        while early and early[0][0] <= now:
            entry = heappop(early)
            if _early_valid(entry):
                panes.append(self._pane(entry[2], entry[3], "early"))
        for result, md in panes:
            self._push_soon(result, md)
        self._schedule()


def _early_valid(entry: tuple[Any, ...]) -> bool:
    window = entry[3]
    return not window.gone and not window.fired and window.early_at == entry[0]


def _running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
