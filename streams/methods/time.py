"""Methods whose nodes involve time or run on their own (they need an event loop)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from .._util import identity
from . import distributed

if TYPE_CHECKING:
    from ..core import Stream

T = TypeVar("T")

Interval = float | str
"""Seconds, or a string such as ``'250ms'``, ``'2s'``, ``'1 min'``."""


class TimeMethods(Generic[T]):
    """``timed_window``, ``timed_window_unique``, ``delay``, ``rate_limit``, ``buffer``,
    ``latest``."""

    def timed_window(self: Any, interval: Interval, **kwargs: Any) -> Stream[list[T]]:
        """Every ``interval`` seconds, emit a list of the elements that arrived since.

        The first list goes out one interval after the graph starts running; an interval
        in which nothing arrived gives an empty list. While a list is being accepted by a
        slow consumer, new elements are taken in but their emitters wait: back pressure.

        Parameters
        ----------
        interval : float or str
            Seconds, or a string such as ``'250ms'``.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams.testing import record, run_virtual
        >>> run_virtual(record(lambda s: s.timed_window(1.0),
        ...                    feed=[(0.0, 1), (0.25, 2), (1.5, 3)], until=3.0))
        [(1.0, [1, 2]), (2.0, [3]), (3.0, [])]

        See Also
        --------
        partition : count-based groups, optionally with a timeout.
        drain : emit what a window holds without waiting for its time.
        """
        from ..operators.time import TimedWindow

        return TimedWindow(self, interval, **kwargs)

    def timed_window_unique(
        self: Any,
        interval: Interval,
        key: Hashable | Callable[[Any], Hashable] = identity,
        keep: Literal["first", "last"] = "first",
        **kwargs: Any,
    ) -> Stream[tuple[T, ...]]:
        """Every ``interval`` seconds, emit a tuple of what arrived, one element per key.

        Parameters
        ----------
        interval : float or str
            Seconds, or a string such as ``'250ms'``.
        key : callable or key/index, optional
            ``key(x)`` if callable, else ``x[key]``; by default the element itself.
        keep : {'first', 'last'}
            For a repeated key, keep the first element, or the newest (which then moves
            to the end of the tuple).

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams.testing import record, run_virtual
        >>> events = [(0.0, "a"), (0.1, "b"), (0.2, "a"), (1.5, "c")]
        >>> run_virtual(record(lambda s: s.timed_window_unique(1.0, keep="last"),
        ...                    feed=events, until=2.0))
        [(1.0, ('b', 'a')), (2.0, ('c',))]
        """
        from ..operators.time import TimedWindowUnique

        return TimedWindowUnique(self, interval, key, keep, **kwargs)

    def delay(
        self: Any, interval: Interval, maxsize: int | None = 1000, **kwargs: Any
    ) -> Stream[T]:
        """Emit each element ``interval`` seconds after it arrived.

        The emitter does not wait for the delay, but at most ``maxsize`` elements are
        held: beyond that an emitter waits for room (back pressure), so memory stays
        bounded. A slow consumer receives the elements late, in order.

        Parameters
        ----------
        interval : float or str
            Seconds, or a string such as ``'250ms'``.
        maxsize : int or None, optional
            The most elements held at once (``None``: unbounded).

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams.testing import record, run_virtual
        >>> run_virtual(record(lambda s: s.delay(0.5), feed=[(0.0, "a"), (0.25, "b")], until=1))
        [(0.5, 'a'), (0.75, 'b')]
        """
        from ..operators.time import Delay

        return Delay(self, interval, maxsize, **kwargs)

    def rate_limit(self: Any, interval: Interval, **kwargs: Any) -> Stream[T]:
        """Let at most one element through every ``interval`` seconds.

        An element that comes too early waits for its turn, and so does its emitter:
        a fast producer is slowed down to the limit instead of piling elements up.

        Parameters
        ----------
        interval : float or str
            Seconds, or a string such as ``'250ms'``.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams.testing import record, run_virtual
        >>> run_virtual(record(lambda s: s.rate_limit(1.0), feed=[(0, "a"), (0, "b")]))
        [(0.0, 'a'), (1.0, 'b')]
        """
        from ..operators.time import RateLimit

        return RateLimit(self, interval, **kwargs)

    def buffer(self: Any, n: int, **kwargs: Any) -> Stream[T]:
        """Decouple a fast producer from a slower consumer with a queue of ``n`` elements.

        Elements are accepted at once while fewer than ``n`` wait; then emitters wait
        for room. The consumer is fed from a task of the node's own, one element at a
        time. Errors on that side go to the graph's error streams (see ``errors()``).

        Parameters
        ----------
        n : int
            Queue size (positive).

        Returns
        -------
        Stream

        Examples
        --------
        >>> import asyncio
        >>> from streams.testing import record, run_virtual
        >>> async def slow(x):
        ...     await asyncio.sleep(1.0)
        ...     return x
        >>> run_virtual(record(lambda s: s.buffer(2).map_async(slow),
        ...                    feed=[(0, "a"), (0, "b"), (0, "c")], until=5))
        [(1.0, 'a'), (2.0, 'b'), (3.0, 'c')]
        """
        if self._dask is not None:  # downstream of scatter(): the distributed variant
            return distributed(self, "buffer", n, **kwargs)
        from ..operators.time import Buffer

        return Buffer(self, n, **kwargs)

    def latest(self: Any, **kwargs: Any) -> Stream[T]:
        """Pass on only the newest element while the consumer is busy.

        The emitter never waits; elements that arrive while the consumer handles one are
        replaced by newer ones. Useful in front of a slow display or dashboard. With
        no consumer attached it holds the newest element (its refs retained, so it is
        not acknowledged) until a newer one replaces it, as in streamz.

        Returns
        -------
        Stream

        Examples
        --------
        >>> import asyncio
        >>> from streams.testing import record, run_virtual
        >>> async def draw(x):  # a slow display
        ...     await asyncio.sleep(1.0)
        >>> def build(source):
        ...     shown = source.latest()
        ...     shown.sink(draw)
        ...     return shown
        >>> run_virtual(record(build, feed=[(0, 1), (0.1, 2), (0.2, 3), (0.3, 4)], until=3))
        [(0.0, 1), (1.0, 4)]
        """
        from ..operators.time import Latest

        return Latest(self, **kwargs)
