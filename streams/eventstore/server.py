"""The JSON-RPC server of an event store: a tornado application over a backend.

Requests are POSTed JSON objects. Two envelopes are understood:

* AwesomeStream's: ``{"id", "method", "args", "kwargs"}`` answered by
  ``{"id", "result", "error"}``, where ``error`` is ``null`` or a message string;
* JSON-RPC 2.0: ``{"jsonrpc": "2.0", "id", "method", "params"}`` (``params`` a list or
  an object) answered by ``{"jsonrpc": "2.0", "id", "result"}`` or
  ``{"jsonrpc": "2.0", "id", "error": {"code", "message"}}``.

Only the methods in the whitelist (``insert``, ``items``, ``count``) can be called.

A websocket at ``/subscribe`` pushes the matching events inserted while it is open
(see :func:`create_app`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .base import Backend, Event, Query
from .live import Follower

if TYPE_CHECKING:
    import tornado.httpserver
    import tornado.web
    import tornado.websocket

__all__ = [
    "CLOSE_BAD_REQUEST",
    "CLOSE_FEED_LOST",
    "CLOSE_SHUTDOWN",
    "CLOSE_TOO_SLOW",
    "METHODS",
    "EventServer",
    "create_app",
    "run_server",
    "start_server",
]

log = logging.getLogger("streams.eventstore")

METHODS = ("insert", "items", "count")
"""The backend methods a client may call."""

MAX_BODY_SIZE = 1024 * 1024
"""The default limit on a request's size, in bytes."""

SUBSCRIBE_PATH = "/subscribe"
"""The default path of the websocket endpoint."""

MAX_QUEUE = 1000
"""The default bound on the events waiting to be sent to one websocket subscriber."""

MAX_REPLAY = 10_000
"""The largest ``replay=`` a subscriber may ask for."""

# websocket close codes (RFC 6455 section 7.4.1)
CLOSE_SHUTDOWN = 1001
"""Close code: the server is shutting down."""
CLOSE_BAD_REQUEST = 1008
"""Close code: bad subscription parameters (the reason says which)."""
CLOSE_FEED_LOST = 1011
"""Close code: the store's event feed failed (e.g. the Redis connection dropped)."""
CLOSE_TOO_SLOW = 1013
"""Close code: the subscriber read too slowly and its queue overflowed."""

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


def envelope(event: Event) -> dict[str, Any]:
    """What the websocket sends for ``event``: ``{"id", "timestamp", "data"}``."""
    return {"id": event.id, "timestamp": event.timestamp, "data": event.data}


def _close_reason(message: str) -> str:
    """``message`` cut to the 123 bytes a close frame's reason may hold."""
    data = message.encode()
    if len(data) <= 123:
        return message
    return data[:120].decode(errors="ignore") + "..."


def parse_subscription(
    backend: Backend, arguments: Mapping[str, list[bytes]]
) -> tuple[Query, dict[str, list[str]], int]:
    """``(query, filters, replay)`` of a ``/subscribe`` query string (tornado's
    ``query_arguments``).

    ``key=value`` (repeated: any of the values) filters on an indexed key; ``since``
    and ``until`` are seconds since the epoch; ``replay`` a number of stored events.

    Raises
    ------
    ValueError
        For a key that is not indexed, or a bad ``since``, ``until`` or ``replay``.
    """
    filters: dict[str, list[str]] = {}
    options: dict[str, str] = {}
    for key, raw in arguments.items():
        values = [v.decode() for v in raw]
        if key in ("since", "until", "replay"):
            if len(values) != 1:
                raise ValueError(f"{key} given {len(values)} times")
            options[key] = values[0]
        else:
            filters[key] = values
    bounds: dict[str, float | None] = {}
    for key in ("since", "until"):
        text = options.get(key)
        if text is None:
            bounds[key] = None
            continue
        try:
            bounds[key] = float(text)
        except ValueError:
            raise ValueError(f"{key} must be seconds since the epoch, got {text!r}") from None
        if not math.isfinite(bounds[key] or 0.0):
            raise ValueError(f"{key} must be finite, got {text!r}")
    text = options.get("replay", "0")
    if not text.isdigit() or int(text) > MAX_REPLAY:
        raise ValueError(f"replay must be an int from 0 to {MAX_REPLAY}, got {text!r}")
    query = backend.query(filters, bounds["since"], bounds["until"])
    return query, filters, int(text)


def _subscribe_class() -> type[tornado.websocket.WebSocketHandler]:
    import tornado.websocket

    class SubscribeHandler(tornado.websocket.WebSocketHandler):
        """Push the matching events inserted while open; see :func:`create_app`."""

        def initialize(self, backend: Backend, max_queue: int, open_handlers: set[Any]) -> None:
            self.backend = backend
            self.max_queue = max_queue
            self.open_handlers = open_handlers
            self.queue: asyncio.Queue[Event] = asyncio.Queue(max_queue)
            self.follower: Follower | None = None
            self.sender: asyncio.Task[None] | None = None

        async def open(self, *_: str) -> None:
            try:
                query, filters, replay = parse_subscription(
                    self.backend, self.request.query_arguments
                )
            except ValueError as exc:
                self.close(CLOSE_BAD_REQUEST, _close_reason(str(exc)))
                return
            self.open_handlers.add(self)
            self.follower = Follower(self.backend, query, self._arrived, self._lost)
            try:
                await self.follower.start()
            except Exception as exc:
                log.exception("event store: a subscription could not follow the store")
                self._end(CLOSE_FEED_LOST, f"cannot follow the store: {type(exc).__name__}")
                return
            if self.ws_connection is None or self.ws_connection.is_closing():
                self._stop()  # the subscriber left while the follower started
                return
            self.sender = asyncio.get_running_loop().create_task(
                self._send(query, filters, replay)
            )

        def _arrived(self, event: Event) -> None:
            """The follower's callback, on the loop: queue or, if full, give up."""
            try:
                self.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._end(
                    CLOSE_TOO_SLOW,
                    f"too slow: over {self.max_queue} events waiting; "
                    "reconnect with since= to catch up",
                )

        def _lost(self, exc: BaseException) -> None:
            self._end(CLOSE_FEED_LOST, _close_reason(f"event feed lost: {exc!r}"))

        def _end(self, code: int, reason: str) -> None:
            self._stop()
            self.close(code, reason)

        def _stop(self) -> None:
            self.open_handlers.discard(self)
            if self.follower is not None:
                self.follower.stop()
            if self.sender is not None and self.sender is not asyncio.current_task():
                self.sender.cancel()

        async def _send(self, query: Query, filters: dict[str, list[str]], replay: int) -> None:
            try:
                replayed: set[str] = set()
                if replay:
                    stored = await self.backend.aevents(
                        0, replay, since=query.since, until=query.until, **filters
                    )
                    for event in reversed(stored):
                        replayed.add(event.id)
                        await self.write_message(self.backend.serialize(envelope(event)))
                while True:
                    event = await self.queue.get()
                    if event.id in replayed:  # inserted during the replay, sent by it
                        replayed.discard(event.id)
                        continue
                    # waits until the socket took it: a slow reader fills the queue
                    await self.write_message(self.backend.serialize(envelope(event)))
            except tornado.websocket.WebSocketClosedError:
                self._stop()
            except Exception as exc:
                log.exception("event store: a subscription failed")
                self._end(CLOSE_FEED_LOST, _close_reason(f"{type(exc).__name__}: {exc}"))

        def on_message(self, message: str | bytes) -> None:
            """Messages from the subscriber are ignored."""

        def on_close(self) -> None:
            self._stop()

    return SubscribeHandler


def create_app(
    backend: Backend,
    methods: Iterable[str] = METHODS,
    max_body_size: int = MAX_BODY_SIZE,
    subscribe_path: str | None = SUBSCRIBE_PATH,
    max_queue: int = MAX_QUEUE,
) -> tornado.web.Application:
    """A tornado application answering JSON-RPC calls on ``backend`` at any path, and
    pushing live events over a websocket at ``subscribe_path``.

    Parameters
    ----------
    backend : Backend
        The store (a blocking backend's calls run in worker threads).
    methods : list of str, optional
        The callable methods, a subset of ``insert``, ``items`` and ``count``.
    max_body_size : int, optional
        Requests larger than this many bytes are refused (HTTP 413).
    subscribe_path : str or None, optional
        The path of the websocket endpoint (``None``: no endpoint; every path is then
        JSON-RPC).
    max_queue : int, optional
        The events that may wait to be sent to one subscriber; one more closes its
        connection with :data:`CLOSE_TOO_SLOW`.

    Returns
    -------
    tornado.web.Application

    Notes
    -----
    A websocket client connects to ``ws://host:port/subscribe?user=1&user=2&kind=play``:
    repeated keys are alternatives, distinct keys must all match (as in ``items``).
    ``since=`` and ``until=`` (seconds) bound the timestamps; ``replay=N`` first sends
    the newest ``N`` stored matches, oldest first. Then each matching event inserted
    afterwards is sent as one JSON text message ``{"id", "timestamp", "data"}``.
    Inserts never wait for a subscriber: at most ``max_queue`` events wait for a slow
    one, and the next one closes its connection (code 1013, :data:`CLOSE_TOO_SLOW`).
    Bad parameters close it at once with code 1008 (:data:`CLOSE_BAD_REQUEST`) and the
    error as the reason; a failed remote feed with 1011; shutting the server down with
    1001.

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
    if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
        raise ValueError(f"max_queue must be a positive int, got {max_queue!r}")
    options = {"backend": backend, "methods": allowed, "limit": max_body_size}
    subscribers: set[Any] = set()
    rules: list[Any] = []
    if subscribe_path is not None:
        if not subscribe_path.startswith("/"):
            raise ValueError(f"subscribe_path must start with '/', got {subscribe_path!r}")
        live = {"backend": backend, "max_queue": max_queue, "open_handlers": subscribers}
        rules.append((_escape(subscribe_path), _subscribe_class(), live))
    rules.append((r"/(.*)", _handler_class(), options))
    return tornado.web.Application(rules, eventstore_subscribers=subscribers)


def _escape(path: str) -> str:
    import re

    return re.escape(path) + "$"


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

    def __init__(
        self,
        server: tornado.httpserver.HTTPServer,
        host: str,
        port: int,
        app: tornado.web.Application | None = None,
    ) -> None:
        self.server = server
        self.app = app
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}/"

    def __repr__(self) -> str:
        return f"<EventServer {self.url}>"

    def stop(self) -> None:
        """Stop accepting connections."""
        self.server.stop()

    async def close(self) -> None:
        """Stop accepting connections and close the open ones (websocket subscribers
        with code 1001)."""
        self.server.stop()
        if self.app is not None:
            for handler in list(self.app.settings.get("eventstore_subscribers", ())):
                handler._end(CLOSE_SHUTDOWN, "server shutting down")
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
    return EventServer(server, host, int(sockets[0].getsockname()[1]), app)


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
