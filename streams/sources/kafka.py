"""Kafka sources, at least once: ``from_kafka`` (one element per message) and
``from_kafka_batched`` (one list per partition per poll).

Every element is emitted with :meth:`Source.emit_acked`; an offset is committed only
once every branch downstream has finished with its element, and only as far as the
elements before it in its partition are finished too.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from .._util import parse_interval, positive_int
from .base import Backoff, Source, decoder

__all__ = ["FromKafka", "FromKafkaBatched"]

T = TypeVar("T")

log = logging.getLogger("streams.kafka")
"""Where librdkafka's own log lines go (unless the config names another ``logger``)."""

CHUNK = 500  # messages taken from the consumer per call
METADATA_TIMEOUT = 1.0  # seconds to wait for topic metadata (in a worker thread)
Key = tuple[str, int]  # a partition: (topic, partition)


class _Offsets:
    """The elements of one partition that were emitted and not yet committed.

    Each element is known by the offset of its last message. Acknowledgements may come
    in any order; the position to commit only moves past the longest finished prefix,
    so an element that never finishes holds back the commits of those after it.
    """

    __slots__ = ("done", "floor", "pending")

    def __init__(self) -> None:
        self.pending: deque[int] = deque()
        self.done: set[int] = set()
        self.floor = -1  # offsets up to here are committable already

    def add(self, last: int) -> None:
        self.pending.append(last)

    def ack(self, last: int) -> int | None:
        """``last``'s element is finished; return the new commit position, if it moved."""
        if last <= self.floor:
            return None  # acknowledged twice
        pending, done = self.pending, self.done
        done.add(last)
        top = None
        while pending and pending[0] in done:
            top = pending.popleft()
            done.discard(top)
        if top is None:
            return None
        self.floor = top
        return top + 1


class _KafkaSource(Source[T]):
    """What both Kafka sources share: the consumer's life, acknowledgements, commits and
    error reports. Subclasses implement ``_consume``."""

    def __init__(
        self,
        consumer_params: Mapping[str, Any],
        poll_interval: Any,
        keys: bool,
        decode: Any,
        **options: Any,
    ) -> None:
        label = self._label
        if not isinstance(consumer_params, Mapping):
            raise TypeError(f"{label}: consumer_params must be a dict, got {consumer_params!r}")
        if not consumer_params.get("group.id"):
            raise ValueError(
                f"{label}: consumer_params must set 'group.id' (offsets are committed "
                "for that consumer group)"
            )
        self.consumer_params = dict(consumer_params)
        self._servers = str(consumer_params.get("bootstrap.servers", ""))
        self.poll_interval = parse_interval(label, poll_interval)
        self.keys = bool(keys)
        self._decode = decoder(label, decode)
        self._consumer: Any = None
        self._closing = False
        self._tracks: dict[Key, _Offsets] = {}
        self._positions: dict[Key, int] = {}  # commit positions reached in this run
        # durable state (streams.state): the next offset per partition after the last
        # element handled, and the positions a restored checkpoint reads on from
        self._done: dict[Key, int] = {}
        self._restored: dict[Key, int] = {}
        self._at_cut: dict[Key, int] = {}  # positions of the checkpoint being committed
        self._committed: dict[Key, int] = {}  # positions of the last committed checkpoint
        self._errors: list[Any] = []  # client errors reported by librdkafka (error_cb)
        self._config = self._make_config()
        _check_config(label, self._config)
        super().__init__(**options)

    def _make_config(self) -> dict[str, Any]:
        config = dict(self.consumer_params)
        config["enable.auto.commit"] = False  # offsets are committed once processed
        config.setdefault("logger", log)
        user_error_cb, user_on_commit = config.get("error_cb"), config.get("on_commit")

        def error_cb(err: Any) -> None:
            self._errors.append(err)
            if user_error_cb is not None:
                user_error_cb(err)

        def on_commit(err: Any, partitions: list[Any]) -> None:
            if err is not None:  # commits are cumulative: the next one covers this one
                log.warning(
                    "%s: offset commit failed (the next one retries): %s", self._describe(), err
                )
            if user_on_commit is not None:
                user_on_commit(err, partitions)

        config["error_cb"], config["on_commit"] = error_cb, on_commit
        return config

    # ------------------------------------------------------------------ the run

    async def run(self) -> None:
        import confluent_kafka as ck  # type: ignore[import-untyped,unused-ignore]

        self._tracks, self._positions, self._errors = {}, {}, []
        self._closing = False
        consumer = ck.Consumer(self._config)
        self._consumer = consumer
        try:
            await self._consume(consumer)
        finally:
            await self._shut(consumer)

    async def _consume(self, consumer: Any) -> None:
        """Subscribe or assign, then read and emit until stopped."""
        raise NotImplementedError

    async def _shut(self, consumer: Any) -> None:
        """Commit what was acknowledged, synchronously, then close the consumer (both in
        a worker thread, so the loop goes on). During shutdown() that waits until the
        graph was drained, so the commit covers what the drain delivered."""
        try:
            await self.until_drained()
            checkpointer = self._checkpointer
            if checkpointer is not None:  # commit what the last checkpoint holds, once it is
                await checkpointer.last_committed()
                positions = self._committed
            else:
                positions = self._positions
            self._closing = True
            offsets = self._topic_partitions(positions.items())
            self._tracks = {}
            if offsets:
                await asyncio.to_thread(consumer.commit, offsets=offsets, asynchronous=False)
        except Exception as exc:
            exc.add_note(
                f"in {self._describe()}: could not commit the final offsets; what was processed "
                "since the last commit will be read again"
            )
            self._report(exc, None, ())
        finally:
            self._consumer = None
            await asyncio.to_thread(consumer.close)

    def _topic_partitions(self, positions: Iterable[tuple[Key, int]]) -> list[Any]:
        import confluent_kafka as ck

        return [ck.TopicPartition(topic, part, pos) for (topic, part), pos in positions]

    # ------------------------------------------------------------------ acknowledgements

    def _track(self, key: Key, last: int) -> Callable[[], None]:
        """Record an element ending at offset ``last``; return its acknowledgement."""
        offsets = self._tracks.get(key)
        if offsets is None:
            offsets = self._tracks[key] = _Offsets()
        offsets.add(last)

        def ack() -> None:
            if self._tracks.get(key) is not offsets:
                return  # revoked, or the source has stopped: the next reader redoes it
            position = offsets.ack(last)
            if position is not None:
                self._positions[key] = position
                if self._checkpointer is None:  # (else: the checkpoints' positions)
                    self._commit_async([(key, position)])

        return ack

    def _commit_async(self, positions: list[tuple[Key, int]]) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        try:
            consumer.commit(offsets=self._topic_partitions(positions), asynchronous=True)
        except Exception as exc:  # a closed or failed client; the final commit retries
            log.warning("%s: cannot commit %s: %s", self._describe(), positions, exc)

    def _revoked(self, consumer: Any, partitions: list[Any]) -> None:
        """Partitions taken away by a rebalance: commit what is done, forget the rest
        (its elements are read again by the new owner)."""
        if self._closing or self._checkpointer is not None:
            return  # (under a checkpointer only checkpointed positions are committed)
        done = []
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self._tracks.pop(key, None)
            position = self._positions.pop(key, None)
            if position is not None:
                done.append((key, position))
        if done:
            self._commit_async(done)

    # ------------------------------------------------------------------ durable state

    def _cut(self) -> dict[Key, int]:
        """At a checkpoint's cut: the positions it stores (committed to the group once
        the checkpoint is: the group's offsets never run ahead of the store, so a
        partition a restored checkpoint does not know starts where that checkpoint
        did)."""
        self._at_cut = dict(self._done)
        return dict(self._at_cut)

    def _checkpoint_committed(self) -> None:
        self._committed = self._at_cut
        if self._committed:
            self._commit_async(list(self._committed.items()))

    def _restore(self, positions: Mapping[Key, int]) -> None:
        """Read on from ``positions`` (a restored checkpoint) instead of the group's
        committed offsets."""
        self._restored = dict(positions)
        self._done = dict(positions)

    def _seek_restored(self, partitions: list[Any]) -> list[Any]:
        for tp in partitions:  # (once: a later assignment reads on from the group's offsets)
            position = self._restored.pop((tp.topic, tp.partition), None)
            if position is not None:
                tp.offset = position
        return partitions

    # ------------------------------------------------------------------ reading

    def _element(self, msg: Any) -> tuple[bool, Any]:
        """Decode a message: ``(True, element)``, or ``(False, None)`` if there is nothing
        to emit (a tombstone, or malformed input, which is rejected)."""
        raw = msg.value()
        if raw is None and not self.keys:
            return False, None
        try:
            value = raw if raw is None else self._decode(raw)
        except Exception as exc:
            where = f"topic {msg.topic()} partition {msg.partition()} offset {msg.offset()}"
            self.reject(exc, raw, where)
            return False, None
        if self.keys:
            return True, {"key": msg.key(), "value": value}
        return True, value

    def _message_error(self, err: Any) -> None:
        """An error delivered as a message (an unknown topic...); end-of-partition
        events are not errors."""
        import confluent_kafka as ck

        if err.code() == ck.KafkaError._PARTITION_EOF:
            return
        exc = ck.KafkaException(err)
        exc.add_note(f"in {self._describe()}: the consumer reported an error")
        self._report(exc, None, ())

    async def _failed_to_reach(self, exc: Exception, backoff: Backoff, target: str = "") -> None:
        """Report a failed attempt and wait before the next one."""
        delay = backoff.next()
        self.connection_failed(exc, target or self._servers, delay)
        await self.sleep(delay)

    async def _pause(self, backoff: Backoff, got: bool, backlog: bool) -> None:
        """Wait before the next poll. Client errors (a broker is unreachable...) seen
        while nothing came are reported, and the source backs off; while messages come,
        librdkafka copes with them (they are only logged)."""
        import confluent_kafka as ck

        errors, self._errors = self._errors, []
        fatal = [e for e in errors if e.fatal()]
        if fatal or (errors and not got):
            if fatal:
                self.stop()  # librdkafka cannot go on with this client
            await self._failed_to_reach(ck.KafkaException((fatal or errors)[-1]), backoff)
        elif got:
            backoff.reset()
        if backlog:
            await asyncio.sleep(0)  # let timers and other tasks run, then read on
        else:
            await self.sleep(self.poll_interval)


class FromKafka(_KafkaSource[T]):
    """Node behind :meth:`Stream.from_kafka`: subscribe to ``topics`` as a member of the
    consumer group and emit each message's value, one at a time, at least once.

    Each element's metadata is one dict: ``'ref'``, the :class:`~streams.RefCounter`
    that acknowledges the message, and ``'timestamp'``, the message's Kafka timestamp
    in seconds since the epoch (a ``float``: the producer's create time, or the
    broker's log-append time for topics configured so). A message without a timestamp
    has no ``'timestamp'`` entry. ``EventClock()`` without ``timestamp=`` reads it, so
    ``source.window(Tumbling(60), clock=EventClock(max_out_of_order=5))`` windows by
    Kafka time.
    """

    _label = "from_kafka"

    def __init__(
        self,
        topics: str | Iterable[str],
        consumer_params: Mapping[str, Any],
        poll_interval: Any = 0.1,
        keys: bool = False,
        decode: Any = None,
        **options: Any,
    ) -> None:
        names = [topics] if isinstance(topics, str) else list(topics)
        if not names or not all(isinstance(t, str) and t for t in names):
            raise ValueError(
                f"from_kafka: topics must be a non-empty list of names, got {topics!r}"
            )
        self.topics = names
        super().__init__(consumer_params, poll_interval, keys, decode, **options)

    def _detail(self) -> str:
        return ",".join(self.topics)

    def _assigned(self, consumer: Any, partitions: list[Any]) -> None:
        """Partitions given to this member: read restored ones from their checkpoint.
        Under a checkpointer, a partition given back after a rebalance is read on from
        where this source was (its elements since the last checkpoint are in the
        graph's state already), not again from the group's checkpointed offset."""
        partitions = self._seek_restored(partitions)
        if self._checkpointer is not None:
            for tp in partitions:
                position = self._done.get((tp.topic, tp.partition))
                if position is not None and tp.offset < 0:
                    tp.offset = position
        consumer.assign(partitions)

    async def _consume(self, consumer: Any) -> None:
        if self._restored or self._checkpointer is not None:
            consumer.subscribe(self.topics, on_assign=self._assigned, on_revoke=self._revoked)
        else:
            consumer.subscribe(self.topics, on_revoke=self._revoked)
        backoff = Backoff()
        while not self.stopped:
            try:
                messages = consumer.consume(CHUNK, 0)
            except Exception as exc:
                await self._failed_to_reach(exc, backoff)
                continue
            await self._emit_messages(messages)
            await self._pause(backoff, bool(messages), len(messages) == CHUNK)

    async def _emit_messages(self, messages: list[Any]) -> None:
        import confluent_kafka as ck

        no_timestamp = ck.TIMESTAMP_NOT_AVAILABLE
        for msg in messages:
            cut = self._cut_wait()
            if cut is not None:
                await cut
            if self.stopped:
                return  # not emitted, so not committed: read again after a restart
            err = msg.error()
            if err is not None:
                self._message_error(err)
                continue
            key = (msg.topic(), msg.partition())
            ack = self._track(key, msg.offset())
            ok, x = self._element(msg)
            if ok:
                kind, ms = msg.timestamp()
                if kind == no_timestamp:
                    await self.emit_acked(x, ack)
                else:
                    await self.emit_acked(x, ack, {"timestamp": ms / 1000})
            else:
                ack()  # handled: a tombstone or rejected input must not stall the partition
            self._done[key] = msg.offset() + 1  # (durable state: where to go on)
            due = self._element_done()
            if due is not None:
                await due


class FromKafkaBatched(_KafkaSource[list[Any]]):
    """Node behind :meth:`Stream.from_kafka_batched`: read the partitions of ``topic``
    and emit, every ``poll_interval``, one list per partition that has new messages.

    A batch's metadata holds only its ``'ref'``: a batch has no per-message
    ``'timestamp'`` (:class:`FromKafka` gives one per message, to window by Kafka time).
    """

    _label = "from_kafka_batched"

    def __init__(
        self,
        topic: str,
        consumer_params: Mapping[str, Any],
        poll_interval: Any = "1s",
        npartitions: int | None = None,
        refresh_partitions: bool = False,
        max_batch_size: int = 10000,
        keys: bool = False,
        decode: Any = None,
        **options: Any,
    ) -> None:
        if not isinstance(topic, str) or not topic:
            raise ValueError(f"from_kafka_batched: topic must be a topic name, got {topic!r}")
        self.topic = topic
        self.npartitions = positive_int(self._label, "npartitions", npartitions, allow_none=True)
        self.refresh_partitions = bool(refresh_partitions)
        self.max_batch_size = positive_int(self._label, "max_batch_size", max_batch_size)
        self._assigned: list[int] = []
        super().__init__(consumer_params, poll_interval, keys, decode, **options)

    def _detail(self) -> str:
        return self.topic

    async def _consume(self, consumer: Any) -> None:
        self._assigned = []  # assigned once the partition count is known
        backoff = Backoff()
        carry: dict[int, list[Any]] = {}  # read but not emitted yet
        while not self.stopped:
            if not self._assigned or self.refresh_partitions:
                try:
                    await self._assign(consumer)
                except Exception as exc:
                    if not self._assigned:  # cannot start: retry; else go on as we are
                        target = f"topic {self.topic!r} at {self._servers}"
                        await self._failed_to_reach(exc, backoff, target)
                        continue
            try:
                self._read(consumer, carry)
            except Exception as exc:
                await self._failed_to_reach(exc, backoff)
                continue
            got = any(carry.values())
            backlog = await self._emit_batches(carry)
            await self._pause(backoff, got, backlog)

    async def _assign(self, consumer: Any) -> None:
        """Read the partition count and assign the partitions not assigned yet (from the
        group's committed offsets, else per ``auto.offset.reset``)."""
        import confluent_kafka as ck

        meta = await asyncio.to_thread(consumer.list_topics, self.topic, METADATA_TIMEOUT)
        topic = meta.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            err = topic.error if topic is not None else None
            raise (
                ck.KafkaException(err)
                if err is not None
                else LookupError(f"topic {self.topic!r} has no partitions")
            )
        count = len(topic.partitions)
        wanted = range(min(count, self.npartitions or count))
        new = [p for p in wanted if p not in self._assigned]
        if new and not self.stopped:
            parts = [ck.TopicPartition(self.topic, p) for p in new]
            consumer.incremental_assign(self._seek_restored(parts))
            self._assigned.extend(new)

    def _read(self, consumer: Any, carry: dict[int, list[Any]]) -> None:
        """Move what the consumer has ready into ``carry``, until some partition holds a
        full batch."""
        limit = self.max_batch_size
        while True:
            messages = consumer.consume(min(CHUNK, limit), 0)
            for msg in messages:
                err = msg.error()
                if err is not None:
                    self._message_error(err)
                else:
                    carry.setdefault(msg.partition(), []).append(msg)
            if len(messages) < min(CHUNK, limit) or any(len(m) >= limit for m in carry.values()):
                return

    async def _emit_batches(self, carry: dict[int, list[Any]]) -> bool:
        """Emit one batch per partition; return whether messages are left over."""
        limit = self.max_batch_size
        for partition in sorted(carry):
            if not carry[partition]:
                continue
            cut = self._cut_wait()
            if cut is not None:
                await cut
            if self.stopped:
                return False
            messages = carry[partition]
            batch, carry[partition] = messages[:limit], messages[limit:]
            ack = self._track((self.topic, partition), batch[-1].offset())
            elements = []
            for msg in batch:
                ok, x = self._element(msg)
                if ok:
                    elements.append(x)
            if elements:
                await self.emit_acked(elements, ack)
            else:
                ack()
            self._done[(self.topic, partition)] = batch[-1].offset() + 1
            due = self._element_done()
            if due is not None:
                await due
        return any(carry.values())


def _check_config(label: str, config: dict[str, Any]) -> None:
    """Refuse a configuration librdkafka does not accept, at build time."""
    import confluent_kafka as ck

    try:
        ck.Consumer(config).close()
    except ck.KafkaException as exc:
        raise ValueError(f"{label}: invalid consumer_params: {exc.args[0].str()}") from None
