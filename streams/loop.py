"""Which event loop a graph's pending work runs on.

A graph made only of synchronous nodes needs no loop at all: ``emit`` runs the element
through in the calling thread. When an element leaves work pending (a coroutine sink,
say) and the caller is a plain synchronous script, that work is finished on one shared
background loop, started in a daemon thread on first need and never at import.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["as_asyncio_loop", "background_loop", "run_sync", "running_loop"]

R = TypeVar("R")

_lock = threading.Lock()
_background: asyncio.AbstractEventLoop | None = None


def running_loop() -> asyncio.AbstractEventLoop | None:
    """Return the loop running in this thread, or ``None``."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def as_asyncio_loop(loop: Any) -> asyncio.AbstractEventLoop:
    """Return the asyncio loop behind ``loop`` (an asyncio loop or a tornado ``IOLoop``)."""
    if isinstance(loop, asyncio.AbstractEventLoop):
        return loop
    inner = getattr(loop, "asyncio_loop", None)
    if isinstance(inner, asyncio.AbstractEventLoop):
        return inner
    raise TypeError(f"expected an asyncio event loop or a tornado IOLoop, got {loop!r}")


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

            threading.Thread(target=run, name="streams-loop", daemon=True).start()
            ready.wait()
            _background = loop
        return _background


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
