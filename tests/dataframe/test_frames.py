"""Streaming DataFrames as a user meets them: construction, checked emit, errors that lose
nothing, back pressure, Batch, the periodic sources, and Dask."""

import asyncio
import json

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from streams import Stream
from streams.collection import Batch, Streaming
from streams.dataframe import (
    Additive,
    Aggregation,
    DataFrame,
    DataFrames,
    PeriodicDataFrame,
    Random,
    SchemaError,
    Series,
)
from streams.testing import run_virtual

EXAMPLE = pd.DataFrame({"x": [1, 2, 3], "y": [4.0, 5.0, 6.0]})


def test_example_must_be_a_pandas_object_of_the_right_kind():
    with pytest.raises(
        TypeError, match=r"DataFrame: the example must be a pandas DataFrame, got \[123\]"
    ):
        DataFrame(example=[123])
    with pytest.raises(TypeError, match="an example is needed"):
        DataFrame()
    with pytest.raises(TypeError, match="Series"):
        Series(example=EXAMPLE)


@pytest.mark.parametrize(
    ("chunk", "error", "message"),
    [
        (1, TypeError, "expected a pandas DataFrame, got int"),
        (pd.DataFrame(), SchemaError, r"missing column\(s\) \['x', 'y'\]"),
        (EXAMPLE.assign(z=1), SchemaError, r"unexpected column\(s\) \['z'\]"),
        (EXAMPLE[["y", "x"]], SchemaError, "columns in another order"),
        (EXAMPLE.astype({"x": float}), TypeError, "column 'x' has dtype float64, expected int64"),
    ],
)
def test_a_bad_chunk_is_refused_naming_the_cause_and_changes_no_state(chunk, error, message):
    sdf = DataFrame(example=EXAMPLE.iloc[:0])
    totals = sdf.x.sum().stream.sink_to_list()
    sdf.emit(EXAMPLE)
    with pytest.raises(error, match=message):
        sdf.emit(chunk)
    sdf.emit(EXAMPLE)
    assert totals == [6, 12]


def test_schema_error_is_an_index_error_as_in_streamz():
    sdf = DataFrame(example=EXAMPLE)
    with pytest.raises(IndexError):
        sdf.emit(pd.DataFrame())


def test_series_emit_checks_name_and_dtype():
    s = Series(example=pd.Series([], dtype="float64", name="p"))
    with pytest.raises(SchemaError, match="named 'q'"):
        s.emit(pd.Series([1.0], name="q"))
    with pytest.raises(TypeError, match="dtype int64, expected float64"):
        s.emit(pd.Series([1], name="p"))


def test_a_failing_function_reaches_the_emitter_and_the_state_keeps_what_was_accepted():
    sdf = DataFrame(example=EXAMPLE)

    def fragile(df):
        if (df.x > 100).any():
            raise ValueError("x too large")
        return df

    totals = sdf.map_partitions(fragile).x.sum().stream.sink_to_list()
    sdf.emit(EXAMPLE)
    with pytest.raises(ValueError, match="x too large"):
        sdf.emit(EXAMPLE.assign(x=[1, 200, 3]))
    sdf.emit(EXAMPLE)
    assert totals == [6, 12]


def test_emit_returns_the_graphs_awaitable_for_back_pressure():
    async def main():
        sdf = DataFrame(example=EXAMPLE, stream=Stream(asynchronous=True))
        seen = []

        async def slow_write(df):
            await asyncio.sleep(1)
            seen.append(len(df))

        sdf.stream.sink(slow_write)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await sdf.emit(EXAMPLE)
        await sdf.emit(EXAMPLE)
        return seen, loop.time() - start

    seen, elapsed = run_virtual(main())
    assert seen == [3, 3]
    assert elapsed == pytest.approx(2.0)


def test_columns_attributes_and_dir():
    sdf = DataFrame(example=EXAMPLE)
    assert list(sdf.columns) == ["x", "y"]
    assert str(sdf.dtypes) == str(EXAMPLE.dtypes)
    assert sdf.x.dtype == EXAMPLE.x.dtype
    assert "x" in dir(sdf)
    with pytest.raises(AttributeError, match="no attribute or column 'z'"):
        sdf.z  # noqa: B018


def test_elementwise_operations_match_pandas_chunk_by_chunk():
    sdf = DataFrame(example=EXAMPLE.iloc[:0])
    outputs = {
        "arith": ((sdf.x + sdf.y) * 2 - 1).stream.sink_to_list(),
        "reflected": (10 / sdf.y).stream.sink_to_list(),
        "assign": sdf.assign(z=sdf.x * 3, w=1).stream.sink_to_list(),
        "astype": sdf.astype(float).stream.sink_to_list(),
        "rename": sdf.rename(columns={"x": "a"}).stream.sink_to_list(),
        "query": sdf.query("x > 1").stream.sink_to_list(),
        "set_index": sdf.set_index("x").stream.sink_to_list(),
        "reset_index": sdf.reset_index(drop=True).stream.sink_to_list(),
        "round": (sdf.y / 3).round(2).stream.sink_to_list(),
        "masked": sdf[sdf.x > 1].stream.sink_to_list(),
        "masked_column": sdf[sdf.x > 1].y.stream.sink_to_list(),
        "index": (sdf.index + 5).stream.sink_to_list(),
        "to_frame": sdf.x.to_frame().stream.sink_to_list(),
    }
    chunk = EXAMPLE.iloc[1:]
    sdf.emit(chunk)
    expected = {
        "arith": (chunk.x + chunk.y) * 2 - 1,
        "reflected": 10 / chunk.y,
        "assign": chunk.assign(z=chunk.x * 3, w=1),
        "astype": chunk.astype(float),
        "rename": chunk.rename(columns={"x": "a"}),
        "query": chunk.query("x > 1"),
        "set_index": chunk.set_index("x"),
        "reset_index": chunk.reset_index(drop=True),
        "round": (chunk.y / 3).round(2),
        "masked": chunk[chunk.x > 1],
        "masked_column": chunk.y[chunk.x > 1],
        "index": chunk.index + 5,
        "to_frame": chunk.x.to_frame(),
    }
    for name, out in outputs.items():
        got, want = out[-1], expected[name]
        if isinstance(want, pd.DataFrame):
            assert_frame_equal(got, want, obj=name)
        elif isinstance(want, pd.Series):
            assert_series_equal(got, want, obj=name)
        else:
            assert got.equals(want), name


def test_setitem_replaces_the_frame_in_place():
    sdf = DataFrame(example=EXAMPLE.iloc[:0])
    sdf["z"] = sdf.x * 2
    sdf["a"] = 10
    sdf[["c", "d"]] = sdf[["x", "y"]]
    out = sdf.stream.sink_to_list()
    sdf.stream.upstreams[0]  # the chain hangs off the original source
    source = sdf.stream
    while source.upstreams:
        source = source.upstreams[0]
    source.emit(EXAMPLE)
    expected = EXAMPLE.copy()
    expected["z"] = expected.x * 2
    expected["a"] = 10
    expected[["c", "d"]] = expected[["x", "y"]]
    assert_frame_equal(out[-1], expected)


def test_a_frame_from_a_dict_of_streaming_columns():
    sdf = DataFrame(example=EXAMPLE)
    built = DataFrame({"a": sdf.x, "b": sdf.x * 2, "c": sdf.y % 2})
    assert list(built.columns) == ["a", "b", "c"]
    out = built.stream.sink_to_list()
    sdf.emit(EXAMPLE)
    assert_frame_equal(
        out[0], pd.DataFrame({"a": EXAMPLE.x, "b": EXAMPLE.x * 2, "c": EXAMPLE.y % 2})
    )


def test_running_results_are_updating_streams():
    sdf = DataFrame(example=EXAMPLE)
    assert sdf.x.sum()._stream_type == "updating"
    assert (sdf.x.sum() + 1)._stream_type == "updating"
    assert sdf.groupby("x").y.mean()._stream_type == "updating"
    assert sdf.x._stream_type == "streaming"
    assert DataFrames(example=EXAMPLE)._stream_type == "updating"


def test_start_values_continue_a_previous_run():
    example = pd.DataFrame(
        {"name": pd.Series([], dtype=object), "amount": pd.Series([], dtype="int64")}
    )
    source = Stream()
    sdf = DataFrame(source, example=example)
    means = sdf.amount.mean(start=(10, 2)).stream.sink_to_list()
    counts = sdf.amount.count(start=3).stream.sink_to_list()
    sums = sdf.amount.sum(start=10).stream.sink_to_list()
    source.emit(pd.DataFrame({"name": ["a", "b", "c"], "amount": [50, 100, 200]}))
    assert (means, counts, sums) == ([72.0], [6], [360])


def test_custom_aggregation_running_and_in_a_window():
    class Calls(Aggregation):
        def initial(self, new):
            return 0

        def on_new(self, state, new):
            return state + 1, state

        def on_old(self, state, old):
            return state - 100, state

    df = pd.DataFrame({"x": np.arange(10.0)})
    sdf = DataFrame(example=df)
    running = sdf.aggregate(Calls()).stream.sink_to_list()
    windowed = sdf.window(n=5).aggregate(Calls()).stream.sink_to_list()
    for _ in range(3):
        sdf.emit(df)
    assert running == [0, 1, 2]
    # chunk 2 pushes out the 5 held rows and 5 of its own: two pieces leave, two on_old
    assert windowed == [1, -198, -397]


def test_an_additive_aggregation_takes_whole_chunks_out_with_their_summary():
    seen = []

    class Total(Additive):
        def initial(self, new):
            return 0.0

        def summarize(self, rows):
            seen.append(rows.tolist())
            return float(rows.sum())

        def fold(self, state, summary, sign):
            state = state + sign * summary
            return state, state

    sdf = DataFrame(example=pd.DataFrame({"x": [0.0]}))
    totals = sdf.window(n=4).x.aggregate(Total()).stream.sink_to_list()
    seen.clear()  # building the result worked out its example on an empty chunk
    for chunk in ([1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0]):
        sdf.emit(pd.DataFrame({"x": chunk}))
    assert totals == [3.0, 10.0, 18.0, 22.0]
    # each chunk is read once on the way in; [1, 2] left whole with its summary, and
    # only the split of [3, 4] was read again
    assert seen == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0], [3.0]]


def test_window_with_state_resumes_from_the_held_rows():
    example = pd.DataFrame({"amount": pd.Series([], dtype="int64")})
    source = Stream()
    sdf = DataFrame(source, example=example)
    out = sdf.window(2, with_state=True).amount.sum().stream.sink_to_list()
    source.emit(pd.DataFrame({"amount": [50, 100, 200]}))
    source.emit(pd.DataFrame({"amount": [250]}))
    held, total = out[-1]
    assert total == 450
    again = Stream()
    resumed = DataFrame(again, example=example).window(2, with_state=True, start=held)
    out2 = resumed.amount.sum().stream.sink_to_list()
    again.emit(pd.DataFrame({"amount": [50]}))
    assert out2[-1][1] == 300


def test_rolling_with_state_resumes():
    example = pd.DataFrame({"amount": pd.Series([], dtype="float64")})
    source = Stream()
    out = DataFrame(source, example=example).rolling(2, with_state=True).amount.sum()
    got = out.stream.sink_to_list()
    source.emit(pd.DataFrame({"amount": [50.0, 100.0, 200.0]}))
    source.emit(pd.DataFrame({"amount": [250.0]}))
    tail, result = got[-1]
    assert tail.tolist() == [200.0, 250.0]  # the rows of the last full window
    assert result.tolist() == [450.0]


def test_window_needs_exactly_one_bound():
    sdf = DataFrame(example=EXAMPLE)
    with pytest.raises(ValueError, match="give n= "):
        sdf.window()
    with pytest.raises(ValueError, match="not both"):
        sdf.window(n=2, value=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"com": 1, "halflife": 1}, "Can only provide one of"),
        ({}, "Must pass one of"),
        ({"com": -1}, "com"),
        ({"span": 0}, "span"),
        ({"halflife": 0}, "halflife"),
        ({"alpha": 2}, "alpha"),
    ],
)
def test_ewm_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataFrame(example=EXAMPLE).ewm(**kwargs)


def test_ewm_supports_mean_only():
    ewm = DataFrame(example=EXAMPLE).ewm(com=1)
    with pytest.raises(NotImplementedError, match="only mean"):
        ewm.var()


def test_groupby_agg_list_and_bad_names():
    sdf = DataFrame(example=EXAMPLE)
    out = sdf.groupby("x").y.agg(["sum", "max"]).stream.sink_to_list()
    sdf.emit(EXAMPLE)
    sdf.emit(EXAMPLE)
    full = pd.concat([EXAMPLE, EXAMPLE])
    assert_frame_equal(out[-1], full.groupby("x").y.agg(["sum", "max"]))
    with pytest.raises(ValueError, match="unknown aggregation 'median'"):
        sdf.groupby("x").y.agg("median")


def test_stream_to_dataframe_and_to_batch():
    source = Stream()
    totals = source.to_dataframe(example=EXAMPLE).x.sum().stream.sink_to_list()
    for _ in range(3):
        source.emit(EXAMPLE)
    assert totals == [6, 12, 18]

    source = Stream()
    sdf = source.partition(4).to_batch(example=['{"x": 0, "y": 0}']).map(json.loads).to_dataframe()
    means = sdf.groupby(sdf.x).y.sum().mean().stream.sink_to_list()
    for i in range(12):
        source.emit(json.dumps({"x": i % 3, "y": i}))
    assert means == [2, 28 / 3, 22.0]


def test_batch_operations():
    b = Batch()
    plucked = b.pluck("x").map(lambda v: v + 1)
    total = plucked.sum()
    evens = b.pluck("x").filter(lambda v: v % 2 == 0).to_stream().sink_to_list()
    pairs = b.pluck(["x", "y"]).to_stream().sink_to_list()
    sums = total.stream.sink_to_list()
    b.emit([{"x": i, "y": -i} for i in range(4)])
    b.emit(({"x": 10, "y": 0},))
    assert isinstance(plucked, Batch)
    assert isinstance(total, Streaming)
    assert sums == [10, 21]
    assert evens == [0, 2, 10]
    assert pairs[:2] == [(0, 0), (1, -1)]
    with pytest.raises(TypeError, match=r"Batch\.emit: expected list or tuple, got int"):
        b.emit(3)


def test_batch_to_dataframe():
    b = Batch(example=[{"x": 0, "y": 0}])
    sdf = b.map(lambda d: {**d, "z": d["x"] + d["y"]}).to_dataframe()
    assert isinstance(sdf, DataFrame)
    out = sdf.stream.sink_to_list()
    data = [{"x": i, "y": 2 * i} for i in range(10)]
    for i in range(0, 10, 3):
        b.emit(data[i : i + 3])
    assert pd.concat(out).z.tolist() == [3 * i for i in range(10)]


def test_periodic_dataframe_on_the_virtual_clock():
    def rows(last, now, **kwargs):
        return pd.DataFrame({"x": [1]}, index=[now])

    async def main():
        sdf = PeriodicDataFrame(rows, interval="100ms", start=False)
        counts = sdf.x.count().stream.sink_to_list()
        sdf.start()
        await asyncio.sleep(0.55)
        sdf.stop()
        await asyncio.sleep(0.5)
        return [int(c) for c in counts]

    # the call at start() marks the time; chunks follow every interval, none after stop()
    assert run_virtual(main()) == [1, 2, 3, 4, 5]


def test_random_source_rows_follow_freq():
    async def main():
        sdf = Random(freq="10ms", interval="100ms", start=False)
        chunks = sdf.stream.sink_to_list()
        sdf.start()
        await asyncio.sleep(0.25)
        sdf.stop()
        return sdf, chunks

    sdf, chunks = run_virtual(main())
    assert list(sdf.columns) == ["x", "y", "z"]
    assert chunks and all(isinstance(c.index, pd.DatetimeIndex) for c in chunks)
    assert all(((c.x >= 0) & (c.x < 1)).all() for c in chunks)


def test_import_streams_dataframe_registers_the_frame_wrappers():
    sdf = DataFrame(example=EXAMPLE)
    assert isinstance(sdf.x, Series)
    assert isinstance(sdf[["x"]], DataFrame)
    assert type(sdf.x.sum()) is Streaming
