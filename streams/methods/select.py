"""Methods that let some elements through."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .._util import identity
from . import distributed

if TYPE_CHECKING:
    from ..core import Stream

T = TypeVar("T")


class SelectMethods(Generic[T]):
    """``filter``, ``remove``, ``slice``, ``unique``."""

    def filter(
        self: Any, predicate: Callable[..., Any] | None, *args: Any, **kwargs: Any
    ) -> Stream[T]:
        """Keep the elements for which a predicate is true.

        Parameters
        ----------
        predicate : callable or None
            Called as ``predicate(x, *args, **kwargs)``; ``None`` keeps truthy elements.
        *args, **kwargs
            Passed to ``predicate`` after the element (``stream_name=`` labels the node).

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> evens = source.filter(lambda x: x % 2 == 0).sink_to_list()
        >>> for i in range(6):
        ...     source.emit(i)
        >>> evens
        [0, 2, 4]

        See Also
        --------
        remove : the inverse.
        """
        if self._dask is not None:  # downstream of scatter(): the distributed variant
            return distributed(self, "filter", predicate, *args, **kwargs)
        from ..operators.select import Filter

        return Filter(self, predicate, *args, **kwargs)

    def remove(self: Any, predicate: Callable[..., Any], *args: Any, **kwargs: Any) -> Stream[T]:
        """Drop the elements for which a predicate is true.

        Parameters
        ----------
        predicate : callable
            Called as ``predicate(x, *args, **kwargs)``.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> odds = source.remove(lambda x: x % 2 == 0).sink_to_list()
        >>> for i in range(6):
        ...     source.emit(i)
        >>> odds
        [1, 3, 5]

        See Also
        --------
        filter
        """
        if self._dask is not None:  # downstream of scatter(): the distributed variant
            return distributed(self, "remove", predicate, *args, **kwargs)
        from ..operators.select import Remove

        return Remove(self, predicate, *args, **kwargs)

    def slice(
        self: Any,
        start: int | None = None,
        end: int | None = None,
        step: int | None = None,
        **kwargs: Any,
    ) -> Stream[T]:
        """Pass elements by their position in the stream, like ``itertools.islice``.

        After position ``end`` the node detaches itself from its upstream.

        Parameters
        ----------
        start : int, optional
            Position of the first element to pass (default 0).
        end : int, optional
            Position to stop before (default: never stop).
        step : int, optional
            Pass every ``step``-th element from ``start`` (default 1).

        Returns
        -------
        Stream

        Raises
        ------
        ValueError
            For negative positions (a stream has no end to count from) or ``step < 1``.

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> out = source.slice(1, 7, 2).sink_to_list()
        >>> for i in range(10):
        ...     source.emit(i)
        >>> out
        [1, 3, 5]
        """
        from ..operators.select import Slice

        return Slice(self, start, end, step, **kwargs)

    def unique(
        self: Any,
        maxsize: int | None = None,
        key: Callable[[Any], Any] = identity,
        hashable: bool = True,
        **kwargs: Any,
    ) -> Stream[T]:
        """Drop elements whose key was seen before.

        Parameters
        ----------
        maxsize : int, optional
            Remember only the ``maxsize`` most recently seen keys (a repeat counts as
            seen again). ``maxsize=1`` drops only immediate repeats. Default: all keys.
        key : callable, optional
            Compare ``key(x)`` instead of ``x``.
        hashable : bool, optional
            Whether keys are hashable. ``False`` keeps a list compared with ``==``,
            slower but fine for dicts or lists.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> first_seen = source.unique().sink_to_list()
        >>> changes = source.unique(maxsize=1).sink_to_list()
        >>> for x in [1, 1, 2, 1, 3, 3]:
        ...     source.emit(x)
        >>> first_seen, changes
        ([1, 2, 3], [1, 2, 1, 3])
        """
        if self._dask is not None:  # downstream of scatter(): the distributed variant
            return distributed(self, "unique", maxsize, key, hashable, **kwargs)
        from ..operators.select import Unique

        return Unique(self, maxsize, key, hashable, **kwargs)
