"""The node of event-time windows: assignment, lateness, panes, timers and purging."""

from __future__ import annotations

import asyncio
import math
from bisect import insort
from collections.abc import Callable
from heapq import heappush
from operator import itemgetter
from typing import Any

from ..core import Stream
from ..protocol import Metadata, release_after, wait
from ..refs import retain_refs
from .aggregations import _Agg, _same
from .clocks import EventClock, Watermark
from .kinds import Sliding, Tumbling, WindowResult, _later, _past
from .merging import Merging
from .timeline import Timeline, _Window
from .timers import Timers, _running

Pane = tuple[WindowResult, Metadata]


class EventWindow(Merging, Timers, Stream[WindowResult]):
    """Node behind ``stream.window(kind, ...).<aggregation>()``: event-time windows."""

    _label = "window"
    _graphviz_shape = "diamond"

    def __init__(
        self,
        upstream: Stream[Any],
        kind: Any,
        agg: _Agg,
        clock: EventClock | None = None,
        key: Callable[[Any], Any] | None = None,
        allowed_lateness: Any = 0,
        emit: str = "final",
        early_count: int | None = None,
        early_interval: float | None = None,
        late_count: int = 1,
        accumulate: bool = True,
        **options: Any,
    ) -> None:
        self.kind = kind
        self.agg = agg
        self.clock = clock = clock or EventClock()
        self.key = key
        self.allowed_lateness = allowed_lateness
        self.emit_mode = emit
        self.early_count = early_count
        self.early_interval = early_interval
        self.late_count = late_count
        self.accumulating = accumulate
        self._final = emit == "final"
        self._merging = bool(kind.merging)
        self._sliding = isinstance(kind, Sliding)
        self._incl = self._sliding  # sliding windows include their end
        self._per_key = bool(clock.per_key)
        self._get_ts = (
            itemgetter(clock.timestamp) if isinstance(clock.timestamp, str) else clock.timestamp
        )
        self._idle = clock.idle_timeout is not None
        self._wm = Watermark()  # the node's, or (per key) the floor for new keys' clocks
        self._key_wm: dict[Any, Watermark] = {}
        self._open: dict[Any, dict[Any, _Window]] = {}  # key -> start -> window
        # per clock scope (the key with per_key, else None): windows by end, by expiry
        self._due: dict[Any, Timeline] = {}
        self._expiring: dict[Any, Timeline] = {}  # only with 0 < allowed_lateness < inf
        self._kept: dict[Any, list[tuple[Any, int, Any]]] = {}  # sliding: key -> elements
        self._early: list[tuple[Any, ...]] = []  # (loop time, seq, key, window)
        self._timer: asyncio.TimerHandle | None = None
        self._created = 0
        self._arrivals = 0
        self._seq = 0
        self._horizon: Any = math.inf  # _simple: no window fires or expires before this W
        self._timed = self._idle or early_interval is not None
        self._bound = clock.max_out_of_order
        self._counting = agg.name == "count" and accumulate
        self._finish = None if agg.result is _same else agg.result  # a pane's value
        plain = type(kind) is Tumbling and isinstance(kind.offset, int | float)
        self._size = kind.size if plain else None
        self._offset = kind.offset if plain else 0
        self._simple = (  # see _update_simple
            self._final
            and not self._timed
            and not self._merging
            and not self._sliding
            and not self._per_key
            and clock.partition is None
            and isinstance(self._bound, int | float)
            and self._bound != math.inf
        )
        super().__init__(upstream, **options)
        if self._timed:
            self._require_loop()
        self.late: Stream[Any] = Stream(stream_name=f"{self._describe()}.late")
        """The elements no window accepted (too late), with their metadata: a source of
        the same graph (same loop, drained with it)."""
        self._runtime.absorb(self.late._runtime)

    def _detail(self) -> str:
        return f"{self.kind!r}.{self.agg.name}"

    def _held_count(self) -> int:
        """Accepted elements whose refs wait for a pane."""
        counting = self._counting  # (a count's unfired windows: the state is the count)
        return sum(
            w.state if counting and not w.fired else len(w.md) or w.count
            for ws in self._open.values()
            for w in ws.values()
        )

    # -------------------------------------------------------------- time

    @property
    def watermark(self) -> Any:
        """The watermark: one value, or a dict key -> watermark with ``per_key``."""
        if self._per_key:
            return {k: wm.w for k, wm in self._key_wm.items()}
        return self._wm.w

    def _clock_of(self, scope: Any) -> Watermark:
        if not self._per_key:
            return self._wm
        wm = self._key_wm.get(scope)
        if wm is None:
            wm = self._key_wm[scope] = Watermark(self._wm.w)
        return wm

    def advance_watermark(self, t: Any) -> Any:
        """Move the watermark to ``t`` (never back), then emit what that closes; returns
        what ``emit`` returns."""
        return self._enter(lambda: self._advance_to(t))

    def flush(self) -> Any:
        """Close every window: the watermark becomes +inf (awaitable inside a loop)."""
        return self._enter(lambda: self._advance_to(math.inf))

    def _advance_to(self, t: Any) -> Any:
        self._wm.w = _later(self._wm.w, t)
        if self._per_key:
            for wm in self._key_wm.values():
                wm.w = _later(wm.w, t)
        panes: list[Pane] = []
        self._fire(list(self._key_wm) if self._per_key else [None], panes)
        pending: list[Any] = []
        self._send(panes, pending)
        if self._timed and _running():
            self._schedule()
        return pending or None

    async def _flush(self) -> bool:
        """Drain: the input has ended for this node; close every window (and drain what
        follows ``.late``, which is not downstream of this node)."""
        from ..runtime import downstream_order

        busy = bool(self._open)
        await wait(self._advance_to(math.inf))
        for node in downstream_order(self.late):
            busy = await node._flush() or busy
        return busy

    def _close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -------------------------------------------------------------- elements

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            get = self._get_ts
            t = get(x) if get is not None else self._timestamp(metadata)
            numeric = type(t) is int or (type(t) is float and t == t)
            if not numeric:
                t = self._checked(t)
            k = None if self.key is None else self.key(x)
            part = None if self.clock.partition is None else self.clock.partition(x)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        if self._simple and numeric:
            return self._update_simple(x, t, k, metadata, who)
        return self._update_general(x, t, k, part, metadata, who)

    def _update_general(
        self, x: Any, t: Any, k: Any, part: Any, metadata: Metadata, who: Stream[Any] | None
    ) -> Any:
        scope = k if self._per_key else None
        wm = self._clock_of(scope)
        panes: list[Pane] = []
        now = asyncio.get_running_loop().time() if self._timed else 0.0
        if self._idle:  # the time that passed since the last element may close windows
            before = wm.w
            self.clock.catch_up(wm, now)
            if wm.w != before:
                self._fire([scope], panes)
        try:
            accepted = self._assign(x, t, k, scope, wm.w, metadata)
        except _AggregationFailed as failed:
            return self._failed(failed.error, x, who, metadata)
        pending: list[Any] = []
        if not accepted:
            self._send(panes, pending)
            panes = []
            _add(pending, self.late._push_in(x, list(metadata)))
        else:
            for window in accepted:
                self._after_element(k, window, now, panes)
        before = wm.w
        self.clock.observe(wm, part, t, now)
        if wm.w != before:
            self._fire([scope], panes)
        if panes:
            self._send(panes, pending)
        if self._timed:
            self._schedule()
        return pending or None

    def _compiled(self) -> Any:
        """The push of the hottest case, inlined (see ``Stream._compiled``): an element of
        a tumbling window that is open already, without metadata; the rest goes through
        :meth:`_update_simple`, by the same rules."""
        if not self._simple or self._size is None or self._get_ts is None:
            return None
        node, wm, opened = self, self._wm, self._open
        get_ts, key, size, offset, bound = (
            self._get_ts,
            self.key,
            self._size,
            self._offset,
            self._bound,
        )
        counting, add, accumulating = self._counting, self.agg.add, self.accumulating
        early = self.early_count is not None
        simple = self._update_simple
        agg, due, Window = self.agg, self._due, _Window
        # new windows made here too: without lateness (nothing to expire later) and
        # accumulating (one state)
        inline_new = not self.allowed_lateness and accumulating

        def update(x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
            try:
                t = get_ts(x)
                k = None if key is None else key(x)
            except Exception as exc:
                return node._failed(exc, x, who, metadata)
            cls = type(t)
            if (cls is not int and (cls is not float or t != t)) or early or metadata:
                return node._update_checked(x, t, k, who, metadata)
            windows = opened.get(k)
            start = t - (t - offset) % size
            window = None if windows is None else windows.get(start)
            if window is None:
                end = start + size
                if not inline_new or end <= wm.w:  # (past: late, or expired)
                    return simple(x, t, k, metadata, who)
                if windows is None:
                    windows = opened[k] = {}
                window = windows[start] = Window(k, start, end, agg, node._created, False)
                node._created += 1
                timeline = due.get(None)
                if timeline is None:
                    timeline = due[None] = Timeline()
                timeline.add(end, window)
                if end < node._horizon:
                    node._horizon = end
            elif window.fired:
                return simple(x, t, k, metadata, who)
            if counting:  # (no pane yet: its state is its count since the last pane)
                window.state += 1
            else:
                node._arrivals += 1
                try:
                    window.state = add(window.state, x, t, node._arrivals)
                    if not accumulating:
                        window.fresh = add(window.fresh, x, t, node._arrivals)
                except Exception as exc:
                    return node._failed(exc, x, who, metadata)
                window.count += 1
            if t > wm.top:
                wm.top = t
                w = t - bound
                if w > wm.w:
                    wm.w = w
                    if node._horizon <= w:
                        return node._passed()
            return None

        return update

    def _raise_top(self, t: Any) -> Any:
        """A numeric timestamp ``t`` was handled on the node's one clock: move the
        watermark, and fire what it passed (returns what the push returns)."""
        wm = self._wm
        if t > wm.top:
            wm.top = t
            w = t - self._bound
            if w > wm.w:
                wm.w = w
                if self._horizon <= w:
                    return self._passed()
        return None

    def _passed(self) -> Any:
        """The watermark reached the horizon: fire, and push the panes."""
        panes: list[Pane] = []
        self._fire([None], panes)
        pending: list[Any] = []
        self._send(panes, pending)
        return pending or None

    def _update_checked(
        self, x: Any, t: Any, k: Any, who: Stream[Any] | None, metadata: Metadata
    ) -> Any:
        """The compiled push's way out: check ``t``, then handle ``x``."""
        try:
            if type(t) is not int and (type(t) is not float or t != t):
                t = self._checked(t)
                return self._update_general(x, t, k, None, metadata, who)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        return self._update_simple(x, t, k, metadata, who)

    def _update_simple(
        self, x: Any, t: Any, k: Any, md: Metadata, who: Stream[Any] | None = None
    ) -> Any:
        """``update`` for the common case, by the same rules: fixed windows (tumbling or
        hopping), numeric timestamps, one clock moved by its elements alone, final
        panes."""
        wm = self._wm
        w = wm.w
        windows = self._open.get(k)
        if windows is None:
            windows = self._open[k] = {}
        self._arrivals += 1
        panes: list[Pane] | None = None
        accepted = False
        size = self._size
        if size is not None:  # tumbling
            start = t - (t - self._offset) % size
            spans: Any = ((start, start + size),)
        else:
            spans = self.kind.assign(t)
        for span in spans:
            window = windows.get(span[0])
            if window is None:
                if self._expired(span[1], w):
                    continue
                window = self._new_window(windows, k, None, span, w)
            accepted = True
            if self._counting:
                window.state += 1
            else:
                try:
                    window.state = self.agg.add(window.state, x, t, self._arrivals)
                    if not self.accumulating:
                        window.fresh = self.agg.add(window.fresh, x, t, self._arrivals)
                except Exception as exc:
                    if not window.index and not window.count:  # made for this element
                        self._drop(k, window)
                    return self._failed(exc, x, who, md)
            window.count += 1
            if md:
                _hold(window, md)
            if window.fired:
                window.late_since += 1
                if window.late_since >= self.late_count:
                    panes = panes or []
                    panes.append(self._pane(k, window, "late"))
            elif self.early_count is not None and window.count >= self.early_count:
                panes = panes or []
                panes.append(self._pane(k, window, "early"))
        pending: list[Any] = []
        if not accepted:
            if not windows:
                del self._open[k]
            _add(pending, self.late._push_in(x, list(md)))
        if t > wm.top:
            wm.top = t
            if t - self._bound > w:
                wm.w = w = t - self._bound
                if self._horizon <= w:
                    panes = panes or []
                    self._fire([None], panes)
        if panes:
            self._send(panes, pending)
        return pending or None

    def _timestamp(self, metadata: Metadata) -> Any:
        if self.clock.processing:
            return asyncio.get_running_loop().time()
        for m in reversed(metadata):
            if "timestamp" in m:
                return m["timestamp"]
        raise ValueError(
            f"{self._describe()}: the element has no timestamp (no timestamp= on "
            "the EventClock and no 'timestamp' in its metadata)"
        )

    def _checked(self, t: Any) -> Any:
        """A timestamp that is not an int or float: it must compare (and not be NaN)."""
        if isinstance(t, float):  # NaN (a float subclass that is NaN too)
            raise TypeError(f"{self._describe()}: timestamp {t!r} is not a time")
        try:
            t < t  # noqa: B015  (comparable with itself at least; None is not)
        except TypeError:
            raise TypeError(f"{self._describe()}: timestamp {t!r} cannot be compared") from None
        return t

    def _expired(self, end: Any, w: Any) -> bool:
        """L1: whether a window ending at ``end`` is expired at watermark ``w``."""
        if w == math.inf:
            return True
        lateness = self.allowed_lateness
        if lateness == math.inf or w == -math.inf:
            return False
        limit = end + lateness if lateness else end
        return bool(limit < w) if self._incl else bool(limit <= w)

    def _assign(self, x: Any, t: Any, k: Any, scope: Any, w: Any, md: Metadata) -> list[_Window]:
        """A1-A4, L2: the windows that take the element, which is added to them."""
        windows = self._open.get(k)
        if windows is None:
            windows = self._open[k] = {}
        self._arrivals += 1
        if self._merging:
            accepted = self._merge_session(windows, k, scope, t, w)
        elif self._sliding:
            accepted = self._slide(windows, k, scope, x, t, w)
        else:
            accepted = []
            for span in self.kind.assign(t):
                window = windows.get(span[0])
                if window is None:
                    if self._expired(span[1], w):
                        continue
                    window = self._new_window(windows, k, scope, span, w)
                accepted.append(window)
        if not windows:
            del self._open[k]
            return accepted
        add = self.agg.add
        n = self._arrivals
        for window in accepted:
            try:
                window.state = add(window.state, x, t, n)
                if not self.accumulating:
                    window.fresh = add(window.fresh, x, t, n)
            except Exception as exc:
                if not window.index and not window.count:  # made for this element
                    self._drop(k, window)
                raise _AggregationFailed(exc) from None
            window.count += 1
            if md:
                _hold(window, md)
        if self._sliding and accepted:  # for the windows of later elements
            insort(self._kept[k], (t, n, x))
        return accepted

    def _new_window(
        self, windows: dict[Any, _Window], k: Any, scope: Any, span: Any, w: Any
    ) -> _Window:
        window = windows[span[0]] = _Window(
            k, span[0], span[1], self.agg, self._created, not self.accumulating
        )
        self._created += 1
        self._track(window, k, scope, w)
        return window

    def _track(self, window: _Window, k: Any, scope: Any, w: Any) -> None:
        """Put a new window on its scope's timelines of what fires and what expires (a
        window created past fires late panes only)."""
        window.fired = _past(window.end, w, self._incl)
        if not window.fired:
            due = self._due.get(scope)
            if due is None:
                due = self._due[scope] = Timeline()
            due.add(window.end, window)
            if self._simple:
                self._lower_horizon(window.end)
        lateness = self.allowed_lateness
        if lateness and lateness != math.inf:  # (without lateness it goes when it fires)
            expiring = self._expiring.get(scope)
            if expiring is None:
                expiring = self._expiring[scope] = Timeline()
            end = window.end + lateness
            expiring.add(end, window)
            if self._simple:
                self._lower_horizon(end)

    def _lower_horizon(self, end: Any) -> None:
        """The compiled push checks windows only once the watermark reaches the horizon;
        a time that is not a number (a datetime) makes it check every time."""
        if type(end) is int or type(end) is float:
            if end < self._horizon:
                self._horizon = end
        else:
            self._horizon = -math.inf

    def _after_element(self, k: Any, window: _Window, now: float, panes: list[Pane]) -> None:
        """E2-E4: the pane an accepted element causes at once."""
        if not self._final:
            panes.append(self._pane(k, window, "late" if window.fired else "early"))
        elif window.fired:
            window.late_since += 1
            if window.late_since >= self.late_count:
                panes.append(self._pane(k, window, "late"))
        elif self.early_count is not None and window.count >= self.early_count:
            panes.append(self._pane(k, window, "early"))
        elif self.early_interval is not None and window.early_at is None:
            window.early_at = now + self.early_interval
            self._seq += 1
            heappush(self._early, (window.early_at, self._seq, k, window))

    # -------------------------------------------------------------- panes

    def _fire(self, scopes: list[Any], panes: list[Pane]) -> None:
        """E1: on_time panes of the windows the watermark passed (by end, start,
        creation), then L4: the purge of the expired ones."""
        due: list[_Window] = []
        for scope in scopes:
            timeline = self._due.get(scope)
            if timeline:
                timeline.take_until(self._clock_of(scope).w, self._incl, due)
                if not timeline:
                    del self._due[scope]
        if len(scopes) > 1 or self._merging:  # (else: one end, one start per bucket)
            due.sort(key=_order)
        expire = not self.allowed_lateness  # past is expired: the window goes now
        last = expire and self._final and self.accumulating  # its one and last pane
        finish, opened = self._finish, self._open
        for window in due:
            if window.fired or window.gone:
                continue
            window.fired = True
            if last:  # (the window is dropped: no need to reset it for another pane)
                state = window.state
                result = WindowResult(
                    window.key,
                    window.start,
                    window.end,
                    state if finish is None else finish(state),
                    "on_time",
                    window.index,
                    window.replaces,
                )
                panes.append((result, window.md))
                window.md = ()
                self.current_value = result
            elif self._final and (self.accumulating or window.count):
                window.early_at = None
                panes.append(self._pane(window.key, window, "on_time"))
            elif window.md:
                self._release(window)
            if expire:
                window.gone = True
                windows = opened.get(window.key)
                if windows is not None and windows.get(window.start) is window:
                    del windows[window.start]
                    if not windows:
                        del opened[window.key]
                if window.md:
                    self._release(window)
        for scope in scopes:
            self._purge(scope)
        if self._simple:  # the least watermark at which something fires or expires
            self._horizon = math.inf
            for timeline in (self._due.get(None), self._expiring.get(None)):
                if timeline:
                    self._lower_horizon(timeline.times[0])

    def _purge(self, scope: Any) -> None:
        """L4: forget the expired windows (and elements) of a clock scope."""
        w = self._clock_of(scope).w
        expiring = self._expiring.get(scope)
        if expiring:
            expired: list[_Window] = []
            expiring.take_until(w, self._incl, expired)
            for window in expired:
                if not window.gone:
                    self._drop(window.key, window)
            if not expiring:
                del self._expiring[scope]
        if w == math.inf:  # flush: every window goes (those of infinite lateness too)
            keys = list(self._open) if not self._per_key else [scope]
            for k in keys:
                for window in list(self._open.get(k, {}).values()):
                    self._drop(k, window)
            for k in keys:
                self._kept.pop(k, None)
            self._due.pop(scope, None)
            self._expiring.pop(scope, None)
        elif self._kept:
            self._forget_elements(scope, w)
        if self._per_key and scope not in self._open and scope not in self._kept:
            self._key_wm.pop(scope, None)  # a new element of the key starts at the floor
            self._due.pop(scope, None)
            self._expiring.pop(scope, None)

    def _drop(self, k: Any, window: _Window) -> None:
        window.gone = True
        windows = self._open.get(k)
        if windows is not None and windows.get(window.start) is window:
            del windows[window.start]
            if not windows:
                del self._open[k]
        if window.md:
            self._release(window)

    def _pane(self, k: Any, window: _Window, timing: str) -> Pane:
        state = window.state if self.accumulating else window.fresh
        finish = self._finish
        result = WindowResult(
            k,
            window.start,
            window.end,
            state if finish is None else finish(state),
            timing,
            window.index,
            window.replaces,
        )
        if window.replaces:
            window.replaces = ()
        window.index += 1
        if not self.accumulating:
            window.fresh = self.agg.init()
        window.count = 0
        window.late_since = 0
        window.early_at = None
        self.current_value = result
        if timing == "early" and self._final:
            return result, ()  # the elements are settled by the on_time or late pane
        md, window.md = window.md, ()
        return result, md

    def _send(self, panes: list[Pane], pending: list[Any]) -> None:
        """Push panes inside an element's (or a watermark's) push, in order."""
        push = self._push
        for result, md in panes:
            r = push(result, self, md)
            if md:
                r = release_after(r, md)
            if r is not None:
                _add(pending, r)

    def _release(self, window: _Window) -> None:
        """Let go of the refs of a window's elements that no pane will carry."""
        md, window.md = window.md, ()
        release_after(None, md)


class _AggregationFailed(Exception):
    """The aggregation raised on an element (the element goes to the error policy)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def _hold(window: _Window, md: Metadata) -> None:
    """Keep an accepted element's refs on its window until a pane settles them."""
    retain_refs(md)
    if window.md:
        window.md.extend(md)
    else:
        window.md = list(md)


def _order(window: _Window) -> tuple[Any, Any, int]:
    return (window.end, window.start, window.created)


def _add(pending: list[Any], r: Any) -> None:
    if r is None:
        return
    if type(r) is list:
        pending.extend(r)
    else:
        pending.append(r)
