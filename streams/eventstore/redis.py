"""The Redis backend: the events as strings, the indexes as sorted sets by timestamp."""

from __future__ import annotations

import asyncio
import heapq
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .base import Backend, Event, Query

if TYPE_CHECKING:
    import redis
    import redis.asyncio

log = logging.getLogger("streams.eventstore")

__all__ = ["RedisBackend"]


class RedisBackend(Backend):
    """An event store in a Redis server (redis-py, imported on first use).

    Each event is ``SET`` as JSON under ``{prefix}item:{id}``; each index is a sorted
    set ``{prefix}idx:{name}`` scored by timestamp (``{prefix}all`` holds every
    event), so reads are newest first by time whatever the insertion order. One insert
    is one ``MULTI``/``EXEC`` pipeline; one read is one pipeline of ranges plus one
    ``MGET``.

    Each insert also ``PUBLISH``-es the event (in the same ``MULTI``, so after it is
    stored) on the channel ``{prefix}events``, as JSON ``{"origin", "id", "timestamp",
    "order", "data"}``; :meth:`listen` follows that channel, so
    :meth:`Stream.from_event_store <streams.Stream.from_event_store>` and the server's
    ``/subscribe`` websocket see inserts made by other processes. Pub/sub delivers at
    most once, while connected: replay with ``since=`` to catch up after a gap.

    Parameters
    ----------
    keys : list of str, optional
        The fields queries may filter on.
    host, port : optional
        The server (default ``localhost:6379``); ignored if ``url`` is given.
    db : int, optional
        The database number (9, as in AwesomeStream).
    url : str, optional
        ``redis://host:port/db`` (overrides ``host``, ``port`` and ``db``).
    prefix : str, optional
        Prepended to every Redis key this backend uses, and to its pub/sub channel
        (channels are shared by all the databases of a server: give stores in
        different databases different prefixes).
    publish : bool, optional
        Whether inserts are published for followers in other processes.
    **client_kwargs
        Passed to ``redis.Redis``.

    Examples
    --------
    >>> from streams.eventstore import RedisBackend
    >>> store = RedisBackend(keys=["user"], url="redis://localhost:6379/9")
    >>> _ = store.insert({"user": 1, "text": "hi"})  # doctest: +SKIP
    >>> store.items(user=1)  # doctest: +SKIP
    [{'user': 1, 'text': 'hi'}]
    """

    def __init__(
        self,
        keys: Iterable[str] | None = None,
        host: str | None = None,
        port: int | None = None,
        db: int = 9,
        url: str | None = None,
        prefix: str = "eventstore:",
        publish: bool = True,
        **client_kwargs: Any,
    ) -> None:
        super().__init__(keys)
        self.host = host or "localhost"
        self.port = port or 6379
        self.db = db
        self.url = url
        self.prefix = prefix
        self._client_kwargs = client_kwargs
        self.publish = publish
        self.channel = f"{prefix}events"
        """The pub/sub channel of this store's inserts."""
        # marks this object's own messages, which its in-process subscribers saw already
        self._origin = uuid.uuid4().hex
        self._client: redis.Redis | None = None

    def __repr__(self) -> str:
        where = self.url or f"redis://{self.host}:{self.port}/{self.db}"
        return f"RedisBackend(keys={self.keys!r}, url={where!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> redis.Redis:
        """The redis-py client (thread-safe; created on first use)."""
        if self._client is None:
            import redis

            options = {"decode_responses": True, **self._client_kwargs}
            if self.url is not None:
                self._client = redis.Redis.from_url(self.url, **options)
            else:
                self._client = redis.Redis(host=self.host, port=self.port, db=self.db, **options)
        return self._client

    def _async_client(self) -> redis.asyncio.Redis:
        """A new redis.asyncio client with this backend's settings (for pub/sub)."""
        import redis.asyncio

        options = {"decode_responses": True, **self._client_kwargs}
        if self.url is not None:
            return redis.asyncio.Redis.from_url(self.url, **options)
        return redis.asyncio.Redis(host=self.host, port=self.port, db=self.db, **options)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # ------------------------------------------------------------------ layout

    def _item_key(self, event_id: str) -> str:
        return f"{self.prefix}item:{event_id}"

    def _index_key(self, name: str | None) -> str:
        return f"{self.prefix}all" if name is None else f"{self.prefix}idx:{name}"

    @staticmethod
    def _member(event: Event) -> str:
        # equal scores sort by member: the order prefix makes the later insert newer
        return f"{event.order:015x}:{event.id}"

    # ------------------------------------------------------------------ operations

    def _store(self, event: Event, text: str) -> None:
        member = {self._member(event): event.timestamp}
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._item_key(event.id), text)
        pipe.zadd(self._index_key(None), member)
        for name in self.index_names(event.data):
            pipe.zadd(self._index_key(name), member)
        if self.publish:
            message = {
                "origin": self._origin,
                "id": event.id,
                "timestamp": event.timestamp,
                "order": event.order,
            }
            # splice the stored text in rather than encoding the data twice
            pipe.publish(self.channel, f'{self.serialize(message)[:-1]},"data":{text}}}')
        pipe.execute()

    async def listen(self, callback: Callable[[Event], None], ready: asyncio.Future[None]) -> None:
        """Follow ``{prefix}events`` on a connection of its own (redis.asyncio): call
        ``callback(event)`` for each event other backend objects insert."""
        client = self._async_client()
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            async for message in pubsub.listen():
                kind = message.get("type")
                if kind == "subscribe":  # the server confirmed: inserts from now on arrive
                    if not ready.done():
                        ready.set_result(None)
                    continue
                if kind != "message":
                    continue
                try:
                    payload = self.deserialize(message["data"])
                    origin = payload["origin"]
                    event = Event(
                        str(payload["id"]),
                        float(payload["timestamp"]),
                        int(payload["order"]),
                        dict(payload["data"]),
                    )
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning(
                        "event store: ignored a malformed message on %s: %r", self.channel, exc
                    )
                    continue
                if origin != self._origin:
                    callback(event)
        finally:
            await pubsub.aclose()
            await client.aclose()

    def _index_keys(self, query: Query) -> list[str]:
        if not query.filters:
            return [self._index_key(None)]
        return [self._index_key(name) for name in self.query_index_names(query)]

    @staticmethod
    def _bounds(query: Query) -> tuple[str, str]:
        """``(max, min)`` score bounds: ``until`` is exclusive."""
        high = "+inf" if query.until is None else f"({query.until!r}"
        low = "-inf" if query.since is None else repr(query.since)
        return high, low

    def _events(self, query: Query, start: int, end: int) -> list[Event]:
        keys = self._index_keys(query)
        high, low = self._bounds(query)
        client = self.client
        ranges: list[list[tuple[str, float]]]
        if len(keys) == 1:
            ranges = [
                client.zrevrangebyscore(  # type: ignore[list-item]
                    keys[0], high, low, start=start, num=end - start, withscores=True
                )
            ]
        else:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.zrevrangebyscore(key, high, low, start=0, num=end, withscores=True)
            ranges = pipe.execute()
        merged: Iterable[tuple[float, str]]
        merged = heapq.merge(
            *(((score, member) for member, score in found) for found in ranges), reverse=True
        )
        entries: list[tuple[float, str]] = []
        seen: set[str] = set()
        for score, member in merged:
            if member not in seen:
                seen.add(member)
                entries.append((score, member))
        if len(keys) > 1:
            entries = entries[start:end]
        if not entries:
            return []
        ids = [member.partition(":")[2] for _, member in entries]
        texts: list[str | None] = client.mget([self._item_key(i) for i in ids])  # type: ignore[assignment]
        return [
            Event(i, score, int(member.partition(":")[0], 16), self.deserialize(text))
            for i, (score, member), text in zip(ids, entries, texts, strict=True)
            if text is not None
        ]

    def _count(self, query: Query) -> int:
        keys = self._index_keys(query)
        high, low = self._bounds(query)
        client = self.client
        if len(keys) == 1:
            return int(client.zcount(keys[0], low, high))
        scratch = f"{self.prefix}tmp:{uuid.uuid4().hex}"
        pipe = client.pipeline(transaction=True)
        pipe.zunionstore(scratch, keys, aggregate="MAX")
        pipe.zcount(scratch, low, high)
        pipe.delete(scratch)
        return int(pipe.execute()[1])
