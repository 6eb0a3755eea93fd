"""feed.updates(): a source of the writes this process makes to a feed (virtual time)."""

import asyncio

from streams.feeds import FeedUpdate, FeedUpdates
from streams.feeds.updates import publish

from ._data import activities


async def settle():
    """Let the source's task deliver what was published (virtual time: instant)."""
    await asyncio.sleep(0.001)


async def test_flat_feed_updates_on_add_and_remove(backend):
    items = activities(3)
    backend.flat.insert_activities(items)
    feed = backend.flat(1)
    updates = feed.updates()
    out = updates.sink_to_list()
    feed.add(items[0])  # before start: not seen
    updates.start()
    feed.add_many(items[1:])
    feed.remove(items[1])
    feed.remove(items[2].serialization_id)
    backend.flat(2).add(items[0])  # another feed: not seen
    await settle()
    assert out == [
        FeedUpdate("add", items[1]),
        FeedUpdate("add", items[2]),
        ("remove", items[1]),
        ("remove", items[2].serialization_id),
    ]
    updates.stop()
    await updates.wait()
    feed.add(items[0])
    await settle()
    assert len(out) == 4


async def test_two_feed_objects_same_key_share_updates(backend):
    items = activities(2)
    backend.flat.insert_activities(items)
    updates = backend.flat(7).updates(start=True)
    out = updates.sink_to_list()
    backend.flat(7).add_many(items)
    await settle()
    assert [kind for kind, _ in out] == ["add", "add"]
    updates.stop()
    await updates.wait()


async def test_aggregated_feed_updates_emit_aggregates(backend):
    items = activities(3)
    backend.aggregated.insert_activities(items)
    feed = backend.aggregated(1)
    updates = feed.updates(start=True)
    out = updates.sink_to_list()
    feed.add(items[0])
    feed.add(items[1])
    await settle()
    # a change adds the new version, then removes the old one
    assert [(kind, agg.activity_count) for kind, agg in out] == [
        ("add", 1),
        ("add", 2),
        ("remove", 1),
    ]
    updates.stop()
    await updates.wait()


async def test_notification_feed_emits_counts_when_they_change(backend):
    feed = backend.notification(1)
    updates = feed.updates(start=True)
    out = updates.sink_to_list()
    items = activities(2)
    feed.add(items[0])
    feed.add(items[0])  # duplicate: no change
    feed.mark_all(seen=True)
    feed.mark_all(seen=True)
    feed.mark_all(seen=True, read=True)
    feed.delete()
    await settle()
    assert out == [
        {"unseen_count": 1, "unread_count": 1},
        {"unseen_count": 0, "unread_count": 1},
        {"unseen_count": 0, "unread_count": 0},
    ]
    updates.stop()
    await updates.wait()


async def test_updates_from_another_thread():
    updates = FeedUpdates("test:thread", start=True)
    out = updates.sink_to_list()
    await asyncio.to_thread(publish, "test:thread", [1, 2])
    await settle()
    assert out == [1, 2]
    updates.stop()
    await updates.wait()
