"""Clients of the event-store server: a blocking one (``http.client``) and an async one
(tornado's ``AsyncHTTPClient``), speaking AwesomeStream's envelope."""

from __future__ import annotations

import http.client
import json
import urllib.parse
import uuid
from typing import Any

__all__ = ["AsyncClient", "Client"]


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
