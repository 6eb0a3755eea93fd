"""Fan-out of one activity to 100,000 followers on a real redis-server.

Compares, in the same run and on the same server:

- ``manager``: ``Manager.aadd_user_activity`` (the fan-out graph, asyncio pipelines of
  100 ZADDs, ``max_inflight_chunks`` at a time);
- ``manager (thread)``: the same with ``async_redis_writes = False`` (synchronous
  pipelines sent from worker threads);
- ``hand-written``: a synchronous redis-py loop doing the same Redis work in pipelines of
  100: per follower ``ZADD NX``, and the trim ``ZREMRANGEBYRANK`` with the feed's
  ``trim_chance`` (1%), as the manager does. (The manager also stores the activity and adds
  it to the author's feed: two commands, not counted.)

It also reads ``feed[:25]`` (slice + hydration) and reports p50/p99.

Usage: ``python benchmarks/feeds.py [--redis URL] [--followers N] [--rounds R]``
(without ``--redis`` a private redis-server is started, as the tests do).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from streams.feeds import (
    Activity,
    Add,
    FanoutPriority,
    Manager,
    RedisFeed,
    UserBaseFeed,
    settings,
)


class UserFeed(UserBaseFeed, RedisFeed):
    pass


class BenchManager(Manager):
    feed_classes = {"normal": RedisFeed}  # noqa: RUF012
    user_feed_class = UserFeed
    followers: list[int] = []  # noqa: RUF012

    def get_user_follower_ids(self, user_id):
        half = len(self.followers) // 10  # 10% active followers
        return {
            FanoutPriority.HIGH: self.followers[:half],
            FanoutPriority.LOW: self.followers[half:],
        }


def hand_written(client: redis.Redis, followers: list[int], activity: Activity) -> None:
    """The Redis work of the manager's fan-out, by hand: per follower ``ZADD NX`` and, with
    probability ``trim_chance`` (1%), the trim ``ZREMRANGEBYRANK`` to ``max_length``."""
    member = str(activity.serialization_id)
    mapping = {member: activity.serialization_id}
    chance, stop = RedisFeed.trim_chance, -RedisFeed.max_length - 1
    for start in range(0, len(followers), 100):
        pipe = client.pipeline(transaction=False)
        for uid in followers[start : start + 100]:
            key = f"feed_{uid}"
            pipe.zadd(key, mapping, nx=True)
            if random.random() < chance:
                pipe.zremrangebyrank(key, 0, stop)
        pipe.execute()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", help="redis://host:port/db (default: start one)")
    parser.add_argument("--followers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    service = None
    url = args.redis
    if url is None:
        from tests.services import start_redis

        service = start_redis(Path(tempfile.mkdtemp(prefix="bench-redis-")))
        url = service.url
    parsed = urlparse(url)
    db = int(parsed.path.strip("/") or 0)
    settings.STREAM_REDIS_CONFIG = {
        "default": {"host": parsed.hostname, "port": parsed.port or 6379, "db": db}
    }
    client = redis.Redis(host=parsed.hostname, port=parsed.port or 6379, db=db)
    followers = list(range(args.followers))
    BenchManager.followers = followers
    results: dict[str, list[float]] = {"manager": [], "manager (thread)": [], "hand-written": []}
    try:
        n = 0
        for _ in range(args.rounds):
            for name in results:
                client.flushdb()
                n += 1
                activity = Activity(1, Add, n)
                start = time.perf_counter()
                if name == "hand-written":
                    hand_written(client, followers, activity)
                else:
                    manager = BenchManager(async_redis_writes=name == "manager")

                    async def run(m: Manager = manager, a: Activity = activity) -> None:
                        try:
                            await m.aadd_user_activity(1, a)
                        finally:
                            await m.aclose()

                    asyncio.run(run())
                    manager.close()
                results[name].append(time.perf_counter() - start)
                assert client.zcard(f"feed_{followers[-1]}") == 1
        print(f"fan-out of 1 activity to {args.followers:,} followers (best of {args.rounds}):")
        base = min(results["hand-written"])
        for name, times in results.items():
            best = min(times)
            print(
                f"  {name:18s} {best * 1000:8.1f} ms  {1 / best:7.2f} activities/s  "
                f"{args.followers / best:11,.0f} feed writes/s  {base / best:5.2f}x hand-written"
            )
        # reads: feed[:25] of a feed holding 100 activities
        client.flushdb()
        items = [Activity(i % 7, Add, i) for i in range(100)]
        RedisFeed.insert_activities(items)
        feeds = [RedisFeed(uid) for uid in range(200)]
        for feed in feeds:
            feed.add_many(items, trim=False)
        latencies = []
        for i in range(5000):
            start = time.perf_counter()
            page = feeds[i % len(feeds)][:25]
            latencies.append(time.perf_counter() - start)
            assert len(page) == 25
        latencies.sort()
        p50 = statistics.median(latencies) * 1e6
        p99 = latencies[int(len(latencies) * 0.99)] * 1e6
        print(f"read feed[:25]: p50 {p50:.0f} us, p99 {p99:.0f} us")
    finally:
        client.flushdb()
        client.close()
        if service is not None:
            service.stop()


if __name__ == "__main__":
    main()
