"""The contract every event-store backend keeps, and the parts they share.

A backend stores JSON events and answers equality queries on a fixed set of indexed
keys, newest first. :class:`Backend` holds the shared pieces: timestamps, filter
validation, JSON encoding, the subset index keys of the memory and Redis backends, the
in-process subscriber hook, and the async variants of the three operations.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

__all__ = [
    "Backend",
    "Event",
    "Query",
    "to_timestamp",
]

DateLike = datetime.datetime | datetime.date | datetime.timedelta | int | float | None
"""What ``date=``, ``since=`` and ``until=`` accept."""


class Event(NamedTuple):
    """One stored event: its id, its timestamp (seconds since the epoch) and its data.

    ``order`` breaks ties between equal timestamps: the event inserted later sorts as
    the newer one (the 60-bit time of its uuid1, which Python keeps increasing).
    """

    id: str
    timestamp: float
    order: int
    data: dict[str, Any]


def to_timestamp(date: DateLike = None) -> float:
    """Seconds since the epoch (a float) for an event's ``date``.

    ``None`` is now; an ``int`` or ``float`` is already seconds; a ``timedelta`` is now
    plus that delta; a ``datetime`` is its own instant (a naive one is local time); a
    ``date`` is its local midnight.

    Examples
    --------
    >>> import datetime
    >>> to_timestamp(12)
    12.0
    >>> utc = datetime.timezone.utc
    >>> to_timestamp(datetime.datetime(1970, 1, 2, tzinfo=utc))
    86400.0
    >>> abs(to_timestamp(datetime.timedelta(hours=-1)) - (to_timestamp() - 3600)) < 5
    True
    """
    if date is None:
        return time.time()
    if isinstance(date, bool):
        raise TypeError(f"expected a date, a datetime, a timedelta or seconds, got {date!r}")
    if isinstance(date, int | float):
        return float(date)
    if isinstance(date, datetime.timedelta):
        return time.time() + date.total_seconds()
    if isinstance(date, datetime.datetime):
        return date.timestamp()
    if isinstance(date, datetime.date):
        return datetime.datetime.combine(date, datetime.time()).timestamp()
    raise TypeError(f"expected a date, a datetime, a timedelta or seconds, got {date!r}")


class Query(NamedTuple):
    """A validated query: ``{key: (str values...)}`` sorted by key, and a time range
    (``since`` inclusive, ``until`` exclusive, in seconds; ``None`` is open)."""

    filters: tuple[tuple[str, tuple[str, ...]], ...]
    since: float | None
    until: float | None

    def matches(self, event: Event) -> bool:
        """Whether ``event`` is one this query returns."""
        if self.since is not None and event.timestamp < self.since:
            return False
        if self.until is not None and event.timestamp >= self.until:
            return False
        data = event.data
        for key, wanted in self.filters:
            if not any(v in wanted for v in field_values(data, key)):
                return False
        return True


def field_values(data: Mapping[str, Any], key: str) -> list[str]:
    """The indexed string values of field ``key`` in ``data``: none if it is missing or
    ``None``, one per element of a list value, else one."""
    value = data.get(key)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def index_name(names: Sequence[str], values: Sequence[str]) -> str:
    """The unambiguous name of the index of ``names`` (sorted) equal to ``values``."""
    return json.dumps([list(names), list(values)], separators=(",", ":"), ensure_ascii=False)


class Backend:
    """The base class of event-store backends.

    Parameters
    ----------
    keys : list of str, optional
        The fields that queries may filter on (the indexed keys).

    Notes
    -----
    Subclasses implement ``_store(event, text)``, ``_events(query, start, end)`` and
    ``_count(query)``, and may override ``_items`` (the data only); the public methods
    validate their arguments, encode and decode JSON and tell subscribers about new
    events.

    Examples
    --------
    Every backend behaves as :class:`~streams.eventstore.MemoryBackend` does:

    >>> from streams.eventstore import MemoryBackend
    >>> store = MemoryBackend(keys=["user"])
    >>> event_id = store.insert({"user": 1, "text": "hi"})
    >>> store.items(user="1"), store.count()
    ([{'user': 1, 'text': 'hi'}], 1)
    """

    blocking = True
    """Whether the operations do I/O (the async variants then run them in a thread)."""

    def __init__(self, keys: Iterable[str] | None = None) -> None:
        keys = [] if keys is None else list(keys)
        for key in keys:
            if not isinstance(key, str) or not key:
                raise TypeError(f"keys must be non-empty strings, got {key!r}")
        if len(set(keys)) != len(keys):
            raise ValueError(f"keys must be distinct, got {keys!r}")
        self.keys: list[str] = keys
        self._subscribers: dict[int, Callable[[Event], None]] = {}
        self._next_subscriber = itertools.count()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={self.keys!r})"

    # ------------------------------------------------------------------ public API

    def insert(self, data: Mapping[str, Any], date: DateLike = None) -> str:
        """Store the event ``data`` and return its id (a uuid1 string).

        Parameters
        ----------
        data : dict
            A JSON-serialisable mapping with string keys.
        date : datetime, date, timedelta, int or float, optional
            When the event happened (see :func:`to_timestamp`); default now.

        Returns
        -------
        str
            The event's id.
        """
        event, text = self._event(data, date)
        self._store(event, text)
        self._publish(event)
        return event.id

    def items(
        self,
        start: int = 0,
        end: int = 20,
        *,
        since: DateLike = None,
        until: DateLike = None,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """The data of the matching events, newest first, ``[start:end]`` of them.

        Parameters
        ----------
        start, end : int, optional
            A Python slice of the newest-first result: ``end`` is exclusive.
        since, until : datetime, date, timedelta, int or float, optional
            Keep events with ``since <= timestamp < until``.
        **filters
            ``key=value`` or ``key=[value, ...]`` on indexed keys: AND across keys,
            OR within a list; values compare as strings.

        Returns
        -------
        list of dict
        """
        start, end = _page(start, end)
        query = self.query(filters, since, until)
        if end <= start or any(not values for _, values in query.filters):
            return []
        return self._items(query, start, end)

    def events(
        self,
        start: int = 0,
        end: int = 20,
        *,
        since: DateLike = None,
        until: DateLike = None,
        **filters: Any,
    ) -> list[Event]:
        """Like :meth:`items`, but the whole :class:`Event` records (id, timestamp)."""
        start, end = _page(start, end)
        query = self.query(filters, since, until)
        if end <= start or any(not values for _, values in query.filters):
            return []
        return self._events(query, start, end)

    def count(self, *, since: DateLike = None, until: DateLike = None, **filters: Any) -> int:
        """How many events match (the same filters as :meth:`items`).

        Returns
        -------
        int
        """
        query = self.query(filters, since, until)
        if any(not values for _, values in query.filters):
            return 0
        return self._count(query)

    # async variants: the I/O of a blocking backend runs in a worker thread

    async def ainsert(self, data: Mapping[str, Any], date: DateLike = None) -> str:
        """:meth:`insert` without blocking the event loop."""
        if not self.blocking:
            return self.insert(data, date)
        return await asyncio.to_thread(self.insert, data, date)

    async def aitems(self, start: int = 0, end: int = 20, **kwargs: Any) -> list[dict[str, Any]]:
        """:meth:`items` without blocking the event loop."""
        if not self.blocking:
            return self.items(start, end, **kwargs)
        return await asyncio.to_thread(lambda: self.items(start, end, **kwargs))

    async def aevents(self, start: int = 0, end: int = 20, **kwargs: Any) -> list[Event]:
        """:meth:`events` without blocking the event loop."""
        if not self.blocking:
            return self.events(start, end, **kwargs)
        return await asyncio.to_thread(lambda: self.events(start, end, **kwargs))

    async def acount(self, **kwargs: Any) -> int:
        """:meth:`count` without blocking the event loop."""
        if not self.blocking:
            return self.count(**kwargs)
        return await asyncio.to_thread(lambda: self.count(**kwargs))

    def close(self) -> None:
        """Release connections (the backend reconnects if used again)."""

    # ------------------------------------------------------------------ subscribers

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` after every insert through this backend object.

        The callback runs in the inserting thread, after the event was stored; it must
        be quick and must not raise. Inserts by other processes (or other backend
        objects) are not seen.

        Returns
        -------
        callable
            Call it to unsubscribe.
        """
        with self._lock:
            token = next(self._next_subscriber)
            self._subscribers[token] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(token, None)

        return unsubscribe

    async def listen(self, callback: Callable[[Event], None], ready: asyncio.Future[None]) -> None:
        """The remote feed: call ``callback(event)`` on the running loop for each event
        inserted by *other* backend objects (other processes), until cancelled.

        Sets ``ready`` once it listens. The base class has no remote feed: it sets
        ``ready`` and returns; :class:`~streams.eventstore.RedisBackend` listens to Redis
        pub/sub. Inserts through this object are left out (:meth:`subscribe` sees
        them), so the two together see each event once. Use
        :class:`~streams.eventstore.live.Follower` rather than calling this.
        """
        if not ready.done():
            ready.set_result(None)

    def _publish(self, event: Event) -> None:
        if self._subscribers:
            with self._lock:
                callbacks = list(self._subscribers.values())
            for callback in callbacks:
                callback(event)

    # ------------------------------------------------------------------ helpers

    def _event(self, data: Mapping[str, Any], date: DateLike) -> tuple[Event, str]:
        if not isinstance(data, Mapping):
            raise TypeError(f"an event must be a dict, got {type(data).__name__} {data!r}")
        timestamp = to_timestamp(date)
        # the JSON round trip makes the stored data what every read returns
        text = self.serialize(data)
        u = uuid.uuid1()
        return Event(str(u), timestamp, u.time, json.loads(text)), text

    def query(
        self, filters: Mapping[str, Any], since: DateLike = None, until: DateLike = None
    ) -> Query:
        """Validate ``filters`` (each on an indexed key) into a :class:`Query`.

        Raises
        ------
        ValueError
            If a filter names a key that is not indexed.
        """
        unknown = sorted(set(filters) - set(self.keys))
        if unknown:
            raise ValueError(
                f"cannot filter on {', '.join(map(repr, unknown))}: not an indexed key "
                f"(keys={self.keys!r})"
            )
        normalised = []
        for key in sorted(filters):
            value = filters[key]
            values = value if isinstance(value, list | tuple | set | frozenset) else [value]
            normalised.append((key, tuple(dict.fromkeys(str(v) for v in values))))
        return Query(
            tuple(normalised),
            None if since is None else to_timestamp(since),
            None if until is None else to_timestamp(until),
        )

    @staticmethod
    def serialize(data: Any) -> str:
        """The JSON text of ``data``."""
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def deserialize(text: str | bytes) -> Any:
        """The value of the JSON ``text``."""
        return json.loads(text)

    def index_names(self, data: Mapping[str, Any]) -> Iterator[str]:
        """The names of the indexes an event with ``data`` belongs to.

        One per non-empty subset of the indexed keys present (not ``None``) in
        ``data`` and per combination of their values (a list value counts once per
        element).
        """
        present = {k: field_values(data, k) for k in self.keys}
        names = sorted(k for k, v in present.items() if v)
        for size in range(1, len(names) + 1):
            for subset in itertools.combinations(names, size):
                for values in itertools.product(*(present[k] for k in subset)):
                    yield index_name(subset, values)

    @staticmethod
    def query_index_names(query: Query) -> list[str]:
        """The index names whose union answers ``query``'s filters."""
        names = [key for key, _ in query.filters]
        return [
            index_name(names, values)
            for values in itertools.product(*(vals for _, vals in query.filters))
        ]

    # ------------------------------------------------------------------ to implement

    def _store(self, event: Event, text: str) -> None:
        """Store ``event``, whose data is the JSON ``text``."""
        raise NotImplementedError

    def _events(self, query: Query, start: int, end: int) -> list[Event]:
        raise NotImplementedError

    def _count(self, query: Query) -> int:
        raise NotImplementedError

    def _items(self, query: Query, start: int, end: int) -> list[dict[str, Any]]:
        """The data of ``_events(query, start, end)`` (a backend may fetch only that)."""
        return [e.data for e in self._events(query, start, end)]


def _page(start: Any, end: Any) -> tuple[int, int]:
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return start, end
