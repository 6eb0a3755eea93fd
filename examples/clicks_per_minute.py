"""Clicks per user per minute, by Kafka time, from an out-of-order topic.

A mock Kafka cluster (librdkafka's, on loopback: no Kafka install needed) receives 300
click events. Each message's Kafka timestamp is when the click happened; the messages
arrive up to 8 seconds out of order, and 5 of them a good 100 seconds late.
``Stream.from_kafka`` puts each message's timestamp (in seconds) in its metadata, where
``EventClock()`` reads it: the graph counts clicks per user in one-minute windows and
prints each count once the watermark (the latest Kafka time seen, less 10 seconds)
has passed the window's end. Clicks too late for their window go to a dead-letter file
(JSON lines). ``shutdown()`` ends the run: the source stops, the windows still open
are flushed, and the consumer commits its offsets before it closes.

Run it with ``python examples/clicks_per_minute.py``.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from streams import Stream
from streams.testing.kafka import MockKafkaCluster
from streams.windows import EventClock, Tumbling, WindowResult

TOPIC = "clicks"
USERS = ("ana", "bo", "cy")
START_MS = 1_714_564_800_000  # 2024-05-01 12:00:00 UTC
MAX_OUT_OF_ORDER = 10  # seconds


def clicks(n: int = 300, late: int = 5, seed: int = 3) -> list[tuple[int, dict[str, object]]]:
    """``(kafka_timestamp_ms, click)`` pairs in the order they reach Kafka: five minutes
    of clicks, each sent up to 8 s after it happened, but ``late`` of those of the first
    three minutes 100 s after."""
    rng = random.Random(seed)
    times = sorted(START_MS + rng.randrange(300_000) for _ in range(n))
    delayed = set(rng.sample([i for i, t in enumerate(times) if t < START_MS + 180_000], late))
    arrivals = []
    for i, t in enumerate(times):
        delay = 100_000 if i in delayed else rng.randrange(8_000)
        arrivals.append((t + delay, t, {"id": i, "user": rng.choice(USERS)}))
    return [(t, click) for _, t, click in sorted(arrivals, key=lambda a: a[0])]


def produce(servers: str, events: list[tuple[int, dict[str, object]]]) -> None:
    """Write the clicks, each with its Kafka timestamp (the producer goes when done)."""
    producer = Producer({"bootstrap.servers": servers})
    for ms, click in events:
        producer.produce(TOPIC, json.dumps(click).encode(), timestamp=ms)
    producer.flush(10)


def clock_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M")


def main() -> None:
    events = clicks()
    with MockKafkaCluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        servers = cluster.bootstrap_servers
        cluster.create_topic(TOPIC)  # one partition: read in the order produced
        produce(servers, events)

        params = {
            "bootstrap.servers": servers,
            "group.id": "clicks-per-minute",
            "auto.offset.reset": "earliest",
        }
        source = Stream.from_kafka(TOPIC, params, poll_interval="10ms", decode="json")
        read: list[dict[str, object]] = []  # to know when all clicks are in
        source.sink(read.append)
        clock = EventClock(max_out_of_order=MAX_OUT_OF_ORDER)  # Kafka time, from metadata
        per_minute = source.window(Tumbling(60), clock=clock, key="user").count()
        windows: list[WindowResult] = []

        def show(result: WindowResult) -> None:  # when its window closes
            windows.append(result)
            span = f"{clock_time(result.start)}-{clock_time(result.end)}"
            print(f"{span} {result.key:<3} {result.value:>3} clicks")

        per_minute.sink(show)
        dead_letters = Path(tmp) / "late_clicks.jsonl"
        with dead_letters.open("w") as dead:
            per_minute.late.sink(lambda click: dead.write(json.dumps(click) + "\n"))
            source.start()
            deadline = time.monotonic() + 30
            while len(read) < len(events) and time.monotonic() < deadline:
                time.sleep(0.01)
            source.shutdown(timeout=10)  # stop, flush the open windows, commit, close

        late = [json.loads(line) for line in dead_letters.read_text().splitlines()]
        for click in late:
            print(f"late: click {click['id']} by {click['user']} (dead letter)")
        check = Consumer(params)
        [tp] = check.committed([TopicPartition(TOPIC, 0)], timeout=10)
        check.close()
        counted = sum(w.value for w in windows)
        print(
            f"{len(events)} clicks: {counted} counted in {len(windows)} windows, "
            f"{len(late)} late; committed offset {tp.offset}"
        )


if __name__ == "__main__":
    main()
