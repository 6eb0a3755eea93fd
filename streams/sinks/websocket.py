"""``Stream.to_websocket``: send every element over a websocket connection."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core import Stream
from ..loop import running_loop
from ..protocol import Metadata, wait
from ..sources.base import Backoff
from ..sources.tcp import check_kwargs
from .base import Sink

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

__all__ = ["ToWebsocket"]

CLOSE_WAIT = 15.0
"""Seconds ``destroy()`` in a plain script waits for the closing handshake."""


class ToWebsocket(Sink[Any]):
    """Node behind :meth:`Stream.to_websocket`: send each element (``str`` as a text
    message, bytes as a binary one); the emitter waits until it is sent.

    The connection opens with the first element. When it is lost, the element is sent
    again on a new connection; when that cannot be opened, the element fails (per
    ``on_error``) and the next attempt waits ``backoff`` seconds, doubled after each
    failure up to ``max_backoff`` and reset after a success.
    """

    _label = "to_websocket"

    def __init__(
        self,
        upstream: Stream[Any],
        uri: str,
        connect_kwargs: Mapping[str, Any] | None = None,
        backoff: float = 0.1,
        max_backoff: float = 10.0,
        **options: Any,
    ) -> None:
        from websockets.asyncio.client import connect

        node = "to_websocket"
        if not isinstance(uri, str):
            raise TypeError(f"{node}: uri must be a string such as 'ws://host:port', got {uri!r}")
        if not uri.startswith(("ws://", "wss://")):
            raise ValueError(f"{node}: uri must be a ws:// or wss:// URI, got {uri!r}")
        for name, value in (("backoff", backoff), ("max_backoff", max_backoff)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(
                    f"{node}: {name} must be a positive number of seconds, got {value!r}"
                )
        self.uri = uri
        self.connect_kwargs = check_kwargs(
            node, "connect_kwargs", connect_kwargs, connect.__init__
        )
        if "uri" in self.connect_kwargs:
            raise TypeError(f"{node}: give uri as its own argument, not in connect_kwargs")
        self._backoff = Backoff(backoff, max_backoff)
        self._next_attempt = 0.0
        self._connection: ClientConnection | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False
        super().__init__(upstream, **options)
        self._require_loop()

    def _detail(self) -> str:
        return self.uri

    @property
    def connected(self) -> bool:
        """Whether a connection is open now."""
        return self._connection is not None

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if not isinstance(x, str | bytes | bytearray | memoryview):
            error = TypeError(
                f"to_websocket sends str or bytes, got {type(x).__name__}; "
                "encode elements first, e.g. .map(json.dumps)"
            )
            return self._failed(error, x, who, metadata)
        return self._write(x, who, metadata)

    async def _write(self, x: Any, who: Stream[Any] | None, metadata: Metadata) -> None:
        try:
            await self._send(x)
        except Exception as exc:
            await wait(self._failed(exc, x, who, metadata))
        else:
            self.current_value = x

    async def _send(self, x: str | bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one element at a time, in order, on one connection
            connection = self._connection
            if connection is not None:
                try:
                    await connection.send(x)
                    return
                except ConnectionClosed:  # lost: send it again on a new connection
                    await self._drop(connection)
            if self._closed:
                raise RuntimeError(f"{self._describe()} was destroyed")
            connection = await self._connect()
            try:
                await connection.send(x)
            except ConnectionClosed:
                await self._drop(connection)
                raise

    async def _connect(self) -> ClientConnection:
        from websockets.asyncio.client import connect

        loop = asyncio.get_running_loop()
        pause = self._next_attempt - loop.time()
        if pause > 0:
            await asyncio.sleep(pause)
        try:
            connection = await connect(self.uri, **self.connect_kwargs)
        except Exception as exc:
            delay = self._backoff.next()
            self._next_attempt = loop.time() + delay
            exc.add_note(f"cannot connect to {self.uri}; next attempt in {delay:g}s")
            raise
        self._backoff.reset()
        self._next_attempt = 0.0
        self._connection = connection
        return connection

    async def _drop(self, connection: ClientConnection) -> None:
        if self._connection is connection:
            self._connection = None
        await _shut(connection)

    def _close(self) -> None:
        """Close the connection (``destroy()``) once the elements in hand were sent."""
        if self._closed:
            return
        self._closed = True
        loop = self._runtime.loop
        if self._connection is None or loop is None or loop.is_closed():
            return
        if loop is running_loop():
            self._spawn(self._shutdown())
        elif loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            future.result(CLOSE_WAIT)

    async def _shutdown(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                await _shut(connection)


async def _shut(connection: ClientConnection) -> None:
    """Close with a closing handshake; cut the connection if that is interrupted."""
    try:
        await connection.close()
    except BaseException:
        connection.transport.abort()
        raise
