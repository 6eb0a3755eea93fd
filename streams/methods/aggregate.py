"""Methods that keep state across elements."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from .._util import NO_START, identity, key_function
from . import distributed

if TYPE_CHECKING:
    from ..core import Stream
    from ..operators.aggregate import Collect

T = TypeVar("T")


class AggregateMethods(Generic[T]):
    """``accumulate``/``scan``, ``partition``, ``partition_unique``, ``sliding_window``,
    ``collect``, ``frequencies``."""

    def accumulate(
        self: Any,
        func: Callable[..., Any],
        start: Any = NO_START,
        returns_state: bool = False,
        with_state: bool = False,
        key: Any = None,
        **kwargs: Any,
    ) -> Stream[Any]:
        """Emit a running state: ``state = func(state, x)`` for every element.

        Parameters
        ----------
        func : callable
            Called as ``func(state, x, **kwargs)``.
        start : object, optional
            The initial state. Without it the first element becomes the state and is
            emitted as is.
        returns_state : bool, optional
            ``func`` returns ``(new_state, result)``; ``result`` is emitted.
        with_state : bool, optional
            Emit ``(state, result)`` pairs instead of the result alone.
        key : callable or index, optional
            One state per key (``x[key]`` for an index), starting from ``start``; the
            node emits ``(key, state)`` pairs and its ``state`` is a dict key -> state.
            (Not in streamz, where ``key=`` would reach ``func``.)
        **kwargs
            Passed to ``func`` (``stream_name=`` labels the node).

        Returns
        -------
        Stream
            The node; its ``state`` attribute holds the current state.

        Examples
        --------
        >>> from operator import add
        >>> from streams import Stream
        >>> source = Stream()
        >>> totals = source.accumulate(add).sink_to_list()
        >>> counts = source.accumulate(lambda n, x: n + 1, start=0).sink_to_list()
        >>> for x in [3, 4, 5]:
        ...     source.emit(x)
        >>> totals, counts
        ([3, 7, 12], [1, 2, 3])

        With ``returns_state`` the state and the output can differ, here a running
        enumeration:

        >>> source = Stream()
        >>> out = source.accumulate(lambda i, x: (i + 1, (i, x)), start=0,
        ...                         returns_state=True).sink_to_list()
        >>> for x in "ab":
        ...     source.emit(x)
        >>> out
        [(0, 'a'), (1, 'b')]

        With ``key``, a running total per key:

        >>> source = Stream()
        >>> per_user = source.accumulate(lambda a, x: a + x[1], start=0, key=0)
        >>> out = per_user.sink_to_list()
        >>> for x in [("ada", 3), ("bo", 1), ("ada", 2)]:
        ...     source.emit(x)
        >>> out, per_user.state
        ([('ada', 3), ('bo', 1), ('ada', 5)], {'ada': 5, 'bo': 1})

        See Also
        --------
        scan : the same operator under its other name.
        frequencies : a running count of values.
        """
        if self._dask is not None:  # downstream of scatter(): the distributed variant
            if key is not None:
                raise NotImplementedError(
                    "accumulate: key= is not supported after scatter(); gather() first"
                )
            return distributed(
                self, "accumulate", func, start, returns_state, with_state, **kwargs
            )
        from ..operators.aggregate import Accumulate, KeyedAccumulate

        if key is not None:
            keyed = key_function("accumulate", key)
            assert keyed is not None
            return KeyedAccumulate(self, func, keyed, start, returns_state, with_state, **kwargs)
        return Accumulate(self, func, start, returns_state, with_state, **kwargs)

    def scan(
        self: Any,
        func: Callable[..., Any],
        start: Any = NO_START,
        returns_state: bool = False,
        with_state: bool = False,
        **kwargs: Any,
    ) -> Stream[Any]:
        """Emit a running state (an alias of :meth:`accumulate`).

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> out = source.scan(max).sink_to_list()
        >>> for x in [2, 5, 3]:
        ...     source.emit(x)
        >>> out
        [2, 5, 5]
        """
        return self.accumulate(  # type: ignore[no-any-return]
            func, start, returns_state=returns_state, with_state=with_state, **kwargs
        )

    def partition(
        self: Any,
        n: int,
        timeout: float | str | None = None,
        key: Hashable | Callable[[Any], Hashable] | None = None,
        **kwargs: Any,
    ) -> Stream[tuple[T, ...]]:
        """Group elements into tuples of ``n``.

        Parameters
        ----------
        n : int
            Size of each tuple (positive).
        timeout : float or str, optional
            Emit a group that is not full ``timeout`` seconds (or ``'500ms'``...) after
            its first element arrived. Without it a partial group waits for more
            elements. Needs an event loop.
        key : callable or key/index, optional
            Keep one group per key: ``key(x)`` if callable, else ``x[key]``. A group is
            emitted when it holds ``n`` elements (or times out).

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> out = source.partition(3).sink_to_list()
        >>> for i in range(7):
        ...     source.emit(i)
        >>> out
        [(0, 1, 2), (3, 4, 5)]

        >>> source = Stream()
        >>> by_parity = source.partition(2, key=lambda x: x % 2).sink_to_list()
        >>> for i in range(6):
        ...     source.emit(i)
        >>> by_parity
        [(0, 2), (1, 3)]

        With a timeout, a partial group goes out once it is old enough:

        >>> from streams.testing import record, run_virtual
        >>> run_virtual(record(lambda s: s.partition(3, timeout=1.0),
        ...                    feed=[(0.0, "a"), (0.5, "b"), (2.0, "c")], until=4.0))
        [(1.0, ('a', 'b')), (3.0, ('c',))]

        See Also
        --------
        sliding_window, partition_unique, flatten
        """
        from ..operators.aggregate import Partition

        return Partition(self, n, timeout, key, **kwargs)

    def partition_unique(
        self: Any,
        n: int,
        key: Hashable | Callable[[Any], Hashable] = identity,
        keep: Literal["first", "last"] = "first",
        **kwargs: Any,
    ) -> Stream[tuple[T, ...]]:
        """Group elements into tuples of ``n`` elements with distinct keys.

        Parameters
        ----------
        n : int
            Number of distinct keys per tuple.
        key : callable or key/index, optional
            ``key(x)`` if callable, else ``x[key]``; by default the element itself.
        keep : {'first', 'last'}
            For a key already in the group, keep its first element, or replace it by
            the newest (which then moves to the end of the group).

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> first = source.partition_unique(3).sink_to_list()
        >>> last = source.partition_unique(3, keep="last").sink_to_list()
        >>> for x in [1, 2, 1, 3, 1, 3, 3, 2]:
        ...     source.emit(x)
        >>> first, last
        ([(1, 2, 3), (1, 3, 2)], [(2, 1, 3), (1, 3, 2)])
        """
        from ..operators.aggregate import PartitionUnique

        return PartitionUnique(self, n, key, keep, **kwargs)

    def sliding_window(
        self: Any, n: int, return_partial: bool = True, **kwargs: Any
    ) -> Stream[tuple[T, ...]]:
        """Emit a tuple of the last ``n`` elements for every element.

        Parameters
        ----------
        n : int
            Window size (positive).
        return_partial : bool, optional
            Also emit the shorter windows before ``n`` elements have arrived.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> full = source.sliding_window(2, return_partial=False).sink_to_list()
        >>> every = source.sliding_window(2).sink_to_list()
        >>> for i in range(3):
        ...     source.emit(i)
        >>> full
        [(0, 1), (1, 2)]
        >>> every
        [(0,), (0, 1), (1, 2)]
        """
        from ..operators.aggregate import SlidingWindow

        return SlidingWindow(self, n, return_partial, **kwargs)

    def collect(self: Any, cache: Any = None, **kwargs: Any) -> Collect:
        """Hold elements until ``flush()`` emits them as one tuple.

        Parameters
        ----------
        cache : deque-like, optional
            Where to hold elements (default: a new ``collections.deque``).

        Returns
        -------
        Collect
            The node; call its ``flush()`` (or use it as a sink) to emit.

        Examples
        --------
        >>> from streams import Stream
        >>> source, ticks = Stream(), Stream()
        >>> collector = source.collect()
        >>> out = collector.sink_to_list()
        >>> _ = ticks.sink(collector.flush)  # every tick flushes
        >>> source.emit(1)
        >>> source.emit(2)
        >>> ticks.emit("now")
        >>> out
        [(1, 2)]
        """
        from ..operators.aggregate import Collect

        return Collect(self, cache, **kwargs)

    def frequencies(self: Any, **kwargs: Any) -> Stream[dict[T, int]]:
        """Emit a running count of how often each value occurred.

        Each emitted dict is a fresh snapshot.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> out = source.frequencies().sink_to_list()
        >>> for x in "aba":
        ...     source.emit(x)
        >>> out[-1]
        {'a': 2, 'b': 1}
        """
        from ..operators.aggregate import Frequencies

        return Frequencies(self, **kwargs)
