"""A Kafka sink: produce every element to a topic and wait for the broker's receipt."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Mapping
from typing import Any

from ..core import Stream
from ..loop import running_loop
from ..protocol import Metadata, wait
from .base import Sink

__all__ = ["ToKafka"]

log = logging.getLogger("streams.kafka")

POLL_EVERY = 0.001
"""Seconds between polls of the producer for delivery reports while some are due."""

SPIN_TURNS = 100
"""Turns of the event loop after the last delivery report during which the producer is
polled at every turn (a report on loopback takes about 0.1 ms), before polling every
``POLL_EVERY`` seconds."""

CLOSE_TIMEOUT = 10.0
"""Seconds ``destroy()`` waits for outstanding deliveries before dropping them."""


class ToKafka(Sink[Any]):
    """Node behind :meth:`Stream.to_kafka`: produce each element (bytes or str) to
    ``topic``; the element is accepted once the broker confirmed it, and the delivered
    value (bytes) goes downstream."""

    _label = "to_kafka"

    def __init__(
        self,
        upstream: Stream[Any],
        topic: str,
        producer_config: Mapping[str, Any],
        **options: Any,
    ) -> None:
        import confluent_kafka as ck  # type: ignore[import-untyped,unused-ignore]

        if not isinstance(topic, str) or not topic:
            raise ValueError(f"to_kafka: topic must be a topic name, got {topic!r}")
        if not isinstance(producer_config, Mapping):
            raise TypeError(f"to_kafka: producer_config must be a dict, got {producer_config!r}")
        self.topic = topic
        self.producer_config = dict(producer_config)
        config = dict(producer_config)
        # Each element waits for its receipt, so lingering to fill batches only adds latency.
        config.setdefault("linger.ms", 0)
        config.setdefault("logger", log)
        try:
            self._producer: Any = ck.Producer(config)
        except ck.KafkaException as exc:
            raise ValueError(f"to_kafka: invalid producer_config: {exc.args[0].str()}") from None
        self._due: set[asyncio.Future[Any]] = set()  # delivery reports not received yet
        self._pump: asyncio.Task[None] | None = None  # polls the producer while some are due
        super().__init__(upstream, **options)
        self._require_loop()

    def _detail(self) -> str:
        return self.topic

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            receipt = self._produce(x)
        except BufferError:  # the client's queue is full: wait for room
            return self._produce_later(x, who, metadata)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        return self._deliver(receipt, x, who, metadata)

    def _produce(self, x: Any) -> asyncio.Future[Any]:
        """Hand ``x`` to the client; return a future of its delivered value."""
        if not isinstance(x, bytes | bytearray | str):
            raise TypeError(
                f"to_kafka: elements must be bytes or str, got {type(x).__name__} "
                "(serialize it first, e.g. with .map(json.dumps))"
            )
        producer = self._producer
        if producer is None:
            raise RuntimeError(f"{self._describe()}: the producer was closed (destroy())")
        loop = asyncio.get_running_loop()
        receipt: asyncio.Future[Any] = loop.create_future()
        producer.produce(self.topic, x, on_delivery=functools.partial(_delivered, receipt))
        self._due.add(receipt)
        receipt.add_done_callback(self._due.discard)
        if self._pump is None:
            self._pump = loop.create_task(self._run_pump())
        return receipt

    async def _run_pump(self) -> None:
        """Serve delivery reports until none is due: at every turn of the loop shortly
        after a report (the next one is likely close), then every ``POLL_EVERY``."""
        idle = 0
        try:
            while self._due:
                producer = self._producer
                if producer is None:
                    return
                try:
                    idle = 0 if producer.poll(0) else idle + 1
                except Exception:  # a failing log handler...: keep serving reports
                    log.exception("%s: polling the producer failed", self._describe())
                    idle = SPIN_TURNS
                await asyncio.sleep(0 if idle < SPIN_TURNS else POLL_EVERY)
        finally:
            self._pump = None

    async def _produce_later(self, x: Any, who: Stream[Any] | None, metadata: Metadata) -> None:
        while True:
            producer = self._producer
            if producer is not None:
                producer.poll(0)
            await asyncio.sleep(POLL_EVERY)
            try:
                receipt = self._produce(x)
            except BufferError:
                continue
            except Exception as exc:
                await wait(self._failed(exc, x, who, metadata))
                return
            await self._deliver(receipt, x, who, metadata)
            return

    async def _deliver(
        self, receipt: asyncio.Future[Any], x: Any, who: Stream[Any] | None, metadata: Metadata
    ) -> None:
        """Wait for ``x``'s delivery report, then emit the delivered value downstream."""
        try:
            value = await receipt
        except Exception as exc:
            await wait(self._failed(exc, x, who, metadata))
            return
        self.current_value = x
        await wait(self._emit(value, metadata))

    def flush(self, timeout: float | None = None) -> int:
        """Block until every produced element was delivered, or ``timeout`` seconds
        passed; return how many are still outstanding (streamz compatibility).

        Inside a running event loop use ``await node.drain()`` instead, which does not
        block the loop.
        """
        producer = self._producer
        if producer is None:
            return 0
        return int(producer.flush(-1 if timeout is None else timeout))

    def _held_count(self) -> int:
        """Messages produced whose delivery was not confirmed yet."""
        return len(self._due)

    async def _flush(self) -> bool:
        due = list(self._due)
        if not due:
            return False
        await asyncio.wait(due)
        return True

    async def _aclose(self) -> None:
        """Close on the loop without blocking it (what ``destroy()`` uses, see
        :mod:`streams.teardown`): the client's final flush, which serves the delivery
        reports of what is out for at most ``CLOSE_TIMEOUT`` seconds, runs in a worker
        thread."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await asyncio.to_thread(self._flush_client, producer)

    def _close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            self._flush_client(producer)

    def _flush_client(self, producer: Any) -> None:
        """Flush ``producer``; after ``CLOSE_TIMEOUT`` drop (and so fail) what is left."""
        if producer.flush(CLOSE_TIMEOUT):  # serves the delivery reports of what is out
            log.warning(
                "%s: dropping undelivered messages after %gs", self._describe(), CLOSE_TIMEOUT
            )
            producer.purge()
            producer.flush(0)  # their reports now fail the waiting emitters
        # No producer.close(): destroy() may run in another thread while the pump task
        # polls this producer on the loop; the client goes with its last reference.


def _delivered(receipt: asyncio.Future[Any], err: Any, msg: Any) -> None:
    """The client's delivery report for one message (in the thread that polled)."""
    loop = receipt.get_loop()
    if running_loop() is loop:
        _settle(receipt, err, msg)
        return
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
        loop.call_soon_threadsafe(_settle, receipt, err, msg)


def _settle(receipt: asyncio.Future[Any], err: Any, msg: Any) -> None:
    if receipt.done():
        return
    if err is not None:
        import confluent_kafka as ck

        receipt.set_exception(ck.KafkaException(err))
    else:
        receipt.set_result(msg.value())
