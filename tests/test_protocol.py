"""The element protocol under failure: no pending work dropped, no element lost.

Each test here failed before the fix it guards (issue 8: fan-out, flatten, waiting
emitters, re-entrant emits).
"""

import asyncio
import gc
import threading

import pytest
from helpers import spin

from streams import Stream
from streams.protocol import combine_errors, wait


def boom_on(bad):
    def boom(x):
        if x == bad:
            raise ValueError(f"boom {x}")
        return x

    return boom


# ------------------------------------------------------------------ fan-out


def test_a_failing_branch_does_not_drop_the_pending_work_of_another_in_a_script():
    written = []

    async def write(x):
        await asyncio.sleep(0)
        written.append(x)

    source = Stream()
    source.sink(write)
    source.map(boom_on(1)).sink_to_list()
    for i in range(3):
        if i == 1:
            with pytest.raises(ValueError, match="boom 1"):
                source.emit(i)
        else:
            source.emit(i)
    gc.collect()  # an abandoned coroutine would warn here (warnings are errors)
    assert written == [0, 1, 2]


async def test_a_failing_branch_does_not_drop_the_pending_work_of_another_in_a_loop():
    written = []

    async def write(x):
        await asyncio.sleep(1)
        written.append(x)

    source = Stream()
    source.sink(write)
    source.map(boom_on(1)).sink_to_list()
    for i in range(3):
        if i == 1:
            with pytest.raises(ValueError, match="boom 1"):
                await source.emit(i)
        else:
            await source.emit(i)
    await source.drain()  # the write of element 1 went on as a task
    gc.collect()
    assert written == [0, 1, 2]


def test_branches_after_a_failing_one_still_receive_the_element():
    source = Stream()
    source.map(boom_on(1))
    out = source.sink_to_list()
    with pytest.raises(ValueError, match="boom 1"):
        source.emit(1)
    assert out == [1]


def test_several_failing_branches_raise_the_first_carrying_the_others():
    source = Stream()
    source.map(boom_on(1), stream_name="first")
    source.map(lambda x: 1 / 0, stream_name="second")
    with pytest.raises(ValueError, match="boom 1") as info:
        source.emit(1)
    assert info.value.__notes__[0] == "in first (element 1)"
    assert info.value.__notes__[1].startswith("also failed: ZeroDivisionError")
    assert [type(e) for e in info.value._streams_also] == [ZeroDivisionError]


async def test_each_error_of_one_element_reaches_the_error_stream_in_a_record_of_its_own():
    source = Stream()
    window = source.timed_window(1)
    window.flatten().map(boom_on(2), stream_name="b2").map(boom_on(4), stream_name="b4")
    records = source.errors().sink_to_list()
    for i in range(6):
        await source.emit(i)
    await asyncio.sleep(1.5)
    assert [(r.node._describe(), r.element) for r in records] == [("b2", 2), ("b4", 4)]


async def test_waiting_for_several_branches_lets_every_branch_finish_before_raising():
    finished = []

    async def slow(x):
        await asyncio.sleep(5)
        finished.append(x)

    async def fails(x):
        await asyncio.sleep(1)
        raise OSError("down")

    loop = asyncio.get_running_loop()
    source = Stream()
    source.sink(fails)
    source.sink(slow)
    with pytest.raises(OSError, match="down"):
        await source.emit("x")
    assert finished == ["x"] and loop.time() == 5.0


async def test_wait_cancelled_cancels_the_branches_it_waited_for():
    gates = [asyncio.Event(), asyncio.Event()]
    started = [asyncio.ensure_future(g.wait()) for g in gates]
    waiter = asyncio.ensure_future(wait(started))
    await spin()
    waiter.cancel()
    await spin()
    assert all(t.cancelled() for t in started)


def test_combine_errors_spells_out_a_few_and_keeps_all():
    errors = [ValueError(i) for i in range(9)]
    first = combine_errors(errors)
    assert first is errors[0]
    assert first._streams_also == errors[1:]
    assert first.__notes__[-1] == "and 3 more errors of the same element"


# ------------------------------------------------------------------ one input, several outputs


def test_flatten_pushes_the_other_items_when_one_fails():
    source = Stream()
    out = source.flatten().map(boom_on(2)).sink_to_list()
    with pytest.raises(ValueError, match="boom 2"):
        source.emit([1, 2, 3])
    assert out == [1, 3]


async def test_one_failing_element_after_timed_window_flatten_loses_none_of_its_window():
    source = Stream()
    out = source.timed_window(1).flatten().map(boom_on(500)).sink_to_list()
    records = source.errors().sink_to_list()
    for i in range(1000):
        await source.emit(i)
    await asyncio.sleep(1.5)
    assert out == [i for i in range(1000) if i != 500]
    assert [r.element for r in records] == [500]


async def test_flatten_with_a_slow_consumer_keeps_going_after_a_failure():
    sunk = []

    async def slow(x):
        await asyncio.sleep(1)
        if x == 2:
            raise ValueError("slow boom")
        sunk.append(x)

    source = Stream()
    source.flatten().sink(slow)
    with pytest.raises(ValueError, match="slow boom"):
        await source.emit([1, 2, 3])
    assert sunk == [1, 3]


# ------------------------------------------------------------------ re-entrant emits


def run_with_deadline(body, seconds=10):
    """Run ``body`` in a thread; fail (instead of hanging the suite) if it does not end."""
    result = {}

    def target():
        try:
            result["value"] = body()
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "deadlocked"
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_a_sink_emitting_into_the_lossless_side_of_zip_latest_does_not_deadlock():
    def body():
        a, b = Stream(), Stream()
        out = []

        def sink(t):
            out.append(t)
            if t[0] < 3:
                a.emit(t[0] + 1)

        a.zip_latest(b).sink(sink)
        b.emit("b")
        a.emit(0)
        return out

    assert run_with_deadline(body) == [(0, "b"), (1, "b"), (2, "b"), (3, "b")]


def test_a_cycle_through_connect_with_an_async_sink_does_not_deadlock():
    def body():
        source = Stream()
        seen = []

        async def write(x):
            await asyncio.sleep(0)
            seen.append(x)

        step = source.filter(lambda x: x < 3).map(lambda x: x + 1)
        step.sink(write)
        step.connect(source)
        source.emit(0)
        source.drain()
        return sorted(seen)

    assert run_with_deadline(body) == [1, 2, 3]


def test_a_sink_emitting_into_a_loop_bound_graph_from_a_script_does_not_deadlock():
    def body():
        a, b = Stream(), Stream()
        out = []

        def sink(t):
            out.append(t)
            if t[0] < 3:
                a.emit(t[0] + 1)

        a.zip_latest(b).timed_window(0.01).flatten().sink(sink)
        b.emit("b")
        a.emit(0)
        for _ in range(4):
            a.drain()
        return out

    assert run_with_deadline(body) == [(0, "b"), (1, "b"), (2, "b"), (3, "b")]
