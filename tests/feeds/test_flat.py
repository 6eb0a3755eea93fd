"""Flat feeds, the same tests on memory and on a real redis-server (Stream Framework §2, §4)."""

from datetime import timedelta

import pytest

from streams.feeds import Activity, Love, UserBaseFeed

from ._data import BASE, activities


def make(backend, n=10, user=1, **kwargs):
    items = activities(n, **kwargs)
    backend.flat.insert_activities(items)
    feed = backend.flat(user)
    return feed, items


def test_add_count_and_slices(backend):
    feed, items = make(backend)
    assert feed.add_many(items) == 10
    assert feed.count() == len(feed) == 10
    newest_first = items[::-1]
    assert feed[:3] == newest_first[:3]
    assert feed[5:20] == newest_first[5:]
    assert feed[3] == newest_first[3]
    assert [a.object_id for a in feed[:2]] == [10, 9]
    assert feed[0].time == items[-1].time and feed[0].verb is Love
    with pytest.raises(IndexError):
        feed[10]
    with pytest.raises(ValueError, match="negative"):
        feed[-1:]
    with pytest.raises(TypeError, match="slice"):
        iter(feed)


def test_add_is_idempotent(backend):
    feed, items = make(backend, 3)
    assert feed.add(items[0]) == 1
    assert feed.add(items[0]) == 0
    assert feed.add_many(items) == 2
    assert feed.count() == 3


def test_colliding_ids_dedupe(backend):
    a = Activity(1, Love, 5, time=BASE)
    b = Activity(2, Love, 5, time=BASE)  # same verb, object and millisecond
    backend.flat.insert_activities([a, b])
    feed = backend.flat(1)
    assert feed.add_many([a, b]) == 1
    assert feed.count() == 1


def test_remove(backend):
    feed, items = make(backend, 5)
    feed.add_many(items)
    assert feed.remove(items[4]) == 1
    assert feed.remove(items[4]) == 0
    assert feed.remove_many([items[0].serialization_id, items[1]]) == 2
    assert feed[:10] == [items[3], items[2]]
    # the activities stay in the activity storage
    assert backend.flat(2).hydrate_activities([items[4].get_dehydrated()]) == [items[4]]


def test_large_remove_activity(backend):
    items = activities(3600, step=timedelta(seconds=7))
    backend.flat.insert_activities(items)
    feed = backend.flat(1)
    feed.max_length = 3600  # instance override (no trim below 3600)
    assert feed.add_many(items, trim=False) == 3600
    to_remove = items[::7][:500]
    assert feed.remove_many(to_remove, trim=False) == 500
    assert feed.count() == 3100
    kept = [a for a in items if a not in set(to_remove)]
    assert feed[:3100] == kept[::-1]


def test_add_many_and_trim(backend):
    class Short(backend.flat):
        max_length = 10
        trim_chance = 1.0

    items = activities(50)
    Short.insert_activities(items)
    feed = Short(1)
    feed.add_many(items)
    assert feed.count() == 10
    assert feed[:10] == items[::-1][:10]
    feed.trim(3)
    assert feed[:10] == items[::-1][:3]


def test_no_trim_when_asked(backend):
    class Short(backend.flat):
        max_length = 5
        trim_chance = 1.0

    items = activities(8)
    Short.insert_activities(items)
    feed = Short(1)
    feed.add_many(items, trim=False)
    assert feed.count() == 8


def test_filter_pagination(backend):
    feed, items = make(backend, 100)
    feed.add_many(items)
    pages = []
    page = feed[:25]
    while page:
        pages.append(page)
        page = feed.filter(activity_id__lt=page[-1].serialization_id)[:25]
    assert [len(p) for p in pages] == [25, 25, 25, 25]
    assert [a for p in pages for a in p] == items[::-1]
    ids = [a.serialization_id for a in items]
    assert feed.filter(activity_id__lte=ids[10])[:3] == [items[10], items[9], items[8]]
    assert feed.filter(activity_id__gt=ids[97])[:10] == [items[99], items[98]]
    assert feed.filter(activity_id__gte=ids[97])[:10] == [items[99], items[98], items[97]]
    window = feed.filter(activity_id__gt=ids[10], activity_id__lt=ids[14])
    assert window[:10] == [items[13], items[12], items[11]]
    assert window[1:2] == [items[12]]
    assert feed[:25] == pages[0]  # filter returns a copy
    with pytest.raises(TypeError, match="unsupported filter"):
        feed.filter(actor_id__lt=3)


def test_order_by(backend):
    feed, items = make(backend, 10)
    feed.add_many(items)
    assert feed.order_by("activity_id")[:3] == items[:3]
    assert feed.order_by("-activity_id")[:3] == items[::-1][:3]
    oldest = feed.order_by("activity_id").filter(activity_id__gt=items[4].serialization_id)
    assert oldest[:2] == [items[5], items[6]]
    with pytest.raises(TypeError, match="ordering"):
        feed.order_by("time")


def test_index_of(backend):
    feed, items = make(backend, 5)
    feed.add_many(items)
    assert [feed.index_of(a.serialization_id) for a in items] == [4, 3, 2, 1, 0]
    with pytest.raises(ValueError, match="not in"):
        feed.index_of(123)


def test_feeds_are_separate_and_delete(backend):
    feed, items = make(backend, 4)
    other = backend.flat(2)
    feed.add_many(items[:2])
    other.add_many(items[2:])
    assert feed[:5] == items[:2][::-1] and other[:5] == items[2:][::-1]
    feed.delete()
    assert feed.count() == 0 and other.count() == 2


def test_flush_clears_timelines_and_activities(backend):
    feed, items = make(backend, 3)
    feed.add_many(items)
    backend.flat.flush()
    assert feed.count() == 0
    feed.add_many(items)
    with pytest.raises(KeyError, match="insert_activity"):
        feed[:3]
    assert [a.serialization_id for a in feed.get_activity_slice(0, 3, rehydrate=False)] == [
        a.serialization_id for a in items[::-1]
    ]


def test_remove_activity_from_storage(backend):
    feed, items = make(backend, 2)
    feed.add_many(items)
    assert backend.flat.remove_activity(items[0]) == 1
    with pytest.raises(KeyError):
        feed[:2]


def test_batch_interface(backend):
    items = activities(30)
    backend.flat.insert_activities(items)
    feeds = [backend.flat(u) for u in range(5)]
    with backend.flat.get_timeline_batch_interface() as batch:
        for feed in feeds:
            feed.add_many(items, batch_interface=batch, trim=False)
    assert [f.count() for f in feeds] == [30] * 5
    with backend.flat.get_timeline_batch_interface() as batch:
        feeds[0].remove_many(items[:10], batch_interface=batch)
    assert feeds[0].count() == 20


def test_extra_context_and_targets_round_trip(backend):
    a = Activity(1, Love, 2, target=9, time=BASE, extra_context={"text": "x", "tags": ["a"]})
    backend.flat.insert_activity(a)
    feed = backend.flat(1)
    feed.add(a)
    (back,) = feed[:1]
    assert back.extra_context == {"text": "x", "tags": ["a"]} and back.target_id == 9


def test_user_feed_key_and_length(backend):
    class UserFeed(UserBaseFeed, backend.flat):
        pass

    feed = UserFeed(5)
    assert feed.key == "user_feed:5" and feed.max_length == 10**6
    items = activities(3)
    UserFeed.insert_activities(items)
    feed.add_many(items)
    assert feed[:5] == items[::-1]


def test_redis_layout(backend):
    if backend.name != "redis":
        pytest.skip("redis only")
    feed, items = make(backend, 3)
    feed.add_many(items)
    client = backend.client
    assert client.type("feed_1") == b"zset"
    scored = client.zrevrange("feed_1", 0, -1, withscores=True)
    assert [int(m) for m, _ in scored] == [a.serialization_id for a in items[::-1]]
    shards = [k.decode() for k in client.keys("activity:cache:global:*")]
    assert shards and all(client.type(k) == b"hash" for k in shards)
