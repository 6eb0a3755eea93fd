"""Real-time updates of feeds: a source node emitting what this process writes to a feed.

Every write through a feed object ends in :meth:`~streams.feeds.BaseFeed.on_update_feed`,
which hands ``FeedUpdate('add', activity)`` / ``FeedUpdate('remove', activity)`` records
to the :class:`FeedUpdates` sources listening to that feed (same backend, same key).
Only writes made **in this process** are seen; writes by other processes (through Redis)
are not (a later slice adds Redis pub/sub).
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Iterable
from typing import Any, NamedTuple

from ..loop import running_loop
from ..sources.base import Source

__all__ = ["FeedUpdate", "FeedUpdates", "anyone_listening", "listening", "publish"]


class FeedUpdate(NamedTuple):
    """One change of a feed: ``kind`` is ``'add'`` or ``'remove'``.

    ``activity`` is what was written: an activity (flat feeds), an aggregate (aggregated
    feeds), or, for removals by id, the id. It unpacks as ``kind, activity = update``.

    Examples
    --------
    >>> from streams.feeds import FeedUpdate
    >>> kind, activity = FeedUpdate("remove", 123)
    >>> kind, activity
    ('remove', 123)
    """

    kind: str
    activity: Any


_LISTENERS: dict[str, list[FeedUpdates]] = {}
_LOCK = threading.Lock()


def anyone_listening() -> bool:
    """Whether any :class:`FeedUpdates` is started (a cheap check before many lookups)."""
    return bool(_LISTENERS)


def listening(channel: str) -> bool:
    """Whether some started :class:`FeedUpdates` listens to ``channel``."""
    return bool(_LISTENERS.get(channel))


def publish(channel: str, items: Iterable[Any]) -> None:
    """Hand ``items`` to every :class:`FeedUpdates` listening to ``channel``."""
    with _LOCK:
        targets = list(_LISTENERS.get(channel, ()))
    if not targets:
        return
    items = list(items)
    for target in targets:
        target.push(items)


class FeedUpdates(Source[Any]):
    """Node behind :meth:`BaseFeed.updates <streams.feeds.BaseFeed.updates>`: emit the
    updates published to ``channel`` while started.

    Parameters
    ----------
    channel : str
        The feed's update channel (:attr:`BaseFeed.channel`).
    distinct : bool, optional
        Skip an update equal to the one emitted before it (notification counts).
    **options
        As for every source (``start``, ``stream_name``...).

    Examples
    --------
    >>> from streams.feeds.updates import FeedUpdates, publish
    >>> updates = FeedUpdates("example:channel")
    >>> out = updates.sink_to_list()
    >>> updates.start()
    >>> publish("example:channel", ["first", "second"])
    >>> updates.stop()
    >>> updates.wait()
    >>> out
    ['first', 'second']
    """

    _label = "feed_updates"

    def __init__(self, channel: str, distinct: bool = False, **options: Any) -> None:
        self.channel = channel
        self.distinct = distinct
        self._pending: collections.deque[Any] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._last: Any = _NOTHING
        super().__init__(**options)

    def start(self) -> None:
        """Listen to the channel (from now on) and start emitting."""
        with _LOCK:
            listeners = _LISTENERS.setdefault(self.channel, [])
            if self not in listeners:
                listeners.append(self)
        super().start()

    def stop(self) -> None:
        """Stop listening; what was published before is still emitted."""
        self._unregister()
        super().stop()
        self._wake_threadsafe()

    def _unregister(self) -> None:
        with _LOCK:
            listeners = _LISTENERS.get(self.channel, [])
            if self in listeners:
                listeners.remove(self)
            if not listeners:
                _LISTENERS.pop(self.channel, None)

    def push(self, items: Iterable[Any]) -> None:
        """Queue ``items`` for emission (callable from any thread)."""
        self._pending.extend(items)
        self._wake_threadsafe()

    def _wake_threadsafe(self) -> None:
        loop = self._runtime.loop
        if loop is None or loop.is_closed():
            return
        if loop is running_loop():
            self._wake()
        else:
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run(self) -> None:
        pending = self._pending
        while True:
            while pending:
                item = pending.popleft()
                if self.distinct and item == self._last:
                    continue
                self._last = item
                await self.emit(item)
            if self.stopped:
                return
            self._waiter = asyncio.get_running_loop().create_future()
            if not pending and not self.stopped:
                await self._waiter
            self._waiter = None


class _Nothing:
    def __repr__(self) -> str:
        return "<nothing>"


_NOTHING: Any = _Nothing()
