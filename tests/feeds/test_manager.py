"""The Manager: Pinterest-style fan-out, chunks, priorities, bounds, retries, follows."""

import asyncio
import threading
from datetime import timedelta

import pytest

from streams.feeds import (
    Activity,
    Add,
    CountingMetrics,
    FanoutError,
    FanoutPriority,
    Love,
    Manager,
    MemoryFeed,
    RedisFeed,
    UserBaseFeed,
)
from streams.feeds.fanout import add_operation
from streams.feeds.manager import _pipelined
from streams.feeds.storage.base import BaseTimelineStorage
from streams.feeds.storage.memory import MemoryTimelineStorage

from ._data import BASE, activities

HIGH, LOW = FanoutPriority.HIGH, FanoutPriority.LOW


def pin(user, item, minutes=0, verb=Add):
    return Activity(user, verb, item, time=BASE + timedelta(minutes=minutes))


class Followers:
    """``user -> {priority: [followers]}``; active followers are HIGH."""

    def __init__(self, graph=None, active=()):
        self.graph = graph or {}
        self.active = set(active)

    def __call__(self, user_id):
        followers = self.graph.get(user_id, [])
        return {
            HIGH: [f for f in followers if f in self.active],
            LOW: [f for f in followers if f not in self.active],
        }


def inflight(backend):
    """SQLite takes one writer at a time: one chunk in flight."""
    return {"max_inflight_chunks": 1} if backend.name == "sqlite" else {}


def make_manager(flat, follower_ids, user_flat=None, **options):
    class UserFeed(UserBaseFeed, user_flat or flat):
        pass

    class PinManager(Manager):
        feed_classes = {"normal": flat}  # noqa: RUF012
        user_feed_class = UserFeed

        def get_user_follower_ids(self, user_id):
            return follower_ids(user_id)

    return PinManager(**options)


# ---------------------------------------------------------------- the pin fan-out


@pytest.mark.real_time  # real sockets or threads
async def test_pins_fan_out_to_followers_feeds(backend):
    followers = Followers({1: [2, 3, 4, 5, 6], 2: [1, 3]}, active={2, 3})
    manager = make_manager(backend.flat, followers, fanout_chunk_size=2)
    manager.feed_classes = {"normal": backend.flat, "aggregated": backend.aggregated}
    try:
        pins = [pin(1, 100 + i, minutes=i) for i in range(3)]
        for p in pins:
            assert await manager.add_user_activity(1, p) is None  # a task, awaited
        await manager.aadd_user_activity(2, pin(2, 200, minutes=10))

        assert [a.object_id for a in manager.get_user_feed(1)[:10]] == [102, 101, 100]
        for follower in (2, 4, 5, 6):
            feeds = manager.get_feeds(follower)
            assert [a.object_id for a in feeds["normal"][:10]] == [102, 101, 100]
            assert feeds["aggregated"][0].activity_count == 3
        reader = manager.get_feeds(3)
        assert [a.object_id for a in reader["normal"][:25]] == [200, 102, 101, 100]
        assert [a.object_id for a in manager.get_feeds(1)["normal"][:5]] == [200]
        assert manager.get_feeds(7)["normal"].count() == 0

        await manager.aremove_user_activity(1, pins[1])
        assert [a.object_id for a in reader["normal"][:25]] == [200, 102, 100]
        assert reader["aggregated"][0].activity_count == 3  # 4 pins the same day, less one
        assert manager.get_feeds(2)["aggregated"][0].activity_count == 2
        assert manager.get_user_feed(1).count() == 2
    finally:
        await manager.aclose()


def test_plain_code_calls_block_until_the_followers_have_it(backend):
    manager = make_manager(backend.flat, Followers({1: list(range(10, 260))}), **inflight(backend))
    try:
        assert manager.add_user_activity(1, pin(1, 5)) is None
        assert all(backend.flat(uid).count() == 1 for uid in range(10, 260))
        manager.remove_user_activity(1, pin(1, 5))
        assert all(backend.flat(uid).count() == 0 for uid in range(10, 260))
    finally:
        manager.close()


def test_redis_flat_chunks_are_asyncio_pipelines_and_the_thread_path_agrees(backend):
    if backend.name != "redis":
        pytest.skip("redis only")
    assert _pipelined(RedisFeed, add_operation)
    assert not _pipelined(backend.aggregated, add_operation)
    for asynchronous, item in ((True, 1), (False, 2)):
        manager = make_manager(
            backend.flat, Followers({1: list(range(500))}), async_redis_writes=asynchronous
        )
        manager.metrics = CountingMetrics()
        manager.add_user_activity(1, pin(1, item))
        manager.close()
        assert manager.metrics.fanout_writes == {("RedisFeed", "add_operation"): 500}
    assert {RedisFeed(uid).count() for uid in range(500)} == {2}


# ---------------------------------------------------------------- chunks and priorities


class RecordingFeed(MemoryFeed):
    written: list = []  # noqa: RUF012

    def add_many(self, activities, batch_interface=None, trim=True):
        self.written.append(self.user_id)
        return super().add_many(activities, batch_interface=batch_interface, trim=trim)


async def test_followers_are_written_in_chunks_high_priority_first():
    followers = list(range(250))
    active = set(range(0, 250, 3))
    metrics = CountingMetrics()
    sizes = []
    metrics.on_fanout = lambda feed_class, operation, count: sizes.append(count)
    RecordingFeed.written = []
    manager = make_manager(
        RecordingFeed,
        Followers({1: followers}, active=active),
        user_flat=MemoryFeed,
        metrics=metrics,
    )
    await manager.aadd_user_activity(1, pin(1, 1))
    high, low = sorted(active), [f for f in followers if f not in active]
    assert sizes == [84, 100, 66]  # 84 high, then 166 low in chunks of 100
    assert RecordingFeed.written == high + low
    assert all(RecordingFeed(uid).count() == 1 for uid in followers)

    manager.fanout_chunk_size = 40
    sizes.clear()
    await manager.aadd_user_activity(1, pin(1, 2))
    assert sizes == [40, 40, 4, 40, 40, 40, 40, 6]
    MemoryFeed.flush()


class GatedStorage(BaseTimelineStorage):
    """Memory timelines behind a gate: not a memory storage for the manager, so written
    from worker threads; each write waits for ``release``; writes are counted."""

    lock = threading.Condition()
    active = 0
    peak = 0
    started = 0
    release = threading.Event()
    fail = {}  # key -> how many more writes of that key fail  # noqa: RUF012
    attempts = {}  # noqa: RUF012

    def __init__(self, **options):
        super().__init__(**options)
        self.inner = MemoryTimelineStorage()

    def get_batch_interface(self):
        return self.inner.get_batch_interface()

    def add_many(self, key, entries, batch_interface=None):
        cls = GatedStorage
        with cls.lock:
            cls.attempts[key] = cls.attempts.get(key, 0) + 1
            if cls.fail.get(key, 0):
                cls.fail[key] -= 1
                raise ConnectionError(f"lost the connection writing {key}")
            cls.active += 1
            cls.started += 1
            cls.peak = max(cls.peak, cls.active)
            cls.lock.notify_all()
        try:
            cls.release.wait(timeout=30)
            return self.inner.add_many(key, entries, batch_interface)
        finally:
            with cls.lock:
                cls.active -= 1

    def remove_many(self, key, members, batch_interface=None):
        return self.inner.remove_many(key, members, batch_interface)

    def trim(self, key, length):
        self.inner.trim(key, length)

    def delete(self, key):
        self.inner.delete(key)

    def flush(self, key_pattern):
        self.inner.flush(key_pattern)

    def get_slice(self, *args, **kwargs):
        return self.inner.get_slice(*args, **kwargs)

    def count(self, key):
        return self.inner.count(key)

    @classmethod
    def reset(cls, open_gate=True):
        cls.active = cls.peak = cls.started = 0
        cls.fail, cls.attempts = {}, {}
        if open_gate:
            cls.release.set()
        else:
            cls.release.clear()


class GatedFeed(MemoryFeed):
    timeline_storage_class = GatedStorage


@pytest.fixture
def gated():
    GatedStorage.reset()
    yield GatedStorage
    GatedStorage.reset()
    MemoryFeed.flush()


@pytest.mark.real_time  # real sockets or threads
async def test_at_most_max_inflight_chunks_are_written_at_once(gated):
    gated.reset(open_gate=False)
    manager = make_manager(
        GatedFeed,
        Followers({1: list(range(100))}),
        user_flat=MemoryFeed,
        fanout_chunk_size=1,
        max_inflight_chunks=3,
    )
    task = asyncio.ensure_future(manager.aadd_user_activity(1, pin(1, 1)))
    loop = asyncio.get_running_loop()

    def three_started():  # in a thread: wait until three chunks are being written
        with gated.lock:
            return gated.lock.wait_for(lambda: gated.started >= 3, timeout=30)

    assert await loop.run_in_executor(None, three_started)
    for _ in range(20):  # let the loop run: no fourth chunk may start
        await asyncio.sleep(0)
    assert gated.started == 3 and gated.active == 3
    gated.release.set()
    await task
    assert gated.peak == 3 and gated.started == 100
    assert all(GatedFeed(uid).count() == 1 for uid in range(100))
    manager.close()


@pytest.mark.real_time  # real sockets or threads
async def test_a_chunk_failing_once_is_retried(gated):
    gated.fail = {"feed_150": 1}
    metrics = CountingMetrics()
    manager = make_manager(
        GatedFeed,
        Followers({1: list(range(250))}),
        user_flat=MemoryFeed,
        retry_backoff=0,
        metrics=metrics,
    )
    await manager.aadd_user_activity(1, pin(1, 1))
    assert gated.attempts["feed_150"] == 2 and gated.attempts["feed_149"] == 2  # its chunk
    assert gated.attempts["feed_99"] == 1 and gated.attempts["feed_200"] == 1
    assert all(GatedFeed(uid).count() == 1 for uid in range(250))
    assert metrics.fanout_writes == {("GatedFeed", "add_operation"): 250}
    manager.close()


@pytest.mark.real_time  # real sockets or threads
async def test_a_chunk_failing_always_is_reported_and_the_others_complete(gated):
    manager = make_manager(
        GatedFeed,
        Followers({1: list(range(250))}),
        user_flat=MemoryFeed,
        retry_attempts=2,
        retry_backoff=0,
    )
    await manager.aadd_user_activity(1, pin(1, 1))  # builds the graph
    records = manager.fanout_graph.errors().sink_to_list()
    gated.fail = {"feed_150": 99}
    with pytest.raises(FanoutError) as info:
        await manager.aadd_user_activity(1, pin(1, 2))
    error = info.value
    assert error.failed_ids == list(range(100, 200))
    assert gated.attempts["feed_150"] == 1 + 1 + 2  # the first fan-out, then 1 + 2 retries
    assert "FanoutChunk(feed='normal', priority=LOW, chunk=1, add_operation, " in str(error)
    assert "100 followers 100..199" in str(error)
    assert isinstance(error.errors[0], ConnectionError)
    assert any("gave up after 2 retries" in note for note in error.errors[0].__notes__)
    assert [repr(r.element) for r in records] == [repr(error.chunks[0])]
    counts = {uid: GatedFeed(uid).count() for uid in range(250)}
    assert {uid: n for uid, n in counts.items() if n != 2 and not 100 <= uid < 200} == {}
    # the chunk is not atomic: the followers before the failing write got it
    assert {counts[uid] for uid in range(100, 150)} == {2}
    assert {counts[uid] for uid in range(150, 200)} == {1}
    manager.close()


# ---------------------------------------------------------------- follows and imports


@pytest.mark.real_time  # real sockets or threads
async def test_follow_backfills_and_unfollow_purges(backend):
    manager = make_manager(backend.flat, Followers())
    manager.feed_classes = {"normal": backend.flat, "aggregated": backend.aggregated}
    try:
        for i in range(3):
            await manager.aadd_user_activity(1, pin(1, 100 + i, minutes=i))
        for i in range(2):
            await manager.aadd_user_activity(2, pin(2, 200 + i, minutes=10 + i, verb=Love))
        await manager.afollow_many_users(9, [1, 2])
        feeds = manager.get_feeds(9)
        assert feeds["normal"].count() == 5
        assert sorted(a.activity_count for a in feeds["aggregated"][:10]) == [2, 3]

        manager.follow_activity_limit = 1
        await manager.follow_user(8, 1)
        assert [a.object_id for a in manager.get_feeds(8)["normal"][:10]] == [102]

        await manager.unfollow_user(9, 1)
        assert [a.actor_id for a in feeds["normal"][:10]] == [2, 2]
        assert [a.activity_count for a in feeds["aggregated"][:10]] == [2]
        await manager.aunfollow_many_users(9, [2])
        assert feeds["normal"].count() == 0 and feeds["aggregated"].count() == 0
    finally:
        await manager.aclose()


def test_follow_feed_and_unfollow_feed_are_synchronous_helpers(backend):
    manager = make_manager(backend.flat, Followers())
    items = [pin(4, i, minutes=i) for i in range(3)]
    backend.flat.insert_activities(items)
    source, reader = backend.flat(4), backend.flat(5)
    source.add_many(items)
    assert manager.follow_feed(reader, source) == 3
    assert manager.unfollow_feed(reader, items[:2]) == 2
    assert manager.unfollow_feed(reader, source) == 1


@pytest.mark.real_time  # real sockets or threads
async def test_batch_import_chunks_and_fans_out(backend):
    metrics = CountingMetrics()
    manager = make_manager(backend.flat, Followers({1: [2, 3]}), metrics=metrics)
    try:
        items = activities(1200, actor=1, step=timedelta(seconds=1))
        await manager.abatch_import(1, items, chunk_size=500)
        assert manager.get_user_feed(1).count() == 1200
        assert backend.flat(2).count() == 1200  # no trim: beyond max_length
        assert metrics.fanout_writes[(backend.flat.__name__, "add_operation")] == 3 * 2
        await manager.abatch_import(1, activities(5, actor=1, first_object=9000), fanout=False)
        assert manager.get_user_feed(1).count() == 1205 and backend.flat(2).count() == 1200
        with pytest.raises(ValueError, match="one actor"):
            await manager.abatch_import(1, activities(3))
        with pytest.raises(ValueError, match="not by 1"):
            await manager.abatch_import(1, activities(3, actor=7))
    finally:
        await manager.aclose()


@pytest.mark.real_time  # real sockets or threads
async def test_aggregated_and_notification_feeds_in_feed_classes(backend):
    followers = Followers({1: [10], 2: [10]})
    manager = make_manager(backend.flat, followers)
    manager.feed_classes = {
        "normal": backend.flat,
        "aggregated": backend.aggregated,
        "notification": backend.notification,
    }
    try:
        await manager.aadd_user_activity(1, pin(1, 500, verb=Love))
        await manager.aadd_user_activity(2, pin(2, 500, minutes=1, verb=Love))
        await manager.aadd_user_activity(2, pin(2, 600, minutes=2))
        feeds = manager.get_feeds(10)
        assert feeds["normal"].count() == 3
        assert [a.activity_count for a in feeds["aggregated"][:5]] == [1, 2]
        notifications = feeds["notification"]
        assert notifications.get_notification_data() == {"unseen_count": 2, "unread_count": 2}
        assert notifications[1].actor_ids == [1, 2]
        await manager.aremove_user_activity(2, pin(2, 600, minutes=2))
        assert notifications.count() == 1
    finally:
        await manager.aclose()


@pytest.mark.real_time  # real sockets or threads
async def test_update_user_activities_rewrites_the_stored_activity(backend):
    manager = make_manager(backend.flat, Followers({1: [2]}))
    try:
        original = Activity(1, Add, 7, time=BASE, extra_context={"title": "old"})
        await manager.aadd_user_activity(1, original)
        changed = Activity(1, Add, 7, time=BASE, extra_context={"title": "new"})
        await manager.update_user_activity(changed)
        assert backend.flat(2)[0].extra_context == {"title": "new"}
    finally:
        await manager.aclose()


def test_manager_needs_follower_ids_and_valid_options():
    with pytest.raises(TypeError, match="unexpected keyword"):
        Manager(chunk=3)
    with pytest.raises(ValueError, match="positive"):
        Manager(fanout_chunk_size=0)
    with pytest.raises(NotImplementedError):
        Manager().get_user_follower_ids(1)


async def test_async_follower_ids_and_no_followers():
    async def follower_ids(user_id):
        await asyncio.sleep(0)
        return {HIGH: [], LOW: [3] if user_id == 1 else []}

    manager = make_manager(MemoryFeed, follower_ids)
    await manager.aadd_user_activity(1, pin(1, 1))
    await manager.aadd_user_activity(2, pin(2, 2))
    assert MemoryFeed(3).count() == 1
    MemoryFeed.flush()
