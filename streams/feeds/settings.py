"""Where the Redis and SQL feeds connect: :data:`STREAM_REDIS_CONFIG` and
:data:`STREAM_SQL_CONFIG`, read at use time.

Each named server gets one connection pool (built on first use, rebuilt when its entry in
:data:`STREAM_REDIS_CONFIG` changes). Connections decode responses to ``str``.
``redis`` is imported only when a connection is asked for.

Each named SQL database gets one SQLAlchemy engine, built on first use and rebuilt when its
entry in :data:`STREAM_SQL_CONFIG` changes; ``sqlalchemy`` is imported only then.

Examples
--------
>>> from streams.feeds import settings
>>> settings.STREAM_REDIS_CONFIG["default"]["port"]
6379
>>> settings.server_config("default")["decode_responses"]
True
>>> settings.sql_config("default")["table_prefix"]
'feeds_'
"""

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis
    import redis.asyncio
    import sqlalchemy as sa

__all__ = [
    "STREAM_REDIS_CONFIG",
    "STREAM_SQL_CONFIG",
    "dispose_sql_engines",
    "get_async_redis",
    "get_redis_connection",
    "get_sql_engine",
    "server_config",
    "sql_config",
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


def get_async_redis(name: str = "default", **overrides: Any) -> redis.asyncio.Redis:
    """A new asyncio client of server ``name`` (with its own pool; close it with
    ``await client.aclose()``), for code running on an event loop; ``overrides`` replace
    connection options (e.g. ``socket_timeout=None``)."""
    import redis.asyncio

    return redis.asyncio.Redis(**{**server_config(name), **overrides})


STREAM_SQL_CONFIG: dict[str, dict[str, Any]] = {
    "default": {"url": "sqlite:///feeds.db"},
}
"""Named SQL databases: ``{name: {url, table_prefix, ...}}``. ``url`` is an SQLAlchemy URL
(SQLite and PostgreSQL are supported, e.g. ``'postgresql+psycopg://user@host/db'``),
``table_prefix`` (default ``'feeds_'``) starts the names of the tables; the other keys
are passed on to ``sqlalchemy.create_engine``."""

_ENGINES: dict[str, tuple[dict[str, Any], Any]] = {}


def sql_config(name: str = "default") -> dict[str, Any]:
    """The options of SQL database ``name``, with defaults filled in.

    Raises
    ------
    KeyError
        If ``name`` is not in :data:`STREAM_SQL_CONFIG`.
    ValueError
        If its entry has no ``url``.
    """
    try:
        entry = STREAM_SQL_CONFIG[name]
    except KeyError:
        raise KeyError(f"no SQL database named {name!r} in STREAM_SQL_CONFIG") from None
    if "url" not in entry:
        raise ValueError(f"STREAM_SQL_CONFIG[{name!r}] has no 'url'")
    options: dict[str, Any] = {"table_prefix": "feeds_"}
    options.update(entry)
    return options


def get_sql_engine(name: str = "default") -> sa.Engine:
    """The SQLAlchemy engine of database ``name`` (one per name, shared)."""
    import sqlalchemy as sa

    options = sql_config(name)
    with _LOCK:
        cached = _ENGINES.get(name)
        if cached is None or cached[0] != options:
            if cached is not None:
                cached[1].dispose()
            kwargs = {k: v for k, v in options.items() if k not in ("url", "table_prefix")}
            url = sa.make_url(options["url"])
            if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
                # one in-memory database shared by the threads, not one per connection
                kwargs.setdefault("poolclass", sa.pool.StaticPool)
                kwargs.setdefault("connect_args", {"check_same_thread": False})
            cached = (copy.deepcopy(options), sa.create_engine(url, **kwargs))
            _ENGINES[name] = cached
    engine: sa.Engine = cached[1]
    return engine


def dispose_sql_engines() -> None:
    """Close the connections of every SQL engine built so far and forget them."""
    with _LOCK:
        for _, engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()
