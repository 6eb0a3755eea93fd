"""Stream.sink_to_event_store and Stream.from_event_store (streams/eventstore/nodes.py)."""

import asyncio

import pytest

from streams import Stream
from streams.eventstore import MemoryBackend, SQLBackend
from streams.eventstore.nodes import FromEventStore, ToEventStore


def until_count(n):
    """A sink function and a future done once it received ``n`` elements."""
    got = []
    done = asyncio.get_running_loop().create_future()

    def take(x):
        got.append(x)
        if len(got) == n and not done.done():
            done.set_result(got)

    return take, done


# ------------------------------------------------------------------ the sink


def test_sink_inserts_every_dict_in_the_emitters_call():
    store = MemoryBackend(["user"])
    source = Stream()
    sink = source.sink_to_event_store(store, date=lambda x: x["t"])
    assert isinstance(sink, ToEventStore)
    assert sink._describe() == "sink_to_event_store<MemoryBackend>"
    for t in (3, 1, 2):
        source.emit({"user": t % 2, "t": t})
    assert store.items() == [{"user": 1, "t": 3}, {"user": 0, "t": 2}, {"user": 1, "t": 1}]


def test_a_bad_element_names_the_node():
    store = MemoryBackend(["user"])
    source = Stream()
    source.sink_to_event_store(store, stream_name="activity")
    with pytest.raises(TypeError, match="activity: expected a dict, got int 5"):
        source.emit(5)
    source.emit({"user": 1})  # the graph stays usable
    assert store.count() == 1


def test_failed_inserts_go_to_the_error_channel():
    store = MemoryBackend(["user"])
    source = Stream()
    source.sink_to_event_store(store, on_error="dead_letter", stream_name="store")
    problems = source.errors().map(str).sink_to_list()
    source.emit({"user": 1})
    source.emit({"user": object()})
    source.emit("not a dict")
    assert store.count() == 1
    assert problems[0].startswith("store: TypeError: Object of type object")
    assert problems[1].startswith("store: TypeError: store: expected a dict, got str")


@pytest.mark.real_time
async def test_sink_to_a_blocking_backend_applies_back_pressure(tmp_path):
    store = SQLBackend(f"sqlite:///{tmp_path}/events.db", ["user"])
    source = Stream()
    source.map(lambda n: {"user": n % 3, "n": n}).sink_to_event_store(store, date="n")
    for n in range(40):
        await source.emit(n)
        assert store.count() == n + 1  # stored before emit returned
    await source.drain()
    assert [e["n"] for e in store.items(user=[0, 1], end=4)] == [39, 37, 36, 34]
    store.close()


@pytest.mark.real_time
async def test_sink_errors_of_a_blocking_backend_name_the_node(tmp_path):
    store = SQLBackend(f"sqlite:///{tmp_path}/events.db", ["user"])
    source = Stream()
    source.sink_to_event_store(store, stream_name="db")
    with pytest.raises(TypeError) as info:
        await source.emit({"user": {1, 2}})
    assert "db" in "".join(getattr(info.value, "__notes__", [])) + str(info.value)
    await source.emit({"user": 2})
    assert store.count() == 1
    store.close()


def test_blocking_sink_in_a_plain_script(tmp_path):
    store = SQLBackend(f"sqlite:///{tmp_path}/events.db", ["user"])
    source = Stream()
    source.sink_to_event_store(store)
    for n in range(5):
        source.emit({"user": n})  # blocks until stored
    assert store.count() == 5
    store.close()


# ------------------------------------------------------------------ the source


def test_source_checks_its_filters_when_built():
    with pytest.raises(ValueError, match="cannot filter on 'game'"):
        Stream.from_event_store(MemoryBackend(["user"]), game="chess")
    with pytest.raises(TypeError, match="expected an event-store backend"):
        Stream.from_event_store("redis://localhost")


def test_replay_emits_the_stored_events_oldest_first_and_ends():
    store = MemoryBackend(["user"])
    for n in range(1200):  # more than a page; the first ones dated last
        store.insert({"user": n % 2, "n": n}, date=10_000 - n if n < 5 else n)
    source = Stream.from_event_store(store, follow=False, user=1, since=3)
    assert isinstance(source, FromEventStore)
    out = source.sink_to_list()
    source.start()
    source.wait()
    assert [e["n"] for e in out] == [*range(5, 1200, 2), 3, 1]


@pytest.mark.real_time
async def test_follow_emits_new_matching_events_in_insert_order():
    store = MemoryBackend(["kind"])
    store.insert({"kind": "play", "n": "old"})
    source = Stream.from_event_store(store, kind=["play", "win"])
    take, done = until_count(3)
    source.sink(take)
    source.start()
    await asyncio.sleep(0)  # the source subscribes when its task runs
    for n, kind in enumerate(["play", "quit", "win", "play"]):
        store.insert({"kind": kind, "n": n}, date=-n)  # dates do not matter: insert order
    assert [e["n"] for e in await done] == [0, 2, 3]
    source.stop()
    await source.wait()
    assert store._subscribers == {}  # unsubscribed when stopped


@pytest.mark.real_time
async def test_follow_sees_inserts_made_in_worker_threads(tmp_path):
    store = SQLBackend(f"sqlite:///{tmp_path}/events.db", ["user"])
    source = Stream.from_event_store(store, user=1)
    take, done = until_count(2)
    source.sink(take)
    source.start()
    await asyncio.sleep(0)
    await asyncio.gather(*(store.ainsert({"user": n % 2, "n": n}) for n in range(4)))
    assert sorted(e["n"] for e in await done) == [1, 3]
    source.stop()
    await source.wait()
    store.close()


@pytest.mark.real_time
async def test_replay_then_follow_emits_each_event_once():
    store = MemoryBackend(["user"])
    for n in range(3):
        store.insert({"user": 1, "n": n}, date=n)
    source = Stream.from_event_store(store, replay=True, user=1)
    got = []

    async def slow(x):
        got.append(x["n"])
        if x["n"] == 0:  # an insert while the replay is under way
            store.insert({"user": 1, "n": 3}, date=3)
        await asyncio.sleep(0)

    take, done = until_count(5)
    source.sink(slow)
    source.sink(take)
    source.start()
    await asyncio.sleep(0)
    store.insert({"user": 1, "n": 4}, date=4)
    await done
    source.stop()
    await source.wait()
    # 4 is in the replay or after it, depending on when the replay read the store; 3
    # comes from the tail only: each event once either way
    assert got[:3] == [0, 1, 2] and sorted(got) == [0, 1, 2, 3, 4]


@pytest.mark.real_time
async def test_a_graph_from_one_store_to_another_is_drained(tmp_path):
    live = MemoryBackend(["user", "kind"])
    archive = SQLBackend(f"sqlite:///{tmp_path}/archive.db", ["user"])
    source = Stream.from_event_store(live, kind="score")
    source.map(lambda e: {"user": e["user"], "points": 2 * e["points"]}).sink_to_event_store(
        archive
    )
    marks, done = until_count(50)
    source.sink(marks)
    source.start()
    await asyncio.sleep(0)
    for n in range(100):
        await live.ainsert({"user": n % 5, "kind": "score" if n % 2 else "chat", "points": n})
    await done
    source.stop()
    await source.wait()
    await source.drain()
    assert archive.count() == 50
    assert archive.items(user=1, end=2) == [{"user": 1, "points": 182}, {"user": 1, "points": 162}]
    archive.close()
