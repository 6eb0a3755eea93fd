"""Following an event store: the matching events inserted from now on, on the loop.

:class:`Follower` is the one place where live events are matched and handed to the event
loop; :class:`~streams.eventstore.nodes.FromEventStore` and the server's ``/subscribe``
websocket both use it. It combines two feeds:

* the backend's in-process subscriber hook (:meth:`Backend.subscribe
  <streams.eventstore.Backend.subscribe>`): inserts through *this* backend object, seen
  in the inserting thread right after the insert;
* the backend's remote feed (:meth:`Backend.listen <streams.eventstore.Backend.listen>`):
  inserts made by other backend objects or other processes. Only
  :class:`~streams.eventstore.RedisBackend` has one (Redis pub/sub); it leaves out the
  inserts of the backend object itself, so each event arrives once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from ..loop import running_loop
from .base import Backend, Event, Query

__all__ = ["Follower"]

log = logging.getLogger("streams.eventstore")


class Follower:
    """Call ``deliver(event)`` on the running loop for each event matching ``query``
    inserted between :meth:`start` and :meth:`stop`.

    Parameters
    ----------
    backend : Backend
        The store to follow.
    query : Query
        From :meth:`Backend.query`; its ``since``/``until`` apply too.
    deliver : callable
        ``deliver(event)``; runs on the loop that called :meth:`start`, must be quick.
    lost : callable, optional
        ``lost(exc)``, on the loop, if the remote feed fails (e.g. the Redis connection
        dropped): no more remote events arrive. By default the failure is logged.

    Examples
    --------
    >>> import asyncio
    >>> from streams.eventstore import MemoryBackend
    >>> store = MemoryBackend(keys=["user"])
    >>> async def main():
    ...     got = []
    ...     follower = Follower(store, store.query({"user": 1}), got.append)
    ...     await follower.start()
    ...     for user in (1, 2, 1):
    ...         store.insert({"user": user})
    ...     follower.stop()
    ...     store.insert({"user": 1})
    ...     return [e.data for e in got]
    >>> asyncio.run(main())
    [{'user': 1}, {'user': 1}]
    """

    def __init__(
        self,
        backend: Backend,
        query: Query,
        deliver: Callable[[Event], None],
        lost: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.backend = backend
        self.query = query
        self.deliver = deliver
        self.lost = lost
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._open = False

    async def start(self) -> None:
        """Subscribe; return once every feed is listening (inserts made after this
        returns are delivered)."""
        if self._open:
            return
        self._loop = asyncio.get_running_loop()
        self._open = True
        self._unsubscribe = self.backend.subscribe(self._local)
        ready: asyncio.Future[None] = self._loop.create_future()
        self._task = task = self._loop.create_task(self._listen(ready))
        try:
            await asyncio.wait([ready, task], return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not ready.done():  # cancelled, or the remote feed failed before it listened
                self.stop()
        if not ready.done():
            await task  # raises its error

    def stop(self) -> None:
        """Unsubscribe: nothing is delivered after this returns (on the loop)."""
        self._open = False
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def __aenter__(self) -> Follower:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ the feeds

    def _local(self, event: Event) -> None:
        """The in-process subscriber: runs in the inserting thread."""
        if not self.query.matches(event):
            return
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if loop is running_loop():
            self._hand(event)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._hand, event)

    def _remote(self, event: Event) -> None:
        """The remote feed's callback: runs on the loop."""
        if self.query.matches(event):
            self._hand(event)

    def _hand(self, event: Event) -> None:
        if self._open:
            self.deliver(event)

    async def _listen(self, ready: asyncio.Future[None]) -> None:
        try:
            await self.backend.listen(self._remote, ready)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not ready.done():
                raise
            if self._open:
                if self.lost is None:
                    log.error("event store: the remote feed of %r failed: %r", self.backend, exc)
                else:
                    self.lost(exc)
