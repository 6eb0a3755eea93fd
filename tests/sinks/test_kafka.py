"""Stream.to_kafka (streams/sinks/kafka.py), against librdkafka's mock cluster."""

import asyncio
import itertools

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from helpers import until

from streams import ErrorRecord, RefCounter, Stream
from streams.sinks.kafka import ToKafka
from streams.testing import check_sink

GROUPS = itertools.count()


class Reader:
    """Reads a one-partition topic from the beginning: what the broker holds."""

    def __init__(self, cluster, topic):
        self.consumer = Consumer(
            {
                "bootstrap.servers": cluster.bootstrap_servers,
                "group.id": f"reader-{topic}",
                "fetch.wait.max.ms": 10,
                "reconnect.backoff.ms": 10,
                "reconnect.backoff.max.ms": 50,
                "log_level": 0,
            }
        )
        self.tp = TopicPartition(topic, 0, 0)
        self.consumer.assign([self.tp])
        self.seen = []

    def high(self):
        return self.consumer.get_watermark_offsets(self.tp, timeout=10)[1]

    async def read(self):
        high = await asyncio.to_thread(self.high)
        while len(self.seen) < high:
            for msg in await asyncio.to_thread(self.consumer.consume, 100, 0.05):
                if msg.error() is None:
                    self.seen.append(msg.value())
        return list(self.seen)

    def close(self):
        self.consumer.close()


@pytest.fixture
def reader(kafka_cluster):
    kafka_cluster.create_topic("out")
    reader = Reader(kafka_cluster, "out")
    yield reader
    reader.close()


def config(cluster, **extra):
    return {"bootstrap.servers": cluster.bootstrap_servers, **extra}


def test_builds_a_sink_with_a_label(kafka_cluster):
    sink = Stream().to_kafka("out", config(kafka_cluster))
    assert isinstance(sink, ToKafka)
    assert sink._describe() == "to_kafka<out>"
    sink.destroy()


@pytest.mark.parametrize(
    ("topic", "conf", "error", "match"),
    [
        ("", {}, ValueError, "to_kafka: topic"),
        ("t", "servers", TypeError, "producer_config must be a dict"),
        ("t", {"no.such": 1}, ValueError, "to_kafka: invalid producer_config.*no.such"),
    ],
)
def test_bad_arguments_fail_at_build_time(topic, conf, error, match):
    with pytest.raises(error, match=match):
        Stream().to_kafka(topic, conf)


@pytest.mark.real_time
async def test_passes_the_sink_conformance_check(kafka_cluster, reader):
    await check_sink(
        lambda s: s.to_kafka("out", config(kafka_cluster)),
        reader.read,
        [b"one", b"two", b"three"],
    )


@pytest.mark.real_time
async def test_await_emit_returns_once_delivered_and_the_value_goes_downstream(
    kafka_cluster, reader
):
    source = Stream()
    sink = source.to_kafka("out", config(kafka_cluster))
    delivered = sink.sink_to_list()
    pending = asyncio.ensure_future(source.emit("first"))
    await asyncio.sleep(0)
    assert not pending.done() and delivered == []  # waits for the broker's receipt
    await pending
    assert delivered == [b"first"]
    assert await reader.read() == [b"first"]
    sink.destroy()


@pytest.mark.real_time
async def test_roundtrip_into_from_kafka(kafka_cluster):
    kafka_cluster.create_topic("trip")
    source = Stream()
    sink = source.map(str).to_kafka("trip", config(kafka_cluster))
    for i in range(5):
        await source.emit(i)
    reader = Stream.from_kafka(
        ["trip"],
        config(
            kafka_cluster, **{"group.id": f"trip-{next(GROUPS)}", "auto.offset.reset": "earliest"}
        ),
        poll_interval=0.01,
        decode="utf-8",
    )
    got = reader.map(int).sink_to_list()
    reader.start()
    await until(lambda: len(got) == 5)
    reader.stop()
    await reader.wait()
    sink.destroy()
    assert got == [0, 1, 2, 3, 4]


@pytest.mark.real_time
async def test_elements_that_are_not_bytes_or_str_go_to_the_error_policy(kafka_cluster, reader):
    source = Stream()
    sink = source.to_kafka("out", config(kafka_cluster), on_error="dead_letter")
    errors = source.errors().sink_to_list()
    ref = RefCounter(cb=lambda: None)
    await source.emit({"a": 1}, metadata=[{"ref": ref}])
    await source.emit(b"fine")
    [record] = errors
    assert isinstance(record, ErrorRecord) and record.element == {"a": 1}
    assert isinstance(record.error, TypeError) and "bytes or str" in str(record.error)
    assert await reader.read() == [b"fine"]

    strict = Stream()
    strict.to_kafka("out", config(kafka_cluster))
    with pytest.raises(TypeError, match="got dict") as info:
        await strict.emit({"a": 1})
    assert "in to_kafka<out> (element {'a': 1})" in info.value.__notes__
    sink.destroy()


@pytest.mark.real_time
async def test_an_oversized_message_fails_and_is_not_acknowledged(kafka_cluster, reader):
    source = Stream()
    sink = source.to_kafka("out", config(kafka_cluster, **{"message.max.bytes": 1000}))
    acked = []
    ref = RefCounter(cb=lambda: acked.append(1))
    with pytest.raises(KafkaException) as info:
        await source.emit(b"x" * 5000, metadata=[{"ref": ref}])
    assert info.value.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE
    assert acked == []
    sink.destroy()


@pytest.mark.real_time
async def test_a_failed_delivery_goes_to_the_error_channel(kafka_cluster, reader):
    source = Stream()
    short = config(
        kafka_cluster,
        **{"message.timeout.ms": 200, "reconnect.backoff.ms": 10, "reconnect.backoff.max.ms": 50},
    )
    sink = source.to_kafka("out", short, on_error="dead_letter")
    delivered = sink.sink_to_list()
    errors = source.errors().sink_to_list()
    strict = Stream()
    strict_sink = strict.to_kafka("out", short)
    kafka_cluster.broker_down(1)
    # librdkafka checks message timeouts once a second: both wait for the same check
    lost, strict_lost = await asyncio.gather(
        source.emit(b"lost"), strict.emit(b"lost too"), return_exceptions=True
    )
    assert lost is None  # dead-lettered
    [record] = errors
    assert record.error.args[0].code() == KafkaError._MSG_TIMED_OUT
    assert record.element == b"lost" and delivered == []
    assert isinstance(strict_lost, KafkaException)  # on_error="raise": the emitter gets it
    assert strict_lost.args[0].code() == KafkaError._MSG_TIMED_OUT
    kafka_cluster.broker_up(1)
    await source.emit(b"kept")
    assert delivered == [b"kept"]
    sink.destroy()
    strict_sink.destroy()


@pytest.mark.real_time
async def test_drain_and_destroy_flush_what_is_outstanding(kafka_cluster, reader):
    source = Stream()
    sink = source.to_kafka("out", config(kafka_cluster))
    for x in (b"a", b"b"):
        source.emit(x)  # not awaited
    await source.drain()
    assert await reader.read() == [b"a", b"b"]
    source.emit(b"c")
    sink.destroy()  # flushes before closing the producer
    assert await reader.read() == [b"a", b"b", b"c"]
    sink.destroy()  # idempotent


@pytest.mark.real_time
async def test_destroy_with_an_unreachable_broker_keeps_the_loop_running(monkeypatch, caplog):
    import services

    import streams.sinks.kafka

    monkeypatch.setattr(streams.sinks.kafka, "CLOSE_TIMEOUT", 0.5)
    source = Stream()
    unreachable = {"bootstrap.servers": f"127.0.0.1:{services.free_port()}", "log_level": 0}
    sink = source.to_kafka("out", unreachable)
    errors = sink.errors().sink_to_list()
    source.emit(b"lost")  # not awaited: it can never be delivered
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(tick())
    sink.destroy()
    await source.drain()  # the close gives up after CLOSE_TIMEOUT
    ticking.cancel()
    assert ticks >= 5  # a close blocking the loop for 0.5 s would leave it at 0 or 1
    assert [e.element for e in errors] == [b"lost"]  # purged: reported, not dropped
    assert "dropping undelivered messages after 0.5s" in caplog.text


def test_a_plain_script_blocks_until_delivered(kafka_cluster):
    source = Stream()
    sink = source.to_kafka("out", config(kafka_cluster))
    delivered = sink.sink_to_list()
    source.emit(b"sync")  # runs on the background loop; returns once delivered
    assert delivered == [b"sync"]
    assert sink.flush(1) == 0
    sink.destroy()
