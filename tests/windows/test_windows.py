"""Event-time windows beyond the acceptance scenarios: aggregations, bad input, refs,
datetimes, per-key watermarks and late panes every n elements."""

import asyncio
import math
from datetime import datetime, timedelta
from operator import itemgetter

import pytest

from streams import RefCounter, Stream
from streams.testing import run_virtual
from streams.windows import EventClock, Hopping, ProcessingClock, Session, Sliding, Tumbling

BY_VALUE = EventClock(timestamp=lambda x: x)


@pytest.mark.parametrize(
    ("pick", "expected"),
    [
        (lambda b: b.count(), 3),
        (lambda b: b.sum(), 6),
        (lambda b: b.mean(), 2.0),
        (lambda b: b.min(), 1),
        (lambda b: b.max(), 3),
        (lambda b: b.reduce(lambda a, x: a * 10 + x), 312),
        (lambda b: b.collect(), [1, 2, 3]),  # timestamp order, not arrival order
        (lambda b: b.apply(lambda xs: "-".join(map(str, xs))), "1-2-3"),
        (lambda b: b.aggregate([], lambda acc, x: [*acc, x], result=len), 3),
    ],
)
def test_aggregations(pick, expected):
    source = Stream()
    node = pick(source.window(Tumbling(10), clock=BY_VALUE))
    out = node.sink_to_list()
    for x in (3, 1, 2, 10):
        source.emit(x)
    assert [r.value for r in out] == [expected]


def test_a_missing_or_incomparable_timestamp_fails_naming_the_node_and_keeps_the_window():
    source = Stream()
    node = source.window(Tumbling(10), clock=EventClock(timestamp=itemgetter("t"))).count()
    out = node.sink_to_list()
    source.emit({"t": 1})
    with pytest.raises(KeyError) as missing:
        source.emit({"x": 2})
    assert "window<Tumbling(10).count>" in " ".join(missing.value.__notes__)
    with pytest.raises(TypeError, match=r"window<Tumbling\(10\).count>: timestamp None cannot"):
        source.emit({"t": None})
    with pytest.raises(TypeError, match="timestamp nan is not a time"):
        source.emit({"t": math.nan})
    source.emit({"t": 12})
    assert [(r.start, r.value) for r in out] == [(0, 1)]  # the bad ones changed nothing


def test_without_a_timestamp_function_the_metadata_timestamp_is_used():
    source = Stream()
    node = source.window(Tumbling(10)).count()
    out = node.sink_to_list()
    source.emit("a", metadata=[{"timestamp": 3}])
    source.emit("b", metadata=[{"timestamp": 15}])
    with pytest.raises(ValueError, match="the element has no timestamp"):
        source.emit("c")
    assert [(r.start, r.value) for r in out] == [(0, 1)]


def test_bad_windows_are_refused_when_built():
    with pytest.raises(ValueError, match="step must be positive and at most the size"):
        Hopping(10, 20)
    with pytest.raises(ValueError, match="size must be positive"):
        Tumbling(-1)
    with pytest.raises(ValueError, match="gap must be positive"):
        Session(0)
    with pytest.raises(ValueError, match="aggregate over Session windows needs merge="):
        Stream().window(Session(5)).aggregate(0, lambda a, x: a + x)
    with pytest.raises(ValueError, match="emit must be 'final' or 'update'"):
        Stream().window(Tumbling(5), emit="sometimes")
    with pytest.raises(TypeError, match="kind must be Tumbling, Hopping, Session or Sliding"):
        Stream().window(5)
    with pytest.raises(ValueError, match="size must be positive"):
        Sliding(0)
    with pytest.raises(ValueError, match="early_count and early_interval are for emit='final'"):
        Stream().window(Tumbling(5), emit="update", early_count=2)
    with pytest.raises(ValueError, match="early_count must be a positive int"):
        Stream().window(Tumbling(5), early_count=0)
    with pytest.raises(ValueError, match="early_interval must be a positive number"):
        Stream().window(Tumbling(5), early_interval=-1)
    with pytest.raises(ValueError, match="allowed_lateness must not be negative"):
        Stream().window(Tumbling(5), allowed_lateness=-1)
    with pytest.raises(ValueError, match="max_out_of_order must not be negative"):
        EventClock(max_out_of_order=timedelta(seconds=-1))
    with pytest.raises(ValueError, match="idle_timeout must be a number of seconds"):
        EventClock(idle_timeout=math.inf)
    with pytest.raises(TypeError, match="partition must be callable"):
        EventClock(partition="p")


def test_refs_are_held_until_a_pane_with_the_element_was_accepted():
    source = Stream()
    node = source.window(Tumbling(10), clock=BY_VALUE).collect()
    node.sink_to_list()
    node.late.sink_to_list()
    refs = [RefCounter() for _ in range(3)]
    for x, ref in zip((1, 2, 11), refs, strict=True):
        source.emit(x, metadata=[{"ref": ref}])
    assert [r.count for r in refs] == [0, 0, 1]  # [0, 10) went out; [10, 20) holds 11
    late_ref = RefCounter()
    source.emit(3, metadata=[{"ref": late_ref}])  # no window takes it: to .late
    assert late_ref.count == 0
    node.flush()
    assert refs[2].count == 0


def test_datetimes_and_timedeltas():
    day = datetime(2026, 12, 6)
    source = Stream()
    clock = EventClock(timestamp=itemgetter(0), max_out_of_order=timedelta(minutes=1))
    node = source.window(Tumbling(timedelta(hours=1)), clock=clock).sum(itemgetter(1))
    out = node.sink_to_list()
    for minutes, n in [(5, 1), (59, 2), (61, 4), (62, 8)]:
        source.emit((day + timedelta(minutes=minutes), n))
    assert [(r.start, r.end, r.value) for r in out] == [(day, day + timedelta(hours=1), 3)]
    assert node.watermark == day + timedelta(minutes=61)


def test_per_key_watermarks_are_reported_per_key():
    source = Stream()
    clock = EventClock(timestamp=itemgetter(1), per_key=True)
    node = source.window(Tumbling(10), clock=clock, key=0).count()
    node.sink_to_list()
    source.emit(("a", 12))
    source.emit(("b", 3))
    assert node.watermark == {"a": 12, "b": 3}


def test_late_panes_every_n_late_elements():
    source = Stream()
    node = source.window(
        Tumbling(10), clock=BY_VALUE, allowed_lateness=math.inf, late_count=2
    ).count()
    out = node.sink_to_list()
    for x in (1, 15, 2, 3, 4):
        source.emit(x)
    assert [(r.start, r.value, r.timing, r.index) for r in out] == [
        (0, 1, "on_time", 0),
        (0, 3, "late", 1),  # after 2 and 3
    ]


def test_the_late_output_is_named_after_the_node():
    node = Stream().window(Tumbling(10), clock=BY_VALUE, stream_name="per minute").count()
    assert "per minute.late" in str(node.late)


@pytest.mark.parametrize("kind", [Tumbling(10), Hopping(10, 5), Session(3), Sliding(4)])
def test_a_failing_aggregation_sends_the_element_to_the_error_channel(kind):
    source = Stream()
    windowed = source.window(kind, clock=BY_VALUE)
    node = windowed.aggregate(0, lambda acc, x: acc + 10 // x, merge=lambda a, b: a + b)
    node.on_error = "dead_letter"
    errors = source.errors().sink_to_list()
    out = node.sink_to_list()
    for x in (1, 0, 2):
        source.emit(x)
    node.flush()
    assert [(e.element, type(e.error)) for e in errors] == [(0, ZeroDivisionError)]
    assert "window<" in " ".join(errors[0].error.__notes__)
    assert {r.value for r in out} <= {10, 5, 15}  # 0 left no trace in any window
    assert sum(r.value for r in out if r.start <= 1 < r.end) >= 10


def test_datetimes_with_an_idle_timeout():
    start = datetime(2026, 1, 1, 12, 0, 0)

    async def main():
        source = Stream()
        clock = EventClock(timestamp=itemgetter("at"), idle_timeout=2)
        node = source.window(Tumbling(timedelta(minutes=1)), clock=clock).count()
        out = node.sink_to_list()
        await source.emit({"at": start + timedelta(seconds=50)})
        await asyncio.sleep(11.5)  # idle after 2 s, then 1 s of time per loop second
        assert out == []
        await asyncio.sleep(1)
        return out

    out = run_virtual(main())
    assert [(r.start, r.end, r.value) for r in out] == [(start, start + timedelta(minutes=1), 1)]


def test_per_key_clocks_with_an_idle_timeout():
    async def main():
        loop = asyncio.get_running_loop()
        source = Stream()
        clock = EventClock(timestamp=itemgetter(1), per_key=True, idle_timeout=1)
        node = source.window(Tumbling(10), clock=clock, key=itemgetter(0)).count()
        out = []
        node.sink(lambda r: out.append((loop.time(), r.key, r.value)))
        await source.emit(("a", 5))  # a's W = 5, idle from 1 on: 10 at loop time 6
        await asyncio.sleep(2)
        await source.emit(("b", 9))  # b's W = 9, idle from 3 on: 10 at loop time 4
        await asyncio.sleep(10)
        return out

    assert run_virtual(main()) == [(4, "b", 1), (6, "a", 1)]


def test_a_processing_clock_needs_no_timestamp():
    async def main():
        source = Stream()
        node = source.window(Tumbling(5), clock=ProcessingClock()).count()
        out = node.sink_to_list()
        for _ in range(3):
            await source.emit(object())
            await asyncio.sleep(2)
        await asyncio.sleep(10)
        return [(r.start, r.value) for r in out]

    assert run_virtual(main()) == [(0, 3)]
