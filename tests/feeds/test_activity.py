"""Activities, aggregates, verbs, serializers and aggregators (Stream Framework §1, §5)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from streams.feeds import (
    Activity,
    Add,
    AggregatedActivity,
    Comment,
    DuplicateActivityException,
    Follow,
    Love,
    NotificationAggregator,
    RecentVerbAggregator,
    Verb,
    get_verb_by_id,
    register,
)
from streams.feeds.serializers import (
    ActivitySerializer,
    AggregatedActivitySerializer,
    PickleActivitySerializer,
)

from ._data import BASE, activities


class User:
    def __init__(self, id):
        self.id = id


def test_serialization_id_layout_and_order():
    a = Activity(1, Love, 42, time=BASE)
    ms = int((BASE - datetime(1970, 1, 1)).total_seconds()) * 1000
    assert a.serialization_id == int(f"{ms}{42:010d}{3:03d}")
    later = Activity(1, Love, 1, time=BASE + timedelta(milliseconds=1))
    bigger_object = Activity(1, Love, 43, time=BASE)
    other_verb = Activity(1, Add, 42, time=BASE)
    assert a < other_verb < bigger_object < later
    assert sorted([later, a, bigger_object]) == [a, bigger_object, later]


def test_same_verb_object_millisecond_collide():
    a = Activity(1, Love, 42, time=BASE)
    b = Activity(2, Love, 42, time=BASE + timedelta(microseconds=300))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1


def test_ids_and_objects():
    user, target = User(7), User(9)
    a = Activity(user, Love, 3, target=target, time=BASE)
    assert (a.actor, a.actor_id, a.object_id, a.target, a.target_id) == (user, 7, 3, target, 9)
    with pytest.raises(AttributeError, match="object_id"):
        _ = a.object
    assert Activity(1, Love, 2).target is None


def test_default_time_is_naive_utc_and_aware_is_converted():
    before = datetime.now(UTC).replace(tzinfo=None)
    a = Activity(1, Love, 2)
    assert a.time.tzinfo is None and before <= a.time <= before + timedelta(seconds=5)
    aware = datetime(2024, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert Activity(1, Love, 2, time=aware).time == datetime(2024, 3, 1, 8, 0)


def test_id_limits():
    with pytest.raises(ValueError, match="object_id"):
        _ = Activity(1, Love, 10**10).serialization_id


def test_dehydrate_and_hydrate():
    a = Activity(1, Love, 2, time=BASE)
    ref = a.get_dehydrated()
    assert ref.dehydrated and ref == a
    assert ref.get_hydrated({a.serialization_id: a}) is a
    with pytest.raises(KeyError, match="insert_activity"):
        ref.get_hydrated({})


def test_verbs_registry():
    assert [get_verb_by_id(i) for i in (1, 2, 3, 4)] == [Follow, Comment, Love, Add]

    class Other(Verb):
        id = 3
        infinitive = "other"
        past_tense = "othered"

    with pytest.raises(ValueError, match="taken by Love"):
        register(Other)
    assert register(Love) is Love
    with pytest.raises(KeyError):
        get_verb_by_id(999)


def test_aggregated_100_activities_keeps_15():
    agg = AggregatedActivity("g")
    items = activities(100, step=timedelta(minutes=1))  # object ids 1..100, one day
    for a in items:
        agg.append(a)
    assert [a.object_id for a in agg.activities] == list(range(86, 101))
    assert agg.minimized_activities == 85
    assert agg.activity_count == 100
    assert agg.actor_count == 100 and agg.other_actor_count == 98
    assert agg.created_at == items[0].time and agg.updated_at == items[-1].time
    assert agg.last_activity.object_id == 100
    assert [a.object_id for a in agg.last_activities][:2] == [100, 99]
    assert agg.verb is Love and agg.verbs == [Love]


def test_aggregated_duplicates_remove_and_ids():
    agg = AggregatedActivity("g")
    a, b = activities(2)
    agg.append(a)
    with pytest.raises(DuplicateActivityException):
        agg.append(a)
    agg.append(b)
    assert agg.serialization_id == int((b.time - datetime(1970, 1, 1)).total_seconds() * 10**6)
    old_id = agg.serialization_id
    agg.remove(b)
    assert agg.updated_at == a.time and agg.serialization_id < old_id
    with pytest.raises(ValueError, match="last"):
        agg.remove(a)
    with pytest.raises(ValueError, match="not in"):
        agg.remove(b)
    agg.append(b)
    assert agg.remove_many([b, activities(3)[2]]) == [b]
    assert agg.contains(a) and not agg.contains(b)


def test_aggregated_seen_read():
    agg = AggregatedActivity("g")
    agg.append(Activity(1, Love, 1, time=BASE))
    assert not agg.is_seen() and not agg.is_read()
    agg.update_seen_at()
    assert agg.is_seen() and not agg.is_read()
    agg.update_read_at()
    assert agg.is_read()
    agg.append(Activity(2, Love, 2, time=datetime(2999, 1, 1)))
    assert not agg.is_seen()


def test_recent_verb_aggregator_groups_and_ranks():
    day = BASE
    items = [
        Activity(1, Love, 1, time=day),
        Activity(2, Love, 2, time=day + timedelta(hours=1)),
        Activity(3, Comment, 3, time=day + timedelta(hours=2)),
        Activity(4, Love, 4, time=day + timedelta(days=1)),
    ]
    result = RecentVerbAggregator().aggregate(items)
    assert [(a.group, a.activity_count) for a in result] == [
        ("3-2024-03-02", 1),
        ("2-2024-03-01", 1),
        ("3-2024-03-01", 2),
    ]


def test_merge_new_changed_and_duplicates():
    aggregator = RecentVerbAggregator()
    first = activities(2)
    current = aggregator.aggregate(first)
    new, changed, deleted = aggregator.merge(current, [first[0]])
    assert (new, changed, deleted) == ([], [], [])
    extra = Activity(9, Love, 9, time=BASE + timedelta(minutes=5))
    other = Activity(9, Comment, 9, time=BASE + timedelta(minutes=5))
    new, changed, deleted = aggregator.merge(current, [extra, other, first[1]])
    assert [a.group for a in new] == ["2-2024-03-01"]
    ((old, now),) = changed
    assert old.activity_count == 2 and now.activity_count == 3 and current[0] is old


def test_notification_aggregator_groups_by_object():
    later = BASE + timedelta(seconds=1)  # (the same millisecond would be the same activity)
    items = [
        Activity(1, Love, 5, time=BASE),
        Activity(2, Love, 5, time=later),
        Activity(3, Love, 6, time=BASE),
    ]
    groups = {a.group: a.actor_ids for a in NotificationAggregator().aggregate(items)}
    assert groups == {"3-5-2024-03-01": [1, 2], "3-6-2024-03-01": [3]}


def test_serializers_round_trip():
    a = Activity(
        1,
        Love,
        2,
        target=3,
        time=BASE.replace(microsecond=123456),
        extra_context={"text": "hé", "n": [1, {"x": None}]},
    )
    s = ActivitySerializer()
    back = s.loads(s.dumps(a))
    assert back == a and back.time == a.time and back.target_id == 3
    assert back.extra_context == a.extra_context
    with pytest.raises(TypeError):
        s.dumps(Activity(1, Love, 2, extra_context={"when": BASE}))
    p = PickleActivitySerializer()
    c = Activity(1, Love, 2, extra_context={"when": BASE, "t": (1,)})
    assert p.loads(p.dumps(c)).extra_context == {"when": BASE, "t": (1,)}
    with pytest.raises(ValueError, match="Pickle"):
        s.loads(p.dumps(c))

    agg = AggregatedActivity("g")
    for x in activities(20):
        agg.append(x)
    agg.update_seen_at()
    for dehydrate in (True, False):
        ser = AggregatedActivitySerializer(dehydrate=dehydrate)
        loaded = ser.loads(ser.dumps(agg))
        assert loaded == agg and loaded.seen_at == agg.seen_at and loaded.read_at is None
        assert loaded.dehydrated is dehydrate
        assert loaded.minimized_activities == 5
