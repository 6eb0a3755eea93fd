"""VirtualTimeLoop and run_virtual (streams/testing/clock.py)."""

import asyncio
import logging
import threading
import time
import warnings

import pytest

from streams.testing import VirtualTimeLoop, run_virtual


async def now():
    return asyncio.get_running_loop().time()


def test_time_starts_at_start():
    loop = VirtualTimeLoop()
    try:
        assert loop.time() == 0.0
    finally:
        loop.close()
    loop = VirtualTimeLoop(start=100)
    try:
        assert loop.time() == 100.0 and isinstance(loop.time(), float)
    finally:
        loop.close()
    assert run_virtual(now()) == 0.0
    assert run_virtual(now(), start=42.5) == 42.5


def test_time_stands_still_without_timers():
    loop = VirtualTimeLoop(start=7)
    try:
        loop.run_until_complete(asyncio.sleep(0))
        assert loop.time() == 7.0
    finally:
        loop.close()


def test_an_hour_of_sleep_takes_no_real_time():
    async def main():
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    began = time.perf_counter()
    assert run_virtual(main()) == 3600.0
    assert time.perf_counter() - began < 5  # sanity bound only: it does not really sleep


def test_sleep_from_a_later_start():
    async def main():
        await asyncio.sleep(2.5)
        return await now()

    assert run_virtual(main(), start=1000.0) == 1002.5


def test_call_later_and_call_at_fire_in_time_order():
    async def main():
        loop = asyncio.get_running_loop()
        fired = []
        done = loop.create_future()

        def note(name):
            fired.append((loop.time(), name))
            if len(fired) == 4:
                done.set_result(None)

        loop.call_later(3, note, "later 3")
        loop.call_at(1.5, note, "at 1.5")
        loop.call_later(0.5, note, "later 0.5")
        loop.call_at(2, note, "at 2")
        await done
        return fired

    assert run_virtual(main()) == [
        (0.5, "later 0.5"),
        (1.5, "at 1.5"),
        (2.0, "at 2"),
        (3.0, "later 3"),
    ]


def test_timers_due_at_the_same_time_all_fire_at_that_time():
    # asyncio promises no order among timers due at the same moment; only the time.
    async def main():
        loop = asyncio.get_running_loop()
        fired = []
        for name in "abc":
            loop.call_at(2.0, lambda n=name: fired.append((loop.time(), n)))
        loop.call_later(1.0, lambda: fired.append((loop.time(), "first")))
        await asyncio.sleep(2.0)
        return fired

    fired = run_virtual(main())
    assert fired[0] == (1.0, "first")
    assert sorted(fired[1:]) == [(2.0, "a"), (2.0, "b"), (2.0, "c")]


def test_sleeping_tasks_wake_in_order_at_exact_times():
    async def main():
        loop = asyncio.get_running_loop()
        woke = []

        async def sleeper(name, seconds):
            await asyncio.sleep(seconds)
            woke.append((loop.time(), name))

        await asyncio.gather(sleeper("c", 30), sleeper("a", 10), sleeper("b", 20))
        return woke

    assert run_virtual(main()) == [(10.0, "a"), (20.0, "b"), (30.0, "c")]


def test_timers_scheduled_by_timers():
    async def main():
        loop = asyncio.get_running_loop()
        fired = []
        done = loop.create_future()

        def tick(n):
            fired.append(loop.time())
            if n:
                loop.call_later(0.25, tick, n - 1)
            else:
                done.set_result(None)

        loop.call_later(1, tick, 3)
        await done
        return fired

    assert run_virtual(main()) == [1.0, 1.25, 1.5, 1.75]


def test_wait_for_times_out_at_the_exact_virtual_time():
    async def main():
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), timeout=5)
        return await now()

    assert run_virtual(main()) == 5.0


def test_run_in_executor_works():
    def work(x):
        return x * 2, threading.current_thread() is not threading.main_thread()

    async def main():
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, work, 21)
        return result, loop.time()

    assert run_virtual(main()) == ((42, True), 0.0)


def test_a_real_thread_can_wake_the_loop():
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        thread = threading.Thread(target=loop.call_soon_threadsafe, args=(fut.set_result, 7))
        thread.start()
        value = await fut
        thread.join()
        return value, loop.time()

    assert run_virtual(main()) == (7, 0.0)


def test_run_virtual_returns_the_value():
    async def main():
        await asyncio.sleep(1)
        return {"answer": 42}

    assert run_virtual(main()) == {"answer": 42}


def test_run_virtual_propagates_the_exception():
    async def main():
        await asyncio.sleep(10)
        raise LookupError("missing")

    with pytest.raises(LookupError, match="missing"):
        run_virtual(main())


def test_each_run_gets_a_fresh_closed_afterwards_loop():
    loops = []

    async def main():
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(5)

    run_virtual(main())
    run_virtual(main())
    assert all(isinstance(loop, VirtualTimeLoop) for loop in loops)
    assert loops[0] is not loops[1]
    assert all(loop.is_closed() for loop in loops)
    assert loops[1].time() == 5.0  # the second loop started at 0 again


def test_leftover_tasks_are_cancelled_without_warnings(caplog):
    seen = []
    tasks = []

    async def forever():
        try:
            await asyncio.sleep(1e9)
        except asyncio.CancelledError:
            seen.append(("cancelled at", asyncio.get_running_loop().time()))
            raise

    async def main():
        tasks.append(asyncio.create_task(forever()))
        tasks.append(asyncio.create_task(asyncio.Event().wait()))
        await asyncio.sleep(1)
        return "done"

    caplog.set_level(logging.DEBUG, logger="asyncio")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run_virtual(main()) == "done"
    assert seen == [("cancelled at", 1.0)]
    assert all(task.cancelled() for task in tasks)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_async_tests_run_on_a_virtual_time_loop():
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    assert loop.time() == 0.0
    await asyncio.sleep(86400)
    assert loop.time() == 86400.0
