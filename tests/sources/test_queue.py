"""Stream.from_q (streams/sources/queue.py): a bridge from other threads."""

import asyncio
import multiprocessing
import queue
import threading

import pytest
from helpers import stop, until

from streams import Source, Stream
from streams.sources.queue import FromQ
from streams.testing import check_source


@pytest.mark.real_time
async def test_from_q_conformance():
    q = queue.Queue()

    def produce(items):
        for x in items:
            q.put(x)

    await check_source(lambda: Stream.from_q(q), produce, list(range(8)))


@pytest.mark.real_time
async def test_from_q_conformance_with_items_put_by_another_thread():
    q = queue.SimpleQueue()

    def produce(items):
        thread = threading.Thread(target=lambda: [q.put(x) for x in items])
        thread.start()
        thread.join()

    await check_source(lambda: Stream.from_q(q, sleep_time="5ms"), produce, list("abcdefgh"))


def test_builds_a_source_that_does_not_start_by_itself():
    source = Stream.from_q(queue.Queue())
    assert isinstance(source, FromQ) and isinstance(source, Source)
    assert source._describe() == "from_q<Queue, 0.01s>"
    assert source.sleep_time == 0.01 and not source.started
    assert Stream.from_q(queue.Queue(), sleep_time="1s").sleep_time == 1.0


async def test_items_come_out_in_order_after_start():
    q = queue.Queue()
    for i in range(5):
        q.put(i)
    source = Stream.from_q(q, sleep_time=0.5)
    out = source.sink_to_list()
    await asyncio.sleep(2)
    assert out == []  # nothing before start
    source.start()
    await until(lambda: len(out) == 5)
    q.put(5)
    await until(lambda: len(out) == 6)
    assert out == list(range(6))
    await stop(source)


async def test_start_true_and_falsy_items():
    q = queue.Queue()
    for x in [0, None, "", []]:
        q.put(x)
    source = Stream.from_q(q, start=True)
    out = source.sink_to_list()
    await until(lambda: len(out) == 4)
    assert out == [0, None, "", []]
    await stop(source)


async def test_an_empty_queue_is_polled_every_sleep_time():
    q = queue.Queue()
    source = Stream.from_q(q, sleep_time=1.0, start=True)
    out = source.sink_to_list()
    loop = asyncio.get_running_loop()
    times = []
    source.sink(lambda x: times.append(loop.time()))
    await asyncio.sleep(0.5)
    q.put("x")  # taken at the next poll, t=1.0
    await until(lambda: out == ["x"])
    assert times == [1.0]
    await stop(source)


async def test_stop_is_quick_and_leaves_the_rest_in_the_queue():
    q = queue.Queue()
    source = Stream.from_q(q, sleep_time=3600, start=True)
    out = source.sink_to_list()

    def stop_after_two(x):
        if len(out) == 2:
            source.stop()

    source.sink(stop_after_two)
    await asyncio.sleep(1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await stop(source)  # ends the hour-long sleep at once
    assert loop.time() == began
    for i in range(5):
        q.put(i)
    source.start()
    await source.wait()
    assert out == [0, 1]
    assert [q.get_nowait() for _ in range(q.qsize())] == [2, 3, 4]


async def test_a_busy_queue_does_not_starve_the_loop():
    q = queue.Queue()
    for i in range(2000):
        q.put(i)
    source = Stream.from_q(q, start=True)
    out = source.sink_to_list()
    ticks = []

    async def ticker():
        while len(out) < 2000:
            ticks.append(len(out))
            await asyncio.sleep(0)

    await asyncio.wait_for(ticker(), 10)
    assert len(ticks) > 2  # other tasks ran while the queue was being emptied
    await stop(source)


@pytest.mark.real_time
async def test_a_multiprocessing_queue():
    with multiprocessing.Manager() as manager:
        q = manager.Queue()
        q.put("from another process")
        source = Stream.from_q(q, start=True)
        out = source.sink_to_list()
        await until(lambda: out == ["from another process"])
        await stop(source)


def test_bad_arguments_are_refused_at_build_time():
    with pytest.raises(TypeError, match="from_q: q must be a queue"):
        Stream.from_q([1, 2])
    with pytest.raises(ValueError, match="from_q"):
        Stream.from_q(queue.Queue(), sleep_time=0)
