"""Windows that depend on the other windows of their key: sessions merge (A3), sliding
windows are made from the elements kept for them (A4)."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from heapq import heappush
from typing import Any

from .timeline import _Window

__all__ = ["Merging"]


class Merging:
    """Session and sliding assignment of :class:`~streams.windows.EventWindow` (a
    mixin)."""

    def _merge_session(
        self: Any, windows: dict[Any, _Window], k: Any, scope: Any, t: Any, w: Any
    ) -> list[_Window]:
        """A3: the element's session ``[t, t + gap)`` merged with the ones it touches."""
        start, end = t, t + self.kind.gap
        merged = [s for s in windows.values() if s.start <= end and start <= s.end]
        while True:  # transitively: the union may reach further sessions
            lo = min([start, *(s.start for s in merged)])
            hi = max([end, *(s.end for s in merged)])
            more = [
                s for s in windows.values() if s not in merged and s.start <= hi and lo <= s.end
            ]
            if not more:
                break
            merged.extend(more)
        if len(merged) == 1 and (merged[0].start, merged[0].end) == (lo, hi):
            return merged  # inside a session: it stays as it is
        if self._expired(hi, w):
            return []
        parts = sorted(merged, key=lambda p: p.created)
        for part in parts:
            del windows[part.start]
        created = parts[0].created if parts else self._created
        window = _Window(k, lo, hi, self.agg, created, not self.accumulating)
        if not parts:
            self._created += 1
        merge = self.agg.merge
        assert merge is not None
        for part in parts:
            part.gone = True
            window.state = merge(window.state, part.state)
            if not self.accumulating:
                window.fresh = merge(window.fresh, part.fresh)
            window.count += part.count
            window.index = max(window.index, part.index)
            window.late_since += part.late_since
            if part.md:
                window.md = [*window.md, *part.md]
            if part.early_at is not None:
                window.early_at = part.early_at if window.early_at is None else window.early_at
        window.replaces = tuple((p.start, p.end) for p in parts if (p.start, p.end) != (lo, hi))
        windows[lo] = window
        self._track(window, k, scope, w)
        if window.early_at is not None:
            self._seq += 1
            heappush(self._early, (window.early_at, self._seq, k, window))
        return [window]

    def _slide(
        self: Any, windows: dict[Any, _Window], k: Any, scope: Any, x: Any, t: Any, w: Any
    ) -> list[_Window]:
        """A4: the element's own window ``[t - size, t]`` (made from the kept elements of
        the key) and every open one that contains ``t``."""
        accepted = [
            win
            for win in windows.values()
            if win.start <= t <= win.end and not self._expired(win.end, w)
        ]
        kept = self._kept.get(k)
        if kept is None:
            kept = self._kept[k] = []
        span = (t - self.kind.size, t)
        if span[0] not in windows and not self._expired(t, w):
            window = self._new_window(windows, k, scope, span, w)
            lo = bisect_left(kept, (span[0], -1))
            hi = bisect_right(kept, (t, math.inf))
            add = self.agg.add
            for u, n, y in sorted(kept[lo:hi], key=lambda e: e[1]):  # E7: arrival order
                window.state = add(window.state, y, u, n)
                if not self.accumulating:
                    window.fresh = add(window.fresh, y, u, n)
                window.count += 1
            accepted.append(window)
            accepted.sort(key=lambda win: win.start)
        if not accepted and not kept:
            del self._kept[k]
        return accepted

    def _forget_elements(self: Any, scope: Any, w: Any) -> None:
        """Sliding: drop kept elements no window that can still be made would hold
        (older than ``W - allowed_lateness - size``)."""
        lateness = self.allowed_lateness
        if lateness == math.inf or w == -math.inf:
            return
        horizon = w - self.kind.size
        if lateness:
            horizon = horizon - lateness
        for k in list(self._kept) if not self._per_key else [scope]:
            kept = self._kept.get(k)
            if kept and kept[0][0] < horizon:
                del kept[: bisect_left(kept, (horizon, -1))]
                if not kept:
                    del self._kept[k]
