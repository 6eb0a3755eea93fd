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
