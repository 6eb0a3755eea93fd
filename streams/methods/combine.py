"""Methods that join this stream with others."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ..core import Stream

T = TypeVar("T")


class CombineMethods(Generic[T]):
    """``zip``, ``combine_latest``, ``zip_latest``, ``union``."""

    def zip(
        self: Any, *others: Any, maxsize: int | None = 10, **kwargs: Any
    ) -> Stream[tuple[Any, ...]]:
        """Pair up elements: emit a tuple once every stream delivered its next element.

        Parameters
        ----------
        *others : Stream or object
            The streams to zip with (this one comes first). Arguments that are not
            streams are literals, placed at their position in every tuple.
        maxsize : int or None, optional
            How many elements a stream may get ahead of the others. At that point the
            emitter of the stream that is ahead waits (back pressure) until the others
            catch up. In a synchronous script with no event loop nothing could catch up
            while it waits, so the emit raises :class:`~streams.BackpressureError`
            instead of blocking forever. ``None`` means unbounded.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> a, b = Stream(), Stream()
        >>> out = a.zip(b, "tag").sink_to_list()
        >>> a.emit(1)
        >>> a.emit(2)
        >>> b.emit("x")
        >>> b.emit("y")
        >>> out
        [(1, 'x', 'tag'), (2, 'y', 'tag')]

        See Also
        --------
        combine_latest, zip_latest
        """
        from ..operators.combine import Zip

        return Zip(self, *others, maxsize=maxsize, **kwargs)

    def combine_latest(
        self: Any, *others: Stream[Any], emit_on: Any = None, **kwargs: Any
    ) -> Stream[tuple[Any, ...]]:
        """Emit a tuple of the latest element of every stream whenever one of them emits.

        Nothing is emitted until every stream has delivered at least one element.

        Parameters
        ----------
        *others : Stream
            The streams to combine with (this one comes first).
        emit_on : Stream, int, or list of them, optional
            Emit only when these streams (or positions) deliver; the others just
            update their latest value. Default: every stream.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> prices, fx = Stream(), Stream()
        >>> out = prices.combine_latest(fx, emit_on=prices).sink_to_list()
        >>> fx.emit(1.1)
        >>> prices.emit(100)
        >>> fx.emit(1.2)
        >>> prices.emit(101)
        >>> out
        [(100, 1.1), (101, 1.2)]

        See Also
        --------
        zip, zip_latest
        """
        from ..operators.combine import CombineLatest

        return CombineLatest(self, *others, emit_on=emit_on, **kwargs)

    def zip_latest(self: Any, *others: Stream[Any], **kwargs: Any) -> Stream[tuple[Any, ...]]:
        """Pair every element of this stream with the latest element of the others.

        No element of this (lossless) stream is dropped: those arriving before every
        other stream has delivered wait and are emitted, in order, once they have.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> trades, quotes = Stream(), Stream()
        >>> out = trades.zip_latest(quotes).sink_to_list()
        >>> trades.emit("t1")
        >>> quotes.emit("q1")
        >>> trades.emit("t2")
        >>> quotes.emit("q2")
        >>> quotes.emit("q3")
        >>> trades.emit("t3")
        >>> out
        [('t1', 'q1'), ('t2', 'q1'), ('t3', 'q3')]

        See Also
        --------
        combine_latest, zip
        """
        from ..operators.combine import ZipLatest

        return ZipLatest(self, *others, **kwargs)

    def union(self: Any, *others: Stream[Any], **kwargs: Any) -> Stream[Any]:
        """Merge streams: emit every element of each of them.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> a, b = Stream(), Stream()
        >>> out = a.union(b).sink_to_list()
        >>> a.emit(1)
        >>> b.emit(2)
        >>> out
        [1, 2]
        """
        from ..operators.combine import Union

        return Union(self, *others, **kwargs)
