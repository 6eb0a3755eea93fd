"""Event-time windows over streaming DataFrames give, chunk after chunk, the panes that
``Stream.window`` gives on the same rows one at a time (the oracle), late rows included."""

import random
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from streams import Stream
from streams.dataframe import DataFrame
from streams.windows import EventClock, Hopping, Session, Sliding, Tumbling

EXAMPLE = pd.DataFrame({"ts": [0], "user": ["a"], "n": [0], "x": [0.0]})


def rows(seed, count, disorder, users=("a", "b", "c")):
    """``count`` rows, timestamps rising with up to ``disorder`` of jitter backwards."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        out.append(
            {
                "ts": max(0, i * 3 - rng.randrange(disorder + 1)),
                "user": rng.choice(users),
                "n": rng.randrange(10),
                "x": rng.random(),
            }
        )
    return out


def chunks(records, seed):
    rng = random.Random(seed)
    i = 0
    while i < len(records):
        size = rng.choice([1, 2, 5, 9, 30, 100])
        yield pd.DataFrame(records[i : i + size], columns=EXAMPLE.columns)
        i += size


def oracle(records, kind, how, bound, lateness, key="user"):
    """The panes and late rows of ``Stream.window`` on the rows one at a time."""
    source = Stream()
    windowed = source.window(
        kind,
        clock=EventClock(timestamp="ts", max_out_of_order=bound),
        key=key,
        allowed_lateness=lateness,
    )
    agg = {
        "count": lambda: windowed.count(),
        "sum": lambda: windowed.aggregate(
            (0, 0.0),
            lambda a, r: (a[0] + r["n"], a[1] + r["x"]),
            lambda a, b: (a[0] + b[0], a[1] + b[1]),
        ),
    }[how]()
    panes = agg.sink_to_list()
    late = agg.late.sink_to_list()
    for r in records:
        source.emit(r)
    agg.flush()
    return panes, late


@pytest.mark.parametrize(
    ("kind", "seed"),
    [
        (Tumbling(20), 1),
        (Tumbling(7, offset=3), 2),
        (Hopping(20, 5), 3),
        (Session(4), 4),
        (Sliding(10), 5),
    ],
)
@pytest.mark.parametrize("how", ["count", "sum"])
def test_panes_equal_those_of_the_rows_one_at_a_time(kind, seed, how, monkeypatch):
    from streams.dataframe.event_time import FrameWindows

    runs = []
    add_run = FrameWindows._add_run
    monkeypatch.setattr(
        FrameWindows, "_add_run", lambda self, *a: runs.append(a) or add_run(self, *a)
    )
    records = rows(seed, 400, disorder=80)
    bound, lateness = 15, 10
    expected, expected_late = oracle(records, kind, how, bound, lateness)
    sdf = DataFrame(example=EXAMPLE)
    clock = EventClock(timestamp="ts", max_out_of_order=bound)
    windowed = sdf.window(kind, clock=clock, key="user", allowed_lateness=lateness)
    out = getattr(windowed, how)()
    frames = out.stream.sink_to_list()
    late_frames = out.late.stream.sink_to_list()
    for chunk in chunks(records, seed):
        sdf.emit(chunk)
    out.stream.flush()
    got = pd.concat(frames, ignore_index=True)
    assert len(got) == len(expected)
    assert got["user"].tolist() == [p.key for p in expected]
    assert got["start"].tolist() == [p.start for p in expected]
    assert got["end"].tolist() == [p.end for p in expected]
    assert got["timing"].tolist() == [p.timing for p in expected]
    assert got["index"].tolist() == [p.index for p in expected]
    if how == "count":
        assert got["count"].tolist() == [p.value for p in expected]
    else:
        assert got["n"].tolist() == [p.value[0] for p in expected]
        np.testing.assert_allclose(got["x"].to_numpy(), [p.value[1] for p in expected])
    late = pd.concat(late_frames) if late_frames else EXAMPLE.iloc[:0]
    assert late.to_dict("records") == expected_late
    assert len(expected_late) > 0  # the data has late rows, so that path is tested
    assert bool(runs) == isinstance(kind, Tumbling)  # and tumbling windows take runs at once


def test_datetime_column_and_index():
    start = datetime(2026, 12, 6, 9, 0)
    times = [start + timedelta(seconds=s) for s in (5, 50, 65, 20, 130)]
    frame = pd.DataFrame({"at": pd.to_datetime(times), "clicks": [1, 2, 3, 4, 5]})
    sdf = DataFrame(example=frame.iloc[:0])
    clock = EventClock(timestamp="at", max_out_of_order=timedelta(seconds=2))
    out = sdf.window(Tumbling(timedelta(minutes=1)), clock=clock).sum()
    panes = out.stream.sink_to_list()
    late = out.late.stream.sink_to_list()
    sdf.emit(frame)
    got = pd.concat(panes, ignore_index=True)
    assert got["start"].tolist() == [
        pd.Timestamp(start),
        pd.Timestamp(start + timedelta(minutes=1)),
    ]
    assert got["clicks"].tolist() == [3, 3]  # 20 s came when [9:00, 9:01) was closed
    assert pd.concat(late)["clicks"].tolist() == [4]

    indexed = DataFrame(example=frame.set_index("at").iloc[:0])
    counts = indexed.window(
        Tumbling(timedelta(minutes=1)),
        clock=EventClock(timestamp=None, max_out_of_order=timedelta(minutes=5)),
    ).count()
    got = counts.stream.sink_to_list()
    indexed.emit(frame.set_index("at"))
    counts.stream.flush()
    assert pd.concat(got)["count"].tolist() == [3, 1, 1]


def test_bad_options_are_refused_when_built():
    sdf = DataFrame(example=EXAMPLE)
    with pytest.raises(KeyError, match="no column 'when'"):
        sdf.window(Tumbling(5), clock=EventClock(timestamp="when")).count()
    with pytest.raises(TypeError, match="the clock's timestamp is a column name"):
        sdf.window(Tumbling(5), clock=EventClock(timestamp=lambda r: r)).count()
    with pytest.raises(TypeError, match="need a window kind such as Tumbling"):
        sdf.window(n=3, clock=EventClock())
    with pytest.raises(TypeError, match="for streaming DataFrames"):
        sdf.x.window(Tumbling(5))


def test_the_rolling_window_of_streamz_is_unchanged():
    sdf = DataFrame(example=EXAMPLE)
    sums = sdf.window(n=2).x.sum().stream.sink_to_list()
    sdf.emit(
        pd.DataFrame({"ts": [1, 2, 3], "user": ["a"] * 3, "n": [1, 2, 3], "x": [1.0, 2.0, 3.0]})
    )
    assert sums == [5.0]


def test_a_chunks_refs_are_held_until_the_panes_with_its_rows_went_out():
    from streams import RefCounter

    acked = []
    sdf = DataFrame(example=EXAMPLE)
    clock = EventClock(timestamp="ts")
    out = sdf.window(Tumbling(10), clock=clock, key="user").count()
    panes = out.stream.sink_to_list()
    rows = [{"ts": t, "user": "a", "n": 1, "x": 0.0} for t in range(9)]
    sdf.stream.emit(  # metadata rides on the chunk (sdf.emit checks the schema only)
        pd.DataFrame(rows, columns=EXAMPLE.columns),
        metadata=[{"ref": RefCounter(cb=lambda: acked.append("first"))}],
    )
    assert acked == [] and panes == []  # its rows wait in [0, 10)
    sdf.emit(pd.DataFrame([{"ts": 12, "user": "a", "n": 1, "x": 0.0}], columns=EXAMPLE.columns))
    assert acked == ["first"]  # the on_time pane of [0, 10) went out
    assert pd.concat(panes)["count"].tolist() == [9]
