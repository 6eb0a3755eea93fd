"""Feed classes of each backend: memory, and a real redis-server (a private test db)."""

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
from streams.feeds.storage import memory

TEST_DB = 11  # flushed before each redis test: the session's server is private to the run


@pytest.fixture(params=["memory", "redis"])
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
