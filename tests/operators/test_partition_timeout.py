"""partition(n, timeout=..., key=...) on the virtual clock: a partial group is flushed
``timeout`` after its first element."""

import asyncio
import datetime

import pytest

from streams import RefCounter, Stream
from streams.testing import record, timeline


def timed_ref(log, name):
    """Metadata with a RefCounter that logs ``(release time, name)`` when let go."""
    loop = asyncio.get_running_loop()
    return [{"ref": RefCounter(cb=lambda: log.append((loop.time(), name)))}]


async def test_partial_group_is_flushed_timeout_after_its_first_element():
    events = [(0.0, 1), (0.5, 2), (1.5, 3), (1.75, 4), (2.0, 5)]
    out = await record(lambda s: s.partition(3, timeout=1.0), feed=events, until=5.0)
    # (1, 2) at 1.0, not 1.5; (3, 4, 5) is full at 2.0, before its timeout at 2.5
    assert out == [(1.0, (1, 2)), (2.0, (3, 4, 5))]


async def test_a_full_group_cancels_its_timer():
    events = [(0.0, 1), (0.25, 2), (0.375, 3), (1.25, 4)]
    out = await record(lambda s: s.partition(2, timeout="500ms"), feed=events, until=5.0)
    # the timer of (1, 2), due at 0.5, must not flush (3,) early
    assert out == [(0.25, (1, 2)), (0.875, (3,)), (1.75, (4,))]


async def test_no_timer_runs_while_no_group_is_open():
    out = await record(lambda s: s.partition(2, timeout=1.0), feed=[(0, "a"), (0, "b")], until=10)
    assert out == [(0.0, ("a", "b"))]


async def test_a_new_group_after_a_timeout_starts_its_own_clock():
    events = [(0.0, 1), (1.5, 2), (1.75, 3), (3.0, 4), (3.0, 5), (3.0, 6)]
    out = await record(lambda s: s.partition(3, timeout=1.0), feed=events, until=6.0)
    assert out == [(1.0, (1,)), (2.5, (2, 3)), (3.0, (4, 5, 6))]


async def test_timeout_elements_arriving_after_a_flush_are_not_lost():
    events = [(k * 0.25, k) for k in range(12)]
    out = await record(lambda s: s.partition(5, timeout=0.5), feed=events, until=10)
    assert [x for _, group in out for x in group] == list(range(12))
    assert all(1 <= len(group) <= 5 for _, group in out)


async def test_each_key_has_its_own_timer():
    events = [(0.0, 1), (0.25, 2), (0.5, 3), (1.0, 4), (1.5, 5)]
    out = await record(
        lambda s: s.partition(2, timeout=1, key=lambda x: x % 2), feed=events, until=5.0
    )
    # odd: (1, 3) full at 0.5; even: (2, 4) full at 1.0; odd (5,) times out at 2.5
    assert out == [(0.5, (1, 3)), (1.0, (2, 4)), (2.5, (5,))]


async def test_key_timers_time_out_independently():
    events = [(0.0, ("a", 1)), (0.5, ("b", 2)), (0.75, ("a", 3))]
    out = await record(lambda s: s.partition(3, timeout=1.0, key=0), feed=events, until=5.0)
    assert out == [(1.0, (("a", 1), ("a", 3))), (1.5, (("b", 2),))]


@pytest.mark.parametrize(
    ("timeout", "flushed_at"),
    [
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("0.25 s", 0.25),
        ("2 min", 120.0),
        (datetime.timedelta(seconds=3), 3.0),
        (2, 2.0),
    ],
)
async def test_timeout_forms(timeout, flushed_at):
    out = await record(lambda s: s.partition(4, timeout=timeout), feed=[(0, "x")], until=200)
    assert out == [(flushed_at, ("x",))]


async def test_timed_out_group_to_a_slow_consumer():
    loop = asyncio.get_running_loop()
    log = []
    source = Stream()
    seen = []

    async def consume(group):
        seen.append((loop.time(), group))
        await asyncio.sleep(2.0)

    source.partition(3, timeout=1.0).sink(consume)
    await source.emit("a", metadata=timed_ref(log, "a"))
    await asyncio.sleep(1.5)
    assert seen == [(1.0, ("a",))]
    assert log == []  # the consumer is still at it
    await source.drain()
    assert loop.time() == 3.0
    assert log == [(3.0, "a")]


async def test_a_failing_timeout_flush_goes_to_the_error_stream():
    def fail(group):
        raise RuntimeError("sink down")

    source = Stream()
    source.partition(3, timeout=1.0).sink(fail)
    errors = timeline(source.errors())
    await source.emit("a")
    await asyncio.sleep(1.5)
    assert [(t, r.element, str(r.error)) for t, r in errors] == [(1.0, ("a",), "sink down")]
    await source.emit("b")  # the node goes on
    await asyncio.sleep(1.0)
    assert [(t, r.element) for t, r in errors][1:] == [(2.5, ("b",))]


# ------------------------------------------------------------------ drain


async def test_drain_flushes_every_partial_group_at_once():
    loop = asyncio.get_running_loop()
    source = Stream()
    out = timeline(source.partition(3, timeout=10, key=lambda x: x[0]))
    for x in ["a1", "b1", "a2"]:
        await source.emit(x)
    await asyncio.sleep(0.5)
    await source.drain()
    assert loop.time() == 0.5
    assert out == [(0.5, ("a1", "a2")), (0.5, ("b1",))]
    await asyncio.sleep(20)  # the cancelled timers emit nothing more
    assert len(out) == 2


async def test_drain_leaves_a_partition_without_timeout_alone():
    loop = asyncio.get_running_loop()
    source = Stream()
    plain = timeline(source.partition(3))
    timed = timeline(source.partition(3, timeout=5))
    await source.emit(1)
    await source.emit(2)
    await source.drain()
    assert loop.time() == 0.0
    assert timed == [(0.0, (1, 2))]
    assert plain == []
    await source.emit(3)  # the held group completes as usual
    assert plain == [(0.0, (1, 2, 3))]


# ------------------------------------------------------------------ refs


async def test_refs_are_held_until_the_timeout_flush():
    log = []
    source = Stream()
    source.partition(3, timeout=1.0).sink(lambda g: None)
    await source.emit("a", metadata=timed_ref(log, "a"))
    await asyncio.sleep(0.5)
    await source.emit("b", metadata=timed_ref(log, "b"))
    await asyncio.sleep(0.25)
    assert log == []
    await asyncio.sleep(0.5)
    assert log == [(1.0, "a"), (1.0, "b")]


async def test_refs_of_a_full_group_are_released_when_it_is_emitted():
    log = []
    source = Stream()
    source.partition(2, timeout=1.0).sink(lambda g: None)
    await source.emit("a", metadata=timed_ref(log, "a"))
    await asyncio.sleep(0.25)
    await source.emit("b", metadata=timed_ref(log, "b"))
    assert log == [(0.25, "a"), (0.25, "b")]
    await asyncio.sleep(2)
    assert len(log) == 2


async def test_drain_releases_refs_of_flushed_groups():
    loop = asyncio.get_running_loop()
    log = []
    source = Stream()
    source.partition(3, timeout=10).sink(lambda g: None)
    await source.emit("a", metadata=timed_ref(log, "a"))
    await source.drain()
    assert log == [(0.0, "a")]
    assert loop.time() == 0.0


# ------------------------------------------------------------------ construction


@pytest.mark.parametrize("timeout", ["abc", "5 parsecs", -1, 0, "0ms", float("inf")])
def test_bad_timeouts_are_value_errors(timeout):
    with pytest.raises(ValueError, match="partition"):
        Stream().partition(3, timeout=timeout)


@pytest.mark.parametrize("timeout", [[1], object(), True])
def test_timeouts_of_the_wrong_type_are_type_errors(timeout):
    with pytest.raises(TypeError, match="partition"):
        Stream().partition(3, timeout=timeout)


def test_bad_n_with_a_timeout():
    with pytest.raises(ValueError, match="partition"):
        Stream().partition(0, timeout=1)


@pytest.mark.parametrize(
    ("kwargs", "label"),
    [
        ({"n": 3, "timeout": 1}, "partition<3, timeout=1s>"),
        ({"n": 2, "timeout": "500ms"}, "partition<2, timeout=0.5s>"),
        ({"n": 2, "timeout": "1 min", "key": 0}, "partition<2, timeout=60s>"),
        ({"n": 3}, "partition<3>"),
    ],
)
def test_labels(kwargs, label):
    assert Stream().partition(**kwargs)._describe() == label
