"""Aggregated feeds on memory and Redis (Stream Framework §2, aggregated feed)."""

from datetime import timedelta

from streams.feeds import Activity, Comment, Love

from ._data import BASE, activities


def make(backend, items, user=1):
    backend.aggregated.insert_activities(items)
    return backend.aggregated(user)


def test_add_100_keeps_15_members(backend):
    items = activities(100, step=timedelta(seconds=30))  # one day, one verb: one group
    feed = make(backend, items)
    assert feed.add_many(items) == 1
    assert feed.count() == 1
    (agg,) = feed[:10]
    assert [a.object_id for a in agg.activities] == list(range(86, 101))
    assert agg.activity_count == 100 and agg.minimized_activities == 85
    assert agg.updated_at == items[-1].time


def test_add_one_by_one_merges(backend):
    items = activities(20)
    feed = make(backend, items)
    for a in items:
        feed.add(a)
    assert feed.count() == 1
    assert feed[0].activity_count == 20 and feed[0].minimized_activities == 5


def test_groups_and_rank(backend):
    loves = activities(3)
    comments = activities(2, verb=Comment, start=BASE + timedelta(hours=1), first_object=50)
    next_day = activities(1, start=BASE + timedelta(days=1), first_object=90)
    feed = make(backend, loves + comments + next_day)
    feed.add_many(loves + comments)
    feed.add_many(next_day)
    assert [a.group for a in feed[:10]] == ["3-2024-03-02", "2-2024-03-01", "3-2024-03-01"]
    # a change moves an aggregate to the top
    late_love = Activity(7, Love, 77, time=BASE + timedelta(hours=5))
    feed.insert_activity(late_love)
    assert feed.add(late_love) == 1
    assert [a.group for a in feed[:10]] == ["3-2024-03-02", "3-2024-03-01", "2-2024-03-01"]
    assert feed.count() == 3
    assert feed.index_of(feed[1].serialization_id) == 1


def test_duplicates_are_skipped(backend):
    items = activities(5)
    feed = make(backend, items)
    feed.add_many(items)
    assert feed.add_many(items) == 0
    assert feed[0].activity_count == 5


def test_merge_max_length(backend):
    class Short(backend.aggregated):
        merge_max_length = 1

    days = [activities(1, start=BASE + timedelta(days=d), first_object=d + 1)[0] for d in range(3)]
    Short.insert_activities(days)
    feed = Short(1)
    feed.add_many(days)
    assert feed.count() == 3
    # same group as the oldest aggregate, which is beyond merge_max_length: a new aggregate
    again = Activity(9, Love, 99, time=BASE + timedelta(minutes=1))
    Short.insert_activity(again)
    feed.add(again)
    assert feed.count() == 4


def test_remove_many(backend):
    loves = activities(4)
    comment = activities(1, verb=Comment, start=BASE + timedelta(hours=1), first_object=50)
    feed = make(backend, loves + comment)
    feed.add_many(loves + comment)
    assert feed.remove_many(loves[:2]) == 1
    groups = {a.group: a for a in feed[:10]}
    assert groups["3-2024-03-01"].object_ids == [3, 4]
    assert feed.remove_many([comment[0].serialization_id]) == 1
    assert [a.group for a in feed[:10]] == ["3-2024-03-01"]
    assert feed.remove_many(loves) == 1
    assert feed.count() == 0


def test_contains(backend):
    items = activities(3)
    feed = make(backend, items)
    feed.add_many(items[:2])
    assert feed.contains(items[0])
    assert not feed.contains(items[2])
    same_fields = Activity(
        items[0].actor_id, Love, items[0].object_id, time=BASE + timedelta(days=3)
    )
    assert feed.contains(same_fields)


def test_add_and_remove_aggregated(backend):
    items = activities(3)
    feed = make(backend, items)
    aggregated = feed.get_aggregator().aggregate(items)
    assert feed.add_many_aggregated(aggregated) == 1
    assert feed[0] == aggregated[0]
    assert feed.remove_many_aggregated(aggregated) == 1
    assert feed.count() == 0


def test_trim_keeps_newest_aggregates(backend):
    class Short(backend.aggregated):
        max_length = 2

    days = [activities(1, start=BASE + timedelta(days=d), first_object=d + 1)[0] for d in range(4)]
    Short.insert_activities(days)
    feed = Short(1)
    feed.add_many(days)
    feed.trim()
    assert [a.object_ids for a in feed[:5]] == [[4], [3]]
