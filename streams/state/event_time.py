"""Checkpoints of event-time windows (``stream.window(...)``): the clocks, every open
window and what sliding windows keep.

A restored node judges replayed elements exactly as the original would have: its
watermark (per key, per partition) is part of the snapshot, so an element that was on
time stays on time. Loop times (idleness, early panes) are stored relative to the cut
and re-armed relative to the loop of the restored graph. Elements are stored without
their metadata (a restored window holds no refs).
"""

from __future__ import annotations

import asyncio
import copy
from heapq import heappush
from typing import Any

from .nodes import Adapter, register
from .store import Full

__all__: list[str] = []


def _now() -> float:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return 0.0


def _clock(wm: Any, now: float) -> tuple[Any, ...]:
    idle = None if wm.idle_from is None else (wm.idle_from[0] - now, wm.idle_from[1])
    last = {p: t - now for p, t in wm.last.items()}
    return (wm.w, wm.top, dict(wm.max_ts), last, idle)


def _set_clock(wm: Any, stored: tuple[Any, ...], now: float) -> None:
    wm.w, wm.top, max_ts, last, idle = stored
    wm.max_ts = dict(max_ts)
    wm.last = {p: now + t for p, t in last.items()}
    wm.idle_from = None if idle is None else (now + idle[0], idle[1])


_FIELDS = ("start", "end", "count", "index", "fired", "late_since", "created", "replaces")


def _created(stored: tuple[Any, ...]) -> Any:
    return stored[1][6]  # timelines keep windows of one time in creation order


@register("streams.windows.node.EventWindow")
class _EventWindow(Adapter):
    def snapshot(self, node: Any) -> Any:
        now = _now()
        windows = []
        for k, opened in node._open.items():
            for window in opened.values():
                fields = tuple(getattr(window, f) for f in _FIELDS)
                early = None if window.early_at is None else window.early_at - now
                states = copy.deepcopy((window.state, window.fresh))
                windows.append((k, fields, states, early))
        return Full(
            {
                "clock": _clock(node._wm, now),
                "keys": {k: _clock(wm, now) for k, wm in node._key_wm.items()},
                "windows": windows,
                "kept": {k: list(kept) for k, kept in node._kept.items()},
                "created": node._created,
                "arrivals": node._arrivals,
            }
        )

    def restore(self, node: Any, value: Any) -> None:
        from ..windows.clocks import Watermark
        from ..windows.timeline import _Window

        now = _now()
        _set_clock(node._wm, value["clock"], now)
        node._key_wm = {}
        for k, stored in value["keys"].items():
            node._key_wm[k] = wm = Watermark()
            _set_clock(wm, stored, now)
        node._open, node._due, node._expiring, node._early = {}, {}, {}, []
        node._horizon = float("inf")
        for k, fields, (state, fresh), early in sorted(value["windows"], key=_created):
            start, end = fields[0], fields[1]
            window = _Window(k, start, end, node.agg, 0, not node.accumulating)
            for name, field in zip(_FIELDS, fields, strict=True):
                setattr(window, name, field)
            window.state, window.fresh = state, fresh
            node._open.setdefault(k, {})[start] = window
            scope = k if node._per_key else None
            fired = window.fired
            node._track(window, k, scope, node._clock_of(scope).w)
            window.fired = fired  # (as it was: a late window stays one)
            if early is not None:
                window.early_at = now + early
                node._seq += 1
                heappush(node._early, (window.early_at, node._seq, k, window))
        node._kept = {k: list(kept) for k, kept in value["kept"].items()}
        node._created = value["created"]
        node._arrivals = value["arrivals"]
