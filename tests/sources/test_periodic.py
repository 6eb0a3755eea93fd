"""Stream.from_periodic (streams/sources/periodic.py)."""

import asyncio
import datetime
import itertools
import math
import threading

import pytest

from streams import Source, Stream
from streams.sources import FromPeriodic
from streams.testing import timeline


def counter_at(calls):
    """A callback returning 0, 1, 2... and appending its call time to ``calls``."""
    numbers = itertools.count()

    def callback():
        calls.append(asyncio.get_running_loop().time())
        return next(numbers)

    return callback


async def run_for(source, seconds):
    """Start ``source``, let it run ``seconds`` of loop time, stop it and wait for it."""
    source.start()
    await asyncio.sleep(seconds)
    source.stop()
    await source.wait()


def test_builds_a_source_that_does_not_start_by_itself():
    def poll():
        return 1

    source = Stream.from_periodic(poll, poll_interval=0.5)
    assert isinstance(source, FromPeriodic) and isinstance(source, Source)
    assert source.poll_interval == 0.5
    assert source._describe() == "from_periodic<poll, 0.5s>"
    assert not source.started
    assert Stream.from_periodic(poll).poll_interval == 0.1


async def test_calls_at_start_then_every_poll_interval():
    calls = []
    source = Stream.from_periodic(counter_at(calls), poll_interval=0.5)
    out = timeline(source)
    await run_for(source, 1.25)
    assert out == [(0.0, 0), (0.5, 1), (1.0, 2)]
    assert calls == [0.0, 0.5, 1.0]


async def test_ticks_count_from_start_not_from_build():
    source = Stream.from_periodic(counter_at([]), poll_interval=2)
    out = timeline(source)
    await asyncio.sleep(3)
    assert out == []  # nothing before start
    await run_for(source, 4.5)
    assert out == [(3.0, 0), (5.0, 1), (7.0, 2)]


async def test_start_true_starts_at_once():
    source = Stream.from_periodic(counter_at([]), poll_interval=1.0, start=True)
    out = timeline(source)
    await asyncio.sleep(2.5)
    source.stop()
    await source.wait()
    assert out == [(0.0, 0), (1.0, 1), (2.0, 2)]


@pytest.mark.parametrize(
    ("interval", "seconds"),
    [("250ms", 0.25), ("0.25s", 0.25), (datetime.timedelta(milliseconds=250), 0.25)],
)
async def test_interval_strings_and_timedeltas(interval, seconds):
    source = Stream.from_periodic(counter_at([]), poll_interval=interval)
    assert source.poll_interval == seconds
    out = timeline(source)
    await run_for(source, 0.6)
    assert out == [(0.0, 0), (0.25, 1), (0.5, 2)]


async def test_none_results_emit_nothing():
    calls = []
    results = iter([None, "a", None, None, "b"])

    def callback():
        calls.append(asyncio.get_running_loop().time())
        return next(results, None)

    source = Stream.from_periodic(callback, poll_interval=1.0)
    out = timeline(source)
    await run_for(source, 5.5)
    assert calls == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert out == [(1.0, "a"), (4.0, "b")]


async def test_falsy_results_other_than_none_are_emitted():
    results = iter([0, "", [], False])
    source = Stream.from_periodic(lambda: next(results, None), poll_interval=1.0)
    out = source.sink_to_list()
    await run_for(source, 4.5)
    assert out == [0, "", [], False]


async def test_async_callbacks_are_awaited():
    calls = []
    numbers = itertools.count()

    async def callback():
        calls.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0.1)
        n = next(numbers)
        return None if n == 1 else n

    source = Stream.from_periodic(callback, poll_interval=0.5)
    out = timeline(source)
    await run_for(source, 1.3)
    assert calls == [0.0, 0.5, 1.0]
    assert out == [(0.1, 0), (1.1, 2)]


async def test_a_slow_callback_skips_missed_ticks_instead_of_bursting():
    calls = []
    durations = iter([2.5, 0, 0])

    async def callback():
        loop = asyncio.get_running_loop()
        calls.append(loop.time())
        await asyncio.sleep(next(durations, 0))
        return len(calls)

    source = Stream.from_periodic(callback, poll_interval=1.0)
    out = timeline(source)
    await run_for(source, 5.5)
    # the first call ends at 2.5: the ticks at 1.0 and 2.0 are gone, the next is 3.0
    assert calls == [0.0, 3.0, 4.0, 5.0]
    assert out == [(2.5, 1), (3.0, 2), (4.0, 3), (5.0, 4)]


async def test_a_slow_consumer_skips_missed_ticks_too():
    loop = asyncio.get_running_loop()
    calls = []
    accepted = []

    async def write(x):
        await asyncio.sleep(1.5)
        accepted.append((loop.time(), x))

    source = Stream.from_periodic(counter_at(calls), poll_interval=1.0)
    source.sink(write)
    await run_for(source, 5.0)
    assert calls == [0.0, 2.0, 4.0]
    assert accepted == [(1.5, 0), (3.5, 1), (5.5, 2)]
    assert loop.time() == 5.5  # wait() returned once the element in hand was accepted


@pytest.mark.parametrize("interval", [0, -1, "0s", "-5ms", "soon", "5 parsecs", math.inf])
def test_bad_intervals_raise_value_error_at_build_time(interval):
    with pytest.raises(ValueError, match="from_periodic"):
        Stream.from_periodic(lambda: 1, poll_interval=interval)


@pytest.mark.parametrize("interval", [None, [1], object()])
def test_intervals_of_a_wrong_type_raise_type_error(interval):
    with pytest.raises(TypeError, match="from_periodic"):
        Stream.from_periodic(lambda: 1, poll_interval=interval)


@pytest.mark.parametrize("callback", [None, 42, "poll"])
def test_non_callable_raises_type_error(callback):
    with pytest.raises(TypeError, match="callable"):
        Stream.from_periodic(callback)


async def test_callback_errors_go_to_errors_and_polling_continues():
    calls = []

    def callback():
        calls.append(asyncio.get_running_loop().time())
        if len(calls) == 2:
            raise ConnectionError("server away")
        return len(calls)

    source = Stream.from_periodic(callback, poll_interval=1.0)
    out = timeline(source)
    errors = source.errors().sink_to_list()
    await run_for(source, 3.5)
    assert calls == [0.0, 1.0, 2.0, 3.0]
    assert out == [(0.0, 1), (2.0, 3), (3.0, 4)]
    assert len(errors) == 1
    assert errors[0].node is source and errors[0].element is None
    assert isinstance(errors[0].error, ConnectionError)
    assert "from_periodic" in "".join(errors[0].error.__notes__)


async def test_async_callback_errors_go_to_errors_and_polling_continues():
    calls = []

    async def callback():
        calls.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0)
        if len(calls) == 1:
            raise TimeoutError("slow server")
        return len(calls)

    source = Stream.from_periodic(callback, poll_interval=1.0)
    out = timeline(source)
    errors = source.errors().sink_to_list()
    await run_for(source, 1.5)
    assert out == [(1.0, 2)]
    assert [type(r.error) for r in errors] == [TimeoutError]


async def test_downstream_errors_go_to_errors_and_polling_continues():
    source = Stream.from_periodic(counter_at([]), poll_interval=1.0)
    inverted = source.map(lambda x: 1 / x)
    out = timeline(inverted)
    errors = source.errors().sink_to_list()
    await run_for(source, 2.5)
    assert out == [(1.0, 1.0), (2.0, 0.5)]
    assert [(r.node, r.element, type(r.error)) for r in errors] == [
        (inverted, 0, ZeroDivisionError)
    ]


async def test_callback_errors_without_error_stream_are_raised_by_drain(caplog):
    def callback():
        raise KeyError("gone")

    source = Stream.from_periodic(callback, poll_interval=1.0)
    await run_for(source, 1.5)
    assert "gone" in caplog.text
    with pytest.raises(KeyError, match="gone") as info:
        await source.drain()
    assert "(1 more errors since the last drain)" in info.value.__notes__


async def test_stop_stops_polling_at_once():
    loop = asyncio.get_running_loop()
    calls = []
    source = Stream.from_periodic(counter_at(calls), poll_interval=10.0)
    out = source.sink_to_list()
    source.start()
    await asyncio.sleep(12)
    source.stop()
    await source.wait()
    assert loop.time() == 12.0  # the sleep until 20.0 was cut short
    assert source.done and source.stopped
    await asyncio.sleep(100)
    assert calls == [0.0, 10.0]
    assert out == [0, 1]


async def test_stop_from_the_callback():
    calls = []

    def callback():
        calls.append(asyncio.get_running_loop().time())
        if len(calls) == 3:
            source.stop()
        return len(calls)

    source = Stream.from_periodic(callback, poll_interval=1.0)
    out = source.sink_to_list()
    source.start()
    await source.wait()
    assert calls == [0.0, 1.0, 2.0]
    assert out == [1, 2, 3]  # the element in hand still goes out


async def test_restart_after_stop_polls_again_from_the_new_start():
    source = Stream.from_periodic(counter_at([]), poll_interval=1.0)
    out = timeline(source)
    await run_for(source, 1.5)
    await asyncio.sleep(0.25)
    await run_for(source, 1.5)
    assert out == [(0.0, 0), (1.0, 1), (1.75, 2), (2.75, 3)]


def test_stop_from_a_plain_thread_cuts_the_sleep_short():
    called = threading.Event()

    def callback():
        called.set()
        return threading.current_thread().name

    source = Stream.from_periodic(callback, poll_interval="1h")
    out = source.sink_to_list()
    source.start()  # no running loop here: the background loop runs it
    assert called.wait(timeout=30)
    source.stop()
    waiter = threading.Thread(target=source.wait)
    waiter.start()
    waiter.join(timeout=30)  # a bound only: without the cut it would take an hour
    assert not waiter.is_alive()
    assert source.done
    assert out == ["streams-loop"]
