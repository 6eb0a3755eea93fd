"""Stream.from_redis_stream (streams/sources/redis.py), against a real redis-server."""

import asyncio
import doctest
import time
import uuid
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
import services
from helpers import stop, until

from streams import ErrorRecord, Stream
from streams.methods.redis import RedisMethods
from streams.sources.redis import FromRedisStream, redis_target
from streams.testing import check_source

DOCS = Path(__file__).resolve().parents[2] / "docs"


def unique(prefix="stream"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def add(url, key, *fields, ids=None):
    """XADD each dict of ``fields`` to ``key``; return the entry ids."""
    async with aioredis.Redis.from_url(url) as client:
        ids = ids or ["*"] * len(fields)
        return [
            (await client.xadd(key, f, id=i)).decode() for f, i in zip(fields, ids, strict=True)
        ]


async def pending(url, key, group):
    async with aioredis.Redis.from_url(url) as client:
        return (await client.xpending(key, group))["pending"]


async def settled(url, key, group, count):
    """Wait until ``count`` entries of ``group`` are pending."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (left := await pending(url, key, group)) != count:
        assert loop.time() < deadline, f"{left} entries pending, not {count}"
        await asyncio.sleep(0.01)


async def reading(url, command):
    """Wait until a client of the server is blocked in ``command`` (xread/xreadgroup)."""
    async with aioredis.Redis.from_url(url) as client:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not any(c["cmd"] == command for c in await client.client_list()):
            assert loop.time() < deadline, f"no client ever blocked in {command}"
            await asyncio.sleep(0.01)


def n_of(entry):
    return int(entry["fields"][b"n"])


# ------------------------------------------------------------------ conformance


@pytest.mark.parametrize("group", [None, "workers"])
@pytest.mark.real_time
async def test_conformance(redis_url, group):
    key = unique()
    items = [(f"{i}-1", {"n": str(i)}) for i in range(1, 8)]

    def make():
        return Stream.from_redis_stream(
            key, redis_url, group=group, from_start=True, decode="utf-8", block=100
        )

    async def produce(batch):
        await add(redis_url, key, *(f for _, f in batch), ids=[i for i, _ in batch])

    def expect(item):
        return {"key": key, "id": item[0], "fields": item[1]}

    await check_source(make, produce, items, expect=expect)


# ------------------------------------------------------------------ building


def test_builds_an_unstarted_source_with_a_label():
    source = Stream.from_redis_stream("events")
    assert isinstance(source, FromRedisStream)
    assert not source.started and source.stopped
    assert source._describe() == "from_redis_stream<events>"
    assert source.keys == ["events"] and source.redis_url == "redis://localhost:6379/0"
    assert (source.batch_size, source.block, source.from_start) == (100, 1000, False)
    grouped = Stream.from_redis_stream(["a", b"b"], group="g", stream_name="in")
    assert grouped._describe() == "in"
    assert grouped._detail() == "a,b, group=g"
    assert grouped.consumer != Stream.from_redis_stream("a", group="g").consumer


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"keys": []}, ValueError, "keys"),
        ({"keys": ["a", ""]}, ValueError, "keys"),
        ({"keys": 3}, TypeError, "keys"),
        ({"redis_url": "http://x"}, ValueError, "redis_url"),
        ({"redis_url": None}, TypeError, "redis_url"),
        ({"consumer": "c"}, ValueError, "needs a group"),
        ({"group": ""}, TypeError, "group"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"block": 0.5}, TypeError, "block"),
        ({"decode": "no-such-codec"}, ValueError, "decode"),
    ],
)
def test_bad_arguments_fail_at_build_time_naming_the_node(kwargs, error, match):
    kwargs = {"keys": "events", **kwargs}
    with pytest.raises(error, match=match) as info:
        Stream.from_redis_stream(**kwargs)
    assert "from_redis_stream" in str(info.value)


def test_passwords_are_hidden_in_error_targets():
    assert redis_target("redis://u:secret@h:1/0") == "redis://u:***@h:1/0"
    assert redis_target("redis://h:1/0") == "redis://h:1/0"


# ------------------------------------------------------------------ reading


@pytest.mark.real_time
async def test_without_from_start_only_new_entries_come(redis_url):
    key = unique()
    await add(redis_url, key, {"n": 0})
    source = Stream.from_redis_stream(key, redis_url, block=100)
    got = source.map(n_of).sink_to_list()
    source.start()
    await reading(redis_url, "xread")
    await add(redis_url, key, {"n": 1}, {"n": 2})
    await until(lambda: got == [1, 2])
    await stop(source)
    await add(redis_url, key, {"n": 3})  # while stopped: read after the restart
    source.start()
    await until(lambda: got == [1, 2, 3])
    await stop(source)


@pytest.mark.real_time
async def test_several_keys_and_the_element_shape(redis_url):
    a, b = unique("a"), unique("b")
    ids_a = await add(redis_url, a, {"x": "1"}, {"x": "2"})
    ids_b = await add(redis_url, b, {"y": b"\xff"})
    source = Stream.from_redis_stream([a, b], redis_url, from_start=True)
    got = source.sink_to_list()
    source.start()
    await until(lambda: len(got) == 3)
    await stop(source)
    assert sorted(got, key=lambda e: e["key"]) == [
        {"key": a, "id": ids_a[0], "fields": {b"x": b"1"}},
        {"key": a, "id": ids_a[1], "fields": {b"x": b"2"}},
        {"key": b, "id": ids_b[0], "fields": {b"y": b"\xff"}},
    ]


@pytest.mark.real_time
async def test_decode_json_reports_a_malformed_entry_with_its_position(redis_url):
    key = unique()
    ids = await add(redis_url, key, {"v": "[1]"}, {"v": "{oops"}, {"v": '"x"'})
    source = Stream.from_redis_stream(key, redis_url, from_start=True, decode="json")
    got = source.pluck("fields").sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await until(lambda: len(got) == 2)
    await stop(source)
    assert got == [{"v": [1]}, {"v": "x"}]
    [record] = errors
    assert isinstance(record, ErrorRecord) and record.element == {b"v": b"{oops"}
    assert f"at stream {key!r}, entry {ids[1]}" in record.error.__notes__


@pytest.mark.real_time
async def test_stop_cuts_a_blocking_read_short(redis_url):
    source = Stream.from_redis_stream(unique(), redis_url, group="g", block=60_000)
    source.start()
    await reading(redis_url, "xreadgroup")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await stop(source)
    assert loop.time() - began < 1


# ------------------------------------------------------------------ consumer groups


@pytest.mark.real_time
async def test_a_group_loses_nothing_across_restarts_and_redelivers_nothing(redis_url):
    key = unique()
    ids = await add(redis_url, key, *({"n": i} for i in range(20)))

    def reader():
        return Stream.from_redis_stream(
            key, redis_url, group="g", consumer="c1", from_start=True, batch_size=3
        )

    first = reader()
    got = []

    def take(entry):  # stops the source in the middle of a batch of 3
        got.append(entry["id"])
        if len(got) == 7:
            first.stop()

    first.sink(take)
    first.start()
    await first.wait()
    assert got == ids[:7]
    assert await pending(redis_url, key, "g") == 2  # delivered, not emitted

    second = reader()
    second.sink(lambda e: got.append(e["id"]))
    second.start()
    await until(lambda: len(got) == 20)
    await stop(second)
    assert got == ids  # the pending two first, then the rest; nothing twice
    assert await pending(redis_url, key, "g") == 0

    third = reader()  # fully processed entries never come again
    more = third.sink_to_list()
    third.start()
    await reading(redis_url, "xreadgroup")
    await stop(third)
    assert more == []


@pytest.mark.real_time
async def test_a_restarted_source_rereads_its_own_pending_entries(redis_url):
    key = unique()
    ids = await add(redis_url, key, *({"n": i} for i in range(5)))
    source = Stream.from_redis_stream(key, redis_url, group="g", from_start=True, batch_size=5)
    got = []

    def take(entry):
        got.append(entry["id"])
        if len(got) == 2:
            source.stop()

    source.sink(take)
    source.start()
    await source.wait()
    source.start()  # the same (default, unique) consumer name
    await until(lambda: len(got) == 5)
    await stop(source)
    assert got == ids and await pending(redis_url, key, "g") == 0


@pytest.mark.real_time
async def test_failed_entries_stay_pending_and_come_again_after_a_restart(redis_url):
    key = unique()
    ids = await add(redis_url, key, *({"n": i} for i in range(5)))

    def reader():
        return Stream.from_redis_stream(key, redis_url, group="g", consumer="c", from_start=True)

    def fussy(entry):
        if n_of(entry) == 3:
            raise ValueError("cannot handle 3")
        return entry["id"]

    first = reader()
    done = first.map(fussy).sink_to_list()
    errors = first.errors().sink_to_list()
    first.start()
    await until(lambda: len(done) == 4 and len(errors) == 1)
    await settled(redis_url, key, "g", 1)  # the four others were acknowledged
    assert isinstance(errors[0].error, ValueError)
    await stop(first)

    second = reader()
    again = second.sink_to_list()
    second.start()
    await until(lambda: len(again) == 1)
    await stop(second)
    assert again[0]["id"] == ids[3] and n_of(again[0]) == 3
    assert await pending(redis_url, key, "g") == 0


@pytest.mark.real_time
async def test_acks_wait_for_every_branch_even_after_stop(redis_url):
    key = unique()
    await add(redis_url, key, {"n": 1}, {"n": 2})
    source = Stream.from_redis_stream(key, redis_url, group="g", from_start=True)
    held = source.timed_window(3600).sink_to_list()  # holds elements until drained
    got = source.sink_to_list()
    source.start()
    await until(lambda: len(got) == 2)
    await stop(source)
    assert await pending(redis_url, key, "g") == 2  # the window still holds them
    await source.drain()  # the window lets go: acknowledged on a connection of its own
    assert len(held[0]) == 2
    assert await pending(redis_url, key, "g") == 0


@pytest.mark.real_time
async def test_undecodable_entries_are_acknowledged_when_dead_lettered(redis_url):
    key = unique()
    await add(redis_url, key, {"v": b"\xff"}, {"v": b"ok"})
    source = Stream.from_redis_stream(
        key, redis_url, group="g", from_start=True, decode="utf-8", on_error="dead_letter"
    )
    got = source.pluck("fields").sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await until(lambda: got == [{"v": "ok"}] and len(errors) == 1)
    await stop(source)
    assert isinstance(errors[0].error, UnicodeDecodeError)
    assert await pending(redis_url, key, "g") == 0


@pytest.mark.real_time
async def test_a_key_that_is_not_a_stream_is_reported_and_retried(redis_url):
    key = unique()
    async with aioredis.Redis.from_url(redis_url) as client:
        await client.set(key, "a string")
    source = Stream.from_redis_stream(key, redis_url, group="g")
    errors = source.errors().sink_to_list()
    source.start()
    await until(lambda: len(errors) >= 2)
    await stop(source)
    assert isinstance(errors[0].error, redis.exceptions.ResponseError)
    assert "WRONGTYPE" in str(errors[0].error)
    assert any("retrying in" in note for note in errors[0].error.__notes__)


def test_a_plain_script_reads_on_the_background_loop(redis_url):
    key = unique()
    with redis.Redis.from_url(redis_url) as client:
        client.xadd(key, {"n": 1})
    source = Stream.from_redis_stream(key, redis_url, group="g", from_start=True)
    got = source.sink_to_list()
    source.start()
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    source.stop()
    source.wait()  # blocks until done, acknowledgements sent
    assert [e["fields"] for e in got] == [{b"n": b"1"}]
    with redis.Redis.from_url(redis_url) as client:
        assert client.xpending(key, "g")["pending"] == 0


# ------------------------------------------------------------------ unreachable server


@pytest.mark.real_time
async def test_an_unreachable_server_is_reported_retried_and_recovered(tmp_path):
    port = services.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    source = Stream.from_redis_stream("k", url, group="g", from_start=True, block=100)
    got = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await until(lambda: len(errors) >= 2)  # reported, then retried
    error = errors[0].error
    assert isinstance(error, redis.exceptions.ConnectionError)
    assert any(f"cannot reach {url}" in note for note in error.__notes__)
    assert errors[0].node is source
    server = await asyncio.to_thread(services.start_redis, tmp_path, port)
    try:
        await add(url, "k", {"n": 1})
        await until(lambda: len(got) == 1)
        assert await pending(url, "k", "g") == 0
    finally:
        await stop(source)
        server.stop()


# ------------------------------------------------------------------ the documented example


def run_example(text, name, redis_url, prefix):
    """Run the doctest ``text`` against the test server, without its +SKIP marks."""
    text = text.replace("redis://localhost:6379/0", redis_url).replace(prefix, unique(prefix))
    text = text.replace("# doctest: +SKIP", "")
    test = doctest.DocTestParser().get_doctest(text, {}, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, len(test.examples))


def test_the_docstring_example_runs_against_a_server(redis_url):
    text = RedisMethods.from_redis_stream.__doc__
    run_example(text, "from_redis_stream", redis_url, "example-")


def test_the_guide_example_runs_against_a_server(redis_url):
    text = (DOCS / "guide" / "connectors" / "redis.rst").read_text()
    run_example(text, "redis.rst", redis_url, "guide-")


@pytest.mark.real_time
async def test_shutdown_delivers_what_was_read_and_acknowledges_it(redis_url):
    key = unique()
    await add(redis_url, key, {"n": 1}, {"n": 2})
    source = Stream.from_redis_stream(key, redis_url, group="g", from_start=True)
    held = source.timed_window(3600).sink_to_list()  # holds elements until drained
    got = source.sink_to_list()
    source.start()
    await until(lambda: len(got) == 2)
    await source.shutdown(timeout=10)  # one call: stop reading, deliver, acknowledge
    assert source.done and [len(w) for w in held] == [2]
    assert await pending(redis_url, key, "g") == 0
