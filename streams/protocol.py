"""The element protocol shared by every node: results, waiting, and pushing in turn.

``update`` returns ``None`` when an element is fully handled, or an awaitable (or a
list of them) while work is pending. The helpers here wait for such results, release an
element's refs once its work is done, and push several elements one after another.
They import nothing from the rest of the package, so every module can use them.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .refs import release_refs

if TYPE_CHECKING:
    from .core import Stream

__all__ = [
    "BLOCKED_EMITTER",
    "DONE",
    "DONE_CACHE",
    "BackpressureError",
    "Metadata",
    "done_on",
    "push_each",
    "release_after",
    "wait",
]

T = TypeVar("T")
N = TypeVar("N")

Metadata = Sequence[dict[str, Any]]
"""Metadata carried with an element: a sequence of dicts (``{'ref': RefCounter}``...)."""

Push = Callable[[Any, "Stream[Any]", Metadata], Any]
"""What a node calls to deliver an element to its downstreams."""

BLOCKED_EMITTER: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "BLOCKED_EMITTER", default=False
)
"""True while an element runs for a synchronous caller blocked in another thread."""


class BackpressureError(RuntimeError):
    """A node must wait for room, but nothing could ever make room in this context."""


def drop(x: Any, who: Any, metadata: Any) -> None:
    """The push of a node with no downstreams."""
    return None


class _Done:
    """An already-complete awaitable: what an asynchronous emit returns if nothing waits."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]  # an exhausted iterator: done at once

    def __repr__(self) -> str:
        return "<done>"


DONE = _Done()

DONE_CACHE: list[Any] = [None, None]
"""``[loop, completed future of that loop]`` for the loop used last (see :func:`done_on`)."""


def done_on(loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A completed future of ``loop``: what ``emit`` returns inside a loop when nothing is
    pending. Awaiting it is cheaper than awaiting :data:`DONE`, and unlike ``DONE`` it
    works with ``asyncio.gather``. One is kept for the loop used last."""
    if DONE_CACHE[0] is not loop:
        fut = loop.create_future()
        fut.set_result(None)
        DONE_CACHE[:] = [loop, fut]
    return DONE_CACHE[1]  # type: ignore[no-any-return]


async def wait(result: Any) -> None:
    """Wait until a pending ``update`` result (an awaitable or a list of them) completes."""
    if type(result) is list:
        pending = [r for r in result if r is not None]
        if len(pending) == 1:
            await pending[0]
        elif pending:
            await asyncio.gather(*pending)
    elif result is not None:
        await result


def release_after(result: Any, metadata: Metadata) -> Any:
    """Release ``metadata``'s refs once ``result`` (an ``update`` result) has completed."""
    if result is None or (type(result) is list and not any(r is not None for r in result)):
        release_refs(metadata)
        return None
    return _release_when_done(result, metadata)


async def _release_when_done(result: Any, metadata: Metadata) -> None:
    await wait(result)
    release_refs(metadata)


def push_each(node: Stream[Any], items: Iterator[tuple[Any, Metadata]]) -> Any:
    """Push ``(value, metadata)`` pairs from ``node`` one at a time.

    Nodes that emit several elements for one input use this: when a push leaves work
    pending, the rest wait for it, so a slow consumer receives them in order and never
    has more than one of them outstanding.
    """
    try:
        for x, md in items:
            node.current_value = x
            r = node._push(x, node, md)
            if r is not None:
                return _push_rest(node, r, items)
    except BaseException:
        _close(items)
        raise
    return None


async def _push_rest(
    node: Stream[Any], pending: Any, items: Iterator[tuple[Any, Metadata]]
) -> None:
    try:
        await wait(pending)
        for x, md in items:
            node.current_value = x
            await wait(node._push(x, node, md))
    finally:
        _close(items)


def _close(items: Iterator[Any]) -> None:
    """Close a generator of items early, so its cleanup (``finally``) runs now."""
    close = getattr(items, "close", None)
    if close is not None:
        close()
