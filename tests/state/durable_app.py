"""The programs of the crash-recovery tests, run in a child process (see test_recovery.py).

``python durable_app.py <r1|r2> <workdir> [options]``: builds the graph, restores the
latest checkpoint from ``<workdir>/state.db``, runs, and appends what it restored to
``<workdir>/restored.jsonl``; ``--kill-at n`` kills the process (SIGKILL) when the n-th
element (0-based, counted in this process) reaches the map right after the source.
"""

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path

from streams import Stream
from streams.state import Checkpointer, SQLiteStore


def killer(kill_at):
    seen = 0

    def check(x):
        nonlocal seen
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        seen += 1
        return x

    return check


def note_restore(work, ck):
    def plain(position):  # Kafka positions are keyed by (topic, partition)
        if isinstance(position, dict):
            return {f"{k[0]}:{k[1]}": v for k, v in position.items()}
        return position

    positions = {name: plain(p) for name, p in ck.restored.items()}
    with open(work / "restored.jsonl", "a") as f:
        f.write(json.dumps({"id": ck.last_id, "positions": positions}) + "\n")


async def r1(work, args):
    """Numbers 0-4 into a text file (Bytewax's abort tests)."""
    source = Stream.from_iterable(range(5), stream_name="numbers")
    lines = source.map(killer(args.kill_at)).map(str)
    if args.durable:
        lines.sink_to_textfile(work / "out.txt", durable=True, stream_name="out")
    else:
        lines.sink_to_textfile(work / "out.txt")
    store = SQLiteStore(work / "state.db")
    ck = Checkpointer(source, store=store, interval=None, every=args.every, wait_for_commit=True)
    async with ck:
        note_restore(work, ck)
        await source.wait()


async def r2(work, args):
    """Running totals per user from a text file of orders."""
    source = Stream.from_textfile(work / "orders.txt", poll_interval=0.01, stream_name="orders")
    orders = source.map(killer(args.kill_at)).map(lambda line: line.strip().split(","))
    totals = orders.accumulate(
        lambda total, o: total + int(o[1]), start=0, key=0, stream_name="totals"
    )
    count = orders.accumulate(lambda n, o: n + 1, start=0, stream_name="n")
    done = asyncio.Event()
    count.sink(lambda n: n == args.lines and done.set())
    store = SQLiteStore(work / "state.db")
    rows = totals.map(lambda kv: {"user": kv[0], "total": kv[1]})
    rows.sink_to_sqlite("totals", store=store, key="user", stream_name="totals table")
    ck = Checkpointer(source, store=store, interval=None, every=args.every, wait_for_commit=True)
    async with ck:
        note_restore(work, ck)
        if count.state != args.lines:
            await done.wait()
    result = {"totals": totals.state, "n": count.state, "last_id": ck.last_id}
    (work / "result.json").write_text(json.dumps(result))


async def count_users(work, args, source, users):
    """Counts per user of ``users`` (from ``source``), checkpointed until ``--lines``
    elements were counted; the result goes to result.json."""
    counts = users.accumulate(lambda n, u: n + 1, start=0, key=lambda u: u, stream_name="counts")
    count = users.accumulate(lambda n, u: n + 1, start=0, stream_name="n")
    done = asyncio.Event()
    count.sink(lambda n: n == args.lines and done.set())
    store = SQLiteStore(work / "state.db")
    ck = Checkpointer(source, store=store, interval=None, every=args.every, wait_for_commit=True)
    async with ck:
        note_restore(work, ck)
        if count.state != args.lines:
            await done.wait()
    result = {"counts": counts.state, "n": count.state, "last_id": ck.last_id}
    (work / "result.json").write_text(json.dumps(result))


async def r7(work, args):
    """Counts per user from a Kafka topic (the parent owns the mock cluster)."""
    conf = {
        "bootstrap.servers": args.servers,
        "group.id": "counters",
        "auto.offset.reset": "earliest",
    }
    source = Stream.from_kafka_batched(
        "orders", conf, poll_interval=0.01, max_batch_size=50, decode="utf-8", stream_name="orders"
    )
    await count_users(work, args, source, source.flatten().map(killer(args.kill_at)))


async def r8(work, args):
    """Kafka to Kafka, exactly once: a record per message with its user's running count."""
    conf = {
        "bootstrap.servers": args.servers,
        "group.id": "counters",
        "auto.offset.reset": "earliest",
    }
    source = Stream.from_kafka_batched(
        "orders", conf, poll_interval=0.01, max_batch_size=50, decode="utf-8", stream_name="orders"
    )
    values = source.flatten().map(killer(args.kill_at))  # "u7:1234": user, message id
    counts = values.accumulate(
        lambda last, v: (last[0] + 1, v),
        start=(0, ""),
        key=lambda v: v.split(":")[0],
        stream_name="counts",
    )
    records = counts.map(lambda kv: f"{kv[1][1]},{kv[1][0]}")  # "u7:1234,25"
    out = {"bootstrap.servers": args.servers}
    records.to_kafka("counts", out, exactly_once=True, stream_name="counts out")
    count = values.accumulate(lambda n, v: n + 1, start=0, stream_name="n")
    done = asyncio.Event()
    count.sink(lambda n: n == args.lines and done.set())
    store = SQLiteStore(work / "state.db")
    ck = Checkpointer(source, store=store, interval=None, every=args.every, wait_for_commit=True)
    async with ck:
        note_restore(work, ck)
        if count.state != args.lines:
            await done.wait()
    (work / "result.json").write_text(json.dumps({"n": count.state, "last_id": ck.last_id}))


async def r9(work, args):
    """Counts per user from a Redis stream read by a consumer group."""
    source = Stream.from_redis_stream(
        "events",
        args.servers,
        group="g",
        consumer="c1",
        from_start=True,
        decode="utf-8",
        block=50,
        stream_name="events",
    )
    users = source.map(killer(args.kill_at)).map(lambda e: e["fields"]["user"])
    await count_users(work, args, source, users)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("program", choices=["r1", "r2", "r7", "r8", "r9"])
    parser.add_argument("work", type=Path)
    parser.add_argument("--kill-at", type=int, default=-1)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--durable", action="store_true")
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--servers", default="")
    args = parser.parse_args()
    asyncio.run({"r1": r1, "r2": r2, "r7": r7, "r8": r8, "r9": r9}[args.program](args.work, args))


if __name__ == "__main__":
    main()
