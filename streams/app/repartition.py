"""Repartitioning: ``stream.group_by(key)`` and ``stream.through(topic)``.

Each event is sent on (with its new key) to a topic, by a forwarding task that reads the
agent's stream; the stream returned reads that topic. For ``group_by`` the topic is
``<app id>-<topic>-<name>-repartition``, an internal topic of the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..core import Stream
from .streaming import AgentStream, Inbox, StreamBase

__all__ = ["repartition"]


def repartition(
    app: Any, stream: StreamBase, key: Any, name: str | None, topic: Any, partitions: int | None
) -> StreamBase:
    """The stream of ``stream.group_by(key)`` / ``stream.through(topic)`` (see
    :meth:`~streams.app.streaming.StreamBase.group_by`)."""
    keyfun: Callable[[Any], Any] | None
    if key is None:  # through(topic): the events go on with their keys
        keyfun, field = None, None
    else:
        keyfun, field = _key_function(key)
    if isinstance(topic, str):
        topic = app.topic(topic)
    if topic is None:
        suffix = name or field
        if suffix is None:
            raise ValueError("group_by: a key function needs name= (it names the topic)")
        root = stream._root()
        source = root.inbox.upstreams[0]
        origin = getattr(source, "app_topic", None) or _topic_of(app, source)
        # the new keys' type: the field's, else JSON keeps them as they were
        key_type = getattr(key, "type", None)
        if key_type not in (str, int, float, bytes):
            key_type = None
        topic = origin.derive(
            prefix=f"{app.id}-",
            suffix=f"-{suffix}-repartition",
            partitions=partitions,
            key_type=key_type,
            key_serializer="raw" if key_type is not None else "json",
            internal=True,
        )
    done: AgentStream | None = app._repartitioned.get((id(stream._root()), topic.name))
    if done is not None:
        return done  # an agent restarted after an error: the same stream again
    if app.checkpointer is not None:
        raise RuntimeError(
            f"App {app.id}: group_by/through must be called when the agent starts, "
            "before its first await (its topic is read as part of the app's graph)"
        )
    if app.processing_guarantee == "exactly_once":
        app.output(topic)
    app._attach_source(topic)
    inbox = Inbox(
        topic.head, app.conf["stream_buffer_maxsize"], stream_name=f"group_by:{topic.name}"
    )
    reader = AgentStream(app, None)
    reader._bind(inbox)
    app._repartitions.append(inbox)

    async def forward() -> None:
        async for event in stream.events():
            key = event.key if keyfun is None else keyfun(event.value)
            await topic.send(key=key, value=event.value)

    app._forwarders.append(asyncio.ensure_future(forward()))
    app._repartitioned[(id(stream._root()), topic.name)] = reader
    return reader


def _topic_of(app: Any, head: Stream[Any]) -> Any:
    for topic in app.topics.values():
        if topic.head is head:
            return topic
    raise ValueError("group_by: only a stream of a topic can be repartitioned")


def _key_function(key: Any) -> tuple[Callable[[Any], Any], str | None]:
    field = getattr(key, "field", None)
    if isinstance(field, str):
        return (lambda value: getattr(value, field)), field
    if isinstance(key, str):
        return (lambda value: getattr(value, key)), key
    if callable(key):
        return key, None
    raise TypeError(f"group_by: key must be a field (Order.account_id) or a function, got {key!r}")
