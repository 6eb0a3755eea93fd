"""Redis storages: a sorted set per timeline, sharded hashes for activities, lists.

- :class:`RedisTimelineStorage`: one ZSET per feed key, score = the entry's id (activity
  or aggregate ``serialization_id``), member = the serialized entry. Reads use
  ``ZREVRANGEBYSCORE``/``ZRANGEBYSCORE`` with ``LIMIT`` and the filters as (exclusive
  ``(``) score bounds; trims use ``ZREMRANGEBYRANK``; counts ``ZCARD``.
- :class:`RedisActivityStorage`: ``activity id -> activity`` in ``shards`` (10) hashes
  ``activity:cache:global:<n>``, ``n = md5(id) % shards``.
- :class:`RedisListsStorage`: a list per ``<key>:<name>`` (``RPUSH`` + ``LTRIM``).

Redis stores scores as doubles: activity ids (about 26 digits) are exact to the
millisecond only, so activities of the same millisecond share a score (their order then
falls back to the member, the id string, which keeps them sorted) and an ``activity_id``
filter cannot separate them. This is Stream Framework's behaviour too.

The option ``redis_server`` names the server in
:data:`streams.feeds.settings.STREAM_REDIS_CONFIG` (default ``'default'``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from .. import settings
from .base import (
    BaseActivityStorage,
    BaseListsStorage,
    BaseTimelineStorage,
    check_ordering,
    score_bounds,
)

if TYPE_CHECKING:
    import redis

__all__ = ["RedisActivityStorage", "RedisListsStorage", "RedisTimelineStorage"]

CHUNK = 200
"""Entries per ``ZADD``."""


class _RedisStorage:
    options: dict[str, Any]

    @property
    def redis(self) -> redis.Redis:
        """A client of the configured server."""
        return settings.get_redis_connection(self.options.get("redis_server", "default"))

    def get_batch_interface(self) -> AbstractContextManager[Any]:
        """A context yielding a pipeline (``transaction=False``), executed on exit."""
        return _pipeline(self.redis)


@contextmanager
def _pipeline(client: redis.Redis) -> Iterator[Any]:
    with client.pipeline(transaction=False) as pipe:
        yield pipe
        pipe.execute()


class RedisTimelineStorage(_RedisStorage, BaseTimelineStorage):
    """Timelines as Redis sorted sets (see the module notes)."""

    def add_many(
        self, key: str, entries: Sequence[tuple[int, str]], batch_interface: Any = None
    ) -> int:
        if not entries:
            return 0
        pipe = batch_interface if batch_interface is not None else self.redis.pipeline(False)
        for i in range(0, len(entries), CHUNK):
            chunk = entries[i : i + CHUNK]
            pipe.zadd(key, {member: score for score, member in chunk}, nx=True)
        if batch_interface is not None:
            return len(entries)
        return int(sum(pipe.execute()))

    def remove_many(self, key: str, members: Sequence[str], batch_interface: Any = None) -> int:
        if not members:
            return 0
        if batch_interface is not None:
            batch_interface.zrem(key, *members)
            return len(members)
        return int(self.redis.zrem(key, *members))

    def add_to_keys(
        self, keys: Iterable[str], entries: Sequence[tuple[int, str]], batch_interface: Any
    ) -> None:
        """Queue on ``batch_interface`` the commands of ``add_many(key, entries,
        batch_interface)`` for each of ``keys`` (a fan-out chunk), the arguments encoded
        once: the ``ZADD NX`` of every key share them."""
        encode = batch_interface.get_encoder().encode
        zadds = []
        for i in range(0, len(entries), CHUNK):
            mapping = {member: score for score, member in entries[i : i + CHUNK]}
            args = [b"NX"]
            for member, score in mapping.items():
                args += (encode(score), encode(member))
            zadds.append(args)
        queue = batch_interface.execute_command
        for key in keys:
            name = encode(key)
            for args in zadds:
                queue("ZADD", name, *args)

    def remove_from_keys(
        self, keys: Iterable[str], members: Sequence[str], batch_interface: Any
    ) -> None:
        """Queue on ``batch_interface`` the ``ZREM`` of ``remove_many(key, members,
        batch_interface)`` for each of ``keys``, the members encoded once."""
        if not members:
            return
        encode = batch_interface.get_encoder().encode
        encoded = [encode(member) for member in members]
        for key in keys:
            batch_interface.execute_command("ZREM", encode(key), *encoded)

    def get_slice(
        self,
        key: str,
        start: int,
        stop: int | None,
        filter_kwargs: Mapping[str, int] | None = None,
        ordering_args: Sequence[str] | None = None,
    ) -> list[str]:
        low, high = score_bounds(filter_kwargs)
        num = -1 if stop is None else stop - start
        if num == 0 or num < -1:
            return []
        client = self.redis
        if check_ordering(ordering_args):
            result = client.zrangebyscore(key, low, high, start=start, num=num)
        else:
            result = client.zrevrangebyscore(key, high, low, start=start, num=num)
        return [str(member) for member in result]

    def count(self, key: str) -> int:
        return int(self.redis.zcard(key))

    def delete(self, key: str) -> None:
        self.redis.delete(key)

    def trim(self, key: str, length: int) -> None:
        self.redis.zremrangebyrank(key, 0, -length - 1)

    def index_of(self, key: str, member: str) -> int:
        rank: Any = self.redis.zrevrank(key, member)
        if rank is None:
            raise ValueError(f"{member} is not in timeline {key!r}")
        return int(rank)

    def flush(self, key_pattern: str) -> None:
        client = self.redis
        keys = list(client.scan_iter(match=key_pattern, count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])


class RedisActivityStorage(_RedisStorage, BaseActivityStorage):
    """Activities in sharded Redis hashes (options ``key_prefix``, ``shards``)."""

    @property
    def _prefix(self) -> str:
        return str(self.options.get("key_prefix", "activity:cache:global"))

    @property
    def _shards(self) -> int:
        return int(self.options.get("shards", 10))

    def shard_key(self, activity_id: int) -> str:
        """The hash holding ``activity_id``."""
        digest = hashlib.md5(str(activity_id).encode(), usedforsecurity=False).hexdigest()
        return f"{self._prefix}:{int(digest, 16) % self._shards}"

    def _by_shard(self, activity_ids: Iterable[int]) -> dict[str, list[int]]:
        shards: dict[str, list[int]] = {}
        for activity_id in activity_ids:
            shards.setdefault(self.shard_key(activity_id), []).append(activity_id)
        return shards

    def add_many(self, activities: Mapping[int, str], batch_interface: Any = None) -> int:
        if not activities:
            return 0
        pipe = batch_interface if batch_interface is not None else self.redis.pipeline(False)
        for shard, ids in self._by_shard(activities).items():
            pipe.hset(shard, mapping={str(i): activities[i] for i in ids})
        if batch_interface is None:
            pipe.execute()
        return len(activities)

    def get_many(self, activity_ids: Iterable[int]) -> dict[int, str]:
        shards = self._by_shard(activity_ids)
        if not shards:
            return {}
        pipe = self.redis.pipeline(False)
        for shard, ids in shards.items():
            pipe.hmget(shard, [str(i) for i in ids])
        found: dict[int, str] = {}
        for ids, values in zip(shards.values(), pipe.execute(), strict=True):
            found.update((i, v) for i, v in zip(ids, values, strict=True) if v is not None)
        return found

    def remove_many(self, activity_ids: Iterable[int], batch_interface: Any = None) -> int:
        shards = self._by_shard(activity_ids)
        if not shards:
            return 0
        pipe = batch_interface if batch_interface is not None else self.redis.pipeline(False)
        for shard, ids in shards.items():
            pipe.hdel(shard, *[str(i) for i in ids])
        if batch_interface is not None:
            return sum(len(ids) for ids in shards.values())
        return int(sum(pipe.execute()))

    def flush(self) -> None:
        self.redis.delete(*[f"{self._prefix}:{n}" for n in range(self._shards)])


class RedisListsStorage(_RedisStorage, BaseListsStorage):
    """Bounded lists in Redis, one per ``<key>:<name>``."""

    def add(self, key: str, name: str, values: Sequence[str], max_length: int) -> None:
        if not values:
            return
        pipe = self.redis.pipeline(False)
        list_key = f"{key}:{name}"
        for value in values:
            pipe.lrem(list_key, 0, value)
        pipe.rpush(list_key, *values)
        pipe.ltrim(list_key, -max_length, -1)
        pipe.execute()

    def remove(self, key: str, name: str, values: Sequence[str]) -> None:
        if not values:
            return
        pipe = self.redis.pipeline(False)
        for value in values:
            pipe.lrem(f"{key}:{name}", 0, value)
        pipe.execute()

    def get(self, key: str, name: str) -> list[str]:
        return [str(v) for v in self.redis.lrange(f"{key}:{name}", 0, -1)]

    def count(self, key: str, name: str) -> int:
        return int(self.redis.llen(f"{key}:{name}"))

    def flush(self, key: str, names: Sequence[str]) -> None:
        if names:
            self.redis.delete(*[f"{key}:{name}" for name in names])
