"""timed_window, timed_window_unique, delay, rate_limit, buffer and latest, on the
virtual clock: timelines in, timelines out, back pressure as virtual durations."""

import asyncio
import datetime
import threading
import time

import pytest
from helpers import spin

import streams
from streams import RefCounter, Stream
from streams.runtime import UNBOUND
from streams.testing import record, timeline


def timed_ref(log, name):
    """Metadata with a RefCounter that logs ``(release time, name)`` when let go."""
    loop = asyncio.get_running_loop()
    return [{"ref": RefCounter(cb=lambda: log.append((loop.time(), name)))}]


async def emit_waits(source, x, **kwargs):
    """Emit ``x`` and return how long (virtual seconds) the emitter waited."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await source.emit(x, **kwargs)
    return loop.time() - t0


async def slow(x):
    """A consumer that takes one virtual second per element."""
    await asyncio.sleep(1.0)


def slow_sink(node, seconds=1.0):
    """Sink ``node`` into a consumer taking ``seconds``; return its (start time, x) log."""
    loop = asyncio.get_running_loop()
    seen = []

    async def consume(x):
        seen.append((loop.time(), x))
        await asyncio.sleep(seconds)

    node.sink(consume)
    return seen


# ------------------------------------------------------------------ timed_window


async def test_timed_window_emits_every_interval_with_empty_windows():
    out = await record(
        lambda s: s.timed_window(1.0), feed=[(0.0, 1), (0.25, 2), (1.5, 3)], until=4.0
    )
    assert out == [(1.0, [1, 2]), (2.0, [3]), (3.0, []), (4.0, [])]


async def test_timed_window_ticks_count_from_when_the_graph_got_its_loop():
    await asyncio.sleep(0.5)
    out = await record(lambda s: s.timed_window("1s"), feed=[(0.75, 1), (2.0, 2)], until=3.5)
    assert out == [(1.5, [1]), (2.5, [2]), (3.5, [])]


def test_timed_window_first_tick_counts_from_binding_not_from_the_ticker_s_first_run():
    # streamz's test_timed_window_unique: a window built, then filled before the loop
    # gets round to starting its ticker, still closes one interval after it was built
    # (real time: the loop is kept busy, which a virtual clock cannot show)
    async def main():
        loop = asyncio.get_running_loop()
        source = Stream()
        window = source.timed_window(0.5)
        built = loop.time()
        ticks = []
        window.sink(lambda w: ticks.append((loop.time() - built, w)))
        time.sleep(0.3)  # busy: the ticker task has not run yet
        await source.emit(1)
        await asyncio.sleep(0.65 - (loop.time() - built))
        return ticks

    ticks = asyncio.run(main())
    assert [w for _, w in ticks] == [[1]]
    assert 0.5 <= ticks[0][0] < 0.65


async def test_timed_window_built_without_a_loop_ticks_from_its_first_emit():
    built = []

    def build_elsewhere():  # no loop runs in that thread: the graph stays unbound
        source = Stream()
        built.append((source, source.timed_window(1.0)))

    thread = threading.Thread(target=build_elsewhere)
    thread.start()
    thread.join()
    source, window = built[0]
    assert window._home is UNBOUND
    out = timeline(window)
    await asyncio.sleep(0.5)
    await source.emit(1)  # the graph takes this loop now
    assert window.loop.asyncio_loop is asyncio.get_running_loop()
    await asyncio.sleep(3.25)
    assert out == [(1.5, [1]), (2.5, []), (3.5, [])]


async def test_timed_window_elements_at_exact_tick_times_do_not_drift_or_get_lost():
    events = [(k * 0.25, k) for k in range(40)]
    out = await record(lambda s: s.timed_window(0.25), feed=events, until=10.5)
    assert [t for t, _ in out] == [k * 0.25 for k in range(1, 43)]
    assert [x for _, window in out for x in window] == list(range(40))


async def test_timed_window_slow_consumer_makes_emitters_wait_and_skips_missed_ticks():
    loop = asyncio.get_running_loop()
    source = Stream()
    seen = slow_sink(source.timed_window(1.0), seconds=2.5)
    assert await emit_waits(source, 1) == 0.0
    await asyncio.sleep(1.5)  # the window [1] is being accepted from 1.0 to 3.5
    assert await emit_waits(source, 2) == 2.0
    await asyncio.sleep(5.0 - loop.time())
    # ticks 2.0 and 3.0 fell while the consumer was busy: the next one is 4.0
    assert seen == [(1.0, [1]), (4.0, [2])]


async def test_timed_window_drain_emits_at_once_and_ticks_go_on():
    loop = asyncio.get_running_loop()
    source = Stream()
    out = timeline(source.timed_window(10))
    await asyncio.sleep(0.5)
    await source.emit(1)
    await source.emit(2)
    await source.drain()
    assert loop.time() == 0.5
    assert out == [(0.5, [1, 2])]
    await source.drain()  # nothing held: nothing emitted
    await source.emit(3)
    await asyncio.sleep(10.5 - loop.time())
    assert out == [(0.5, [1, 2]), (10.0, [3])]


async def test_timed_window_drain_waits_for_a_window_still_being_consumed():
    loop = asyncio.get_running_loop()
    source = Stream()
    done = []

    async def consume(window):
        await asyncio.sleep(2.0)
        done.append((loop.time(), window))

    source.timed_window(1.0).sink(consume)
    await source.emit(1)
    await asyncio.sleep(1.5)  # the window [1] is being consumed from 1.0 to 3.0
    await source.drain()  # "async sinks finish"
    assert done == [(3.0, [1])]
    assert loop.time() == 3.0


async def test_timed_window_holds_refs_until_the_window_is_emitted():
    log = []
    source = Stream()
    out = timeline(source.timed_window(1.0))
    await source.emit("a", metadata=timed_ref(log, "a"))
    await asyncio.sleep(0.5)
    await source.emit("b", metadata=timed_ref(log, "b"))
    await asyncio.sleep(0.25)
    assert log == []
    await asyncio.sleep(0.5)
    assert out == [(1.0, ["a", "b"])]
    assert log == [(1.0, "a"), (1.0, "b")]


def test_timed_window_in_a_plain_script_runs_on_the_background_loop():
    source = Stream()
    threads = source.map(lambda x: threading.current_thread().name).sink_to_list()
    window = source.timed_window("10ms")
    windows = window.sink_to_list()
    assert window._home is UNBOUND
    try:
        for i in range(200):
            assert source.emit(i) is None
        assert window.loop.asyncio_loop is streams.loop.background_loop()
        source.drain()
        assert sum(len(w) for w in windows) == 200
        assert [x for w in list(windows) for x in w] == list(range(200))
        assert set(threads) == {"streams-loop"}
    finally:
        window.destroy()


# ------------------------------------------------------------------ timed_window_unique


@pytest.mark.parametrize(
    ("keep", "expected"),
    [("first", [(1.0, ("a", "b")), (2.0, ("c",))]), ("last", [(1.0, ("b", "a")), (2.0, ("c",))])],
)
async def test_timed_window_unique_keep(keep, expected):
    events = [(0.0, "a"), (0.25, "b"), (0.5, "a"), (1.5, "c")]
    out = await record(lambda s: s.timed_window_unique(1.0, keep=keep), feed=events, until=2.0)
    assert out == expected


async def test_timed_window_unique_key_callable_and_index_and_fresh_windows():
    events = [(0.0, ("a", 1)), (0.25, ("bb", 2)), (0.5, ("a", 3)), (1.5, ("a", 4))]
    out = await record(
        lambda s: s.timed_window_unique(1.0, key=0, keep="last"), feed=events, until=3.0
    )
    # a key seen in an earlier window is emitted again in a later one
    assert out == [(1.0, (("bb", 2), ("a", 3))), (2.0, (("a", 4),)), (3.0, ())]
    out = await record(
        lambda s: s.timed_window_unique(1.0, key=len), feed=[(3.0, "x"), (3.25, "yy"), (3.5, "z")]
    )
    await asyncio.sleep(1.0)
    assert out == [(4.0, ("x", "yy"))]


async def test_timed_window_unique_refs_of_dropped_duplicates_are_released_at_once():
    for keep, dropped in [("first", "a2"), ("last", "a1")]:
        log = []
        loop = asyncio.get_running_loop()
        start = loop.time()
        source = Stream()
        out = timeline(source.timed_window_unique(1.0, keep=keep))
        await source.emit("a", metadata=timed_ref(log, "a1"))
        await asyncio.sleep(0.25)
        await source.emit("a", metadata=timed_ref(log, "a2"))
        assert [(t - start, name) for t, name in log] == [(0.25, dropped)]
        await asyncio.sleep(1.0)
        kept = {"a1", "a2"} - {dropped}
        assert [(t - start, name) for t, name in log] == [(0.25, dropped), (1.0, *kept)]
        assert [(t - start, w) for t, w in out] == [(1.0, ("a",))]


async def test_timed_window_unique_unhashable_key_raises_to_the_emitter():
    source = Stream()
    out = timeline(source.timed_window_unique(1.0))
    await source.emit(1)
    with pytest.raises(TypeError, match="unhashable") as info:
        source.emit([2])
    assert "in timed_window_unique<1s> (element [2])" in info.value.__notes__
    await asyncio.sleep(1.5)
    assert out == [(1.0, (1,))]


async def test_timed_window_unique_drain():
    loop = asyncio.get_running_loop()
    source = Stream()
    out = timeline(source.timed_window_unique(5, keep="last"))
    for x in [1, 2, 1]:
        await source.emit(x)
    await source.drain()
    assert out == [(0.0, (2, 1))]
    assert loop.time() == 0.0


# ------------------------------------------------------------------ delay


async def test_delay_shifts_each_element_and_keeps_order():
    events = [(0.0, "a"), (0.0, "b"), (0.25, "c"), (2.0, "d")]
    out = await record(lambda s: s.delay(0.5), feed=events, until=3.0)
    assert out == [(0.5, "a"), (0.5, "b"), (0.75, "c"), (2.5, "d")]


async def test_delay_slow_consumer_receives_late_in_order():
    loop = asyncio.get_running_loop()
    source = Stream()
    seen = slow_sink(source.delay(0.5))
    for t, x in [(0.0, "a"), (0.25, "b"), (0.5, "c")]:
        await asyncio.sleep(t - loop.time())
        assert await emit_waits(source, x) == 0.0
    await asyncio.sleep(5)
    assert seen == [(0.5, "a"), (1.5, "b"), (2.5, "c")]


async def test_delay_emitter_waits_once_maxsize_elements_are_held():
    source = Stream()
    out = timeline(source.delay(1.0, maxsize=2))
    waits = [await emit_waits(source, x) for x in "abcd"]
    assert waits == [0.0, 0.0, 1.0, 0.0]  # c waits for a to leave; d finds b's room
    await asyncio.sleep(3.0)
    assert out == [(1.0, "a"), (1.0, "b"), (2.0, "c"), (2.0, "d")]


async def test_delay_maxsize_none_never_waits():
    source = Stream()
    out = timeline(source.delay(1.0, maxsize=None))
    assert [await emit_waits(source, i) for i in range(2000)] == [0.0] * 2000
    await asyncio.sleep(1.5)
    assert [t for t, _ in out] == [1.0] * 2000


async def test_delay_drain_flushes_in_order_without_waiting():
    loop = asyncio.get_running_loop()
    source = Stream()
    out = timeline(source.delay(10))
    await source.emit("a")
    await asyncio.sleep(0.5)
    await source.emit("b")
    await source.drain()
    assert loop.time() == 0.5
    assert out == [(0.5, "a"), (0.5, "b")]
    await source.emit("c")  # afterwards the delay works as before
    await asyncio.sleep(11)
    assert out[2:] == [(10.5, "c")]


async def test_delay_drain_flushes_elements_of_emitters_that_waited_for_room():
    loop = asyncio.get_running_loop()
    source = Stream()
    out = timeline(source.delay(10, maxsize=1))
    await source.emit("a")
    waiting = source.emit("b")  # the delay is full: b's emitter waits for room
    await source.drain()
    assert waiting.done()
    assert out == [(0.0, "a"), (0.0, "b")]
    assert loop.time() == 0.0


async def test_delay_holds_refs_until_each_element_left():
    log = []
    source = Stream()
    source.delay(1.0).sink(lambda x: None)
    await source.emit("a", metadata=timed_ref(log, "a"))
    await asyncio.sleep(0.25)
    await source.emit("b", metadata=timed_ref(log, "b"))
    await asyncio.sleep(0.5)
    assert log == []
    await asyncio.sleep(1.0)
    assert log == [(1.0, "a"), (1.25, "b")]


# ------------------------------------------------------------------ rate_limit


async def test_rate_limit_spaces_a_burst_and_its_emitters_wait():
    source = Stream()
    out = timeline(source.rate_limit(1.0))
    assert [await emit_waits(source, x) for x in "abc"] == [0.0, 1.0, 1.0]
    assert out == [(0.0, "a"), (1.0, "b"), (2.0, "c")]


async def test_rate_limit_slow_input_passes_at_once():
    loop = asyncio.get_running_loop()
    source = Stream()
    out = timeline(source.rate_limit("250ms"))
    waits = []
    for t, x in [(0.0, "a"), (0.5, "b"), (0.75, "c"), (2.0, "d"), (2.125, "e")]:
        await asyncio.sleep(t - loop.time())
        waits.append(await emit_waits(source, x))
    assert waits == [0.0, 0.0, 0.0, 0.0, 0.125]
    assert out == [(0.0, "a"), (0.5, "b"), (0.75, "c"), (2.0, "d"), (2.25, "e")]


# ------------------------------------------------------------------ buffer


async def test_buffer_lets_the_producer_run_ahead_then_waits():
    loop = asyncio.get_running_loop()
    source = Stream()
    seen = slow_sink(source.buffer(2))
    returned = []
    for x in "abcde":
        await source.emit(x)
        returned.append(loop.time())
    # a goes to the consumer, b and c fill the queue; d and e wait for room
    assert returned == [0.0, 0.0, 0.0, 1.0, 2.0]
    await asyncio.sleep(10)
    assert seen == [(0.0, "a"), (1.0, "b"), (2.0, "c"), (3.0, "d"), (4.0, "e")]


async def test_buffer_with_a_fast_consumer_passes_everything_in_order():
    out = await record(lambda s: s.buffer(3), feed=[(0, i) for i in range(10)] + [(1.5, 10)])
    await spin()
    assert out == [(0.0, i) for i in range(10)] + [(1.5, 10)]


async def test_buffer_drain_waits_only_as_long_as_the_consumer_needs():
    loop = asyncio.get_running_loop()
    source = Stream()
    seen = slow_sink(source.buffer(5))
    for x in range(3):
        await source.emit(x)
    await source.drain()
    assert loop.time() == 3.0
    assert seen == [(0.0, 0), (1.0, 1), (2.0, 2)]


async def test_buffer_holds_refs_until_each_element_was_consumed():
    log = []
    source = Stream()
    source.buffer(2).sink(slow)
    for x in "abc":
        await source.emit(x, metadata=timed_ref(log, x))
    await asyncio.sleep(10)
    assert log == [(1.0, "a"), (2.0, "b"), (3.0, "c")]


# ------------------------------------------------------------------ latest


async def test_latest_drops_superseded_elements_and_never_makes_the_emitter_wait():
    loop = asyncio.get_running_loop()
    source = Stream()
    seen = slow_sink(source.latest())
    waits = []
    for t, x in [(0, 1), (0.25, 2), (0.5, 3), (0.75, 4), (1.5, 5), (3.0, 6)]:
        await asyncio.sleep(t - loop.time())
        waits.append(await emit_waits(source, x))
    assert waits == [0.0] * 6
    await asyncio.sleep(10)
    assert seen == [(0.0, 1), (1.0, 4), (2.0, 5), (3.0, 6)]


async def test_latest_releases_superseded_refs_at_once():
    log = []
    source = Stream()
    source.latest().sink(slow)
    loop = asyncio.get_running_loop()
    for t, x in [(0.0, "a"), (0.25, "b"), (0.5, "c"), (0.75, "d")]:
        await asyncio.sleep(t - loop.time())
        await source.emit(x, metadata=timed_ref(log, x))
    # a is with the consumer until 1.0; b, then c, were replaced while pending
    assert log == [(0.5, "b"), (0.75, "c")]
    await asyncio.sleep(5)
    assert log == [(0.5, "b"), (0.75, "c"), (1.0, "a"), (2.0, "d")]


async def test_latest_drain_pushes_the_newest_pending_element():
    loop = asyncio.get_running_loop()
    source = Stream()
    seen = slow_sink(source.latest())
    for x in range(4):
        await source.emit(x)
    await source.drain()
    assert seen == [(0.0, 3)]
    assert loop.time() == 1.0  # the consumer's own time, nothing more


# ------------------------------------------------------------------ construction

TIMED = {
    "timed_window": lambda s, i: s.timed_window(i),
    "timed_window_unique": lambda s, i: s.timed_window_unique(i),
    "delay": lambda s, i: s.delay(i),
    "rate_limit": lambda s, i: s.rate_limit(i),
}


@pytest.mark.parametrize("name", list(TIMED))
@pytest.mark.parametrize("interval", ["abc", "5 parsecs", "", -1, 0, 0.0, "-2s", float("inf")])
def test_bad_intervals_are_value_errors_at_build_time(name, interval):
    with pytest.raises(ValueError, match=name):
        TIMED[name](Stream(), interval)


@pytest.mark.parametrize("name", list(TIMED))
@pytest.mark.parametrize("interval", [None, [1], True, object()])
def test_intervals_of_the_wrong_type_are_type_errors(name, interval):
    with pytest.raises(TypeError, match=name):
        TIMED[name](Stream(), interval)


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda s: s.buffer(0), ValueError),
        (lambda s: s.buffer(-3), ValueError),
        (lambda s: s.buffer(2.5), TypeError),
        (lambda s: s.buffer("3"), TypeError),
        (lambda s: s.delay(1, maxsize=0), ValueError),
        (lambda s: s.delay(1, maxsize=1.5), TypeError),
        (lambda s: s.timed_window_unique(1, keep="middle"), ValueError),
    ],
)
def test_bad_sizes_and_options(build, error):
    with pytest.raises(error):
        build(Stream())


@pytest.mark.parametrize(
    ("build", "label"),
    [
        (lambda s: s.timed_window(1.0), "timed_window<1s>"),
        (lambda s: s.timed_window("250ms"), "timed_window<0.25s>"),
        (lambda s: s.timed_window_unique("2 min"), "timed_window_unique<120s>"),
        (lambda s: s.delay(0.5), "delay<0.5s>"),
        (lambda s: s.delay(datetime.timedelta(milliseconds=1500)), "delay<1.5s>"),
        (lambda s: s.rate_limit("1h"), "rate_limit<3600s>"),
        (lambda s: s.buffer(3), "buffer<3>"),
        (lambda s: s.latest(), "latest"),
        (lambda s: s.delay(1, stream_name="wait"), "wait"),
    ],
)
def test_labels(build, label):
    assert build(Stream())._describe() == label


def test_latest_without_a_consumer_holds_the_newest_elements_ref():
    source = Stream()
    source.latest()
    first, second = streams.RefCounter(), streams.RefCounter()
    source.emit(1, metadata=[{"ref": first}])
    assert first.count == 1  # held: nothing has taken it
    source.emit(2, metadata=[{"ref": second}])
    assert (first.count, second.count) == (0, 1)  # superseded: let go
