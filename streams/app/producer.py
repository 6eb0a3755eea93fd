"""The app's Kafka producer: ``send`` returns once the broker has the message.

One confluent-kafka producer per app. A thread polls it for delivery reports while
sends are outstanding and resolves each send's future on the loop; a broker that is
down makes ``send`` fail after ``delivery.timeout.ms`` with the broker's error, never
hang.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from typing import Any

from .topics import RecordMetadata

__all__ = ["AppProducer"]

log = logging.getLogger("streams.app")


class AppProducer:
    """Produce messages for an app and report their delivery to the loop."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        import confluent_kafka as ck  # type: ignore[import-untyped,unused-ignore]

        settings = dict(config)
        settings.setdefault("linger.ms", 1)
        settings.setdefault("logger", logging.getLogger("streams.kafka"))
        self._client = ck.Producer(settings)
        self._due = 0
        self._lock = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(
            target=self._poll, name="streams-app-producer", daemon=True
        )
        self._thread.start()

    def _poll(self) -> None:
        client = self._client
        while True:
            with self._lock:
                while not self._due and not self._closed:
                    self._lock.wait()
                if self._closed and not self._due:
                    return
            client.poll(0.05)

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: list[tuple[str, bytes]],
    ) -> asyncio.Future[RecordMetadata]:
        """Start sending; the future is done when the broker acknowledged the message."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[RecordMetadata] = loop.create_future()

        def delivered(err: Any, msg: Any) -> None:  # in the polling thread
            with self._lock:
                self._due -= 1
            loop.call_soon_threadsafe(_settle, future, err, msg)

        extra: dict[str, Any] = {}
        if partition is not None:
            extra["partition"] = partition
        if timestamp is not None:
            extra["timestamp"] = int(timestamp * 1000)
        if headers:
            extra["headers"] = headers
        with self._lock:
            self._due += 1
            self._lock.notify()
        while True:
            try:
                self._client.produce(topic, value, key, on_delivery=delivered, **extra)
                return future
            except BufferError:  # the client's queue is full: let it send some
                self._client.poll(0.01)
            except Exception:
                with self._lock:
                    self._due -= 1
                raise

    def flush(self, timeout: float = 10.0) -> int:
        """Wait (blocking) until every message is delivered; return how many are left."""
        left: int = self._client.flush(timeout)
        return left

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join(timeout=30)


def _settle(future: asyncio.Future[RecordMetadata], err: Any, msg: Any) -> None:
    if future.done():
        return
    if err is not None:
        import confluent_kafka as ck

        exc = ck.KafkaException(err)
        exc.add_note(f"while sending to topic {msg.topic()!r}")
        future.set_exception(exc)
        return
    kind, ms = msg.timestamp()
    future.set_result(
        RecordMetadata(msg.topic(), msg.partition(), msg.offset(), ms / 1000 if kind else None)
    )
