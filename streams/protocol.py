"""The element protocol shared by every node: results, waiting, and pushing in turn.

``update`` returns ``None`` when an element is fully handled, or an awaitable (or a
list of them) while work is pending. The helpers here wait for such results, release an
element's refs once its work is done, and push several elements one after another.
They import nothing from the rest of the package, so every module can use them.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    "EmitDone",
    "Metadata",
    "combine_errors",
    "done_on",
    "push_each",
    "release_after",
    "wait",
    "wait_all",
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


class EmitDone(asyncio.Future[None]):
    """The completed future of :func:`done_on`: what ``emit`` returns inside a running
    loop when nothing is left pending. A notebook shows nothing for it, as for ``None``,
    when ``source.emit(x)`` ends a cell."""

    def __repr__(self) -> str:
        return "<streams emit: done>"

    def _ipython_display_(self) -> None:
        """Show nothing (IPython calls this instead of showing a repr)."""


DONE_CACHE: list[Any] = [None, None]
"""``[loop, completed future of that loop]`` for the loop used last (see :func:`done_on`)."""


def done_on(loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A completed future of ``loop``: what ``emit`` returns inside a loop when nothing is
    pending. Awaiting it is cheaper than awaiting :data:`DONE`, and unlike ``DONE`` it
    works with ``asyncio.gather``. One is kept for the loop used last."""
    if DONE_CACHE[0] is not loop:
        fut = EmitDone(loop=loop)
        fut.set_result(None)
        DONE_CACHE[:] = [loop, fut]
    return DONE_CACHE[1]  # type: ignore[no-any-return]


async def wait(result: Any) -> None:
    """Wait until a pending ``update`` result (an awaitable or a list of them) completes.

    With several awaitables (a fan-out), every one of them runs to its end before this
    returns or raises, so no branch is left running behind the emitter's back; if
    several failed, the first error is raised and carries the others (see
    :func:`combine_errors`).
    """
    if type(result) is list:
        pending = [r for r in result if r is not None]
        if len(pending) == 1:
            await pending[0]
        elif pending:
            await wait_all(pending)
    elif result is not None:
        await result


async def wait_all(awaitables: list[Any]) -> None:
    """Run ``awaitables`` concurrently until all are done; raise what failed, combined."""
    futures = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(futures)
    except BaseException:  # the waiter was cancelled: so is the work it waited for
        for f in futures:
            f.cancel()
        raise
    errors = [e for f in futures if not f.cancelled() and (e := f.exception()) is not None]
    if errors:
        raise combine_errors(errors)
    if any(f.cancelled() for f in futures):
        raise asyncio.CancelledError()


MORE_ERRORS = "_streams_also"
"""Attribute of an exception holding the further errors of the same element."""


def combine_errors(errors: Sequence[BaseException]) -> BaseException:
    """The first of several errors of one element, carrying the others.

    One input can fail in several places (several branches of a fan-out, several
    items of a ``flatten``). The first error is what the emitter receives; the others
    travel with it in a note each and in ``_streams_also``, so that an error channel
    reports every one of them (:meth:`~streams.Stream.errors`) and none is lost.
    """
    first = errors[0]
    more = [e for e in errors[1:] if e is not first]
    if more:
        also = [*also_of(first), *(x for e in more for x in (e, *also_of(e)))]
        with contextlib.suppress(AttributeError):  # an exception type with __slots__
            setattr(first, MORE_ERRORS, also)
        for e in more[:MAX_NOTES]:
            first.add_note(f"also failed: {type(e).__name__}: {e}; {'; '.join(_notes(e))}")
        if len(more) > MAX_NOTES:
            first.add_note(f"and {len(more) - MAX_NOTES} more errors of the same element")
    return first


MAX_NOTES = 5
"""At most this many further errors are spelt out in notes (all are kept)."""


def also_of(exc: BaseException) -> list[BaseException]:
    """The further errors that ``exc`` carries (see :func:`combine_errors`)."""
    return list(getattr(exc, MORE_ERRORS, ()))


def _notes(exc: BaseException) -> list[str]:
    return list(getattr(exc, "__notes__", ()))


def release_after(result: Any, metadata: Metadata) -> Any:
    """Release ``metadata``'s refs once ``result`` (an ``update`` result) has completed."""
    if result is None or (type(result) is list and not any(r is not None for r in result)):
        release_refs(metadata)
        return None
    return _release_when_done(result, metadata)


async def _release_when_done(result: Any, metadata: Metadata) -> None:
    await wait(result)
    release_refs(metadata)


def push_each(
    node: Stream[Any], items: Iterator[tuple[Any, Metadata]], release: bool = False
) -> Any:
    """Push ``(value, metadata)`` pairs from ``node`` one at a time.

    Nodes that emit several elements for one input use this: when a push leaves work
    pending, the rest wait for it, so a slow consumer receives them in order and never
    has more than one of them outstanding. An item whose push fails does not stop the
    others: they are all pushed, then the errors are raised together
    (:func:`combine_errors`). With ``release``, each item's refs are released once it
    was accepted (a failed item keeps them: it is never acknowledged).
    """
    errors: list[Exception] = []
    try:
        for x, md in items:
            node.current_value = x
            try:
                r = node._push(x, node, md)
            except Exception as exc:
                errors.append(exc)
                continue
            if r is not None:
                return _push_rest(node, r, md, items, release, errors)
            if release:
                release_refs(md)
    except BaseException:
        _close(items)
        raise
    if errors:
        raise combine_errors(errors)
    return None


async def _push_rest(
    node: Stream[Any],
    pending: Any,
    md: Metadata,
    items: Iterator[tuple[Any, Metadata]],
    release: bool,
    errors: list[Exception],
) -> None:
    try:
        try:
            await wait(pending)
        except Exception as exc:
            errors.append(exc)
        else:
            if release:
                release_refs(md)
        for x, md in items:
            node.current_value = x
            try:
                await wait(node._push(x, node, md))
            except Exception as exc:
                errors.append(exc)
            else:
                if release:
                    release_refs(md)
    finally:
        _close(items)
    if errors:
        raise combine_errors(errors)


def _close(items: Iterator[Any]) -> None:
    """Close a generator of items early, so its cleanup (``finally``) runs now."""
    close = getattr(items, "close", None)
    if close is not None:
        close()
