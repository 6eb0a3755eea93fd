"""A source that subscribes to an MQTT topic (paho-mqtt >= 2)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import Retry
from .base import Backoff, Source, decoder

if TYPE_CHECKING:
    from paho.mqtt.client import Client, MQTTMessage

__all__ = [
    "RECONNECT_MAX",
    "RECONNECT_MIN",
    "FromMQTT",
    "check_broker",
    "check_client_kwargs",
    "mqtt_client",
]

R = TypeVar("R")

RECONNECT_MIN = 1
"""Seconds before paho's first attempt to reconnect after losing the connection
(doubled after each failed attempt)."""
RECONNECT_MAX = 30
"""The longest wait between reconnection attempts, in seconds."""


class FromMQTT(Source[Any]):
    """Node behind :meth:`Stream.from_mqtt`: emit the messages published to ``topic``.

    paho's network thread receives the messages and hands them to the graph's loop,
    where they are emitted one at a time, in order, waiting for back pressure. With
    ``qos`` 1 or 2 a message is acknowledged to the broker only once every branch
    downstream has finished with it.
    """

    _label = "from_mqtt"

    def __init__(
        self,
        host: str,
        port: int,
        topic: str,
        keepalive: int = 60,
        client_kwargs: dict[str, Any] | None = None,
        user: str | None = None,
        pw: str | None = None,
        qos: int = 0,
        decode: Any = None,
        **options: Any,
    ) -> None:
        label = self._label
        self.host, self.port, self.keepalive = check_broker(label, host, port, keepalive)
        if not (isinstance(topic, str) and topic):
            raise TypeError(f"{label}: topic must be a non-empty str, got {topic!r}")
        if qos not in (0, 1, 2) or isinstance(qos, bool):
            raise ValueError(f"{label}: qos must be 0, 1 or 2, got {qos!r}")
        self.topic = topic
        self.qos = qos
        self.client_kwargs = check_client_kwargs(label, client_kwargs)
        self.user = user
        self.pw = pw
        self.decode = decode
        self._decode = decoder(label, decode)
        self.subscribed = False
        """Whether the source is connected and its subscription was granted."""
        super().__init__(**options)

    def _detail(self) -> str:
        return f"{self.host}:{self.port} {self.topic}"

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[MQTTMessage, int]] = asyncio.Queue()
        client = mqtt_client(self.client_kwargs, self.user, self.pw)
        client.manual_ack_set(self.qos > 0)
        listener = _Listener(self, loop, queue)
        listener.attach(client)
        try:
            if await self._connect(client):  # later reconnections are paho's
                client.loop_start()
            while not self.stopped:
                item = await self._next(queue)
                if item is not None:
                    message, session = item
                    ack = None
                    if message.qos > 0 and self.qos > 0:
                        ack = _acker(client, message, listener, session)
                    await self._deliver(message, ack)
            await self.until_drained()  # shutdown(): acknowledge what the drain delivers
        finally:
            self.subscribed = False
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)
            close_socket(client)

    async def _connect(self, client: Client) -> bool:
        """Connect, retrying with backoff; ``False`` if stopped first."""
        backoff = Backoff()
        while not self.stopped:
            try:
                await asyncio.to_thread(client.connect, self.host, self.port, self.keepalive)
            except OSError as exc:
                delay = backoff.next()
                self.connection_failed(exc, f"mqtt://{self.host}:{self.port}", delay)
                await self.sleep(delay)
            else:
                return True
        return False

    async def _next(self, queue: asyncio.Queue[R]) -> R | None:
        """The next message, or ``None`` once :meth:`stop` was called."""
        if not queue.empty():
            return queue.get_nowait()
        get = asyncio.ensure_future(queue.get())
        alarm = asyncio.ensure_future(self.sleep(3600.0))
        try:
            await asyncio.wait((get, alarm), return_when=asyncio.FIRST_COMPLETED)
        finally:
            alarm.cancel()
            if not get.done():
                get.cancel()
        return get.result() if get.done() and not get.cancelled() else None

    async def _deliver(self, message: MQTTMessage, ack: Callable[[], None] | None) -> None:
        if self.decode is None:
            x: Any = message
        else:
            try:
                x = self._decode(message.payload)
            except Exception as exc:
                where = f"topic {message.topic!r}, message id {message.mid}"
                self.reject(exc, message.payload, where)
                if ack is not None and _handled(self.on_error):
                    ack()
                return
        if ack is None:
            await self.emit(x)
        else:
            await self.emit_acked(x, ack)

    # called on the graph's loop by _Listener

    def _connected(self, granted: bool) -> None:
        self.subscribed = granted

    def _lost(self, exc: Exception, delay: float) -> None:
        self.subscribed = False
        if not self.stopped:
            self.connection_failed(exc, f"mqtt://{self.host}:{self.port}", delay)

    def _refused(self, exc: Exception) -> None:
        if not self.stopped:
            exc.add_note(f"in {self._describe()}")
            self._report(exc, None, ())


class _Listener:
    """paho's callbacks (they run in paho's network thread): each hands its news over
    to the graph's loop."""

    def __init__(
        self,
        source: FromMQTT,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[tuple[MQTTMessage, int]],
    ) -> None:
        self.source = source
        self.loop = loop
        self.queue = queue
        self.backoff = Backoff(RECONNECT_MIN, RECONNECT_MAX)  # mirrors paho's delays
        self.session = 0  # counts connections: an ack is only valid in its own

    def attach(self, client: Client) -> None:
        client.reconnect_delay_set(RECONNECT_MIN, RECONNECT_MAX)
        client.on_connect = self.on_connect
        client.on_connect_fail = self.on_connect_fail
        client.on_disconnect = self.on_disconnect
        client.on_subscribe = self.on_subscribe
        client.on_message = self.on_message

    def _later(self, func: Callable[..., None], *args: Any) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(func, *args)

    def on_connect(
        self, client: Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            exc = ConnectionRefusedError(f"the broker refused the connection: {reason}")
            self._later(self.source._lost, exc, self.backoff.next())
            return
        self.backoff.reset()
        self.session += 1
        client.subscribe(self.source.topic, self.source.qos)

    def on_connect_fail(self, client: Client, userdata: Any) -> None:
        exc = ConnectionError(f"cannot connect to {client.host}:{client.port}")
        self._later(self.source._lost, exc, self.backoff.next())

    def on_disconnect(
        self, client: Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:  # not our own disconnect()
            exc = ConnectionError(f"lost the connection to the broker: {reason}")
            self._later(self.source._lost, exc, self.backoff.next())

    def on_subscribe(
        self, client: Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        refused = [r for r in reasons if r.is_failure]
        if refused:
            topic = self.source.topic
            exc = PermissionError(
                f"the broker refused the subscription to {topic!r}: {refused[0]}"
            )
            self._later(self.source._refused, exc)
        self._later(self.source._connected, not refused)

    def on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        self._later(self.queue.put_nowait, (message, self.session))


def mqtt_client(client_kwargs: dict[str, Any], user: str | None, pw: str | None) -> Client:
    """A paho client with the version 2 callback API."""
    from paho.mqtt.client import Client
    from paho.mqtt.enums import CallbackAPIVersion

    client = Client(CallbackAPIVersion.VERSION2, **client_kwargs)
    if user is not None:
        client.username_pw_set(user, pw)
    return client


def check_client_kwargs(node: str, client_kwargs: Any) -> dict[str, Any]:
    """Check that paho's ``Client`` accepts ``client_kwargs`` (a copy is returned)."""
    import inspect

    from paho.mqtt.client import Client

    if client_kwargs is None:
        return {}
    if not isinstance(client_kwargs, dict):
        raise TypeError(f"{node}: client_kwargs must be a dict, got {client_kwargs!r}")
    taken = {"callback_api_version", "manual_ack"} & set(client_kwargs)
    if taken:
        raise TypeError(f"{node}: client_kwargs cannot set {sorted(taken)}; the node sets them")
    try:
        inspect.signature(Client).bind_partial(**client_kwargs)
    except TypeError as exc:
        raise TypeError(f"{node}: paho's Client does not take client_kwargs: {exc}") from None
    return dict(client_kwargs)


def check_broker(node: str, host: Any, port: Any, keepalive: Any) -> tuple[str, int, int]:
    """Validate ``host``, ``port`` and ``keepalive``, naming the node in errors."""
    if not (isinstance(host, str) and host):
        raise TypeError(f"{node}: host must be a non-empty str, got {host!r}")
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"{node}: port must be an int, got {port!r}")
    if not 0 < port < 65536:
        raise ValueError(f"{node}: port must be between 1 and 65535, got {port!r}")
    if isinstance(keepalive, bool) or not isinstance(keepalive, int) or keepalive < 1:
        raise ValueError(
            f"{node}: keepalive must be a positive number of seconds, got {keepalive!r}"
        )
    return host, port, keepalive


def _handled(policy: Any) -> bool:
    """Whether a rejected message counts as handled (acknowledged) under ``policy``."""
    if isinstance(policy, Retry):
        policy = policy.then
    return policy in ("skip", "dead_letter")


def _acker(
    client: Client, message: MQTTMessage, listener: _Listener, session: int
) -> Callable[[], None]:
    def acknowledge() -> None:
        if listener.session == session:  # a message id means nothing in a later session
            client.ack(message.mid, message.qos)

    return acknowledge


def close_socket(client: Client) -> None:
    """Close the client's socket if paho's thread stopped before it sent the DISCONNECT
    (and so before it closed the socket itself): no socket outlives the client."""
    sock = client.socket()
    if sock is not None:
        sock.close()
