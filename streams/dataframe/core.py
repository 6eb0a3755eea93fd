"""Streaming DataFrame, Series and Index: a stream of pandas chunks used with pandas syntax.

Elementwise operations (column selection, arithmetic, filtering, ``assign`` ...) apply
chunk by chunk. Reductions, cumulative operations, ``groupby`` aggregations and windows
keep a small state updated per chunk and emit, after every chunk, what pandas would give
on all the rows seen so far (or on the rows in the window).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import pandas as pd

from ..collection import Streaming, elementwise, map_partitions, register_wrapper
from ..core import Stream
from . import aggregations as aggs
from .aggregations import keeps_state

__all__ = [
    "DataFrame",
    "DataFrames",
    "Frame",
    "Index",
    "SchemaError",
    "Series",
    "Seriess",
]

_NO_START = object()


class SchemaError(ValueError, IndexError):
    """A chunk whose columns differ from the example's (an ``IndexError`` too, as in
    streamz)."""


class Frame(aggs.Reductions, Streaming):
    """What DataFrame, Series and Index streams share (see :class:`DataFrame`)."""

    _subtype: type = object

    def __init__(
        self,
        stream: Stream[Any] | None = None,
        example: Any = None,
        stream_type: str | None = None,
    ) -> None:
        name = type(self).__name__
        if example is None:
            raise TypeError(f"{name}: an example is needed (an empty {self._subtype.__name__})")
        if not isinstance(example, self._subtype):
            raise TypeError(
                f"{name}: the example must be a pandas {self._subtype.__name__}, "
                f"got {example!r} ({type(example).__name__})"
            )
        super().__init__(stream, example, stream_type)
        self._schema = _Schema(example)

    # ------------------------------------------------------------------ input

    def verify(self, x: Any) -> None:
        """Check that ``x`` has the example's type, columns and dtypes.

        Raises ``TypeError`` for another type or a column of another dtype, and
        :class:`SchemaError` (an ``IndexError``) for other columns, naming the column.
        """
        if not isinstance(x, self._subtype):
            raise TypeError(
                f"{type(self).__name__}.emit: expected a pandas {self._subtype.__name__}, "
                f"got {type(x).__name__}"
            )
        if not self._schema.matches(x):
            _explain_mismatch(type(self).__name__, self.example, x)

    def emit(self, x: Any) -> Any:
        """Push a chunk after checking it against the example (see :meth:`verify`).

        A chunk that does not match is refused before it reaches any node, so no state
        changes; ``emit`` returns what the stream's ``emit`` returns (an awaitable when
        the graph is asynchronous).
        """
        self.verify(x)
        stream = self._stream  # the property costs a call per chunk
        return (self.stream if stream is None else stream).emit(x)

    # ------------------------------------------------------------------ pandas-like

    @property
    def dtypes(self) -> Any:
        return self.example.dtypes

    @property
    def dtype(self) -> Any:
        return self.example.dtype

    @property
    def columns(self) -> Any:
        return self.example.columns

    @property
    def index(self) -> Index:
        """The index of every chunk, as a streaming :class:`Index`."""
        return self.map_partitions(_index_of)  # type: ignore[return-value]

    @property
    def plot(self) -> Any:
        """Live plots: ``sdf.plot.line(y=..., backlog=1000)`` and the other kinds of
        :class:`~streams.dataframe.plotting.Plotter` (the ``streams[plot]`` extra)."""
        from .plotting import Plotter

        return Plotter(self)

    @property
    def hvplot(self) -> Any:
        """``sdf.hvplot.line(...)``, as hvplot users write it: the same as :attr:`plot`."""
        return self.plot

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("example", "stream"):
            raise AttributeError(name)
        example = self.__dict__.get("example")
        if isinstance(example, pd.DataFrame) and name in example.columns:
            return self[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or column {name!r}")

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        if isinstance(self.example, pd.DataFrame):
            names.update(c for c in self.example.columns if isinstance(c, str))
        return sorted(names)

    def __getitem__(self, key: Any) -> Frame:
        if isinstance(key, Series) and isinstance(self, DataFrame):
            return _Masked(self, key)
        if _is_column(key, self.example):
            return elementwise(_column, self, key)  # type: ignore[return-value]
        return elementwise(operator.getitem, self, key)  # type: ignore[return-value]

    def astype(self, dtype: Any) -> Frame:
        return self.map_partitions(_method, "astype", dtype)  # type: ignore[return-value]

    def round(self, decimals: int = 0) -> Frame:
        return self.map_partitions(_method, "round", decimals)  # type: ignore[return-value]

    def rename(self, *args: Any, **kwargs: Any) -> Frame:
        return self.map_partitions(lambda df: df.rename(*args, **kwargs))  # type: ignore[return-value]

    def reset_index(self, *args: Any, **kwargs: Any) -> Frame:
        return self.map_partitions(lambda df: df.reset_index(*args, **kwargs))  # type: ignore[return-value]

    def map(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Frame:
        """Apply ``func`` to every chunk (an alias of :meth:`map_partitions`)."""
        return self.map_partitions(func, *args, **kwargs)  # type: ignore[return-value]

    def to_frame(self) -> DataFrame:
        """A streaming DataFrame of this stream (a DataFrame returns itself)."""
        if isinstance(self, DataFrame):
            return self
        return self.map_partitions(_method, "to_frame")  # type: ignore[return-value]

    # ------------------------------------------------------------------ running results

    def aggregate(
        self, aggregation: aggs.Aggregation, start: Any = None, *, stream_name: str | None = None
    ) -> Streaming:
        """Fold ``aggregation`` (an :class:`~streams.dataframe.aggregations.Aggregation`)
        over all chunks so far; one result per chunk.

        Parameters
        ----------
        stream_name : str, optional
            Names the node holding the aggregation's state (needed to checkpoint it,
            see :mod:`streams.state`; an updating frame's aggregation holds none).
        """
        if self._stream_type == "updating":
            # each element replaces the last: aggregate the latest one on its own
            return self.map_partitions(_whole, aggregation, stream_type="updating")
        state = aggregation.initial(self.example) if start is None else start
        # (state, chunk) -> (state, result), named after the aggregation (accumulate<sum>)
        step = aggs._Named(aggregation.on_new, aggs._label_of(aggregation))
        return self.accumulate_partitions(
            step, start=state, returns_state=True, stream_type="updating", stream_name=stream_name
        )

    @keeps_state
    def cumsum(self, *, stream_name: str | None = None) -> Frame:
        """``cumsum`` over all rows so far, emitted chunk by chunk."""
        return self._cumulative("cumsum", operator.add, stream_name)

    @keeps_state
    def cumprod(self, *, stream_name: str | None = None) -> Frame:
        """``cumprod`` over all rows so far, emitted chunk by chunk."""
        return self._cumulative("cumprod", operator.mul, stream_name)

    @keeps_state
    def cummin(self, *, stream_name: str | None = None) -> Frame:
        """``cummin`` over all rows so far, emitted chunk by chunk."""
        return self._cumulative("cummin", _pairwise("min"), stream_name)

    @keeps_state
    def cummax(self, *, stream_name: str | None = None) -> Frame:
        """``cummax`` over all rows so far, emitted chunk by chunk."""
        return self._cumulative("cummax", _pairwise("max"), stream_name)

    def _cumulative(
        self, how: str, combine: Callable[[Any, Any], Any], stream_name: str | None
    ) -> Frame:
        step = _Cumulative(how, combine)
        result = self.accumulate_partitions(
            step, start=None, returns_state=True, stream_name=stream_name
        )
        return result  # type: ignore[return-value]

    @keeps_state
    def tail(self, n: int = 5, *, stream_name: str | None = None) -> Frame:
        """The last ``n`` rows seen so far, after every chunk."""
        return self._held_rows(_tail, n, stream_name)

    @keeps_state
    def head(self, n: int = 5, *, stream_name: str | None = None) -> Frame:
        """The first ``n`` rows seen so far, after every chunk."""
        return self._held_rows(_head, n, stream_name)

    def _held_rows(self, step: Callable[..., Any], n: int, stream_name: str | None) -> Frame:
        return self.accumulate_partitions(  # type: ignore[return-value]
            step,
            n=n,
            start=self.example.iloc[:0],
            returns_state=True,
            stream_type="updating",
            stream_name=stream_name,
        )

    def groupby(self, by: Any) -> Any:
        """Group by column name(s) or by a streaming Series; aggregate with
        ``.sum() .mean() .count() .size() .var() .std() .min() .max() .agg()``."""
        from .groupby import GroupBy

        return GroupBy(self, by)

    def window(
        self,
        n: Any = None,
        value: Any = None,
        with_state: bool = False,
        start: Any = None,
        **event_time: Any,
    ) -> Any:
        """The last ``n`` rows, or the rows within ``value`` of the newest index (a time
        span such as ``'2h'`` on a DatetimeIndex, or a number); aggregate it like a
        frame (``.sum()``, ``.mean()``, ``.groupby(...)``, ``.aggregate(...)``).

        With a window kind of :mod:`streams.windows` first (``Tumbling(60)``...), rows
        are windowed by event time instead, with the options of
        :meth:`Stream.window <streams.Stream.window>` (``clock=EventClock(timestamp=
        "column")``, ``key="column"``...): see
        :class:`~streams.dataframe.event_time.FrameWindowBuilder`."""
        from ..windows.kinds import Hopping, Session, Sliding, Tumbling

        if isinstance(n, Tumbling | Hopping | Session | Sliding):
            from .event_time import FrameWindowBuilder

            return FrameWindowBuilder(self, n, **event_time)
        if event_time:
            raise TypeError(
                f"window: unexpected {sorted(event_time)} (event-time options need a "
                "window kind such as Tumbling(60) first)"
            )
        from .windowing import Window

        return Window(self, n=n, value=value, with_state=with_state, start=start)

    def rolling(
        self,
        window: Any,
        min_periods: int | None = None,
        with_state: bool = False,
        start: Any = (),
    ) -> Any:
        """pandas ``rolling(window)`` over the stream: for every new row, the aggregate
        of the window ending there (a row count, or a time span such as ``'2s'``)."""
        from .windowing import Rolling

        return Rolling(self, window, min_periods, with_state, start)

    def expanding(self, min_periods: int = 1) -> Any:
        """pandas ``expanding()``: the aggregate of all rows so far, for every row."""
        from .windowing import Expanding

        return Expanding(self, min_periods)

    def ewm(
        self,
        com: float | None = None,
        span: float | None = None,
        halflife: float | None = None,
        alpha: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """pandas ``ewm(...)``; ``.mean()`` is supported, exact row by row."""
        from .windowing import EWM

        return EWM(self, com=com, span=span, halflife=halflife, alpha=alpha, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__} - elements like:\n{self.example!r}"


def _whole(x: Any, aggregation: aggs.Aggregation) -> Any:
    return aggregation.on_new(aggregation.initial(x), x)[1]


class _Cumulative:
    """Step of a cumulative operation: pandas on the chunk, then the carry (the last
    cumulative value of each column so far) combined in."""

    __slots__ = ("__name__", "combine", "how")

    def __init__(self, how: str, combine: Callable[[Any, Any], Any]) -> None:
        self.how = self.__name__ = how  # the node's label: accumulate<cumsum>
        self.combine = combine

    def __call__(self, carry: Any, chunk: Any) -> tuple[Any, Any]:
        out = getattr(chunk, self.how)()
        if not len(chunk):
            return carry, out  # adding the carry to no rows would only upcast
        if isinstance(out, pd.DataFrame):
            # column by column, so each keeps its dtype (a row of a mixed frame is float)
            carries = carry or {}
            columns = {}
            for i in range(out.shape[1]):
                previous = carries.get(i)
                columns[i], carries[i] = self._series(out.iloc[:, i], previous)
            combined = pd.concat(columns, axis=1)
            combined.columns = out.columns
            return carries, combined
        return tuple(reversed(self._series(out, carry)))

    def _series(self, out: Any, carry: Any) -> tuple[Any, Any]:
        """``(combined, new carry)`` for one column."""
        if carry is not None and not pd.isna(carry):  # only missing values so far: none
            out = self.combine(out, carry)
        last = out.ffill().iloc[-1]  # a missing value does not reset the carry
        if carry is not None and pd.isna(last):
            last = carry
        return out, last


def _pairwise(how: str) -> Callable[[Any, Any], Any]:
    """Bound a chunk's cummin/cummax by the carry (a missing carry bounds nothing)."""
    keyword = "upper" if how == "min" else "lower"

    def combine(out: Any, carry: Any) -> Any:
        return out if pd.isna(carry) else out.clip(**{keyword: carry})

    return combine


class _Top:
    """Keep the ``n`` largest (or smallest) rows seen: the kept rows and the chunk."""

    def __init__(self, how: str, n: int) -> None:
        self.how = self.__name__ = how  # the node's label: accumulate<nlargest>
        self.n = n

    def __call__(self, kept: Any, chunk: Any) -> tuple[Any, Any]:
        rows = pd.concat([kept, chunk]) if len(kept) else chunk
        top = getattr(rows, self.how)(self.n)
        return top, top


def _tail(held: Any, chunk: Any, n: int) -> tuple[Any, Any]:
    if len(chunk) >= n:
        out = chunk.iloc[len(chunk) - n :] if n else chunk.iloc[:0]
    else:
        out = pd.concat([held, chunk]).iloc[-n:] if n else chunk.iloc[:0]
    return out, out


def _head(held: Any, chunk: Any, n: int) -> tuple[Any, Any]:
    if len(held) < n and len(chunk):
        held = pd.concat([held, chunk.iloc[: n - len(held)]]) if len(held) else chunk.iloc[:n]
    return held, held


_tail.__name__, _head.__name__ = "tail", "head"  # the nodes' labels: accumulate<tail>


def _is_column(key: Any, example: Any) -> bool:
    """Whether ``example[key]`` is one column of a frame."""
    if not isinstance(example, pd.DataFrame) or isinstance(key, Streaming | list | slice):
        return False
    try:
        return type(example.columns.get_loc(key)) is int
    except (KeyError, TypeError, pd.errors.InvalidIndexError):
        return False


def _column(df: Any, key: Any) -> Any:
    """``df[key]`` for one column label, by the shortest path pandas has (``__getitem__``
    dispatches on the key's kind first, ~1 us a chunk); any other case as ``df[key]``."""
    loc = df.columns.get_loc(key)
    if type(loc) is int:
        try:
            return df._ixs(loc, axis=1)
        except AttributeError:  # a pandas without it
            pass
    return df[key]


_column.__name__ = "getitem"  # the node's label, as for any other selection


def _index_of(x: Any) -> Any:
    return x.index


def _method(x: Any, name: str, *args: Any) -> Any:
    return getattr(x, name)(*args)


def _block_dtypes(x: Any) -> list[Any]:
    try:
        # DataFrame.dtypes builds a Series (~9 us); the manager's array costs ~0.3 us
        return x._mgr.get_dtypes().tolist()  # type: ignore[no-any-return]
    except AttributeError:  # another pandas layout: the public way
        return list(x.dtypes)


class _Schema:
    """What a chunk must share with the example, kept in the form cheapest to compare:
    ``emit`` checks every chunk, so this is on the hot path (about 0.6 us a chunk)."""

    __slots__ = ("columns", "dtypes", "labels", "name")

    def __init__(self, example: Any) -> None:
        self.columns = example.columns if isinstance(example, pd.DataFrame) else None
        if self.columns is not None:
            self.labels = _labels(self.columns)
            self.dtypes: Any = _block_dtypes(example)
        else:
            self.labels = None
            self.dtypes = example.dtype
        self.name = getattr(example, "name", None)

    def matches(self, x: Any) -> bool:
        """Whether ``x`` has the example's columns (in order) and dtypes (a frame), or
        its dtype and name (a series), or its dtype (an index)."""
        expected = self.columns
        if expected is None:
            if isinstance(x, pd.Series):
                return bool(x.dtype == self.dtypes and x.name == self.name)
            return bool(x.dtype == self.dtypes)
        columns = x.columns
        if columns is not expected:
            labels = _labels(columns)
            if labels is None or labels != self.labels:
                return False
        return bool(_block_dtypes(x) == self.dtypes)


def _labels(columns: Any) -> list[Any] | None:
    """The column labels as a list, from the array the index's lookup engine keeps.

    Selecting a column builds that engine anyway (and pandas caches it on the index), so
    reading the labels from it costs ~0.2 us where ``Index.equals`` costs ~2 us and
    comparing pyarrow-backed labels ~0.5 us. ``None`` if this pandas has no such array:
    the check then falls back to the thorough comparison, which is always right.
    """
    try:
        return columns._engine.values.tolist()  # type: ignore[no-any-return]
    except AttributeError:
        return None


def _explain_mismatch(name: str, example: Any, x: Any) -> None:
    if isinstance(example, pd.DataFrame):
        missing = [c for c in example.columns if c not in x.columns]
        extra = [c for c in x.columns if c not in example.columns]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing column(s) {missing}")
            if extra:
                parts.append(f"unexpected column(s) {extra}")
            raise SchemaError(f"{name}.emit: the chunk has {' and '.join(parts)}")
        if list(x.columns) != list(example.columns):
            raise SchemaError(
                f"{name}.emit: columns in another order: {list(x.columns)}, "
                f"expected {list(example.columns)}"
            )
        for column in example.columns:
            expected = example[column].dtype
            if expected.kind != "O" and x[column].dtype != expected:  # object: any dtype
                raise TypeError(
                    f"{name}.emit: column {column!r} has dtype {x[column].dtype}, "
                    f"expected {expected}"
                )
        return
    if isinstance(example, pd.Series) and x.name != example.name:
        raise SchemaError(f"{name}.emit: series named {x.name!r}, expected {example.name!r}")
    raise TypeError(f"{name}.emit: dtype {x.dtype}, expected {example.dtype}")


class DataFrame(Frame):
    """A stream of pandas DataFrame chunks, used like one DataFrame.

    Parameters
    ----------
    stream : Stream, optional
        The stream of chunks (a new source by default). A dict of streaming Series
        instead builds a frame of those columns.
    example : pandas.DataFrame
        A chunk like those that will arrive (usually empty): its columns and dtypes.
    stream_type : {'streaming', 'updating'}, optional

    Examples
    --------
    >>> import pandas as pd
    >>> from streams.dataframe import DataFrame
    >>> sdf = DataFrame(example=pd.DataFrame({"x": [0.0], "y": [0.0]}))
    >>> totals = sdf[sdf.x > 1].y.sum().stream.sink_to_list()
    >>> sdf.emit(pd.DataFrame({"x": [1.0, 2.0], "y": [10.0, 20.0]}))
    >>> sdf.emit(pd.DataFrame({"x": [3.0], "y": [30.0]}))
    >>> [float(t) for t in totals]
    [20.0, 50.0]
    """

    _subtype = pd.DataFrame

    def __init__(
        self,
        stream: Any = None,
        example: Any = None,
        stream_type: str | None = None,
    ) -> None:
        if isinstance(stream, dict):
            built = _from_columns(stream)
            stream, example = built.stream, built.example
            stream_type = stream_type or built._stream_type
        super().__init__(stream, example, stream_type)

    def assign(self, **kwargs: Any) -> DataFrame:
        """New columns from constants, functions or streaming Series (as pandas)."""
        names = list(kwargs)
        values = [kwargs[k] for k in names]

        def assign(df: Any, *vals: Any) -> Any:
            return df.assign(**dict(zip(names, vals, strict=True)))

        return self.map_partitions(assign, *values)  # type: ignore[return-value]

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, list):
            result = self.map_partitions(_set_many, key, value)
        else:
            result = self.assign(**{key: value})
        self.stream = result.stream
        self.example = result.example
        self._schema = _Schema(self.example)

    def set_index(self, keys: Any, **kwargs: Any) -> DataFrame:
        """``set_index`` chunk by chunk; ``keys`` may be a streaming Series."""
        return self.map_partitions(lambda df, k: df.set_index(k, **kwargs), keys)  # type: ignore[return-value]

    def query(self, expr: str, **kwargs: Any) -> DataFrame:
        """Rows matching ``expr`` (``DataFrame.query``), chunk by chunk."""
        return self.map_partitions(lambda df: df.query(expr, **kwargs))  # type: ignore[return-value]


class _Masked(DataFrame):
    """``sdf[mask]``, built lazily: selecting columns before its stream is used filters
    only those columns (``sdf[sdf.x > 0].y`` runs as ``sdf.y[sdf.x > 0]``, which is what
    pandas users write by hand for speed); its own node is made on first use."""

    _stream = None  # always the property's (see emit)

    def __init__(self, parent: DataFrame, mask: Series) -> None:
        self._parent = parent
        self._mask = mask
        self._whole: Frame | None = None
        self.example = parent.example[mask.example]
        self._schema = _Schema(self.example)

    def _rows(self) -> Frame:
        """The whole filtered frame, made on first use."""
        if self._whole is None:
            self._whole = elementwise(operator.getitem, self._parent, self._mask)  # type: ignore[assignment]
        assert self._whole is not None
        return self._whole

    @property
    def stream(self) -> Stream[Any]:
        return self._rows().stream

    @stream.setter
    def stream(self, value: Stream[Any]) -> None:
        self._rows().stream = value

    def _recipe(self) -> tuple[Stream[Any], Callable[[Any], Any] | None]:
        return self._rows()._recipe()

    def __getitem__(self, key: Any) -> Frame:
        if self._whole is None and not isinstance(key, Streaming | slice):
            return self._parent[key][self._mask]
        return super().__getitem__(key)


def _set_many(df: Any, keys: list[Any], value: Any) -> Any:
    df = df.copy()
    df[keys] = value
    return df


def _from_columns(columns: dict[Any, Any]) -> Streaming:
    names = list(columns)

    def build(*parts: Any) -> Any:
        return pd.DataFrame(dict(zip(names, parts, strict=True)), columns=names)

    return map_partitions(build, *[columns[k] for k in names])


class Series(Frame):
    """A stream of pandas Series chunks, used like one Series.

    Examples
    --------
    >>> import pandas as pd
    >>> from streams.dataframe import Series
    >>> s = Series(example=pd.Series([], dtype="float64", name="price"))
    >>> means = s.mean().stream.sink_to_list()
    >>> s.emit(pd.Series([1.0, 2.0], name="price"))
    >>> s.emit(pd.Series([6.0], name="price"))
    >>> [float(m) for m in means]
    [1.5, 3.0]
    """

    _subtype = pd.Series

    @keeps_state
    def value_counts(self, *, stream_name: str | None = None) -> Streaming:
        """Running ``value_counts()`` of all values so far (most frequent first; ties
        in index order).
        """
        return self.aggregate(aggs.ValueCounts(), stream_name=stream_name)

    @keeps_state
    def nlargest(self, n: int = 5, *, stream_name: str | None = None) -> Frame:
        """The ``n`` largest values of all rows so far (of the latest value, for an
        updating series), after every chunk.
        """
        return self._top("nlargest", n, stream_name)

    @keeps_state
    def nsmallest(self, n: int = 5, *, stream_name: str | None = None) -> Frame:
        """The ``n`` smallest values of all rows so far, after every chunk."""
        return self._top("nsmallest", n, stream_name)

    def _top(self, how: str, n: int, stream_name: str | None) -> Frame:
        if self._stream_type == "updating":
            return self.map_partitions(_method, how, n, stream_type="updating")  # type: ignore[return-value]
        return self.accumulate_partitions(  # type: ignore[return-value]
            _Top(how, n),
            start=self.example.iloc[:0],
            returns_state=True,
            stream_type="updating",
            stream_name=stream_name,
        )

    @property
    def name(self) -> Any:
        return self.example.name


class Index(Frame):
    """A stream of pandas Index chunks (``sdf.index``)."""

    _subtype = pd.Index


class DataFrames(DataFrame):
    """A stream of DataFrames each of which replaces the previous one (``updating``)."""

    _stream_type = "updating"


class Seriess(Series):
    """A stream of Series each of which replaces the previous one (``updating``)."""

    _stream_type = "updating"


def _is_frame(x: Any) -> bool:
    return isinstance(x, pd.DataFrame)


def _is_series(x: Any) -> bool:
    return isinstance(x, pd.Series)


def _is_index(x: Any) -> bool:
    return isinstance(x, pd.Index)


def _register() -> None:
    register_wrapper(_is_index, Index)
    register_wrapper(_is_series, Series)
    register_wrapper(_is_frame, DataFrame)


def __getattr__(name: str) -> Any:
    # streamz keeps its random data helper here; ours lives with the sources
    if name == "random_datapoint":
        from .sources import random_datapoint

        return random_datapoint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
