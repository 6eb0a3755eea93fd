"""The back-pressure contract, operator by operator: a slow consumer makes the emitter wait.

Every graph here is ``source -> <operator> -> sink(slow)`` where ``slow`` takes one second
of virtual time per element; ``await source.emit(x)`` must take exactly as long as the
work it caused downstream (and no time for elements the operator holds or drops).
"""

import asyncio
import operator

import pytest
from helpers import spin

from streams import BackpressureError, RefCounter, Stream


def inc(x):
    return x + 1


def is_even(x):
    return x % 2 == 0


async def async_identity(x):
    await asyncio.sleep(0)
    return x


def slow_sink(node, seconds=1.0):
    """Attach ``sink(slow)``; return the list of (start time, element) of its calls."""
    loop = asyncio.get_running_loop()
    calls = []

    async def slow(x):
        calls.append((loop.time(), x))
        await asyncio.sleep(seconds)

    node.sink(slow)
    return calls


async def timed(awaitable):
    """The virtual time ``awaitable`` took."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await awaitable
    return loop.time() - t0


def connected(a, b):
    node = Stream()
    a.connect(node)
    return node


def chain(a, b):
    return (
        a.map(inc)
        .filter(is_even)
        .map(lambda x: (x, x))
        .pluck(0)
        .scan(operator.add)
        .sliding_window(1)
        .flatten()
        .unique()
    )


# name: (build(a, b) -> the node the slow sink listens to,
#        steps: (emitter "a"/"b", element, seconds that emit takes) or ("sleep", seconds),
#        what the sink receives, in order)
CASES = {
    "sink directly": (lambda a, b: a, [("a", 1, 1.0), ("a", 2, 1.0)], [1, 2]),
    "map": (lambda a, b: a.map(inc), [("a", 1, 1.0), ("a", 2, 1.0)], [2, 3]),
    "starmap": (lambda a, b: a.starmap(operator.add), [("a", (1, 2), 1.0)], [3]),
    "filter": (
        lambda a, b: a.filter(is_even),
        [("a", 1, 0.0), ("a", 2, 1.0), ("a", 3, 0.0)],
        [2],
    ),
    "remove": (
        lambda a, b: a.remove(is_even),
        [("a", 2, 0.0), ("a", 1, 1.0)],
        [1],
    ),
    "accumulate": (
        lambda a, b: a.accumulate(operator.add, start=10),
        [("a", 1, 1.0), ("a", 2, 1.0)],
        [11, 13],
    ),
    "accumulate returns_state": (
        lambda a, b: a.accumulate(lambda n, x: (n + 1, (n, x)), start=0, returns_state=True),
        [("a", "x", 1.0), ("a", "y", 1.0)],
        [(0, "x"), (1, "y")],
    ),
    "scan": (
        lambda a, b: a.scan(operator.add),
        [("a", 1, 1.0), ("a", 2, 1.0)],
        [1, 3],
    ),
    "pluck": (lambda a, b: a.pluck(0), [("a", (5, 6), 1.0)], [5]),
    "pluck list": (lambda a, b: a.pluck([1, 0]), [("a", (5, 6), 1.0)], [(6, 5)]),
    "flatten": (
        lambda a, b: a.flatten(),
        [("a", [1, 2, 3], 3.0), ("a", [], 0.0), ("a", [4], 1.0)],
        [1, 2, 3, 4],
    ),
    "slice": (
        lambda a, b: a.slice(1, 3),
        # the last element before it detaches waits too; later ones go nowhere
        [("a", 0, 0.0), ("a", 1, 1.0), ("a", 2, 1.0), ("a", 3, 0.0)],
        [1, 2],
    ),
    "slice step": (
        lambda a, b: a.slice(0, None, 2),
        [("a", 0, 1.0), ("a", 1, 0.0), ("a", 2, 1.0)],
        [0, 2],
    ),
    "unique": (
        lambda a, b: a.unique(),
        [("a", 1, 1.0), ("a", 1, 0.0), ("a", 2, 1.0)],
        [1, 2],
    ),
    "partition": (
        lambda a, b: a.partition(2),
        # the completing element waits
        [("a", 1, 0.0), ("a", 2, 1.0), ("a", 3, 0.0), ("a", 4, 1.0)],
        [(1, 2), (3, 4)],
    ),
    "partition key": (
        lambda a, b: a.partition(2, key=is_even),
        [("a", 1, 0.0), ("a", 2, 0.0), ("a", 3, 1.0), ("a", 4, 1.0)],
        [(1, 3), (2, 4)],
    ),
    "partition timeout": (
        lambda a, b: a.partition(2, timeout=5),
        [("a", 1, 0.0), ("a", 2, 1.0)],
        [(1, 2)],
    ),
    "partition_unique": (
        lambda a, b: a.partition_unique(2),
        [("a", 1, 0.0), ("a", 1, 0.0), ("a", 2, 1.0)],
        [(1, 2)],
    ),
    "sliding_window": (
        lambda a, b: a.sliding_window(2),
        [("a", 1, 1.0), ("a", 2, 1.0)],
        [(1,), (1, 2)],
    ),
    "sliding_window no partial": (
        lambda a, b: a.sliding_window(2, return_partial=False),
        [("a", 1, 0.0), ("a", 2, 1.0), ("a", 3, 1.0)],
        [(1, 2), (2, 3)],
    ),
    "frequencies": (
        lambda a, b: a.frequencies(),
        [("a", "x", 1.0), ("a", "x", 1.0)],
        [{"x": 1}, {"x": 2}],
    ),
    "zip": (
        lambda a, b: a.zip(b),
        # the completing upstream waits
        [("a", 1, 0.0), ("a", 2, 0.0), ("b", "x", 1.0), ("b", "y", 1.0), ("b", "z", 0.0)],
        [(1, "x"), (2, "y")],
    ),
    "zip with literal": (
        lambda a, b: a.zip("lit", b),
        [("b", "x", 0.0), ("a", 1, 1.0)],
        [(1, "lit", "x")],
    ),
    "combine_latest": (
        lambda a, b: a.combine_latest(b),
        [("a", 1, 0.0), ("b", "x", 1.0), ("a", 2, 1.0), ("b", "y", 1.0)],
        [(1, "x"), (2, "x"), (2, "y")],
    ),
    "combine_latest emit_on": (
        lambda a, b: a.combine_latest(b, emit_on=a),
        [("b", "x", 0.0), ("a", 1, 1.0), ("b", "y", 0.0), ("a", 2, 1.0)],
        [(1, "x"), (2, "y")],
    ),
    "zip_latest": (
        lambda a, b: a.zip_latest(b),
        # the element of the lossless stream held until b delivered goes out with b's
        [("a", 1, 0.0), ("b", "x", 1.0), ("a", 2, 1.0), ("b", "y", 0.0), ("a", 3, 1.0)],
        [(1, "x"), (2, "x"), (3, "y")],
    ),
    "union": (
        lambda a, b: a.union(b),
        [("a", 1, 1.0), ("b", 2, 1.0)],
        [1, 2],
    ),
    "connect": (connected, [("a", 1, 1.0), ("a", 2, 1.0)], [1, 2]),
    "rate_limit": (
        lambda a, b: a.rate_limit(0.5),
        [("a", 1, 1.0), ("a", 2, 1.0)],
        [1, 2],
    ),
    "rate_limit early": (
        lambda a, b: a.rate_limit(2.0),
        # the second element waits for its slot at 2.0, then for the sink
        [("a", 1, 1.0), ("a", 2, 2.0)],
        [1, 2],
    ),
    "delay": (
        lambda a, b: a.delay(0.5, maxsize=2),
        # accepted at once until maxsize are held; then the emitter waits for room,
        # which the slow sink gives once a second
        [("a", 1, 0.0), ("a", 2, 0.0), ("a", 3, 0.5), ("a", 4, 1.0), ("a", 5, 1.0)],
        [1, 2, 3, 4, 5],
    ),
    "delay unbounded": (
        lambda a, b: a.delay(0.5, maxsize=None),
        [("a", 1, 0.0), ("a", 2, 0.0), ("a", 3, 0.0)],
        [1, 2, 3],
    ),
    "buffer": (
        lambda a, b: a.buffer(2),
        # one element at the sink and two queued are accepted at once; then one a second
        [("a", 1, 0.0), ("a", 2, 0.0), ("a", 3, 0.0), ("a", 4, 1.0), ("a", 5, 1.0)],
        [1, 2, 3, 4, 5],
    ),
    "latest": (
        lambda a, b: a.latest(),
        # never waits; while the sink is busy only the newest element is kept
        [("a", 1, 0.0), ("sleep", 0, None), ("a", 2, 0.0), ("a", 3, 0.0), ("a", 4, 0.0)],
        [1, 4],
    ),
    "map_async": (
        lambda a, b: a.map_async(async_identity),
        # one call in flight: the emitter waits once the previous result is stuck
        [("a", 1, 0.0), ("a", 2, 0.0), ("a", 3, 1.0), ("a", 4, 1.0)],
        [1, 2, 3, 4],
    ),
    "map_async parallelism": (
        lambda a, b: a.map_async(async_identity, parallelism=2),
        [("a", 1, 0.0), ("a", 2, 0.0), ("a", 3, 0.0), ("a", 4, 1.0), ("a", 5, 1.0)],
        [1, 2, 3, 4, 5],
    ),
    "chain": (
        chain,
        [("a", 1, 1.0), ("a", 2, 0.0), ("a", 3, 1.0), ("a", 5, 1.0)],
        [2, 6, 12],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_a_slow_consumer_makes_the_emitter_wait(name):
    build, steps, received = CASES[name]
    a, b = Stream(), Stream()
    calls = slow_sink(build(a, b))
    emitters = {"a": a, "b": b}
    durations, expected = [], []
    for who, x, seconds in steps:
        if who == "sleep":  # let the loop run for x seconds
            await asyncio.sleep(x)
            continue
        durations.append(await timed(emitters[who].emit(x)))
        expected.append(seconds)
    assert durations == expected
    await a.drain()
    await b.drain()
    assert [x for _, x in calls] == received


async def test_flatten_hands_items_to_the_slow_consumer_one_at_a_time():
    source = Stream()
    calls = slow_sink(source.flatten())
    assert await timed(source.emit("abc")) == 3.0
    assert calls == [(0.0, "a"), (1.0, "b"), (2.0, "c")]


async def test_slice_detaches_after_its_last_element():
    source = Stream()
    node = source.slice(0, 2)
    calls = slow_sink(node)
    assert await timed(source.emit("x")) == 1.0
    assert await timed(source.emit("y")) == 1.0
    assert source.downstreams == ()
    assert await timed(source.emit("z")) == 0.0
    assert [x for _, x in calls] == ["x", "y"]


async def test_collect_flush_returns_the_pending_work():
    source = Stream()
    collector = source.collect()
    calls = slow_sink(collector)
    assert await timed(source.emit(1)) == 0.0
    assert await timed(source.emit(2)) == 0.0
    assert await timed(collector.flush()) == 1.0
    assert calls == [(0.0, (1, 2))]


async def test_collect_flushed_by_another_stream_pushes_back_on_it():
    source, trigger = Stream(), Stream()
    collector = source.collect()
    trigger.sink(collector.flush)
    calls = slow_sink(collector)
    await source.emit("a")
    assert await timed(trigger.emit("go")) == 1.0
    assert calls == [(0.0, ("a",))]


async def test_timed_window_emitter_arriving_while_a_window_is_accepted_waits():
    source = Stream()
    calls = slow_sink(source.timed_window(1.0))
    assert await timed(source.emit(1)) == 0.0
    await asyncio.sleep(1.5)  # the window [1] went out at 1.0; the sink is busy until 2.0
    assert calls == [(1.0, [1])]
    assert await timed(source.emit(2)) == 0.5
    await asyncio.sleep(0.5)  # the window [2] went out at 2.0; busy until 3.0
    assert await timed(source.emit(3)) == 0.5
    await asyncio.sleep(0.5)
    assert calls == [(1.0, [1]), (2.0, [2]), (3.0, [3])]


async def test_timed_window_unique_emitter_waits_too():
    source = Stream()
    calls = slow_sink(source.timed_window_unique(1.0))
    await source.emit(1)
    await asyncio.sleep(1.5)
    assert await timed(source.emit(1)) == 0.5
    assert await timed(source.emit(1)) == 0.0
    assert calls == [(1.0, (1,))]


async def test_delay_emitter_waits_only_once_maxsize_are_held():
    source = Stream()
    calls = slow_sink(source.delay(10, maxsize=3))
    for x in range(3):
        assert await timed(source.emit(x)) == 0.0
    # full: this one waits for the first to leave at 10.0
    assert await timed(source.emit(3)) == 10.0
    # full again: the next one leaves once the sink finished the first (at 11.0)
    assert await timed(source.emit(4)) == 1.0
    await source.drain()
    assert [x for _, x in calls] == [0, 1, 2, 3, 4]
    assert calls[:2] == [(10.0, 0), (11.0, 1)]


async def test_latest_never_waits_and_keeps_only_the_newest():
    source = Stream()
    calls = slow_sink(source.latest())
    await source.emit(0)
    await spin()
    for x in range(1, 100):
        assert await timed(source.emit(x)) == 0.0
    await source.drain()
    assert calls == [(0.0, 0), (1.0, 99)]


async def test_map_async_with_a_slow_function_waits_at_parallelism():
    loop = asyncio.get_running_loop()

    async def slow_double(x):
        await asyncio.sleep(1.0)
        return 2 * x

    source = Stream()
    out = source.map_async(slow_double, parallelism=2).sink_to_list()
    assert await timed(source.emit(1)) == 0.0
    assert await timed(source.emit(2)) == 0.0
    assert await timed(source.emit(3)) == 1.0  # two in flight until 1.0
    await source.drain()
    assert out == [2, 4, 6] and loop.time() == 2.0


async def test_zip_latest_emitter_arriving_during_a_flush_waits_for_it():
    loop = asyncio.get_running_loop()
    a, b = Stream(), Stream()
    calls = slow_sink(a.zip_latest(b))
    await a.emit(1)
    await a.emit(2)
    flushing = asyncio.ensure_future(b.emit("x"))  # sends (1, x) then (2, x)
    await asyncio.sleep(0.5)
    assert await timed(a.emit(3)) == 2.5  # its element joins the flush under way
    assert flushing.done()
    await flushing
    assert calls == [(0.0, (1, "x")), (1.0, (2, "x")), (2.0, (3, "x"))]
    assert loop.time() == 3.0


def test_a_plain_script_emit_returns_only_after_the_async_sink_finished():
    finished = []

    async def slow(x):
        await asyncio.sleep(0.01)
        finished.append(x)

    source = Stream()
    source.map(inc).sink(slow)
    for x in range(3):
        assert source.emit(x) is None
        assert finished == list(range(1, x + 2))


# ------------------------------------------------------------------ zip(maxsize=...)


async def test_zip_blocks_a_fast_upstream_once_maxsize_are_buffered():
    loop = asyncio.get_running_loop()
    a, b = Stream(), Stream()
    zipped = a.zip(b, maxsize=2)
    out = zipped.sink_to_list()
    accepted = []

    async def fast_producer():
        for i in range(4):
            await a.emit(i)
            accepted.append((loop.time(), i))

    producer = asyncio.get_running_loop().create_task(fast_producer())
    await asyncio.sleep(3.0)
    # element 1 filled the buffer to maxsize: its emitter waits for a tuple to go out
    assert accepted == [(0.0, 0)]
    assert len(zipped.buffers[0]) == 2
    await b.emit("x")
    await asyncio.sleep(1.0)
    assert accepted == [(0.0, 0), (3.0, 1)]
    assert len(zipped.buffers[0]) == 2
    for y in "yzw":
        await b.emit(y)
        await spin()
    await producer
    assert accepted[2:] == [(4.0, 2), (4.0, 3)]
    assert out == [(0, "x"), (1, "y"), (2, "z"), (3, "w")]


def test_zip_refuses_a_synchronous_emitter_that_cannot_wait():
    a, b = Stream(), Stream()
    zipped = a.zip(b, maxsize=3)
    out = zipped.sink_to_list()
    for i in range(3):
        a.emit(i)
    for i in range(3, 10):
        with pytest.raises(BackpressureError, match="maxsize=3"):
            a.emit(i)
    assert len(zipped.buffers[0]) == 3  # refused elements take no memory
    assert issubclass(BackpressureError, RuntimeError)
    b.emit("x")
    a.emit(10)  # room again
    for y in "yzw":
        b.emit(y)
    assert out == [(0, "x"), (1, "y"), (2, "z"), (10, "w")]


def test_zip_refuses_a_plain_thread_blocked_on_the_graphs_loop():
    # the graph runs on the background loop; this thread blocks on each element, so it
    # could never feed the other upstream while waiting for room
    a, b = Stream(ensure_io_loop=True), Stream()
    zipped = a.zip(b, maxsize=1)
    out = zipped.sink_to_list()
    a.emit(0)
    assert a.loop is not None and a.loop.asyncio_loop.is_running()
    with pytest.raises(BackpressureError, match="maxsize=1"):
        a.emit(1)
    assert len(zipped.buffers[0]) == 1
    b.emit("x")
    assert out == [(0, "x")]


def test_zip_refusal_does_not_acknowledge_the_refused_element():
    a, b = Stream(), Stream()
    a.zip(b, maxsize=1).sink_to_list()
    a.emit(0)
    ref = RefCounter()
    with pytest.raises(BackpressureError):
        a.emit(1, metadata=[{"ref": ref}])
    assert ref.count == 1  # not accepted, so not released


# ------------------------------------------------------------------ fan-out and metadata


async def test_fan_out_waits_for_the_slowest_branch():
    source = Stream()
    fast = source.map(inc).sink_to_list()
    one = slow_sink(source, seconds=1.0)
    three = slow_sink(source.map(inc), seconds=3.0)
    two = slow_sink(source.buffer(1).map(inc), seconds=2.0)
    assert await timed(source.emit(1)) == 3.0  # the branches wait side by side
    assert fast == [2] and one == [(0.0, 1)] and three == [(0.0, 2)] and two == [(0.0, 2)]
    # the buffered branch accepted at once, so only the direct slow branches count
    assert await timed(source.emit(2)) == 3.0


def _ref_cases():
    return {
        "sink directly": (lambda s: s, 1.0),
        "map": (lambda s: s.map(inc), 1.0),
        "filter": (lambda s: s.filter(None), 1.0),
        "flatten": (lambda s: s.map(lambda x: [x, x]).flatten(), 2.0),
        "partition": (lambda s: s.partition(1), 1.0),
        "buffer": (lambda s: s.buffer(1), 1.0),
        "delay": (lambda s: s.delay(0.5), 1.5),
        "latest": (lambda s: s.latest(), 1.0),
        "map_async": (lambda s: s.map_async(async_identity), 1.0),
        "rate_limit": (lambda s: s.rate_limit(0.5), 1.0),
        "timed_window": (lambda s: s.timed_window(1.0), 2.0),
    }


@pytest.mark.parametrize("name", list(_ref_cases()))
async def test_refs_are_released_only_after_the_slow_sink_finished(name):
    loop = asyncio.get_running_loop()
    build, done_at = _ref_cases()[name]
    released = []
    ref = RefCounter(cb=lambda: released.append(loop.time()))
    source = Stream()
    slow_sink(build(source))
    emitting = asyncio.ensure_future(source.emit(1, metadata=[{"ref": ref}]))
    await asyncio.sleep(done_at - 0.25)
    assert released == [] and ref.count > 0
    await emitting
    await asyncio.sleep(5)
    assert released == [done_at] and ref.count == 0
