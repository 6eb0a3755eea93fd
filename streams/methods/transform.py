"""Methods that turn each element into another."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import distributed

if TYPE_CHECKING:
    from ..core import Stream

T = TypeVar("T")
R = TypeVar("R")


class TransformMethods(Generic[T]):
    """``map``, ``starmap``, ``pluck``, ``flatten``/``concat``."""

    def map(self: Any, func: Callable[..., R], *args: Any, **kwargs: Any) -> Stream[R]:
        """Apply a function to every element.

        Parameters
        ----------
        func : callable
            Called as ``func(x, *args, **kwargs)``; its result is emitted.
        *args, **kwargs
            Passed to ``func`` after the element. ``stream_name=`` labels the node
            instead; a keyword ``func`` cannot accept is a ``TypeError`` at once.

        Returns
        -------
        Stream
            The new node.

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> out = source.map(pow, 2).sink_to_list()
        >>> for i in range(4):
        ...     source.emit(i)
        >>> out
        [0, 1, 4, 9]

        An exception from ``func`` reaches the emitter with a note naming the node:

        >>> def parse(s):
        ...     return int(s)
        >>> source = Stream()
        >>> _ = source.map(parse).sink_to_list()
        >>> try:
        ...     source.emit("x1")
        ... except ValueError as e:
        ...     print(e.__notes__)
        ["in map<parse> (element 'x1')"]

        See Also
        --------
        starmap : unpack the element into the arguments.
        """
        if self._dask is not None:  # downstream of scatter(): the distributed variant
            return distributed(self, "map", func, *args, **kwargs)
        from ..operators.transform import Map

        return Map(self, func, *args, **kwargs)

    def starmap(self: Any, func: Callable[..., R], *args: Any, **kwargs: Any) -> Stream[R]:
        """Apply a function to the unpacked items of every element.

        Parameters
        ----------
        func : callable
            Called as ``func(*x, *args, **kwargs)``.
        *args, **kwargs
            Passed to ``func`` after the element's items (``stream_name=`` labels the
            node).

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> out = source.starmap(divmod).sink_to_list()
        >>> source.emit((7, 2))
        >>> out
        [(3, 1)]

        See Also
        --------
        map
        """
        if self._dask is not None:  # downstream of scatter(): the distributed variant
            return distributed(self, "starmap", func, *args, **kwargs)
        from ..operators.transform import Starmap

        return Starmap(self, func, *args, **kwargs)

    def map_async(
        self: Any,
        func: Callable[..., Awaitable[R]],
        *args: Any,
        parallelism: int = 1,
        stop_on_exception: bool = False,
        **kwargs: Any,
    ) -> Stream[R]:
        """Await an async function on every element; emit the results in input order.

        Up to ``parallelism`` calls run at once; beyond that the emitter waits (back
        pressure). Results go out in the order the elements came in, whatever order the
        calls finish in.

        Parameters
        ----------
        func : callable returning an awaitable
            Called as ``func(x, *args, **kwargs)``: an ``async def`` function, a tornado
            ``gen.coroutine``, or any function returning an awaitable (a result that is
            not awaitable fails that element with ``TypeError``).
        parallelism : int, optional
            How many calls may run at the same time.
        stop_on_exception : bool, optional
            After a call raises (and ``on_error`` is ``'raise'``), stop every source
            upstream and pause: calls already started run on, but their results are
            held until the node goes on, which it does when elements arrive again (the
            sources were restarted) or when ``start()`` is called on it or below it. By
            default the node goes on at once. Either way the error goes to the graph's
            error streams (see ``errors()``).
        *args, **kwargs
            Passed to ``func`` after the element.

        Returns
        -------
        Stream

        Examples
        --------
        >>> import asyncio
        >>> from streams.testing import record, run_virtual
        >>> async def fetch(seconds):
        ...     await asyncio.sleep(seconds)
        ...     return f"took {seconds}s"
        >>> run_virtual(record(lambda s: s.map_async(fetch, parallelism=2),
        ...                    feed=[(0, 3), (0, 1)], until=5))
        [(3.0, 'took 3s'), (3.0, 'took 1s')]
        """
        from ..operators.transform import MapAsync

        return MapAsync(
            self,
            func,
            *args,
            parallelism=parallelism,
            stop_on_exception=stop_on_exception,
            **kwargs,
        )

    def pluck(self: Any, pick: Hashable | list[Hashable], **kwargs: Any) -> Stream[Any]:
        """Select an item (or several) from every element.

        Parameters
        ----------
        pick : key or index, or list of them
            Emit ``x[pick]``; for a list, the tuple ``(x[p0], x[p1], ...)``. A missing key
            raises the ``KeyError``/``IndexError`` with a note naming the node.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> names = source.pluck("name").sink_to_list()
        >>> pairs = source.pluck(["name", "age"]).sink_to_list()
        >>> source.emit({"name": "Ada", "age": 36})
        >>> names, pairs
        (['Ada'], [('Ada', 36)])
        """
        if self._dask is not None:  # downstream of scatter(): the distributed variant
            return distributed(self, "pluck", pick, **kwargs)
        from ..operators.transform import Pluck

        return Pluck(self, pick, **kwargs)

    def flatten(self: Any, **kwargs: Any) -> Stream[Any]:
        """Emit each item of every (iterable) element.

        When a consumer is slow (an async sink), the items are delivered one at a time:
        the next is emitted once the previous one was accepted.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> out = source.flatten().sink_to_list()
        >>> source.emit([1, 2])
        >>> source.emit(range(3, 5))
        >>> out
        [1, 2, 3, 4]

        See Also
        --------
        partition : the inverse, grouping elements into tuples.
        """
        if self._dask is not None:  # downstream of scatter(): the distributed variant
            return distributed(self, "flatten", **kwargs)
        from ..operators.transform import Flatten

        return Flatten(self, **kwargs)

    def concat(self: Any, **kwargs: Any) -> Stream[Any]:
        """Emit each item of every element (an alias of :meth:`flatten`).

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> out = source.concat().sink_to_list()
        >>> source.emit("ab")
        >>> out
        ['a', 'b']
        """
        return self.flatten(**kwargs)  # type: ignore[no-any-return]
