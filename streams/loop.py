"""Which event loop a graph's pending work runs on.

A graph made only of synchronous nodes needs no loop at all: ``emit`` runs the element
through in the calling thread. When an element leaves work pending (a coroutine sink,
say) and the caller is a plain synchronous script, that work is finished on one shared
background loop, started in a daemon thread on first need and never at import.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tornado.ioloop import IOLoop

__all__ = [
    "Alarm",
    "Completion",
    "Handoff",
    "as_asyncio_loop",
    "background_loop",
    "run_sync",
    "running_loop",
    "sleep_until",
    "tornado_loop",
]

R = TypeVar("R")

_lock = threading.Lock()
_background: asyncio.AbstractEventLoop | None = None


def running_loop() -> asyncio.AbstractEventLoop | None:
    """Return the loop running in this thread, or ``None``.

    ``asyncio._get_running_loop`` is asyncio's exported, non-raising form of
    ``get_running_loop`` (listed in ``asyncio.__all__``); it costs a C call where the
    raising form costs an exception, which matters on ``emit``'s fast path.
    """
    return asyncio._get_running_loop()


def as_asyncio_loop(loop: Any) -> asyncio.AbstractEventLoop:
    """Return the asyncio loop behind ``loop`` (an asyncio loop or a tornado ``IOLoop``)."""
    if isinstance(loop, asyncio.AbstractEventLoop):
        return loop
    inner = getattr(loop, "asyncio_loop", None)
    if isinstance(inner, asyncio.AbstractEventLoop):
        return inner
    raise TypeError(f"expected an asyncio event loop or a tornado IOLoop, got {loop!r}")


_tornado_lock = threading.Lock()


def tornado_loop(loop: asyncio.AbstractEventLoop) -> IOLoop:
    """Return the tornado ``IOLoop`` of the asyncio ``loop``: the one tornado already has
    for it (``IOLoop.current()`` in that loop), or a new one that tornado then knows.

    The ``IOLoop`` only wraps ``loop``: it runs nothing itself, and its ``asyncio_loop``
    is ``loop``. Any thread may ask.
    """
    from tornado.ioloop import IOLoop
    from tornado.platform.asyncio import AsyncIOLoop

    known: dict[asyncio.AbstractEventLoop, IOLoop] = IOLoop._ioloop_for_asyncio
    found = known.get(loop)
    if found is not None:
        return found
    with _tornado_lock:
        found = known.get(loop)
        if found is None:  # tornado records it in _ioloop_for_asyncio itself
            try:
                found = AsyncIOLoop(asyncio_loop=loop, make_current=False)
            except RuntimeError:  # tornado made one meanwhile, in the loop's thread
                found = known[loop]
        return found


def background_loop() -> asyncio.AbstractEventLoop:
    """Return the shared background loop, starting its daemon thread on first call."""
    global _background
    with _lock:
        if _background is None or _background.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=run, name="streams-loop", daemon=True)
            thread.start()
            ready.wait()
            _background = loop
            atexit.register(_stop_background, loop, thread)
        return _background


def _stop_background(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    """At interpreter exit: cancel what still runs on the background loop, then stop it."""
    if loop.is_closed() or not loop.is_running():
        return

    async def cancel_all() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not loop.is_running():
            loop.close()


def run_sync(coro: Coroutine[Any, Any, R], loop: Any = None) -> R:
    """Run ``coro`` on ``loop`` (default: the background loop) and block for its result.

    Raises
    ------
    RuntimeError
        If called from the thread that runs ``loop``: blocking there would deadlock.
    """
    target = background_loop() if loop is None else as_asyncio_loop(loop)
    if target is running_loop():
        coro.close()
        raise RuntimeError("cannot block on the event loop from inside that loop's thread")
    return asyncio.run_coroutine_threadsafe(coro, target).result()


class Completion:
    """A one-shot event that any thread may set and any loop may await.

    Nodes use it to let an emitter wait for work that another emit is already doing
    (a flush in progress, room in a buffer). Unlike ``asyncio.Event`` it is not bound to
    a loop, and it can be created outside any loop.
    """

    __slots__ = ("_lock", "_waiters", "done")

    def __init__(self) -> None:
        self.done = False
        self._waiters: list[asyncio.Future[None]] = []
        self._lock = threading.Lock()

    def set(self) -> None:
        """Mark as done and wake every waiter (on its own loop)."""
        with self._lock:
            if self.done:
                return
            self.done = True
            waiters, self._waiters = self._waiters, []
        here = running_loop()
        for fut in waiters:
            if fut.get_loop() is here:
                _resolve(fut)
            else:
                fut.get_loop().call_soon_threadsafe(_resolve, fut)

    async def wait(self) -> None:
        """Return once :meth:`set` has been called."""
        with self._lock:
            if self.done:
                return
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
        await fut


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def sleep_until(when: float) -> None:
    """Sleep until the running loop's clock reads ``when`` (exact with a virtual clock)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    handle = loop.call_at(when, _resolve, fut)
    try:
        await fut
    finally:
        handle.cancel()


class Alarm:
    """A sleep that another task can cut short with :meth:`ring` (``drain`` does)."""

    __slots__ = ("_sleeping",)

    def __init__(self) -> None:
        self._sleeping: asyncio.Future[None] | None = None

    async def sleep_until(self, when: float) -> None:
        """Like :func:`sleep_until`, but return early if :meth:`ring` is called."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._sleeping = fut
        handle = loop.call_at(when, _resolve, fut)
        try:
            await fut
        finally:
            handle.cancel()
            self._sleeping = None

    def ring(self) -> None:
        """Wake the sleeper now (no effect if nobody sleeps)."""
        if self._sleeping is not None:
            _resolve(self._sleeping)


class Handoff:
    """Hands the outcome of work done on a loop back to a thread blocked waiting for it.

    Cheaper than ``run_coroutine_threadsafe`` for work that usually completes at once:
    no task, no concurrent future, just a lock the loop releases.
    """

    __slots__ = ("_error", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._error: BaseException | None = None

    def succeed(self) -> None:
        """The work is done."""
        self._lock.release()

    def fail(self, error: BaseException) -> None:
        """The work raised ``error``; :meth:`wait` raises it in the waiting thread."""
        self._error = error
        self._lock.release()

    def settle(self, future: asyncio.Future[Any]) -> None:
        """Done-callback form: succeed or fail like ``future``."""
        if future.cancelled():
            self.fail(asyncio.CancelledError())
        elif future.exception() is not None:
            self.fail(future.exception())  # type: ignore[arg-type]
        else:
            self.succeed()

    def wait(self) -> None:
        """Block until the work is done; raise what it raised."""
        self._lock.acquire()
        if self._error is not None:
            raise self._error
