"""Checkpoints of the processing-time nodes: ``delay``, ``rate_limit``, ``latest``,
``timed_window``, ``timed_window_unique`` and ``partition(timeout=...)``.

A snapshot holds the elements queued inside the node, oldest first, and its pending
times (when each element is due, the next tick, when each group times out) as loop
seconds left *after the cut*. A restore re-queues the elements and re-arms the timers
and workers relative to the restored loop's clock: the restored node emits the same
elements, in the same order, as long after the restart as they had left at the cut.
Windows and groups closed by processing time may then batch differently from an
uninterrupted run (what arrives during the downtime and the replay falls into other
windows), as in every system that checkpoints processing time.

A checkpoint's cut does not wait for ``delay``, ``latest`` or ``timed_window`` to empty
(a ``delay(60)`` would hold it for a minute): their queues are in the snapshot, so the
cut waits only for an element one of them is pushing, and pauses them between two
pushes until it is taken (see ``Checkpointer._quiet_within``). ``rate_limit`` holds no
element at a cut (its emitters wait for their turn, so the cut waits for them); it
stores when the next element may pass. Elements are stored without their metadata: a
restored element carries no refs.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from .nodes import Adapter, register
from .nodes import _Partition as _UntimedPartition
from .store import Full

__all__: list[str] = []


def _now(node: Any) -> float:
    """The clock of the loop ``node`` runs on (at a restore: the running loop)."""
    loop = node._runtime.loop
    if loop is None:
        loop = asyncio.get_running_loop()
    return float(loop.time())


class _Holding(Adapter):
    """A node whose held elements are in the snapshot: a cut pauses it between two
    pushes instead of waiting for it to empty."""

    queue_in_snapshot = True

    def pause(
        self, node: Any, resume: asyncio.Future[None]
    ) -> tuple[asyncio.Future[None] | None, asyncio.Future[Any] | None]:
        """Ask ``node`` to start no new push until ``resume`` is done.

        Returns
        -------
        (future or None, task or None)
            A future done when the push under way has ended (``None``: none is under
            way), and the node's own task, which the cut need not wait for.
        """
        pushing: asyncio.Future[None] | None = node._pause(resume)
        return pushing, getattr(node, "_worker", None)


@register("streams.operators.time.Delay")
class _Delay(_Holding):
    """The elements held, oldest first, each with the loop seconds left until it is due
    (negative: overdue at the cut, emitted at once after a restore)."""

    def snapshot(self, node: Any) -> Any:
        now = _now(node)
        return Full([(due - now, x) for due, x, _ in node._queue])

    def restore(self, node: Any, value: Any) -> None:
        now = _now(node)
        node._queue.clear()
        node._queue.extend((now + left, x, ()) for left, x in value)
        if node._queue:
            node._kick()
            node._alarm.ring()  # a worker asleep until another due time looks again


@register("streams.operators.time.RateLimit")
class _RateLimit(Adapter):
    """The loop seconds left until the next element may pass (``None``: it may now)."""

    def snapshot(self, node: Any) -> Any:
        left = node._next - _now(node)
        return Full(left if left > 0 else None)

    def restore(self, node: Any, value: Any) -> None:
        node._next = -math.inf if value is None else _now(node) + value


@register("streams.operators.time.Latest")
class _Latest(_Holding):
    """The element waiting to be passed on (or, with no consumer, the one held), as a
    list of at most one."""

    def snapshot(self, node: Any) -> Any:
        held = node._next
        return Full([] if held is None else [held[0]])

    def restore(self, node: Any, value: Any) -> None:
        node._next = (value[0], ()) if value else None
        if node._next is not None and node._downs:
            node._kick()


@register("streams.operators.time.TimedWindow")
class _TimedWindow(_Holding):
    """The open window's elements, in order, and the loop seconds left until the tick
    that emits it (``None``: the ticker had not started)."""

    def snapshot(self, node: Any) -> Any:
        due = node._due
        left = None if due is None else max(due - _now(node), 0.0)
        return Full((self._contents(node), left))

    def restore(self, node: Any, value: Any) -> None:
        contents, left = value
        self._refill(node, contents)
        if left is None:  # the ticker starts with the graph, a whole interval on
            return
        loop = asyncio.get_running_loop()
        if node._ticker is not None:
            node._ticker.cancel()
        first = loop.time() + left
        node._due = first
        # ticks at ``first`` then every interval: the ticker counts from one earlier
        node._ticker = loop.create_task(node._tick(first - node.interval))

    def _contents(self, node: Any) -> list[Any]:
        return list(node._buffer)

    def _refill(self, node: Any, contents: list[Any]) -> None:
        node._buffer = node._empty()
        node._buffer.extend(contents)
        node._metadata = []


@register("streams.operators.time.TimedWindowUnique")
class _TimedWindowUnique(_TimedWindow):
    """As timed_window; the window's elements as ``(key, element)`` pairs in order."""

    def _contents(self, node: Any) -> list[Any]:
        return list(node._buffer.items())

    def _refill(self, node: Any, contents: list[Any]) -> None:
        node._buffer = dict(contents)
        node._by_key = dict.fromkeys(node._buffer, ())


@register("streams.operators.aggregate.Partition")
class _Partition(_UntimedPartition):
    """The partial group of each key, in the order the groups started; with a timeout,
    also the loop seconds left until each group times out."""

    def why_not(self, node: Any) -> str | None:
        return None

    def snapshot(self, node: Any) -> Any:
        groups = super().snapshot(node)
        if node.timeout is None:
            return groups
        now = _now(node)
        left = {k: max(timer.when() - now, 0.0) for k, timer in node._timers.items()}
        return Full((groups.value, left))

    def restore(self, node: Any, value: Any) -> None:
        groups, left = value if isinstance(value, tuple) else (value, {})
        for timer in node._timers.values():
            timer.cancel()
        node._timers = {}
        super().restore(node, groups)
        if node.timeout is None:
            return
        loop = asyncio.get_running_loop()
        for k in node._buffers:  # (a group stored without a timeout: a whole timeout)
            node._timers[k] = loop.call_later(left.get(k, node.timeout), node._time_out, k)
