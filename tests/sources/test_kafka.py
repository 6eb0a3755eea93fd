"""Stream.from_kafka and Stream.from_kafka_batched (streams/sources/kafka.py), against
librdkafka's mock cluster (a real Kafka-protocol broker on loopback)."""

import asyncio
import itertools
import json

import pytest
from confluent_kafka import Producer
from helpers import committed, stop, until

from streams import ErrorRecord, Stream
from streams.sources.kafka import FromKafka, FromKafkaBatched, _Offsets
from streams.testing import check_source

GROUPS = itertools.count()


def group_id(name):
    """A consumer group no other test uses."""
    return f"{name}-{next(GROUPS)}"


def params(cluster, group, **extra):
    return {
        "bootstrap.servers": cluster.bootstrap_servers,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        **extra,
    }


def restartable(cluster, group):
    """Params for a group that a second source joins after the first left.

    After a member leaves, the mock broker waits ``session.timeout.ms - 1000`` ms for
    members to rejoin before it lets a new one in: a short session keeps that at 0.2 s.
    """
    return params(cluster, group, **{"session.timeout.ms": 1200, "heartbeat.interval.ms": 100})


def produce(cluster, topic, values, partition=None, keys=None):
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    for i, value in enumerate(values):
        key = None if keys is None else keys[i]
        if partition is None:
            producer.produce(topic, value, key=key)
        else:
            producer.produce(topic, value, key=key, partition=partition)
    assert producer.flush(10) == 0


def values(n, start=0):
    return [str(i).encode() for i in range(start, n)]


# ---------------------------------------------------------------------- building


def test_builds_sources_with_labels_and_options(kafka_cluster):
    p = params(kafka_cluster, "g")
    source = Stream.from_kafka(["a", "b"], p)
    assert isinstance(source, FromKafka)
    assert source._describe() == "from_kafka<a,b>"
    assert source.poll_interval == 0.1 and not source.started
    assert Stream.from_kafka("a", p, poll_interval="50ms").poll_interval == 0.05
    batched = Stream.from_kafka_batched("t", p, npartitions=2, max_batch_size=5)
    assert isinstance(batched, FromKafkaBatched)
    assert batched._describe() == "from_kafka_batched<t>"
    assert (batched.poll_interval, batched.npartitions, batched.max_batch_size) == (1.0, 2, 5)
    assert "enable.auto.commit" not in p  # the caller's dict is not changed


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda p: Stream.from_kafka([], p), ValueError, "from_kafka: topics"),
        (lambda p: Stream.from_kafka(["t"], {"bootstrap.servers": "x"}), ValueError, "group.id"),
        (lambda p: Stream.from_kafka(["t"], "servers"), TypeError, "must be a dict"),
        (lambda p: Stream.from_kafka(["t"], {**p, "no.such": 1}), ValueError, "no.such"),
        (lambda p: Stream.from_kafka(["t"], p, poll_interval=0), ValueError, "from_kafka"),
        (lambda p: Stream.from_kafka(["t"], p, decode="nope"), ValueError, "decode"),
        (lambda p: Stream.from_kafka_batched("t", p, npartitions=0), ValueError, "npartitions"),
        (lambda p: Stream.from_kafka_batched("t", p, max_batch_size=0), ValueError, "max_batch"),
        (lambda p: Stream.from_kafka_batched("", p), ValueError, "from_kafka_batched: topic"),
        (lambda p: Stream.from_kafka_batched("t", p, dask=True), NotImplementedError, "dask"),
    ],
)
def test_bad_arguments_fail_at_build_time(kafka_cluster, build, error, match):
    with pytest.raises(error, match=match):
        build(params(kafka_cluster, "g"))


def test_offsets_commit_only_the_finished_prefix():
    offsets = _Offsets()
    for last in (3, 5, 9, 12):
        offsets.add(last)
    assert offsets.ack(5) is None  # 3 is not finished: nothing may be committed
    assert offsets.ack(3) == 6  # 3 and 5 are done: commit up to after 5
    assert offsets.ack(3) is None  # a second acknowledgement changes nothing
    assert offsets.ack(12) is None
    assert offsets.ack(9) == 13


# ---------------------------------------------------------------------- conformance


@pytest.mark.real_time
async def test_from_kafka_passes_the_source_conformance_check(kafka_cluster):
    kafka_cluster.create_topic("conform")
    p = params(kafka_cluster, group_id("conform"))
    await check_source(
        lambda: Stream.from_kafka(["conform"], p, poll_interval=0.01),
        lambda items: produce(kafka_cluster, "conform", items),
        values(7),
        quiet=0.15,  # a message on loopback arrives within milliseconds
    )


@pytest.mark.real_time
async def test_from_kafka_batched_passes_the_source_conformance_check(kafka_cluster):
    kafka_cluster.create_topic("conform-b")
    p = params(kafka_cluster, group_id("conform-b"))
    await check_source(
        lambda: Stream.from_kafka_batched("conform-b", p, poll_interval=0.01, max_batch_size=1),
        lambda items: produce(kafka_cluster, "conform-b", items),
        values(7),
        expect=lambda x: [x],
        quiet=0.15,
    )


# ---------------------------------------------------------------------- behaviour


@pytest.mark.real_time
async def test_keys_emit_key_and_value(kafka_cluster):
    kafka_cluster.create_topic("keyed")
    produce(kafka_cluster, "keyed", [b"v1", b"v2"], keys=[b"k1", b"k2"])
    source = Stream.from_kafka(
        "keyed", params(kafka_cluster, group_id("keyed")), poll_interval=0.01, keys=True
    )
    out = source.sink_to_list()
    source.start()
    await until(lambda: len(out) == 2)
    await stop(source)
    assert out == [{"key": b"k1", "value": b"v1"}, {"key": b"k2", "value": b"v2"}]


@pytest.mark.real_time
async def test_decode_json_rejects_a_malformed_message_with_its_position(kafka_cluster):
    kafka_cluster.create_topic("json")
    group = group_id("json")
    produce(kafka_cluster, "json", [b'{"n": 1}', b"{not json", b'{"n": 3}'])
    source = Stream.from_kafka(["json"], params(kafka_cluster, group), 0.01, decode="json")
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await until(lambda: len(out) == 2 and errors)
    await stop(source)
    assert out == [{"n": 1}, {"n": 3}]
    [record] = errors
    assert isinstance(record, ErrorRecord) and record.element == b"{not json"
    assert isinstance(record.error, json.JSONDecodeError)
    assert "at topic json partition 0 offset 1" in record.error.__notes__
    assert committed(kafka_cluster, group, "json") == [3]  # the bad one does not stall


@pytest.mark.real_time
async def test_batched_emits_one_batch_per_partition(kafka_cluster):
    kafka_cluster.create_topic("two", partitions=2)
    produce(kafka_cluster, "two", [b"a0", b"a1", b"a2"], partition=0)
    produce(kafka_cluster, "two", [b"b0", b"b1"], partition=1)
    p = params(kafka_cluster, group_id("two"))
    source = Stream.from_kafka_batched("two", p, poll_interval=0.02, keys=True)
    batches = source.sink_to_list()
    source.start()
    await until(lambda: sum(map(len, batches)) == 5)
    await stop(source)
    values_of = [[item["value"] for item in batch] for batch in batches]
    assert sorted(values_of) == [[b"a0", b"a1", b"a2"], [b"b0", b"b1"]]


@pytest.mark.real_time
async def test_batched_max_batch_size_and_npartitions(kafka_cluster):
    kafka_cluster.create_topic("three", partitions=3)
    produce(kafka_cluster, "three", values(7), partition=0)
    produce(kafka_cluster, "three", [b"p1"], partition=1)
    produce(kafka_cluster, "three", [b"p2"], partition=2)
    p = params(kafka_cluster, group_id("three"))
    source = Stream.from_kafka_batched(
        "three", p, poll_interval=0.02, npartitions=2, max_batch_size=3
    )
    batches = source.sink_to_list()
    source.start()
    await until(lambda: sum(map(len, batches)) == 8)
    await asyncio.sleep(0.1)  # partition 2 is not read
    await stop(source)
    assert all(0 < len(batch) <= 3 for batch in batches)
    assert [x for batch in batches if batch != [b"p1"] for x in batch] == values(7)
    assert [b"p1"] in batches and len(batches) >= 4  # 7 messages make 3 batches or more


@pytest.mark.real_time
async def test_batched_waits_for_a_missing_topic_and_refreshes_partitions(kafka_cluster):
    p = params(kafka_cluster, group_id("late"))
    source = Stream.from_kafka_batched("late", p, poll_interval=0.02, refresh_partitions=True)
    batches = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await until(lambda: errors)
    assert "cannot reach topic 'late'" in "\n".join(errors[0].error.__notes__)
    kafka_cluster.create_topic("late", partitions=2)
    produce(kafka_cluster, "late", [b"x"], partition=1)
    await until(lambda: batches == [[b"x"]])
    await stop(source)


# ---------------------------------------------------------------------- at least once


@pytest.mark.real_time
async def test_a_restart_redelivers_exactly_what_was_not_finished(kafka_cluster):
    """A slow async sink behind a buffer: the consumer stops while the buffer still
    holds elements; those (and only those) come again to the next source."""
    kafka_cluster.create_topic("restart")
    p = restartable(kafka_cluster, group_id("restart"))
    produce(kafka_cluster, "restart", values(20))
    done, release = [], asyncio.Event()

    async def slow_write(x):
        if len(done) >= 8:
            await release.wait()  # the 9th and later hang until released
        await asyncio.sleep(0.002)
        done.append(x)

    source = Stream.from_kafka(["restart"], p, poll_interval=0.01)
    source.buffer(50).sink(slow_write)
    source.start()
    await until(lambda: len(done) == 8)
    await until(lambda: source.current_value == b"19")  # every message is in the graph
    await stop(source)
    finished = list(done)
    release.set()
    await source.drain()  # these finish after the consumer closed: not committed
    assert len(done) == 20

    again = Stream.from_kafka(["restart"], p, poll_interval=0.01)
    second = again.sink_to_list()
    again.start()
    await until(lambda: len(second) == 12)
    await asyncio.sleep(0.05)
    await stop(again)
    assert finished == values(8)
    assert second == values(20, start=8)  # nothing lost, nothing finished read twice


@pytest.mark.real_time
async def test_batches_held_by_a_timed_window_are_redelivered(kafka_cluster):
    kafka_cluster.create_topic("windows")
    p = params(kafka_cluster, group_id("windows"))
    done, hold, release = [], [False], asyncio.Event()

    async def slow_write(window):
        if hold[0]:
            await release.wait()
        await asyncio.sleep(0.002)
        done.extend(x for batch in window for x in batch)

    def build():
        source = Stream.from_kafka_batched("windows", p, poll_interval=0.01)
        emitted = source.flatten().sink_to_list()
        source.timed_window(0.05).buffer(10).sink(slow_write)
        return source, emitted

    source, emitted = build()
    source.start()
    produce(kafka_cluster, "windows", values(4))
    await until(lambda: done == values(4))
    hold[0] = True
    produce(kafka_cluster, "windows", values(8, start=4))
    await until(lambda: emitted == values(8))
    await stop(source)  # 4..7 are in the window, or in the blocked sink
    release.set()
    await source.drain()
    assert committed(kafka_cluster, p["group.id"], "windows") == [4]

    again, emitted = build()
    hold[0] = False
    again.start()
    await until(lambda: emitted == values(8, start=4))
    await stop(again)


@pytest.mark.real_time
async def test_a_failed_element_and_those_after_it_are_redelivered(kafka_cluster):
    kafka_cluster.create_topic("fail")
    p = restartable(kafka_cluster, group_id("fail"))
    produce(kafka_cluster, "fail", values(6))
    seen = []

    def write(x):
        seen.append(x)
        if x == b"3" and seen.count(x) == 1:
            raise RuntimeError("disk full")

    source = Stream.from_kafka(["fail"], p, poll_interval=0.01)
    source.sink(write)  # on_error="raise": the failure goes to the error channel
    errors = source.errors().sink_to_list()
    source.start()
    await until(lambda: len(seen) == 6)
    await stop(source)
    assert [str(r.error) for r in errors] == ["disk full"]
    assert committed(kafka_cluster, p["group.id"], "fail") == [3]

    again = Stream.from_kafka(["fail"], p, poll_interval=0.01)
    again.sink(write)
    again.start()
    await until(lambda: len(seen) == 9)
    await stop(again)
    assert seen[6:] == [b"3", b"4", b"5"]  # 4 and 5 finished, but only after 3 did


@pytest.mark.real_time
async def test_broker_down_is_reported_and_the_source_recovers(kafka_cluster):
    kafka_cluster.create_topic("flaky")
    fast = {"reconnect.backoff.ms": 10, "reconnect.backoff.max.ms": 50, "socket.timeout.ms": 500}
    p = params(kafka_cluster, group_id("flaky"), **fast)
    source = Stream.from_kafka(["flaky"], p, poll_interval=0.01)
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    produce(kafka_cluster, "flaky", [b"before"])
    await until(lambda: out == [b"before"])
    kafka_cluster.broker_down(1)
    await until(lambda: errors)
    notes = "\n".join(errors[0].error.__notes__)
    assert f"cannot reach {kafka_cluster.bootstrap_servers}; retrying in" in notes
    kafka_cluster.broker_up(1)
    produce(kafka_cluster, "flaky", [b"after"])
    await until(lambda: out == [b"before", b"after"])
    await stop(source)
