"""Crash recovery, end to end: the program runs in a child process (durable_app.py), is
killed with SIGKILL (at a chosen element, or at a checkpoint's commit by the crash hooks),
restarted, and must end exactly as the spec's scenarios say (research/state.md §3: R1,
R2, R3) and as an uninterrupted run does."""

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from streams import Stream
from streams.state import Checkpointer, DurabilityError, MemoryStore, SQLiteStore

APP = Path(__file__).with_name("durable_app.py")


def run(work, *args, crash=None, killed=False):
    env = {k: v for k, v in os.environ.items() if k != "STREAMS_CRASH_AT"}
    if crash:
        env["STREAMS_CRASH_AT"] = crash
    done = subprocess.run(
        [sys.executable, str(APP), *args[:1], str(work), *args[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if killed:
        assert done.returncode == -9, done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
    return done


def restores(work):
    return [json.loads(line) for line in (work / "restored.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------ R1


@pytest.mark.parametrize(
    ("every", "durable", "expected", "position"),
    [
        (1, False, "0 1 2 3 4", 3),  # (a) a checkpoint after every element
        (10, False, "0 1 2 0 1 2 3 4", 0),  # (b) none before the kill: at least once
        (10, True, "0 1 2 3 4", 0),  # (c) the durable file is truncated back
    ],
)
def test_r1_resume_point_and_duplicates(tmp_path, every, durable, expected, position):
    flags = ["--every", str(every)] + (["--durable"] if durable else [])
    run(tmp_path, "r1", "--kill-at", "3", *flags, killed=True)
    assert (tmp_path / "out.txt").read_text().split() == ["0", "1", "2"]
    run(tmp_path, "r1", *flags)
    assert " ".join((tmp_path / "out.txt").read_text().split()) == expected
    assert restores(tmp_path)[-1]["positions"] == {"numbers": position}


# ------------------------------------------------------------------ R2, R3


@pytest.fixture
def orders(tmp_path):
    lines = [f"u{i % 50},{i % 7 + 1}\n" for i in range(10_000)]
    (tmp_path / "orders.txt").write_text("".join(lines))
    totals = {}
    for line in lines:
        user, amount = line.strip().split(",")
        totals[user] = totals.get(user, 0) + int(amount)
    return totals


def offset_after(tmp_path, lines):
    with open(tmp_path / "orders.txt", "rb") as f:
        return sum(len(f.readline()) for _ in range(lines))


def check_r2_result(tmp_path, totals):
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["n"] == 10_000
    assert result["totals"] == totals
    assert len(totals) == 50 and sum(totals.values()) == 39994
    assert (totals["u0"], totals["u1"], totals["u49"]) == (794, 798, 794)
    with sqlite3.connect(tmp_path / "state.db") as db:  # the co-located, exactly-once table
        assert dict(db.execute("SELECT user, total FROM totals")) == totals
    store = SQLiteStore(tmp_path / "state.db")
    assert store.integrity_check() == ["ok"]
    size = os.path.getsize(tmp_path / "orders.txt")
    assert store.load().positions["orders"] == (size, 10_000)  # the whole file is done
    store.close()


def test_r2_keyed_totals_killed_mid_epoch(tmp_path, orders):
    run(tmp_path, "r2", "--every", "100", "--kill-at", "2345", killed=True)
    run(tmp_path, "r2", "--every", "100")
    restored = restores(tmp_path)[-1]
    assert restored["id"] == 23  # the checkpoint after line 2300
    assert restored["positions"] == {"orders": [offset_after(tmp_path, 2300), 2300]}
    check_r2_result(tmp_path, orders)


def test_r2_an_uninterrupted_run_gives_the_same_table(tmp_path, orders):
    run(tmp_path, "r2", "--every", "100")
    check_r2_result(tmp_path, orders)


@pytest.mark.parametrize(
    ("crash", "restored_id"),
    [("cut_taken:5", 4), ("before_commit:5", 4), ("after_commit:5", 5)],
)
def test_r3_killed_at_the_commit_boundaries(tmp_path, orders, crash, restored_id):
    run(tmp_path, "r2", "--every", "100", crash=crash, killed=True)
    run(tmp_path, "r2", "--every", "100")
    restored = restores(tmp_path)[-1]
    assert restored["id"] == restored_id
    line = restored_id * 100
    assert restored["positions"] == {"orders": [offset_after(tmp_path, line), line]}
    check_r2_result(tmp_path, orders)


def test_r3_killed_while_restoring(tmp_path, orders):
    run(tmp_path, "r2", "--every", "100", "--kill-at", "700", killed=True)
    run(tmp_path, "r2", "--every", "100", crash="restore_loaded:1", killed=True)
    run(tmp_path, "r2", "--every", "100")
    assert [r["id"] for r in restores(tmp_path)] == [0, 7]  # the same checkpoint again
    check_r2_result(tmp_path, orders)


# ------------------------------------------------------------------ R7 (Kafka)


def test_r7_kafka_counts_are_exact_after_kills(tmp_path, kafka_cluster):
    from confluent_kafka import Consumer, Producer, TopicPartition

    kafka_cluster.create_topic("orders", partitions=4)
    producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap_servers})
    for i in range(2000):
        user = f"u{i % 50}"
        producer.produce("orders", user.encode(), key=user.encode(), partition=i % 4)
    producer.flush(10)
    del producer
    flags = ["--servers", kafka_cluster.bootstrap_servers, "--lines", "2000", "--every", "1"]
    for kill_at in (300, 700, 450):  # successive runs, each killed part-way
        run(tmp_path, "r7", *flags, "--kill-at", str(kill_at), killed=True)
    run(tmp_path, "r7", *flags)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["n"] == 2000
    assert result["counts"] == {f"u{i}": 40 for i in range(50)}  # exactly once each
    restored = [r for r in restores(tmp_path) if r["positions"]]
    assert len(restored) >= 3  # every restart read on from a checkpoint
    store = SQLiteStore(tmp_path / "state.db")
    positions = store.load().positions["orders"]
    store.close()
    assert positions == {("orders", p): 500 for p in range(4)}  # all read, once
    consumer = Consumer(
        {"bootstrap.servers": kafka_cluster.bootstrap_servers, "group.id": "counters"}
    )
    committed = consumer.committed([TopicPartition("orders", p) for p in range(4)], timeout=10)
    consumer.close()
    assert [tp.offset for tp in committed] == [500] * 4  # the group's offsets are at the end


# ------------------------------------------------------------------ R8 (Kafka to Kafka)


def read_topic(servers, topic, isolation):
    """Every record of ``topic`` (one partition) as str, read with ``isolation``."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": "reader",  # (assigned, not subscribed: no group is joined)
            "enable.partition.eof": True,
            "isolation.level": isolation,
        }
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    values = []
    while True:
        msg = consumer.poll(10)
        assert msg is not None, f"{topic}: no end of partition reached"
        if msg.error():
            assert msg.error().code() == -191, msg.error().str()  # end of the partition
            break
        values.append(msg.value().decode())
    consumer.close()
    return values


def test_r8_kafka_to_kafka_exactly_once_through_kills(tmp_path, kafka_cluster):
    from confluent_kafka import Producer

    servers = kafka_cluster.bootstrap_servers
    kafka_cluster.create_topic("orders", partitions=4)
    kafka_cluster.create_topic("counts", partitions=1)
    kafka_cluster.create_topic("counts.commits", partitions=1)
    producer = Producer({"bootstrap.servers": servers})
    for i in range(2000):
        user = f"u{i % 50}"
        producer.produce("orders", f"{user}:{i}".encode(), key=user.encode(), partition=i % 4)
    producer.flush(10)
    del producer
    flags = ["--servers", servers, "--lines", "2000", "--every", "2"]  # 2 batches: ~100
    run(tmp_path, "r8", *flags, "--kill-at", "700", killed=True)  # mid-epoch
    for crash in ("before_commit:3", "after_commit:5", "after_sink_commit:7"):
        run(tmp_path, "r8", *flags, crash=crash, killed=True)  # one per run
    run(tmp_path, "r8", *flags)
    assert json.loads((tmp_path / "result.json").read_text())["n"] == 2000
    assert len(restores(tmp_path)) == 5
    records = read_topic(servers, "counts", "read_committed")
    sources = [r.split(",")[0] for r in records]
    assert len(records) == 2000  # each message once ...
    assert sorted(sources) == sorted(f"u{i % 50}:{i}" for i in range(2000))  # ... all of them
    counts = {}
    for r in records:
        source, n = r.split(",")
        counts.setdefault(source.split(":")[0], []).append(int(n))
    # running counts: exact state (no message counted twice or lost by a restore)
    assert {u: sorted(ns) for u, ns in counts.items()} == {
        f"u{i}": list(range(1, 41)) for i in range(50)
    }
    store = SQLiteStore(tmp_path / "state.db")
    last = store.load()
    store.close()
    outboxes = last.state["counts out"]["outboxes"]
    markers = read_topic(servers, "counts.commits", "read_committed")
    delivered = max(int(m.split(":")[1]) for m in markers)
    assert not outboxes or max(outboxes) <= delivered  # every stored outbox is in Kafka
    assert len(read_topic(servers, "counts", "read_uncommitted")) >= 2000


# ------------------------------------------------------------------ R9 (Redis Streams)


def test_r9_redis_consumer_group_counts_are_exact_after_kills(tmp_path, redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete("events")
    for i in range(5000):
        client.xadd("events", {"user": f"u{i % 50}"})
    flags = ["--servers", redis_url, "--lines", "5000", "--every", "100"]
    for kill_at in (1234, 2222):  # in successive runs
        run(tmp_path, "r9", *flags, "--kill-at", str(kill_at), killed=True)
    run(tmp_path, "r9", *flags)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["n"] == 5000
    assert result["counts"] == {f"u{i}": 100 for i in range(50)}  # exactly once each
    assert [r["id"] > 0 for r in restores(tmp_path)] == [False, True, True]
    assert client.xpending("events", "g")["pending"] == 0  # everything acknowledged
    client.close()


# ------------------------------------------------------------------ in one process


def test_graphs_that_cannot_be_checkpointed_are_refused():
    store = MemoryStore()
    source = Stream.from_iterable([1], stream_name="src")
    source.accumulate(lambda a, x: a + x, start=0)
    with pytest.raises(DurabilityError, match=r"accumulate.*needs a stream_name"):
        Checkpointer(source, store=store)
    source = Stream.from_iterable([1], stream_name="src")
    counted = source.map(lambda x: x + 1, stream_name="inc")
    counted.filter(lambda x: x < 5).connect(counted)  # a loop back
    with pytest.raises(DurabilityError, match=r"inc.*is in a cycle of the graph"):
        Checkpointer(source, store=store)
    source = Stream.from_iterable([1])
    with pytest.raises(DurabilityError, match="needs a stream_name"):
        Checkpointer(source, store=store)
    source = Stream.from_iterable([1], stream_name="a")
    source.accumulate(lambda a, x: a, start=0, stream_name="a")
    with pytest.raises(DurabilityError, match="two nodes are named 'a'"):
        Checkpointer(source, store=store)


def test_a_store_of_another_graph_is_refused_unless_allowed():
    store = MemoryStore()

    def graph(extra=None, name="total"):
        source = Stream.from_iterable(range(3), stream_name="src")
        total = source.accumulate(lambda a, x: a + x, start=0, stream_name=name)
        if extra:
            source.accumulate(lambda n, x: n + 1, start=0, stream_name=extra)
        return source, total

    async def run_graph(source, **options):
        async with Checkpointer(source, store=store, interval=None, **options):
            await source.wait()

    source, _ = graph()
    asyncio.run(run_graph(source))
    source, _ = graph(extra="count")
    with pytest.raises(DurabilityError, match=r"no state for \['count'\].*allow_missing_state"):
        asyncio.run(run_graph(source))
    source, _ = graph(extra="count")
    asyncio.run(run_graph(source, allow_missing_state=True))
    source, renamed = graph(name="sum")
    with pytest.raises(DurabilityError, match=r"state for \['count', 'total'\].*drop_unknown"):
        asyncio.run(run_graph(source, allow_missing_state=True))
    source, renamed = graph(name="sum")
    asyncio.run(run_graph(source, allow_missing_state=True, drop_unknown_state=True))
    assert renamed.state == 0  # started empty; the source had nothing left to replay


def test_periodic_checkpoints_on_the_loop_clock(tmp_path):
    from streams.testing import run_virtual

    async def main():
        source = Stream.from_iterable(range(1000), stream_name="src")
        slow = source.map(lambda x: x)
        slow.accumulate(lambda a, x: a + x, start=0, stream_name="total")
        store = MemoryStore()
        ck = Checkpointer(source, store=store, interval=1.0)
        async with ck:
            for _ in range(3):
                await asyncio.sleep(1.0)
            await source.wait()
        return ck.last_id, store.load()

    last_id, restored = run_virtual(main())
    assert last_id == 3  # at loop times 1 and 2, then the final one when leaving at 3
    assert restored.state["total"] == sum(range(1000))
    assert restored.positions["src"] == 1000


def test_filenames_are_not_emitted_again_after_a_restore(tmp_path):
    """An idle polling source does not hold a cut up: the checkpoint and stop() happen
    while it sleeps between two polls."""
    from streams.testing import run_virtual

    folder = tmp_path / "in"
    folder.mkdir()
    store = MemoryStore()

    async def main(new):
        for name in new:
            (folder / name).write_text("")
        source = Stream.filenames(str(folder), poll_interval=5.0, stream_name="names")
        seen = source.map(os.path.basename).sink_to_list()
        loop = asyncio.get_running_loop()
        async with Checkpointer(source, store=store, interval=None):
            await asyncio.sleep(1.0)  # one poll, then asleep for 4 more seconds
        return seen, loop.time()

    assert run_virtual(main(["a", "b"]), start=0) == (["a", "b"], 1.0)  # not at the next poll
    assert run_virtual(main(["c"]), start=0) == (["c"], 1.0)
    assert store.load().positions["names"] == [str(folder / n) for n in "abc"]


def test_the_checkpointer_in_a_plain_script(tmp_path):
    store = SQLiteStore(tmp_path / "state.db")
    for items, expected in [(range(4), 6), (range(6), 15)]:
        source = Stream.from_iterable(items, stream_name="src")
        total = source.accumulate(lambda a, x: a + x, start=0, stream_name="total")
        with Checkpointer(source, store=store, interval=None) as ck:
            source.wait()
        assert total.state == expected  # the second run went on from item 4
    assert ck.restored == {"src": 4}
    store.close()


def test_sink_to_sqlite_refuses_what_it_cannot_write_exactly_once(tmp_path):
    store = SQLiteStore(tmp_path / "a.db")
    other = SQLiteStore(tmp_path / "b.db")
    source = Stream.from_iterable(
        [{"k": 1, "v": {"nested": 1}}, {"k": 2, "v": 3}], stream_name="s"
    )
    with pytest.raises(TypeError, match="store must be a SQLiteStore"):
        source.sink_to_sqlite("t", store=MemoryStore(), stream_name="x")
    with pytest.raises(ValueError, match="give it a stream_name"):
        source.sink_to_sqlite("t", store=store)
    source.sink_to_sqlite("t", store=other, key="k", stream_name="out")
    with pytest.raises(DurabilityError, match="its store is not the checkpointer's"):
        Checkpointer(source, store=store)

    source = Stream.from_iterable(
        [{"k": 1, "v": {"nested": 1}}, {"k": 2, "v": 3}], stream_name="s"
    )
    sink = source.sink_to_sqlite("t", store=store, key="k", stream_name="out")
    sink.on_error = "dead_letter"
    errors = source.errors().sink_to_list()

    async def main():
        async with Checkpointer(source, store=store, interval=None):
            await source.wait()

    asyncio.run(main())
    assert [type(e.error).__name__ for e in errors] == ["TypeError"]
    assert "column 'v' holds a dict" in str(errors[0].error)
    with sqlite3.connect(tmp_path / "a.db") as db:
        assert list(db.execute("SELECT k, v FROM t")) == [(2, 3)]


def test_a_cut_that_waits_too_long_lets_the_sources_go_on_and_tries_again():
    from streams.testing import run_virtual

    async def main():
        slow = Stream.from_iterable(range(6), stream_name="slow")
        fast = Stream.from_iterable(range(6), stream_name="fast")
        total = fast.accumulate(lambda a, x: a + x, start=0, stream_name="total")

        async def takes_long(x):  # 0.2 loop seconds an element (> RETRY): mid-element
            await asyncio.sleep(0.2)

        slow.sink(takes_long)
        store = MemoryStore()
        ck = Checkpointer(slow, fast, store=store, interval=None, every=2)
        async with ck:
            await asyncio.gather(slow.wait(), fast.wait())
        return ck, store.load(), total.state

    ck, restored, total = run_virtual(main())
    assert ck._armed > ck.last_id  # some cuts were given up and asked for again
    assert restored.state["total"] == total == 15
    assert restored.positions == {"slow": 6, "fast": 6}


def test_the_checkpointer_on_a_rocksdb_store(tmp_path):
    from streams.state import RocksDBStore

    for items, expected in [(range(4), {0: 2, 1: 2}), (range(7), {0: 4, 1: 3})]:
        store = RocksDBStore(tmp_path / "state")
        source = Stream.from_iterable(items, stream_name="src")
        counts = source.accumulate(
            lambda n, x: n + 1, start=0, key=lambda x: x % 2, stream_name="n"
        )
        with Checkpointer(source, store=store, interval=None, every=2):
            source.wait()
        store.close()
        assert counts.state == expected  # the second run went on from item 4


@pytest.mark.real_time
def test_from_kafka_reads_on_from_the_restored_checkpoint(kafka_cluster):
    from confluent_kafka import Producer

    kafka_cluster.create_topic("events", partitions=1)
    producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap_servers})
    for i in range(10):
        producer.produce("events", f"e{i}".encode())
    producer.flush(10)
    del producer
    store = MemoryStore()

    async def run_until(group, seen):
        conf = {
            "bootstrap.servers": kafka_cluster.bootstrap_servers,
            "group.id": group,  # a new group: only the checkpoint knows where to go on
            "auto.offset.reset": "earliest",
        }
        source = Stream.from_kafka("events", conf, decode="utf-8", stream_name="events")
        got = source.accumulate(lambda acc, x: [*acc, x], start=[], stream_name="got")
        enough = asyncio.Event()
        got.sink(lambda acc: len(acc) >= seen and enough.set())
        async with Checkpointer(source, store=store, interval=None, every=1):
            await asyncio.wait_for(enough.wait(), 20)
        return got.state

    first = asyncio.run(run_until("g1", 4))
    assert first == [f"e{i}" for i in range(len(first))] and len(first) >= 4
    second = asyncio.run(run_until("g2", 10))
    assert second == [f"e{i}" for i in range(10)]  # the rest, once: not again from e0


@pytest.mark.real_time
def test_kafka_group_offsets_never_run_ahead_of_the_checkpoints(kafka_cluster):
    """A restore that knows no position for a partition reads it from the group's
    committed offset: that offset must be a checkpointed one, or what the elements after
    it did to the state (lost with the crash) would never be redone."""
    from confluent_kafka import Producer
    from helpers import committed

    kafka_cluster.create_topic("ticks", partitions=1)
    producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap_servers})
    for i in range(6):
        producer.produce("ticks", str(i).encode())
    producer.flush(10)

    def committed_offset():
        return committed(kafka_cluster, "t", "ticks")[0]

    async def main():
        conf = {
            "bootstrap.servers": kafka_cluster.bootstrap_servers,
            "group.id": "t",
            "auto.offset.reset": "earliest",
        }
        source = Stream.from_kafka("ticks", conf, stream_name="ticks", poll_interval=0.01)
        total = source.map(int).accumulate(lambda a, x: a + x, start=0, stream_name="total")
        done = asyncio.Event()
        total.sink(lambda t: t == 15 and done.set())
        checkpointer = Checkpointer(source, store=MemoryStore(), interval=None)
        await checkpointer.start()
        await asyncio.wait_for(done.wait(), 20)
        await asyncio.sleep(0.3)  # (acknowledgements would have committed by now)
        before = committed_offset()
        await checkpointer.checkpoint()
        await asyncio.sleep(0.3)
        after = committed_offset()
        await checkpointer.stop()
        return before, after

    assert asyncio.run(main()) == (-1001, 6)  # nothing before the checkpoint; then all
