"""Methods for the event store (:mod:`streams.eventstore`): sink_to_event_store,
from_event_store."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ..eventstore.base import Backend, DateLike
    from ..eventstore.nodes import FromEventStore, ToEventStore

T = TypeVar("T")


class EventStoreMethods(Generic[T]):
    """The event store: sink_to_event_store, from_event_store."""

    def sink_to_event_store(
        self: Any,
        backend: Backend,
        date: str | Callable[[Any], DateLike] | None = None,
        **kwargs: Any,
    ) -> ToEventStore:
        """Insert every element, a dict, as an event into an event-store backend.

        The emitter waits until the event is stored (back pressure): a
        :class:`~streams.eventstore.MemoryBackend` stores it at once, in the
        emitter's call; a Redis or SQL backend stores it in a worker thread, one
        insert per element, awaited before the element counts as accepted. An
        element that is not a dict, or a failed insert, goes through the node's
        ``on_error`` policy (the error names the node). The sink emits nothing
        downstream.

        Parameters
        ----------
        backend : streams.eventstore.Backend
            Where to store the events.
        date : str or callable, optional
            The event's time: the name of a field holding it, or a function of the
            element returning it (a datetime, a date, seconds...); default now.
        **kwargs
            Node options: ``stream_name``, ``on_error``...

        Returns
        -------
        streams.eventstore.nodes.ToEventStore

        Examples
        --------
        >>> from streams import Stream
        >>> from streams.eventstore import MemoryBackend
        >>> store = MemoryBackend(keys=["user"])
        >>> source = Stream()
        >>> _ = source.map(lambda n: {"user": n % 2, "n": n}).sink_to_event_store(
        ...     store, date="n")
        >>> for n in range(5):
        ...     source.emit(n)
        >>> store.items(user=0)
        [{'user': 0, 'n': 4}, {'user': 0, 'n': 2}, {'user': 0, 'n': 0}]

        See Also
        --------
        from_event_store
        """
        from ..eventstore.nodes import ToEventStore

        return ToEventStore(self, backend, date, **kwargs)

    @staticmethod
    def from_event_store(
        backend: Backend,
        follow: bool = True,
        replay: bool | None = None,
        since: DateLike = None,
        until: DateLike = None,
        start: bool = False,
        stream_name: str | None = None,
        **filters: Any,
    ) -> FromEventStore:
        """Emit the data of the events of an event store that match ``filters``.

        With ``follow`` (the default) the source emits every matching event
        inserted through this ``backend`` object while it runs, in the order of
        the inserts, until stopped: a live tail. A
        :class:`~streams.eventstore.RedisBackend` also sees the inserts of other
        processes (Redis pub/sub: at most once while connected); the other backends
        see only this object's inserts. With ``replay`` it first emits
        the matching stored events, oldest first; ``replay`` defaults to ``not
        follow``, so ``follow=False`` replays the store and ends. An event inserted
        during the replay is emitted once. Each element waits for back pressure.

        Parameters
        ----------
        backend : streams.eventstore.Backend
            The store.
        follow : bool, optional
            Emit new events as they are inserted, until stopped.
        replay : bool, optional
            First emit the stored events (held in memory meanwhile: bound them
            with ``since``).
        since, until : datetime, date, timedelta, int or float, optional
            Only events with ``since <= timestamp < until`` (fixed when the source
            is built).
        start : bool, optional
            Start at once.
        stream_name : str, optional
            A label for the node.
        **filters
            ``key=value`` or ``key=[values]`` on the backend's indexed keys, as
            for ``backend.items``.

        Returns
        -------
        streams.eventstore.nodes.FromEventStore

        Raises
        ------
        ValueError
            If a filter names a key that is not indexed.

        Examples
        --------
        >>> from streams import Stream
        >>> from streams.eventstore import MemoryBackend
        >>> store = MemoryBackend(keys=["kind"])
        >>> for n, kind in enumerate(["play", "quit", "play"]):
        ...     _ = store.insert({"kind": kind, "n": n}, date=n)
        >>> source = Stream.from_event_store(store, follow=False, kind="play")
        >>> out = source.sink_to_list()
        >>> source.start()
        >>> source.wait()
        >>> out
        [{'kind': 'play', 'n': 0}, {'kind': 'play', 'n': 2}]

        See Also
        --------
        sink_to_event_store
        """
        from ..eventstore.nodes import FromEventStore

        return FromEventStore(
            backend,
            follow=follow,
            replay=replay,
            since=since,
            until=until,
            filters=filters,
            start=start,
            stream_name=stream_name,
        )
