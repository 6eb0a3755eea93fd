"""Stream.to_redis_stream (streams/sinks/redis.py), against a real redis-server."""

import asyncio
import doctest
import uuid

import pytest
import redis
import redis.asyncio as aioredis
import services

from streams import ErrorRecord, Stream
from streams.methods.redis import RedisMethods
from streams.sinks.redis import ToRedisStream
from streams.testing import check_sink


def unique(prefix="sink"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def entries(url, key):
    """The fields of every entry of ``key``, decoded."""
    async with aioredis.Redis.from_url(url, decode_responses=True) as client:
        return [fields for _, fields in await client.xrange(key)]


# ------------------------------------------------------------------ conformance


@pytest.mark.real_time
async def test_conformance(redis_url):
    key = unique()
    made = []

    def make(source):
        made.append(source.to_redis_stream(key, redis_url))
        return made[-1]

    items = [{"n": "1"}, {"n": "2", "m": "x"}, {"n": "3"}, {"n": "4"}]
    await check_sink(make, lambda: entries(redis_url, key), items)
    await made[0].drain()  # its connection closes in a task


# ------------------------------------------------------------------ building


def test_builds_a_sink_with_a_label():
    source = Stream()
    sink = source.to_redis_stream("events", maxlen=10)
    assert isinstance(sink, ToRedisStream)
    assert sink._describe() == "to_redis_stream<events>"
    assert (sink.key, sink.redis_url) == ("events", "redis://localhost:6379/0")
    assert (sink.maxlen, sink.approximate) == (10, True)
    sink.destroy()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"key": ""}, TypeError, "key"),
        ({"key": 1}, TypeError, "key"),
        ({"redis_url": "tcp://x"}, ValueError, "redis_url"),
        ({"maxlen": 0}, ValueError, "maxlen"),
        ({"maxlen": "5"}, TypeError, "maxlen"),
    ],
)
def test_bad_arguments_fail_at_build_time_naming_the_node(kwargs, error, match):
    kwargs = {"key": "events", **kwargs}
    with pytest.raises(error, match=match) as info:
        Stream().to_redis_stream(**kwargs)
    assert "to_redis_stream" in str(info.value)


# ------------------------------------------------------------------ writing


@pytest.mark.real_time
async def test_writes_in_order_and_emits_nothing(redis_url):
    key = unique()
    source = Stream()
    sink = source.to_redis_stream(key, redis_url)
    after = sink.sink_to_list()
    for i in range(50):
        source.emit({"i": i, "f": 0.5, "b": b"\x00"})  # not awaited: still in order
    await source.drain()
    got = await entries(redis_url, key)
    assert [int(e["i"]) for e in got] == list(range(50))
    assert got[0] == {"i": "0", "f": "0.5", "b": "\x00"}
    assert after == []
    sink.destroy()
    await source.drain()


@pytest.mark.real_time
async def test_maxlen_trims_the_stream(redis_url):
    key = unique()
    source = Stream()
    exact = source.to_redis_stream(key, redis_url, maxlen=5, approximate=False)
    for i in range(20):
        await source.emit({"i": i})
    assert [e["i"] for e in await entries(redis_url, key)] == ["15", "16", "17", "18", "19"]
    exact.destroy()
    await source.drain()


@pytest.mark.real_time
async def test_an_element_that_is_not_a_dict_is_a_type_error(redis_url):
    key = unique()
    source = Stream()
    sink = source.to_redis_stream(key, redis_url)
    with pytest.raises(TypeError, match="expected a dict of fields, got str") as info:
        await source.emit("oops")
    assert any("to_redis_stream<" in note for note in info.value.__notes__)
    await source.emit({"ok": 1})
    assert await entries(redis_url, key) == [{"ok": "1"}]
    sink.destroy()
    await source.drain()


@pytest.mark.real_time
async def test_write_errors_follow_the_error_policy(redis_url):
    key = unique()
    source = Stream()
    sink = source.to_redis_stream(key, redis_url, on_error="dead_letter")
    errors = source.errors().sink_to_list()
    await source.emit(["not", "a", "dict"])
    await source.emit({"nested": {"no": "way"}})  # Redis cannot store a dict value
    await source.emit({"fine": "yes"})
    assert [type(e.error) for e in errors] == [TypeError, redis.exceptions.DataError]
    assert all(isinstance(e, ErrorRecord) and e.node is sink for e in errors)
    assert await entries(redis_url, key) == [{"fine": "yes"}]
    sink.destroy()
    await source.drain()


@pytest.mark.real_time
async def test_an_unreachable_server_fails_the_element_then_recovers(tmp_path):
    port = services.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    source = Stream()
    sink = source.to_redis_stream("k", url)
    with pytest.raises(redis.exceptions.ConnectionError) as info:
        await source.emit({"n": 1})
    assert f"cannot write to {url}" in info.value.__notes__
    server = await asyncio.to_thread(services.start_redis, tmp_path, port)
    try:
        await source.emit({"n": 2})  # the next element reconnects
        assert await entries(url, "k") == [{"n": "2"}]
    finally:
        sink.destroy()
        await source.drain()
        server.stop()


def test_a_plain_script_writes_and_closes(redis_url):
    key = unique()
    source = Stream()
    sink = source.to_redis_stream(key, redis_url)
    source.emit({"a": 1})  # blocks until stored (on the background loop)
    sink.destroy()  # blocks until the connection is closed
    with redis.Redis.from_url(redis_url) as client:
        assert client.xlen(key) == 1


# ------------------------------------------------------------------ the documented example


def test_the_docstring_example_runs_against_a_server(redis_url):
    text = RedisMethods.to_redis_stream.__doc__
    key = unique("example")
    text = text.replace("redis://localhost:6379/0", redis_url).replace("example-numbers", key)
    text = text.replace("# doctest: +SKIP", "")
    test = doctest.DocTestParser().get_doctest(text, {}, "to_redis_stream", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, len(test.examples))
    with redis.Redis.from_url(redis_url) as client:
        assert client.xlen(key) == 3
