"""Table changelog topics (``app.Table(name, changelog=True)``), as Faust writes them.

After each checkpoint commits, the keys of a table that changed in it are produced to
the compacted topic ``<app id>-<table>-changelog`` (JSON key and value; a deleted key
gets a tombstone), and awaited before the topics' offsets are committed. The checkpoint
store stays the source of truth; the changelog lets other programs follow a table, and
lets an app with ``store="memory://"`` start with its tables read back from their
changelogs (then tables are at least once: the events after the last committed offsets
are handled again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

__all__ = ["publish", "recover"]

log = logging.getLogger("streams.app")

READ_TIMEOUT = 10.0  # seconds a changelog read waits for the broker


def _key(data: bytes) -> Any:
    return _tuples(json.loads(data))


def _tuples(value: Any) -> Any:
    """JSON gives lists back for the tuples of windowed keys: keys must be hashable."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


async def publish(table: Any, upserts: dict[Any, Any], deletes: list[Any]) -> None:
    """Produce the changed keys of one checkpoint; return once the broker has them."""
    app = table.app
    topic = app.topic(table.changelog_topic, key_serializer="json", internal=True)
    sends = [
        app._send_raw(topic, _json(k), _json(v), None, None, [], direct=True)
        for k, v in upserts.items()
    ]
    sends += [app._send_raw(topic, _json(k), None, None, None, [], direct=True) for k in deletes]
    await asyncio.gather(*sends)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=_default).encode()


def _default(value: Any) -> Any:
    to_json = getattr(value, "to_representation", None)
    if to_json is None:
        raise TypeError(f"cannot write {value!r} to a table changelog (not JSON)")
    return to_json()


async def recover(table: Any) -> int:
    """Read the table's changelog from the start into the table; return how many keys
    it holds afterwards (the keys are marked changed, so the next checkpoint stores
    them)."""
    data = await asyncio.to_thread(_read, table.app, table.changelog_topic)
    for k, v in data.items():
        if v is None:
            table.data.pop(k, None)
        else:
            table.data[k] = v
    table._dirty.update(table.data)
    log.info(
        "table %s: %d keys read back from %s", table.name, len(table.data), table.changelog_topic
    )
    return len(table.data)


def _read(app: Any, topic: str) -> dict[Any, Any]:
    import confluent_kafka as ck  # type: ignore[import-untyped,unused-ignore]

    consumer = ck.Consumer(
        {
            **app._consumer_params(),
            "group.id": f"{app.id}-changelog-reader",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    try:
        meta = consumer.list_topics(topic, READ_TIMEOUT).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            return {}  # no changelog yet
        ends: dict[int, int] = {}
        assign = []
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(ck.TopicPartition(topic, p), READ_TIMEOUT)
            if high > low:
                ends[p] = high
                assign.append(ck.TopicPartition(topic, p, low))
        values: dict[Any, Any] = {}
        consumer.assign(assign)
        deadline = time.monotonic() + READ_TIMEOUT
        while ends:
            messages: list[Any] = consumer.consume(500, 0.1)  # (what came within 0.1 s)
            if messages:
                deadline = time.monotonic() + READ_TIMEOUT
            elif time.monotonic() > deadline:
                raise RuntimeError(
                    f"table changelog {topic!r}: the broker sent nothing for "
                    f"{READ_TIMEOUT:g}s before its end"
                )
            for msg in messages:
                if msg.error() is not None:
                    continue
                raw = msg.value()
                values[_key(msg.key())] = None if raw is None else json.loads(raw)
                if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                    ends.pop(msg.partition(), None)
        return values
    finally:
        consumer.close()
