"""The backend contract (streams/eventstore/{base,memory,redis,sql}.py), the same on every
backend: AwesomeStream's behavioural spec, and what this port adds or fixes."""

import datetime
import random
import uuid

import pytest

from streams.eventstore import Event, MemoryBackend, to_timestamp

KEYS = ["kind", "user", "game"]
ITEMS = [
    {"kind": "play", "user": 1, "game": "bloons"},
    {"kind": "play", "user": 1, "game": "bloons"},
    {"kind": "high-score", "user": 1, "game": "bloons", "score": 100},
    {"kind": "play", "user": 2, "game": "bloons"},
]


def test_awesomestream_spec(make_store):
    """AwesomeStream's tests/test_backend.py, on every backend."""
    store = make_store(KEYS)
    for item in ITEMS:
        store.insert(item)
    i0, i1, i2, i3 = ITEMS
    assert store.items() == [i3, i2, i1, i0]
    assert store.items(kind="play") == [i3, i1, i0]
    assert store.items(user=1) == [i2, i1, i0]
    assert store.items(user=1, kind="play") == [i1, i0]
    assert store.items(user=1, kind="high-score") == [i2]
    assert store.items(user=[1, 2]) == [i3, i2, i1, i0]


def test_readme_session(make_store):
    store = make_store(["user", "kind", "repo"])
    store.insert({"kind": "create-repo", "repo": 17, "user": 291}, date=1)
    store.insert({"kind": "friend", "user": 23, "friend": 291}, date=2)
    store.insert({"kind": "commit", "repo": 17, "user": 23, "sha": "abc"}, date=3)
    store.insert({"kind": "friend", "user": 291, "friend": 23}, date=4)
    store.insert({"kind": "friend", "user": 5, "friend": 6}, date=5)
    assert store.items(kind="friend", user=23) == [{"kind": "friend", "user": 23, "friend": 291}]
    assert [(e["kind"], e["user"]) for e in store.items(user=[23, 291], start=1, end=3)] == [
        ("commit", 23),
        ("friend", 23),
    ]


def test_insert_returns_the_uuid1_id_on_every_backend(make_store):
    store = make_store(KEYS)
    first, second = store.insert({"kind": "a"}), store.insert({"kind": "b"})
    assert uuid.UUID(first).version == 1 and first != second
    assert [e.id for e in store.events()] == [second, first]


def test_and_across_keys_or_within_a_list(make_store):
    store = make_store(KEYS)
    rows = [
        {"kind": k, "user": u, "game": g}
        for k in ("play", "high-score", "quit")
        for u in (1, 2, 3)
        for g in ("chess", "go")
    ]
    for n, row in enumerate(rows):
        store.insert(row, date=n)
    got = store.items(0, 100, user=[1, 2], kind=["play", "high-score"], game="go")
    expected = [
        r
        for r in reversed(rows)
        if r["user"] in (1, 2) and r["kind"] in ("play", "high-score") and r["game"] == "go"
    ]
    assert got == expected and len(got) == 4
    assert store.count(user=[1, 2], kind=["play", "high-score"], game="go") == 4


def test_values_compare_as_strings(make_store):
    store = make_store(["user"])
    store.insert({"user": 1}, date=1)
    store.insert({"user": "1"}, date=2)
    store.insert({"user": 1.5}, date=3)
    assert store.items(user=1) == store.items(user="1") == [{"user": "1"}, {"user": 1}]
    assert store.items(user="1.5") == [{"user": 1.5}]
    assert store.items(user=[]) == [] and store.count(user=[]) == 0


def test_zero_empty_and_false_are_indexed_none_and_missing_are_not(make_store):
    store = make_store(["v"])
    for value in (0, "", False, None):
        store.insert({"v": value})
    store.insert({"other": 1})
    assert store.items(v=0) == [{"v": 0}]
    assert store.items(v="") == [{"v": ""}]
    assert store.items(v=False) == [{"v": False}]
    assert store.items(v=None) == []
    assert store.count() == 5


def test_list_values_are_indexed_per_element_on_every_backend(make_store):
    store = make_store(["user", "kind"])
    store.insert({"kind": "match", "user": [1, 2]}, date=1)
    store.insert({"kind": "solo", "user": 2}, date=2)
    store.insert({"kind": "match", "user": [3, 1]}, date=3)
    assert store.items(user=1) == [
        {"kind": "match", "user": [3, 1]},
        {"kind": "match", "user": [1, 2]},
    ]
    assert store.items(user=2, kind="match") == [{"kind": "match", "user": [1, 2]}]
    # an event matching several values of a list filter comes once
    assert store.items(user=[1, 2, 3]) == store.items() and store.count(user=[1, 2, 3]) == 3


def test_pagination_is_an_end_exclusive_slice(make_store):
    store = make_store(["kind"])
    for n in range(30):
        store.insert({"kind": "k", "n": n}, date=n)
    newest = [{"kind": "k", "n": n} for n in reversed(range(30))]
    assert store.items() == newest[:20]  # the default page: 20, also on Redis
    assert store.items(kind="k") == newest[:20]
    for start, end in [(0, 1), (1, 3), (5, 25), (25, 40), (29, 30), (30, 35), (3, 3), (4, 2)]:
        assert store.items(start, end) == newest[start:end], (start, end)
        assert store.items(start, end, kind="k") == newest[start:end], (start, end)
    with pytest.raises(ValueError, match="start must be a non-negative int"):
        store.items(-1, 3)


def test_union_of_several_indexes_paginates_by_timestamp(make_store):
    store = make_store(["user"])
    rng = random.Random(7)
    dates = list(range(60))
    rng.shuffle(dates)  # inserted out of time order
    events = [{"user": n % 4, "n": n} for n in range(60)]
    for event, date in zip(events, dates, strict=True):
        store.insert(event, date=date)
    oracle = [
        e
        for e, _ in sorted(zip(events, dates, strict=True), key=lambda p: -p[1])
        if e["user"] in (1, 3)
    ]
    for start, end in [(0, 20), (0, 5), (3, 11), (10, 30), (25, 40), (29, 31)]:
        assert store.items(start, end, user=[1, 3]) == oracle[start:end], (start, end)
    assert store.count(user=[1, 3]) == 30


def test_order_is_by_timestamp_whatever_the_date_type(make_store):
    store = make_store(["n"])
    now = datetime.datetime.now()
    store.insert({"n": "datetime, an hour ago"}, date=now - datetime.timedelta(hours=1))
    store.insert({"n": "a day ago"}, date=datetime.timedelta(days=-1))
    store.insert({"n": "now"})
    store.insert({"n": "tomorrow"}, date=datetime.date.today() + datetime.timedelta(days=1))
    store.insert({"n": "epoch"}, date=0)
    store.insert({"n": "seconds, a minute ago"}, date=now.timestamp() - 60.0)
    assert [e["n"] for e in store.items()] == [
        "tomorrow",
        "now",
        "seconds, a minute ago",
        "datetime, an hour ago",
        "a day ago",
        "epoch",
    ]


def test_equal_timestamps_put_the_later_insert_first(make_store):
    store = make_store(["k"])
    for n in range(5):
        store.insert({"k": n % 2, "n": n}, date=100)
    assert [e["n"] for e in store.items()] == [4, 3, 2, 1, 0]
    assert [e["n"] for e in store.items(k=[0, 1], start=1, end=4)] == [3, 2, 1]


def test_since_and_until(make_store):
    store = make_store(["user"])
    for n in range(10):
        store.insert({"user": n % 2, "n": n}, date=n)
    assert [e["n"] for e in store.items(since=3, until=7)] == [6, 5, 4, 3]
    assert [e["n"] for e in store.items(since=3, until=7, user=1)] == [5, 3]
    assert [e["n"] for e in store.items(since=3, user=[0, 1], start=1, end=3)] == [8, 7]
    assert store.count(since=3, until=7) == 4
    assert store.count(until=7, user=[0, 1]) == 7
    assert store.items(since=datetime.timedelta(hours=-1)) == []
    store.insert({"user": 0, "n": "now"})
    assert store.items(since=datetime.timedelta(hours=-1)) == [{"user": 0, "n": "now"}]


def test_count(make_store):
    store = make_store(KEYS)
    for item in ITEMS:
        store.insert(item)
    assert store.count() == 4
    assert store.count(user=1) == 3
    assert store.count(user=[1, 2], kind="play") == 3
    assert store.count(game="tetris") == 0


def test_filtering_on_a_key_that_is_not_indexed_is_a_value_error(make_store):
    store = make_store(KEYS)
    store.insert(ITEMS[0])
    with pytest.raises(ValueError, match=r"cannot filter on 'score': not an indexed key"):
        store.items(score=100)
    with pytest.raises(ValueError, match=r"'colour', 'score'"):
        store.count(score=100, colour="red")


def test_events_carry_id_and_timestamp(make_store):
    store = make_store(["k"])
    event_id = store.insert({"k": 1}, date=datetime.datetime(2024, 1, 1, 12, 0))
    (event,) = store.events(k=1)
    assert isinstance(event, Event)
    assert event.id == event_id
    assert event.timestamp == datetime.datetime(2024, 1, 1, 12, 0).timestamp()
    assert event.data == {"k": 1}


def test_data_comes_back_after_a_json_round_trip(make_store):
    store = make_store(["k"])
    data = {"k": 1, "pair": (1, 2), 3: "three"}
    store.insert(data)
    assert store.items() == [{"k": 1, "pair": [1, 2], "3": "three"}]
    assert data == {"k": 1, "pair": (1, 2), 3: "three"}  # not changed
    with pytest.raises(TypeError, match="an event must be a dict"):
        store.insert([1, 2])


@pytest.mark.real_time
async def test_async_variants(make_store):
    store = make_store(["k"])
    ids = [await store.ainsert({"k": n}, date=n) for n in range(3)]
    assert await store.aitems(k=[0, 2]) == [{"k": 2}, {"k": 0}]
    assert [e.id for e in await store.aevents()] == ids[::-1]
    assert await store.acount(since=1) == 2


def test_subscribers_see_every_insert_through_the_object(make_store):
    store = make_store(["k"])
    seen = []
    unsubscribe = store.subscribe(seen.append)
    first = store.insert({"k": 1}, date=5)
    unsubscribe()
    store.insert({"k": 2})
    assert [(e.id, e.timestamp, e.data) for e in seen] == [(first, 5.0, {"k": 1})]


def test_keys_are_checked():
    with pytest.raises(ValueError, match="distinct"):
        MemoryBackend(["a", "a"])
    with pytest.raises(TypeError, match="non-empty strings"):
        MemoryBackend([""])


def test_sql_keys_must_not_clash_with_its_columns():
    from streams.eventstore import SQLBackend

    with pytest.raises(ValueError, match="clash"):
        SQLBackend("sqlite://", ["data", "user"])


def test_to_timestamp_units():
    assert to_timestamp(5) == 5.0
    assert to_timestamp(2.5) == 2.5
    day = datetime.date(2024, 3, 1)
    assert to_timestamp(day) == datetime.datetime(2024, 3, 1).timestamp()
    utc = datetime.datetime(2024, 3, 1, tzinfo=datetime.UTC)
    assert to_timestamp(utc) == 1709251200.0
    with pytest.raises(TypeError, match="got True"):
        to_timestamp(True)
    with pytest.raises(TypeError, match="got 'yesterday'"):
        to_timestamp("yesterday")


def test_redis_layout_uses_sorted_sets_under_the_prefix(redis_url):
    import redis

    from streams.eventstore import RedisBackend

    prefix = f"t{uuid.uuid4().hex[:8]}:"
    store = RedisBackend(["user"], url=redis_url, prefix=prefix)
    event_id = store.insert({"user": 3}, date=42)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = set(client.keys(f"{prefix}*"))
    assert keys == {f"{prefix}all", f'{prefix}idx:[["user"],["3"]]', f"{prefix}item:{event_id}"}
    assert client.type(f"{prefix}all") == "zset"
    assert client.zrange(f"{prefix}all", 0, -1, withscores=True)[0][1] == 42.0
    client.close()
    store.close()


# ------------------------------------------------------------------ SQL: list fields, statements


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """The clock of ``SQLBackend.list_check_interval``, advanced by hand."""
    from streams.eventstore import sql

    fake = FakeClock()
    monkeypatch.setattr(sql, "_clock", fake)
    return fake


@pytest.fixture(params=["sqlite", "postgres"])
def open_sql(request, tmp_path):
    """``open_sql(**kwargs)``: a new SQLBackend object on the test's one table, as
    another process would open it."""
    from streams.eventstore import SQLBackend

    name = f"t{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        dsn = f"sqlite:///{tmp_path / name}.db"
    else:
        dsn = request.getfixturevalue("postgres_url")
    made = []

    def open_it(**kwargs):
        store = SQLBackend(dsn, ["user", "kind"], table_name=name, **kwargs)
        made.append(store)
        return store

    yield open_it
    for store in made:
        store.close()


def count_statements(store):
    """A list that counts the SQL statements ``store`` sends (one entry each)."""
    import sqlalchemy as sa

    sent = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


def test_sql_list_values_stored_by_another_object_become_queryable(open_sql, clock):
    first = open_sql()
    first.insert({"user": 1, "kind": "solo"}, date=1)
    assert first.items(user=2) == [] and first.count(user=2) == 0
    other = open_sql()
    other.insert({"user": [1, 2], "kind": "match"}, date=2)
    # the rule: the side table is re-checked at most once per list_check_interval
    clock.now += first.list_check_interval
    assert first.items(user=2) == [{"user": [1, 2], "kind": "match"}]
    assert first.count(user=[1, 2]) == 2
    assert [e["kind"] for e in first.items(user=1)] == ["match", "solo"]
    # a backend object opened later reads the list fields when it opens the table
    assert open_sql().items(user=2, kind="match") == [{"user": [1, 2], "kind": "match"}]


def test_sql_list_check_interval_bounds_how_stale_the_list_fields_are(open_sql, clock):
    lazy, strict = open_sql(list_check_interval=5), open_sql(list_check_interval=0)
    assert lazy.items(user=2) == strict.items(user=2) == []
    open_sql().insert({"user": [1, 2]}, date=1)
    assert strict.items(user=2) == [{"user": [1, 2]}]  # re-checks on every query
    clock.now += 4.9
    assert lazy.items(user=2) == []  # known to have no lists 4.9 s ago
    clock.now += 0.1
    assert lazy.items(user=2) == [{"user": [1, 2]}]
    with pytest.raises(ValueError, match="list_check_interval"):
        open_sql(list_check_interval=-1)


def test_sql_query_is_one_statement(open_sql, clock):
    store = open_sql()
    for n in range(5):
        store.insert({"user": n % 3, "kind": "k"}, date=n)
    sent = count_statements(store)
    assert store.items(user=1) == [{"user": 1, "kind": "k"}, {"user": 1, "kind": "k"}]
    assert len(sent) == 1
    assert store.count(user=[0, 1], kind="k") == 4 and len(sent) == 2
    assert len(store.events(1, 3, since=1, until=4, user=[0, 1, 2])) == 2 and len(sent) == 3
    assert len(store.items()) == 5 and store.count() == 5 and len(sent) == 5
    # once list_check_interval has passed, one query checks the side table again
    clock.now += store.list_check_interval
    assert store.count(user=1) == 2 and len(sent) == 7
    assert store.count(user=1) == 2 and len(sent) == 8
    # a list stored through this object is known at once, and queries stay one statement
    store.insert({"user": [1, 7], "kind": "match"}, date=10)
    del sent[:]
    assert store.items(user=7) == [{"user": [1, 7], "kind": "match"}] and len(sent) == 1
    assert store.count(user=1) == 3 and len(sent) == 2
    # only a filter on a field without known lists re-checks, once the interval passed
    clock.now += store.list_check_interval
    assert store.count(user=1) == 3 and len(sent) == 3
    assert store.count(kind="k") == 5 and len(sent) == 5
    assert store.count(kind="k") == 5 and len(sent) == 6
