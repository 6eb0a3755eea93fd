"""Events and messages: what an agent's stream hands out, and where it came from.

An :class:`Event` is one decoded message (``key``, ``value``) with its :class:`Message`
(topic, partition, offset, timestamp, headers). The event an agent is handling is
:func:`current_event` (a context variable, so concurrent agent instances each see
their own); windowed tables read its timestamp.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ["Event", "Message", "current_event"]


class Message:
    """Where an event came from: a Kafka message's coordinates (or a channel's).

    Attributes
    ----------
    topic : str
    partition : int
        ``-1`` for an in-memory channel.
    offset : int
        ``-1`` for an in-memory channel.
    timestamp : float or None
        Seconds since the epoch: the Kafka message's timestamp.
    headers : list of (str, bytes)
    key, value : bytes or None
        The raw (encoded) key and value.
    """

    __slots__ = ("headers", "key", "offset", "partition", "timestamp", "topic", "value")

    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        timestamp: float | None,
        headers: list[tuple[str, bytes]] | None,
        key: bytes | None,
        value: bytes | None,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
        self.headers = headers or []
        self.key = key
        self.value = value

    @property
    def tp(self) -> tuple[str, int]:
        """``(topic, partition)``."""
        return (self.topic, self.partition)

    def __repr__(self) -> str:
        return f"<Message {self.topic}[{self.partition}]@{self.offset}>"


class Event:
    """One message as an agent sees it: the decoded ``key`` and ``value``, and the
    ``message`` it came from.

    An event is acknowledged when the agent's stream moves past it (the agent asks for
    the next one): its offset is committed only then. ``ack()`` and ``async with
    event`` exist for Faust programs and change nothing.
    """

    __slots__ = ("headers", "key", "message", "value")

    def __init__(self, key: Any, value: Any, message: Message) -> None:
        self.key = key
        self.value = value
        self.message = message
        self.headers = message.headers

    def ack(self) -> bool:
        """Nothing to do: events are acknowledged when the stream moves past them."""
        return False

    async def __aenter__(self) -> Event:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v.decode() if isinstance(v, bytes) else str(v)
        return None

    def __repr__(self) -> str:
        m = self.message
        return f"<Event {m.topic}[{m.partition}]@{m.offset} key={self.key!r} value={self.value!r}>"


_current: ContextVar[Event | None] = ContextVar("streams_app_event", default=None)


def current_event() -> Event | None:
    """The event the running agent is handling (``None`` outside an agent)."""
    return _current.get()
