#!/usr/bin/env python
"""Events per second through a Faust-style agent counting into a Table, against a
hand-written confluent-kafka consume-count-commit loop in the same run.

Workload
--------
One librdkafka mock cluster (``streams.testing.kafka.MockKafkaCluster``), one topic of
one partition, N messages (``--messages``, default 200,000) produced before any timing
by one confluent-kafka ``Producer`` (``linger.ms`` 50, lz4 batches: the mock keeps
about 5 MiB per partition), key the user (``b"u123"``), value JSON such as
``{"user": "u123", "page": "/p/45"}`` with 1,000 distinct pages. Every run reads all N
messages from the beginning as a fresh consumer group (``auto.offset.reset=earliest``)
and counts the messages per page; each run's counts are checked against the produced
ones.

Systems
-------
hand-written loop
    ``Consumer.consume(500, 1.0)`` in the main thread (blocking), ``json.loads`` of
    each value, ``counts[v["page"]] += 1`` in a ``defaultdict(int)``,
    ``commit(asynchronous=True)`` after each batch, until N messages are counted.
streams.app (JSON dicts)
    ``import streams.app as faust``: ``faust.App(..., store="memory://")``,
    ``app.topic(name, value_type=None)``, ``counts = app.Table("counts", default=int)``
    and an agent ``async for v in stream: counts[v["page"]] += 1``.
streams.app (Record)
    The same with ``value_type=Click``, a ``faust.Record`` (``user: str, page: str``),
    and ``counts[v.page] += 1``.
streams.app (SQLite store)
    The JSON-dict app with ``store="sqlite://<tmpdir>/tables.db"``: a durable
    checkpoint of the table and the topic position every 2.8 s (the default
    ``broker_commit_interval``).
faust-streaming
    Optional, with ``--faust-python PATH``: the Python of a separate virtual
    environment holding faust-streaming (0.15 requires ``click<8.4``, a downgrade for
    dask and distributed, so it is not installed next to streams) and ``cramjam`` (for
    the lz4 batches): ``python -m venv /tmp/faustenv && /tmp/faustenv/bin/pip install
    faust-streaming cramjam``. The same agent and table (``store="memory://"``, the
    table's changelog topic created beforehand with one partition) run as a Faust
    worker in a child process against the same mock cluster.

Figures
-------
``events/s`` is N divided by the time from the first message in hand (the first batch
returned by ``consume`` in the loop, the first event the agent gets) to the N-th message
counted: the consumer group join is left out of it, for every system alike. ``whole``
is the time from creating the consumer (``await app.start()`` for the apps) to the N-th
message counted. Each system runs ``--repeat`` times, alternately; the best run of
each is reported, with its ratio to the best run of the hand-written loop.

Run
---
::

    python benchmarks/app_agents.py                      # N = 200,000, best of 3
    python benchmarks/app_agents.py --messages 50000 --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import partial

from confluent_kafka import Consumer, Producer, TopicPartition

import streams.app as faust
from streams.testing.kafka import MockKafkaCluster

TOPIC = "clicks"
PAGES = 1000
USERS = 10_007
QUIET = {"log_level": 0}
_runs = itertools.count()


class Click(faust.Record):
    user: str
    page: str


Timing = tuple[float, float]  # (first message to N-th counted, start to N-th counted)


def produce(servers: str, n: int) -> Counter[str]:
    """Write the N messages; return the expected count per page."""
    producer = Producer(
        {"bootstrap.servers": servers, "linger.ms": 50, "compression.type": "lz4"}
        | {"queue.buffering.max.messages": n, "batch.num.messages": 10_000}
        | QUIET
    )
    expected: Counter[str] = Counter()
    for i in range(n):
        user, page = f"u{(i * 31) % USERS}", f"/p/{(i * 7919) % PAGES}"
        expected[page] += 1
        value = json.dumps({"user": user, "page": page}).encode()
        producer.produce(TOPIC, key=user.encode(), value=value)
        if i % 10_000 == 0:
            producer.poll(0)
    if producer.flush(60):
        raise RuntimeError("could not produce the messages")
    probe = Consumer({"bootstrap.servers": servers, "group.id": "probe"} | QUIET)
    low, high = probe.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
    probe.close()
    if high - low != n:
        raise RuntimeError(f"the mock kept {high - low} of {n} messages (its retention)")
    return expected


def check(name: str, counts: dict[str, int], expected: Counter[str]) -> None:
    if dict(counts) != dict(expected):
        wrong = sum(counts.values())
        raise RuntimeError(f"{name}: counted {wrong} messages, not the ones produced")


# ----------------------------------------------------------------- the hand-written loop


def hand_loop(servers: str, n: int, expected: Counter[str]) -> Timing:
    started = time.perf_counter()
    consumer = Consumer(
        {"bootstrap.servers": servers, "group.id": f"hand-{next(_runs)}"}
        | {"auto.offset.reset": "earliest", "enable.auto.commit": False}
        | QUIET
    )
    consumer.subscribe([TOPIC])
    counts: defaultdict[str, int] = defaultdict(int)
    seen, first = 0, 0.0
    loads = json.loads
    while seen < n:
        messages = consumer.consume(500, 1.0)
        if not messages:
            continue
        if not first:
            first = time.perf_counter()
        for msg in messages:
            if msg.error() is not None:
                continue
            v = loads(msg.value())
            counts[v["page"]] += 1
            seen += 1
        consumer.commit(asynchronous=True)
    last = time.perf_counter()
    consumer.close()
    check("hand-written loop", counts, expected)
    return last - first, last - started


# ----------------------------------------------------------------- streams.app


async def app_run(
    servers: str, n: int, expected: Counter[str], store: str, record: bool
) -> Timing:
    run = next(_runs)
    app = faust.App(f"bench-{run}", broker=f"kafka://{servers}", store=store, broker_config=QUIET)
    topic = app.topic(TOPIC, value_type=Click if record else None)
    counts = app.Table("counts", default=int)
    marks: list[float] = []
    done = asyncio.Event()

    async def count_dicts(stream: faust.Stream) -> None:
        seen = 0
        async for v in stream:
            if not seen:
                marks.append(time.perf_counter())
            counts[v["page"]] += 1
            seen += 1
            if seen == n:
                marks.append(time.perf_counter())
                done.set()

    async def count_records(stream: faust.Stream) -> None:
        seen = 0
        async for v in stream:
            if not seen:
                marks.append(time.perf_counter())
            counts[v.page] += 1
            seen += 1
            if seen == n:
                marks.append(time.perf_counter())
                done.set()

    app.agent(topic, name="count")(count_records if record else count_dicts)
    started = time.perf_counter()
    await app.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=max(60.0, n / 2000))
    finally:
        await app.stop()
    check(f"streams.app ({store})", dict(counts.data), expected)
    return marks[1] - marks[0], marks[1] - started


def app_system(servers: str, n: int, expected: Counter[str], sqlite: int, record: int) -> Timing:
    with tempfile.TemporaryDirectory() as work:
        store = f"sqlite://{os.path.join(work, 'tables.db')}" if sqlite else "memory://"
        return asyncio.run(app_run(servers, n, expected, store, bool(record)))


# ----------------------------------------------------------------- faust-streaming

FAUST_APP = """
import json, os, time
import faust

n = int(os.environ["BENCH_N"])
app = faust.App(os.environ["BENCH_ID"], broker="kafka://" + os.environ["BENCH_SERVERS"],
                store="memory://", topic_partitions=1, web_enabled=False,
                topic_allow_declare=False, consumer_auto_offset_reset="earliest")
topic = app.topic(os.environ["BENCH_TOPIC"], value_serializer="json", partitions=1)
counts = app.Table("counts", default=int, partitions=1)
marks = []

@app.agent(topic)
async def count(stream):
    async for v in stream:
        if not marks:
            marks.append(time.perf_counter())
        counts[v["page"]] += 1
        marks.append(None)
        if len(marks) == n + 1:
            print("BENCH " + json.dumps({"steady": time.perf_counter() - marks[0],
                                         "counts": dict(counts.items())}), flush=True)
            os._exit(0)

app.main()
"""


def faust_system(
    python: str, cluster: MockKafkaCluster, servers: str, n: int, expected: Counter[str]
) -> Timing:
    import subprocess

    app_id = f"faust-{next(_runs)}"
    cluster.create_topic(f"{app_id}-counts-changelog", partitions=1)
    with tempfile.TemporaryDirectory() as work:
        script = os.path.join(work, "faust_count.py")
        with open(script, "w") as f:
            f.write(FAUST_APP)
        env = {
            **os.environ,
            "BENCH_N": str(n),
            "BENCH_ID": app_id,
            "BENCH_SERVERS": cluster.bootstrap_servers,
            "BENCH_TOPIC": TOPIC,
        }
        started = time.perf_counter()
        done = subprocess.run(
            [python, script, "worker", "-l", "warn", "--without-web"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=max(600, n / 100),
            check=False,
        )
        whole = time.perf_counter() - started
    line = next((x for x in (done.stdout + done.stderr).splitlines() if "BENCH " in x), None)
    if line is None:
        raise RuntimeError(f"faust-streaming did not finish: {done.stderr[-2000:]}")
    result = json.loads(line.split("BENCH ", 1)[1].strip())
    check("faust-streaming", result["counts"], expected)
    return result["steady"], whole


# ----------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--messages", type=int, default=200_000, help="N (default 200,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per system; the best counts")
    parser.add_argument(
        "--faust-python", help="the python of a venv with faust-streaming: adds its row"
    )
    args = parser.parse_args()
    n = args.messages
    logging.basicConfig(level=logging.WARNING)
    systems: dict[str, Callable[[str, int, Counter[str]], Timing]] = {
        "hand-written confluent-kafka loop": hand_loop,
        "streams.app (JSON dicts, memory store)": partial(app_system, sqlite=0, record=0),
        "streams.app (Record, memory store)": partial(app_system, sqlite=0, record=1),
        "streams.app (JSON dicts, SQLite store)": partial(app_system, sqlite=1, record=0),
    }
    with MockKafkaCluster() as cluster:
        cluster.create_topic(TOPIC, partitions=1)
        servers = cluster.bootstrap_servers
        t = time.perf_counter()
        expected = produce(servers, n)
        print(f"{n:,} JSON messages, 1 partition, {PAGES} pages, produced in "
              f"{time.perf_counter() - t:.1f} s; best of {args.repeat}\n")  # fmt: skip
        if args.faust_python:
            faust_run = partial(faust_system, args.faust_python, cluster)
            systems["faust-streaming (memory store, changelog)"] = faust_run
        best: dict[str, Timing] = {}
        for _ in range(args.repeat):
            for name, system in systems.items():
                timing = system(servers, n, expected)
                if name not in best or timing[0] < best[name][0]:
                    best[name] = timing
    base = best["hand-written confluent-kafka loop"][0]
    print("| system | events/s | ratio | whole (s, incl. group join) |")
    print("|---|---:|---:|---:|")
    for name, (steady, whole) in best.items():
        print(f"| {name} | {n / steady:,.0f} | {base / steady:.2f}x | {whole:.2f} |")
    if not args.faust_python:
        print("\nfaust-streaming: no row (give --faust-python: the python of a venv with "
              "faust-streaming and cramjam; see the docstring)")  # fmt: skip


if __name__ == "__main__":
    main()
