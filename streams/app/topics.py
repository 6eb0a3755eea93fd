"""Topics and channels: where agents read from and what ``send`` writes to.

A :class:`Topic` is a Kafka topic with a key and value type; it is read by a
:class:`TopicSource` (a Kafka source of the graph, one batch of events per partition and
poll, at least once) and written through the app's producer. Under ``broker="memory://"``
a topic lives in this process (values are still encoded and decoded, so a program
behaves as it will on Kafka). A :class:`Channel` is in memory and keeps values as they
are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..core import Stream
from ..sources.kafka import FromKafka
from .events import Event, Message
from .models import decoder_for, encode_as

__all__ = ["Channel", "RecordMetadata", "Topic", "TopicSource"]

log = logging.getLogger("streams.app")


class RecordMetadata(NamedTuple):
    """Where a sent message was written."""

    topic: str
    partition: int
    offset: int
    timestamp: float | None


class Channel:
    """An in-memory channel (``app.channel()``): agents read it; ``send``/``put`` write
    to it, waiting while its readers are ``maxsize`` events behind (back pressure).

    Values are not serialized: what is sent is what the agent gets.
    """

    def __init__(
        self,
        app: Any,
        key_type: Any = None,
        value_type: Any = None,
        maxsize: int | None = None,
        name: str | None = None,
    ) -> None:
        self.app = app
        self.key_type = key_type
        self.value_type = value_type
        self.maxsize = maxsize
        self.name = name or f"channel-{id(self):x}"
        self.head: Stream[Any] = Stream(stream_name=self.name)
        self.agents: list[Any] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def _event(self, key: Any, value: Any, headers: Any, timestamp: float | None) -> Event:
        ts = time.time() if timestamp is None else timestamp
        return Event(key, value, Message(self.name, -1, -1, ts, _headers(headers), None, None))

    async def send(
        self,
        key: Any = None,
        value: Any = None,
        partition: int | None = None,
        timestamp: float | None = None,
        headers: Any = None,
        **_: Any,
    ) -> RecordMetadata:
        """Deliver ``value`` to the channel's readers; return once they accepted it."""
        await self._emit(self._event(key, value, headers, timestamp))
        return RecordMetadata(self.name, -1, -1, timestamp)

    async def _emit(self, event: Event) -> None:
        pending = self.head.emit([event])
        if pending is not None:
            await pending

    async def put(self, value: Any) -> None:
        """``send(value=value)``."""
        await self.send(value=value)

    def send_soon(self, key: Any = None, value: Any = None, **options: Any) -> Any:
        """Send without waiting; returns a future of the :class:`RecordMetadata`."""
        return asyncio.ensure_future(self.send(key=key, value=value, **options))

    def stream(self) -> Any:
        """A stream over this channel, for use outside an agent (``async for``)."""
        return self.app.stream(self)


class Topic(Channel):
    """A Kafka topic (``app.topic(name, key_type=, value_type=, ...)``).

    ``key_type``/``value_type`` are a :class:`~streams.app.Record` class or ``str``,
    ``bytes``, ``int``, ``float`` (``None``: what the serializer gives); serializers
    default to the app's (``raw`` keys, ``json`` values, as Faust).
    """

    def __init__(
        self,
        app: Any,
        name: str,
        key_type: Any = None,
        value_type: Any = None,
        key_serializer: str | None = None,
        value_serializer: str | None = None,
        partitions: int | None = None,
        internal: bool = False,
        config: Mapping[str, Any] | None = None,
        maxsize: int | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"app.topic: the name must be a non-empty str, got {name!r}")
        super().__init__(app, key_type, value_type, maxsize, name)
        self.topic = name
        self.key_serializer = key_serializer or app.conf["key_serializer"]
        self.value_serializer = value_serializer or app.conf["value_serializer"]
        self.partitions = partitions
        self.internal = internal
        self.config = dict(config or {})
        self.options = options
        self.source: TopicSource | None = None  # the consumer, while the app runs
        # worked out once: decoding runs for every message
        self._key = decoder_for(key_type, self.key_serializer)
        self._value = decoder_for(value_type, self.value_serializer)

    def get_topic_name(self) -> str:
        return self.name

    def derive(self, prefix: str = "", suffix: str = "", **options: Any) -> Topic:
        """A topic like this one, named ``prefix + name + suffix``."""
        settings: dict[str, Any] = {
            "key_type": self.key_type,
            "value_type": self.value_type,
            "key_serializer": self.key_serializer,
            "value_serializer": self.value_serializer,
            "partitions": self.partitions,
            "internal": self.internal,
        }
        settings.update(options)
        derived: Topic = self.app.topic(f"{prefix}{self.name}{suffix}", **settings)
        return derived

    async def declare(self) -> None:
        """Topics are created by the broker when first used (the app creates none)."""

    maybe_declare = declare

    # ------------------------------------------------------------ encoding

    def encode(self, key: Any, value: Any) -> tuple[bytes | None, bytes | None]:
        try:
            k = encode_as(self.key_serializer, key)
        except Exception as exc:
            raise ValueError(
                f"topic {self.name!r}: cannot serialize the key {key!r}: {exc}"
            ) from exc
        try:
            v = encode_as(self.value_serializer, value)
        except Exception as exc:
            raise ValueError(
                f"topic {self.name!r}: cannot serialize the value {value!r}: {exc}"
            ) from exc
        return k, v

    def decode(self, message: Message) -> Event:
        """The event of a message; raises if the key or value does not decode as the
        topic's types."""
        return Event(self._key(message.key), self._value(message.value), message)

    # ------------------------------------------------------------ sending

    async def send(
        self,
        key: Any = None,
        value: Any = None,
        partition: int | None = None,
        timestamp: float | None = None,
        headers: Any = None,
        key_serializer: str | None = None,
        value_serializer: str | None = None,
        force: bool = False,
        **_: Any,
    ) -> RecordMetadata:
        """Send a message; return its :class:`RecordMetadata` once the broker has it."""
        if key_serializer or value_serializer:
            k = encode_as(key_serializer or self.key_serializer, key)
            v = encode_as(value_serializer or self.value_serializer, value)
        else:
            k, v = self.encode(key, value)
        sent: RecordMetadata = await self.app._send_raw(
            self, k, v, partition, timestamp, _headers(headers)
        )
        return sent


def _headers(headers: Any) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in items]


class TopicSource(FromKafka[Any]):
    """The consumer of one :class:`Topic`: emits, per partition and poll, the list of
    the messages' :class:`~streams.app.Event` objects, acknowledged together (their
    offsets are committed once every agent moved past the last of them).

    A message whose key or value does not decode as the topic's types goes to the error
    channel, naming its topic, partition and offset; the agents go on with the next.
    """

    _label = "topic"

    def __init__(self, topic: Topic, consumer_params: Mapping[str, Any], **options: Any) -> None:
        self.app_topic = topic
        super().__init__([topic.name], consumer_params, poll_interval=0.05, keys=True, **options)

    def _revoked(self, consumer: Any, partitions: list[Any]) -> None:
        if partitions and not self._closing:
            log.warning(
                "%s: a rebalance took partitions %s away; is another worker of app %r "
                "running? A worker keeps the tables of the partitions it reads: run one "
                "worker per app id",
                self._describe(),
                sorted(tp.partition for tp in partitions),
                self.app_topic.app.id,
            )
        super()._revoked(consumer, partitions)

    async def _emit_messages(self, messages: list[Any]) -> None:
        by_partition: dict[int, list[Any]] = {}
        for msg in messages:
            err = msg.error()
            if err is not None:
                self._message_error(err)
                continue
            part = by_partition.get(msg.partition())
            if part is None:
                by_partition[msg.partition()] = [msg]
            else:
                part.append(msg)
        name = self.app_topic.name
        decode = self.app_topic.decode
        for partition, batch in by_partition.items():
            cut = self._cut_wait()
            if cut is not None:
                await cut
            if self.stopped:
                return  # not emitted, so not committed: read again after a restart
            key = (name, partition)
            last = batch[-1].offset()
            ack = self._track(key, last)
            events = []
            for msg in batch:
                kind, ms = msg.timestamp()
                message = Message(
                    name,
                    partition,
                    msg.offset(),
                    ms / 1000 if kind else None,
                    msg.headers(),
                    msg.key(),
                    msg.value(),
                )
                try:
                    events.append(decode(message))
                except Exception as exc:
                    where = f"topic {name} partition {partition} offset {msg.offset()}"
                    self.reject(exc, message.value, where)
            if events:
                await self.emit_acked(events, ack)
            else:
                ack()
            self._done[key] = last + 1
            due = self._element_done()
            if due is not None:
                await due
