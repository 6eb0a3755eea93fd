"""Helpers shared by the tests: a recording node, a controllable slow sink, loop spins."""

import asyncio

from streams import RefCounter, Stream


def feed(source, xs):
    """Emit every element of ``xs`` synchronously."""
    for x in xs:
        source.emit(x)


def counted():
    """A RefCounter and the list its callback appends to each time it fires."""
    fired = []
    return RefCounter(cb=lambda: fired.append(1)), fired


def fail(x):
    """A sink that always raises."""
    raise RuntimeError("sink down")


class Capture(Stream):
    """A terminal node that records each element with the metadata it arrived with."""

    def __init__(self, upstream):
        self.seen = []
        super().__init__(upstream)

    def update(self, x, who=None, metadata=()):
        self.seen.append((x, metadata))


class Gate:
    """An async sink that blocks each call until its own event (``gates[i]``) is set."""

    def __init__(self):
        self.started, self.finished, self.gates = [], [], []

    async def __call__(self, x):
        gate = asyncio.Event()
        self.gates.append(gate)
        self.started.append(x)
        await gate.wait()
        self.finished.append(x)


async def spin(n=5):
    """Let the running loop take ``n`` turns."""
    for _ in range(n):
        await asyncio.sleep(0)


async def finished(task):
    """Let the loop run, then check ``task`` completed (never hangs on a bug)."""
    await spin(10)
    assert task.done()
    await task


# ------------------------------------------------------------------ real-loop helpers
# For tests with real I/O (marked real_time): wait for conditions with a deadline.


async def until(condition, timeout=10.0):
    """Wait until ``condition()`` holds, polling every 10 ms; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out waiting for a condition"
        await asyncio.sleep(0.01)


async def stop(source, timeout=10.0):
    """Stop a source and wait until it is done."""
    source.stop()
    await asyncio.wait_for(source.wait(), timeout)


class OpenGate:
    """An async sink holding every element until ``open`` (an ``asyncio.Event``) is set."""

    def __init__(self):
        self.started, self.finished = [], []
        self.open = asyncio.Event()

    async def __call__(self, x):
        self.started.append(x)
        await self.open.wait()
        self.finished.append(x)


def committed(cluster, group, topic, partitions=1):
    """The offsets consumer group ``group`` committed for ``topic`` on the Kafka mock
    ``cluster``, one per partition (-1001: none)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": group})
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return [tp.offset for tp in consumer.committed(tps, timeout=10)]
    finally:
        consumer.close()
