"""A source that takes items from a thread-safe queue: the bridge from other threads."""

from __future__ import annotations

import asyncio
import queue
from typing import Any, TypeVar

from .._util import parse_interval
from .base import Source

__all__ = ["FromQ"]

T = TypeVar("T")

YIELD_EVERY = 256
"""Items emitted in a row before the source lets the loop run other work."""

_EMPTY = (queue.Empty, asyncio.QueueEmpty)


class FromQ(Source[T]):
    """Node behind :meth:`Stream.from_q`: emit the items put into a :class:`queue.Queue`
    by other threads, in order.

    The queue is polled with ``get_nowait``: while it holds items they are emitted one
    after the other (each waits for back pressure); when it is empty the source sleeps
    ``sleep_time`` seconds, a pause that :meth:`stop` cuts short. An item is taken from
    the queue only when it can be emitted, so a stopped source leaves the rest in the
    queue for the next :meth:`start`.
    """

    _label = "from_q"

    def __init__(self, q: Any, sleep_time: Any = 0.01, **options: Any) -> None:
        if not callable(getattr(q, "get_nowait", None)):
            raise TypeError(
                f"from_q: q must be a queue with get_nowait() (queue.Queue...), got {q!r}"
            )
        self.q = q
        self.sleep_time = parse_interval("from_q", sleep_time)
        super().__init__(**options)

    def _detail(self) -> str:
        return f"{type(self.q).__name__}, {self.sleep_time:g}s"

    async def run(self) -> None:
        in_a_row = 0
        while not self.stopped:  # checked before taking an item: a stop loses none
            try:
                x = self.q.get_nowait()
            except _EMPTY:
                in_a_row = 0
                await self.sleep(self.sleep_time)
                continue
            await self.emit(x)
            in_a_row += 1
            if in_a_row % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a queue that never runs dry must not starve the loop
