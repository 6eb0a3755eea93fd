"""The Manager's fan-out on a Dask cluster (``Manager(dask_client=client)``).

A real ``distributed.LocalCluster`` of one worker *process* (so the tasks, the feed
classes and the activities really travel pickled, and the worker's settings are its own:
its default ``STREAM_REDIS_CONFIG`` points at a server that is not there) and the
session's real redis-server, through the feeds' ``backend`` fixture (redis only).
"""

import asyncio
import logging

import pytest
from distributed import Client, LocalCluster

from streams.feeds import (
    AggregatedFeed,
    CountingMetrics,
    FanoutError,
    FanoutPriority,
    Manager,
    MemoryFeed,
    RedisAggregatedFeed,
    RedisFeed,
    UserBaseFeed,
    settings,
)
from streams.feeds.storage.redis import RedisTimelineStorage

from .test_manager import Followers, pin

HIGH, LOW = FanoutPriority.HIGH, FanoutPriority.LOW

redis_only = pytest.mark.parametrize("backend", ["redis"], indirect=True)


@pytest.fixture(scope="module")
def dask_client():
    """One worker process, two threads; not the default client."""
    with (
        LocalCluster(
            processes=True,
            n_workers=1,
            threads_per_worker=2,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},  # see tests/test_dask.py
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client


class UserFeed(UserBaseFeed, RedisFeed):
    pass


class FailingStorage(RedisTimelineStorage):
    """Redis timelines where every write of ``feed_150`` fails; each attempt is counted
    in Redis (the writes happen in the worker process)."""

    def add_many(self, key, entries, batch_interface=None):
        if key == "feed_150":
            self.redis.incr("attempts:feed_150")
            raise ConnectionError(f"lost the connection writing {key}")
        return super().add_many(key, entries, batch_interface)


class FailingFeed(RedisFeed):
    timeline_storage_class = FailingStorage


def make_manager(feed_classes, followers, **options):
    class PinManager(Manager):
        user_feed_class = UserFeed

        def get_user_follower_ids(self, user_id):
            return followers(user_id)

    PinManager.feed_classes = feed_classes
    return PinManager(**options)


def object_ids(feed):
    return [a.object_id for a in feed[:10]]


@redis_only
def test_fan_out_on_dask_lands_in_every_follower_feed_as_locally(backend, dask_client):
    followers = Followers({1: list(range(1000))}, active=range(0, 1000, 7))
    feeds = {"normal": RedisFeed, "aggregated": RedisAggregatedFeed}
    metrics = CountingMetrics()
    remote = make_manager(feeds, followers, dask_client=dask_client, metrics=metrics)
    local = make_manager(feeds, followers)
    try:
        first, second = pin(1, 100), pin(1, 101, minutes=1)
        assert remote.add_user_activity(1, first) is None  # blocks until every feed has it
        local.add_user_activity(1, second)
        assert {tuple(object_ids(RedisFeed(uid))) for uid in range(1000)} == {(101, 100)}
        assert {RedisAggregatedFeed(uid)[0].activity_count for uid in range(1000)} == {2}
        assert RedisFeed(1000).count() == 0
        assert metrics.fanout_writes == {
            ("RedisFeed", "add_operation"): 1000,
            ("RedisAggregatedFeed", "add_operation"): 1000,
        }

        remote.remove_user_activity(1, first)
        assert {tuple(object_ids(RedisFeed(uid))) for uid in range(1000)} == {(101,)}
        assert {RedisAggregatedFeed(uid)[0].activity_count for uid in range(1000)} == {1}
        assert object_ids(remote.get_user_feed(1)) == [101]

        # the worker writes where this process points it, not at its own default
        worker_config = dask_client.run(lambda: settings.STREAM_REDIS_CONFIG["default"])
        assert list(worker_config.values()) == [settings.STREAM_REDIS_CONFIG["default"]]
    finally:
        remote.close()
        local.close()


@redis_only
@pytest.mark.real_time  # real sockets, threads and processes
async def test_a_chunk_failing_always_on_dask_is_reported_and_the_others_complete(
    backend, dask_client, caplog
):
    manager = make_manager(
        {"normal": FailingFeed},
        Followers({1: list(range(250))}),
        dask_client=dask_client,
        retry_attempts=2,
        retry_backoff=0,
        max_inflight_chunks=2,
    )
    try:
        await manager.aadd_user_activity(2, pin(2, 1))  # no followers: builds the graph
        records = manager.fanout_graph.errors().sink_to_list()
        with caplog.at_level(logging.WARNING), pytest.raises(FanoutError) as info:
            await manager.aadd_user_activity(1, pin(1, 2))
        error = info.value
        assert error.failed_ids == list(range(100, 200))
        assert "FanoutChunk(feed='normal', priority=LOW, chunk=1, add_operation, " in str(error)
        assert "100 followers 100..199" in str(error)
        assert isinstance(error.errors[0], ConnectionError)
        notes = error.errors[0].__notes__
        assert "gave up after 2 retries" in notes
        assert any(n.startswith("writing FanoutChunk(feed='normal'") for n in notes)
        assert any("on Dask worker tcp://" in n for n in notes)
        assert backend.client.get("attempts:feed_150") == b"3"  # 1 + 2 retries, no more
        assert [repr(r.element) for r in records] == [repr(error.chunks[0])]
        assert "fan-out chunk given up: FanoutChunk(feed='normal'" in caplog.text

        counts = {uid: FailingFeed(uid).count() for uid in range(250)}
        assert {uid: n for uid, n in counts.items() if not 100 <= uid < 200} == dict.fromkeys(
            [*range(100), *range(200, 250)], 1
        )
        # the chunk is one pipeline, never sent: none of its followers got the pin
        assert {counts[uid] for uid in range(100, 200)} == {0}

        # the graph goes on: the next fan-out without the failing follower completes
        manager.get_user_follower_ids = lambda user_id: {HIGH: [150 + 1, 7]}
        await manager.aadd_user_activity(1, pin(1, 3, minutes=1))
        assert object_ids(FailingFeed(151)) == [3]
    finally:
        await manager.aclose()


def test_memory_feeds_are_refused_with_dask(dask_client):
    with pytest.raises(ValueError, match=r"feed class 'normal' \(MemoryFeed\) keeps its feeds"):
        make_manager({"normal": MemoryFeed}, Followers(), dask_client=dask_client)
    with pytest.raises(ValueError, match="MemoryTimelineStorage, MemoryActivityStorage"):
        Manager(feed_classes={"normal": MemoryFeed}, dask_client=dask_client)

    # changed after construction: refused at the fan-out, before anything is written
    manager = make_manager({"normal": RedisFeed}, Followers(), dask_client=dask_client)
    manager.feed_classes = {"aggregated": AggregatedFeed}
    with pytest.raises(ValueError, match=r"'aggregated' \(AggregatedFeed\)"):
        asyncio.run(manager.afanout({HIGH: [1]}, lambda feed, **kw: 0, {}))
    manager.close()
    assert make_manager({"normal": MemoryFeed}, Followers()).dask_client is None  # local
