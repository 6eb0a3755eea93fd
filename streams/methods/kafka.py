"""Methods for connectors. Kafka: from_kafka, from_kafka_batched, to_kafka."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ..sinks.kafka import ToKafka
    from ..sources.kafka import FromKafka, FromKafkaBatched
    from ..state.kafka import ToKafkaExactlyOnce

T = TypeVar("T")


class KafkaMethods(Generic[T]):
    """Kafka: from_kafka, from_kafka_batched, to_kafka."""

    @staticmethod
    def from_kafka(
        topics: str | Iterable[str],
        consumer_params: Mapping[str, Any],
        poll_interval: float | str = 0.1,
        start: bool = False,
        keys: bool = False,
        decode: Any = None,
        **kwargs: Any,
    ) -> FromKafka[Any]:
        """Read messages from Kafka topics, one element per message, at least once.

        The source joins the consumer group ``group.id`` and emits each message's value
        (``bytes``, or decoded per ``decode``), in order within a partition, waiting for
        back pressure before the next one. Offsets are committed only once every branch
        downstream has finished with a message, including async sinks and nodes that
        hold elements (``buffer``, ``timed_window``), and only up to the first message
        not finished yet in its partition. A message still in the graph when the source
        stops, or one that failed downstream, is read again by the next consumer of the
        group: nothing is lost, and what was finished is not read twice. Automatic
        commits are turned off (``enable.auto.commit`` is forced to false).

        A message that cannot be decoded goes to the error channel with its topic,
        partition and offset, and counts as handled. An unreachable broker is reported
        to :meth:`~streams.Stream.errors` and retried with a growing delay.

        Parameters
        ----------
        topics : str or list of str
            The topics to subscribe to.
        consumer_params : dict
            librdkafka consumer configuration: ``bootstrap.servers`` and ``group.id``
            at least; ``auto.offset.reset`` (``'latest'`` by default) says where a group
            without committed offsets begins. librdkafka's log lines go to the logger
            ``streams.kafka`` unless a ``logger`` is given.
        poll_interval : float or str, optional
            Seconds to wait before asking again when no message was ready.
        start : bool, optional
            Start at once.
        keys : bool, optional
            Emit ``{'key': key, 'value': value}`` (the key as ``bytes``) instead of the
            value alone. Without keys, tombstones (``None`` values) are skipped.
        decode : None, str or callable, optional
            ``None`` keeps ``bytes``; a codec name such as ``'utf-8'`` decodes text;
            ``'json'`` parses JSON; a callable is applied to the value.
        **kwargs
            Node options: ``stream_name``, ``on_error``...

        Returns
        -------
        FromKafka
            Each element's metadata holds ``'timestamp'``, the message's Kafka timestamp
            in seconds (a float), unless the message has none: ``EventClock()`` without
            ``timestamp=`` windows by it (see :doc:`/guide/event_time`).

        Examples
        --------
        A mock Kafka cluster (:class:`~streams.testing.kafka.MockKafkaCluster`) stands
        in for a real one:

        >>> import asyncio
        >>> from confluent_kafka import Producer
        >>> from streams import Stream
        >>> from streams.testing.kafka import MockKafkaCluster
        >>> cluster = MockKafkaCluster()
        >>> cluster.create_topic("words")
        >>> producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
        >>> for word in ["alpha", "beta", "gamma"]:
        ...     producer.produce("words", word.encode())
        >>> producer.flush()
        0
        >>> params = {"bootstrap.servers": cluster.bootstrap_servers,
        ...           "group.id": "readers", "auto.offset.reset": "earliest"}
        >>> async def main():
        ...     source = Stream.from_kafka(["words"], params, decode="utf-8")
        ...     words = source.map(str.upper).sink_to_list()
        ...     source.start()
        ...     for _ in range(1000):
        ...         if len(words) == 3:
        ...             break
        ...         await asyncio.sleep(0.01)
        ...     source.stop()
        ...     await source.wait()  # the consumer committed and closed
        ...     return words
        >>> asyncio.run(main())
        ['ALPHA', 'BETA', 'GAMMA']
        >>> cluster.close()

        See Also
        --------
        from_kafka_batched, to_kafka
        """
        from ..sources.kafka import FromKafka

        return FromKafka(
            topics, consumer_params, poll_interval, keys=keys, decode=decode, start=start, **kwargs
        )

    @staticmethod
    def from_kafka_batched(
        topic: str,
        consumer_params: Mapping[str, Any],
        poll_interval: float | str = "1s",
        npartitions: int | None = None,
        refresh_partitions: bool = False,
        start: bool = False,
        dask: bool = False,
        max_batch_size: int = 10000,
        keys: bool = False,
        decode: Any = None,
        **kwargs: Any,
    ) -> FromKafkaBatched:
        """Read a Kafka topic in batches: one list per partition per poll, at least once.

        Every ``poll_interval`` the source emits, for each partition with new messages,
        a list of their values (at most ``max_batch_size``; the rest comes with the
        next batch, without waiting). The partitions are assigned to this source
        directly (no group rebalancing) and start from the offsets committed for
        ``group.id``. A batch's offsets are committed once every branch downstream has
        finished with the batch, and only when the batches before it in its partition
        are finished too; a batch still in the graph when the source stops, or one that
        failed, is read again after a restart.

        Parameters
        ----------
        topic : str
            The topic to read.
        consumer_params : dict
            librdkafka consumer configuration, with ``bootstrap.servers`` and
            ``group.id`` at least (see :meth:`from_kafka`).
        poll_interval : float or str, optional
            Seconds between polls, or a string such as ``'500ms'``.
        npartitions : int, optional
            Read only the first ``npartitions`` partitions (default: all).
        refresh_partitions : bool, optional
            Read the topic's partition count again at every poll, to pick up added
            partitions.
        start : bool, optional
            Start at once.
        dask : bool, optional
            Scatter batches to a Dask cluster. Not available yet: ``True`` raises
            ``NotImplementedError`` (Dask scale-out comes with ``streams.dask``).
        max_batch_size : int, optional
            Most messages in one batch.
        keys : bool, optional
            Batch items are ``{'key': key, 'value': value}`` instead of values.
        decode : None, str or callable, optional
            How values are decoded (see :meth:`from_kafka`); a message that cannot be
            decoded is left out of its batch and goes to the error channel with its
            topic, partition and offset.
        **kwargs
            Node options: ``stream_name``, ``on_error``...

        Returns
        -------
        FromKafkaBatched
            A batch carries no per-message timestamp in its metadata (use
            :meth:`from_kafka` to window by Kafka time).

        Examples
        --------
        >>> import asyncio
        >>> from confluent_kafka import Producer
        >>> from streams import Stream
        >>> from streams.testing.kafka import MockKafkaCluster
        >>> cluster = MockKafkaCluster()
        >>> cluster.create_topic("readings", partitions=2)
        >>> producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
        >>> for i in range(6):
        ...     producer.produce("readings", str(i).encode(), partition=i % 2)
        >>> producer.flush()
        0
        >>> params = {"bootstrap.servers": cluster.bootstrap_servers,
        ...           "group.id": "loaders", "auto.offset.reset": "earliest"}
        >>> async def main():
        ...     source = Stream.from_kafka_batched(
        ...         "readings", params, poll_interval="50ms", decode="utf-8")
        ...     batches = source.sink_to_list()
        ...     source.start()
        ...     for _ in range(1000):
        ...         if sum(map(len, batches)) == 6:
        ...             break
        ...         await asyncio.sleep(0.01)
        ...     source.stop()
        ...     await source.wait()
        ...     return sorted(batches)
        >>> asyncio.run(main())
        [['0', '2', '4'], ['1', '3', '5']]
        >>> cluster.close()

        See Also
        --------
        from_kafka, to_kafka
        """
        if dask:
            raise NotImplementedError(
                "from_kafka_batched: dask=True needs Dask scale-out, which comes with "
                "streams.dask (not available yet); use dask=False"
            )
        from ..sources.kafka import FromKafkaBatched

        return FromKafkaBatched(
            topic,
            consumer_params,
            poll_interval,
            npartitions=npartitions,
            refresh_partitions=refresh_partitions,
            max_batch_size=max_batch_size,
            keys=keys,
            decode=decode,
            start=start,
            **kwargs,
        )

    def to_kafka(
        self: Any,
        topic: str,
        producer_config: Mapping[str, Any],
        exactly_once: bool = False,
        marker_topic: str | None = None,
        **kwargs: Any,
    ) -> ToKafka | ToKafkaExactlyOnce:
        """Produce every element to a Kafka topic and pass on what was delivered.

        Elements must be ``bytes`` or ``str``; anything else (serialize dicts first,
        e.g. ``map(json.dumps)``) and failed deliveries go through the node's
        ``on_error`` policy. An element is accepted only once the broker confirmed it,
        so ``await source.emit(x)`` waits for the delivery (back pressure) and an
        acknowledged element (:class:`~streams.RefCounter`) is in Kafka. The delivered
        value (``bytes``) is then emitted downstream, as in streamz. ``linger.ms``
        defaults to 0 since each element waits for its receipt. ``drain()`` waits for
        outstanding deliveries; ``destroy()`` flushes them (up to 10 s) and closes the
        producer.

        With ``exactly_once=True`` (durable state, :mod:`streams.state`) the graph runs
        under a :class:`~streams.state.Checkpointer` and each element reaches the topic
        exactly once, even across crashes: the elements since the last checkpoint are
        stored with the next one (its *outbox*), then sent in one Kafka transaction with
        a marker record on ``marker_topic``; a restore sends again only the outboxes
        whose marker Kafka has not got. Elements appear a checkpoint at a time, to
        consumers reading with ``isolation.level=read_committed``; the sink needs a
        ``stream_name`` (its transactional id defaults to ``streams-<stream_name>``) and
        passes nothing downstream.

        Parameters
        ----------
        topic : str
            The topic to write to.
        producer_config : dict
            librdkafka producer configuration, with ``bootstrap.servers`` at least.
        exactly_once : bool
            Deliver through checkpoints and Kafka transactions (see above).
        marker_topic : str, optional
            With ``exactly_once``: the topic whose partition 0 records the delivered
            checkpoints (default ``<topic>.commits``).
        **kwargs
            Node options: ``stream_name``, ``on_error``...; with ``exactly_once`` also
            ``max_pending`` (elements after which a checkpoint is asked for, 100 000).

        Returns
        -------
        ToKafka or ToKafkaExactlyOnce

        Examples
        --------
        >>> import asyncio
        >>> from streams import Stream
        >>> from streams.testing.kafka import MockKafkaCluster
        >>> cluster = MockKafkaCluster()
        >>> config = {"bootstrap.servers": cluster.bootstrap_servers}
        >>> async def main():
        ...     source = Stream()
        ...     sink = source.map(str).to_kafka("numbers", config)
        ...     delivered = sink.sink_to_list()
        ...     for i in range(3):
        ...         await source.emit(i)  # returns once the broker has it
        ...     sink.destroy()
        ...     return delivered
        >>> asyncio.run(main())
        [b'0', b'1', b'2']
        >>> cluster.close()

        See Also
        --------
        from_kafka
        """
        if exactly_once:
            from ..state.kafka import ToKafkaExactlyOnce

            return ToKafkaExactlyOnce(self, topic, producer_config, marker_topic, **kwargs)
        if marker_topic is not None:
            raise TypeError("to_kafka: marker_topic goes with exactly_once=True")
        from ..sinks.kafka import ToKafka

        return ToKafka(self, topic, producer_config, **kwargs)
