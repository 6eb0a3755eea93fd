"""Clients of the event-store server: a blocking one (``http.client``) and an async one
(tornado's ``AsyncHTTPClient``), speaking AwesomeStream's envelope; and the live side:
:meth:`AsyncClient.subscribe` and :func:`subscribe_stream` over the server's websocket."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ..sources.base import Source

if TYPE_CHECKING:
    import tornado.websocket

__all__ = ["AsyncClient", "Client", "EventServerSource", "subscribe_stream"]


def _target(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path)`` of a server URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname, port, parts.path or "/"


def _request(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    body = {"id": str(uuid.uuid1()), "method": method, "args": list(args), "kwargs": kwargs}
    return json.dumps(body).encode()


def _result(status: int, body: bytes) -> Any:
    """The ``result`` of an answer; ``ValueError`` with the server's message if it has
    an ``error``."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        text = body[:200].decode(errors="replace")
        raise ValueError(f"the server answered HTTP {status} without a JSON answer: {text!r}")
    error = answer.get("error")
    if error is not None:
        raise ValueError(error if isinstance(error, str) else error.get("message", error))
    return answer.get("result")


def _subscribe_url(
    url: str,
    path: str,
    replay: int,
    since: float | None,
    until: float | None,
    filters: dict[str, Any],
) -> str:
    """The ``ws://`` URL of a subscription at ``path`` on the server of ``url``."""
    scheme, host, port, _ = _target(url)
    pairs: list[tuple[str, Any]] = []
    for key, value in filters.items():
        values = value if isinstance(value, list | tuple | set | frozenset) else [value]
        pairs.extend((key, v) for v in values)
    for key, bound in (("since", since), ("until", until)):
        if bound is not None:
            pairs.append((key, repr(float(bound))))
    if replay:
        pairs.append(("replay", int(replay)))
    ws = "wss" if scheme == "https" else "ws"
    query = urllib.parse.urlencode(pairs)
    return f"{ws}://{host}:{port}{path}" + (f"?{query}" if query else "")


async def _connect(url: str, timeout: float) -> tornado.websocket.WebSocketClientConnection:
    from tornado.websocket import websocket_connect

    return await websocket_connect(url, connect_timeout=timeout)


async def _close(conn: tornado.websocket.WebSocketClientConnection, ended: bool) -> None:
    """Close ``conn`` and, unless its end was read already, wait (a few seconds at
    most) for the server's answer, so the socket is closed when this returns."""
    conn.close()
    if ended:
        return
    with contextlib.suppress(asyncio.TimeoutError):
        async with asyncio.timeout(5.0):
            while await conn.read_message() is not None:
                pass  # messages that were on their way


def _check_close(conn: tornado.websocket.WebSocketClientConnection) -> None:
    """Raise if the server closed the subscription for a reason other than its end:
    ``ValueError`` for bad parameters (code 1008), ``ConnectionError`` otherwise."""
    code, reason = conn.close_code, conn.close_reason
    if code == 1008:
        raise ValueError(reason)
    if code not in (None, 1000, 1001):
        raise ConnectionError(f"the server closed the subscription: {code} {reason}")


class Client:
    """A blocking client of an event-store server.

    Each call opens a connection, POSTs one request and returns its ``result``.

    Parameters
    ----------
    url : str
        The server, e.g. ``http://127.0.0.1:9997/`` (the path is used).
    timeout : float, optional
        Seconds to wait for the server.

    Raises
    ------
    ValueError
        From any call the server answered with an error: the server's message.

    Examples
    --------
    >>> import asyncio, threading
    >>> from streams.eventstore import Client, MemoryBackend, create_app, start_server
    >>> loop = asyncio.new_event_loop()
    >>> async def serve():
    ...     return start_server(create_app(MemoryBackend(keys=["user"])))
    >>> server = loop.run_until_complete(serve())
    >>> thread = threading.Thread(target=loop.run_forever)
    >>> thread.start()
    >>> client = Client(server.url)
    >>> _ = client.insert({"user": 1})
    >>> client.items(user=1), client.count()
    ([{'user': 1}], 1)
    >>> client.items(game="chess")
    Traceback (most recent call last):
    ...
    ValueError: ValueError: cannot filter on 'game': not an indexed key (keys=['user'])
    >>> asyncio.run_coroutine_threadsafe(server.close(), loop).result()
    >>> loop.call_soon_threadsafe(loop.stop)
    <...>
    >>> thread.join(); loop.close()
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout
        self._scheme, self._host, self._port, self._path = _target(url)

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``method`` on the server with these arguments; return its result."""
        cls = (
            http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        )
        conn = cls(self._host, self._port, timeout=self.timeout)
        try:
            conn.request(
                "POST",
                self._path,
                _request(method, args, kwargs),
                {"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        return _result(response.status, body)

    def insert(self, data: dict[str, Any], date: float | None = None) -> str:
        """Store an event; return its id (dates go over the wire as seconds)."""
        result: str = self.call("insert", data, date)
        return result

    def items(self, start: int = 0, end: int = 20, **filters: Any) -> list[dict[str, Any]]:
        """The matching events, newest first (see ``Backend.items``)."""
        result: list[dict[str, Any]] = self.call("items", start, end, **filters)
        return result

    def count(self, **filters: Any) -> int:
        """How many events match."""
        result: int = self.call("count", **filters)
        return result


class AsyncClient:
    """An async client of an event-store server (tornado's ``AsyncHTTPClient``).

    Parameters
    ----------
    url : str
        The server, e.g. ``http://127.0.0.1:9997/``.
    timeout : float, optional
        Seconds to wait for the server.

    Examples
    --------
    >>> import asyncio
    >>> from streams.eventstore import AsyncClient, SQLBackend, create_app, start_server
    >>> async def main():
    ...     server = start_server(create_app(SQLBackend("sqlite://", keys=["user"])))
    ...     client = AsyncClient(server.url)
    ...     for user in (1, 2, 1):
    ...         await client.insert({"user": user})
    ...     counted = await client.count(user=1)
    ...     await server.close()
    ...     return counted
    >>> asyncio.run(main())
    2
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        _target(url)
        self.url = url
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r})"

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``method`` on the server with these arguments; return its result."""
        from tornado.httpclient import AsyncHTTPClient

        response = await AsyncHTTPClient().fetch(
            self.url,
            method="POST",
            body=_request(method, args, kwargs),
            headers={"Content-Type": "application/json"},
            request_timeout=self.timeout,
            raise_error=False,
        )
        if response.code == 599:  # no answer at all
            assert response.error is not None
            raise response.error
        return _result(response.code, response.body)

    async def insert(self, data: dict[str, Any], date: float | None = None) -> str:
        """Store an event; return its id."""
        result: str = await self.call("insert", data, date)
        return result

    async def items(self, start: int = 0, end: int = 20, **filters: Any) -> list[dict[str, Any]]:
        """The matching events, newest first."""
        result: list[dict[str, Any]] = await self.call("items", start, end, **filters)
        return result

    async def count(self, **filters: Any) -> int:
        """How many events match."""
        result: int = await self.call("count", **filters)
        return result

    async def subscribe(
        self,
        *,
        replay: int = 0,
        since: float | None = None,
        until: float | None = None,
        path: str = "/subscribe",
        **filters: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """The matching events inserted from now on, over the server's websocket.

        An async iterator of ``{"id", "timestamp", "data"}`` dicts, one per event (the
        newest ``replay`` stored matches first, oldest first). It ends when the server
        shuts down; leave it early with ``break`` inside ``contextlib.aclosing`` so the
        connection closes at once.

        Parameters
        ----------
        replay : int, optional
            How many stored matching events to send first.
        since, until : float, optional
            Seconds since the epoch bounding the timestamps.
        path : str, optional
            The server's ``subscribe_path``.
        **filters
            ``key=value`` or ``key=[value, ...]`` on indexed keys, as for :meth:`items`.

        Raises
        ------
        ValueError
            If the server refused the parameters (its message).
        ConnectionError
            If the server closed the subscription otherwise (too slow a reader: code
            1013; the store's feed failed: 1011).
        """
        url = _subscribe_url(self.url, path, replay, since, until, filters)
        conn = await _connect(url, self.timeout)
        ended = False
        try:
            while True:
                message = await conn.read_message()
                if message is None:
                    ended = True
                    break
                yield json.loads(message)
        finally:
            await _close(conn, ended)
        _check_close(conn)


class EventServerSource(Source[dict[str, Any]]):
    """The source of :func:`subscribe_stream`: emit the data of each event the server's
    websocket pushes."""

    _label = "subscribe_stream"

    def __init__(
        self,
        url: str,
        replay: int = 0,
        since: float | None = None,
        until: float | None = None,
        path: str = "/subscribe",
        timeout: float = 30.0,
        filters: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        self.url = url
        self.filters = dict(filters or {})
        self.subscribe_url = _subscribe_url(url, path, replay, since, until, self.filters)
        self.timeout = timeout
        super().__init__(**options)

    def _detail(self) -> str:
        return self.url

    async def run(self) -> None:
        conn = await _connect(self.subscribe_url, self.timeout)
        watcher = asyncio.get_running_loop().create_task(self._close_on_stop(conn))
        ended = False
        try:
            while True:  # a stop closes conn: read_message then returns None
                message = await conn.read_message()
                if message is None:
                    ended = True
                    break
                if self.stopped:
                    break
                await self.emit(json.loads(message)["data"])
        finally:
            watcher.cancel()
            await _close(conn, ended)
        if not self.stopped:
            _check_close(conn)

    async def _close_on_stop(self, conn: tornado.websocket.WebSocketClientConnection) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopped:
            await self._alarm.sleep_until(loop.time() + 3600.0)
        conn.close()


def subscribe_stream(
    url: str,
    *,
    replay: int = 0,
    since: float | None = None,
    until: float | None = None,
    path: str = "/subscribe",
    **filters: Any,
) -> EventServerSource:
    """A source of the data of the matching events an event-store server at ``url``
    receives from now on (its websocket; the newest ``replay`` stored ones first).

    The remote counterpart of :meth:`Stream.from_event_store
    <streams.Stream.from_event_store>` with ``follow=True``: the same filters, over the
    network. Start it with ``start()``; ``stop()`` closes the connection. A refused
    filter fails the source with ``ValueError``, a closed-for-slowness connection with
    ``ConnectionError`` (through the source's error handling).

    Examples
    --------
    >>> import asyncio
    >>> from streams.eventstore import MemoryBackend, create_app, start_server
    >>> from streams.eventstore.client import subscribe_stream
    >>> store = MemoryBackend(keys=["kind"])
    >>> async def main():
    ...     server = start_server(create_app(store))
    ...     _ = store.insert({"kind": "play", "n": 0})
    ...     source = subscribe_stream(server.url, replay=1, kind="play")
    ...     got = source.sink_to_list()
    ...     source.start()
    ...     while not got:  # the replayed event: the subscription is open
    ...         await asyncio.sleep(0.01)
    ...     for n, kind in enumerate(["chat", "play"], 1):
    ...         _ = store.insert({"kind": kind, "n": n})
    ...     while len(got) < 2:
    ...         await asyncio.sleep(0.01)
    ...     source.stop()
    ...     await source.wait()
    ...     await server.close()
    ...     return got
    >>> asyncio.run(main())
    [{'kind': 'play', 'n': 0}, {'kind': 'play', 'n': 2}]
    """
    return EventServerSource(
        url, replay=replay, since=since, until=until, path=path, filters=filters
    )
