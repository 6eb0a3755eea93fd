"""``Stream.from_websocket``: a websocket server emitting every message it receives."""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._util import positive_int
from .base import decoder
from .tcp import (
    IDLE_TIMEOUT,
    MAX_CONNECTIONS,
    MIB,
    RETRY_AFTER,
    ServerSource,
    check_kwargs,
    peer_name,
)

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

__all__ = ["FromWebsocket"]

RESERVED = frozenset({"host", "port", "sock", "handler"})
TOO_BIG = 1009
"""The close code of a message over ``max_size``."""


class FromWebsocket(ServerSource):
    """Node behind :meth:`Stream.from_websocket`: a websocket server (the ``websockets``
    asyncio implementation) emitting every message of every client.

    ``websockets`` accepts the connections (asyncio's accept loop, which pauses a second
    when out of file descriptors). The source counts them as they open, answers the
    opening handshake of those beyond ``max_connections``, or that come while
    ``max_buffer_bytes`` are held, with HTTP 503, and stops taking messages while the
    buffer is full.
    """

    _label = "from_websocket"

    def __init__(
        self,
        host: str | None,
        port: int,
        serve_kwargs: Mapping[str, Any] | None = None,
        decode: Any = None,
        max_message_size: int | None = None,
        max_buffer_bytes: int | None = None,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float | None = IDLE_TIMEOUT,
        **options: Any,
    ) -> None:
        from websockets.asyncio.server import serve

        node = "from_websocket"
        self.serve_kwargs = check_kwargs(node, "serve_kwargs", serve_kwargs, serve.__init__)
        clash = sorted(RESERVED & set(self.serve_kwargs))
        if clash:
            raise TypeError(f"{node}: serve_kwargs cannot set {clash}; give host and port")
        if max_message_size is None:
            size = self.serve_kwargs.get("max_size", MIB)
        elif "max_size" in self.serve_kwargs:
            raise TypeError(f"{node}: give max_message_size or serve_kwargs max_size, not both")
        else:
            size = positive_int(node, "max_message_size", max_message_size)
        self.max_message_size: int | None = size
        self.decode = decode
        self._decode = decoder(node, decode)
        self._open: set[ServerConnection] = set()  # connections served
        self._over: set[ServerConnection] = set()  # connections beyond max_connections
        super().__init__(
            host,
            port,
            max_connections=max_connections,
            max_buffer_bytes=max_buffer_bytes,
            message_size=size or MIB,
            idle_timeout=idle_timeout,
            **options,
        )

    async def _serve(self, sockets: list[socket.socket]) -> None:
        from websockets.asyncio.server import Server, ServerConnection, serve

        source = self
        base: type[ServerConnection] = self.serve_kwargs.get("create_connection") or (
            ServerConnection
        )
        user_process_request = self.serve_kwargs.get("process_request")

        class Counted(base):  # type: ignore[valid-type,misc]
            """Counts the connections from the moment they open to their end."""

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                over = len(source._open) >= source.max_connections
                (source._over if over else source._open).add(self)
                super().connection_made(transport)

            def connection_lost(self, exc: Exception | None) -> None:
                source._open.discard(self)
                source._over.discard(self)
                super().connection_lost(exc)

        async def process_request(connection: ServerConnection, request: Any) -> Any:
            busy = source._crowded(connection)
            if busy is not None:
                source._refuse_new(busy)
                response = connection.respond(503, f"{busy}; try again later\n")
                response.headers["Retry-After"] = str(RETRY_AFTER)
                return response
            if user_process_request is None:
                return None
            response = user_process_request(connection, request)
            return await response if inspect.isawaitable(response) else response

        options = {
            **self.serve_kwargs,
            "max_size": self.max_message_size,
            "create_connection": Counted,
            "process_request": process_request,
        }
        servers: list[Server] = []
        try:
            for sock in sockets:  # one asyncio server per address ("localhost": v4 and v6)
                servers.append(await serve(self._connection, sock=sock, **options))
            self.server = servers[0]
            await self._until_stopped()
        finally:
            self.server = None
            self._budget.wake()  # connections waiting for room: the source stops
            for server in servers:
                server.close()  # closes every connection (1001, going away) once its
            for server in servers:  # handler finished the element in hand
                await server.wait_closed()

    def _crowded(self, connection: ServerConnection) -> str | None:
        """Why a new client cannot be served now, if it cannot."""
        if connection in self._over:
            if len(self._open) >= self.max_connections:
                return f"{len(self._open)} connections open (max_connections)"
            self._over.discard(connection)  # room came back meanwhile: serve it
            self._open.add(connection)
        if self._budget.full:
            return f"{self._budget.used} bytes held in messages (max_buffer_bytes)"
        return None

    async def _connection(self, connection: ServerConnection) -> None:
        """Handle one client: emit its messages one after another."""
        from websockets.exceptions import ConnectionClosed

        peer = peer_name(connection.remote_address)
        count = 0
        budget = self._budget
        self._admit()
        try:
            while not self.stopped:
                if budget.full:  # take no message until there is room
                    await budget.changed()
                    continue
                try:
                    async with asyncio.timeout(self.idle_timeout):
                        message = await connection.recv()
                except TimeoutError:
                    await connection.close(1001, f"idle for {self.idle_timeout:g}s")
                    break
                count += 1
                size = len(message)
                budget.take(size)
                budget.pending += size
                try:
                    if not await self._message(message, f"websocket {peer}, message {count}"):
                        break
                finally:
                    budget.pending -= size
                    budget.give(size)
        except ConnectionClosed as closed:
            if closed.sent is not None and closed.sent.code == TOO_BIG:
                error = ValueError(
                    f"message longer than max_message_size ({self.max_message_size} bytes); "
                    f"connection closed ({TOO_BIG})"
                )
                self.reject(error, None, f"websocket {peer}, message {count + 1}")
        except Exception as exc:
            self._report(exc, None, ())

    async def _message(self, message: Any, position: str) -> bool:
        """Emit one message; ``False`` if the source stopped before its turn."""
        try:
            x = self._decode(message)
        except Exception as exc:
            self.reject(exc, message, position)
            return True
        return await self._deliver(x)
