"""A sink that publishes elements to an MQTT topic (paho-mqtt >= 2)."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from ..core import Stream
from ..protocol import Metadata, wait
from ..sources.base import Backoff
from ..sources.mqtt import (
    RECONNECT_MAX,
    RECONNECT_MIN,
    check_broker,
    check_client_kwargs,
    close_socket,
    mqtt_client,
)
from .base import Sink

if TYPE_CHECKING:
    from paho.mqtt.client import Client

__all__ = ["ToMQTT"]

_PUBLISH_OPTIONS = frozenset({"qos", "retain", "properties"})


class ToMQTT(Sink[Any]):
    """Node behind :meth:`Stream.to_mqtt`: publish every element to ``topic``; the
    emitter waits until paho reports the message sent (QoS 0) or acknowledged by the
    broker (QoS 1 and 2)."""

    _label = "to_mqtt"

    def __init__(
        self,
        upstream: Stream[Any],
        host: str,
        port: int,
        topic: str,
        keepalive: int = 60,
        client_kwargs: dict[str, Any] | None = None,
        publish_kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        label = self._label
        self.host, self.port, self.keepalive = check_broker(label, host, port, keepalive)
        if not (isinstance(topic, str) and topic):
            raise TypeError(f"{label}: topic must be a non-empty str, got {topic!r}")
        self.topic = topic
        self.client_kwargs = check_client_kwargs(label, client_kwargs)
        self.publish_kwargs = dict(publish_kwargs or {})
        unknown = sorted(set(self.publish_kwargs) - _PUBLISH_OPTIONS)
        if unknown:
            raise TypeError(
                f"{label}: unknown publish_kwargs {unknown}; use qos, retain, properties"
            )
        if self.publish_kwargs.get("qos", 0) not in (0, 1, 2):
            raise ValueError(f"{label}: qos must be 0, 1 or 2, got {self.publish_kwargs['qos']!r}")
        self._client: Client | None = None
        self._opening: asyncio.Future[None] | None = None  # the first connection attempt
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._up = False  # connected (on the graph's loop)
        self._waiting: list[asyncio.Future[None]] = []  # emitters waiting for a connection
        self._lock = threading.Lock()  # guards _sent and _early (paho's thread + loop)
        self._sent: dict[int, tuple[asyncio.Future[None], int]] = {}  # mid -> (done, qos)
        self._early: set[int] = set()  # mids paho reported before we waited for them
        self._backoff = Backoff(RECONNECT_MIN, RECONNECT_MAX)
        super().__init__(upstream, **options)
        self._require_loop()

    def _detail(self) -> str:
        return f"{self.host}:{self.port} {self.topic}"

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        return self._publish(x, who, metadata)

    async def _publish(self, x: Any, who: Stream[Any] | None, metadata: Metadata) -> None:
        from paho.mqtt.enums import MQTTErrorCode

        qos = self.publish_kwargs.get("qos", 0)
        try:
            client = await self._connected()
            info = client.publish(self.topic, x, **self.publish_kwargs)
            done = self._track(info.mid, qos)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS and not (
                info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0
            ):  # (with QoS > 0 paho sends it once reconnected)
                self._untrack(info.mid)
                raise ConnectionError(f"cannot publish to {self._target()}: {info.rc.name}")
            await done
        except Exception as exc:
            await wait(self._failed(exc, x, who, metadata))
        else:
            self.current_value = x

    # ------------------------------------------------------------------ connection

    def _target(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def _connected(self) -> Client:
        """The client once connected; raises if connecting fails.

        Until a first connection succeeded, each element tries to connect; from then
        on paho reconnects by itself and elements wait for its next attempt.
        """
        if self._client is None:
            if self._opening is None:
                self._opening = asyncio.ensure_future(self._open())
            opening = self._opening
            try:
                await asyncio.shield(opening)
            except OSError as exc:
                raise ConnectionError(f"cannot connect to {self._target()}: {exc}") from exc
            finally:
                if self._opening is opening and opening.done():
                    self._opening = None
        client = self._client
        if client is None:
            raise ConnectionError(f"{self._describe()} was destroyed")
        if not self._up:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            await waiter
        return client

    async def _open(self) -> None:
        self._loop = loop = asyncio.get_running_loop()
        client = mqtt_client(self.client_kwargs, None, None)
        client.reconnect_delay_set(RECONNECT_MIN, RECONNECT_MAX)

        def later(func: Any, *args: Any) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(func, *args)

        def on_connect(client: Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            if reason.is_failure:
                later(self._attempt_failed, f"the broker refused the connection: {reason}")
            else:
                later(self._set_up)

        def on_connect_fail(client: Client, userdata: Any) -> None:
            later(self._attempt_failed, f"cannot connect to {self._target()}")

        def on_disconnect(client: Client, userdata: Any, flags: Any, reason: Any, p: Any) -> None:
            later(self._set_down)

        def on_publish(client: Client, userdata: Any, mid: int, reason: Any, p: Any) -> None:
            with self._lock:
                entry = self._sent.pop(mid, None)
                if entry is None:
                    self._early.add(mid)
                    return
            later(_settle, entry[0], reason)

        client.on_connect = on_connect
        client.on_connect_fail = on_connect_fail
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        await asyncio.to_thread(client.connect, self.host, self.port, self.keepalive)
        if self._closed:
            client.disconnect()
            close_socket(client)  # no loop ever ran to send the DISCONNECT
            return
        self._client = client
        client.loop_start()

    def _set_up(self) -> None:
        self._up = True
        self._backoff.reset()
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            if not waiter.done():
                waiter.set_result(None)

    def _attempt_failed(self, why: str) -> None:
        delay = self._backoff.next()
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            if not waiter.done():
                exc = ConnectionError(why)
                exc.add_note(f"in {self._describe()}: paho retries in {delay:g}s")
                waiter.set_exception(exc)

    def _set_down(self) -> None:
        """The connection is gone: QoS 0 messages not yet written are lost."""
        self._up = False
        with self._lock:
            lost = [(mid, fut) for mid, (fut, qos) in self._sent.items() if qos == 0]
            for mid, _ in lost:
                del self._sent[mid]
        for _, fut in lost:
            if not fut.done():
                fut.set_exception(ConnectionError(f"lost the connection to {self._target()}"))

    # ------------------------------------------------------------------ publishing

    def _track(self, mid: int, qos: int) -> asyncio.Future[None]:
        """A future of the graph's loop, resolved when paho reports ``mid`` sent."""
        assert self._loop is not None
        fut: asyncio.Future[None] = self._loop.create_future()
        with self._lock:
            if mid in self._early:
                self._early.discard(mid)
                fut.set_result(None)
            else:
                self._sent[mid] = (fut, qos)
        return fut

    def _untrack(self, mid: int) -> None:
        with self._lock:
            self._sent.pop(mid, None)

    def _held_count(self) -> int:
        """Messages published and not yet confirmed by the broker."""
        with self._lock:
            return len(self._sent)

    async def _flush(self) -> bool:
        with self._lock:
            pending = [fut for fut, _ in self._sent.values()]
        if not pending:
            return False
        await asyncio.wait(pending)
        return True

    def _close(self) -> None:
        """Disconnect and stop paho's thread; idempotent."""
        self._closed = True
        client, self._client = self._client, None
        if client is None:
            return
        client.disconnect()
        client.loop_stop()
        close_socket(client)
        self._up = False
        with self._lock:
            pending, self._sent = list(self._sent.values()), {}
        closed = ConnectionError(f"{self._describe()} was destroyed before the message was sent")
        for fut, _ in pending:
            if not fut.done() and self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(_fail, fut, closed)
        for waiter in self._waiting:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(_fail, waiter, closed)
        self._waiting = []


def _settle(fut: asyncio.Future[None], reason: Any) -> None:
    if fut.done():
        return
    if getattr(reason, "is_failure", False):
        fut.set_exception(ConnectionError(f"the broker rejected the message: {reason}"))
    else:
        fut.set_result(None)


def _fail(fut: asyncio.Future[None], exc: Exception) -> None:
    if not fut.done():
        fut.set_exception(exc)
