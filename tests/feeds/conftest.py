"""Feed classes of each backend: memory, a real redis-server (a private test db), SQLite (a
file per test) and a real PostgreSQL server (its tables emptied before each test)."""

from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
import redis

from streams.feeds import (
    AggregatedFeed,
    MemoryFeed,
    NotificationFeed,
    RedisAggregatedFeed,
    RedisFeed,
    RedisNotificationFeed,
    settings,
)
from streams.feeds.sql import SQLAggregatedFeed, SQLFeed, SQLNotificationFeed
from streams.feeds.storage import memory
from streams.feeds.storage import sql as sql_storage

TEST_DB = 11  # flushed before each redis test: the session's server is private to the run


@pytest.fixture(params=["memory", "redis", "sqlite", "postgres"])
def backend(request, monkeypatch):
    """``backend.flat``, ``backend.aggregated``, ``backend.notification``: feed classes."""
    memory.reset()
    if request.param == "memory":
        yield SimpleNamespace(
            name="memory",
            flat=MemoryFeed,
            aggregated=AggregatedFeed,
            notification=NotificationFeed,
        )
        memory.reset()
        return
    if request.param in ("sqlite", "postgres"):
        if request.param == "sqlite":
            url = f"sqlite:///{request.getfixturevalue('tmp_path')}/feeds.db"
        else:
            url = request.getfixturevalue("postgres_url")
        monkeypatch.setattr(settings, "STREAM_SQL_CONFIG", {"default": {"url": url}})
        sql_storage.reset()
        yield SimpleNamespace(
            name=request.param,
            flat=SQLFeed,
            aggregated=SQLAggregatedFeed,
            notification=SQLNotificationFeed,
            engine=settings.get_sql_engine(),
        )
        settings.dispose_sql_engines()
        return
    url = urlparse(request.getfixturevalue("redis_url"))
    config = {"host": url.hostname, "port": url.port, "db": TEST_DB, "password": None}
    monkeypatch.setattr(settings, "STREAM_REDIS_CONFIG", {"default": config})
    client = redis.Redis(host=url.hostname, port=url.port, db=TEST_DB)
    client.flushdb()
    yield SimpleNamespace(
        name="redis",
        flat=RedisFeed,
        aggregated=RedisAggregatedFeed,
        notification=RedisNotificationFeed,
        client=client,
    )
    client.flushdb()
    client.close()
