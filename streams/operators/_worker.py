"""Base classes of nodes that hold elements and push them on from a task of their own."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from ..core import Stream
from ..loop import Completion
from ..protocol import Metadata

__all__ = ["BoundedWorker", "Worker"]

T = TypeVar("T")


class Worker(Stream[T]):
    """A node whose held elements are pushed downstream by a worker task.

    ``_kick()`` starts the worker (if it is not running), which runs ``_work()`` until
    nothing is held. ``drain`` waits for it. Subclasses signal freed places with
    ``_made_room()``.
    """

    def __init__(self, upstream: Stream[Any], **options: Any) -> None:
        self._worker: asyncio.Task[None] | None = None
        self._room: Completion | None = None  # set when a held element leaves
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

    def _made_room(self) -> None:
        """Wake emitters waiting for a place."""
        if self._room is not None:
            self._room.set()
            self._room = None

    async def _flush(self) -> bool:
        worker = self._worker
        if worker is None:
            return False
        await worker
        return True


class BoundedWorker(Worker[T]):
    """A worker that holds a limited number of elements: when ``_full()``, an emitter
    waits for a place (back pressure) before its element is ``_put`` in."""

    def _full(self) -> bool:
        raise NotImplementedError

    def _put(self, x: Any, metadata: Metadata) -> None:
        """Take ``x`` in (there is room) and make sure the worker runs."""
        raise NotImplementedError

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if self._full():
            return self._put_later(x, metadata)
        self._put(x, metadata)
        return None

    async def _put_later(self, x: Any, metadata: Metadata) -> None:
        while self._full():
            if self._room is None:
                self._room = Completion()
            await self._room.wait()
        self._put(x, metadata)
