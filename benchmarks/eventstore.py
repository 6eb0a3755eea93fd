"""Event-store throughput: inserts per second and ``items(user=[...])`` latency (p50, p99)
on each backend, against the same operations written directly (dicts and bisect,
SQLAlchemy Core, redis-py) in the same run. The ratio library/direct is the figure.

    python benchmarks/eventstore.py --events 100000
    python benchmarks/eventstore.py --events 100000 --postgres-url postgresql+psycopg://...

Redis: ``--redis-url``, or a redis-server started here on a free port if one is on PATH.
SQLite files go to /dev/shm when it exists (commit cost is the disk's, not ours).
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import itertools
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

from streams.eventstore import MemoryBackend, RedisBackend, SQLBackend
from streams.eventstore.base import index_name

KEYS = ["kind", "user", "game"]
USERS = 1000
QUERIES = 300


def make_events(n, seed=1):
    rng = random.Random(seed)
    kinds = ["play", "win", "quit", "chat", "friend"]
    return [
        {
            "kind": rng.choice(kinds),
            "user": rng.randrange(USERS),
            "game": f"game{rng.randrange(20)}",
            "n": i,
        }
        for i in range(n)
    ]


def make_queries(seed=2):
    rng = random.Random(seed)
    return [[rng.randrange(USERS) for _ in range(3)] for _ in range(QUERIES)]


def percentiles(samples):
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed_inserts(insert, events):
    t0 = time.perf_counter()
    for event in events:
        insert(event)
    return len(events) / (time.perf_counter() - t0)


def timed_queries(query, queries):
    samples = []
    for users in queries:
        t0 = time.perf_counter()
        found = query(users)
        samples.append(time.perf_counter() - t0)
        assert len(found) <= 20
    return percentiles(samples)


def combos(data):
    names = sorted(k for k in KEYS if data.get(k) is not None)
    for size in range(1, len(names) + 1):
        for subset in itertools.combinations(names, size):
            yield index_name(subset, [str(data[k]) for k in subset])


# ------------------------------------------------------------------ direct versions


class DirectMemory:
    def __init__(self):
        self.data, self.index = {}, {}

    def insert(self, event):
        u = uuid.uuid1()
        entry = (time.time(), u.time, str(u))
        self.data[entry[2]] = json.dumps(event, separators=(",", ":"))
        for name in ("", *combos(event)):
            index = self.index.setdefault(name, [])
            if not index or entry > index[-1]:
                index.append(entry)
            else:
                bisect.insort(index, entry)

    def items(self, users):
        lists = [self.index.get(index_name(["user"], [str(u)]), []) for u in users]
        merged = heapq.merge(*(reversed(x[-20:]) for x in lists), reverse=True)
        entries = list(dict.fromkeys(merged))[:20]
        return [json.loads(self.data[e[2]]) for e in entries]


class DirectSQL:
    def __init__(self, url):
        import sqlalchemy as sa

        self.sa = sa
        self.engine = sa.create_engine(url)
        meta = sa.MetaData()
        self.table = sa.Table(
            f"direct_{uuid.uuid4().hex[:8]}",
            meta,
            sa.Column("key", sa.String(36), primary_key=True),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("ts", sa.Double, nullable=False),
            sa.Column("seq", sa.BigInteger, nullable=False),
            *(sa.Column(k, sa.Text, index=True) for k in KEYS),
        )
        sa.Index(f"ix_{self.table.name}_ts", self.table.c.ts, self.table.c.seq)
        meta.create_all(self.engine)

    def insert(self, event):
        u = uuid.uuid1()
        row = {"key": str(u), "data": json.dumps(event), "ts": time.time(), "seq": u.time}
        row.update({k: str(event[k]) for k in KEYS})
        with self.engine.begin() as conn:
            conn.execute(self.table.insert(), row)

    def items(self, users):
        t = self.table
        select = (
            self.sa.select(t.c.data)
            .where(t.c.user.in_([str(u) for u in users]))
            .order_by(t.c.ts.desc(), t.c.seq.desc())
            .limit(20)
        )
        with self.engine.connect() as conn:
            return [json.loads(d) for (d,) in conn.execute(select)]


class DirectRedis:
    def __init__(self, url):
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = f"direct{uuid.uuid4().hex[:6]}:"

    def insert(self, event):
        u = uuid.uuid1()
        member = {f"{u.time:015x}:{u}": time.time()}
        pipe = self.client.pipeline(transaction=True)
        pipe.set(f"{self.prefix}item:{u}", json.dumps(event))
        pipe.zadd(f"{self.prefix}all", member)
        for name in combos(event):
            pipe.zadd(f"{self.prefix}idx:{name}", member)
        pipe.execute()

    def items(self, users):
        pipe = self.client.pipeline(transaction=False)
        for u in users:
            key = f"{self.prefix}idx:{index_name(['user'], [str(u)])}"
            pipe.zrevrangebyscore(key, "+inf", "-inf", start=0, num=20, withscores=True)
        merged = heapq.merge(*(((s, m) for m, s in r) for r in pipe.execute()), reverse=True)
        members = list(dict.fromkeys(m for _, m in merged))[:20]
        if not members:
            return []
        texts = self.client.mget([f"{self.prefix}item:{m.partition(':')[2]}" for m in members])
        return [json.loads(t) for t in texts]


# ------------------------------------------------------------------ runner


def start_redis():
    exe = shutil.which("redis-server")
    if exe is None:
        return None, None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0", proc


def run(name, library, direct, events, queries):
    lib_rate = timed_inserts(library.insert, events)
    direct_rate = timed_inserts(direct.insert, events)
    lib_p50, lib_p99 = timed_queries(lambda users: library.items(user=users), queries)
    dir_p50, dir_p99 = timed_queries(direct.items, queries)
    print(
        f"{name:9} inserts/s {lib_rate:10,.0f} vs direct {direct_rate:10,.0f} "
        f"(x{direct_rate / lib_rate:.2f} time) | items(user=[3]) p50 {lib_p50 * 1e3:7.3f} ms "
        f"vs {dir_p50 * 1e3:7.3f} (x{lib_p50 / dir_p50:.2f}), p99 {lib_p99 * 1e3:7.3f} ms "
        f"vs {dir_p99 * 1e3:7.3f} (x{lib_p99 / dir_p99:.2f})",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backends", default="memory,sqlite,redis,postgres")
    parser.add_argument("--redis-url")
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    wanted = args.backends.split(",")
    events, queries = make_events(args.events), make_queries()
    print(f"{args.events:,} events, keys {KEYS}, {QUERIES} queries of 3 users out of {USERS}")
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    workdir = tempfile.mkdtemp(prefix="eventstore-bench-", dir=base)
    redis_proc = None
    try:
        if "memory" in wanted:
            run("memory", MemoryBackend(KEYS), DirectMemory(), events, queries)
        if "sqlite" in wanted:
            url = f"sqlite:///{workdir}/bench.db"
            run("sqlite", SQLBackend(url, KEYS), DirectSQL(url), events, queries)
        if "redis" in wanted:
            url = args.redis_url
            if url is None:
                url, redis_proc = start_redis()
            if url is None:
                print("redis     skipped: no --redis-url and no redis-server on PATH")
            else:
                prefix = f"bench{uuid.uuid4().hex[:6]}:"
                run("redis", RedisBackend(KEYS, url=url, prefix=prefix), DirectRedis(url), events,
                    queries)  # fmt: skip
        if "postgres" in wanted:
            if args.postgres_url is None:
                print("postgres  skipped: no --postgres-url")
            else:
                url = args.postgres_url
                table = f"bench_{uuid.uuid4().hex[:8]}"
                run("postgres", SQLBackend(url, KEYS, table_name=table), DirectSQL(url), events,
                    queries)  # fmt: skip
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
