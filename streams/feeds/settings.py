"""Where the Redis-backed feeds connect: :data:`STREAM_REDIS_CONFIG`, read at use time.

Each named server gets one connection pool (built on first use, rebuilt when its entry in
:data:`STREAM_REDIS_CONFIG` changes). Connections decode responses to ``str``.
``redis`` is imported only when a connection is asked for.

Examples
--------
>>> from streams.feeds import settings
>>> settings.STREAM_REDIS_CONFIG["default"]["port"]
6379
>>> settings.server_config("default")["decode_responses"]
True
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = [
    "STREAM_REDIS_CONFIG",
    "get_async_redis",
    "get_redis_connection",
    "server_config",
]

STREAM_REDIS_CONFIG: dict[str, dict[str, Any]] = {
    "default": {"host": "127.0.0.1", "port": 6379, "db": 0, "password": None},
}
"""Named Redis servers: ``{name: {host, port, db, password, ...}}``; the other keys are
passed on to ``redis.ConnectionPool`` (``decode_responses`` defaults to True)."""

_POOLS: dict[str, tuple[tuple[tuple[str, Any], ...], Any]] = {}
_LOCK = threading.Lock()


def server_config(name: str = "default") -> dict[str, Any]:
    """The connection options of server ``name``, with defaults filled in.

    Raises
    ------
    KeyError
        If ``name`` is not in :data:`STREAM_REDIS_CONFIG`.
    """
    try:
        entry = STREAM_REDIS_CONFIG[name]
    except KeyError:
        raise KeyError(f"no Redis server named {name!r} in STREAM_REDIS_CONFIG") from None
    options = {"host": "127.0.0.1", "port": 6379, "db": 0, "password": None}
    options.update(entry)
    options.setdefault("decode_responses", True)
    return options


def get_redis_connection(name: str = "default") -> redis.Redis:
    """A (synchronous) client of server ``name``, sharing that server's connection pool."""
    import redis

    options = server_config(name)
    frozen = tuple(sorted(options.items()))
    with _LOCK:
        cached = _POOLS.get(name)
        if cached is None or cached[0] != frozen:
            if cached is not None:
                cached[1].disconnect()
            cached = (frozen, redis.ConnectionPool(**options))
            _POOLS[name] = cached
    return redis.Redis(connection_pool=cached[1])


def get_async_redis(name: str = "default") -> redis.asyncio.Redis:
    """A new asyncio client of server ``name`` (with its own pool; close it with
    ``await client.aclose()``), for code running on an event loop."""
    import redis.asyncio

    return redis.asyncio.Redis(**server_config(name))
