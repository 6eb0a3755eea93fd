"""``Stream.from_http_server``: a tornado HTTP server emitting the bodies POSTed to it."""

from __future__ import annotations

import asyncio
import functools
import re
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._util import positive_int
from .base import decoder
from .tcp import (
    IDLE_TIMEOUT,
    MAX_CONNECTIONS,
    RETRY_AFTER,
    ServerSource,
    check_kwargs,
    peer_name,
)

if TYPE_CHECKING:
    from tornado.httpserver import HTTPServer
    from tornado.httputil import HTTPConnection, HTTPHeaders, RequestStartLine, ResponseStartLine
    from tornado.iostream import IOStream

__all__ = ["FromHTTPServer"]

LINGER = 1.0
"""Seconds a refused request may go on sending its body before the connection closes."""

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Request:
    """One HTTP request as it arrives: where it goes, who sent it, its body so far."""

    def __init__(self, connection: HTTPConnection) -> None:
        self.connection = connection
        context = getattr(connection, "context", None)
        self.peer = peer_name(getattr(context, "address", None))
        self.path = ""
        self.chunks: list[bytes] = []
        self.refused = False
        self.reserved = 0  # bytes of the source's budget held for this body


class FromHTTPServer(ServerSource):
    """Node behind :meth:`Stream.from_http_server`: emit the body of every POST to a
    matching path, replying only once it was accepted downstream."""

    _label = "from_http_server"
    _message_option = "max_body_size"

    def __init__(
        self,
        port: int,
        path: str = "/.*",
        server_kwargs: Mapping[str, Any] | None = None,
        host: str | None = "127.0.0.1",
        max_body_size: int = 1_048_576,
        decode: Any = None,
        max_buffer_bytes: int | None = None,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float | None = IDLE_TIMEOUT,
        **options: Any,
    ) -> None:
        from tornado.httpserver import HTTPServer

        node = "from_http_server"
        if not isinstance(path, str):
            raise TypeError(f"{node}: path must be a regular expression string, got {path!r}")
        try:
            self._pattern = re.compile(path)
        except re.error as exc:
            raise ValueError(f"{node}: path {path!r} is not a regular expression: {exc}") from None
        self.path = path
        self.max_body_size = positive_int(node, "max_body_size", max_body_size)
        self.server_kwargs = check_kwargs(
            node, "server_kwargs", server_kwargs, HTTPServer.initialize
        )
        if "max_body_size" in self.server_kwargs:
            raise TypeError(
                f"{node}: give max_body_size as its own argument, not in server_kwargs"
            )
        self.decode = decode
        self._decode = decoder(node, decode)
        self._lingering: set[IOStream] = set()
        self._open: set[IOStream] = set()  # connections served
        self._over: set[IOStream] = set()  # connections beyond max_connections, to refuse
        super().__init__(
            host,
            port,
            max_connections=max_connections,
            max_buffer_bytes=max_buffer_bytes,
            message_size=self.max_body_size,
            idle_timeout=idle_timeout,
            **options,
        )

    def _detail(self) -> str:
        return f"{super()._detail()}, {self.path}"

    async def _serve(self, sockets: list[socket.socket]) -> None:
        from tornado import httputil
        from tornado.httpserver import HTTPServer

        source = self

        class Message(httputil.HTTPMessageDelegate):
            def __init__(self, request: Request) -> None:
                self.request = request

            def headers_received(
                self,
                start_line: RequestStartLine | ResponseStartLine,
                headers: HTTPHeaders,
            ) -> None:
                source._headers(self.request, start_line, headers)

            def data_received(self, chunk: bytes) -> None:
                self.request.chunks.append(chunk)

            def finish(self) -> None:
                if not self.request.refused:
                    source._track(source._respond(self.request))

            def on_connection_close(self) -> None:
                source._release(self.request)  # the body will never come whole

        class Delegate(httputil.HTTPServerConnectionDelegate):
            def start_request(
                self, server_conn: object, request_conn: HTTPConnection
            ) -> httputil.HTTPMessageDelegate:
                return Message(Request(request_conn))

        class Server(HTTPServer):
            def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
                over = len(source._open) >= source.max_connections
                (source._over if over else source._open).add(stream)
                super().handle_stream(stream, address)

            def on_close(self, server_conn: object) -> None:
                super().on_close(server_conn)
                stream = getattr(server_conn, "stream", None)
                source._open.discard(stream)
                source._over.discard(stream)

        options = dict(self.server_kwargs)
        if self.idle_timeout is not None:  # tornado's timers run on the graph's loop
            options.setdefault("idle_connection_timeout", self.idle_timeout)
            options.setdefault("body_timeout", self.idle_timeout)
        server = Server(Delegate(), max_body_size=self.max_body_size, **options)
        acceptor = self._accept(sockets, functools.partial(self._accepted, server))
        self.server = server
        try:
            await self._until_stopped()
        finally:
            acceptor.close()
            self.server = None
            for stream in list(self._lingering):
                stream.close()  # refused requests: no need to wait for their bodies
            await self._wait_tasks()  # requests in hand are answered (503 if not emitted)
            await server.close_all_connections()

    def _accepted(self, server: HTTPServer, connection: socket.socket, address: Any) -> None:
        """A new client; beyond ``max_connections`` its first request is answered 503,
        and beyond as many again waiting for that answer, it is closed at once."""
        if len(self._over) + len(self._lingering) >= self.max_connections:
            connection.close()
            self._refuse_new(f"{len(self._open)} connections open (max_connections)")
            return
        # tornado's own set-up of an accepted socket: TLS (ssl_options), IOStream options
        server._handle_connection(connection, address)

    def _headers(
        self,
        request: Request,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
    ) -> None:
        """Refuse a request at once from its headers, or let its body come."""
        method = getattr(start_line, "method", "")
        request.path = getattr(start_line, "path", "").split("?", 1)[0]
        extra: dict[str, str] = {}
        try:
            length = int(headers.get("Content-Length", "0"))
        except ValueError:
            length = 0  # tornado answers 400 itself
        chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        reserve = self.max_body_size if chunked else max(length, 0)
        busy = self._crowded(request)
        if busy is not None:
            status, text = 503, f"{busy}; try again later"
        elif self._pattern.fullmatch(request.path) is None:
            status, text = 404, f"no stream listens at {request.path}"
        elif method != "POST":
            status, text, extra = 405, f"{method} not allowed: POST a body", {"Allow": "POST"}
        elif length > self.max_body_size:
            status, text = 413, f"body of {length} bytes; at most {self.max_body_size} accepted"
        elif not self._budget.fits(reserve):
            busy = f"{self._budget.used} bytes of bodies held (max_buffer_bytes)"
            status, text = 503, f"{busy}; try again later"
        else:
            self._budget.take(reserve)
            request.reserved = reserve
            self._admit()
            return
        if busy is not None:
            self._refuse_new(busy)
            extra = {"Retry-After": str(RETRY_AFTER)}
        request.refused = True
        stream = request.connection.detach()  # type: ignore[attr-defined]
        self._lingering.add(stream)
        self._track(self._refuse(stream, status, text, extra))

    def _crowded(self, request: Request) -> str | None:
        """Why ``request`` comes on a connection beyond ``max_connections``, if it does
        (a connection accepted while the others were too many, and still are)."""
        stream = getattr(request.connection, "stream", None)
        if stream not in self._over:
            return None
        if len(self._open) >= self.max_connections:
            return f"{len(self._open)} connections open (max_connections)"
        self._over.discard(stream)  # room came back meanwhile: serve it
        self._open.add(stream)
        return None

    async def _refuse(
        self, stream: IOStream, status: int, text: str, extra: dict[str, str]
    ) -> None:
        """Answer and close, without reading a body we do not want.

        The client may still be sending it: the connection is half-closed after the
        answer and what arrives is discarded for a moment, so that closing does not
        reset the connection before the client read the answer.
        """
        from tornado.iostream import StreamClosedError

        body = f"{status} {REASONS[status]}: {text}\n".encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
        answer = (
            f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{head}\r\n"
        ).encode()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LINGER
        try:
            await stream.write(answer + body)
            if stream.socket is not None:
                stream.socket.shutdown(socket.SHUT_WR)
            while loop.time() < deadline:
                await asyncio.wait_for(
                    stream.read_bytes(65536, partial=True), deadline - loop.time()
                )
        except (StreamClosedError, OSError, TimeoutError):
            pass
        finally:
            stream.close()
            self._lingering.discard(stream)

    def _release(self, request: Request) -> None:
        """Give back the room held for ``request``'s body."""
        reserved, request.reserved = request.reserved, 0
        self._budget.give(reserved)

    async def _respond(self, request: Request) -> None:
        """Emit the body of a complete request; answer once it was accepted."""
        try:
            await self._emit_body(request)
        finally:
            self._release(request)

    async def _emit_body(self, request: Request) -> None:
        body = b"".join(request.chunks)
        request.chunks.clear()
        position = f"http POST {request.path} from {request.peer}"
        try:
            x = self._decode(body)
        except Exception as exc:
            self.reject(exc, body, position)
            self._answer(request, 400, f"cannot decode the body: {exc}")
            return
        accepted = await self._deliver_or_raise(x, position)
        if accepted is None:
            self._answer(request, 503, "the stream stopped")
        elif accepted:
            self._answer(request, 200, "")
        else:
            self._answer(request, 500, "the element failed downstream")

    def _answer(self, request: Request, status: int, text: str) -> None:
        from tornado.httputil import HTTPHeaders, ResponseStartLine
        from tornado.iostream import StreamClosedError

        body = f"{status} {REASONS[status]}: {text}\n".encode() if text else b""
        headers = HTTPHeaders({"Content-Length": str(len(body))})
        if body:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        try:
            connection = request.connection
            connection.write_headers(
                ResponseStartLine("HTTP/1.1", status, REASONS[status]), headers, body
            )
            connection.finish()
        except StreamClosedError:
            pass  # the client went away; the element was handled all the same
