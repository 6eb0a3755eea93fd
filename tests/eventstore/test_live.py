"""The live parts: the server's /subscribe websocket, AsyncClient.subscribe,
subscribe_stream, and the Redis cross-process tail (streams/eventstore/{live,server,
client,redis}.py)."""

import asyncio
import contextlib
import json
import time
import uuid

import pytest
from tornado.websocket import websocket_connect

from streams import Stream
from streams.eventstore import AsyncClient, MemoryBackend, RedisBackend, create_app, start_server
from streams.eventstore.client import subscribe_stream
from streams.eventstore.server import CLOSE_BAD_REQUEST, CLOSE_TOO_SLOW

pytestmark = pytest.mark.real_time

TIMEOUT = 10.0


async def until(condition, what="the condition"):
    """Wait (a real-time loop) until ``condition()`` is true; fail after TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def ws_url(server, query=""):
    return f"ws://{server.host}:{server.port}/subscribe" + (f"?{query}" if query else "")


async def read(conn):
    """The next message, decoded (``None`` once closed); fails after TIMEOUT."""
    message = await asyncio.wait_for(conn.read_message(), TIMEOUT)
    if message is None:
        conn.close()  # the server closed it: release the client's side too
        return None
    return json.loads(message)


async def hang_up(conn):
    """Close ``conn`` and wait for the server's answer (no socket left open)."""
    conn.close()
    await read_until_closed(conn)


async def read_until_closed(conn):
    got = []
    while (message := await read(conn)) is not None:
        got.append(message)
    return got


@contextlib.asynccontextmanager
async def serving(backend, **options):
    server = start_server(create_app(backend, **options))
    try:
        yield server
    finally:
        await server.close()


# ------------------------------------------------------------------ the websocket


async def test_websocket_pushes_matching_events_and_no_others():
    store = MemoryBackend(["user", "kind"])
    store.insert({"user": 1, "kind": "play", "n": "stored"})  # before: not sent
    async with serving(store) as server:
        conn = await websocket_connect(ws_url(server, "user=1&user=2&kind=play"))
        await until(lambda: store._subscribers, "the subscription")
        for n, (user, kind) in enumerate([(1, "play"), (3, "play"), (2, "chat"), (2, "play")]):
            event_id = store.insert({"user": user, "kind": kind, "n": n}, date=100 + n)
            if n == 0:
                first_id = event_id
        first = await read(conn)
        assert first == {
            "id": first_id,
            "timestamp": 100.0,
            "data": {"user": 1, "kind": "play", "n": 0},
        }
        assert (await read(conn))["data"]["n"] == 3
        await hang_up(conn)
        await until(lambda: not store._subscribers, "the unsubscription")


async def test_since_and_until_bound_the_live_events_too():
    store = MemoryBackend(["user"])
    async with serving(store) as server:
        conn = await websocket_connect(ws_url(server, "since=10&until=20"))
        await until(lambda: store._subscribers, "the subscription")
        for date in (5, 10, 25, 19):
            store.insert({"user": 1, "t": date}, date=date)
        assert [(await read(conn))["data"]["t"] for _ in range(2)] == [10, 19]
        await hang_up(conn)


async def test_replay_sends_the_newest_n_oldest_first_then_the_live_ones():
    store = MemoryBackend(["user"])
    for n in range(5):
        store.insert({"user": n % 2, "n": n}, date=n)
    async with serving(store) as server:
        conn = await websocket_connect(ws_url(server, "user=0&replay=2"))
        assert [(await read(conn))["data"]["n"] for _ in range(2)] == [2, 4]
        store.insert({"user": 1, "n": 5}, date=5)
        store.insert({"user": 0, "n": 6}, date=6)
        assert (await read(conn))["data"]["n"] == 6
        await hang_up(conn)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("game=chess", "cannot filter on 'game': not an indexed key (keys=['user'])"),
        ("replay=many", "replay must be an int from 0 to 10000, got 'many'"),
        ("since=yesterday", "since must be seconds since the epoch, got 'yesterday'"),
        ("until=1&until=2", "until given 2 times"),
    ],
)
async def test_bad_parameters_close_with_code_1008_and_the_reason(query, reason):
    store = MemoryBackend(["user"])
    async with serving(store) as server:
        conn = await websocket_connect(ws_url(server, query))
        assert await read(conn) is None
        assert (conn.close_code, conn.close_reason) == (CLOSE_BAD_REQUEST, reason)
    assert store._subscribers == {}


async def test_a_long_reason_is_cut_to_fit_a_close_frame():
    store = MemoryBackend([f"key{n}" for n in range(30)])
    async with serving(store) as server:
        conn = await websocket_connect(ws_url(server, "game=1"))
        assert await read(conn) is None
        assert conn.close_code == CLOSE_BAD_REQUEST
        assert conn.close_reason.startswith("cannot filter on 'game'")
        assert conn.close_reason.endswith("...") and len(conn.close_reason.encode()) <= 123


async def test_an_overflowing_queue_closes_the_subscriber_not_the_inserts():
    store = MemoryBackend(["user"])
    async with serving(store, max_queue=4) as server:
        conn = await websocket_connect(ws_url(server))
        await until(lambda: store._subscribers, "the subscription")
        # one burst on the loop: the sender cannot run, so the fifth event overflows
        for n in range(10):
            store.insert({"user": 1, "n": n})
        assert store._subscribers == {}  # gave up at once, inside the insert
        assert store.count() == 10
        assert await read_until_closed(conn) == []
        assert conn.close_code == CLOSE_TOO_SLOW
        assert conn.close_reason == (
            "too slow: over 4 events waiting; reconnect with since= to catch up"
        )


async def test_a_subscriber_that_stops_reading_is_closed_while_inserts_go_on():
    store = MemoryBackend(["user"])
    blob = "x" * 65536
    async with serving(store, max_queue=8) as server:
        conn = await websocket_connect(ws_url(server))
        await until(lambda: store._subscribers, "the subscription")
        # the client reads nothing: socket buffers fill, then the server's queue
        inserted = 0
        while store._subscribers:
            assert inserted < 5000, "the slow subscriber was never closed"
            started = time.monotonic()
            store.insert({"user": 1, "n": inserted, "blob": blob})
            assert time.monotonic() - started < 1.0  # an insert never waits for it
            inserted += 1
            await asyncio.sleep(0)  # let the sender write what the socket takes
        assert inserted > 8
        got = await read_until_closed(conn)
        assert conn.close_code == CLOSE_TOO_SLOW
        # what was sent before the overflow arrived whole and in order
        assert [m["data"]["n"] for m in got] == list(range(len(got)))
        assert len(got) < inserted


async def test_closing_the_server_ends_the_subscriptions():
    store = MemoryBackend(["user"])
    server = start_server(create_app(store))
    conn = await websocket_connect(ws_url(server))
    await until(lambda: store._subscribers, "the subscription")
    await asyncio.wait_for(server.close(), TIMEOUT)
    assert await read(conn) is None
    assert conn.close_code == 1001
    assert store._subscribers == {}


async def test_without_a_subscribe_path_every_path_is_json_rpc():
    store = MemoryBackend(["user"])
    async with serving(store, subscribe_path=None) as server:
        client = AsyncClient(server.url + "subscribe")
        await client.insert({"user": 1})
        assert await client.count() == 1
    with pytest.raises(ValueError, match="max_queue must be a positive int"):
        create_app(store, max_queue=0)
    with pytest.raises(ValueError, match="subscribe_path must start with '/'"):
        create_app(store, subscribe_path="live")


# ------------------------------------------------------------------ the clients


async def test_async_client_subscribe_iterates_over_the_events():
    store = MemoryBackend(["user"])
    store.insert({"user": 1, "n": 0}, date=0)
    async with serving(store) as server:
        client = AsyncClient(server.url)
        got = []
        events = client.subscribe(user=[1, 3], replay=5)
        async with contextlib.aclosing(events):
            async for event in events:
                got.append(event)
                if len(got) == 1:  # the replayed event: the subscription is open
                    for n, user in enumerate([2, 3, 1], 1):
                        await client.insert({"user": user, "n": n}, 100 + n)
                if len(got) == 3:
                    break
        assert [e["data"]["n"] for e in got] == [0, 2, 3]
        assert [e["timestamp"] for e in got] == [0.0, 102.0, 103.0]
        await until(lambda: not store._subscribers, "the unsubscription")


async def test_async_client_subscribe_raises_the_servers_reason():
    store = MemoryBackend(["user"])
    async with serving(store) as server:
        events = AsyncClient(server.url).subscribe(game="chess")
        with pytest.raises(ValueError, match="cannot filter on 'game'"):
            async for _ in events:
                pass


async def test_async_client_subscribe_ends_when_the_server_closes():
    store = MemoryBackend(["user"])
    server = start_server(create_app(store))
    got = []

    async def follow():
        async for event in AsyncClient(server.url).subscribe():
            got.append(event["data"])

    task = asyncio.create_task(follow())
    await until(lambda: store._subscribers, "the subscription")
    store.insert({"user": 1})
    await until(lambda: got, "the event")
    await server.close()
    await asyncio.wait_for(task, TIMEOUT)  # ends without an error
    assert got == [{"user": 1}]


async def test_async_client_subscribe_reports_a_slow_close_as_connection_error():
    store = MemoryBackend(["user"])
    async with serving(store, max_queue=2) as server:
        events = AsyncClient(server.url).subscribe()
        reading = asyncio.ensure_future(events.__anext__())
        await until(lambda: store._subscribers, "the subscription")
        for n in range(5):
            store.insert({"user": 1, "n": n})
        with pytest.raises(ConnectionError, match="1013 too slow"):
            await asyncio.wait_for(reading, TIMEOUT)


async def test_subscribe_stream_is_a_source_of_the_events_data():
    store = MemoryBackend(["kind"])
    async with serving(store) as server:
        source = subscribe_stream(server.url, kind="play")
        assert source._describe().startswith("subscribe_stream<http://127.0.0.1:")
        got = source.sink_to_list()
        source.start()
        await until(lambda: store._subscribers, "the subscription")
        for n, kind in enumerate(["play", "chat", "play"]):
            store.insert({"kind": kind, "n": n})
        await until(lambda: len(got) == 2, "two events")
        source.stop()
        await asyncio.wait_for(source.wait(), TIMEOUT)
        await until(lambda: not store._subscribers, "the unsubscription")
        assert got == [{"kind": "play", "n": 0}, {"kind": "play", "n": 2}]


async def test_subscribe_stream_fails_on_a_refused_filter():
    store = MemoryBackend(["kind"])
    async with serving(store) as server:
        source = subscribe_stream(server.url, colour="red")
        errors = source.errors().map(str).sink_to_list()
        source.start()
        await asyncio.wait_for(source.wait(), TIMEOUT)
        assert len(errors) == 1 and "cannot filter on 'colour'" in errors[0]


# ------------------------------------------------------------------ Redis, across processes


@pytest.fixture
def redis_pair(redis_url):
    """Two RedisBackend objects on one store, each with its own connections, as two
    processes would have."""
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    here = RedisBackend(["user"], url=redis_url, prefix=prefix)
    there = RedisBackend(["user"], url=redis_url, prefix=prefix)
    yield here, there
    here.close()
    there.close()


def listeners(store):
    """How many connections listen to the store's channel (PUBSUB NUMSUB)."""
    return dict(store.client.pubsub_numsub(store.channel))[store.channel]


async def test_redis_publishes_each_insert_on_its_channel(redis_pair):
    here, _ = redis_pair
    pubsub = here.client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(here.channel)
    event_id = here.insert({"user": 1, "text": "hi"}, date=7)
    message = None
    deadline = time.monotonic() + TIMEOUT
    while message is None and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
    pubsub.close()
    payload = json.loads(message["data"])
    assert payload["id"] == event_id and payload["timestamp"] == 7.0
    assert payload["data"] == {"user": 1, "text": "hi"}
    assert set(payload) == {"origin", "id", "timestamp", "order", "data"}
    quiet = RedisBackend(["user"], url=here.url, prefix=here.prefix, publish=False)
    quiet.insert({"user": 2})  # stored, not published
    assert here.count() == 2
    quiet.close()


async def test_a_redis_follower_sees_the_inserts_of_other_processes_once(redis_pair):
    here, there = redis_pair
    source = Stream.from_event_store(here, user=1)
    got = source.sink_to_list()
    source.start()
    await until(lambda: listeners(here) == 1, "the pub/sub subscription")
    there.insert({"user": 1, "n": "there"})
    await here.ainsert({"user": 1, "n": "here"})  # in-process, and echoed by pub/sub
    there.insert({"user": 2, "n": "other user"})
    there.insert({"user": 1, "n": "last"})
    await until(lambda: len(got) >= 3, "three events")
    source.stop()
    await asyncio.wait_for(source.wait(), TIMEOUT)
    assert sorted(e["n"] for e in got) == ["here", "last", "there"]  # each once
    await until(lambda: listeners(here) == 0, "the pub/sub unsubscription")


async def test_a_redis_replay_and_follow_emits_each_event_once(redis_pair):
    here, there = redis_pair
    for n in range(3):
        there.insert({"user": 1, "n": n}, date=n)
    source = Stream.from_event_store(here, replay=True, user=1)
    got = source.sink_to_list()
    source.start()
    await until(lambda: len(got) == 3, "the replay")
    there.insert({"user": 1, "n": 3}, date=3)
    await until(lambda: len(got) == 4, "the live event")
    source.stop()
    await asyncio.wait_for(source.wait(), TIMEOUT)
    assert [e["n"] for e in got] == [0, 1, 2, 3]


async def test_the_websocket_of_a_redis_store_pushes_other_processes_inserts(redis_pair):
    here, there = redis_pair
    async with serving(here) as server:
        conn = await websocket_connect(ws_url(server, "user=1"))
        await until(lambda: listeners(here) == 1, "the pub/sub subscription")
        there.insert({"user": 2, "n": 0})
        there.insert({"user": 1, "n": 1})
        await here.ainsert({"user": 1, "n": 2})
        # each once; the two feeds (pub/sub, in-process) do not keep order between them
        assert sorted([(await read(conn))["data"]["n"] for _ in range(2)]) == [1, 2]
        await hang_up(conn)
        await until(lambda: listeners(here) == 0, "the pub/sub unsubscription")


async def test_a_redis_follower_of_an_unreachable_server_fails_to_start():
    store = RedisBackend(["user"], url="redis://127.0.0.1:1/0", socket_connect_timeout=1)
    source = Stream.from_event_store(store, user=1)
    errors = source.errors().map(str).sink_to_list()
    source.start()
    await asyncio.wait_for(source.wait(), TIMEOUT)
    assert len(errors) == 1 and "ConnectionError" in errors[0]
