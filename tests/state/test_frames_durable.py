"""Durable aggregations of streaming DataFrames: every running aggregation (``sum``,
``groupby(...).mean()``, ``window(n)``, ``rolling('3s')``, ``cumsum``, ``value_counts``
...) takes a ``stream_name`` naming the node that holds its state. A graph stopped
part-way and restarted from its SQLite store gives, over both runs, exactly the output of
one uninterrupted run; an unnamed aggregation is refused, naming the method."""

import asyncio
import random

import numpy as np
import pandas as pd
import pytest

from streams import Stream
from streams.state import Checkpointer, DurabilityError, MemoryStore, SQLiteStore
from streams.state.nodes import adapter_of


def rows(seed=11, count=90):
    """Rows on a rising DatetimeIndex (steps of 0 to 3 seconds); the key ``c`` first
    appears in the second half; ``x`` holds binary fractions, so sums compare exactly."""
    rng = random.Random(seed)
    seconds = np.cumsum([rng.randrange(4) for _ in range(count)])
    index = pd.Timestamp("2026-01-05 09:00") + pd.to_timedelta(seconds, unit="s")
    keys = [rng.choice("ab" if i < count * 2 // 3 else "abc") for i in range(count)]
    return pd.DataFrame(
        {
            "k": keys,
            "x": [rng.randrange(16) / 4 for _ in range(count)],
            "q": [rng.randrange(10) for _ in range(count)],
        },
        index=pd.DatetimeIndex(index, name="at"),
    )


def chunked(frame, seed=3):
    """The rows as chunks of 0 to 5 rows (an empty chunk too)."""
    rng = random.Random(seed)
    chunks, i = [], 0
    while i < len(frame):
        size = rng.choice([0, 1, 2, 3, 5])
        chunks.append(frame.iloc[i : i + size])
        i += size
    return chunks


ROWS = rows()
EXAMPLE = ROWS.iloc[:0]
CHUNKS = chunked(ROWS)
# the restart is before a one-row chunk: what the state held decides its output
HALF = next(i for i in range(len(CHUNKS) // 2, len(CHUNKS)) if len(CHUNKS[i]) == 1)
EVERY = 4

CASES = {
    "sum": lambda f: f.x.sum(stream_name="agg"),
    "mean": lambda f: f[["x", "q"]].mean(stream_name="agg"),
    "var": lambda f: f.x.var(stream_name="agg"),
    "max": lambda f: f.q.max(stream_name="agg"),
    "groupby_sum": lambda f: f.groupby("k").x.sum(stream_name="agg"),
    "groupby_mean": lambda f: f.groupby("k").x.mean(stream_name="agg"),
    "groupby_agg": lambda f: f.groupby("k").q.agg(["sum", "max"], stream_name="agg"),
    "groupby_series": lambda f: f.groupby(f.k).q.sum(stream_name="agg"),
    "window_n_sum": lambda f: f.window(7).x.sum(stream_name="agg"),
    "window_n_max": lambda f: f.window(n=7).x.max(stream_name="agg"),
    "window_time_mean": lambda f: f.window("10s").x.mean(stream_name="agg"),
    "window_groupby": lambda f: f.window(8).groupby("k").x.sum(stream_name="agg"),
    "rolling_n_mean": lambda f: f.x.rolling(4).mean(stream_name="agg"),
    "rolling_time_sum": lambda f: f.x.rolling("3s").sum(stream_name="agg"),
    "cumsum": lambda f: f[["x", "q"]].cumsum(stream_name="agg"),
    "cummax": lambda f: f.x.cummax(stream_name="agg"),
    "value_counts": lambda f: f.k.value_counts(stream_name="agg"),
    "tail": lambda f: f.tail(3, stream_name="agg"),
    "nlargest": lambda f: f.x.nlargest(3, stream_name="agg"),
    "expanding_mean": lambda f: f.x.expanding().mean(stream_name="agg"),
    "ewm_mean": lambda f: f.x.ewm(com=2).mean(stream_name="agg"),
}


def plain(build, chunks):
    """``build``'s outputs over ``chunks``, emitted without a checkpointer."""
    source = Stream()
    out = build(source.to_dataframe(example=EXAMPLE)).stream.sink_to_list()
    for chunk in chunks:
        source.emit(chunk)
    return out


def durable(build, chunks, store):
    """``build``'s outputs over ``chunks``, from a replayable source under a
    Checkpointer (a checkpoint every ``EVERY`` chunks and one at the end)."""
    source = Stream.from_iterable(chunks, stream_name="src")
    out = build(source.to_dataframe(example=EXAMPLE)).stream.sink_to_list()

    async def main():
        async with Checkpointer(source, store=store, interval=None, every=EVERY):
            await source.wait()

    asyncio.run(main())
    return out


def assert_same(got, expected):
    """The same outputs, value for value, to the last bit (a restore is exact)."""
    assert len(got) == len(expected)
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert type(a) is type(b), f"output {i}"
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=True, obj=f"output {i}")
        elif isinstance(a, pd.Series):
            pd.testing.assert_series_equal(a, b, check_exact=True, obj=f"output {i}")
        else:
            np.testing.assert_equal(a, b, err_msg=f"output {i}")


def same(got, expected):
    try:
        assert_same(got, expected)
    except AssertionError:
        return False
    return True


def stateful_nodes(source):
    """The nodes downstream of ``source`` that hold state (by the checkpointer's rule)."""
    seen, todo, found = set(), [source], []
    while todo:
        node = todo.pop()
        if id(node) not in seen:
            seen.add(id(node))
            todo.extend(node.downstreams)
            if adapter_of(node) is not None:
                found.append(node)
    return found


@pytest.mark.parametrize("kind", CASES)
def test_an_aggregation_holds_its_state_in_one_node_of_that_name(kind):
    source = Stream()
    CASES[kind](source.to_dataframe(example=EXAMPLE)).stream  # noqa: B018  (builds it)
    assert [node.name for node in stateful_nodes(source)] == ["agg"]


@pytest.mark.parametrize("kind", CASES)
def test_the_cases_need_their_state(kind):
    """Each case's state at the half changes its output: a restart that lost it would
    not pass the test below."""
    build = CASES[kind]
    assert not same(
        plain(build, CHUNKS[:HALF]) + plain(build, CHUNKS[HALF:]), plain(build, CHUNKS)
    )


@pytest.mark.parametrize("kind", CASES)
def test_stopped_half_way_and_restarted(kind, tmp_path):
    build = CASES[kind]
    expected = plain(build, CHUNKS)
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    first = durable(build, CHUNKS[:HALF], store)
    store.close()
    store = SQLiteStore(path)  # opened again, as a new process would
    second = durable(build, CHUNKS, store)  # resumes at the half
    assert store.load().positions == {"src": len(CHUNKS)}
    store.close()
    assert first and second
    assert_same(first + second, expected)


def test_the_data_reaches_the_cases():
    """A key first seen after the restart, empty chunks, and equal timestamps."""
    assert "c" not in set(pd.concat(CHUNKS[:HALF]).k)
    assert "c" in set(pd.concat(CHUNKS[HALF:]).k)
    assert any(not len(chunk) for chunk in CHUNKS[:HALF])
    assert ROWS.index.has_duplicates


@pytest.mark.parametrize(
    ("build", "label"),
    [
        (lambda f: f.x.sum(), "accumulate<sum>"),
        (lambda f: f.x.std(), "accumulate<std>"),
        (lambda f: f.groupby("k").x.mean(), "accumulate<groupby.mean>"),
        (lambda f: f.groupby("k").x.agg(["sum", "max"]), "accumulate<groupby.agg>"),
        (lambda f: f.window(3).x.sum(), "accumulate<window.sum>"),
        (lambda f: f.window("10s").groupby("k").x.sum(), "accumulate<window.groupby>"),
        (lambda f: f.x.rolling("3s").mean(), "accumulate<rolling.mean>"),
        (lambda f: f.x.cumsum(), "accumulate<cumsum>"),
        (lambda f: f.k.value_counts(), "accumulate<value_counts>"),
        (lambda f: f.x.expanding().sum(), "accumulate<expanding.sum>"),
    ],
)
def test_an_unnamed_aggregation_is_refused_naming_the_method(build, label):
    source = Stream.from_iterable(CHUNKS, stream_name="src")
    build(source.to_dataframe(example=EXAMPLE)).stream  # noqa: B018  (builds it)
    with pytest.raises(DurabilityError, match=rf"^{label}: a stateful node needs a stream_name"):
        Checkpointer(source, store=MemoryStore())


def test_grouped_window_aggregations_share_the_rows_of_one_name():
    source = Stream()
    grouped = source.to_dataframe(example=EXAMPLE).window(5).groupby("k")
    grouped.x.sum(stream_name="w").stream  # noqa: B018
    grouped.q.max(stream_name="w").stream  # noqa: B018
    grouped.q.max(stream_name="v").stream  # noqa: B018
    assert sorted(node.name for node in stateful_nodes(source)) == ["v", "w"]


def test_a_batch_sum_is_durable(tmp_path):
    batches = [[i, i + 1] for i in range(10)]

    def run(items, store):
        source = Stream.from_iterable(items, stream_name="src")
        out = source.to_batch(example=[0]).sum(stream_name="total").stream.sink_to_list()

        async def main():
            async with Checkpointer(source, store=store, interval=None, every=EVERY):
                await source.wait()

        asyncio.run(main())
        return out

    store = SQLiteStore(tmp_path / "s.db")
    first = run(batches[:5], store)
    assert first + run(batches, store) == list(np.cumsum([sum(b) for b in batches]))
    store.close()
