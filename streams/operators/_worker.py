"""Base classes of nodes that hold elements and push them on from a task of their own."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, TypeVar

from ..core import Stream
from ..protocol import Metadata

__all__ = ["BoundedWorker", "Worker"]

T = TypeVar("T")


class Worker(Stream[T]):
    """A node whose held elements are pushed downstream by a worker task.

    ``_kick()`` starts the worker (if it is not running), which runs ``_work()`` until
    nothing is held. ``drain`` waits for it.
    """

    def __init__(self, upstream: Stream[Any], **options: Any) -> None:
        self._worker: asyncio.Task[None] | None = None
        super().__init__(upstream, **options)
        self._require_loop()

    def _kick(self) -> None:
        """Start the worker task unless it runs already."""
        if self._worker is None:
            self._worker = self._spawn(self._run_worker())

    async def _run_worker(self) -> None:
        try:
            await self._work()
        finally:
            self._worker = None

    async def _work(self) -> None:
        """Push held elements until there are none left."""
        raise NotImplementedError

    async def _flush(self) -> bool:
        worker = self._worker
        if worker is None:
            return False
        await worker
        return True


class BoundedWorker(Worker[T]):
    """A worker that holds a limited number of elements.

    When ``_full()``, an emitter waits for a place (back pressure): its element joins a
    queue of waiting elements, which take the places freed (``_made_room()``) in the
    order they arrived. An element arriving while others wait queues behind them even
    if a place is free at that instant, so order is kept; each freed place wakes one
    waiter, so waiting costs O(1) per element however many emitters wait.
    """

    def __init__(self, upstream: Stream[Any], **options: Any) -> None:
        self._waiting: deque[tuple[Any, Metadata, asyncio.Future[None]]] = deque()
        super().__init__(upstream, **options)

    def _full(self) -> bool:
        raise NotImplementedError

    def _put(self, x: Any, metadata: Metadata) -> None:
        """Take ``x`` in (there is room) and make sure the worker runs."""
        raise NotImplementedError

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if self._waiting or self._full():
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append((x, metadata, waiter))
            return waiter
        self._put(x, metadata)
        return None

    def _made_room(self) -> None:
        """A held element left: let waiting elements in, first come first served.

        An element whose emitter stopped waiting (cancelled) still goes in: it was
        accepted into the queue, and leaving it out would lose it.
        """
        waiting = self._waiting
        while waiting and not self._full():
            x, md, waiter = waiting.popleft()
            try:
                self._put(x, md)
            except Exception as exc:  # refused (map_async stopped by an error)
                if not waiter.done():
                    waiter.set_exception(exc)
                continue
            if not waiter.done():
                waiter.set_result(None)
