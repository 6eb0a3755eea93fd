"""Static methods that build sources: ``Stream.from_iterable(...)`` and friends."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ..sources import Source

T = TypeVar("T")


class SourceMethods:
    """``from_iterable``, ``from_periodic``."""

    @staticmethod
    def from_iterable(iterable: Iterable[T], start: bool = False, **kwargs: Any) -> Source[T]:
        """A source that emits the items of ``iterable``, then is done.

        Each item waits for back pressure before the next one is taken. The source runs
        on its graph's loop; ``wait()`` returns once every item was accepted.

        Parameters
        ----------
        iterable : iterable
            The items; an iterator is consumed, so a restarted source continues where it
            stopped.
        start : bool, optional
            Start at once instead of on ``start()``.

        Returns
        -------
        Source

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream.from_iterable(range(5))
        >>> squares = source.map(lambda x: x * x).sink_to_list()
        >>> source.start()
        >>> source.wait()
        >>> squares
        [0, 1, 4, 9, 16]
        """
        from ..sources import FromIterable

        return FromIterable(iterable, start=start, **kwargs)

    @staticmethod
    def from_periodic(
        callback: Callable[[], Any],
        poll_interval: float | str = 0.1,
        start: bool = False,
        **kwargs: Any,
    ) -> Source[Any]:
        """A source that calls ``callback`` every ``poll_interval`` seconds and emits
        what it returns.

        A result of ``None`` emits nothing. ``callback`` may be a coroutine function.
        Calls happen at a fixed rate from ``start()``; a slow call or consumer skips the
        ticks it missed rather than bursting to catch up.

        Parameters
        ----------
        callback : callable
            Called with no arguments.
        poll_interval : float or str, optional
            Seconds between calls, or a string such as ``'250ms'``.
        start : bool, optional
            Start at once.

        Returns
        -------
        Source

        Examples
        --------
        >>> import itertools
        >>> from streams import Stream
        >>> from streams.testing import run_virtual, timeline
        >>> async def main():
        ...     counter = itertools.count()
        ...     source = Stream.from_periodic(lambda: next(counter), poll_interval=0.5)
        ...     out = timeline(source)
        ...     source.start()
        ...     await asyncio.sleep(1.25)
        ...     source.stop()
        ...     return out
        >>> import asyncio
        >>> run_virtual(main())
        [(0.0, 0), (0.5, 1), (1.0, 2)]
        """
        from ..sources import FromPeriodic

        return FromPeriodic(callback, poll_interval, start=start, **kwargs)
