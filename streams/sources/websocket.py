"""``Stream.from_websocket``: a websocket server emitting every message it receives."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import decoder
from .tcp import ServerSource, check_kwargs, peer_name

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

__all__ = ["FromWebsocket"]

RESERVED = frozenset({"host", "port", "sock", "handler"})


class FromWebsocket(ServerSource):
    """Node behind :meth:`Stream.from_websocket`: a websocket server (the ``websockets``
    asyncio implementation) emitting every message of every client."""

    _label = "from_websocket"

    def __init__(
        self,
        host: str | None,
        port: int,
        serve_kwargs: Mapping[str, Any] | None = None,
        decode: Any = None,
        **options: Any,
    ) -> None:
        from websockets.asyncio.server import serve

        node = "from_websocket"
        self.serve_kwargs = check_kwargs(node, "serve_kwargs", serve_kwargs, serve.__init__)
        clash = sorted(RESERVED & set(self.serve_kwargs))
        if clash:
            raise TypeError(f"{node}: serve_kwargs cannot set {clash}; give host and port")
        self.decode = decode
        self._decode = decoder(node, decode)
        super().__init__(host, port, **options)

    async def _serve(self, sockets: list[socket.socket]) -> None:
        from websockets.asyncio.server import Server, serve

        servers: list[Server] = []
        try:
            for sock in sockets:  # one asyncio server per address ("localhost": v4 and v6)
                servers.append(await serve(self._connection, sock=sock, **self.serve_kwargs))
            await self._until_stopped()
        finally:
            for server in servers:
                server.close()  # closes every connection (1001, going away) once its
            for server in servers:  # handler finished the element in hand
                await server.wait_closed()

    async def _connection(self, connection: ServerConnection) -> None:
        """Handle one client: emit its messages one after another."""
        from websockets.exceptions import ConnectionClosed

        peer = peer_name(connection.remote_address)
        count = 0
        try:
            async for message in connection:
                if self.stopped:
                    break
                count += 1
                try:
                    x = self._decode(message)
                except Exception as exc:
                    self.reject(exc, message, f"websocket {peer}, message {count}")
                    continue
                if not await self._deliver(x):
                    break
        except ConnectionClosed:
            pass  # the client went away without a closing handshake
        except Exception as exc:
            self._report(exc, None, ())
