"""Methods for connectors. Redis Streams: from_redis_stream, to_redis_stream."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class RedisMethods(Generic[T]):
    """Redis Streams: from_redis_stream, to_redis_stream."""
