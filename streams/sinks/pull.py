"""``async for x in stream``: pull a stream's elements, with back pressure.

A :class:`PullSink` node keeps at most ``maxsize`` elements for the loop that pulls them;
while it is full, the emitter waits (``await source.emit(x)`` resumes only once the loop
took an element). An element is finished (its metadata released: a Kafka offset may be
committed) only when the loop asks for the next one, so it is acknowledged after the
body of the loop handled it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from ..core import Stream
from ..protocol import Metadata
from ..refs import release_refs, retain_refs
from .base import Sink

__all__ = ["PullSink", "iterate"]

T = TypeVar("T")


class PullSink(Sink[T]):
    """Node behind ``async for x in stream`` and :meth:`Stream.pull`."""

    _label = "pull"

    def __init__(self, upstream: Stream[Any], maxsize: int = 1, **options: Any) -> None:
        if not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"pull: maxsize must be a positive int, got {maxsize!r}")
        self.maxsize = maxsize
        self.queue: deque[tuple[Any, Metadata]] = deque()
        self._arrived: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None
        super().__init__(upstream, **options)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if metadata:
            retain_refs(metadata)
        self.queue.append((x, metadata))
        arrived = self._arrived
        if arrived is not None:
            self._arrived = None
            if not arrived.done():
                arrived.set_result(None)
        if len(self.queue) >= self.maxsize:
            if self._room is None:
                self._room = asyncio.get_running_loop().create_future()
            return self._room
        return None

    async def take(self) -> tuple[Any, Metadata]:
        """The oldest element and its metadata, waiting for one if there is none."""
        while not self.queue:
            if self._arrived is None:
                self._arrived = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._arrived)
        item = self.queue.popleft()
        room = self._room
        if room is not None and len(self.queue) < self.maxsize:
            self._room = None
            if not room.done():
                room.set_result(None)
        return item

    def _close(self) -> None:
        while self.queue:  # never pulled: let the emitters and the acknowledgements go
            _, metadata = self.queue.popleft()
            if metadata:
                release_refs(metadata)
        if self._room is not None and not self._room.done():
            self._room.set_result(None)


async def iterate(node: PullSink[T]) -> AsyncIterator[T]:
    """The elements that reach ``node``, for ``async for`` (see :meth:`Stream.pull`)."""
    metadata: Metadata = ()
    try:
        while True:
            x, metadata = await node.take()
            yield x
            if metadata:  # the loop asks for the next one: this one is finished
                release_refs(metadata)
                metadata = ()
    finally:
        if metadata:
            release_refs(metadata)
        node.destroy()
