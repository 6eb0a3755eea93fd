"""Kafka message timestamps as element metadata (streams/sources/kafka.py), windows by
Kafka time, and examples/clicks_per_minute.py; against librdkafka's mock cluster."""

import asyncio
import itertools
import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_NOT_AVAILABLE, Producer
from helpers import Capture, stop, until

from streams import RefCounter, Source, Stream
from streams.windows import EventClock, Tumbling

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GROUPS = itertools.count()


def params(servers, name):
    return {
        "bootstrap.servers": servers,
        "group.id": f"{name}-{next(GROUPS)}",
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    }


def produce(cluster, topic, messages):
    """``messages``: ``(value, timestamp in ms)`` pairs."""
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    for value, ms in messages:
        producer.produce(topic, value, timestamp=ms)
    assert producer.flush(10) == 0


async def committed(cluster, group, topic):
    from confluent_kafka import Consumer, TopicPartition

    reader = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": group})
    try:
        [tp] = await asyncio.to_thread(reader.committed, [TopicPartition(topic, 0)], 10)
    finally:
        reader.close()
    return tp.offset


# ---------------------------------------------------------------------- metadata


@pytest.mark.real_time
async def test_from_kafka_puts_the_message_timestamp_in_seconds_in_the_metadata(kafka_cluster):
    kafka_cluster.create_topic("stamped")
    stamps = [1_700_000_000_123, 1_700_000_005_000, 1_699_999_990_999]  # out of order
    produce(kafka_cluster, "stamped", [(f"m{i}".encode(), ms) for i, ms in enumerate(stamps)])
    p = params(kafka_cluster.bootstrap_servers, "stamped")
    source = Stream.from_kafka("stamped", p, poll_interval=0.01, decode="utf-8")
    seen = Capture(source).seen
    source.start()
    await until(lambda: len(seen) == 3)
    await stop(source)
    assert [x for x, _ in seen] == ["m0", "m1", "m2"]
    for (_, metadata), ms in zip(seen, stamps, strict=True):
        [entry] = metadata  # one dict: the acknowledgement and the timestamp
        assert set(entry) == {"ref", "timestamp"}
        assert isinstance(entry["ref"], RefCounter)
        assert type(entry["timestamp"]) is float and entry["timestamp"] == ms / 1000
    assert await committed(kafka_cluster, p["group.id"], "stamped") == 3  # acks unchanged


class Message:
    """Stands in for a confluent_kafka Message."""

    def __init__(self, value, offset, timestamp):
        self._value, self._offset, self._timestamp = value, offset, timestamp

    def value(self):
        return self._value

    def error(self):
        return None

    def topic(self):
        return "t"

    def partition(self):
        return 0

    def offset(self):
        return self._offset

    def timestamp(self):
        return self._timestamp


class FakeConsumer:
    """Stands in for a confluent_kafka Consumer: hands over ``batch`` once, records the
    commits in ``commits``."""

    def __init__(self, batch, commits):
        self.batches, self.commits = [batch], commits

    def subscribe(self, topics, on_revoke=None):
        pass

    def consume(self, n, timeout):
        return self.batches.pop() if self.batches else []

    def commit(self, offsets, asynchronous):
        self.commits.append([(tp.topic, tp.partition, tp.offset) for tp in offsets])

    def close(self):
        pass


@pytest.mark.real_time
async def test_a_message_without_a_timestamp_has_no_timestamp_entry(monkeypatch):
    import confluent_kafka

    source = Stream.from_kafka("t", params("127.0.0.1:9", "none"), poll_interval=0.01)
    seen = Capture(source).seen
    batch = [
        Message(b"a", 0, (TIMESTAMP_NOT_AVAILABLE, -1)),
        Message(b"b", 1, (TIMESTAMP_CREATE_TIME, 2_500)),
    ]
    commits = []
    monkeypatch.setattr(confluent_kafka, "Consumer", lambda config: FakeConsumer(batch, commits))
    source.start()
    await until(lambda: len(seen) == 2)
    await stop(source)
    assert [(x, sorted(m[0])) for x, m in seen] == [
        (b"a", ["ref"]),
        (b"b", ["ref", "timestamp"]),
    ]
    assert seen[1][1][0]["timestamp"] == 2.5
    assert commits[-1] == [("t", 0, 2)]  # both acknowledged, in order


async def test_emit_acked_adds_entries_next_to_the_ref_without_changing_the_counting():
    acked = []
    source = Source()
    seen = Capture(source).seen
    await source.emit_acked("x", lambda: acked.append("x"), {"timestamp": 1.5, "ref": "no"})
    await source.emit_acked("y", lambda: acked.append("y"))
    [(_, [first]), (_, [second])] = seen
    assert isinstance(first["ref"], RefCounter) and first["timestamp"] == 1.5
    assert set(second) == {"ref"}
    await asyncio.sleep(0)  # callbacks run on the loop
    assert acked == ["x", "y"]


# ---------------------------------------------------------------------- windows


@pytest.mark.real_time
async def test_windows_count_by_kafka_time_and_late_messages_keep_their_metadata(kafka_cluster):
    kafka_cluster.create_topic("visits")
    base = 1_700_000_040_000  # a multiple of 60 s
    arrivals = [  # (user, seconds after base), in the order they reach Kafka
        ("a", 1),
        ("b", 3),
        ("a", 0),  # out of order, within max_out_of_order
        ("a", 62),
        ("b", 61),
        ("a", 70),  # the watermark passes 60: the first minute closes
        ("b", 5),  # too late for it
        ("a", 121),
    ]
    produce(
        kafka_cluster,
        "visits",
        [(json.dumps({"user": u}).encode(), base + s * 1000) for u, s in arrivals],
    )
    p = params(kafka_cluster.bootstrap_servers, "visits")
    source = Stream.from_kafka("visits", p, poll_interval=0.01, decode="json")
    read = source.sink_to_list()
    clock = EventClock(timestamp=None, max_out_of_order=5)
    counts = source.window(Tumbling(60), clock=clock, key=lambda x: x["user"]).count()
    results = counts.sink_to_list()
    late = Capture(counts.late).seen
    source.start()
    await until(lambda: len(read) == len(arrivals))
    closed = [(r.key, r.start - base / 1000, r.value) for r in results]
    assert sorted(closed) == [("a", 0, 2), ("b", 0, 1)]  # before the drain
    await source.shutdown(timeout=10)  # flushes the open windows, then commits
    closed = [(r.key, r.start - base / 1000, r.end - r.start, r.value) for r in results]
    assert sorted(closed[:2]) == [("a", 0, 60, 2), ("b", 0, 60, 1)]
    assert sorted(closed[2:]) == [("a", 60, 60, 2), ("a", 120, 60, 1), ("b", 60, 60, 1)]
    assert all(r.timing == "on_time" for r in results)
    [(element, [meta])] = late
    assert element == {"user": "b"} and meta["timestamp"] == base / 1000 + 5
    assert await committed(kafka_cluster, p["group.id"], "visits") == len(arrivals)


# ---------------------------------------------------------------------- the example


def expected_output():
    """The example's output, worked out from its data with the watermark rule: a click
    is late if its minute ended at or before (the latest Kafka time seen - 10 s)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import clicks_per_minute as example
    finally:
        sys.path.remove(str(EXAMPLES))
    events = example.clicks()
    latest, counts, late = -float("inf"), Counter(), []
    for ms, click in events:
        minute = ms // 60_000 * 60
        if minute + 60 <= latest - example.MAX_OUT_OF_ORDER:
            late.append(click)
        else:
            counts[minute, click["user"]] += 1
        latest = max(latest, ms / 1000)

    def hhmm(seconds):
        return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M")

    windows = {
        f"{hhmm(minute)}-{hhmm(minute + 60)} {user:<3} {n:>3} clicks"
        for (minute, user), n in counts.items()
    }
    return events, windows, late


def test_clicks_per_minute_example_counts_every_click_once_or_reports_it_late():
    events, windows, late = expected_output()
    assert len(events) == 300 and len(late) == 5  # the data is as the docstring says
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "clicks_per_minute.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    shown = lines[: len(windows)]
    assert set(shown) == windows and len(shown) == len(windows) == 15
    assert shown == sorted(shown, key=lambda line: line[:5])  # printed as minutes close
    assert lines[len(windows) : -1] == [
        f"late: click {c['id']} by {c['user']} (dead letter)" for c in late
    ]
    counted = sum(int(line.split()[2]) for line in shown)
    assert counted + len(late) == len(events)
    assert lines[-1] == (
        f"300 clicks: {counted} counted in 15 windows, 5 late; committed offset 300"
    )
