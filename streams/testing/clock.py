"""An asyncio event loop on a virtual clock that jumps to the next timer when idle."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Coroutine, Mapping
from typing import Any, TypeVar

__all__ = ["VirtualTimeLoop", "run_virtual"]

R = TypeVar("R")


class _VirtualSelector(selectors.BaseSelector):
    """Wraps the loop's real selector. When nothing is ready and the loop would sleep
    until its next timer, the clock moves forward by that much instead of sleeping."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._loop = loop
        self._real = selectors.DefaultSelector()

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        if timeout is None:  # no timer at all: wait for real I/O or another thread
            return self._real.select(None)
        self._loop._advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose ``time()`` is virtual: whenever the loop would wait for its
    next timer, the clock jumps to it at once.

    Time-based code then runs in no real time and at exact, repeatable virtual
    timestamps. Only timers move the clock: real I/O and other threads are waited for
    in real time, and timers due meanwhile fire first. Built on public asyncio API only
    (a selector event loop with a custom selector and ``time()``).

    Parameters
    ----------
    start : float, optional
        The clock's reading at creation (default 0.0).

    Examples
    --------
    >>> import asyncio
    >>> async def main():
    ...     loop = asyncio.get_running_loop()
    ...     await asyncio.sleep(3600)  # an hour, instantly
    ...     return loop.time()
    >>> run_virtual(main())
    3600.0
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        super().__init__(selector=_VirtualSelector(self))

    def time(self) -> float:
        """The virtual clock's reading, in seconds."""
        return self._now

    def _advance(self, seconds: float) -> None:
        self._now += seconds

    async def shutdown_default_executor(self, timeout: float | None = None) -> None:
        """Join the default executor's threads, in real time.

        asyncio (3.12+) bounds this join with a timeout; on the virtual clock that timeout
        would expire at once, since the join happens in another thread.
        """
        await super().shutdown_default_executor()


def run_virtual(main: Coroutine[Any, Any, R] | Awaitable[R], *, start: float = 0.0) -> R:
    """Run ``main`` to completion on a new :class:`VirtualTimeLoop` (like ``asyncio.run``).

    Parameters
    ----------
    main : coroutine
        What to run.
    start : float, optional
        The virtual clock's reading at the start.

    Returns
    -------
    object
        What ``main`` returned.

    Examples
    --------
    >>> from streams.testing import record
    >>> run_virtual(record(lambda s: s.rate_limit(1.0), feed=[(0, "a"), (0, "b")]))
    [(0.0, 'a'), (1.0, 'b')]
    """
    with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(start)) as runner:
        return runner.run(main)  # type: ignore[arg-type]
