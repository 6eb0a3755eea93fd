"""The Source base class (streams/sources/base.py), through subclasses and from_iterable."""

import asyncio
import threading

import pytest

from streams import ErrorRecord, Source, Stream
from streams.loop import background_loop
from streams.testing import timeline


class Counter(Source):
    """Emit 0, 1, 2... up to ``n``, sleeping ``pause`` between elements."""

    def __init__(self, n=3, pause=1.0, **kwargs):
        self.n = n
        self.pause = pause
        self.runs = 0
        super().__init__(**kwargs)

    async def run(self):
        self.runs += 1
        for i in range(self.n):
            if self.stopped:
                break
            await self.emit(i)
            await self.sleep(self.pause)


class Sleeper(Source):
    """Emit one element, then sleep a long time, then emit another."""

    async def run(self):
        await self.emit("before")
        await self.sleep(100)
        await self.emit("after")


class Broken(Source):
    """Emit one element, then fail in ``run`` itself."""

    async def run(self):
        await self.emit(1)
        raise ValueError("run broke")


def slow_sink(out, seconds=1.0):
    """An async sink function appending ``(time, x)`` to ``out`` after ``seconds`` of work."""

    async def write(x):
        await asyncio.sleep(seconds)
        out.append((asyncio.get_running_loop().time(), x))

    return write


# ------------------------------------------------------------------ lifecycle


async def test_run_must_be_implemented():
    source = Source()
    errors = source.errors().sink_to_list()
    source.start()
    await source.wait()
    assert source.done
    assert len(errors) == 1 and isinstance(errors[0].error, NotImplementedError)


async def test_flags_through_the_lifecycle():
    source = Counter(n=2, pause=1.0)
    assert (source.started, source.stopped, source.done) == (False, True, False)
    source.start()
    assert (source.started, source.stopped, source.done) == (True, False, False)
    await asyncio.sleep(0.5)
    assert (source.started, source.stopped, source.done) == (True, False, False)
    await source.wait()
    assert (source.started, source.stopped, source.done) == (True, True, True)
    assert asyncio.get_running_loop().time() == 2.0


async def test_flags_after_stop():
    source = Counter(n=10, pause=1.0)
    source.start()
    await asyncio.sleep(0.5)
    source.stop()
    assert source.stopped and source.started
    await source.wait()
    assert (source.started, source.stopped, source.done) == (True, True, True)


async def test_nothing_flows_before_start():
    source = Stream.from_iterable([1, 2, 3])
    out = source.sink_to_list()
    await asyncio.sleep(10)
    assert out == []
    assert not source.started and not source.done
    source.start()
    await source.wait()
    assert out == [1, 2, 3]


async def test_start_true_starts_at_once():
    source = Stream.from_iterable([1, 2, 3], start=True)
    assert source.started and not source.stopped
    out = source.sink_to_list()  # attached before the loop ran the source's task
    await source.wait()
    assert out == [1, 2, 3]


async def test_start_is_idempotent():
    source = Counter(n=3, pause=1.0)
    out = timeline(source)
    source.start()
    source.start()
    await asyncio.sleep(0.5)
    source.start()  # while running: no second run
    await source.wait()
    assert source.runs == 1
    assert out == [(0.0, 0), (1.0, 1), (2.0, 2)]


async def test_stop_is_idempotent_and_harmless_before_start():
    source = Counter(n=3, pause=1.0)
    source.stop()  # never started: nothing happens
    assert not source.started and source.stopped
    out = timeline(source)
    source.start()
    await asyncio.sleep(1.5)
    source.stop()
    source.stop()
    await source.wait()
    source.stop()
    assert out == [(0.0, 0), (1.0, 1)]
    assert source.runs == 1 and source.done


async def test_stop_ends_a_sleep_early():
    loop = asyncio.get_running_loop()
    source = Sleeper()
    out = source.sink_to_list()
    source.start()
    await asyncio.sleep(1.0)
    source.stop()
    await source.wait()
    assert loop.time() == 1.0  # not 100: the sleep was cut short
    assert out == ["before", "after"]  # this `run` does not check `stopped`
    assert source.done


async def test_sleep_after_stop_returns_at_once():
    loop = asyncio.get_running_loop()
    slept = []

    class SleepTwice(Source):
        async def run(self):
            await self.sleep(5)
            slept.append(loop.time())
            await self.sleep(5)
            slept.append(loop.time())

    source = SleepTwice()
    source.start()
    await asyncio.sleep(2)
    source.stop()
    await source.wait()
    assert slept == [2.0, 2.0]


async def test_restart_after_stop_continues_the_iterator():
    loop = asyncio.get_running_loop()
    source = Stream.from_iterable(iter(range(6)))
    out = []
    source.sink(slow_sink(out, 1.0))
    source.start()
    await asyncio.sleep(1.5)  # element 0 done at 1.0, element 1 in progress
    source.stop()
    await source.wait()
    assert loop.time() == 2.0  # the element in hand finished
    assert [x for _, x in out] == [0, 1]
    assert source.done
    source.start()
    assert source.started and not source.stopped and not source.done
    await source.wait()
    # nothing lost, nothing repeated
    assert [x for _, x in out] == [0, 1, 2, 3, 4, 5]
    assert out[-1] == (6.0, 5)


async def test_restart_a_subclass_runs_it_again():
    source = Counter(n=2, pause=1.0)
    out = timeline(source)
    source.start()
    await source.wait()
    source.start()
    await source.wait()
    assert source.runs == 2
    assert out == [(0.0, 0), (1.0, 1), (2.0, 0), (3.0, 1)]


# ------------------------------------------------------------------ wait


async def test_wait_returns_once_a_slow_sink_finished():
    loop = asyncio.get_running_loop()
    source = Stream.from_iterable(["a", "b", "c"])
    out = []
    source.sink(slow_sink(out, 2.0))
    source.start()
    await source.wait()
    assert loop.time() == 6.0
    assert out == [(2.0, "a"), (4.0, "b"), (6.0, "c")]


async def test_wait_inside_a_loop_is_awaitable():
    source = Stream.from_iterable([1, 2])
    out = source.sink_to_list()
    source.start()
    waiting = source.wait()
    assert hasattr(waiting, "__await__")
    await waiting
    assert out == [1, 2]
    await source.wait()  # once done, waiting again returns at once


def test_wait_blocks_in_a_plain_script():
    source = Stream.from_iterable(range(5))
    seen = []

    async def write(x):
        await asyncio.sleep(0.001)
        seen.append(x)

    source.sink(write)
    source.start()
    assert source.wait() is None
    assert seen == [0, 1, 2, 3, 4]
    assert source.done
    assert source.wait() is None  # done already: returns at once


def test_wait_before_start_in_a_plain_script_returns_none():
    source = Stream.from_iterable([1])
    assert source.wait() is None
    assert not source.done


# ------------------------------------------------------------------ loops


def test_source_built_in_a_plain_thread_binds_to_the_background_loop_on_start():
    threads = []
    source = Stream.from_iterable([1, 2, 3])
    source.map(lambda x: threads.append(threading.current_thread().name) or x).sink_to_list()
    assert source.loop is None
    source.start()
    assert source.loop.asyncio_loop is background_loop()
    source.wait()
    assert threads == ["streams-loop"] * 3
    assert any(t.name == "streams-loop" and t.is_alive() for t in threading.enumerate())


async def test_source_built_inside_a_running_loop_uses_that_loop():
    loop = asyncio.get_running_loop()
    source = Stream.from_iterable([1, 2])
    assert source.loop.asyncio_loop is loop  # bound at build time
    seen = []
    source.sink(lambda x: seen.append(asyncio.get_running_loop()))
    source.start()
    await source.wait()
    assert seen == [loop, loop]


def test_wait_from_another_running_loop_is_awaitable():
    source = Stream.from_iterable(range(3))
    out = source.sink_to_list()
    source.start()  # runs on the background loop

    async def main():
        waiting = source.wait()
        assert hasattr(waiting, "__await__")
        await waiting
        return list(out)

    assert asyncio.run(main()) == [0, 1, 2]


# ------------------------------------------------------------------ errors


async def test_an_element_failing_downstream_goes_to_errors_and_the_source_goes_on():
    def check(x):
        if x == 2:
            raise ValueError("two is bad")
        return x

    source = Stream.from_iterable([1, 2, 3])
    checked = source.map(check)
    out = checked.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await source.wait()
    assert out == [1, 3]
    assert len(errors) == 1
    record = errors[0]
    assert isinstance(record, ErrorRecord)
    assert record.element == 2
    assert record.node is checked
    assert isinstance(record.error, ValueError) and str(record.error) == "two is bad"
    await source.drain()  # the error was observed by an error stream: drain is quiet


async def test_an_async_sink_failing_goes_to_errors_and_the_source_goes_on():
    async def write(x):
        await asyncio.sleep(1)
        if x == "b":
            raise OSError("disk full")
        out.append(x)

    out = []
    source = Stream.from_iterable(["a", "b", "c"])
    sink = source.sink(write)
    errors = source.errors().sink_to_list()
    source.start()
    await source.wait()
    assert out == ["a", "c"]
    assert [(r.node, r.element, type(r.error)) for r in errors] == [(sink, "b", OSError)]


async def test_a_subclass_emit_failing_downstream_goes_to_errors_and_run_goes_on():
    # Source's docstring: subclasses produce with `await self.emit(x)`, and an error
    # raised by the graph downstream goes to the error streams while the source goes
    # on with its next element.
    source = Counter(n=3, pause=1.0)
    inverted = source.map(lambda x: 1 / x)
    out = timeline(inverted)
    errors = source.errors().sink_to_list()
    source.start()
    await source.wait()
    assert [(r.node, r.element, type(r.error)) for r in errors] == [
        (inverted, 0, ZeroDivisionError)
    ]
    assert out == [(1.0, 1.0), (2.0, 0.5)]


async def test_an_exception_from_run_is_reported_and_the_source_is_done():
    source = Broken()
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await source.wait()
    assert out == [1]
    assert source.done and source.stopped
    assert len(errors) == 1
    assert errors[0].node is source
    assert errors[0].element is None
    assert isinstance(errors[0].error, ValueError)


async def test_an_exception_from_run_without_error_stream_is_raised_by_drain(caplog):
    source = Broken()
    source.sink_to_list()
    source.start()
    await source.wait()
    assert source.done
    with pytest.raises(ValueError, match="run broke"):
        await source.drain()
    assert "run broke" in caplog.text
    await source.drain()  # raised once only


# ------------------------------------------------------------------ back pressure


async def test_from_iterable_waits_for_a_slow_consumer():
    loop = asyncio.get_running_loop()
    source = Stream.from_iterable(range(4))
    taken = timeline(source)  # when the source pushed each element
    out = []
    source.sink(slow_sink(out, 1.0))
    source.start()
    await source.wait()
    assert taken == [(0.0, 0), (1.0, 1), (2.0, 2), (3.0, 3)]
    assert out == [(1.0, 0), (2.0, 1), (3.0, 2), (4.0, 3)]
    assert loop.time() == 4.0


async def test_a_buffer_lets_from_iterable_run_ahead_by_n():
    loop = asyncio.get_running_loop()
    source = Stream.from_iterable(range(6))
    pushed = timeline(source)  # when the source pushed each element
    out = []
    source.buffer(2).sink(slow_sink(out, 1.0))
    source.start()
    await source.wait()
    # 0 goes on to the consumer, 1 and 2 fill the buffer (n=2), 3 waits for a free
    # slot; from then on each element is accepted when the consumer finishes one
    assert pushed == [(0.0, 0), (0.0, 1), (0.0, 2), (0.0, 3), (1.0, 4), (2.0, 5)]
    # the source is done while the consumer still has n elements queued and one in hand
    assert loop.time() == 3.0
    assert out == [(1.0, 0), (2.0, 1), (3.0, 2)]
    await source.drain()
    assert out == [(1.0, 0), (2.0, 1), (3.0, 2), (4.0, 3), (5.0, 4), (6.0, 5)]


async def test_from_iterable_lets_other_tasks_run_during_a_large_iterable():
    progress = []

    def items(n):
        for i in range(n):
            progress.append(i)
            yield i

    ran_at = []

    async def other():
        while not progress:  # wait until the source has begun
            await asyncio.sleep(0)
        ran_at.append(len(progress))

    source = Stream.from_iterable(items(10_000))
    out = source.sink_to_list()
    task = asyncio.get_running_loop().create_task(other())
    source.start()
    await source.wait()
    await task
    assert len(out) == 10_000
    # it ran again while the iterable was being consumed, not only at the end
    assert 0 < ran_at[0] < 10_000


@pytest.mark.real_time
async def test_timed_window_ticks_during_a_large_iterable():
    windows = []

    def until_two_windows(limit=5_000_000):
        """Items until the window has emitted twice (bounded, in case it never does)."""
        i = 0
        while len(windows) < 2 and i < limit:
            yield i
            i += 1

    source = Stream.from_iterable(until_two_windows())
    source.timed_window(0.001).sink(windows.append)
    source.start()
    await source.wait()
    # the windows were emitted while the iterable was still being consumed
    assert len(windows) >= 2
    assert sum(len(w) for w in windows[:2]) > 0
    assert source.current_value < 5_000_000 - 1


async def test_restart_while_the_last_run_winds_down_does_not_revive_it():
    loop = asyncio.get_running_loop()
    runs = []

    class Slow(Source):
        async def run(self):
            me = object()
            runs.append(me)
            while not self.stopped:
                await self.sleep(10)
            await asyncio.sleep(0.5)  # cleanup after stop, e.g. closing a socket
            runs.remove(me)

    source = Slow()
    source.start()
    await asyncio.sleep(1)
    source.stop()
    source.start()  # the first run is still cleaning up
    await asyncio.sleep(0.25)
    assert len(runs) == 1  # the new run waits for the old one to finish
    await asyncio.sleep(0.5)
    assert len(runs) == 1 and not source.stopped  # old run ended, new run runs
    source.stop()
    await source.wait()
    assert runs == [] and source.done and loop.time() == 2.25
