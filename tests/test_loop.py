"""Loop helpers (streams/loop.py)."""

import asyncio

import pytest

from streams.loop import Completion, as_asyncio_loop, background_loop, run_sync, running_loop


def test_running_loop_outside_and_inside():
    assert running_loop() is None

    async def main():
        return running_loop()

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(main()) is loop
    finally:
        loop.close()


def test_background_loop_is_shared_and_runs_coroutines():
    loop = background_loop()
    assert background_loop() is loop and loop.is_running()

    async def add(a, b):
        await asyncio.sleep(0)
        return a + b

    assert run_sync(add(1, 2)) == 3


def test_run_sync_refuses_to_block_its_own_loop():
    async def inner():
        return 1

    async def main():
        coro = inner()
        with pytest.raises(RuntimeError, match="from inside that loop"):
            run_sync(coro, asyncio.get_running_loop())

    asyncio.run(main())


def test_as_asyncio_loop_accepts_tornado_ioloops():
    from tornado.ioloop import IOLoop

    async def main():
        loop = asyncio.get_running_loop()
        assert as_asyncio_loop(loop) is loop
        assert as_asyncio_loop(IOLoop.current()) is loop

    asyncio.run(main())
    with pytest.raises(TypeError, match="expected an asyncio event loop"):
        as_asyncio_loop(object())


def test_completion_created_outside_a_loop_and_set_from_another_thread():
    import threading

    done = Completion()

    async def main():
        waiter = asyncio.create_task(done.wait())
        await asyncio.sleep(0)
        assert not waiter.done()
        threading.Thread(target=done.set).start()
        await asyncio.wait_for(waiter, timeout=10)
        await done.wait()  # already set: returns at once

    asyncio.run(main())
    assert done.done
