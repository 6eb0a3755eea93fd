"""Event time: windows by the data's own clock, watermarks, lateness and a late output.

``source.window(kind, clock=EventClock(...), key=...)`` followed by an aggregation
(``count()``, ``sum()``, ``collect()``...) groups elements into windows by the timestamp
each element carries, not by when it arrives. The node's clock keeps a watermark ``W``:
the largest timestamp seen less ``max_out_of_order`` (no element older than that is
expected any more). A window ``[start, end)`` is *past* when ``end <= W``: in
``emit="final"`` mode it then emits its result once, as an ``on_time`` pane. Elements
still arrive for it until it *expires* (``end + allowed_lateness <= W``): each one
updates it and emits a ``late`` pane. An element that no window accepts goes to
``.late``, unchanged, with its metadata. The rules are those of
``../shared/research/event_time.md`` §4 (C1-C4, A1-A3, L1-L4, E1, E2, E4-E7, O1-O2).

Every element, watermark and pane is handled inside the push of the element (or of
``advance_watermark``/``flush``), so back pressure and errors work as for any node;
an element's metadata refs are held until a pane with it in was accepted downstream
(``final``: its first ``on_time`` or ``late`` pane; ``update``: its first pane) or it went
to ``.late``.

Examples
--------
>>> from streams import Stream
>>> from streams.windows import EventClock, Tumbling
>>> source = Stream()
>>> clock = EventClock(timestamp=lambda t: t)  # the elements are their own timestamps
>>> counts = source.window(Tumbling(10), clock=clock).count()
>>> out = counts.sink_to_list()
>>> for t in (1, 2, 3, 10, 11):
...     source.emit(t)
>>> out
[WindowResult(key=None, start=0, end=10, value=3, timing='on_time', index=0, replaces=())]
>>> counts.flush()
>>> out[-1].start, out[-1].value
(10, 2)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from .core import Stream
from .protocol import Metadata, release_after
from .refs import retain_refs

__all__ = ["EventClock", "Hopping", "Session", "Tumbling", "WindowResult"]

_NO_VALUE = object()


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


def _origin(t: Any, offset: Any) -> Any:
    """Where windows are counted from: ``offset`` for numbers; for datetimes the Unix
    epoch (in ``t``'s time zone) shifted by ``offset`` (a timedelta, or 0)."""
    if isinstance(t, datetime):
        epoch = datetime(1970, 1, 1, tzinfo=t.tzinfo)
        return epoch + offset if isinstance(offset, timedelta) else epoch
    return offset


def _zero(x: Any) -> Any:
    return type(x)() if hasattr(x, "total_seconds") else 0


# ------------------------------------------------------------------ the clock


class EventClock:
    """How a window node tells time from its elements.

    Parameters
    ----------
    timestamp : callable, optional
        The element's timestamp: a number or a ``datetime`` (then window sizes are
        ``timedelta``). By default the ``"timestamp"`` entry of the element's metadata
        (what the Kafka sources set).
    max_out_of_order : number or timedelta
        How far behind the largest timestamp seen an element may still be on time: the
        watermark is that largest timestamp less this. ``math.inf``: only
        ``advance_watermark`` and ``flush`` move the watermark.
    per_key : bool
        One watermark per key (an element only moves its own key's time) instead of one
        for the node.
    """

    def __init__(
        self,
        timestamp: Callable[[Any], Any] | None = None,
        max_out_of_order: Any = 0,
        per_key: bool = False,
    ) -> None:
        if timestamp is not None and not callable(timestamp):
            raise TypeError(f"EventClock: timestamp must be callable, got {timestamp!r}")
        self.timestamp = timestamp
        self.max_out_of_order = max_out_of_order
        self.per_key = per_key


# ------------------------------------------------------------------ aggregations


class _Agg(NamedTuple):
    name: str
    init: Callable[[], Any]
    add: Callable[[Any, Any, Any, int], Any]  # (state, value, timestamp, arrival)
    merge: Callable[[Any, Any], Any] | None
    result: Callable[[Any], Any]


def _count() -> _Agg:
    return _Agg("count", lambda: 0, lambda s, v, t, i: s + 1, lambda a, b: a + b, _same)


def _sum(f: Callable[[Any], Any] | None) -> _Agg:
    get = f or _same
    return _Agg("sum", lambda: 0, lambda s, v, t, i: s + get(v), lambda a, b: a + b, _same)


def _mean(f: Callable[[Any], Any] | None) -> _Agg:
    get = f or _same

    def add(s: Any, v: Any, t: Any, i: int) -> Any:
        return (s[0] + get(v), s[1] + 1)

    return _Agg(
        "mean",
        lambda: (0, 0),
        add,
        lambda a, b: (a[0] + b[0], a[1] + b[1]),
        lambda s: s[0] / s[1] if s[1] else math.nan,
    )


def _extreme(name: str, pick: Callable[..., Any], f: Callable[[Any], Any] | None) -> _Agg:
    get = f or _same

    def add(s: Any, v: Any, t: Any, i: int) -> Any:
        value = get(v)
        return value if s is _NO_VALUE else pick(s, value)

    def merge(a: Any, b: Any) -> Any:
        return b if a is _NO_VALUE else a if b is _NO_VALUE else pick(a, b)

    return _Agg(name, lambda: _NO_VALUE, add, merge, lambda s: None if s is _NO_VALUE else s)


def _reduce(f: Callable[[Any, Any], Any]) -> _Agg:
    def add(s: Any, v: Any, t: Any, i: int) -> Any:
        return v if s is _NO_VALUE else f(s, v)

    def merge(a: Any, b: Any) -> Any:
        return b if a is _NO_VALUE else a if b is _NO_VALUE else f(a, b)

    return _Agg("reduce", lambda: _NO_VALUE, add, merge, lambda s: None if s is _NO_VALUE else s)


def _collect(f: Callable[[Any], Any] | None, then: Callable[[list[Any]], Any] | None) -> _Agg:
    get = f or _same
    finish = then or _same

    def add(s: list[Any], v: Any, t: Any, i: int) -> list[Any]:
        s.append((t, i, get(v)))
        return s

    def result(s: list[Any]) -> Any:
        return finish([v for _, _, v in sorted(s, key=lambda e: (e[0], e[1]))])

    return _Agg("collect" if then is None else "apply", list, add, lambda a, b: a + b, result)


def _aggregate(init: Any, add: Callable[[Any, Any], Any], merge: Any, result: Any) -> _Agg:
    def start() -> Any:
        return init() if callable(init) else copy.deepcopy(init)

    return _Agg(
        "aggregate",
        start,
        lambda s, v, t, i: add(s, v),
        merge,
        result or _same,
    )


def _same(x: Any) -> Any:
    return x


# ------------------------------------------------------------------ the builder


class WindowBuilder:
    """What ``stream.window(...)`` returns: pick the aggregation of the windows."""

    def __init__(self, upstream: Stream[Any], kind: Any, **options: Any) -> None:
        if not isinstance(kind, Tumbling | Hopping | Session):
            raise TypeError(f"window: kind must be Tumbling, Hopping or Session, got {kind!r}")
        emit = options.get("emit", "final")
        if emit not in ("final", "update"):
            raise ValueError(f"window: emit must be 'final' or 'update', got {emit!r}")
        late_count = options.get("late_count", 1)
        if not isinstance(late_count, int) or late_count < 1:
            raise ValueError(f"window: late_count must be a positive int, got {late_count!r}")
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


# ------------------------------------------------------------------ the node


class _Window:
    """One open window of one key."""

    __slots__ = (
        "count",
        "created",
        "end",
        "fired",
        "fresh",
        "index",
        "late_since",
        "md",
        "replaces",
        "start",
        "state",
    )

    def __init__(self, start: Any, end: Any, agg: _Agg, created: int) -> None:
        self.start = start
        self.end = end
        self.state = agg.init()  # all its elements
        self.fresh = agg.init()  # its elements since its last pane
        self.count = 0  # elements since its last pane
        self.index = 0  # the next pane's index
        self.fired = False  # its on_time pane went out
        self.late_since = 0  # late elements since its last pane
        self.md: list[dict[str, Any]] = []  # refs of elements not in an accepted pane yet
        self.created = created
        self.replaces: tuple[tuple[Any, Any], ...] = ()  # sessions merged in since a pane


class EventWindow(Stream[WindowResult]):
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
        late_count: int = 1,
        accumulate: bool = True,
        **options: Any,
    ) -> None:
        self.kind = kind
        self.agg = agg
        self.clock = clock or EventClock()
        self.key = key
        self.allowed_lateness = allowed_lateness
        self.emit_mode = emit
        self.late_count = late_count
        self.accumulating = accumulate
        self._w: Any = -math.inf  # the node's watermark (or per key, below)
        self._max_ts: Any = -math.inf
        self._key_w: dict[Any, Any] = {}
        self._key_max: dict[Any, Any] = {}
        self._open: dict[Any, dict[tuple[Any, Any], _Window]] = {}  # key -> span -> window
        self._created = 0
        self._arrivals = 0
        super().__init__(upstream, **options)
        self.late: Stream[Any] = Stream(stream_name=f"{self._describe()}.late")
        """The elements no window accepted (too late), with their metadata."""

    def _detail(self) -> str:
        return f"{self.kind!r}.{self.agg.name}"

    def _held_count(self) -> int:
        """Accepted elements in no pane yet."""
        return sum(w.count for ws in self._open.values() for w in ws.values())

    # -------------------------------------------------------------- time

    @property
    def watermark(self) -> Any:
        """The watermark: one value, or a dict key -> watermark with ``per_key``."""
        return dict(self._key_w) if self.clock.per_key else self._w

    def _watermark_of(self, k: Any) -> Any:
        return self._key_w.get(k, -math.inf) if self.clock.per_key else self._w

    def advance_watermark(self, t: Any) -> Any:
        """Move the watermark to ``t`` (never back), then emit what that closes; returns
        what ``emit`` returns."""
        return self._enter(lambda: self._advance_to(t))

    def flush(self) -> Any:
        """Close every window: the watermark becomes +inf (awaitable inside a loop)."""
        return self._enter(lambda: self._advance_to(math.inf))

    def _advance_to(self, t: Any) -> Any:
        if self.clock.per_key:
            for k in set(self._open) | set(self._key_w):
                self._key_w[k] = _later(self._key_w.get(k, -math.inf), t)
        self._w = _later(self._w, t)
        return self._fire(list(self._open))

    # -------------------------------------------------------------- elements

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            t = self._timestamp(x, metadata)
            k = None if self.key is None else self.key(x)
            accepted = self._assign(x, t, k, metadata)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        pending: list[Any] = []
        if not accepted:
            _add(pending, self.late._push_in(x, list(metadata)))
        else:
            for window in accepted:
                _add(pending, self._after_element(k, window))
        _add(pending, self._tick(k, t))
        return pending or None

    def _timestamp(self, x: Any, metadata: Metadata) -> Any:
        get = self.clock.timestamp
        if get is None:
            found = [m["timestamp"] for m in metadata if "timestamp" in m]
            if not found:
                raise ValueError(
                    f"{self._describe()}: the element has no timestamp (no timestamp= on "
                    "the EventClock and no 'timestamp' in its metadata)"
                )
            t = found[-1]
        else:
            t = get(x)
        try:
            t < t  # noqa: B015  (comparable with itself at least; None is not)
        except TypeError:
            raise TypeError(f"{self._describe()}: timestamp {t!r} cannot be compared") from None
        if isinstance(t, float) and math.isnan(t):
            raise TypeError(f"{self._describe()}: timestamp {t!r} is not a time")
        return t

    def _expired(self, end: Any, w: Any) -> bool:
        lateness = self.allowed_lateness
        if w == math.inf:
            return True  # flush: everything goes
        if lateness == math.inf or w == -math.inf:
            return False
        return bool((end + lateness if lateness else end) <= w)

    def _assign(self, x: Any, t: Any, k: Any, metadata: Metadata) -> list[_Window]:
        w = self._watermark_of(k)
        windows = self._open.setdefault(k, {})
        self._arrivals += 1
        spans = self.kind.assign(t)
        if self.kind.merging:
            accepted = self._merge_session(windows, spans[0], w)
        else:
            accepted = []
            for span in spans:
                if self._expired(span[1], w):
                    continue
                window = windows.get(span)
                if window is None:
                    window = windows[span] = _Window(span[0], span[1], self.agg, self._created)
                    window.fired = _past(span[1], w)  # created past: late panes only
                    self._created += 1
                accepted.append(window)
        if not windows:
            del self._open[k]
        for window in accepted:
            window.state = self.agg.add(window.state, x, t, self._arrivals)
            window.fresh = self.agg.add(window.fresh, x, t, self._arrivals)
            window.count += 1
            if metadata:
                retain_refs(metadata)
                window.md.extend(metadata)
        return accepted

    def _merge_session(
        self, windows: dict[tuple[Any, Any], _Window], span: tuple[Any, Any], w: Any
    ) -> list[_Window]:
        start, end = span
        merged = [s for s in windows if s[0] <= end and start <= s[1]]
        while True:  # transitively: the union may reach further sessions
            lo = min([start, *(s[0] for s in merged)])
            hi = max([end, *(s[1] for s in merged)])
            more = [s for s in windows if s not in merged and s[0] <= hi and lo <= s[1]]
            if not more:
                break
            merged.extend(more)
        if self._expired(hi, w):
            return []
        parts = sorted((windows.pop(s) for s in merged), key=lambda p: p.created)
        window = _Window(lo, hi, self.agg, parts[0].created if parts else self._created)
        if not parts:
            self._created += 1
        merge = self.agg.merge
        assert merge is not None
        for part in parts:
            window.state = merge(window.state, part.state)
            window.fresh = merge(window.fresh, part.fresh)
            window.count += part.count
            window.index = max(window.index, part.index)
            window.late_since += part.late_since
            window.md.extend(part.md)
        window.fired = _past(hi, w)  # a new window; created past: late panes only
        window.replaces = tuple((p.start, p.end) for p in parts if (p.start, p.end) != (lo, hi))
        windows[(lo, hi)] = window
        return [window]

    def _after_element(self, k: Any, window: _Window) -> Any:
        """The pane an accepted element causes at once (update mode, or a late one)."""
        past = _past(window.end, self._watermark_of(k))
        if self.emit_mode == "update":
            return self._pane(k, window, "late" if past else "early")
        if past:
            window.late_since += 1
            if window.late_since >= self.late_count:
                return self._pane(k, window, "late")
        return None

    def _tick(self, k: Any, t: Any) -> Any:
        """The clock after an element with timestamp ``t``: move the watermark, fire."""
        bound = self.clock.max_out_of_order
        if self.clock.per_key:
            self._key_max[k] = _later(self._key_max.get(k, -math.inf), t)
            if bound == math.inf:
                return None
            before = self._key_w.get(k, -math.inf)
            self._key_w[k] = _later(before, _minus(self._key_max[k], bound))
            return self._fire([k]) if self._key_w[k] != before else None
        self._max_ts = _later(self._max_ts, t)
        if bound == math.inf:
            return None
        before = self._w
        self._w = _later(before, _minus(self._max_ts, bound))
        return self._fire(list(self._open)) if self._w != before else None

    # -------------------------------------------------------------- panes

    def _fire(self, keys: list[Any]) -> Any:
        """on_time panes of the windows the watermark passed (by end, start, creation),
        then the purge of expired ones."""
        due = []
        for k in keys:
            w = self._watermark_of(k)
            for window in self._open.get(k, {}).values():
                if not window.fired and _past(window.end, w):
                    due.append((window.end, window.start, window.created, k, window))
        due.sort(key=lambda d: (d[0], d[1], d[2]))
        pending: list[Any] = []
        for _, _, _, k, window in due:
            window.fired = True
            if self.emit_mode == "final" and (self.accumulating or window.count):
                _add(pending, self._pane(k, window, "on_time"))
            else:
                _add(pending, self._release(window))
        for k in keys:
            windows = self._open.get(k)
            if windows is None:
                continue
            w = self._watermark_of(k)
            for span in [s for s, win in windows.items() if self._expired(win.end, w)]:
                _add(pending, self._release(windows.pop(span)))
            if not windows:
                del self._open[k]
        return pending or None

    def _pane(self, k: Any, window: _Window, timing: str) -> Any:
        state = window.state if self.accumulating else window.fresh
        result = WindowResult(
            k,
            window.start,
            window.end,
            self.agg.result(state),
            timing,
            window.index,
            window.replaces,
        )
        window.replaces = ()
        window.index += 1
        window.fresh = self.agg.init()
        window.count = 0
        window.late_since = 0
        self.current_value = result
        md, window.md = window.md, []
        return release_after(self._push(result, self, md), md)

    def _release(self, window: _Window) -> Any:
        """Let go of the refs of a window's elements that no pane will carry."""
        md, window.md = window.md, []
        return release_after(None, md) if md else None


# Times are numbers or datetimes; the watermark starts at -inf and flush makes it +inf,
# which a datetime cannot be compared with: these compare through the infinities first.


def _later(a: Any, b: Any) -> Any:
    """The later of two times (``a`` may be -inf, ``b`` +inf)."""
    if a == -math.inf or b == math.inf:
        return b
    if a == math.inf or b == -math.inf:
        return a
    return b if b > a else a


def _past(end: Any, w: Any) -> bool:
    """Whether a window ending at ``end`` is past at watermark ``w``."""
    if w == math.inf:
        return True
    return w != -math.inf and bool(end <= w)


def _minus(t: Any, bound: Any) -> Any:
    return t - bound if bound else t


def _add(pending: list[Any], r: Any) -> None:
    if r is None:
        return
    if type(r) is list:
        pending.extend(r)
    else:
        pending.append(r)
