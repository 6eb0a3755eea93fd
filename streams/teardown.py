"""Taking part of a graph out of service: what :meth:`Stream.destroy` does.

The rule: destroying a node detaches it from its upstreams. Once it has none left, the
*removed part* is the node and every node downstream of it that is fed only through
the removed part. That part receives nothing more, so it is retired:

1. the sources in it stop taking input (and an upstream source left with no downstream
   at all stops too: it would only read data to drop it);
2. what the part had accepted is delivered, as :meth:`~Stream.drain` would deliver it
   (time windows emit what they hold, buffers empty, async work finishes); an element
   that fails on the way is reported like any other failure;
3. each node of the part then releases what it owns: timers are cancelled, files and
   clients closed. A sink that writes what it holds when closed (``to_sql``, with an
   ``_aclose`` coroutine) is left to that close, which gives up on an unreachable
   target instead of retrying forever.

Nodes fed also from outside the removed part stay in service.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .loop import background_loop, run_sync, running_loop
from .runtime import UNBOUND, RuntimeMethods, downstream_order

if TYPE_CHECKING:
    from .core import Stream

__all__ = ["removed_part", "retire", "stop_orphaned"]


def removed_part(head: Stream[Any]) -> list[Stream[Any]]:
    """``head`` and the nodes fed only through it, upstream before downstream."""
    part: list[Stream[Any]] = []
    inside: set[int] = set()
    for node in downstream_order(head):  # upstream before downstream
        if node is head or all(id(u) in inside for u in node.upstreams):
            part.append(node)
            inside.add(id(node))
    return part


def stop_orphaned(upstreams: list[Stream[Any]]) -> None:
    """Stop the sources among ``upstreams`` that no longer feed anything."""
    from .sources.base import Source

    for up in upstreams:
        if isinstance(up, Source) and not up.downstreams:
            up.stop()


def retire(head: Stream[Any]) -> None:
    """Stop, drain and close the removed part of ``head`` (see the module docstring).

    In a plain script this blocks until the part is drained and closed; on the graph's
    running loop it goes on as a task that :meth:`~Stream.drain` waits for.
    """
    part = removed_part(head)
    head.stop()  # a source stops taking input; a plain node has no upstream left
    if not any(_may_hold(n) for n in part):
        _close_all(part)  # nothing to deliver: release everything now
        return
    home = head._home
    running = running_loop()
    if home is None or home is UNBOUND:
        if running is not None:
            head._spawn(_drain_and_close(part))
        else:  # no loop, yet something held (scatter)
            run_sync(_drain_and_close(part), background_loop())
    elif home is running:
        head._spawn(_drain_and_close(part))
    elif home.is_closed() or not home.is_running():
        _close_all(part)  # nothing can run any more: release what can be released
    else:
        future = asyncio.run_coroutine_threadsafe(_drain_and_close(part), home)
        if running is None:
            future.result()  # a plain script: return once drained and closed


def _may_hold(node: Stream[Any]) -> bool:
    """Whether ``node`` may hold accepted elements that a drain would deliver."""
    cls = type(node)
    if cls._flush is RuntimeMethods._flush and not hasattr(node, "_aclose"):
        return False
    if cls._held_count is RuntimeMethods._held_count:
        return True  # it cannot tell: drain it to be sure
    return node._held_count() > 0


async def _drain_and_close(part: list[Stream[Any]]) -> None:
    try:
        busy = True
        while busy:
            busy = False
            for node in part:
                if not hasattr(node, "_aclose"):
                    busy = await node._flush() or busy
        for node in part:
            if hasattr(node, "_aclose"):
                await node._aclose()
    finally:
        _close_all(part)


def _close_all(part: list[Stream[Any]]) -> None:
    for node in part:
        node._close()
