"""Incremental aggregations over a stream of pandas chunks.

An :class:`Aggregation` keeps a small state and updates it per chunk: ``on_new`` folds
rows in, ``on_old`` takes rows out again (when they leave a window). Each returns
``(state, result)``; ``result`` is what pandas would give on the rows held. State is
never recomputed from the whole history.

Variance uses the parallel form of Welford's update (Chan et al.): per chunk the count,
mean and sum of squared deviations are computed by pandas and merged, which stays
accurate where the naive ``sum(x**2) - n * mean**2`` cancels catastrophically. Results
agree with pandas on the concatenated data to within floating-point reassociation (the
oracle tests check a relative error of 1e-9).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

__all__ = [
    "Additive",
    "Aggregation",
    "Count",
    "Max",
    "Mean",
    "Min",
    "Reductions",
    "Size",
    "Sum",
    "ValueCounts",
    "Var",
]

F = TypeVar("F", bound=Callable[..., Any])

_STREAM_NAME_DOC = """

Parameters
----------
stream_name : str, optional
    Names the node holding the aggregation's state (needed to checkpoint it, see
    :mod:`streams.state`).
"""


def keeps_state(method: F) -> F:
    """Document the ``stream_name`` parameter every stateful aggregation method takes
    (appended to a docstring that has no sections of its own)."""
    method.__doc__ = inspect.cleandoc(method.__doc__ or "") + _STREAM_NAME_DOC
    return method


class Aggregation:
    """Base of incremental aggregations; subclass it for your own.

    Methods to define: ``initial(new)`` gives the state before any row (``new`` is the
    first chunk, or an empty example); ``on_new(state, new)`` and ``on_old(state, old)``
    return ``(state, result)``.

    Examples
    --------
    >>> import pandas as pd
    >>> from streams.dataframe import DataFrame
    >>> from streams.dataframe.aggregations import Aggregation
    >>> class Rows(Aggregation):
    ...     def initial(self, new):
    ...         return 0
    ...     def on_new(self, state, new):
    ...         return state + len(new), state + len(new)
    ...     def on_old(self, state, old):
    ...         return state - len(old), state - len(old)
    >>> sdf = DataFrame(example=pd.DataFrame({"x": [1.0]}))
    >>> out = sdf.window(n=3).aggregate(Rows()).stream.sink_to_list()
    >>> for n in (2, 2):
    ...     sdf.emit(pd.DataFrame({"x": [1.0] * n}))
    >>> out
    [2, 3]
    """

    #: rows can be taken out again (``on_old``); windows of those that cannot recompute
    #: from the rows the window holds.
    invertible = True

    _name: str | None = None  # the node's label (``accumulate<sum>``); None: the class's

    def initial(self, new: Any) -> Any:
        raise NotImplementedError

    def on_new(self, state: Any, new: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def on_old(self, state: Any, old: Any) -> tuple[Any, Any]:
        raise NotImplementedError


def _label_of(aggregation: Aggregation) -> str:
    """What the node folding ``aggregation`` shows in its label and in errors
    (``accumulate<sum>``): the method's name, or the class's for one of your own."""
    return aggregation._name or type(aggregation).__name__


class _Named:
    """``func`` under another name, for the label of the node that calls it: the
    checkpointer refuses an unnamed stateful node naming it (``accumulate<groupby.sum>``),
    so the user sees which aggregation needs a ``stream_name``."""

    __slots__ = ("__name__", "func")

    def __init__(self, func: Callable[[Any, Any], Any], name: str) -> None:
        self.func = func
        self.__name__ = name

    def __call__(self, state: Any, chunk: Any) -> Any:
        return self.func(state, chunk)


def _zero_like(x: Any) -> Any:
    """The sum of no rows of ``x``: 0 per column for a frame, 0 for a series."""
    return x.iloc[:0].sum()


class Additive(Aggregation):
    """An aggregation whose state adds up a summary of each chunk (sums, counts).

    Define ``summarize(rows)`` and ``fold(state, summary, sign)`` (``sign`` is ``1`` for
    rows that arrive, ``-1`` for rows that leave; it returns ``(state, result)``). A
    window keeps each chunk's summary while it holds the chunk, so a chunk that leaves
    whole is taken out without reading its rows again (the summary is the one that went
    in, so the result is the same to the last bit).

    Examples
    --------
    >>> import pandas as pd
    >>> from streams.dataframe import Additive, DataFrame
    >>> class SumOfSquares(Additive):
    ...     def initial(self, new):
    ...         return 0.0
    ...     def summarize(self, rows):
    ...         return float((rows**2).sum())
    ...     def fold(self, state, summary, sign):
    ...         state = state + summary if sign > 0 else state - summary
    ...         return state, state
    >>> sdf = DataFrame(example=pd.DataFrame({"x": [0.0]}))
    >>> out = sdf.window(n=2).x.aggregate(SumOfSquares()).stream.sink_to_list()
    >>> for chunk in ([1.0], [2.0], [3.0]):
    ...     sdf.emit(pd.DataFrame({"x": chunk}))
    >>> out
    [1.0, 5.0, 13.0]
    """

    def summarize(self, rows: Any) -> Any:
        raise NotImplementedError

    def fold(self, state: Any, summary: Any, sign: int) -> tuple[Any, Any]:
        raise NotImplementedError

    def on_new(self, state: Any, new: Any) -> tuple[Any, Any]:
        return self.fold(state, self.summarize(new), 1)

    def on_old(self, state: Any, old: Any) -> tuple[Any, Any]:
        return self.fold(state, self.summarize(old), -1)


class Sum(Additive):
    """Running ``sum``."""

    _name = "sum"

    def initial(self, new: Any) -> Any:
        return _zero_like(new)

    def summarize(self, rows: Any) -> Any:
        return rows.sum()

    def fold(self, state: Any, summary: Any, sign: int) -> tuple[Any, Any]:
        state = state + summary if sign > 0 else state - summary
        return state, state

    def on_new(self, state: Any, new: Any) -> tuple[Any, Any]:
        state = state + new.sum()  # fold(state, summarize(new), 1) without two calls
        return state, state


class Count(Additive):
    """Running ``count`` (rows that are not missing)."""

    _name = "count"

    def initial(self, new: Any) -> Any:
        return new.iloc[:0].count()

    def summarize(self, rows: Any) -> Any:
        return rows.count()

    def fold(self, state: Any, summary: Any, sign: int) -> tuple[Any, Any]:
        state = state + summary if sign > 0 else state - summary
        return state, state


class Size(Additive):
    """Running ``size`` (rows times columns for a frame, rows for a series)."""

    _name = "size"

    def initial(self, new: Any) -> Any:
        return 0

    def summarize(self, rows: Any) -> Any:
        return rows.size

    def fold(self, state: Any, summary: Any, sign: int) -> tuple[Any, Any]:
        state = state + summary if sign > 0 else state - summary
        return state, state


class Mean(Additive):
    """Running ``mean``; the state is ``(sum, count)``."""

    _name = "mean"

    def initial(self, new: Any) -> Any:
        return (_zero_like(new), new.iloc[:0].count())

    def summarize(self, rows: Any) -> Any:
        return rows.sum(), rows.count()

    def fold(self, state: Any, summary: Any, sign: int) -> tuple[Any, Any]:
        (total, count), (rows_total, rows_count) = state, summary
        if sign > 0:
            state = (total + rows_total, count + rows_count)
        else:
            state = (total - rows_total, count - rows_count)
        return state, _ratio(*state)


def _ratio(total: Any, count: Any) -> Any:
    if isinstance(count, pd.Series):
        return total / count.where(count != 0)
    return total / count if count else np.nan


class Var(Aggregation):
    """Running ``var(ddof=)`` (and ``std`` with ``sqrt``); the state is
    ``(count, mean, m2)`` merged per chunk (Chan's parallel Welford update).

    In a window it is recomputed from the rows the window holds: taking rows back out
    of ``m2`` leaves a rounding residue (~1e-16) where pandas gives exactly 0 for equal
    values, and ``std`` would turn it into ~1e-8.
    """

    invertible = False

    def __init__(self, ddof: int = 1, sqrt: bool = False) -> None:
        self.ddof = ddof
        self.sqrt = sqrt
        self._name = "std" if sqrt else "var"

    def initial(self, new: Any) -> Any:
        zero = _zero_like(new) * 0.0
        return (new.iloc[:0].count(), zero, zero)

    def _result(self, state: Any) -> Any:
        count, _, m2 = state
        denominator = count - self.ddof
        if isinstance(denominator, pd.Series):
            out = m2 / denominator.where(denominator > 0)
            out = out.clip(lower=0)
            return np.sqrt(out) if self.sqrt else out
        if denominator <= 0:
            return np.nan
        out = max(m2 / denominator, 0.0)
        return float(np.sqrt(out)) if self.sqrt else out

    def on_new(self, state: Any, new: Any) -> tuple[Any, Any]:
        n_b = new.count()
        mean_b = new.mean() if len(new) else _zero_like(new) * 0.0
        m2_b = ((new - mean_b) ** 2).sum()
        state = _merge(state, (n_b, _fill(mean_b), m2_b), +1)
        return state, self._result(state)

    def on_old(self, state: Any, old: Any) -> tuple[Any, Any]:
        n_b = old.count()
        mean_b = old.mean() if len(old) else _zero_like(old) * 0.0
        m2_b = ((old - mean_b) ** 2).sum()
        state = _merge(state, (n_b, _fill(mean_b), m2_b), -1)
        return state, self._result(state)


def _fill(x: Any) -> Any:
    if isinstance(x, pd.Series):
        return x.fillna(0.0)
    return 0.0 if pd.isna(x) else x


def _merge(a: Any, b: Any, sign: int) -> Any:
    """Combine two (count, mean, m2) summaries (``sign=-1``: take ``b`` out of ``a``)."""
    n_a, mean_a, m2_a = a
    n_b, mean_b, m2_b = b
    n = n_a + sign * n_b
    if isinstance(n, pd.Series | pd.DataFrame):
        safe = n.where(n != 0, 1)
        delta = mean_b - mean_a
        if sign > 0:
            mean = (mean_a + delta * n_b / safe).where(n != 0, 0.0)
            m2 = m2_a + m2_b + delta**2 * n_a * n_b / safe
        else:
            mean = ((mean_a * n_a - mean_b * n_b) / safe).where(n != 0, 0.0)
            m2 = m2_a - m2_b - (mean_b - mean) ** 2 * n * n_b / n_a.where(n_a != 0, 1)
        return n, mean, m2.where(n != 0, 0.0)
    if n == 0:
        return 0, 0.0, 0.0
    if sign > 0:
        delta = mean_b - mean_a
        return n, mean_a + delta * n_b / n, m2_a + m2_b + delta * delta * n_a * n_b / n
    mean = (mean_a * n_a - mean_b * n_b) / n
    return n, mean, m2_a - m2_b - (mean_b - mean) ** 2 * n * n_b / n_a


class Min(Aggregation):
    """Running ``min``; in a window it is recomputed from the rows the window holds."""

    invertible = False
    _how = _name = "min"

    def initial(self, new: Any) -> Any:
        return getattr(new.iloc[:0], self._how)()

    def on_new(self, state: Any, new: Any) -> tuple[Any, Any]:
        if not len(new):
            return state, state
        part = getattr(new, self._how)()
        if isinstance(part, pd.Series):
            state = getattr(pd.concat([state, part], axis=1), self._how)(axis=1)
        elif not pd.isna(part) and (pd.isna(state) or _better(self._how, part, state)):
            state = part
        return state, state

    def on_old(self, state: Any, old: Any) -> tuple[Any, Any]:
        raise NotImplementedError(f"{self._how} cannot take rows out; windows recompute it")


def _better(how: str, a: Any, b: Any) -> bool:
    return bool(a < b) if how == "min" else bool(a > b)


class Max(Min):
    """Running ``max``."""

    _how = _name = "max"


class ValueCounts(Aggregation):
    """Running ``value_counts()`` of a series, most frequent first."""

    _name = "value_counts"

    def initial(self, new: Any) -> Any:
        return new.iloc[:0].value_counts()

    def on_new(self, state: Any, new: Any) -> tuple[Any, Any]:
        counts = new.value_counts()
        state = state.add(counts, fill_value=0).astype(counts.dtype)
        return state, _by_count(state)

    def on_old(self, state: Any, old: Any) -> tuple[Any, Any]:
        counts = old.value_counts()
        state = state.sub(counts, fill_value=0).astype(counts.dtype)
        state = state[state > 0]
        return state, _by_count(state)


def _by_count(counts: Any) -> Any:
    out = counts.sort_values(ascending=False, kind="stable")
    out.name = "count"
    return out


class Reductions:
    """The running reductions of frames and windows, each an :class:`Aggregation` folded
    by ``aggregate``: over all rows so far (a frame) or over the rows in a window.
    ``start`` continues from an earlier state (the aggregation's state: ``(sum, count)``
    for ``mean``); ``stream_name`` names the node holding the state, which a
    :class:`~streams.state.Checkpointer` needs (``size``, a property, takes none: use
    ``aggregate(Size(), stream_name=...)``)."""

    def aggregate(
        self, aggregation: Aggregation, start: Any = None, *, stream_name: str | None = None
    ) -> Any:
        raise NotImplementedError

    @keeps_state
    def sum(self, start: Any = None, *, stream_name: str | None = None) -> Any:
        """``sum``, after every chunk."""
        return self.aggregate(Sum(), start, stream_name=stream_name)

    @keeps_state
    def count(self, start: Any = None, *, stream_name: str | None = None) -> Any:
        """``count`` of the values that are not missing, after every chunk."""
        return self.aggregate(Count(), start, stream_name=stream_name)

    @property
    def size(self) -> Any:
        """``size`` (a property, as in pandas), after every chunk."""
        return self.aggregate(Size())

    @keeps_state
    def mean(self, start: Any = None, *, stream_name: str | None = None) -> Any:
        """``mean``, after every chunk."""
        return self.aggregate(Mean(), start, stream_name=stream_name)

    @keeps_state
    def var(self, ddof: int = 1, *, stream_name: str | None = None) -> Any:
        """``var(ddof=)``, numerically stable (parallel Welford update)."""
        return self.aggregate(Var(ddof), stream_name=stream_name)

    @keeps_state
    def std(self, ddof: int = 1, *, stream_name: str | None = None) -> Any:
        """``std(ddof=)``."""
        return self.aggregate(Var(ddof, sqrt=True), stream_name=stream_name)

    @keeps_state
    def min(self, *, stream_name: str | None = None) -> Any:
        """``min``, after every chunk."""
        return self.aggregate(Min(), stream_name=stream_name)

    @keeps_state
    def max(self, *, stream_name: str | None = None) -> Any:
        """``max``, after every chunk."""
        return self.aggregate(Max(), stream_name=stream_name)
