"""Exactly-once output to Kafka: ``to_kafka(..., exactly_once=True)``.

The sink never produces an element when it arrives. It keeps the elements of the
current epoch (since the last checkpoint) in memory; at the cut they become the
checkpoint's *outbox*, written in the checkpoint's own transaction. Once the checkpoint
has committed, the outbox goes to Kafka in one Kafka transaction together with a
*marker* record naming the checkpoint, on a one-partition marker topic
(``<topic>.commits`` by default). A restore re-sends every stored outbox whose marker
is not in Kafka yet, and none whose marker is: a ``read_committed`` consumer of the topic
sees each element exactly once, whatever crashed where.

Neither Kafka's transactional offset commits nor Kafka-held state are needed: the
checkpoint store is the source of truth and the marker makes delivery idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..core import Stream
from ..protocol import Metadata
from ..sinks.base import Sink
from .crash import crash_point
from .nodes import Adapter, register
from .store import Full

__all__ = ["ToKafkaExactlyOnce"]

Element = bytes | str | tuple[Any, Any, Any, Any]
"""What the sink holds: a value, or a keyed record ``(key, value, headers, partition)``."""

log = logging.getLogger("streams.kafka")

DELIVERY_TIMEOUT = 60.0
"""Seconds a checkpoint's Kafka transaction is retried (broker down, a retriable error)
before the checkpoint fails with the cause."""

_SHARED = ("bootstrap.servers", "security.", "sasl.", "ssl.", "client.id", "socket.")
"""Producer settings the marker reader shares (how to reach and talk to the cluster)."""


class ToKafkaExactlyOnce(Sink[Any]):
    """Node behind ``to_kafka(topic, config, exactly_once=True)``: each element (bytes or
    str) reaches ``topic`` once, in the Kafka transaction of the checkpoint after it. An
    element may also be a keyed record ``(key, value, headers, partition)`` (headers a
    list of ``(name, bytes)``, partition ``None`` for the key's).

    It runs under a :class:`~streams.state.Checkpointer` (an element arriving without one
    is an error) and passes nothing downstream. Consumers must read the topic with
    ``isolation.level=read_committed``.
    """

    _label = "to_kafka"

    def __init__(
        self,
        upstream: Stream[Any],
        topic: str,
        producer_config: Mapping[str, Any],
        marker_topic: str | None = None,
        max_pending: int = 100_000,
        **options: Any,
    ) -> None:
        import confluent_kafka as ck  # type: ignore[import-untyped,unused-ignore]

        if not isinstance(topic, str) or not topic:
            raise ValueError(f"to_kafka: topic must be a topic name, got {topic!r}")
        if not isinstance(producer_config, Mapping):
            raise TypeError(f"to_kafka: producer_config must be a dict, got {producer_config!r}")
        name = options.get("stream_name")
        if name is None:
            raise ValueError(
                "to_kafka(exactly_once=True): give it a stream_name (it names the sink's "
                "outbox in the checkpoints and its Kafka transactional.id)"
            )
        if not isinstance(max_pending, int) or max_pending < 1:
            raise ValueError(f"to_kafka: max_pending must be a positive int, got {max_pending!r}")
        self.topic = topic
        self.marker_topic = marker_topic or f"{topic}.commits"
        self.max_pending = max_pending
        config = dict(producer_config)
        config.setdefault("transactional.id", f"streams-{name}")
        config.setdefault("logger", log)
        self.producer_config = config
        try:  # its transactions start (and fence older producers) on first use
            self._client: Any = ck.Producer(config)
        except ck.KafkaException as exc:
            raise ValueError(f"to_kafka: invalid producer_config: {exc.args[0].str()}") from None
        self._epoch: list[Element] = []  # elements since the last cut
        self._outboxes: dict[int, list[Element]] = {}  # cut, not yet in Kafka
        self._run = uuid.uuid4().hex  # tells this store's markers from another's
        self._checkpointer: Any = None
        self._asked = False  # a checkpoint was requested for a full epoch
        self._asking: asyncio.Future[None] | None = None
        self._ready = False  # init_transactions done (in the delivery thread)
        self._recovering = False  # restored outboxes: ask Kafka which arrived
        self._executor: ThreadPoolExecutor | None = None
        super().__init__(upstream, **options)

    def _detail(self) -> str:
        return self.topic

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            if not isinstance(x, bytes | bytearray | str) and not _is_record(x):
                raise TypeError(
                    f"to_kafka: elements must be bytes or str, got {type(x).__name__} "
                    "(serialize it first, e.g. with .map(json.dumps))"
                )
            if self._checkpointer is None:
                raise RuntimeError(
                    f"{self._describe()}: exactly_once=True needs the graph to run under a "
                    "streams.state.Checkpointer (its elements go out with the checkpoints)"
                )
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        self._epoch.append(bytes(x) if isinstance(x, bytearray) else x)
        self.current_value = x
        if len(self._epoch) >= self.max_pending and not self._asked:
            self._asked = True  # the epoch is full: deliver it with a checkpoint soon
            # (a failure is kept for the checkpointer's stop(), which raises it)
            self._asking = asyncio.ensure_future(self._checkpointer._checkpoint_quietly())
        return None

    def _held_count(self) -> int:
        return len(self._epoch) + sum(len(box) for box in self._outboxes.values())

    # -------------------------------------------------------------- checkpoints

    def _cut(self, checkpoint_id: int) -> dict[str, Any]:
        """At the cut: the epoch becomes outbox ``checkpoint_id``; return what the
        checkpoint stores (every outbox not known to be in Kafka)."""
        if self._epoch:
            self._outboxes[checkpoint_id] = self._epoch
            self._epoch = []
        self._asked = False
        return {"run": self._run, "outboxes": {k: list(v) for k, v in self._outboxes.items()}}

    def _restore(self, stored: dict[str, Any]) -> None:
        self._run = stored["run"]
        self._outboxes = {int(k): list(v) for k, v in stored["outboxes"].items()}
        self._epoch = []  # the replay produces them again
        self._recovering = bool(self._outboxes)

    async def _deliver(self) -> None:
        """Send every committed outbox, oldest first, each in its own transaction."""
        if not self._outboxes and not self._recovering:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="streams-kafka-eos")
        boxes = sorted(self._outboxes.items())
        loop = asyncio.get_running_loop()
        delivered = await loop.run_in_executor(self._executor, self._send, boxes)
        for k in delivered:
            self._outboxes.pop(k, None)

    # -------------------------------------------------------------- in the thread

    def _send(self, boxes: list[tuple[int, list[Element]]]) -> list[int]:
        producer = self._transactional()
        done: list[int] = []
        if self._recovering:
            last = self._last_marker()
            done = [k for k, _ in boxes if k <= last]  # in Kafka before the crash
            boxes = [(k, box) for k, box in boxes if k > last]
            self._recovering = False
        for k, box in boxes:
            self._transaction(producer, k, box)
            crash_point("after_sink_commit")
            done.append(k)
        return done

    def _transactional(self) -> Any:
        producer = self._client
        if producer is None:
            raise RuntimeError(f"{self._describe()}: the producer was closed (destroy())")
        if not self._ready:
            # fences an older producer of this transactional.id and aborts its open
            # transaction, so the marker topic below shows only committed ones
            self._retrying("init_transactions", lambda: producer.init_transactions(10))
            self._ready = True
        return producer

    def _transaction(self, producer: Any, k: int, box: list[Element]) -> None:
        def attempt() -> None:
            producer.begin_transaction()
            try:
                for value in box:
                    if isinstance(value, tuple):  # (key, value, headers, partition)
                        self._produce_record(producer, self.topic, value)
                    else:
                        self._produce(producer, self.topic, value)
                marker = f"{self._run}:{k}"
                self._produce(producer, self.marker_topic, marker, partition=0)
                producer.commit_transaction(DELIVERY_TIMEOUT)
            except Exception as exc:
                if _aborts(exc):
                    producer.abort_transaction(DELIVERY_TIMEOUT)
                raise

        self._retrying(f"the transaction of checkpoint {k}", attempt)

    @staticmethod
    def _produce(producer: Any, topic: str, value: Any, partition: int | None = None) -> None:
        extra = {} if partition is None else {"partition": partition}
        while True:
            try:
                producer.produce(topic, value, **extra)
                return
            except BufferError:  # the client's queue is full: let it send some
                producer.poll(0.05)

    @staticmethod
    def _produce_record(producer: Any, topic: str, record: tuple[Any, ...]) -> None:
        key, value, headers, partition = record
        extra: dict[str, Any] = {"key": key}
        if headers:
            extra["headers"] = headers
        if partition is not None:
            extra["partition"] = partition
        while True:
            try:
                producer.produce(topic, value, **extra)
                return
            except BufferError:
                producer.poll(0.05)

    def _retrying(self, what: str, work: Any) -> None:
        import confluent_kafka as ck

        deadline = time.monotonic() + DELIVERY_TIMEOUT
        pause = 0.05
        while True:
            try:
                work()
                return
            except ck.KafkaException as exc:
                error = exc.args[0]
                fatal = error.fatal() or not (error.retriable() or error.txn_requires_abort())
                if fatal or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self._describe()}: {what} failed: {error.str()}; the checkpoint "
                        "keeps the outbox, a restart sends it"
                    ) from exc
                log.warning("%s: %s failed (%s); retrying", self._describe(), what, error.str())
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def _last_marker(self) -> int:
        """The latest checkpoint id of this run whose transaction Kafka committed (-1:
        none), read with ``read_committed`` from the end of the marker topic back."""
        import confluent_kafka as ck

        shared = {k: v for k, v in self.producer_config.items() if k.startswith(_SHARED)}
        consumer = ck.Consumer(
            {
                **shared,
                "group.id": f"{self.producer_config['transactional.id']}-markers",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "isolation.level": "read_committed",
                "logger": log,
            }
        )
        try:
            tp = ck.TopicPartition(self.marker_topic, 0)
            try:
                low, high = consumer.get_watermark_offsets(tp, timeout=10)
            except ck.KafkaException:
                return -1  # no marker topic: nothing was ever delivered
            start, last = high, -1
            while last < 0 and start > low:
                start = max(low, start - max(64, 2 * (high - start)))
                last = self._read_markers(consumer, ck.TopicPartition(self.marker_topic, 0, start))
            return last
        finally:
            consumer.close()

    def _read_markers(self, consumer: Any, tp: Any) -> int:
        consumer.assign([tp])
        last = -1
        prefix = f"{self._run}:"
        while True:
            msg = consumer.poll(10)
            if msg is None:
                raise RuntimeError(f"{self._describe()}: the marker topic did not answer")
            if msg.error():
                if msg.error().code() == -191:  # _PARTITION_EOF: read to the end
                    return last
                raise RuntimeError(f"{self._describe()}: reading markers: {msg.error().str()}")
            value = msg.value().decode()
            if value.startswith(prefix):
                last = max(last, int(value[len(prefix) :]))

    def _close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._client = None


def _is_record(x: Any) -> bool:
    """A keyed record ``(key, value, headers, partition)``: key and value bytes or
    ``None``, headers a list of ``(str, bytes)``, partition an int or ``None``."""
    return (
        isinstance(x, tuple)
        and len(x) == 4
        and all(v is None or isinstance(v, bytes | str) for v in x[:2])
        and (x[3] is None or isinstance(x[3], int))
    )


def _aborts(exc: Exception) -> bool:
    """Whether the failed transaction must be aborted before another is begun."""
    args: tuple[Any, ...] = getattr(exc, "args", ())
    return bool(args) and hasattr(args[0], "txn_requires_abort") and args[0].txn_requires_abort()


@register("streams.state.kafka.ToKafkaExactlyOnce")
class _ToKafkaExactlyOnce(Adapter):
    """The outboxes not yet in Kafka; each commit sends them."""

    def attached(self, node: Any, checkpointer: Any) -> None:
        node._checkpointer = checkpointer

    def snapshot(self, node: Any) -> Any:
        return Full(node._cut(node._checkpointer.taking))

    def restore(self, node: Any, value: Any) -> None:
        node._restore(value)

    def committed(self, node: Any) -> Any:
        return node._deliver()
