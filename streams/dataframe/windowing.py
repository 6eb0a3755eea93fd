"""Windows over streaming frames: ``window``, ``rolling``, ``expanding`` and ``ewm``.

``window(n=)``/``window(value=)`` emit one aggregate per chunk over the rows the window
holds: rows enter through the aggregation's ``on_new`` and leave through ``on_old``, so a
window of 10,000 rows costs per chunk what the chunk costs, not what the window holds
(minimum and maximum, which cannot take rows out, are recomputed from the held rows).
``rolling`` emits, for every new row, pandas' rolling aggregate ending at that row: it
keeps only the rows the next window can still reach and lets pandas compute the new rows.
"""

from __future__ import annotations

import operator
from collections import deque
from typing import Any

import numpy as np
import pandas as pd

from ..collection import Streaming, elementwise, wrap
from . import aggregations as aggs
from .aggregations import keeps_state

__all__ = ["EWM", "Expanding", "Rolling", "Window"]


class Window(aggs.Reductions):
    """What ``sdf.window(n=|value=)`` returns; aggregate it like a frame.

    Examples
    --------
    >>> import pandas as pd
    >>> from streams.dataframe import DataFrame
    >>> sdf = DataFrame(example=pd.DataFrame({"x": [0]}))
    >>> sums = sdf.window(n=3).x.sum().stream.sink_to_list()
    >>> sdf.emit(pd.DataFrame({"x": [1, 2]}))
    >>> sdf.emit(pd.DataFrame({"x": [3, 4]}))
    >>> [int(s) for s in sums]
    [3, 9]
    """

    def __init__(
        self,
        frame: Any,
        n: Any = None,
        value: Any = None,
        with_state: bool = False,
        start: Any = None,
    ) -> None:
        if n is not None and not isinstance(n, int) and value is None:
            n, value = None, n  # window('2h'): a span, as streamz accepts it
        if n is None and value is None:
            raise ValueError("window: give n= (rows) or value= (a span of the index)")
        if n is not None and value is not None:
            raise ValueError("window: give n= or value=, not both")
        if n is not None and (not isinstance(n, int) or n < 0):
            raise ValueError(f"window: n must be a non-negative int, not {n!r}")
        if isinstance(value, str):
            value = pd.Timedelta(value)
        self.frame = frame
        self.n = n
        self.value = value
        self.with_state = with_state
        self.start = start

    def _derive(self, frame: Any) -> Window:
        return Window(frame, self.n, self.value, self.with_state, self.start)

    def __getitem__(self, key: Any) -> Window:
        return self._derive(self.frame[key])

    @property
    def index(self) -> Window:
        """The window over the index of the rows."""
        return self._derive(self.frame.index)

    def map_partitions(self, func: Any, *args: Any, **kwargs: Any) -> Window:
        """The window over ``func`` applied to every chunk before it enters."""
        args = tuple(a.frame if isinstance(a, Window) else a for a in args)
        return self._derive(self.frame.map_partitions(func, *args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("frame", "n", "value", "with_state", "start"):
            raise AttributeError(name)
        columns = getattr(self.frame.example, "columns", ())
        if name in columns:
            return self[name]
        raise AttributeError(f"Window has no attribute or column {name!r}")

    def aggregate(
        self, aggregation: aggs.Aggregation, start: Any = None, *, stream_name: str | None = None
    ) -> Streaming:
        """Fold ``aggregation`` over the rows in the window, one result per chunk (a
        window resumes from held rows: ``window(start=)``, not from a state).

        Parameters
        ----------
        stream_name : str, optional
            Names the node holding the window's rows and the aggregation's state
            (needed to checkpoint it, see :mod:`streams.state`).
        """
        if start is not None:
            raise ValueError("window: resume from held rows with window(..., start=rows)")
        step = _WindowStep(aggregation, self.n, self.value, self.with_state)
        held = self.frame.example.iloc[:0] if self.start is None else self.start
        state = step.begin(self.frame.example, held)
        example = step.example(self.frame.example)
        result = self.frame.stream.accumulate(
            step, start=state, returns_state=True, stream_name=stream_name
        )
        return wrap(result, example, stream_type="updating")

    @keeps_state
    def full(self, *, stream_name: str | None = None) -> Streaming:
        """The rows in the window, after every chunk."""
        return self.aggregate(_Rows(), stream_name=stream_name)

    @keeps_state
    def apply(self, func: Any, *, stream_name: str | None = None) -> Streaming:
        """``func`` applied to the rows in the window, after every chunk."""
        return self.full(stream_name=stream_name).map_partitions(func)

    @keeps_state
    def value_counts(self, *, stream_name: str | None = None) -> Streaming:
        """Running ``value_counts()`` of the values in the window."""
        return self.aggregate(aggs.ValueCounts(), stream_name=stream_name)

    def groupby(self, by: Any) -> Any:
        """Grouped aggregations over the rows in the window (recomputed per chunk from
        the held rows, which the window bounds). ``by`` is a column name or list of
        them, or a streaming Series (or a window of one) giving each row's key.

        The window's rows are held by one node per ``stream_name`` given to the
        aggregations (``.x.sum(stream_name="w")``), shared by those giving the same."""
        from .groupby import KEY, GroupBy

        if isinstance(by, Window):
            by = by.frame
        frame = self.frame
        selection = None
        if isinstance(by, Streaming):
            # the keys must travel with their rows through the window
            name = getattr(by.example, "name", None)
            if isinstance(frame.example, pd.Series):
                selection = frame.example.name
            frame = elementwise(_with_key, frame, by)  # fused, not zipped, if it can be
            by = (KEY, name)
        rows = _HeldBy(Window(frame, self.n, self.value, False, self.start))
        grouped = GroupBy(frame, by, windowed=rows, with_state=self.with_state)
        return grouped[selection] if selection is not None else grouped


class _HeldBy:
    """The rows of a window for its grouped aggregations: one node per ``stream_name``,
    made when first asked for."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.nodes: dict[str | None, Streaming] = {}

    def __call__(self, stream_name: str | None) -> Streaming:
        node = self.nodes.get(stream_name)
        if node is None:
            node = self.window.aggregate(_Rows("groupby"), stream_name=stream_name)
            self.nodes[stream_name] = node
        return node


def _with_key(chunk: Any, key: Any) -> Any:
    from .groupby import KEY

    frame = chunk.to_frame() if isinstance(chunk, pd.Series) else chunk
    return frame.assign(**{KEY: key})


def _window_op(op: Any, reflected: bool = False) -> Any:
    def method(self: Window, other: Any) -> Window:
        if reflected:
            return self.map_partitions(lambda chunk, o: op(o, chunk), other)
        return self.map_partitions(op, other)

    return method


class _Rows(aggs.Aggregation):
    """The held rows themselves (``Window.full``)."""

    invertible = False

    def __init__(self, name: str = "full") -> None:
        self._name = name

    def initial(self, new: Any) -> Any:
        return new.iloc[:0]

    def on_new(self, state: Any, new: Any) -> tuple[Any, Any]:
        return new, new


class _Held:
    """The rows a window holds: pieces of chunks, oldest first, their row count, and for
    each piece the aggregation's summary of it (``None`` when not known)."""

    __slots__ = ("pieces", "rows", "summaries")

    def __init__(self) -> None:
        self.pieces: deque[Any] = deque()
        self.summaries: deque[Any] = deque()
        self.rows = 0

    def add(self, piece: Any, summary: Any = None) -> None:
        size = len(piece)
        if size:
            self.pieces.append(piece)
            self.summaries.append(summary)
            self.rows += size

    def drop_first(self, extra: int) -> list[tuple[Any, Any]]:
        """Take the oldest ``extra`` rows out; return them as ``(piece, summary)``."""
        old: list[tuple[Any, Any]] = []
        pieces, summaries = self.pieces, self.summaries
        self.rows -= extra
        while extra > 0:
            head = pieces[0]
            size = len(head)
            if size <= extra:
                old.append((pieces.popleft(), summaries.popleft()))
                extra -= size
            else:
                old.append((head.iloc[:extra], None))
                pieces[0] = head.iloc[extra:]
                summaries[0] = None
                extra = 0
        return old

    def drop_until(self, cut: Any) -> list[tuple[Any, Any]]:
        """Take the rows with an index at or before ``cut`` out; return them as
        ``(piece, summary)``."""
        old: list[tuple[Any, Any]] = []
        pieces, summaries = self.pieces, self.summaries
        while pieces:
            head = pieces[0]
            keep = head.index > cut
            if keep.all():
                break
            if not keep.any():
                old.append((pieces.popleft(), summaries.popleft()))
                self.rows -= len(head)
                continue
            gone = head[~keep]
            old.append((gone, None))
            self.rows -= len(gone)
            pieces[0] = head[keep]
            summaries[0] = None
            break
        return old

    def rows_frame(self, example: Any) -> Any:
        if not self.pieces:
            return example.iloc[:0]
        if len(self.pieces) == 1:
            return self.pieces[0]
        return pd.concat(list(self.pieces))


class _WindowStep:
    """``accumulate`` step of a window: ``(held rows, agg state)`` per chunk."""

    def __init__(self, agg: aggs.Aggregation, n: int | None, value: Any, with_state: bool) -> None:
        self.__name__ = f"window.{aggs._label_of(agg)}"  # the node's label: accumulate<window.sum>
        self.agg = agg
        self.n = n
        self.value = value
        self.with_state = with_state
        self.additive = agg if isinstance(agg, aggs.Additive) else None

    def begin(self, example: Any, held: Any) -> Any:
        rows = _Held()
        state = self.agg.initial(example)
        if len(held):
            rows.add(held)
            if self.agg.invertible:
                state, _ = self.agg.on_new(state, held)
        return (rows, state)

    def example(self, example: Any) -> Any:
        result = self.agg.on_new(self.agg.initial(example), example.iloc[:0])[1]
        return (example.iloc[:0], result) if self.with_state else result

    def _expired(self, held: _Held) -> list[tuple[Any, Any]]:
        if self.n is not None:
            extra = held.rows - self.n
            return held.drop_first(extra) if extra > 0 else []
        if not held.pieces:
            return []
        return held.drop_until(held.pieces[-1].index[-1] - self.value)

    def __call__(self, acc: tuple[_Held, Any], chunk: Any) -> tuple[Any, Any]:
        held, state = acc
        agg, additive = self.agg, self.additive
        if additive is not None:  # rows leave with the summary they came in with
            summary = additive.summarize(chunk)
            held.add(chunk, summary)
            state, result = additive.fold(state, summary, 1)
            for piece, summary in self._expired(held):
                if summary is None:
                    summary = additive.summarize(piece)
                state, result = additive.fold(state, summary, -1)
        elif agg.invertible:
            held.add(chunk)
            old = self._expired(held)
            state, result = agg.on_new(state, chunk)
            for piece, _ in old:
                state, result = agg.on_old(state, piece)
        else:
            held.add(chunk)
            self._expired(held)
            state, result = agg.on_new(agg.initial(chunk), held.rows_frame(chunk))
        acc = (held, state)
        if self.with_state:
            return acc, (held.rows_frame(chunk), result)
        return acc, result


class Rolling:
    """What ``sdf.rolling(window)`` returns: pandas ``rolling`` across chunks. Its
    methods are pandas' (``.mean()``, ``.apply(f)``...), each taking a keyword
    ``stream_name=`` too: it names the node holding the rows the next window can still
    reach (needed to checkpoint it, see :mod:`streams.state`)."""

    def __init__(
        self, frame: Any, window: Any, min_periods: int | None, with_state: bool, start: Any
    ) -> None:
        if isinstance(window, str):
            window = pd.Timedelta(window)
        if isinstance(window, int) and window < 1:
            raise ValueError(f"rolling: window must be at least 1, not {window}")
        self.frame = frame
        self.window = window
        self.min_periods = min_periods
        self.with_state = with_state
        self.start = start

    def __getitem__(self, key: Any) -> Rolling:
        return Rolling(self.frame[key], self.window, self.min_periods, self.with_state, self.start)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in (
            "frame",
            "window",
            "min_periods",
            "with_state",
            "start",
        ):
            raise AttributeError(name)
        columns = getattr(self.frame.example, "columns", ())
        if name in columns:
            return self[name]
        # pandas' rolling method ``name``; stream_name= names the node holding the rows
        return lambda *args, stream_name=None, **kwargs: self._aggregate(
            name, args, kwargs, stream_name
        )

    def _aggregate(
        self, how: str, args: tuple[Any, ...], kwargs: dict[str, Any], stream_name: str | None
    ) -> Streaming:
        step = _RollingStep(self.window, self.min_periods, how, args, kwargs, self.with_state)
        start = self.start
        empty = start is None or (isinstance(start, tuple) and not start)
        tail = self.frame.example.iloc[:0] if empty else start
        example = step.compute(self.frame.example.iloc[:0], 0)
        if self.with_state:
            example = (tail, example)
        stream = self.frame.stream.accumulate(
            step, start=tail, returns_state=True, stream_name=stream_name
        )
        return wrap(stream, example)


for _name, _op in [
    ("add", "add"),
    ("sub", "sub"),
    ("mul", "mul"),
    ("truediv", "truediv"),
    ("floordiv", "floordiv"),
    ("mod", "mod"),
    ("pow", "pow"),
]:
    _fn = getattr(operator, _op)
    setattr(Window, f"__{_name}__", _window_op(_fn))
    setattr(Window, f"__r{_name}__", _window_op(_fn, reflected=True))
for _name in ("lt", "le", "gt", "ge", "eq", "ne", "and_", "or_"):
    setattr(Window, f"__{_name.rstrip('_')}__", _window_op(getattr(operator, _name)))


class _RollingStep:
    def __init__(
        self,
        window: Any,
        min_periods: int | None,
        how: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        with_state: bool,
    ) -> None:
        self.__name__ = f"rolling.{how}"  # the node's label: accumulate<rolling.mean>
        self.window = window
        self.min_periods = min_periods
        self.how = how
        self.args = args
        self.kwargs = kwargs
        self.with_state = with_state

    def compute(self, rows: Any, skip: int) -> Any:
        rolling = rows.rolling(self.window, min_periods=self.min_periods)
        out = getattr(rolling, self.how)(*self.args, **self.kwargs)
        return out.iloc[skip:]

    def __call__(self, tail: Any, chunk: Any) -> tuple[Any, Any]:
        rows = pd.concat([tail, chunk]) if len(tail) else chunk
        out = self.compute(rows, len(tail))
        if isinstance(self.window, int):
            # the rows of the last full window: what streamz hands back as the state
            tail = rows.iloc[max(len(rows) - self.window, 0) :]
        elif len(rows):
            tail = rows[rows.index > rows.index[-1] - self.window]
        if self.with_state:
            return tail, (tail, out)
        return tail, out


class Expanding(Window):
    """What ``sdf.expanding()`` returns: aggregates of all rows so far, one per chunk."""

    def __init__(self, frame: Any, min_periods: int = 1) -> None:
        self.frame = frame
        self.n = None
        self.value = None
        self.with_state = False
        self.start = None
        self.min_periods = min_periods

    def _derive(self, frame: Any) -> Window:
        return Expanding(frame, self.min_periods)

    def aggregate(
        self, aggregation: aggs.Aggregation, start: Any = None, *, stream_name: str | None = None
    ) -> Streaming:
        expanding = _Expanding(aggregation, self.min_periods)
        return self.frame.aggregate(expanding, start, stream_name=stream_name)  # type: ignore[no-any-return]


class _Expanding(aggs.Aggregation):
    """pandas ``expanding()``: float results, missing until ``min_periods`` values."""

    def __init__(self, inner: aggs.Aggregation, min_periods: int) -> None:
        self.inner = inner
        self.min_periods = min_periods
        self._name = f"expanding.{aggs._label_of(inner)}"

    def initial(self, new: Any) -> Any:
        return (self.inner.initial(new), new.iloc[:0].count())

    def on_new(self, state: Any, new: Any) -> tuple[Any, Any]:
        inner, count = state
        inner, result = self.inner.on_new(inner, new)
        count = count + new.count()
        if isinstance(result, pd.Series | pd.DataFrame):
            result = result.astype(float).where(count >= self.min_periods)
        elif isinstance(result, int | float | np.number):
            result = float(result) if count >= self.min_periods else np.nan
        return (inner, count), result


class EWM:
    """What ``sdf.ewm(...)`` returns; ``.mean()`` gives pandas' ``ewm(...).mean()``
    (``adjust=True``) row by row, carrying the weighted sums across chunks."""

    def __init__(
        self,
        frame: Any,
        com: float | None = None,
        span: float | None = None,
        halflife: float | None = None,
        alpha: float | None = None,
        **kwargs: Any,
    ) -> None:
        given = {
            k: v
            for k, v in {"com": com, "span": span, "halflife": halflife, "alpha": alpha}.items()
            if v is not None
        }
        if len(given) > 1:
            raise ValueError("ewm: Can only provide one of com, span, halflife or alpha")
        if not given:
            raise ValueError("ewm: Must pass one of com, span, halflife, or alpha")
        if kwargs.get("adjust", True) is not True or kwargs.get("ignore_na", False):
            raise NotImplementedError("ewm: only adjust=True, ignore_na=False")
        ((name, v),) = given.items()
        if name == "com":
            if v < 0:
                raise ValueError("ewm: com must satisfy com >= 0")
            self.alpha = 1.0 / (1.0 + v)
        elif name == "span":
            if v < 1:
                raise ValueError("ewm: span must satisfy span >= 1")
            self.alpha = 2.0 / (v + 1.0)
        elif name == "halflife":
            if v <= 0:
                raise ValueError("ewm: halflife must satisfy halflife > 0")
            self.alpha = 1.0 - np.exp(np.log(0.5) / v)
        else:
            if not 0 < v <= 1:
                raise ValueError("ewm: alpha must satisfy 0 < alpha <= 1")
            self.alpha = float(v)
        self.frame = frame
        self.min_periods = kwargs.get("min_periods", 0)

    @keeps_state
    def mean(self, *, stream_name: str | None = None) -> Streaming:
        """pandas ``ewm(...).mean()`` of every new row."""
        step = _EWMStep(self.alpha)
        example = self.frame.example.iloc[:0].astype(float)
        stream = self.frame.stream.accumulate(
            step, start=None, returns_state=True, stream_name=stream_name
        )
        return wrap(stream, example)

    def _not_yet(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ewm: only mean() is implemented")

    sum = count = apply = full = var = std = _not_yet


class _EWMStep:
    """Carry (weighted sum, total weight) per column: with ``q = 1 - alpha``, row ``j``
    of a chunk is ``(n_j + q**(j+1) * N) / (d_j + q**(j+1) * D)``, where ``n_j / d_j`` is
    pandas' ewm mean of the chunk alone (missing values are weighted as pandas does)."""

    def __init__(self, alpha: float) -> None:
        self.__name__ = "ewm.mean"  # the node's label: accumulate<ewm.mean>
        self.alpha = alpha

    def __call__(self, carry: Any, chunk: Any) -> tuple[Any, Any]:
        values = chunk.astype(float)
        if not len(values):
            return carry, values
        q = 1.0 - self.alpha
        powers = q ** np.arange(1, len(values) + 1)
        span = (1 - powers) / self.alpha  # sum of q**i for i < j + 1
        frame = values.ndim == 2
        if frame:
            powers, span = powers[:, None], span[:, None]
        # the ewm mean of the presence indicator is d_j / span_j
        present = values.notna().astype(float)
        d = present.ewm(alpha=self.alpha, adjust=True).mean().to_numpy() * span
        n = np.nan_to_num(values.ewm(alpha=self.alpha, adjust=True).mean().to_numpy()) * d
        previous = None
        if carry is not None:
            total, weight, previous = carry
            n = n + powers * total
            d = d + powers * weight
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(d > 0, n / np.where(d > 0, d, 1.0), np.nan)
        result = (
            pd.DataFrame(out, index=values.index, columns=values.columns)
            if frame
            else pd.Series(out, index=values.index, name=values.name)
        )
        # a missing value changes no mean: pandas repeats the last one (with alpha=1
        # the earlier rows weigh nothing, so the ratio above is 0/0 there)
        gap = values.isna() & result.isna()
        if gap.to_numpy().any():
            filled = result.ffill()
            if previous is not None:
                filled = filled.fillna(previous if frame else float(previous))
            result = result.where(~gap, filled)
        last = result.ffill().iloc[-1]
        if previous is not None:
            last = last.fillna(previous) if frame else (previous if pd.isna(last) else last)
        return (n[-1], d[-1], last), result
