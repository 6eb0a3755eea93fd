"""``groupby`` on streaming frames: per-group running aggregations.

Each chunk is grouped by pandas; its per-group partial results are merged into the state
(sums and counts added, minima and maxima compared, variances merged with the parallel
Welford update), so the work per chunk is proportional to the chunk, not the history.
The result after every chunk equals pandas ``groupby`` on all rows so far, groups in
sorted order (pandas' default ``sort=True``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..collection import Streaming, elementwise, map_partitions
from .aggregations import _merge, _Named, keeps_state

__all__ = ["KEY", "GroupBy"]

KEY = "__streams_group_key__"  # the column carrying streaming keys through a window

_SIMPLE = ("sum", "count", "size", "min", "max", "mean", "var", "std")


class GroupBy:
    """What ``sdf.groupby(by)`` returns; select a column (``['y']`` or ``.y``) and
    aggregate.

    Examples
    --------
    >>> import pandas as pd
    >>> from streams.dataframe import DataFrame
    >>> sdf = DataFrame(example=pd.DataFrame({"k": ["a"], "v": [1.0]}).iloc[:0])
    >>> means = sdf.groupby("k").v.mean().stream.sink_to_list()
    >>> sdf.emit(pd.DataFrame({"k": ["a", "b"], "v": [1.0, 2.0]}))
    >>> sdf.emit(pd.DataFrame({"k": ["a"], "v": [3.0]}))
    >>> means[-1].to_dict()
    {'a': 2.0, 'b': 2.0}
    """

    def __init__(
        self,
        frame: Any,
        by: Any,
        selection: Any = None,
        windowed: Callable[[str | None], Streaming] | None = None,
        with_state: bool = False,
    ) -> None:
        self.frame = frame
        self.by = by
        self.selection = selection
        # a window's rows, aggregated anew per chunk: windowed(stream_name) gives the
        # node holding them (one per name, shared by the aggregations that give it)
        self.windowed = windowed
        self.with_state = with_state  # windowed: emit (rows, result)

    def __getitem__(self, key: Any) -> GroupBy:
        return GroupBy(self.frame, self.by, key, self.windowed, self.with_state)

    def __getattr__(self, name: str) -> GroupBy:
        if name.startswith("_") or name in ("frame", "by", "selection", "windowed"):
            raise AttributeError(name)
        columns = getattr(self.frame.example, "columns", ())
        if name in columns:
            return self[name]
        raise AttributeError(f"GroupBy has no attribute or column {name!r}")

    def _aggregate(
        self,
        how: str | list[str],
        start: Any = None,
        with_state: bool = False,
        stream_name: str | None = None,
        **options: Any,
    ) -> Streaming:
        if isinstance(how, str):
            grouper = _Grouper(how, self.selection, options)
        else:
            grouper = _Several(how, self.selection)
        if self.windowed is not None:
            direct = grouper.direct_with_rows if self.with_state else grouper.direct
            return map_partitions(direct, self.windowed(stream_name), self.by)
        # keys of the frame's own upstream are fused in, not zipped (a zip is a node
        # holding state too)
        grouped = elementwise(grouper.partial, self.frame, self.by)
        state = grouper.empty(self.frame.example, _example(self.by)) if start is None else start
        merge = grouper.merge_with_state if with_state else grouper.merge
        return grouped.accumulate_partitions(
            _Named(merge, f"groupby.{grouper.how}"),  # the node's label: accumulate<groupby.sum>
            start=state,
            returns_state=True,
            stream_type="updating",
            stream_name=stream_name,
        )

    @keeps_state
    def sum(
        self, start: Any = None, with_state: bool = False, *, stream_name: str | None = None
    ) -> Streaming:
        """Running per-group ``sum``; ``start`` continues from an earlier state,
        ``with_state`` emits ``(state, result)``.
        """
        return self._aggregate("sum", start, with_state, stream_name)

    @keeps_state
    def count(
        self, start: Any = None, with_state: bool = False, *, stream_name: str | None = None
    ) -> Streaming:
        """Running per-group ``count``; ``start`` continues from an earlier state,
        ``with_state`` emits ``(state, result)``.
        """
        return self._aggregate("count", start, with_state, stream_name)

    @keeps_state
    def size(self, *, stream_name: str | None = None) -> Streaming:
        """Running per-group ``size``."""
        return self._aggregate("size", stream_name=stream_name)

    @keeps_state
    def mean(
        self, start: Any = None, with_state: bool = False, *, stream_name: str | None = None
    ) -> Streaming:
        """Running per-group ``mean``; ``start`` continues from an earlier state,
        ``with_state`` emits ``(state, result)``.
        """
        return self._aggregate("mean", start, with_state, stream_name)

    @keeps_state
    def var(self, ddof: int = 1, *, stream_name: str | None = None) -> Streaming:
        """Running per-group ``var(ddof=)``."""
        return self._aggregate("var", stream_name=stream_name, ddof=ddof)

    @keeps_state
    def std(self, ddof: int = 1, *, stream_name: str | None = None) -> Streaming:
        """Running per-group ``std(ddof=)``."""
        return self._aggregate("std", stream_name=stream_name, ddof=ddof)

    @keeps_state
    def min(
        self, start: Any = None, with_state: bool = False, *, stream_name: str | None = None
    ) -> Streaming:
        """Running per-group ``min``; ``start`` continues from an earlier state,
        ``with_state`` emits ``(state, result)``.
        """
        return self._aggregate("min", start, with_state, stream_name)

    @keeps_state
    def max(
        self, start: Any = None, with_state: bool = False, *, stream_name: str | None = None
    ) -> Streaming:
        """Running per-group ``max``; ``start`` continues from an earlier state,
        ``with_state`` emits ``(state, result)``.
        """
        return self._aggregate("max", start, with_state, stream_name)

    def agg(self, how: Any, *, stream_name: str | None = None) -> Streaming:
        """One aggregation by name (``'mean'``) or several (``['sum', 'max']``, giving
        one column each, as pandas).

        Parameters
        ----------
        stream_name : str, optional
            Names the node holding the aggregation's state (needed to checkpoint it,
            see :mod:`streams.state`); several aggregations share one node.
        """
        if isinstance(how, str):
            if how not in _SIMPLE:
                raise ValueError(f"groupby.agg: unknown aggregation {how!r}; use {_SIMPLE}")
            return self._aggregate(how, stream_name=stream_name)
        names = list(how)
        for name in names:
            if name not in _SIMPLE:
                raise ValueError(f"groupby.agg: unknown aggregation {name!r}; use {_SIMPLE}")
        return self._aggregate(names, stream_name=stream_name)

    aggregate = agg


def _example(by: Any) -> Any:
    return getattr(by, "example", by)


class _Grouper:
    """The per-chunk partial and the merge of one grouped aggregation."""

    def __init__(self, how: str, selection: Any, options: dict[str, Any]) -> None:
        self.how = how
        self.selection = selection
        self.ddof = options.get("ddof", 1)

    def _grouped(self, chunk: Any, by: Any) -> Any:
        grouped = chunk.groupby(by)
        return grouped if self.selection is None else grouped[self.selection]

    def direct_with_rows(self, rows: Any, by: Any) -> tuple[Any, Any]:
        held = rows.drop(columns=KEY) if KEY in getattr(rows, "columns", ()) else rows
        return held, self.direct(rows, by)

    def direct(self, rows: Any, by: Any) -> Any:
        """pandas itself on ``rows``."""
        carried = isinstance(by, tuple) and bool(by) and by[0] is KEY
        if carried:  # keys carried through the window in a column
            by = rows[KEY].rename(by[1])
            rows = rows.drop(columns=KEY)
        g = self._grouped(rows, by)
        if self.how in ("var", "std"):
            out = getattr(g, self.how)(ddof=self.ddof)
        else:
            out = getattr(g, self.how)()
        return _with_freq(out) if carried else out

    def partial(self, chunk: Any, by: Any) -> Any:
        """Per-group summary of one chunk."""
        g = self._grouped(chunk, by)
        how = self.how
        if how in ("mean", "var", "std"):
            count = g.count()
            if how == "mean":
                return (g.sum(), count)
            # a group whose values are all missing adds nothing: mean and m2 of 0
            mean = g.mean().fillna(0.0)
            return (count, mean, (g.var(ddof=0) * count).fillna(0.0))
        return getattr(g, how)()

    def empty(self, example: Any, by: Any) -> Any:
        return self.partial(example.iloc[:0], by.iloc[:0] if hasattr(by, "iloc") else by)

    def merge_with_state(self, state: Any, part: Any) -> tuple[Any, Any]:
        state, result = self.merge(state, part)
        return state, (state, result)

    def merge(self, state: Any, part: Any) -> tuple[Any, Any]:
        how = self.how
        if how in ("sum", "count", "size"):
            state = _add(state, part)
            return state, state
        if how in ("min", "max"):
            state = _extreme(how, state, part)
            return state, state
        if how == "mean":
            total, count = _add(state[0], part[0]), _add(state[1], part[1], exact=False)
            return (total, count), total / count  # a count of 0 has a sum of 0: NaN
        summary = _merge_groups(state, part)
        count, _, m2 = summary
        var = m2 / (count - self.ddof).where(count > self.ddof)
        var = var.clip(lower=0)
        return summary, (np.sqrt(var) if how == "std" else var)


class _Several(_Grouper):
    """Several aggregations of one grouping (``agg(['sum', 'max'])``), folded in one
    node: a list of partials and of states, one column each in the result."""

    def __init__(self, names: list[str], selection: Any) -> None:
        self.how = "agg"
        self.names = names
        self.parts = [_Grouper(name, selection, {}) for name in names]

    def partial(self, chunk: Any, by: Any) -> Any:
        return [g.partial(chunk, by) for g in self.parts]

    def empty(self, example: Any, by: Any) -> Any:
        return [g.empty(example, by) for g in self.parts]

    def merge(self, state: Any, part: Any) -> tuple[Any, Any]:
        merged = [g.merge(s, p) for g, s, p in zip(self.parts, state, part, strict=True)]
        return [s for s, _ in merged], self._combine([r for _, r in merged])

    def direct(self, rows: Any, by: Any) -> Any:
        return self._combine([g.direct(rows, by) for g in self.parts])

    def _combine(self, results: list[Any]) -> Any:
        names = self.names
        out = pd.concat(dict(zip(names, results, strict=True)), axis=1)
        if isinstance(results[0], pd.DataFrame):  # pandas: (column, aggregation)
            columns = [(c, n) for c in results[0].columns for n in names]
            out = out.swaplevel(axis=1)[columns]
        return out


def _with_freq(out: Any) -> Any:
    """Time keys that went through a column lost their index ``freq``; infer it again
    (pandas keeps it when grouping by a DatetimeIndex)."""
    index = out.index
    if isinstance(index, pd.DatetimeIndex) and index.freq is None and len(index) > 2:
        freq = index.inferred_freq
        if freq is not None:
            out = out.copy(deep=False)
            out.index = pd.DatetimeIndex(index, freq=freq)
    return out


def _add(state: Any, part: Any, exact: bool = True) -> Any:
    if not len(part):
        return state
    if not len(state):
        return part
    if state.index.equals(part.index):
        return state + part
    out = state.add(part, fill_value=0)
    return _keep_dtype(out, part) if exact else out


def _keep_dtype(out: Any, part: Any) -> Any:
    """Alignment goes through float; counts and integer sums keep their dtype."""
    if isinstance(part, pd.Series):
        if part.dtype.kind in "iub" and out.dtype != part.dtype:
            return out.astype(part.dtype)
        return out
    kinds = {c: t for c, t in part.dtypes.items() if t.kind in "iub" and out[c].dtype != t}
    return out.astype(kinds) if kinds else out


def _extreme(how: str, state: Any, part: Any) -> Any:
    if not len(part):
        return state
    if not len(state):
        return part
    both = pd.concat([state, part])
    levels = list(range(both.index.nlevels))
    return getattr(both.groupby(level=levels, sort=True), how)()


def _merge_groups(state: Any, part: Any) -> Any:
    if not len(part[0]):
        return state
    if not len(state[0]):
        return part
    index = state[0].index.union(part[0].index)
    a = tuple(x.reindex(index, fill_value=0) for x in state)
    b = tuple(x.reindex(index, fill_value=0) for x in part)
    return _merge(a, b, +1)
