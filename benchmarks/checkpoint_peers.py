#!/usr/bin/env python
"""What durable state costs in streams' peers, next to streams' own figures (issue 12).

The workload of ``benchmarks/checkpoint.py``: a keyed running count/sum over N elements
``(key, value)`` with K keys, ``key = (i * 7919) % K`` and ``value = i % 13`` (its
``elements`` function, imported from that file; peers get the elements in their own
form, converted before any timing). Every case runs once per invocation.

Cases
-----
streams
    ``checkpoint.plain`` (no checkpointer) against ``checkpoint.durable`` (a
    ``Checkpointer(interval=...)`` into a SQLiteStore, for each of ``--intervals``, 1 s
    and 0.1 s: streams does 1M elements in about 1 s, so at 1 s there may be no periodic
    checkpoint but the first and the last): elapsed time, throughput and ratio; the
    pause (p50/p99) and duration (p50/p99) of the periodic checkpoints; the time to
    restore the K keys of the last checkpoint into a new graph (``checkpoint.recovery``).
bytewax
    ``op.stateful_map`` keyed on ``str(key)`` over a ``TestingSource`` (``batch_size``
    ``--bytewax-batch``) into a sink that drops what it gets, run by
    ``bytewax.testing.run_main`` with ``epoch_interval`` 1 s, without recovery and with
    SQLite recovery (``init_db_dir`` with one partition, ``RecoveryConfig``; bytewax
    snapshots the state changed in an epoch at the end of each epoch, so 1 s is the
    snapshot interval): elapsed time, throughput, ratio. ``resume``: the same dataflow
    started again on the recovery directory with 3 elements appended to the input; it
    restores the snapshots, skips the N consumed elements and handles the 3 new ones
    (their outputs must carry the counts restored, else the case says so).
quixstreams
    An ``Application`` (``commit_interval=1.0``, ``auto_offset_reset="earliest"``)
    consuming N messages (key ``str(key)``, value a 4-byte int) from a 4-partition topic
    of librdkafka's mock cluster (``streams.testing.kafka.MockKafkaCluster``; the
    messages are produced first, lz4-compressed to stay within the mock's 5 MiB per
    partition retention, not timed), with ``sdf.apply(..., stateful=True)`` counting
    per key in RocksDB, with and without its changelog topics, and the same application
    with a stateless ``apply``. The mock has no admin API (CreateTopics,
    DescribeConfigs), so a small ``TopicAdmin`` subclass answers from the topic
    metadata and creates the changelog topics through the mock. ``process`` is the
    time from the first message handled to the N-th (the consumer group join is left
    out), ``run`` the whole ``app.run(count=N)`` call.

Run
---
::

    python benchmarks/checkpoint_peers.py                    # N = 1,000,000, K = 100,000
    python benchmarks/checkpoint_peers.py --elements 200000 --cases bytewax quixstreams

bytewax and quixstreams are not dependencies of streams (nor in pyproject.toml): install
them into the running environment (``pip install bytewax quixstreams``) to include
them; a case whose peer is not installed prints ``skipped: not installed``. quixstreams
3.28 asks for confluent-kafka < 2.13; it ran here with 2.16.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

PARTITIONS = 4


def load_checkpoint() -> ModuleType:
    """benchmarks/checkpoint.py as a module (its main() runs only as a script)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoint.py")
    spec = importlib.util.spec_from_file_location("checkpoint_bench", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def line(case: str, n: int, seconds: float, base: float | None = None, note: str = "") -> None:
    ratio = f"  {base / seconds:.2f}x" if base else ""
    print(f"  {case:30s} {seconds:7.3f} s  {n / seconds / 1e6:5.3f} M/s{ratio}{note}")


# ----------------------------------------------------------------- streams


def run_streams(cp: ModuleType, data: list[tuple[int, int]], n: int, every: list[float]) -> None:
    work = tempfile.mkdtemp()
    plain = asyncio.run(cp.plain(data))
    print("streams: accumulate(key=0), checkpoint.py's plain and durable (SQLite)")
    line("plain", n, plain)
    path = ""
    for interval in every:
        path = os.path.join(work, f"state-{interval:g}.db")
        figures: dict[str, list[float]] = {"pause": [], "duration": []}
        durable = asyncio.run(cp.durable(data, path, interval, figures))
        line(f"durable (SQLite, every {interval:g} s)", n, durable, plain)
        p, d = figures["pause"], figures["duration"]
        if not p:
            print("    no periodic checkpoint (the run was shorter than the interval)")
            continue
        ms = [cp.percentile(v, q) * 1e3 for v in (p, d) for q in (0.5, 0.99)]
        print(
            f"    {len(p)} periodic checkpoints: pause p50 {ms[0]:.1f} ms, p99 {ms[1]:.1f} ms;"
            f" duration p50 {ms[2]:.1f} ms, p99 {ms[3]:.1f} ms"
        )
    restore, keys = asyncio.run(cp.recovery(data, path))
    print(f"  recovery of {keys:,} keys: {restore:.3f} s")


# ----------------------------------------------------------------- bytewax


def run_bytewax(data: list[tuple[int, int]], n: int, batch: int) -> None:
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.outputs import DynamicSink, StatelessSinkPartition
    from bytewax.recovery import RecoveryConfig, init_db_dir
    from bytewax.testing import TestingSource, run_main

    class Drop(StatelessSinkPartition[Any]):
        def __init__(self, seen: list[Any] | None) -> None:
            self.seen = seen

        def write_batch(self, items: list[Any]) -> None:
            if self.seen is not None:
                self.seen.extend(items)

    class DropSink(DynamicSink[Any]):
        def __init__(self, seen: list[Any] | None = None) -> None:
            self.seen = seen

        def build(self, step_id: str, worker_index: int, worker_count: int) -> Drop:
            return Drop(self.seen)

    def add(state: tuple[int, int] | None, value: int) -> tuple[tuple[int, int], Any]:
        count, total = state if state is not None else (0, 0)
        return (count + 1, total + value), (count + 1, total + value)

    def flow(items: list[tuple[str, int]], seen: list[Any] | None = None) -> Dataflow:
        f = Dataflow("checkpoint_bench")
        up = op.input("in", f, TestingSource(items, batch_size=batch))
        totals = op.stateful_map("totals", up, add)
        op.output("out", totals, DropSink(seen))
        return f

    def timed(items: list[tuple[str, int]], config: Any, seen: list[Any] | None = None) -> float:
        started = time.perf_counter()
        run_main(  # type: ignore[no-untyped-call]
            flow(items, seen), epoch_interval=timedelta(seconds=1), recovery_config=config
        )
        return time.perf_counter() - started

    keyed = [(str(k), v) for k, v in data]
    db = Path(tempfile.mkdtemp())
    init_db_dir(db, 1)  # type: ignore[no-untyped-call]
    config = RecoveryConfig(str(db))  # type: ignore[no-untyped-call]
    plain = timed(keyed, None)
    durable = timed(keyed, config)
    size = sum(f.stat().st_size for f in db.iterdir()) / 2**20
    extra = keyed[:3]
    seen: list[Any] = []
    resume = timed([*keyed, *[(k, 0) for k, _ in extra]], config, seen)
    expect = sorted((k, sum(1 for x, _ in keyed if x == k) + 1) for k, _ in extra)
    restored = sorted((k, c) for k, (c, _) in seen) == expect
    print(f"bytewax: stateful_map, run_main, epoch_interval 1 s, TestingSource batch {batch}")
    line("no recovery", n, plain)
    line("SQLite recovery (epoch 1 s)", n, durable, plain, f"  ({size:.1f} MiB of db)")
    verdict = "state restored" if restored else f"state NOT restored: {seen} != {expect}"
    print(f"  resume on the recovery db (+3 elements): {resume:.3f} s ({verdict})")


# ----------------------------------------------------------------- quixstreams


def run_quix(data: list[tuple[int, int]], n: int) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from quixstreams import Application
    from quixstreams.models.topics import Topic, TopicAdmin, TopicConfig, TopicManager

    from streams.testing.kafka import MockKafkaCluster

    class MockAdmin(TopicAdmin):
        """Topic configs from metadata, topics made through the mock (no admin API)."""

        def __init__(self, cluster: MockKafkaCluster) -> None:
            super().__init__(broker_address=cluster.bootstrap_servers)
            self.cluster = cluster

        def inspect_topics(
            self, topic_names: list[str], timeout: float = 30
        ) -> dict[str, TopicConfig | None]:
            have = self.list_topics(timeout=timeout)
            unlimited = {"retention.ms": "-1", "retention.bytes": "-1"}
            return {
                t: TopicConfig(len(have[t].partitions), 1, unlimited) if t in have else None
                for t in topic_names
            }

        def create_topics(
            self, topics: list[Topic], timeout: float = 30, finalize_timeout: float = 60
        ) -> None:
            have = self.list_topics(timeout=timeout)
            for t in topics:
                if t.name not in have:
                    parts = t.create_config.num_partitions if t.create_config else None
                    self.cluster.create_topic(t.name, partitions=parts or PARTITIONS)

    def run(cluster: MockKafkaCluster, case: str) -> tuple[float, float]:
        group = f"bench-{case}"
        marks: list[float] = []

        done = [0]

        def stateless(value: int) -> int:
            done[0] += 1
            if done[0] == 1 or done[0] == n:
                marks.append(time.perf_counter())
            return value

        def counting(value: int, state: Any) -> int:
            count = state.get("count", 0) + 1
            state.set("count", count)
            state.set("sum", state.get("sum", 0) + value)
            return stateless(value)

        with tempfile.TemporaryDirectory() as state_dir:
            app = Application(
                broker_address=cluster.bootstrap_servers,
                consumer_group=group,
                auto_offset_reset="earliest",
                commit_interval=1.0,
                state_dir=state_dir,
                use_changelog_topics=case == "rocksdb + changelog",
                topic_manager=TopicManager(topic_admin=MockAdmin(cluster), consumer_group=group),
                loglevel="WARNING",
                consumer_extra_config={"log_level": 0},
                producer_extra_config={"log_level": 0},
            )
            topic = app.topic("orders", key_deserializer="str", value_deserializer="int")
            sdf = app.dataframe(topic)
            if case == "stateless":
                sdf = sdf.apply(stateless)
            else:
                sdf = sdf.apply(counting, stateful=True)
            started = time.perf_counter()
            app.run(count=n, collect=False)
            elapsed = time.perf_counter() - started
        if done[0] != n or len(marks) != 2:
            raise RuntimeError(f"quixstreams {case}: handled {done[0]} of {n} messages")
        return marks[1] - marks[0], elapsed

    with MockKafkaCluster() as cluster:
        cluster.create_topic("orders", partitions=PARTITIONS)
        common = {"bootstrap.servers": cluster.bootstrap_servers, "log_level": 0}
        producer = Producer(
            common
            | {"linger.ms": 100, "compression.type": "lz4", "queue.buffering.max.messages": n}
        )
        for i, (k, v) in enumerate(data):
            producer.produce("orders", key=str(k).encode(), value=v.to_bytes(4, "big"))
            if i % 10_000 == 0:
                producer.poll(0)
        if producer.flush(60):
            raise RuntimeError("could not produce the messages")
        del producer
        probe = Consumer(common | {"group.id": "probe"})
        kept = 0
        for p in range(PARTITIONS):
            low, high = probe.get_watermark_offsets(TopicPartition("orders", p), timeout=10)
            kept += high - low
        probe.close()
        if kept != n:
            raise RuntimeError(f"the mock kept {kept} of {n} messages (its retention)")
        figures = {c: run(cluster, c) for c in ("stateless", "rocksdb", "rocksdb + changelog")}
    print(f"quixstreams: Application on the mock cluster, {PARTITIONS} partitions, commit 1 s")
    base = figures["stateless"][0]
    for case, (process, whole) in figures.items():
        ratio = None if case == "stateless" else base
        line(case, n, process, ratio, f"  (run {whole:.2f} s)")


# ----------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--elements", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--bytewax-batch", type=int, default=1000, help="TestingSource batch")
    parser.add_argument(
        "--intervals", type=float, nargs="+", default=[1.0, 0.1], help="streams' checkpoints"
    )
    cases = ["streams", "bytewax", "quixstreams"]
    parser.add_argument("--cases", nargs="+", choices=cases, default=cases)
    args = parser.parse_args()
    cp = load_checkpoint()
    data: list[tuple[int, int]] = cp.elements(args.elements, args.keys)
    n = args.elements
    print(f"{n:,} elements, {args.keys:,} keys, keyed running count/sum; one run per case")
    runners: dict[str, Callable[[], None]] = {
        "streams": lambda: run_streams(cp, data, n, args.intervals),
        "bytewax": lambda: run_bytewax(data, n, args.bytewax_batch),
        "quixstreams": lambda: run_quix(data, n),
    }
    for case in args.cases:
        module = "bytewax.recovery" if case == "bytewax" else case
        with warnings.catch_warnings():  # quiet the peers' dependencies' deprecations
            warnings.simplefilter("ignore")
            with contextlib.suppress(ImportError):  # authlib sets "always" for its own
                import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401
            if case != "streams" and importlib.util.find_spec(module.split(".")[0]) is None:
                print(f"{case}: skipped: not installed (pip install {case})")
                continue
            try:
                runners[case]()
            except ImportError as exc:
                print(f"{case}: skipped: not importable ({exc})")
            except Exception as exc:
                print(f"{case}: failed: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
