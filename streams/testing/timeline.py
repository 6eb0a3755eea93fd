"""Feed timed input into a graph and record ``(time, value)`` output."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from ..core import Stream
from ..loop import sleep_until

__all__ = ["feed", "record", "timeline"]


def timeline(node: Stream[Any]) -> list[tuple[float, Any]]:
    """Attach a sink to ``node`` that records ``(loop.time(), element)`` pairs.

    Must be called inside a running event loop (the one the graph runs on).

    Returns
    -------
    list
        Filled as elements arrive.
    """
    loop = asyncio.get_running_loop()
    out: list[tuple[float, Any]] = []
    node.sink(lambda x: out.append((loop.time(), x)))
    return out


async def feed(source: Stream[Any], events: Iterable[tuple[float, Any]]) -> None:
    """Emit each ``(time, element)`` of ``events`` into ``source`` at that time.

    Each emit is awaited, so back pressure delays what follows: an element whose time
    has passed by then is emitted at once.
    """
    loop = asyncio.get_running_loop()
    for when, x in events:
        if when > loop.time():
            await sleep_until(when)
        await source.emit(x)


async def record(
    build: Callable[[Stream[Any]], Stream[Any]],
    feed: Iterable[tuple[float, Any]] = (),
    until: float | None = None,
) -> list[tuple[float, Any]]:
    """Build a graph on a fresh source, feed it a timeline, and return what came out.

    Parameters
    ----------
    build : callable
        Called with the source; returns the node whose output is recorded.
    feed : iterable of (time, element)
        Input, emitted at those loop times (see :func:`feed`).
    until : float, optional
        Keep recording until this loop time (after the input ended).

    Returns
    -------
    list of (time, element)

    Examples
    --------
    >>> from streams.testing import run_virtual
    >>> run_virtual(record(lambda s: s.timed_window(1.0),
    ...                    feed=[(0.0, 1), (0.25, 2), (1.5, 3)], until=3.0))
    [(1.0, [1, 2]), (2.0, [3]), (3.0, [])]
    """
    loop = asyncio.get_running_loop()
    source: Stream[Any] = Stream()
    out = timeline(build(source))
    await _feed(source, feed)
    if until is not None and until > loop.time():
        await sleep_until(until)
        for _ in range(3):  # let work due at `until` run to completion
            await asyncio.sleep(0)
    return out


_feed = feed
