"""Server sources: the shared base (binding, accepting, limits), and ``Stream.from_tcp``
(tornado's TCP streams, framed by the source itself)."""

from __future__ import annotations

import asyncio
import errno
import functools
import inspect
import math
import socket
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._util import positive_int
from ..core import Stream
from ..errors import log
from .base import Source, decoder

if TYPE_CHECKING:
    from tornado.iostream import IOStream, StreamClosedError
    from tornado.tcpserver import TCPServer

__all__ = [
    "Acceptor",
    "Budget",
    "FromTCP",
    "ServerSource",
    "check_kwargs",
    "check_timeout",
    "listen",
    "peer_name",
]

STOPPED_POLL = 3600.0
"""Seconds a server sleeps between checks of ``stopped`` (``stop()`` wakes it at once)."""

MIB = 1 << 20
BUFFER_BYTES = 64 * MIB
"""Default ``max_buffer_bytes``: 64 MiB, or four of the largest messages if that is more."""
MAX_CONNECTIONS = 1024
"""Default ``max_connections``."""
IDLE_TIMEOUT = 300.0
"""Default ``idle_timeout``, seconds."""
RETRY_AFTER = 1
"""Seconds a client refused for want of room is told to wait (``Retry-After``)."""
PAUSE, MAX_PAUSE = 0.05, 1.0
"""Seconds an acceptor that cannot accept (out of file descriptors) leaves its sockets
alone: the first pause, doubled after every further failure up to the longest."""
EPISODE = 10.0
"""Seconds without an accept failure that end an episode of them."""
ACCEPT_BATCH = 128
"""Connections accepted in one go before other work gets the loop."""
HEAD = 100
"""Bytes of a dropped message kept as the element of its error record."""
SLACK = 0.001
"""Seconds a timer may fire early (the loop's clock resolution)."""


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


def check_timeout(node: str, name: str, value: Any) -> float | None:
    """Seconds as a positive float, or ``None`` (no timeout), naming ``node`` in errors.

    Examples
    --------
    >>> check_timeout("from_tcp", "idle_timeout", 30), check_timeout("from_tcp", "t", None)
    (30.0, None)
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{node}: {name} must be seconds (a number) or None, got {value!r}")
    if not 0 < value < math.inf:
        raise ValueError(f"{node}: {name} must be positive and finite (or None), got {value!r}")
    return float(value)


class Budget:
    """The bytes a source holds across all its connections (``used``), bounded by
    ``limit``; ``pending`` of them are whole messages waiting to be emitted, which
    free their room by themselves.

    Examples
    --------
    >>> budget = Budget(100)
    >>> budget.take(60); budget.fits(40), budget.fits(41)
    (True, False)
    >>> budget.give(60); budget.used
    0
    """

    __slots__ = ("_changed", "limit", "pending", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.pending = 0
        self._changed: asyncio.Event | None = None

    @property
    def full(self) -> bool:
        """Whether nothing more may be read until some room is given back."""
        return self.used >= self.limit

    def fits(self, n: int) -> bool:
        """Whether ``n`` more bytes stay within the limit."""
        return self.used + n <= self.limit

    def take(self, n: int) -> None:
        """Count ``n`` more bytes held."""
        self.used += n

    def give(self, n: int) -> None:
        """Count ``n`` bytes as released; wake the waiters if that matters to them."""
        self.used -= n
        if self._changed is not None and (self.used < self.limit or not self.pending):
            self.wake()

    def wake(self) -> None:
        """Let every :meth:`changed` waiter look again."""
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def changed(self) -> None:
        """Wait until room was given back (or :meth:`wake`)."""
        if self._changed is None:
            self._changed = asyncio.Event()
        await self._changed.wait()


class Acceptor:
    """Accept the connections of listening sockets on the running loop, handing each to
    ``handle(connection, address)``.

    When ``accept`` fails (out of file descriptors, ``EMFILE``/``ENFILE``, or of kernel
    buffers), the sockets are left alone for a pause on the loop's clock (``PAUSE``,
    doubled after every further failure, at most ``MAX_PAUSE``) instead of being tried
    again at once: a listening socket with clients waiting stays readable, so retrying
    at once would spin the loop. The clients wait in the listen backlog meanwhile. The
    first failure of an episode (failures less than ``EPISODE`` seconds apart) goes to
    the source's error channel, and so to the ``streams`` logger when there is none;
    the first success after it is logged.
    """

    def __init__(
        self,
        source: ServerSource,
        sockets: list[socket.socket],
        handle: Callable[[socket.socket, Any], None],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._source = source
        self._sockets = sockets
        self._handle = handle
        self._failures = 0  # in this episode
        self._last_failure = -math.inf
        self._pause = PAUSE
        self._recovered = True
        self._timer: asyncio.TimerHandle | None = None
        self._listen()

    def _listen(self) -> None:
        self._timer = None
        for sock in self._sockets:
            self._loop.add_reader(sock.fileno(), self._ready, sock)

    def _ready(self, sock: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                connection, address = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client gave up while waiting in the backlog
            except OSError as exc:
                self._failed(exc)
                return
            if not self._recovered:
                self._recovered = True
                log.warning(
                    "%s: accepting connections again after %d failed attempts",
                    self._source._describe(),
                    self._failures,
                )
            try:
                self._handle(connection, address)
            except Exception as exc:  # a bug: drop this connection, not the server
                connection.close()
                self._source._report(exc, None, ())

    def _failed(self, exc: OSError) -> None:
        self.close()
        now = self._loop.time()
        if now - self._last_failure > EPISODE:  # a new episode: say so, once
            self._failures, self._pause, self._recovered = 0, PAUSE, False
            code = errno.errorcode.get(exc.errno or 0, "error")
            exc.add_note(
                f"cannot accept connections ({code}): not accepting for {PAUSE:g}s, "
                f"then for up to {MAX_PAUSE:g}s at a time, until it works again"
            )
            self._source._report(exc, None, ())
        self._failures += 1
        self._last_failure = now
        self._timer = self._loop.call_later(self._pause, self._listen)
        self._pause = min(self._pause * 2, MAX_PAUSE)

    def close(self) -> None:
        """Stop accepting (the sockets stay open)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for sock in self._sockets:
            if sock.fileno() >= 0:
                self._loop.remove_reader(sock.fileno())


class ServerSource(Source[Any]):
    """Base of the sources that are servers (``from_tcp``, ``from_http_server``,
    ``from_websocket``).

    :meth:`start` binds the listening socket at once, in the calling thread, so
    ``port`` is the real port (also with ``port=0``) and ``addresses`` the bound
    ``(host, port)`` pairs as soon as ``start()`` returns; a port already in use raises
    there. ``run`` serves on the graph's loop until :meth:`stop`, which closes the
    listening socket and every connection once the element in hand was accepted. A
    restart listens on the same port again. ``server`` is ``None`` until the source
    serves, then the server object (tornado's or websockets'), and ``None`` again once
    stopped.

    Elements are emitted one at a time, whichever connection they come from, in the
    order they were read: a client's next message is read only after its previous one
    was accepted downstream, and while one element is being accepted the others wait.

    Limits, checked when the source is built: at most ``max_connections`` clients at
    once, at most ``max_buffer_bytes`` held in unfinished and waiting messages across
    them (by default 64 MiB, or four of the largest messages ``message_size`` if that
    is more), and connections idle for ``idle_timeout`` seconds are closed.
    """

    _message_option = "max_message_size"

    def __init__(
        self,
        host: str | None,
        port: int,
        *,
        max_connections: int = MAX_CONNECTIONS,
        max_buffer_bytes: int | None = None,
        message_size: int = MIB,
        idle_timeout: float | None = IDLE_TIMEOUT,
        **options: Any,
    ) -> None:
        label = self._label
        if host is not None and not isinstance(host, str):
            raise TypeError(f"{label}: host must be a host name or address, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"{label}: port must be an int (0 picks a free port), got {port!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"{label}: port must be from 0 to 65535 (0: a free one), got {port}")
        self.max_connections: int = positive_int(label, "max_connections", max_connections)
        buffer = positive_int(label, "max_buffer_bytes", max_buffer_bytes, allow_none=True)
        if buffer is None:
            buffer = max(BUFFER_BYTES, 4 * message_size)
        elif buffer < message_size:
            raise ValueError(
                f"{label}: max_buffer_bytes ({buffer}) must hold at least one message of "
                f"{self._message_option} ({message_size} bytes)"
            )
        self.max_buffer_bytes: int = buffer
        self.idle_timeout = check_timeout(label, "idle_timeout", idle_timeout)
        self.host = host
        self.port = port
        self.addresses: list[tuple[Any, ...]] = []
        self.server: Any = None
        self._sockets: list[socket.socket] = []
        self._turn = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._budget = Budget(buffer)
        self._refusing = False
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
            exc.add_note(f"in {self._describe()}: cannot listen on {self._detail()}")
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
        self._budget = Budget(self.max_buffer_bytes)
        self._refusing = False
        try:
            await self._serve(sockets)
        finally:
            self.server = None
            for sock in sockets:
                sock.close()

    async def _serve(self, sockets: list[socket.socket]) -> None:
        """Serve on ``sockets`` until stopped, then close everything (override)."""
        raise NotImplementedError

    def _accept(
        self, sockets: list[socket.socket], handle: Callable[[socket.socket, Any], None]
    ) -> Acceptor:
        """Accept connections on ``sockets`` (see :class:`Acceptor`); close it when done."""
        return Acceptor(self, sockets, handle)

    def _refuse_new(self, reason: str) -> None:
        """Note that a client was refused; logged once until one is admitted again."""
        if not self._refusing:
            self._refusing = True
            log.warning(
                "%s: %s; refusing new clients until there is room", self._describe(), reason
            )

    def _admit(self) -> None:
        """Note that a client was admitted (ends an episode of refusals)."""
        if self._refusing:
            self._refusing = False
            log.info("%s: admitting new clients again", self._describe())

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


class Peer:
    """One client of :class:`FromTCP`: its stream, the bytes of its next messages, and
    why the source closed it (``"idle"``, ``"shed"``), if it did."""

    __slots__ = ("buffer", "closing", "count", "held", "name", "since", "stream", "timer")

    def __init__(self, stream: IOStream, name: str) -> None:
        self.stream = stream
        self.name = name
        self.buffer = bytearray()
        self.held = 0  # bytes counted in the budget: the buffer and a message in delivery
        self.count = 0  # messages so far
        self.since: float | None = None  # loop time a read from the client began
        self.closing: str | None = None
        self.timer: asyncio.TimerHandle | None = None


class FromTCP(ServerSource):
    """Node behind :meth:`Stream.from_tcp`: a TCP server emitting each delimited message
    its clients send.

    The source frames messages itself, reading each connection in chunks
    (``read_chunk_size``, 64 KiB by default) only while there is room in
    ``max_buffer_bytes``. A message longer than ``max_message_size`` is rejected (to
    the error channel) and skipped up to its delimiter, without being kept. When the
    bytes held are all unfinished messages, so that no room would ever come back, the
    connection with the biggest unfinished message is dropped.
    """

    _label = "from_tcp"

    def __init__(
        self,
        port: int,
        delimiter: bytes | str = b"\n",
        server_kwargs: Mapping[str, Any] | None = None,
        host: str | None = "127.0.0.1",
        decode: Any = None,
        max_message_size: int = MIB,
        max_buffer_bytes: int | None = None,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float | None = IDLE_TIMEOUT,
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
        chunk = self.server_kwargs.get("read_chunk_size")
        chunk = 65536 if chunk is None else chunk  # tornado's default
        self._chunk: int = positive_int("from_tcp", "read_chunk_size", chunk)
        self.max_message_size: int = positive_int("from_tcp", "max_message_size", max_message_size)
        self.decode = decode
        self._decode = decoder("from_tcp", decode)
        self._peers: dict[IOStream, Peer] = {}
        super().__init__(
            host,
            port,
            max_connections=max_connections,
            max_buffer_bytes=max_buffer_bytes,
            message_size=self.max_message_size,
            idle_timeout=idle_timeout,
            **options,
        )

    async def _serve(self, sockets: list[socket.socket]) -> None:
        from tornado.tcpserver import TCPServer

        source = self

        class Server(TCPServer):
            def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
                source._connected(stream, address)

        server = Server(**self.server_kwargs)
        acceptor = self._accept(sockets, functools.partial(self._accepted, server))
        self.server = server
        try:
            await self._until_stopped()
        finally:
            acceptor.close()
            self.server = None
            for stream in list(self._peers):
                stream.close()  # a read in progress ends; an emit in progress finishes
            self._budget.wake()
            await self._wait_tasks()

    def _accepted(self, server: TCPServer, connection: socket.socket, address: Any) -> None:
        """A new client: refused (closed at once) beyond ``max_connections``."""
        if len(self._peers) >= self.max_connections:
            connection.close()
            self._refuse_new(f"{len(self._peers)} connections open (max_connections)")
            return
        self._admit()
        # tornado's own set-up of an accepted socket: TLS (ssl_options), IOStream options
        server._handle_connection(connection, address)

    def _connected(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        if self.stopped:
            stream.close()
            return
        peer = Peer(stream, peer_name(address))
        self._peers[stream] = peer
        if self.idle_timeout is not None:
            peer.timer = asyncio.get_running_loop().call_later(
                self.idle_timeout, self._check_idle, peer
            )
        self._track(self._read(peer))

    def _check_idle(self, peer: Peer) -> None:
        """Close ``peer`` if it sent nothing for ``idle_timeout`` seconds while the
        source was waiting for it (time spent waiting on back pressure does not count)."""
        peer.timer = None
        if peer.stream.closed() or self.idle_timeout is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = (now if peer.since is None else peer.since) + self.idle_timeout
        if due - now > SLACK:
            peer.timer = loop.call_later(due - now, self._check_idle, peer)
            return
        peer.closing = "idle"
        peer.stream.close()

    async def _read(self, peer: Peer) -> None:
        from tornado.iostream import StreamClosedError

        delimiter, width, limit = self.delimiter, len(self.delimiter), self.max_message_size
        buffer = peer.buffer
        scan = 0  # where a delimiter may start in the buffer
        skipping = False  # inside an over-long message: drop what comes up to its end
        try:
            while not self.stopped:
                end = buffer.find(delimiter, scan)
                if end >= 0:
                    scan = 0
                    if skipping:
                        skipping = False
                        self._drop(peer, end + width)
                    elif end > limit:
                        peer.count += 1
                        self._too_long(peer, end)
                        self._drop(peer, end + width)
                    else:
                        peer.count += 1
                        await self._hand(peer, end + width, complete=True)
                    continue
                if not skipping and len(buffer) > limit + width - 1:
                    peer.count += 1
                    self._too_long(peer, len(buffer))
                    skipping = True
                if skipping:  # keep only what may be the start of the delimiter
                    self._drop(peer, len(buffer) - (width - 1))
                scan = max(0, len(buffer) - width + 1)
                if not await self._room(peer):
                    break
                data = await self._receive(peer)
                buffer += data
                peer.held += len(data)
                self._budget.take(len(data))
        except StreamClosedError as closed:
            if not skipping:
                await self._ended(peer, closed)
        except Exception as exc:  # a bug, not the client: report it and drop the connection
            self._report(exc, None, ())
        finally:
            peer.stream.close()
            if peer.timer is not None:
                peer.timer.cancel()
            self._peers.pop(peer.stream, None)
            held, peer.held = peer.held, 0
            self._budget.give(held)

    async def _receive(self, peer: Peer) -> bytes:
        """The next bytes from the client (what has come, up to a chunk)."""
        peer.since = asyncio.get_running_loop().time()
        try:
            return await peer.stream.read_bytes(self._chunk, partial=True)
        finally:
            peer.since = None

    async def _room(self, peer: Peer) -> bool:
        """Wait while the buffer is full; ``False`` if ``peer`` was dropped meanwhile.

        Messages waiting to be emitted give their room back by themselves. When the
        bytes held are all unfinished messages, no room would ever come back: the
        biggest unfinished message is dropped, and its connection closed.
        """
        budget = self._budget
        while budget.full and peer.closing is None and not self.stopped:
            biggest = max(self._peers.values(), key=lambda p: len(p.buffer), default=None)
            if budget.pending or biggest is None or not biggest.buffer:
                await budget.changed()
            else:
                self._shed(biggest)
        return peer.closing is None and not self.stopped

    def _shed(self, peer: Peer) -> None:
        error = ConnectionAbortedError(
            f"the source holds {self._budget.used} bytes (max_buffer_bytes="
            f"{self.max_buffer_bytes}), all in unfinished messages: dropped the biggest "
            f"({len(peer.buffer)} bytes so far) and closed its connection"
        )
        position = f"tcp {peer.name}, message {peer.count + 1} (incomplete)"
        self.reject(error, bytes(peer.buffer[:HEAD]), position)
        peer.closing = "shed"
        self._drop(peer, len(peer.buffer))
        peer.stream.close()
        self._budget.wake()

    def _drop(self, peer: Peer, n: int) -> None:
        """Forget the first ``n`` bytes of ``peer``'s buffer."""
        if n > 0:
            del peer.buffer[:n]
            peer.held -= n
            self._budget.give(n)

    def _too_long(self, peer: Peer, size: int) -> None:
        """Reject the message of ``size`` bytes (or more) beginning ``peer``'s buffer."""
        error = ValueError(
            f"message longer than max_message_size ({self.max_message_size} bytes); "
            "skipped up to its delimiter"
        )
        head = bytes(peer.buffer[: min(size, HEAD)])
        self.reject(error, head, f"tcp {peer.name}, message {peer.count}")

    async def _hand(self, peer: Peer, size: int, complete: bool) -> None:
        """Emit the first ``size`` bytes of ``peer``'s buffer as a message."""
        raw = bytes(peer.buffer[:size])
        del peer.buffer[:size]
        budget = self._budget
        budget.pending += size
        try:
            await self._message(raw, peer, complete)
        finally:
            budget.pending -= size
            peer.held -= size
            budget.give(size)

    async def _ended(self, peer: Peer, closed: StreamClosedError) -> None:
        """The connection closed: emit what came after the last delimiter, if anything."""
        buffer = peer.buffer
        if not buffer or self.stopped:
            return
        position = f"tcp {peer.name}, message {peer.count + 1} (incomplete)"
        if peer.closing == "idle":
            error: Exception = TimeoutError(
                f"no data for {self.idle_timeout:g}s in the middle of a message; connection closed"
            )
            self.reject(error, bytes(buffer[:HEAD]), position)
        elif peer.closing is not None:
            return
        elif closed.real_error is not None:
            error = ConnectionError(f"connection lost: {closed.real_error}")
            self.reject(error, bytes(buffer), position)
        elif len(buffer) > self.max_message_size:
            peer.count += 1
            self._too_long(peer, len(buffer))
        else:  # the client ended a last message by closing
            peer.count += 1
            await self._hand(peer, len(buffer), complete=False)

    async def _message(self, raw: bytes, peer: Peer, complete: bool) -> None:
        if self.decode is None:
            await self._deliver(raw)
            return
        body = raw[: -len(self.delimiter)] if complete else raw
        try:
            x = self._decode(body)
        except Exception as exc:
            self.reject(exc, raw, f"tcp {peer.name}, message {peer.count}")
            return
        await self._deliver(x)
