"""Replies to :meth:`Agent.ask` over Kafka: one reply topic per app process.

The asker's app reads its reply topic from the beginning (the topic is new to this
process); an agent that handles a request sends what it yields there, keyed by the
request's correlation id.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

__all__ = ["consume_replies"]

log = logging.getLogger("streams.app")


async def consume_replies(app: Any, topic: str) -> None:
    """Resolve ``app._replies`` futures from the messages of ``topic`` until cancelled."""
    import confluent_kafka as ck  # type: ignore[import-untyped,unused-ignore]

    params = app._consumer_params()
    params["group.id"] = topic
    params["logger"] = logging.getLogger("streams.kafka")
    consumer = ck.Consumer(params)
    consumer.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
    try:
        while True:
            messages = await asyncio.to_thread(consumer.consume, 100, 0.1)
            for msg in messages:
                if msg.error() is not None:
                    log.debug("reply topic %s: %s", topic, msg.error())
                    continue
                future = app._replies.get((msg.key() or b"").decode())
                if future is None or future.done():
                    continue
                try:
                    future.set_result(json.loads(msg.value() or b"null"))
                except Exception as exc:
                    future.set_exception(exc)
    finally:
        await asyncio.to_thread(consumer.close)
