"""A sink that appends elements to a Redis stream with XADD."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .._util import positive_int
from ..core import Stream
from ..loop import running_loop
from ..protocol import Metadata, wait
from ..sources.redis import check_redis_url, key_name, redis_target
from .base import Sink

__all__ = ["ToRedisStream"]


class ToRedisStream(Sink[Mapping[Any, Any]]):
    """Node behind :meth:`Stream.to_redis_stream`: ``XADD`` every element (a dict of
    fields) to the stream ``key``; the emitter waits until Redis has stored it."""

    _label = "to_redis_stream"

    def __init__(
        self,
        upstream: Stream[Any],
        key: str | bytes,
        redis_url: str = "redis://localhost:6379/0",
        maxlen: int | None = None,
        approximate: bool = True,
        **options: Any,
    ) -> None:
        label = self._label
        if not (isinstance(key, str | bytes) and key):
            raise TypeError(f"{label}: key must be a non-empty str or bytes, got {key!r}")
        self.key = key
        self.redis_url = check_redis_url(label, redis_url)
        self.maxlen = positive_int(label, "maxlen", maxlen, allow_none=True)
        self.approximate = bool(approximate)
        self._client: Any = None
        self._closing: asyncio.Future[Any] | None = None
        super().__init__(upstream, **options)
        self._require_loop()

    def _detail(self) -> str:
        return key_name(self.key)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if not isinstance(x, Mapping):
            error = TypeError(
                f"{self._describe()}: expected a dict of fields, got {type(x).__name__} {x!r}; "
                "map elements to dicts first"
            )
            return self._failed(error, x, who, metadata)
        return self._add(x, who, metadata)

    async def _add(
        self, x: Mapping[Any, Any], who: Stream[Any] | None, metadata: Metadata
    ) -> None:
        try:
            if self._client is None:
                import redis.asyncio

                # one connection: concurrent writes are serialised, in order
                self._client = redis.asyncio.Redis.from_url(
                    self.redis_url, socket_connect_timeout=5.0, single_connection_client=True
                )
            await self._client.xadd(
                self.key, dict(x), maxlen=self.maxlen, approximate=self.approximate
            )
        except Exception as exc:
            from redis import exceptions as rx

            if isinstance(exc, rx.ConnectionError | rx.TimeoutError | OSError):
                exc.add_note(f"cannot write to {redis_target(self.redis_url)}")
            await wait(self._failed(exc, x, who, metadata))
        else:
            self.current_value = x

    async def _flush(self) -> bool:
        closing = self._closing
        if closing is None or closing.done():
            return False
        await asyncio.wait((closing,))
        return True

    def _close(self) -> None:
        """Close the connection (on the graph's loop); idempotent."""
        client, self._client = self._client, None
        if client is None:
            return
        loop = self._runtime.loop
        if loop is None or loop.is_closed():
            return
        if loop is running_loop():
            self._closing = self._spawn(client.aclose())
        elif loop.is_running():
            asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=10)
