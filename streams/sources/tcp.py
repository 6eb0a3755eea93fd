"""Server sources: the shared base, and ``Stream.from_tcp`` (a tornado TCP server)."""

from __future__ import annotations

import asyncio
import errno
import inspect
import socket
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..core import Stream
from .base import Source, decoder

if TYPE_CHECKING:
    from tornado.iostream import IOStream

__all__ = ["FromTCP", "ServerSource", "check_kwargs", "listen", "peer_name"]

STOPPED_POLL = 3600.0
"""Seconds a server sleeps between checks of ``stopped`` (``stop()`` wakes it at once)."""


def peer_name(address: Any) -> str:
    """``host:port`` (``[host]:port`` for IPv6) of a socket address, for messages.

    Examples
    --------
    >>> peer_name(("127.0.0.1", 5000)), peer_name(("::1", 5000, 0, 0))
    ('127.0.0.1:5000', '[::1]:5000')
    """
    if isinstance(address, tuple | list) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address) or "?"


def check_kwargs(
    node: str, name: str, kwargs: Any, accepted: Callable[..., Any] | None
) -> dict[str, Any]:
    """A copy of a ``*_kwargs`` option, checked against what ``accepted`` takes."""
    if kwargs is None:
        return {}
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise TypeError(f"{node}: {name} must be a dict of keyword arguments, got {kwargs!r}")
    options = dict(kwargs)
    if accepted is not None:
        params = inspect.signature(accepted).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            unknown = sorted(set(options) - set(params))
            if unknown:
                raise TypeError(
                    f"{node}: {name} has unknown options {unknown}; accepted: "
                    f"{sorted(p for p in params if p != 'self')}"
                )
    return options


def listen(host: str | None, port: int, backlog: int = 128) -> list[socket.socket]:
    """Listening sockets on every address of ``host`` (all interfaces for ``None`` or
    ``""``), all on one port (a free one for ``0``); nothing is left open on failure."""
    infos = socket.getaddrinfo(
        host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
    )
    sockets: list[socket.socket] = []
    seen: set[Any] = set()
    try:
        for family, kind, proto, _, address in infos:
            if address in seen:
                continue
            seen.add(address)
            if port == 0 and sockets:  # the other addresses take the port the first got
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            try:
                sock = socket.socket(family, kind, proto)
            except OSError:
                if len(infos) > 1:
                    continue  # e.g. IPv6 disabled: serve the other addresses
                raise
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(backlog)
                sock.setblocking(False)
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRNOTAVAIL and len(infos) > 1:
                    continue  # "localhost" resolving to ::1 without IPv6
                raise
            sockets.append(sock)
        if not sockets:
            raise OSError(errno.EADDRNOTAVAIL, f"no address to listen on for {host!r}")
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class ServerSource(Source[Any]):
    """Base of the sources that are servers (``from_tcp``, ``from_http_server``,
    ``from_websocket``).

    :meth:`start` binds the listening socket at once, in the calling thread, so
    ``port`` is the real port (also with ``port=0``) and ``addresses`` the bound
    ``(host, port)`` pairs as soon as ``start()`` returns; a port already in use raises
    there. ``run`` serves on the graph's loop until :meth:`stop`, which closes the
    listening socket and every connection once the element in hand was accepted. A
    restart listens on the same port again.

    Elements are emitted one at a time, whichever connection they come from, in the
    order they were read: a client's next message is read only after its previous one
    was accepted downstream, and while one element is being accepted the others wait.
    """

    def __init__(self, host: str | None, port: int, **options: Any) -> None:
        label = self._label
        if host is not None and not isinstance(host, str):
            raise TypeError(f"{label}: host must be a host name or address, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"{label}: port must be an int (0 picks a free port), got {port!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"{label}: port must be from 0 to 65535 (0: a free one), got {port}")
        self.host = host
        self.port = port
        self.addresses: list[tuple[Any, ...]] = []
        self._sockets: list[socket.socket] = []
        self._turn = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        super().__init__(**options)

    def _detail(self) -> str:
        host = "*" if self.host in (None, "") else self.host
        return peer_name((host, self.port))

    def start(self) -> None:
        """Listen (binding :attr:`port` now) and start serving on the graph's loop."""
        if self.started and not self.stopped:
            return
        try:
            sockets = self._bind()
        except OSError as exc:
            exc.add_note(f"in {self}: cannot listen on {self._detail()}")
            raise
        self.port = int(sockets[0].getsockname()[1])
        self.addresses = [tuple(sock.getsockname()[:2]) for sock in sockets]
        for old in self._sockets:
            old.close()
        self._sockets = sockets
        try:
            super().start()
        except BaseException:
            self._close_sockets()
            raise

    def _bind(self) -> list[socket.socket]:
        """Bind the listening sockets (every address of ``host``, on one port)."""
        return listen(self.host, self.port)

    def _close_sockets(self) -> None:
        sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()

    async def run(self) -> None:
        sockets, self._sockets = self._sockets, []
        if not sockets:  # another start() took them: listen again
            sockets = self._bind()
        self._turn = asyncio.Lock()
        try:
            await self._serve(sockets)
        finally:
            for sock in sockets:
                sock.close()

    async def _serve(self, sockets: list[socket.socket]) -> None:
        """Serve on ``sockets`` until stopped, then close everything (override)."""
        raise NotImplementedError

    async def _until_stopped(self) -> None:
        while not self.stopped:
            await self.sleep(STOPPED_POLL)

    def _track(self, coro: Any) -> asyncio.Task[None]:
        """Run ``coro`` (a connection's or a request's work) as a task ``run`` waits for."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _wait_tasks(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _deliver(self, x: Any) -> bool:
        """Emit ``x`` when its turn comes; ``False`` if the source stopped before.

        A failure downstream goes to the error channel and the source goes on.
        """
        async with self._turn:
            if self.stopped:
                return False
            await self._send(x)
            return True

    async def _deliver_or_raise(self, x: Any, position: str) -> bool | None:
        """Like :meth:`_deliver`, but say whether ``x`` was accepted: ``True``, ``False``
        if it failed downstream (reported per ``on_error``, noting where ``x`` came
        from), ``None`` if the source stopped first."""
        async with self._turn:
            if self.stopped:
                return None
            try:
                await Stream.emit(self, x, True)
            except Exception as exc:
                exc.add_note(f"at {position}")
                return await self._recover(exc, x, ())
            return True


class FromTCP(ServerSource):
    """Node behind :meth:`Stream.from_tcp`: a TCP server emitting each delimited message
    its clients send."""

    _label = "from_tcp"

    def __init__(
        self,
        port: int,
        delimiter: bytes | str = b"\n",
        server_kwargs: Mapping[str, Any] | None = None,
        host: str | None = "127.0.0.1",
        decode: Any = None,
        **options: Any,
    ) -> None:
        from tornado.tcpserver import TCPServer

        if isinstance(delimiter, str):
            delimiter = delimiter.encode()
        if not isinstance(delimiter, bytes) or not delimiter:
            raise TypeError(f"from_tcp: delimiter must be non-empty bytes, got {delimiter!r}")
        self.delimiter = delimiter
        self.server_kwargs = check_kwargs(
            "from_tcp", "server_kwargs", server_kwargs, TCPServer.__init__
        )
        self.decode = decode
        self._decode = decoder("from_tcp", decode)
        self._streams: set[IOStream] = set()
        super().__init__(host, port, **options)

    async def _serve(self, sockets: list[socket.socket]) -> None:
        from tornado.tcpserver import TCPServer

        source = self

        class Server(TCPServer):
            def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
                source._connected(stream, address)

        server = Server(**self.server_kwargs)
        server.add_sockets(sockets)
        try:
            await self._until_stopped()
        finally:
            server.stop()
            for stream in list(self._streams):
                stream.close()  # a read in progress ends; an emit in progress finishes
            await self._wait_tasks()

    def _connected(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        if self.stopped:
            stream.close()
            return
        self._streams.add(stream)
        self._track(self._read(stream, peer_name(address)))

    async def _read(self, stream: IOStream, peer: str) -> None:
        from tornado.iostream import StreamClosedError

        count = 0
        try:
            while not self.stopped:
                try:
                    message = await stream.read_until(self.delimiter)
                except StreamClosedError as closed:
                    rest = await stream.read_until_close()  # what came after the last delimiter
                    if rest and not self.stopped:
                        count += 1
                        if closed.real_error is None:  # the client ended a last message by closing
                            await self._message(rest, peer, count, complete=False)
                        else:
                            error = ConnectionError(f"connection lost: {closed.real_error}")
                            self.reject(error, rest, f"tcp {peer}, message {count} (incomplete)")
                    break
                count += 1
                await self._message(message, peer, count)
        except Exception as exc:  # a bug, not the client: report it and drop the connection
            self._report(exc, None, ())
        finally:
            stream.close()
            self._streams.discard(stream)

    async def _message(self, raw: bytes, peer: str, count: int, complete: bool = True) -> None:
        if self.decode is None:
            await self._deliver(raw)
            return
        body = raw[: -len(self.delimiter)] if complete else raw
        try:
            x = self._decode(body)
        except Exception as exc:
            self.reject(exc, raw, f"tcp {peer}, message {count}")
            return
        await self._deliver(x)
