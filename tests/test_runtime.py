"""Which loop a graph runs on, emit from elsewhere, drain (streams/runtime.py)."""

import asyncio
import subprocess
import sys
import textwrap
import threading

import pytest

from streams import Stream
from streams.loop import background_loop
from streams.runtime import UNBOUND


def thread_names():
    return {t.name for t in threading.enumerate()}


# ------------------------------------------------------------------ binding


def test_a_pure_synchronous_graph_needs_no_loop():
    source = Stream()
    node = source.map(str).partition(2)
    assert source.loop is None and node._home is None


def test_built_in_a_plain_thread_the_graph_binds_on_first_emit():
    source = Stream()
    window = source.timed_window(60)
    out = window.sink_to_list()
    assert source.loop is None and window._home is UNBOUND
    source.emit(1)
    assert source.loop.asyncio_loop is background_loop() and window.loop is source.loop
    assert "streams-loop" in thread_names()
    source.drain()
    assert out == [[1]]


async def test_built_inside_a_running_loop_the_graph_takes_that_loop():
    loop = asyncio.get_running_loop()
    source = Stream()
    plain = source.map(str)
    assert plain.loop is None
    window = plain.timed_window(1)
    assert (
        source.loop.asyncio_loop is loop
        and window.loop.asyncio_loop is loop
        and plain.loop.asyncio_loop is loop
    )


def test_built_in_a_script_first_used_inside_asyncio_run_takes_that_loop():
    source = Stream()
    out = source.rate_limit(1).sink_to_list()

    async def main():
        await source.emit(1)
        return asyncio.get_running_loop()

    loop = asyncio.run(main())
    assert source.loop.asyncio_loop is loop
    assert out == [1]


async def test_explicit_asyncio_loop_and_tornado_ioloop():
    from tornado.ioloop import IOLoop

    loop = asyncio.get_running_loop()
    a = Stream(loop=loop)
    b = Stream(loop=IOLoop.current())
    assert a.loop.asyncio_loop is loop and b.loop.asyncio_loop is loop
    a.connect(b)  # the same loop: fine
    assert a._runtime is b._runtime


def test_ensure_io_loop_binds_at_once_outside_a_loop_to_the_background_loop():
    # streamz gives such a node its loop when it is built (a custom source may call
    # self.loop.add_callback in start()); the background loop never dies with a caller
    source = Stream(ensure_io_loop=True)
    assert source.loop is not None and source.loop.asyncio_loop is background_loop()
    out = source.map(str).sink_to_list()
    source.emit(1)
    assert out == ["1"]


async def test_ensure_io_loop_inside_a_running_loop_binds_to_it():
    source = Stream(ensure_io_loop=True)
    assert source.loop.asyncio_loop is asyncio.get_running_loop()


async def test_loop_is_the_tornado_ioloop_of_the_graph_s_asyncio_loop():
    from tornado.ioloop import IOLoop

    source = Stream()
    window = source.timed_window(1)
    assert window.loop is IOLoop.current() and source.loop is window.loop
    assert window.loop.asyncio_loop is asyncio.get_running_loop()
    called = []
    window.loop.add_callback(called.append, 1)  # tornado's API, as in streamz
    await asyncio.sleep(0)
    assert called == [1]


def test_loop_of_a_graph_on_another_thread_s_loop_is_its_ioloop_too():
    from tornado.ioloop import IOLoop

    source = Stream(ensure_io_loop=True)
    loop = source.loop
    assert isinstance(loop, IOLoop) and source.loop is loop
    done = threading.Event()
    loop.add_callback(done.set)  # runs on the background loop's thread
    assert done.wait(5)


# ------------------------------------------------------------------ percolation


def test_loop_and_runtime_spread_through_the_connected_graph():
    loop = asyncio.new_event_loop()
    try:
        a, b = Stream(), Stream()
        joined = a.map(str).zip(b.map(str))
        tail = joined.sink_to_list().node
        bound = Stream(loop=loop)
        bound.connect(b)
        for node in (a, b, joined, tail, bound):
            assert node.loop.asyncio_loop is loop and node._runtime is a._runtime
    finally:
        loop.close()


def test_conflicting_loops_are_refused_before_anything_is_wired():
    one, two = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        a, b = Stream(loop=one), Stream(loop=two)
        with pytest.raises(ValueError, match="exactly one event loop"):
            a.connect(b)
        assert a.downstreams == () and b.upstreams == []
        with pytest.raises(ValueError, match="exactly one event loop"):
            a.zip(b)
        assert a.downstreams == () and b.downstreams == ()
        with pytest.raises(ValueError, match="exactly one event loop"):
            Stream(upstream=a, loop=two)
        assert a.downstreams == ()
    finally:
        one.close()
        two.close()


def test_asynchronous_spreads_and_conflicts_are_refused():
    a = Stream(asynchronous=True)
    b = Stream()
    a.connect(b)
    assert b.asynchronous is True
    downstream = b.map(str)
    assert downstream.asynchronous is True
    with pytest.raises(ValueError, match="asynchronous"):
        a.connect(Stream(asynchronous=False))


# ------------------------------------------------------------------ emit from elsewhere


def test_sync_emit_from_a_thread_runs_on_the_graph_loop_and_waits():
    ran_on = []
    done = []

    async def slow(x):
        await asyncio.sleep(0.01)
        done.append(x)

    source = Stream()
    source.map(lambda x: ran_on.append(threading.current_thread().name) or x).rate_limit(
        0.001
    ).sink(slow)
    for i in range(3):
        assert source.emit(i) is None
        assert done == list(range(i + 1))  # accepted, async sink included, before return
    assert set(ran_on) == {"streams-loop"}


def test_emits_from_several_threads_all_run_on_the_loop_thread():
    seen = []
    source = Stream(ensure_io_loop=True)
    source.map(lambda x: (x, threading.current_thread().name)).sink(seen.append)
    threads = [threading.Thread(target=source.emit, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(x for x, _ in seen) == [0, 1, 2, 3]
    assert {name for _, name in seen} == {"streams-loop"}


def test_emit_from_another_running_loop_returns_an_awaitable_of_that_loop():
    home = background_loop()
    source = Stream(loop=home)
    where = []
    source.sink(lambda x: where.append((x, asyncio.get_running_loop())))

    async def main():
        result = source.emit("x")
        assert isinstance(result, asyncio.Future)
        await result

    asyncio.run(main())
    assert where == [("x", home)]


def test_emit_into_a_graph_whose_loop_is_closed_says_so():
    loop = asyncio.new_event_loop()
    source = Stream(loop=loop)
    loop.close()
    with pytest.raises(RuntimeError, match="event loop this graph runs on is closed"):
        source.emit(1)


def test_pending_work_of_a_pure_graph_runs_on_the_background_loop_without_binding():
    loops, threads = [], []

    async def write(x):
        loops.append(asyncio.get_running_loop())

    source = Stream()
    source.map(lambda x: threads.append(threading.current_thread().name) or x).sink(write)
    source.emit(1)
    source.emit(2)
    assert loops == [background_loop()] * 2  # one loop for every call of the sink
    assert source.loop is None  # not bound: the synchronous part stays inline
    assert threads == [threading.current_thread().name] * 2


# ------------------------------------------------------------------ drain


def test_drain_in_a_script_blocks_until_everything_held_is_out():
    source = Stream()
    windows = source.timed_window(3600).sink_to_list()
    delayed = source.delay(3600).sink_to_list()
    for i in range(5):
        source.emit(i)
    assert windows == [] and delayed == []
    assert source.drain() is None
    assert windows == [[0, 1, 2, 3, 4]] and delayed == [0, 1, 2, 3, 4]


def test_drain_of_a_pure_graph_is_a_no_op():
    source = Stream()
    out = source.partition(2).sink_to_list()
    source.emit(1)
    assert source.drain() is None
    assert out == []  # a partial partition waits for more elements


async def test_drain_inside_a_loop_waits_for_unawaited_emits():
    loop = asyncio.get_running_loop()
    done = []

    async def slow(x):
        await asyncio.sleep(2)
        done.append(x)

    source = Stream()
    source.sink(slow)
    for i in range(3):
        source.emit(i)  # a callback style emit: not awaited
    assert done == []
    t0 = loop.time()
    await source.drain()
    assert sorted(done) == [0, 1, 2] and loop.time() - t0 == 2.0


async def test_drain_only_flushes_downstream_of_the_node():
    a, b = Stream(), Stream()
    wa = a.timed_window(100).sink_to_list()
    wb = b.timed_window(100).sink_to_list()
    a.union(b)
    await a.emit(1)
    await b.emit(2)
    await a.drain()
    assert wa == [[1]] and wb == []


def test_drain_reports_an_unobserved_failure_once():
    def boom(x):
        raise KeyError(x)

    source = Stream()
    source.buffer(2).sink(boom)
    source.emit("k")
    with pytest.raises(KeyError, match="k") as info:
        source.drain()
    assert "in sink<boom> (element 'k')" in info.value.__notes__
    source.drain()  # reported once


# ------------------------------------------------------------------ exit


def run_script(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_script_with_timers_and_drain_delivers_everything_and_exits_cleanly():
    done = run_script(
        """
        from streams import Stream
        source = Stream()
        windows = source.timed_window(0.05).sink_to_list()
        for i in range(500):
            source.emit(i)
        source.drain()
        assert sum(len(w) for w in windows) == 500, windows
        print("ok")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n" and done.stderr == ""


def test_a_script_that_leaves_timers_running_still_exits_cleanly():
    done = run_script(
        """
        from streams import Stream
        source = Stream.from_periodic(lambda: 1, poll_interval=0.01, start=True)
        source.timed_window(0.02).sink_to_list()
        source.delay(10).sink_to_list()
        source.emit(1)
        """
    )
    assert done.returncode == 0 and done.stderr == ""


async def test_an_awaited_emit_task_that_fails_is_not_reported_again(caplog):
    async def fail(x):
        await asyncio.sleep(1)
        raise OSError("disk full")

    source = Stream()
    source.sink(fail)
    with pytest.raises(OSError, match="disk full"):
        await source.emit(1)  # a task: the sink was pending
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    await source.drain()  # nothing left to raise: the emitter had it


async def test_an_unawaited_emit_task_that_fails_is_logged_and_raised_by_drain(caplog):
    async def fail(x):
        await asyncio.sleep(1)
        raise OSError("disk full")

    source = Stream()
    source.sink(fail)
    source.emit(1)  # fire and forget, as a loop callback would
    with pytest.raises(OSError, match="disk full"):
        await source.drain()
    assert any("disk full" in r.getMessage() or r.exc_info for r in caplog.records)
