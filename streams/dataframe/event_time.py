"""Event-time windows over streaming DataFrames: ``sdf.window(Tumbling(60), ...)``.

The rows are windowed by a timestamp column (or the index) with the clock rules of
:mod:`streams.windows`, and every chunk emits one frame of panes: the key column(s),
``start``, ``end``, ``timing``, ``index`` and the aggregated columns. Rows no window took
come out of ``.late`` as a frame.

The windows themselves are an :class:`~streams.windows.EventWindow` fed row by row, so the
semantics are the same by construction. Tumbling windows on one clock take a faster road
that gives the same panes: the rows between two instants at which the watermark passes a
window end (a *run*) cannot close any window, so a run without late rows is added to its
windows a group at a time, with pandas, and the windows fire after it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..core import Stream
from ..protocol import Metadata, wait
from ..windows.aggregations import _Agg
from ..windows.clocks import EventClock
from ..windows.kinds import Hopping, Session, Sliding, Tumbling, WindowResult
from ..windows.node import EventWindow, _add, _hold

__all__ = ["FrameWindowBuilder", "FrameWindows"]

_HOWS = ("count", "sum", "mean", "min", "max")


class FrameWindowBuilder:
    """What ``sdf.window(kind, clock=..., key=...)`` returns: pick the aggregation.

    Examples
    --------
    >>> import pandas as pd
    >>> from streams.dataframe import DataFrame
    >>> from streams.windows import EventClock, Tumbling
    >>> sdf = DataFrame(example=pd.DataFrame({"ts": [0], "user": ["a"], "n": [0]}))
    >>> clock = EventClock(timestamp="ts", max_out_of_order=5)
    >>> sums = sdf.window(Tumbling(60), clock=clock, key="user").sum()
    >>> panes = sums.stream.sink_to_list()
    >>> sdf.emit(pd.DataFrame({"ts": [1, 30, 70], "user": ["a", "b", "a"], "n": [1, 2, 3]}))
    >>> panes[0][["user", "start", "end", "timing", "n"]]
      user  start  end   timing  n
    0    a      0   60  on_time  1
    1    b      0   60  on_time  2
    """

    def __init__(
        self, frame: Any, kind: Any, clock: EventClock | None = None, **options: Any
    ) -> None:
        if not isinstance(kind, Tumbling | Hopping | Session | Sliding):
            raise TypeError(
                f"window: kind must be Tumbling, Hopping, Session or Sliding, got {kind!r}"
            )
        if not isinstance(frame.example, pd.DataFrame):
            raise TypeError("window: event-time windows are for streaming DataFrames")
        clock = clock or EventClock()
        if clock.timestamp is not None and not isinstance(clock.timestamp, str):
            raise TypeError(
                "window: for a streaming DataFrame the clock's timestamp is a column name "
                f"(or None for the index), got {clock.timestamp!r}"
            )
        if clock.partition is not None and not isinstance(clock.partition, str):
            raise TypeError("window: for a streaming DataFrame, partition is a column name")
        self.frame = frame
        self.kind = kind
        self.clock = clock
        self.options = options

    def count(self) -> Any:
        """The number of rows per window (a ``count`` column)."""
        return self._frame("count")

    def sum(self) -> Any:
        """The sum of each value column per window."""
        return self._frame("sum")

    def mean(self) -> Any:
        """The mean of each value column per window."""
        return self._frame("mean")

    def min(self) -> Any:
        """The smallest value of each value column per window."""
        return self._frame("min")

    def max(self) -> Any:
        """The largest value of each value column per window."""
        return self._frame("max")

    def _frame(self, how: str) -> Any:
        from .core import DataFrame

        node = FrameWindows(self.frame, self.kind, self.clock, how, **self.options)
        out = DataFrame(stream=node, example=node.example)
        out.late = DataFrame(stream=node.late, example=self.frame.example.iloc[:0])  # type: ignore[attr-defined]
        return out


class FrameWindows(Stream[pd.DataFrame]):
    """Node behind ``sdf.window(kind, ...).<aggregation>()``: a frame of panes per chunk."""

    _label = "window"
    _graphviz_shape = "diamond"

    def __init__(
        self,
        frame: Any,
        kind: Any,
        clock: EventClock,
        how: str,
        key: Any = None,
        **options: Any,
    ) -> None:
        example = frame.example
        self.how = how
        self.time_column = clock.timestamp
        self.partition_column = clock.partition
        self.key_columns: list[Any] = (
            [] if key is None else key if isinstance(key, list) else [key]
        )
        for column in [self.time_column, clock.partition, *self.key_columns]:
            if column is not None and column not in example.columns:
                raise KeyError(f"window: no column {column!r} in the frame")
        skip = {self.time_column, clock.partition, *self.key_columns}
        self.value_columns = [
            c
            for c in example.columns
            if c not in skip and pd.api.types.is_numeric_dtype(example[c].dtype)
        ]
        times = example.index if self.time_column is None else example[self.time_column]
        self._example_dtypes = example.dtypes
        self._datetimes = pd.api.types.is_datetime64_any_dtype(times.dtype)
        self._tz = getattr(times.dtype, "tz", None)
        self._rows: Any = None  # the chunk being handled: times, keys, values
        inner_clock = EventClock(
            timestamp=self._time_of,
            max_out_of_order=_ns(clock.max_out_of_order, self._datetimes),
            idle_timeout=clock.idle_timeout,
            partition=None if clock.partition is None else self._partition_of,
            per_key=clock.per_key,
        )
        name = options.pop("stream_name", None)  # this node's, not the inner windows'
        if "allowed_lateness" in options:
            options["allowed_lateness"] = _ns(options["allowed_lateness"], self._datetimes)
        self.windows = EventWindow(
            Stream(),
            _kind_ns(kind, self._datetimes),
            self._aggregation(),
            clock=inner_clock,
            key=None if key is None else self._key_of,
            **options,
        )
        self._panes: list[WindowResult] = []
        self._late_rows: list[int] = []
        self.windows.sink(self._panes.append)
        self.windows.late.sink(lambda row: self._late_rows.append(row[0]))
        self.example = self._panes_frame([])
        super().__init__(frame.stream, stream_name=name)
        self.late: Stream[pd.DataFrame] = Stream(stream_name=f"{self._describe()}.late")
        """Frames of the rows no window accepted (too late)."""
        self._runtime.absorb(self.late._runtime)
        self._runtime.absorb(self.windows._runtime)

    def _detail(self) -> str:
        return f"{self.windows.kind!r}.{self.how}"

    # -------------------------------------------------------------- rows

    # the inner windows' elements are (row number in the chunk, row values)

    def _time_of(self, row: tuple[int, Any]) -> Any:
        return self._rows[0][row[0]]

    def _key_of(self, row: tuple[int, Any]) -> Any:
        return self._rows[1][row[0]]

    def _partition_of(self, row: tuple[int, Any]) -> Any:
        return self._rows[3][row[0]]

    def _aggregation(self) -> _Agg:
        """The inner windows' aggregation: a state is a ``(count, numpy vector)``
        pair."""
        how = self.how

        def init() -> Any:
            return (0, None)

        def add(s: Any, row: tuple[int, Any], t: Any, n: int) -> Any:
            return _combine(how, s, (1, row[1]))

        def merge(a: Any, b: Any) -> Any:
            return _combine(how, a, b)

        return _Agg(f"frame {how}", init, add, merge, lambda s: s)

    # -------------------------------------------------------------- chunks

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            times = x.index if self.time_column is None else x[self.time_column]
            if self._datetimes:
                times = pd.DatetimeIndex(times).as_unit("ns").asi8
            times = np.asarray(times)
            keys = self._keys(x)
            values = (
                x[self.value_columns].to_numpy(dtype=float)
                if self.value_columns
                else np.zeros((len(x), 0))
            )
            partition = self.windows.clock.partition
            parts = None if partition is None else x[self.partition_column].tolist()
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        self._rows = (times.tolist(), keys, values, parts)
        try:
            pending = self._run(x, times, keys, metadata)
        finally:
            self._rows = None
        return self._out(x, pending)

    def _keys(self, x: pd.DataFrame) -> Any:
        if not self.key_columns:
            return None
        if len(self.key_columns) == 1:
            return x[self.key_columns[0]].tolist()
        return list(zip(*(x[c].tolist() for c in self.key_columns), strict=True))

    def _run(self, x: pd.DataFrame, times: Any, keys: Any, metadata: Metadata) -> list[Any]:
        windows = self.windows
        pending: list[Any] = []
        n = len(x)
        values = self._rows[2]
        if (
            not windows._simple
            or windows._size is None
            or len(self.key_columns) > 1
            or n < 8
            or times.dtype.kind not in "if"
        ):
            for i in range(n):
                _add(pending, windows.update((i, values[i]), None, metadata))
            return pending
        start = 0
        for stop, fast in _runs(windows, times):
            if fast:
                _add(pending, self._add_run(times, keys, start, stop, metadata))
            else:
                for i in range(start, stop):
                    _add(pending, windows.update((i, values[i]), None, metadata))
            start = stop
        return pending

    def _add_run(self, times: Any, keys: Any, start: int, stop: int, md: Metadata) -> Any:
        """Rows ``start:stop``, none late and none closing a window, a group at a time."""
        node = self.windows
        size, offset = node._size, node._offset
        t = times[start:stop]
        starts = t - (t - offset) % size
        values = self._rows[2][start:stop]
        groups = pd.DataFrame(values)
        groups["s"] = starts
        by = "s"
        if keys is not None:
            groups["k"] = keys[start:stop]
            by = ["k", "s"]  # type: ignore[assignment]
        grouped = groups.groupby(by, sort=False)  # in order of first appearance
        op = "sum" if self.how in ("count", "sum", "mean") else self.how
        partials = getattr(grouped, op)().to_numpy(dtype=float)
        counts = grouped.size()
        how = self.how
        w = node._wm.w
        for label, vector, n in zip(counts.index, partials, counts.to_numpy(), strict=True):
            k, s = label if keys is not None else (None, label)
            if isinstance(s, np.generic):
                s = s.item()
            if isinstance(k, np.generic):
                k = k.item()
            opened = node._open.get(k)
            if opened is None:
                opened = node._open[k] = {}
            window = opened.get(s)
            if window is None:
                window = node._new_window(opened, k, None, (s, s + size), w)
            window.state = _combine(how, window.state, (int(n), vector))
            window.count += int(n)
            if md:
                _hold(window, md)
        node._arrivals += stop - start
        return node._raise_top(t.max().item())

    def _out(self, x: pd.DataFrame, pending: list[Any]) -> Any:
        panes, self._panes[:] = list(self._panes), []
        late, self._late_rows[:] = list(self._late_rows), []
        if late:
            _add(pending, self.late._push_in(x.iloc[late], None))
        if panes:
            _add(pending, self._push(self._panes_frame(panes), self, ()))
        return pending or None

    def _panes_frame(self, panes: list[WindowResult]) -> pd.DataFrame:
        columns: dict[str, Any] = {}
        for j, name in enumerate(self.key_columns):
            columns[name] = [p.key if len(self.key_columns) == 1 else p.key[j] for p in panes]
        starts = [p.start for p in panes]
        ends = [p.end for p in panes]
        if self._datetimes:
            columns["start"] = pd.to_datetime(starts, unit="ns", utc=self._tz is not None)
            columns["end"] = pd.to_datetime(ends, unit="ns", utc=self._tz is not None)
            if self._tz is not None:
                columns["start"] = columns["start"].tz_convert(self._tz)
                columns["end"] = columns["end"].tz_convert(self._tz)
        else:
            columns["start"] = starts
            columns["end"] = ends
        columns["timing"] = [p.timing for p in panes]
        columns["index"] = [p.index for p in panes]
        if self.how == "count":
            columns["count"] = [p.value[0] for p in panes]
        else:
            for j, name in enumerate(self.value_columns):
                columns[name] = [_result(self.how, p.value, j) for p in panes]
        frame = pd.DataFrame(columns)
        if self.how in ("sum", "min", "max"):  # integer columns stay integers
            dtypes = self._example_dtypes
            for name in self.value_columns:
                if pd.api.types.is_integer_dtype(dtypes[name]) and panes:
                    frame[name] = frame[name].astype(dtypes[name])
        if not panes:
            frame = frame.astype({"index": "int64", "timing": "object"})
        return frame

    async def _flush(self) -> bool:
        busy = bool(self.windows._open)
        self.windows._advance_to(math.inf)
        r = self._out(self.example, [])
        if r:
            await wait(r)
        return busy

    def flush(self) -> Any:
        """Close every window (the watermark becomes +inf) and emit their panes."""
        return self._enter(lambda: self._flushed())

    def _flushed(self) -> Any:
        self.windows._advance_to(math.inf)
        return self._out(self.example, [])


def _runs(node: EventWindow, times: Any) -> list[tuple[int, bool]]:
    """Split a chunk into runs of rows between which the watermark passes no window
    end: ``(stop, fast)`` per run, ``fast`` when none of its rows is late."""
    size, offset, bound = node._size, node._offset, node._bound
    wm = node._wm
    top = np.maximum.accumulate(times.astype(float))
    if wm.top != -math.inf:
        top = np.maximum(top, wm.top)
    after = np.maximum(top - bound, wm.w)
    before = np.concatenate(([wm.w], after[:-1]))
    finite = np.isfinite(before)
    bucket = np.where(finite, np.floor((np.where(finite, before, 0) - offset) / size), -math.inf)
    ends = times - (times - offset) % size + size
    lateness = node.allowed_lateness
    late = ends <= before  # past: late panes, or .late when expired
    if lateness != math.inf:
        late |= ends + lateness <= before
    changes = np.flatnonzero(bucket[1:] != bucket[:-1]) + 1
    runs = []
    start = 0
    for stop in [*changes.tolist(), len(times)]:
        runs.append((stop, not late[start:stop].any()))
        start = stop
    return runs


def _combine(how: str, a: Any, b: Any) -> Any:
    if a[1] is None:
        return b
    if b[1] is None:
        return a
    if how == "min":
        return (a[0] + b[0], np.minimum(a[1], b[1]))
    if how == "max":
        return (a[0] + b[0], np.maximum(a[1], b[1]))
    return (a[0] + b[0], a[1] + b[1])


def _result(how: str, state: Any, j: int) -> Any:
    count, vector = state
    if vector is None:
        return math.nan
    if how == "mean":
        return vector[j] / count if count else math.nan
    return vector[j].item()


def _empty(n: int) -> Any:
    return np.zeros((n, 0))


def _ns(x: Any, datetimes: bool) -> Any:
    """A duration in the inner windows' unit: nanoseconds for datetime columns."""
    if not datetimes or x == math.inf or x == 0:
        return x
    return pd.Timedelta(x).value


def _kind_ns(kind: Any, datetimes: bool) -> Any:
    if not datetimes:
        return kind
    if isinstance(kind, Tumbling):
        offset = kind.offset
        return Tumbling(_ns(kind.size, True), 0 if not offset else _ns(offset, True))
    if isinstance(kind, Hopping):
        offset = kind.offset
        return Hopping(
            _ns(kind.size, True), _ns(kind.step, True), 0 if not offset else _ns(offset, True)
        )
    if isinstance(kind, Session):
        return Session(_ns(kind.gap, True))
    return Sliding(_ns(kind.size, True))
