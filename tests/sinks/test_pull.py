"""``async for x in stream`` (streams/sinks/pull.py): back pressure, acknowledgement
after the loop's body, detaching when the loop ends; on the virtual clock."""

import asyncio

import pytest

from streams import RefCounter, Stream


async def test_the_emitter_waits_for_a_slow_loop():
    loop = asyncio.get_running_loop()
    source = Stream()
    emitted, handled = [], []

    async def produce():
        for i in range(4):
            await source.emit(i)
            emitted.append((i, loop.time()))

    async def consume():
        async for x in source:
            await asyncio.sleep(1)
            handled.append((x, loop.time()))
            if x == 3:
                return

    iterator = consume()
    consumer = asyncio.ensure_future(iterator)
    await asyncio.sleep(0)  # the loop is waiting for its first element
    await produce()
    await consumer
    assert handled == [(0, 1), (1, 2), (2, 3), (3, 4)]
    # one element waits for the loop; the next emit waits until the loop takes it
    assert emitted == [(0, 0), (1, 1), (2, 2), (3, 3)]


async def test_pull_keeps_maxsize_elements_for_the_loop():
    source = Stream()
    iterator = source.pull(maxsize=3)
    await source.emit(0)
    await source.emit(1)  # two wait for the loop; the emitter goes on
    third = asyncio.ensure_future(_emit(source, 2))
    await asyncio.sleep(5)
    assert not third.done()  # the queue is full: the emitter waits for room
    assert await iterator.__anext__() == 0
    await asyncio.wait_for(third, 0.001)  # the loop took one: there is room
    assert [await iterator.__anext__() for _ in range(2)] == [1, 2]
    await iterator.aclose()


async def _emit(source, x):
    await source.emit(x)


async def test_an_element_is_acknowledged_when_the_loop_asks_for_the_next():
    source = Stream()
    acked = []
    iterator = source.__aiter__()

    async def send(i):
        await source.emit(i, metadata=[{"ref": RefCounter(cb=lambda: acked.append(i))}])

    first = asyncio.ensure_future(send(0))
    assert await iterator.__anext__() == 0
    await first
    assert acked == []  # the body of the loop is still handling 0
    second = asyncio.ensure_future(send(1))
    assert await iterator.__anext__() == 1
    assert acked == [0]
    await second
    await iterator.aclose()
    assert acked == [0, 1]  # (leaving the loop finishes the element in hand)


async def test_leaving_the_loop_detaches_it():
    source = Stream()
    seen = []

    async def produce():
        for i in range(5):
            await source.emit(i)

    async def consume():
        async for x in source:
            seen.append(x)
            if x == 1:
                break

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0)
    producer = asyncio.ensure_future(produce())
    await consumer
    await asyncio.wait_for(producer, 10)  # nothing is waiting for a loop that has ended
    assert seen == [0, 1]
    assert not source.downstreams


def test_maxsize_must_be_positive():
    with pytest.raises(ValueError, match="pull: maxsize"):
        Stream().pull(0)


@pytest.mark.real_time
async def test_async_for_over_kafka_commits_only_what_the_loop_handled(kafka_cluster):
    from confluent_kafka import Producer
    from helpers import committed

    kafka_cluster.create_topic("pulled", partitions=1)
    producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap_servers})
    for i in range(20):
        producer.produce("pulled", str(i).encode())
    producer.flush(10)
    conf = {
        "bootstrap.servers": kafka_cluster.bootstrap_servers,
        "group.id": "pull",
        "auto.offset.reset": "earliest",
    }

    def committed_offset():
        return committed(kafka_cluster, "pull", "pulled")[0]

    source = Stream.from_kafka("pulled", conf, poll_interval=0.01, decode="utf-8")
    handled = []
    iterator = source.__aiter__()
    source.start()
    async for x in iterator:
        handled.append(int(x))
        if int(x) == 9:
            await asyncio.sleep(0.5)  # (commits of what was acknowledged go out)
            assert committed_offset() == 9  # 0..8 are done; 9 is in the loop's hands
        if int(x) == 19:
            break
    await iterator.aclose()  # (else only once the iterator is garbage)
    source.stop()
    await source.wait()
    assert handled == list(range(20))
    assert committed_offset() == 20
