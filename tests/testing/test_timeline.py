"""record, feed and timeline (streams/testing/timeline.py)."""

import asyncio

import pytest

from streams import Stream
from streams.testing import feed, record, run_virtual, timeline


def slow_sink(seconds):
    """An async sink function that takes ``seconds`` per element."""

    async def write(x):
        await asyncio.sleep(seconds)

    return write


# ------------------------------------------------------------------ record


async def test_record_returns_exact_time_value_pairs():
    out = await record(lambda s: s.map(str.upper), feed=[(0, "a"), (1.5, "b"), (1.5, "c")])
    assert out == [(0.0, "A"), (1.5, "B"), (1.5, "C")]
    assert all(type(t) is float for t, _ in out)


async def test_record_the_source_itself():
    out = await record(lambda s: s, feed=[(0.25, 1), (3, 2)])
    assert out == [(0.25, 1), (3.0, 2)]


async def test_record_builds_on_a_fresh_source_each_time():
    sources = []

    def build(s):
        sources.append(s)
        return s

    await record(build, feed=[(0, 1)])
    await record(build, feed=[(0, 1)])
    assert len(sources) == 2 and sources[0] is not sources[1]
    assert all(type(s) is Stream for s in sources)


async def test_record_time_operators():
    assert await record(lambda s: s.delay(1.0), feed=[(0, "a"), (0.5, "b")], until=2) == [
        (1.0, "a"),
        (1.5, "b"),
    ]
    # the clock kept going: the second record starts where the first ended
    assert await record(lambda s: s.rate_limit(1.0), feed=[(2, "a"), (2, "b")]) == [
        (2.0, "a"),
        (3.0, "b"),
    ]


def test_record_in_run_virtual():
    assert run_virtual(record(lambda s: s.rate_limit(1.0), feed=[(0, "a"), (0, "b")])) == [
        (0.0, "a"),
        (1.0, "b"),
    ]


def test_record_uses_the_running_loops_clock():
    out = run_virtual(record(lambda s: s, feed=[(99, "early"), (101, "on time")]), start=100)
    assert out == [(100.0, "early"), (101.0, "on time")]


async def test_until_keeps_recording_after_the_input_ended():
    events = [(0.0, 1), (0.25, 2), (1.5, 3)]
    assert await record(lambda s: s.timed_window(1.0), feed=events, until=3.0) == [
        (1.0, [1, 2]),
        (2.0, [3]),
        (3.0, []),
    ]


async def test_without_until_recording_ends_with_the_input():
    loop = asyncio.get_running_loop()
    events = [(0.0, 1), (0.25, 2), (1.5, 3)]
    assert await record(lambda s: s.timed_window(1.0), feed=events) == [(1.0, [1, 2])]
    assert loop.time() == 1.5


async def test_until_includes_output_due_exactly_then():
    loop = asyncio.get_running_loop()
    out = await record(lambda s: s.delay(2.0), feed=[(0, "a"), (1, "b")], until=3.0)
    assert out == [(2.0, "a"), (3.0, "b")]
    assert loop.time() == 3.0


async def test_until_in_the_past_does_not_wait():
    loop = asyncio.get_running_loop()
    out = await record(lambda s: s.delay(10), feed=[(5, "a")], until=1)
    assert out == []
    assert loop.time() == 5.0


async def test_record_without_input():
    out = await record(lambda s: s.timed_window(2), until=5)
    assert out == [(2.0, []), (4.0, [])]


async def test_record_feed_may_be_a_generator():
    out = await record(lambda s: s.map(lambda x: x * 10), feed=((float(i), i) for i in range(3)))
    assert out == [(0.0, 0), (1.0, 10), (2.0, 20)]


async def test_record_waits_for_back_pressure():
    def build(s):
        s.sink(slow_sink(1.0))
        return s

    out = await record(build, feed=[(0, "a"), (0, "b"), (0.5, "c"), (5, "d")])
    assert out == [(0.0, "a"), (1.0, "b"), (2.0, "c"), (5.0, "d")]


# ------------------------------------------------------------------ feed


async def test_feed_emits_at_the_given_times():
    source = Stream()
    out = timeline(source)
    assert await feed(source, [(0.5, "a"), (2, "b"), (2, "c"), (2.25, "d")]) is None
    assert out == [(0.5, "a"), (2.0, "b"), (2.0, "c"), (2.25, "d")]
    assert asyncio.get_running_loop().time() == 2.25


async def test_feed_emits_late_elements_at_once_after_back_pressure():
    source = Stream()
    out = timeline(source)
    source.sink(slow_sink(1.0))
    await feed(source, [(0, "a"), (0.5, "b"), (0.75, "c"), (3, "d"), (3.5, "e")])
    # "b" was due at 0.5 but "a" was accepted only at 1.0: it goes at once, and so on
    assert out == [(0.0, "a"), (1.0, "b"), (2.0, "c"), (3.0, "d"), (4.0, "e")]
    assert asyncio.get_running_loop().time() == 5.0  # "e" accepted


async def test_feed_into_a_node_in_the_middle():
    source = Stream()
    middle = source.map(lambda x: x + 1)
    out = timeline(middle.map(lambda x: x * 2))
    await feed(middle, [(1, 1), (2, 2)])
    assert out == [(1.0, 2), (2.0, 4)]


async def test_feed_with_times_in_the_past_emits_at_once():
    await asyncio.sleep(10)
    source = Stream()
    out = timeline(source)
    await feed(source, [(1, "a"), (5, "b"), (12, "c")])
    assert out == [(10.0, "a"), (10.0, "b"), (12.0, "c")]


async def test_feed_nothing():
    source = Stream()
    out = timeline(source)
    await feed(source, [])
    assert out == []
    assert asyncio.get_running_loop().time() == 0.0


# ------------------------------------------------------------------ timeline


async def test_timeline_records_from_any_node():
    source = Stream()
    doubled = source.map(lambda x: x * 2)
    evens = doubled.filter(lambda x: x % 4 == 0)
    windows = evens.timed_window(1.0)
    at_source, at_doubled, at_evens, at_windows = (
        timeline(n) for n in (source, doubled, evens, windows)
    )
    await feed(source, [(0.5, 1), (0.75, 2), (1.25, 4)])
    await asyncio.sleep(0.75)
    assert at_source == [(0.5, 1), (0.75, 2), (1.25, 4)]
    assert at_doubled == [(0.5, 2), (0.75, 4), (1.25, 8)]
    assert at_evens == [(0.75, 4), (1.25, 8)]
    assert at_windows == [(1.0, [4]), (2.0, [8])]


async def test_timeline_adds_a_branch_without_changing_the_others():
    source = Stream()
    plain = source.sink_to_list()
    out = timeline(source)
    assert len(source.downstreams) == 2
    await source.emit("x")
    assert plain == ["x"] and out == [(0.0, "x")]


async def test_timeline_is_filled_as_elements_arrive():
    source = Stream()
    out = timeline(source.delay(1.0))
    await source.emit("a")
    assert out == []
    await asyncio.sleep(0.5)
    assert out == []
    await asyncio.sleep(1.0)
    assert out == [(1.0, "a")]


def test_timeline_needs_a_running_loop():
    with pytest.raises(RuntimeError):
        timeline(Stream())
