"""Oracle tests of ``streams.dataframe``: after every chunk, pandas on all rows so far.

Every test draws a DataFrame, cuts it into chunks (empty chunks and one-row chunks
included), emits the chunks one by one into a streaming ``DataFrame`` and compares each
output with pandas applied to the concatenation of the chunks emitted so far:

* running reductions, ``value_counts``, ``groupby`` aggregations, ``head``/``tail`` and
  ``expanding`` emit one result per chunk: the ``i``-th output is compared with pandas on
  ``concat(chunks[: i + 1])``;
* cumulative operations, ``rolling``, ``ewm`` and filtering emit the rows of each chunk:
  the concatenation of the first ``i + 1`` outputs is compared with pandas on
  ``concat(chunks[: i + 1])``;
* ``window(n=)`` and ``window(value=)`` are compared with pandas on the rows the window
  holds (the last ``n`` rows; the rows whose index is after ``newest - value``).

Floating-point tolerance. The library updates a small state per chunk (a running sum, a
count, a (count, mean, M2) triple merged with Chan's parallel Welford formula, a weighted
sum for ``ewm``) where pandas makes one pass over all rows, so the same operations happen
in another order. Floating-point addition is not associative: summing ``n`` values in two
different orders may differ by up to about ``n * eps * sum(|x|)`` (``eps = 2.2e-16``),
which relative to the result is unbounded when the sum cancels. The drawn floats are
therefore multiples of 1/4 with ``|x| <= 100`` (NaN included): their sums are exact in any
order, so running sums, counts, minima, maxima, cumulative sums and means (one rounded
division of exact operands) are bit-for-bit equal to pandas'. What remains inexact is
the variance merge (products and quotients of rounded means) and the ``ewm`` weights
(powers of ``1 - alpha``): with at most 30 rows of magnitude
<= 100 their difference from pandas is at most a few hundred ulps, about ``1e-12`` in
absolute value (``var`` of values near 100 that differ by 1/4 loses a factor
``mean**2 / var`` ~ 1e5 to cancellation, still < ``1e-10`` relative). Float results are
thus compared with ``rtol=1e-9`` plus ``atol=1e-9`` for results that cancel to about 0
(an ``ewm`` mean of values of both signs); both are orders of magnitude above
reassociation error and far below any real mistake (the smallest step of the data is
0.25). Integer results (counts, sizes, integer sums, ``head``/``tail``) are compared
exactly, and dtypes are always checked: pandas' result dtype is part of the oracle (an
integer sum stays int64, a count is int64, a mean is float64).

One consequence is deliberate: ``std`` is held to the same tolerance. When the values
in a window are all equal pandas gives exactly 0, but a variance state that rows were
taken out of (``on_old``) may keep a residue of ~1e-16, and ``std = sqrt(var)`` turns it
into ~1e-8. That is not reassociation noise of the size above, and the tests report it.

The tests derandomize Hypothesis (the same examples on every run, as CI needs) and do not
write a Hypothesis example database.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal, assert_series_equal

from streams.dataframe import DataFrame

RTOL = 1e-9
ATOL = 1e-9

# derandomized: the same examples on every run; no example database written; no
# "explain" phase (it reruns a failing example many times and says little here)
PHASES = (Phase.explicit, Phase.generate, Phase.shrink)
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None, phases=PHASES)

# ------------------------------------------------------------------ data

# keys in an order where a key first seen later often sorts before those seen earlier
STR_KEYS = ["c", "e", "a", "d", "b"]
INT_KEYS = [30, 50, 10, 40, 20]

KEY_DTYPES: dict[str, Any] = {
    "str": "str",  # pandas 3's default string dtype
    "string_pyarrow": "string[pyarrow]",
    "arrow_string": pd.ArrowDtype(pa.string()),
    "category": pd.CategoricalDtype(sorted(STR_KEYS)),
    "object": object,
    "int64": "int64",
}

NUMERIC = ["i", "x", "y"]
T0 = pd.Timestamp("2024-01-01")
STEPS_MS = [0, 500, 1000, 1500, 2000, 2500, 4000]  # 0: equal timestamps; 2000: the boundary


def _float(v: int) -> float:
    """Multiples of 1/4 in [-100, 100] (sums exact in any order); about 9% NaN."""
    return math.nan if v > 400 else v / 4


floats = st.integers(-400, 480).map(_float)
ints = st.integers(-5, 5)


@st.composite
def chunked(
    draw: Any,
    key: str | None = None,
    times: bool = False,
    max_chunks: int = 6,
    max_rows: int = 5,
) -> list[pd.DataFrame]:
    """A frame of int column ``i`` and float columns ``x`` and ``y`` (with NaN), plus a
    key column ``k`` of dtype ``KEY_DTYPES[key]``, cut into chunks of 0 to ``max_rows``
    rows. Keys of chunk ``j`` come from the first ``j + 2`` keys, so later chunks bring
    keys unseen before. The index is a RangeIndex continued across chunks, or with
    ``times`` a non-decreasing DatetimeIndex."""
    sizes = draw(st.lists(st.integers(0, max_rows), min_size=1, max_size=max_chunks))
    n = sum(sizes)
    columns: dict[str, Any] = {}
    if key is not None:
        pool = INT_KEYS if key == "int64" else STR_KEYS
        keys = [
            draw(st.sampled_from(pool[: j + 2]))
            for j, size in enumerate(sizes)
            for _ in range(size)
        ]
        columns["k"] = pd.Series(keys, dtype=KEY_DTYPES[key])
    columns["i"] = pd.Series(draw(st.lists(ints, min_size=n, max_size=n)), dtype="int64")
    columns["x"] = pd.Series(draw(st.lists(floats, min_size=n, max_size=n)), dtype="float64")
    columns["y"] = pd.Series(draw(st.lists(floats, min_size=n, max_size=n)), dtype="float64")
    frame = pd.DataFrame(columns)
    if times:
        steps = draw(st.lists(st.sampled_from(STEPS_MS), min_size=n, max_size=n))
        frame.index = T0 + pd.to_timedelta(np.cumsum(steps, dtype="int64"), unit="ms")
    chunks = []
    start = 0
    for size in sizes:
        chunks.append(frame.iloc[start : start + size].copy())
        start += size
    return chunks


# ------------------------------------------------------------------ running and comparing


def _has_float(x: Any) -> bool:
    if isinstance(x, pd.DataFrame):
        return any(getattr(t, "kind", "") == "f" for t in x.dtypes)
    return getattr(getattr(x, "dtype", None), "kind", "") == "f"


def assert_same(got: Any, want: Any, what: str) -> None:
    """``got`` equals pandas' ``want``: type, dtypes, index, names, values (floats to
    RTOL/ATOL, everything else exactly)."""
    if isinstance(want, pd.DataFrame):
        assert isinstance(got, pd.DataFrame), f"{what}: expected a DataFrame, got {got!r}"
        if _has_float(want) or _has_float(got):
            assert_frame_equal(got, want, check_exact=False, rtol=RTOL, atol=ATOL, obj=what)
        else:
            assert_frame_equal(got, want, check_exact=True, obj=what)
    elif isinstance(want, pd.Series):
        assert isinstance(got, pd.Series), f"{what}: expected a Series, got {got!r}"
        if _has_float(want) or _has_float(got):
            assert_series_equal(got, want, check_exact=False, rtol=RTOL, atol=ATOL, obj=what)
        else:
            assert_series_equal(got, want, check_exact=True, obj=what)
    else:
        assert not isinstance(got, pd.Series | pd.DataFrame), (
            f"{what}: expected a scalar {want!r}, got\n{got!r}"
        )
        got_dtype, want_dtype = np.asarray(got).dtype, np.asarray(want).dtype
        assert got_dtype == want_dtype, (
            f"{what}: dtype {got_dtype} ({got!r}), pandas gives {want_dtype} ({want!r})"
        )
        if want_dtype.kind == "f":
            if math.isnan(want):
                assert math.isnan(got), f"{what}: {got!r}, pandas gives {want!r}"
            else:
                assert math.isclose(got, want, rel_tol=RTOL, abs_tol=ATOL), (
                    f"{what}: {got!r}, pandas gives {want!r}"
                )
        else:
            assert got == want, f"{what}: {got!r}, pandas gives {want!r}"


def _where(exc: BaseException) -> str:
    """The innermost frames of an exception's traceback, for the report."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    return "".join(f"\n    {f.filename}:{f.lineno} in {f.name}: {f.line}" for f in frames)


class Oracle:
    """One drawn chunking. Every operation checked gets a graph of its own (an error in
    one cannot hide another's result); the mismatches are collected and reported
    together by :meth:`done`."""

    def __init__(self, chunks: list[pd.DataFrame]) -> None:
        self.chunks = chunks
        self.pristine = [c.copy(deep=True) for c in chunks]
        self.prefixes = [pd.concat(self.pristine[: i + 1]) for i in range(len(chunks))]
        self.problems: list[str] = []

    def outputs(self, name: str, build: Callable[[DataFrame], Any]) -> list[Any] | None:
        """Emit the chunks into a new streaming frame; the outputs of ``build(sdf)``."""
        sdf = DataFrame(example=self.chunks[0].iloc[:0])
        try:
            out = build(sdf).stream.sink_to_list()
            for chunk in self.chunks:
                sdf.emit(chunk)
        except Exception as e:
            self.problems.append(f"{name}: raised {type(e).__name__}: {e}{_where(e)}")
            return None
        for i, (chunk, copy) in enumerate(zip(self.chunks, self.pristine, strict=True)):
            if not chunk.equals(copy):
                self.problems.append(f"{name}: chunk {i} was modified in place")
        if len(out) != len(self.chunks):
            self.problems.append(f"{name}: {len(out)} outputs for {len(self.chunks)} chunks")
            return None
        return out

    def _compare(self, name: str, got: Any, want: Any) -> bool:
        try:
            assert_same(got, want, name)
        except AssertionError as e:
            self.problems.append(f"{e}\n--- streams:\n{got!r}\n--- pandas:\n{want!r}")
            return False
        return True

    def each(
        self,
        name: str,
        build: Callable[[DataFrame], Any],
        oracle: Callable[[pd.DataFrame], Any],
        skip_empty: bool = False,
    ) -> None:
        """The output after chunk ``i`` against ``oracle(concat(chunks[: i + 1]))``
        (with ``skip_empty``, not before the first row)."""
        out = self.outputs(name, build)
        if out is None:
            return
        for i, (got, rows) in enumerate(zip(out, self.prefixes, strict=True)):
            if skip_empty and not len(rows):
                continue
            if not self._compare(f"{name} after chunk {i}", got, oracle(rows)):
                return  # the later outputs of a wrong state say nothing more

    def concat(
        self,
        name: str,
        build: Callable[[DataFrame], Any],
        oracle: Callable[[pd.DataFrame], Any],
    ) -> None:
        """``concat(outputs[: i + 1])`` against ``oracle(concat(chunks[: i + 1]))``."""
        out = self.outputs(name, build)
        if out is None:
            return
        for i, rows in enumerate(self.prefixes):
            got = pd.concat(out[: i + 1])
            if not self._compare(
                f"{name}: outputs up to chunk {i} concatenated", got, oracle(rows)
            ):
                return

    def done(self) -> None:
        assert not self.problems, "\n\n".join(self.problems)


def target(frame: Any, name: str) -> Any:
    """The numeric frame (``'frame'``: columns i, x, y) or one column, of a streaming or
    a pandas frame."""
    return frame[NUMERIC] if name == "frame" else frame[name]


TARGETS = ["frame", "i", "x"]

# ------------------------------------------------------------------ running reductions

REDUCTIONS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    # name: (streams, pandas)
    "sum": (lambda s: s.sum(), lambda p: p.sum()),
    "mean": (lambda s: s.mean(), lambda p: p.mean()),
    "count": (lambda s: s.count(), lambda p: p.count()),
    "size": (lambda s: s.size, lambda p: p.size),  # a property, as in pandas
    "min": (lambda s: s.min(), lambda p: p.min()),
    "max": (lambda s: s.max(), lambda p: p.max()),
    "var": (lambda s: s.var(), lambda p: p.var()),
    "var_ddof0": (lambda s: s.var(ddof=0), lambda p: p.var(ddof=0)),
    "var_ddof1": (lambda s: s.var(ddof=1), lambda p: p.var(ddof=1)),
    "std_ddof0": (lambda s: s.std(ddof=0), lambda p: p.std(ddof=0)),
    "std_ddof1": (lambda s: s.std(ddof=1), lambda p: p.std(ddof=1)),
}


@pytest.mark.parametrize("how", list(REDUCTIONS))
@SETTINGS
@given(chunks=chunked())
def test_running_reduction(how, chunks):
    """sdf.<how>() on the frame (int and float columns) and on an int and a float column."""
    ours, theirs = REDUCTIONS[how]
    oracle = Oracle(chunks)
    for t in TARGETS:
        oracle.each(
            f"{how} of {t}",
            lambda sdf, t=t: ours(target(sdf, t)),
            lambda rows, t=t: theirs(target(rows, t)),
        )
    oracle.done()


@pytest.mark.parametrize("key", list(KEY_DTYPES))
@SETTINGS
@given(data=st.data())
def test_value_counts(key, data):
    # Values of equal count (ties) may come in another order than pandas' (the library
    # sorts a running table, pandas counts all rows at once), so both sides are sorted by
    # value (sort_index) before comparing; counts, names and dtypes must agree.
    chunks = data.draw(chunked(key=key), label="chunks")
    oracle = Oracle(chunks)
    for column in ("k", "i"):
        oracle.each(
            f"{column}.value_counts() ({key} keys)",
            lambda sdf, c=column: sdf[c].value_counts().map_partitions(pd.Series.sort_index),
            lambda rows, c=column: rows[c].value_counts().sort_index(),
        )
    oracle.done()


# ------------------------------------------------------------------ cumulative operations


@pytest.mark.parametrize("how", ["cumsum", "cumprod", "cummin", "cummax"])
@SETTINGS
@given(chunks=chunked())
def test_cumulative(how, chunks):
    oracle = Oracle(chunks)
    for t in TARGETS:
        oracle.concat(
            f"{how} of {t}",
            lambda sdf, t=t: getattr(target(sdf, t), how)(),
            lambda rows, t=t: getattr(target(rows, t), how)(),
        )
    oracle.done()


# ------------------------------------------------------------------ groupby

GROUPED: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "sum": (lambda g: g.sum(), lambda g: g.sum()),
    "mean": (lambda g: g.mean(), lambda g: g.mean()),
    "count": (lambda g: g.count(), lambda g: g.count()),
    "size": (lambda g: g.size(), lambda g: g.size()),
    "min": (lambda g: g.min(), lambda g: g.min()),
    "max": (lambda g: g.max(), lambda g: g.max()),
    "var": (lambda g: g.var(), lambda g: g.var()),
    "var_ddof0": (lambda g: g.var(ddof=0), lambda g: g.var(ddof=0)),
    "std": (lambda g: g.std(), lambda g: g.std()),
    "std_ddof0": (lambda g: g.std(ddof=0), lambda g: g.std(ddof=0)),
    "agg_sum_max": (lambda g: g.agg(["sum", "max"]), lambda g: g.agg(["sum", "max"])),
    "agg_mean": (lambda g: g.agg("mean"), lambda g: g.agg("mean")),
}


@pytest.mark.parametrize("how", list(GROUPED))
@settings(max_examples=40, deadline=None, derandomize=True, database=None, phases=PHASES)
@given(data=st.data())
def test_groupby(how, data):
    """groupby('k')['i'] (int), groupby('k')['x'] (float with NaN), groupby('k') (the
    whole frame) and groupby(sdf.k).x (by a streaming Series), for every key dtype; keys
    first seen in later chunks included (see ``chunked``)."""
    key = data.draw(st.sampled_from(list(KEY_DTYPES)), label="key dtype")
    chunks = data.draw(chunked(key=key), label="chunks")
    ours, theirs = GROUPED[how]
    oracle = Oracle(chunks)
    for column in ("i", "x"):
        oracle.each(
            f"groupby('k')[{column!r}].{how} ({key} keys)",
            lambda sdf, c=column: ours(sdf.groupby("k")[c]),
            lambda rows, c=column: theirs(rows.groupby("k")[c]),
        )
    oracle.each(
        f"groupby('k').{how} ({key} keys)",
        lambda sdf: ours(sdf.groupby("k")),
        lambda rows: theirs(rows.groupby("k")),
    )
    oracle.each(
        f"groupby(sdf.k).x.{how} ({key} keys)",
        lambda sdf: ours(sdf.groupby(sdf.k).x),
        lambda rows: theirs(rows.groupby(rows.k).x),
    )
    oracle.done()


# ------------------------------------------------------------------ windows

WINDOWED = ["sum", "mean", "count", "size", "var", "std", "min", "max"]


def _aggregate(rows: Any, how: str) -> Any:
    """``rows.<how>()``, or ``rows.size`` (a property in pandas and in streams)."""
    return rows.size if how == "size" else getattr(rows, how)()


# rows leave a window's variance state: equal values must give 0 (see the module doc)
LEAVING = pd.DataFrame({"i": [-1, 0, 0], "x": [0.25, 0.0, 0.0], "y": [2.5, 1.0, 1.0]})


@pytest.mark.parametrize("how", WINDOWED)
@SETTINGS
@given(chunks=chunked(), n=st.integers(0, 7))
@example(chunks=[LEAVING], n=2)
def test_window_n(how, chunks, n):
    """window(n=) against pandas on the last n rows so far."""
    oracle = Oracle(chunks)
    for t in TARGETS:
        oracle.each(
            f"window(n={n}).{how} of {t}",
            lambda sdf, t=t: _aggregate(target(sdf, t).window(n=n), how),
            lambda rows, t=t: _aggregate(target(rows, t).iloc[max(len(rows) - n, 0) :], how),
        )
    oracle.done()


def _in_span(rows: pd.DataFrame, span: pd.Timedelta) -> pd.DataFrame:
    """The rows whose index is after ``newest - span``."""
    if not len(rows):
        return rows
    return rows[rows.index > rows.index[-1] - span]


@pytest.mark.parametrize("how", WINDOWED)
@SETTINGS
@given(chunks=chunked(times=True))
def test_window_value(how, chunks):
    """window(value='2s') on a DatetimeIndex (equal timestamps and rows exactly 2s
    apart included) against pandas on the rows with index > newest - 2s."""
    span = pd.Timedelta("2s")
    oracle = Oracle(chunks)
    for t in TARGETS:
        oracle.each(
            f"window(value='2s').{how} of {t}",
            lambda sdf, t=t: _aggregate(target(sdf, t).window(value="2s"), how),
            lambda rows, t=t: _aggregate(target(_in_span(rows, span), t), how),
        )
    oracle.done()


@pytest.mark.parametrize("how", ["sum", "mean"])
@pytest.mark.parametrize("window", [1, 2, 3, "2s"])
@SETTINGS
@given(data=st.data())
def test_rolling(window, how, data):
    """rolling(window): the outputs, concatenated, against pandas rolling on all rows."""
    chunks = data.draw(chunked(times=isinstance(window, str)), label="chunks")
    oracle = Oracle(chunks)
    for t in TARGETS:
        oracle.concat(
            f"rolling({window!r}).{how} of {t}",
            lambda sdf, t=t: getattr(target(sdf, t).rolling(window), how)(),
            lambda rows, t=t: getattr(target(rows, t).rolling(window), how)(),
        )
    oracle.done()


def _last_expanding(rows: Any, how: str) -> Any:
    out = getattr(rows.expanding(), how)().iloc[-1]
    # the last row of an expanding frame is a Series named by its index label; a
    # running aggregate has no name
    return out.rename(None) if isinstance(out, pd.Series) else out


@pytest.mark.parametrize("how", ["sum", "mean"])
@SETTINGS
@given(chunks=chunked())
def test_expanding(how, chunks):
    """expanding() emits one result per chunk (as streamz): pandas' expanding aggregate
    at the last row so far. Before the first row pandas has no row to compare with, so
    those outputs are not checked."""
    oracle = Oracle(chunks)
    for t in TARGETS:
        oracle.each(
            f"expanding().{how} of {t}",
            lambda sdf, t=t: getattr(target(sdf, t).expanding(), how)(),
            lambda rows, t=t: _last_expanding(target(rows, t), how),
            skip_empty=True,
        )
    oracle.done()


@pytest.mark.parametrize("com", [0, 0.5, 1, 3])
@SETTINGS
@given(chunks=chunked())
def test_ewm_mean(com, chunks):
    """ewm(com=).mean(): the outputs, concatenated, against pandas ewm on all rows
    (NaN included: pandas' default adjust=True, ignore_na=False weighting)."""
    oracle = Oracle(chunks)
    for t in TARGETS:
        oracle.concat(
            f"ewm(com={com}).mean of {t}",
            lambda sdf, t=t: target(sdf, t).ewm(com=com).mean(),
            lambda rows, t=t: target(rows, t).ewm(com=com).mean(),
        )
    oracle.done()


# ------------------------------------------------------------------ filtering, head, tail

FILTERED: dict[str, Callable[[Any], Any]] = {
    "y.sum()": lambda f: f.y.sum(),
    "i.sum()": lambda f: f.i.sum(),
    "y.mean()": lambda f: f.y.mean(),
    "y.count()": lambda f: f.y.count(),
    "sum()": lambda f: f.sum(),
}


@SETTINGS
@given(chunks=chunked())
def test_boolean_filter(chunks):
    """sdf[sdf.x > 0] (rows, concatenated) and running aggregates of it, e.g.
    sdf[sdf.x > 0].y.sum()."""
    oracle = Oracle(chunks)
    for name, agg in FILTERED.items():
        oracle.each(
            f"sdf[sdf.x > 0].{name}",
            lambda sdf, agg=agg: agg(sdf[sdf.x > 0]),
            lambda rows, agg=agg: agg(rows[rows.x > 0]),
        )
    oracle.concat("sdf[sdf.x > 0]", lambda sdf: sdf[sdf.x > 0], lambda rows: rows[rows.x > 0])
    oracle.done()


@pytest.mark.parametrize("how", ["head", "tail"])
@SETTINGS
@given(chunks=chunked(key="str"), n=st.integers(0, 7))
def test_head_tail(how, chunks, n):
    oracle = Oracle(chunks)
    oracle.each(
        f"{how}({n})", lambda sdf: getattr(sdf, how)(n), lambda rows: getattr(rows, how)(n)
    )
    oracle.each(
        f"x.{how}({n})",
        lambda sdf: getattr(sdf.x, how)(n),
        lambda rows: getattr(rows.x, how)(n),
    )
    oracle.done()
