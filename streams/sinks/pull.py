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
    """Node behind ``async for x in stream`` and :meth:`Stream.pull`: a queue of up to
    ``maxsize`` (elements, or what :meth:`_weight` counts) for a reader to take from;
    ``update`` returns an awaitable (the emitter waits) while it is full. Queued
    elements keep their metadata retained until taken."""

    _label = "pull"

    def __init__(self, upstream: Stream[Any], maxsize: int = 1, **options: Any) -> None:
        if not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"{self._label}: maxsize must be a positive int, got {maxsize!r}")
        self.maxsize = maxsize
        self.queue: deque[tuple[Any, Metadata]] = deque()
        self.queued = 0  # the weight of the queue
        self._arrived: asyncio.Future[None] | None = None  # a reader waits for input
        self._room: asyncio.Future[None] | None = None  # the emitter waits for room
        super().__init__(upstream, **options)

    def _weight(self, x: Any) -> int:
        """How much of ``maxsize`` an element takes (one)."""
        return 1

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if metadata:
            retain_refs(metadata)
        self.queue.append((x, metadata))
        self.queued += self._weight(x)
        self._wake()
        if self.queued >= self.maxsize:
            if self._room is None:
                self._room = asyncio.get_running_loop().create_future()
            return self._room
        return None

    def _wake(self) -> None:
        arrived = self._arrived
        if arrived is not None:
            self._arrived = None
            if not arrived.done():
                arrived.set_result(None)

    def arrival(self) -> asyncio.Future[None]:
        """A future done when the next element arrives."""
        if self._arrived is None:
            self._arrived = asyncio.get_running_loop().create_future()
        return self._arrived

    def take_nowait(self) -> tuple[Any, Metadata] | None:
        """The oldest element and its metadata, or ``None`` if the queue is empty."""
        if not self.queue:
            return None
        item = self.queue.popleft()
        self.queued -= self._weight(item[0])
        room = self._room
        if room is not None and self.queued < self.maxsize:
            self._room = None
            if not room.done():
                room.set_result(None)
        return item

    async def take(self) -> tuple[Any, Metadata]:
        """The oldest element and its metadata, waiting for one if there is none."""
        while (item := self.take_nowait()) is None:
            await asyncio.shield(self.arrival())
        return item

    def _close(self) -> None:
        self.drop_all()

    def drop_all(self) -> None:
        """Release what is queued (nobody will take it): the emitter and the
        acknowledgements go on."""
        while (item := self.take_nowait()) is not None:
            if item[1]:
                release_refs(item[1])


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
