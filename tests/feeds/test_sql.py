"""What is particular to the SQL storages, on SQLite and on a real PostgreSQL (issue 13)."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from streams.feeds import Love, settings
from streams.feeds.sql import SQLFeed, SQLNotificationFeed
from streams.feeds.storage.sql import (
    SQLActivityStorage,
    SQLListsStorage,
    SQLTimelineStorage,
    encode_id,
    get_tables,
)

from ._data import BASE, Activity, activities

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


class Boom(Exception):
    pass


def statements(engine, verb):
    """A list collecting the SQL statements starting with ``verb`` run on ``engine``."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(verb):
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    return seen


def test_26_digit_ids_are_exact_and_sorted(backend):
    # the same millisecond, objects 1..3: ids differing in their last digits only
    same_ms = [Activity(1, Love, i, time=BASE) for i in (3, 1, 2)]
    assert len({a.serialization_id for a in same_ms}) == 3
    assert all(len(str(a.serialization_id)) == 26 for a in same_ms)
    backend.flat.insert_activities(same_ms)
    feed = backend.flat(1)
    feed.add_many(same_ms)
    ordered = sorted(same_ms, key=lambda a: a.serialization_id)
    assert feed[:3] == ordered[::-1]
    assert feed.order_by("activity_id")[:3] == ordered
    # a filter separates activities of the same millisecond (Redis scores cannot)
    assert feed.filter(activity_id__gt=ordered[0].serialization_id)[:3] == ordered[:0:-1]
    assert feed.filter(activity_id__lte=ordered[1].serialization_id)[:3] == ordered[1::-1]
    # numbers of any length sort as numbers, not as text
    timeline = SQLTimelineStorage()
    scores = [5, 10, 9, 10**25, 10**25 + 1, ordered[0].serialization_id, 10**30 - 1]
    timeline.add_many("numbers", [(s, str(s)) for s in scores])
    assert timeline.get_slice("numbers", 0, None) == [str(s) for s in sorted(scores)[::-1]]
    small = {"activity_id__gt": -1, "activity_id__lt": 10}
    assert timeline.get_slice("numbers", 0, None, small) == ["9", "5"]
    assert timeline.get_slice("numbers", 0, None, {"activity_id__gte": 10**31}) == []
    with backend.engine.connect() as connection:
        stored = connection.execute(sa.select(get_tables()[1].activity.c.id)).scalars().all()
    assert sorted(stored) == sorted(encode_id(a.serialization_id) for a in same_ms)
    assert all(len(s) == 30 for s in stored)


def test_ids_outside_the_range_are_refused(backend):
    before_1970 = Activity(1, Love, 1, time=BASE.replace(year=1960))
    with pytest.raises(ValueError, match="before 1970"):
        backend.flat.insert_activity(before_1970)
    with pytest.raises(ValueError, match=r"\[0, 10\*\*30\)"):
        SQLTimelineStorage().add_many("k", [(10**30, "x")])
    assert SQLActivityStorage().get_many([-1, 10**30]) == {}


def test_entries_are_unique_by_member_not_by_id(backend):
    timeline = SQLTimelineStorage()
    assert timeline.add_many("k", [(7, "a"), (7, "b"), (7, "a")]) == 2
    assert timeline.add_many("k", [(7, "b"), (8, "c")]) == 1
    assert timeline.count("k") == 3
    assert timeline.get_slice("k", 0, 1) == ["c"]
    assert sorted(timeline.get_slice("k", 1, None)) == ["a", "b"]
    ties = timeline.get_slice("k", 1, None)
    assert [timeline.index_of("k", m) for m in ties] == [1, 2]
    assert timeline.get_slice("k", 0, 2, ordering_args=["activity_id"]) == ties[::-1]
    with pytest.raises(ValueError, match="not in timeline"):
        timeline.index_of("k", "zzz")


def test_trim_is_one_statement(backend):
    feed, items = backend.flat(1), activities(30)
    backend.flat.insert_activities(items)
    feed.add_many(items, trim=False)
    deletes = statements(backend.engine, "DELETE")
    feed.trim(10)
    assert len(deletes) == 1
    assert feed.count() == 10 and feed[:10] == items[:19:-1]
    feed.trim(0)
    assert feed.count() == 0


def test_a_batch_is_one_transaction(backend):
    items = activities(20)
    feeds = [backend.flat(u) for u in range(4)]
    with backend.flat.get_timeline_batch_interface() as batch:
        backend.flat.insert_activities(items, batch_interface=batch)
        for feed in feeds:
            assert feed.add_many(items, batch_interface=batch, trim=False) == 20
        assert feeds[0].count() == 20  # this thread's reads join the batch
        with backend.engine.connect() as other:  # other connections see nothing yet
            assert other.execute(sa.text("SELECT count(*) FROM feeds_timeline")).scalar() == 0
    assert [f.count() for f in feeds] == [20] * 4
    # a failure in the middle of a fan-out chunk leaves nothing written
    more = activities(5, first_object=100, start=BASE + timedelta(days=1))

    def fan_out_then_fail():
        with backend.flat.get_timeline_batch_interface() as batch:
            backend.flat.insert_activities(more, batch_interface=batch)
            feeds[0].add_many(more, batch_interface=batch, trim=False)
            feeds[1].remove_many(items[:5], batch_interface=batch, trim=False)
            raise Boom

    with pytest.raises(Boom):
        fan_out_then_fail()
    assert [f.count() for f in feeds] == [20] * 4
    assert SQLActivityStorage().get_many(a.serialization_id for a in more) == {}

    def storage_error_mid_batch():  # an id the storage cannot keep
        with backend.flat.get_timeline_batch_interface() as batch:
            feeds[2].add_many(more, batch_interface=batch, trim=False)
            SQLTimelineStorage().add_many(feeds[3].key, [(-5, "bad")], batch_interface=batch)

    with pytest.raises(ValueError, match="before 1970"):
        storage_error_mid_batch()
    assert feeds[2].count() == 20 and feeds[3].count() == 20


def test_writes_and_trims_in_a_batch_join_it(backend):
    class Short(backend.flat):
        max_length = 5
        trim_chance = 1.0

    items = activities(8)
    feed = Short(1)
    with Short.get_timeline_batch_interface() as batch:
        Short.insert_activities(items)  # no batch given: joins the open one
        assert feed.add_many(items, batch_interface=batch) == 8  # trims in the batch
        with Short.get_timeline_batch_interface() as inner:  # nested: the same one
            assert inner is batch
        assert feed.count() == 5
    assert feed[:10] == items[:2:-1]


def test_database_error_rolls_the_batch_back(backend):
    timeline = SQLTimelineStorage()

    def write_then_fail():
        with timeline.get_batch_interface() as batch:
            timeline.add_many("k", [(1, "1"), (2, "2")], batch_interface=batch)
            batch.execute(sa.text("INSERT INTO no_such_table VALUES (1)"))

    with pytest.raises(sa.exc.DBAPIError):
        write_then_fail()
    assert timeline.count("k") == 0


def test_flush_matches_the_glob_only(backend):
    timeline = SQLTimelineStorage()
    for key in ("feed_1", "feed_22", "feedX1", "feed%1", "other_feed_1"):
        timeline.add_many(key, [(1, "1")])
    timeline.flush("feed_*")
    assert [timeline.count(k) for k in ("feed_1", "feed_22", "feedX1", "other_feed_1")] == [
        0,
        0,
        1,
        1,
    ]
    assert timeline.count("feed%1") == 1
    timeline.flush("feed%?")
    assert timeline.count("feed%1") == 0 and timeline.count("feedX1") == 1


def test_lists_keep_the_newest(backend):
    lists = SQLListsStorage()
    lists.add("k", "unseen", ["1", "2", "3", "2"], max_length=10)
    assert lists.get("k", "unseen") == ["1", "3", "2"]
    lists.add("k", "unseen", ["4", "1"], max_length=3)
    assert lists.get("k", "unseen") == ["2", "4", "1"]
    lists.add("k", "unread", ["9"], max_length=3)
    lists.remove("k", "unseen", ["4", "nope"])
    assert lists.get("k", "unseen") == ["2", "1"] and lists.count("k", "unread") == 1
    lists.flush("k", ["unseen"])
    assert lists.count("k", "unseen") == 0 and lists.get("k", "unread") == ["9"]


def test_config_by_name(backend):
    url = settings.STREAM_SQL_CONFIG["default"]["url"]
    settings.STREAM_SQL_CONFIG["other"] = {"url": url, "table_prefix": "other_"}

    class OtherFeed(SQLFeed):
        sql_server = "other"

    class OtherNotifications(SQLNotificationFeed):
        sql_server = "other"

    items = activities(3)
    OtherFeed.insert_activities(items)
    OtherFeed(1).add_many(items)
    OtherNotifications(1).add_many(items)
    assert OtherFeed(1).count() == 3 and OtherFeed(1)[:1] == items[-1:]
    assert SQLFeed(1).count() == 0 and SQLNotificationFeed(1).count() == 0
    assert OtherFeed(1).channel == "sql:other:feed_1"
    names = set(sa.inspect(settings.get_sql_engine("other")).get_table_names())
    assert {"other_timeline", "other_activity", "other_markers"} <= names
    assert {"feeds_timeline", "feeds_activity", "feeds_markers"} <= names
    # one engine per name, rebuilt when its entry changes
    engine = settings.get_sql_engine("other")
    assert settings.get_sql_engine("other") is engine
    settings.STREAM_SQL_CONFIG["other"] = {"url": url, "table_prefix": "other_", "echo": False}
    assert settings.get_sql_engine("other") is not engine
    assert OtherFeed(1).count() == 3
    # a batch of one database is refused by another
    with (
        SQLFeed.get_timeline_batch_interface() as batch,
        pytest.raises(ValueError, match="another"),
    ):
        OtherFeed(1).add_many(items, batch_interface=batch)
    with pytest.raises(KeyError, match="nowhere"):
        SQLFeed.get_timeline_storage().__class__(sql_server="nowhere").count("k")
    settings.STREAM_SQL_CONFIG["no_url"] = {}
    with pytest.raises(ValueError, match="no 'url'"):
        settings.get_sql_engine("no_url")
