"""The JSON-RPC server of an event store: a tornado application over a backend.

Requests are POSTed JSON objects. Two envelopes are understood:

* AwesomeStream's: ``{"id", "method", "args", "kwargs"}`` answered by
  ``{"id", "result", "error"}``, where ``error`` is ``null`` or a message string;
* JSON-RPC 2.0: ``{"jsonrpc": "2.0", "id", "method", "params"}`` (``params`` a list or
  an object) answered by ``{"jsonrpc": "2.0", "id", "result"}`` or
  ``{"jsonrpc": "2.0", "id", "error": {"code", "message"}}``.

Only the methods in the whitelist (``insert``, ``items``, ``count``) can be called.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .base import Backend

if TYPE_CHECKING:
    import tornado.httpserver
    import tornado.web

__all__ = ["METHODS", "EventServer", "create_app", "run_server", "start_server"]

log = logging.getLogger("streams.eventstore")

METHODS = ("insert", "items", "count")
"""The backend methods a client may call."""

MAX_BODY_SIZE = 1024 * 1024
"""The default limit on a request's size, in bytes."""

# JSON-RPC 2.0 error codes
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, SERVER_ERROR = (
    -32700,
    -32600,
    -32601,
    -32602,
    -32000,
)


class RPCError(Exception):
    """A request the server answers with an error: its JSON-RPC code and HTTP status."""

    def __init__(self, message: str, code: int, status: int = 200) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def _parse(body: bytes, limit: int) -> dict[str, Any]:
    if len(body) > limit:
        raise RPCError(
            f"request too large: {len(body)} bytes, limit {limit}", INVALID_REQUEST, 413
        )
    try:
        request = json.loads(body)
    except ValueError as exc:
        raise RPCError(f"invalid JSON: {exc}", PARSE_ERROR, 400) from None
    if not isinstance(request, dict):
        raise RPCError("the request must be a JSON object", INVALID_REQUEST, 400)
    if not isinstance(request.get("method"), str):
        raise RPCError("the request has no 'method' string", INVALID_REQUEST, 400)
    return request


def _arguments(request: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    if "params" in request:
        params = request["params"]
        if isinstance(params, list):
            return params, {}
        if isinstance(params, dict):
            return [], params
        raise RPCError("'params' must be a list or an object", INVALID_PARAMS)
    args = request.get("args") or []
    kwargs = request.get("kwargs") or {}
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise RPCError("'args' must be a list and 'kwargs' an object", INVALID_PARAMS)
    return args, kwargs


async def dispatch(backend: Backend, methods: tuple[str, ...], request: dict[str, Any]) -> Any:
    """Call the method ``request`` names on ``backend``; return its result.

    Raises
    ------
    RPCError
        For an unknown method, bad parameters or a failure of the method.
    """
    name = request["method"]
    if name not in methods:
        raise RPCError(
            f"unknown method {name!r}: expected one of {', '.join(methods)}", METHOD_NOT_FOUND
        )
    args, kwargs = _arguments(request)
    method = getattr(backend, f"a{name}")
    try:
        return await method(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise RPCError(f"{type(exc).__name__}: {exc}", INVALID_PARAMS) from None
    except Exception as exc:
        log.exception("event store: %s failed", name)
        raise RPCError(f"{type(exc).__name__}: {exc}", SERVER_ERROR) from None


def _handler_class() -> type[tornado.web.RequestHandler]:
    import tornado.web

    @tornado.web.stream_request_body
    class RPCHandler(tornado.web.RequestHandler):
        """POST a request, get the answer."""

        def initialize(self, backend: Backend, methods: tuple[str, ...], limit: int) -> None:
            self.backend = backend
            self.methods = methods
            self.limit = limit
            self.chunks: list[bytes] = []

        def prepare(self) -> None:
            declared = self.request.headers.get("Content-Length", "0")
            if declared.isdigit() and int(declared) > self.limit:
                error = RPCError(
                    f"request too large: {declared} bytes, limit {self.limit}",
                    INVALID_REQUEST,
                    413,
                )
                self._answer({}, None, error)
                return
            # a chunked body over the limit makes tornado drop the connection
            self.request.connection.set_max_body_size(self.limit)  # type: ignore[union-attr]

        def data_received(self, chunk: bytes) -> None:
            self.chunks.append(chunk)

        async def post(self, *_: str) -> None:
            request: dict[str, Any] = {}
            try:
                request = _parse(b"".join(self.chunks), self.limit)
                result = await dispatch(self.backend, self.methods, request)
            except RPCError as exc:
                self._answer(request, None, exc)
            else:
                self._answer(request, result, None)

        def _answer(self, request: dict[str, Any], result: Any, error: RPCError | None) -> None:
            answer: dict[str, Any] = {"id": request.get("id")}
            if request.get("jsonrpc") == "2.0":
                answer = {"jsonrpc": "2.0", **answer}
                if error is None:
                    answer["result"] = result
                else:
                    answer["error"] = {"code": error.code, "message": str(error)}
            else:
                answer["result"] = result
                answer["error"] = None if error is None else str(error)
            if error is not None:
                self.set_status(error.status)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(answer))

    return RPCHandler


def create_app(
    backend: Backend,
    methods: Iterable[str] = METHODS,
    max_body_size: int = MAX_BODY_SIZE,
) -> tornado.web.Application:
    """A tornado application answering JSON-RPC calls on ``backend`` at any path.

    Parameters
    ----------
    backend : Backend
        The store (a blocking backend's calls run in worker threads).
    methods : list of str, optional
        The callable methods, a subset of ``insert``, ``items`` and ``count``.
    max_body_size : int, optional
        Requests larger than this many bytes are refused (HTTP 413).

    Returns
    -------
    tornado.web.Application

    Examples
    --------
    >>> import asyncio
    >>> from streams.eventstore import AsyncClient, MemoryBackend, create_app, start_server
    >>> async def main():
    ...     server = start_server(create_app(MemoryBackend(keys=["user"])))
    ...     client = AsyncClient(server.url)
    ...     await client.insert({"user": 7, "text": "hello"})
    ...     found = await client.items(user=7)
    ...     await server.close()
    ...     return found
    >>> asyncio.run(main())
    [{'user': 7, 'text': 'hello'}]
    """
    import tornado.web

    allowed = tuple(methods)
    unknown = sorted(set(allowed) - set(METHODS))
    if unknown:
        raise ValueError(f"methods {unknown!r} cannot be served: choose among {METHODS}")
    if not isinstance(backend, Backend):
        raise TypeError(f"backend must be an event-store Backend, got {backend!r}")
    options = {"backend": backend, "methods": allowed, "limit": max_body_size}
    app = tornado.web.Application([(r"/(.*)", _handler_class(), options)])
    return app


class EventServer:
    """A running server of :func:`start_server`.

    Attributes
    ----------
    host : str
    port : int
        The port it listens on (the one picked if ``0`` was asked).
    url : str
        ``http://host:port/``, for a :class:`~streams.eventstore.Client`.
    """

    def __init__(self, server: tornado.httpserver.HTTPServer, host: str, port: int) -> None:
        self.server = server
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}/"

    def __repr__(self) -> str:
        return f"<EventServer {self.url}>"

    def stop(self) -> None:
        """Stop accepting connections."""
        self.server.stop()

    async def close(self) -> None:
        """Stop accepting connections and close the open ones."""
        self.server.stop()
        await self.server.close_all_connections()


def start_server(
    app: tornado.web.Application, port: int = 0, host: str = "127.0.0.1"
) -> EventServer:
    """Serve ``app`` on the running event loop; return at once.

    Parameters
    ----------
    app : tornado.web.Application
        From :func:`create_app`.
    port : int, optional
        ``0`` picks a free port (see ``EventServer.port``).
    host : str, optional
        The address to listen on: loopback unless you say otherwise (``"0.0.0.0"``).

    Returns
    -------
    EventServer
    """
    import tornado.httpserver
    import tornado.netutil

    sockets = tornado.netutil.bind_sockets(port, host, family=socket.AF_INET)
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    return EventServer(server, host, int(sockets[0].getsockname()[1]))


def run_server(app: tornado.web.Application, port: int, host: str = "127.0.0.1") -> None:
    """Serve ``app`` on ``host:port`` until interrupted (Ctrl-C); blocks.

    Parameters
    ----------
    app : tornado.web.Application
        From :func:`create_app`.
    port : int
        The port (AwesomeStream's examples use 9997).
    host : str, optional
        The address to listen on; loopback by default.

    Examples
    --------
    >>> from streams.eventstore import MemoryBackend, create_app, run_server
    >>> run_server(create_app(MemoryBackend(keys=["user"])), 9997)  # doctest: +SKIP
    """

    async def serve() -> None:
        server = start_server(app, port, host)
        log.info("event store serving on %s", server.url)
        try:
            await asyncio.Event().wait()
        finally:
            await server.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
