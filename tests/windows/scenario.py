"""The scenario player of the event-time acceptance tests: script steps and a recorder."""

import asyncio
import inspect
import math
from operator import itemgetter
from typing import NamedTuple

from streams import Stream
from streams.windows import EventClock, WindowResult

INF = math.inf


class W(NamedTuple):
    """Script step ``W:=t``: ``node.advance_watermark(t)``."""

    t: float


class _Flush:
    def __repr__(self):
        return "flush"


FLUSH = _Flush()  # script step ``flush``: ``node.flush()``


def late(x):
    return ("LATE", x)


def settle(result):
    """Wait for ``result`` if it is awaitable (``flush()`` is); nothing otherwise."""
    if inspect.isawaitable(result):

        async def wait():
            await result

        asyncio.run(wait())


class Recorder:
    """Records ``node``'s results and ``node.late`` elements in one list, in arrival order."""

    def __init__(self, source, node):
        self.source = source
        self.node = node
        self.out = []
        self.results = []  # the WindowResult objects themselves
        node.sink(self._result)
        node.late.sink(lambda x: self.out.append(late(x)))

    def _result(self, r):
        assert isinstance(r, WindowResult)
        self.results.append(r)
        self.out.append((r.key, r.start, r.end, r.value, r.timing, r.index))

    def play(self, script):
        """``script``: ``(step, outputs emitted right after that step)`` pairs."""
        for step, expected in script:
            before = len(self.out)
            if isinstance(step, W):
                settle(self.node.advance_watermark(step.t))
            elif step is FLUSH:
                settle(self.node.flush())
            else:
                self.source.emit(step)
            assert self.out[before:] == expected, f"after {step!r}"
        return self


def window(
    kind,
    *,
    timestamp=itemgetter(1),
    key=itemgetter(0),
    bound=0,
    per_key=False,
    allowed_lateness=0,
    emit="final",
    accumulate=True,
):
    """A source and its (not yet aggregated) window, with the spec's defaults for a scenario."""
    source = Stream()
    windowed = source.window(
        kind,
        clock=EventClock(timestamp=timestamp, max_out_of_order=bound, per_key=per_key),
        key=key,
        allowed_lateness=allowed_lateness,
        emit=emit,
        accumulate=accumulate,
    )
    return source, windowed


def identity(x):
    return x
