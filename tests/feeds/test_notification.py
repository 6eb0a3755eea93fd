"""Notification feeds: markers, counts, marking (Stream Framework §2, notification feed)."""

from datetime import timedelta

from streams.feeds import Activity, Comment, Love, NotificationActivity

from ._data import BASE


def notifications():
    """Three groups: loves of object 10 (two actors), a comment on 10, a love of 11."""
    return [
        Activity(1, Love, 10, time=BASE),
        Activity(2, Love, 10, time=BASE + timedelta(minutes=1)),
        Activity(3, Comment, 10, time=BASE + timedelta(minutes=2)),
        Activity(4, Love, 11, time=BASE + timedelta(minutes=3)),
    ]


def test_add_counts_and_annotations(backend):
    feed = backend.notification(1)
    assert feed.add_many(notifications()) == 3
    assert feed.get_notification_data() == {"unseen_count": 3, "unread_count": 3}
    entries = feed[:10]
    assert all(isinstance(e, NotificationActivity) for e in entries)
    assert [(e.is_seen, e.is_read) for e in entries] == [(False, False)] * 3
    assert [e.object_ids for e in entries] == [[11], [10], [10]]
    assert entries[2].actor_ids == [1, 2]


def test_inline_activities_need_no_activity_storage(backend):
    feed = backend.notification(1)
    assert feed.activity_storage is None
    a = Activity(1, Love, 10, time=BASE, extra_context={"comment": "nice"})
    feed.add(a)
    assert feed[0].activities[0].extra_context == {"comment": "nice"}


def test_mark_activity_and_all(backend):
    feed = backend.notification(1)
    feed.add_many(notifications())
    newest = feed[0]
    feed.mark_activity(newest.serialization_id)  # seen only, by default
    assert (feed.count_unseen(), feed.count_unread()) == (2, 3)
    assert (feed[0].is_seen, feed[0].is_read) == (True, False)
    feed.mark_activities([e.serialization_id for e in feed[1:3]], seen=True, read=True)
    assert (feed.count_unseen(), feed.count_unread()) == (0, 1)
    feed.mark_all(seen=False, read=True)
    assert feed.get_notification_data() == {"unseen_count": 0, "unread_count": 0}
    assert all(e.is_seen and e.is_read for e in feed[:10])


def test_changed_aggregate_is_unseen_again(backend):
    feed = backend.notification(1)
    feed.add_many(notifications())
    feed.mark_all(seen=True, read=True)
    feed.add(Activity(5, Love, 11, time=BASE + timedelta(minutes=9)))
    assert feed.get_notification_data() == {"unseen_count": 1, "unread_count": 1}
    top = feed[0]
    assert top.actor_ids == [4, 5] and not top.is_seen
    assert feed.count() == 3


def test_remove_updates_markers(backend):
    feed = backend.notification(1)
    items = notifications()
    feed.add_many(items)
    feed.remove_many([items[3]])
    assert feed.count() == 2
    assert feed.get_notification_data() == {"unseen_count": 2, "unread_count": 2}
    feed.remove_many([items[0]])  # the loves aggregate keeps one member, changes id
    assert feed.count() == 2
    assert feed.get_notification_data() == {"unseen_count": 2, "unread_count": 2}


def test_markers_capped(backend):
    class Small(backend.notification):
        markers_max_length = 5

    feed = Small(1)
    feed.add_many([Activity(1, Love, i, time=BASE + timedelta(seconds=i)) for i in range(1, 9)])
    assert feed.count() == 8
    assert feed.get_notification_data() == {"unseen_count": 5, "unread_count": 5}
    assert [e.is_seen for e in feed[:8]] == [False] * 5 + [True] * 3


def test_delete_flushes_markers(backend):
    feed = backend.notification(1)
    feed.add_many(notifications())
    feed.delete()
    assert feed.count() == 0
    assert feed.get_notification_data() == {"unseen_count": 0, "unread_count": 0}


def test_untracked_markers(backend):
    class NoUnread(backend.notification):
        track_unread = False

    feed = NoUnread(1)
    feed.add_many(notifications())
    assert feed.get_notification_data() == {"unseen_count": 3, "unread_count": 0}
    assert feed[0].is_read
