"""Stream.from_http_server (streams/sources/http.py), with real HTTP clients on loopback."""

import asyncio
import http.client
import re
import socket

import pytest
from helpers import OpenGate, stop, until

from streams import ErrorRecord, Stream
from streams.sources.http import FromHTTPServer
from streams.testing import check_source


def post(port, body, path="/", method="POST", headers=None, connection=None):
    """Send one request with http.client (blocking); return ``(status, body)``."""
    client = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        client.request(method, path, body=body, headers=headers or {})
        response = client.getresponse()
        return response.status, response.read()
    finally:
        if connection is None:
            client.close()


async def post_async(*args, **kwargs):
    return await asyncio.to_thread(post, *args, **kwargs)


def fail(x):
    raise RuntimeError("consumer down")


# ------------------------------------------------------------------ conformance


class Pipeline:
    """Raw HTTP/1.1 clients that pipeline POSTs on one connection each (the server
    reads a connection's next request only after answering the previous one), and
    collect the status codes of the answers."""

    def __init__(self):
        self.statuses, self.readers, self.writers = [], [], []

    async def post_all(self, port, bodies):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for body in bodies:
            head = f"POST /in HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body)}\r\n\r\n"
            writer.write(head.encode() + body)
        await writer.drain()
        self.writers.append(writer)
        self.readers.append(asyncio.ensure_future(self.answers(reader, len(bodies))))

    async def answers(self, reader, n):
        for _ in range(n):
            head = await reader.readuntil(b"\r\n\r\n")
            self.statuses.append(int(head.split()[1]))
            length = re.search(rb"Content-Length: (\d+)", head, re.IGNORECASE)
            await reader.readexactly(int(length.group(1)))

    async def close(self):
        await asyncio.wait_for(asyncio.gather(*self.readers), 10)
        for writer in self.writers:
            writer.close()
            await writer.wait_closed()


@pytest.mark.real_time
async def test_conformance():
    made, clients = [], Pipeline()

    def make():
        made.append(Stream.from_http_server(0))
        return made[-1]

    async def produce(items):
        try:
            await clients.post_all(made[-1].port, items)
        except ConnectionRefusedError:
            assert made[-1].stopped

    items = [f"body {i}".encode() for i in range(7)]
    await check_source(make, produce, items, produce_before_start=False)
    await clients.close()
    assert clients.statuses == [200] * 4


# ------------------------------------------------------------------ behaviour


def test_builds_an_unstarted_source_on_loopback():
    source = Stream.from_http_server(8000)
    assert isinstance(source, FromHTTPServer)
    assert (source.host, source.port, source.path) == ("127.0.0.1", 8000, "/.*")
    assert source.max_body_size == 1_048_576
    assert source._describe() == "from_http_server<127.0.0.1:8000, /.*>"
    assert not source.started


@pytest.mark.real_time
async def test_posts_to_a_matching_path_are_emitted_and_answered_200():
    source = Stream.from_http_server(0, path="/data/.*", start=True)
    out = source.sink_to_list()
    assert await post_async(source.port, b"one", "/data/a?x=1") == (200, b"")
    assert await post_async(source.port, b"", "/data/b") == (200, b"")
    status, text = await post_async(source.port, b"two", "/other")
    assert status == 404 and b"no stream listens at /other" in text
    status, text = await post_async(source.port, None, "/data/a", method="GET")
    assert status == 405
    assert out == [b"one", b""]
    await stop(source)


@pytest.mark.real_time
async def test_the_answer_waits_until_the_element_was_accepted():
    from tornado.httpclient import AsyncHTTPClient

    source = Stream.from_http_server(0, start=True)
    gate = OpenGate()
    source.sink(gate)
    client = AsyncHTTPClient(force_instance=True)
    try:
        url = f"http://127.0.0.1:{source.port}/"
        fetch = asyncio.ensure_future(client.fetch(url, method="POST", body=b"slow"))
        await until(lambda: gate.started == [b"slow"])
        await asyncio.sleep(0.2)  # watch for an answer that must not come yet
        assert not fetch.done()
        gate.open.set()
        response = await asyncio.wait_for(fetch, 10)
        assert response.code == 200 and gate.finished == [b"slow"]
    finally:
        client.close()
    await stop(source)


@pytest.mark.real_time
async def test_oversized_bodies_are_refused_with_413_and_not_emitted():
    source = Stream.from_http_server(0, max_body_size=100, start=True)
    out = source.sink_to_list()
    assert (await post_async(source.port, b"x" * 100))[0] == 200
    status, text = await post_async(source.port, b"y" * 101)
    assert status == 413 and b"at most 100" in text
    assert (await post_async(source.port, b"z" * 3_000_000))[0] == 413  # more than fits a socket
    assert (await post_async(source.port, b"ok"))[0] == 200
    assert out == [b"x" * 100, b"ok"]
    await stop(source)


@pytest.mark.real_time
async def test_an_oversized_chunked_body_is_refused_too():
    source = Stream.from_http_server(0, max_body_size=100, start=True)
    out = source.sink_to_list()

    def chunked():
        client = http.client.HTTPConnection("127.0.0.1", source.port, timeout=10)
        try:
            client.request("POST", "/", body=iter([b"a" * 80, b"b" * 80]), encode_chunked=True)
            return client.getresponse().status
        finally:
            client.close()

    assert await asyncio.to_thread(chunked) == 400  # tornado's answer to a chunked overflow
    assert out == []
    await stop(source)


@pytest.mark.real_time
async def test_bad_json_is_answered_400_and_rejected_with_its_position():
    source = Stream.from_http_server(0, path="/ingest", decode="json", start=True)
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    client = http.client.HTTPConnection("127.0.0.1", source.port, timeout=10)
    client.connect()
    peer = f"127.0.0.1:{client.sock.getsockname()[1]}"
    assert (await post_async(source.port, b'{"a": 1}', "/ingest", connection=client))[0] == 200
    status, text = await post_async(source.port, b"{oops", "/ingest", connection=client)
    assert status == 400 and b"cannot decode the body" in text
    assert (await post_async(source.port, b"[2]", "/ingest", connection=client))[0] == 200
    client.close()
    assert out == [{"a": 1}, [2]]
    assert len(errors) == 1
    record = errors[0]
    assert isinstance(record, ErrorRecord) and record.node is source and record.element == b"{oops"
    assert f"at http POST /ingest from {peer}" in record.error.__notes__
    await stop(source)


@pytest.mark.real_time
async def test_a_failure_downstream_is_answered_500_and_reaches_the_error_channel():
    source = Stream.from_http_server(0, start=True)
    source.map(bytes.decode).sink(fail)
    errors = source.errors().sink_to_list()
    status, text = await post_async(source.port, b"payload", "/x")
    assert status == 500 and b"failed downstream" in text
    assert [str(e.error) for e in errors] == ["consumer down"]
    assert errors[0].element == "payload"
    assert any(n.startswith("at http POST /x from 127.0.0.1:") for n in errors[0].error.__notes__)
    await stop(source)


@pytest.mark.real_time
async def test_several_clients_at_once():
    source = Stream.from_http_server(0, decode="ascii", start=True)
    out = source.sink_to_list()
    bodies = [f"client {i}".encode() for i in range(8)]
    results = await asyncio.gather(*(post_async(source.port, b) for b in bodies))
    assert [status for status, _ in results] == [200] * 8
    assert sorted(out) == sorted(b.decode() for b in bodies)
    await stop(source)


@pytest.mark.real_time
async def test_stop_answers_the_request_in_hand_and_503_to_the_waiting_ones():
    source = Stream.from_http_server(0, start=True)
    gate = OpenGate()
    source.sink(gate)
    first = asyncio.ensure_future(post_async(source.port, b"first"))
    await until(lambda: gate.started == [b"first"])
    second = asyncio.ensure_future(post_async(source.port, b"second"))
    await until(lambda: len(source._tasks) == 2)  # the second request waits for its turn
    source.stop()
    gate.open.set()
    await asyncio.wait_for(source.wait(), 10)
    assert (await first)[0] == 200
    assert (await second)[0] == 503
    assert gate.finished == [b"first"]
    with pytest.raises(ConnectionRefusedError):
        await post_async(source.port, b"late")


@pytest.mark.real_time
async def test_binds_to_loopback_by_default():
    source = Stream.from_http_server(0, start=True)
    assert source.addresses == [("127.0.0.1", source.port)]
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.2", source.port))  # not listening on every interface
    await stop(source)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"port": -5}, ValueError, "from_http_server: port must be from 0 to 65535"),
        ({"port": 0, "path": "(unclosed"}, ValueError, "is not a regular expression"),
        ({"port": 0, "path": 5}, TypeError, "path must be a regular expression string"),
        ({"port": 0, "max_body_size": 0}, ValueError, "max_body_size must be a positive"),
        ({"port": 0, "server_kwargs": {"max_body_size": 5}}, TypeError, "its own argument"),
        ({"port": 0, "server_kwargs": {"bogus": 1}}, TypeError, r"unknown options \['bogus'\]"),
        ({"port": 0, "decode": 3}, TypeError, "from_http_server: decode must be"),
        ({"port": 0, "max_connections": -1}, ValueError, "from_http_server: max_connections"),
        (
            {"port": 0, "max_body_size": 100, "max_buffer_bytes": 50},
            ValueError,
            r"max_buffer_bytes \(50\) must hold at least one message of max_body_size",
        ),
        ({"port": 0, "idle_timeout": float("inf")}, ValueError, "idle_timeout must be positive"),
    ],
)
def test_bad_arguments_fail_at_build_time(kwargs, error, match):
    with pytest.raises(error, match=match):
        Stream.from_http_server(**kwargs)


# ------------------------------------------------------------------ limits


def post_full(port, body, connection=None):
    """POST ``body``; return ``(status, headers, body)``."""
    client = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        client.request("POST", "/", body=body)
        response = client.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        if connection is None:
            client.close()


@pytest.mark.real_time
async def test_server_is_none_until_listening_and_after_stop():
    from tornado.httpserver import HTTPServer

    source = Stream.from_http_server(0)
    assert source.server is None
    source.start()
    await until(lambda: source.server is not None)
    assert isinstance(source.server, HTTPServer)
    await stop(source)
    assert source.server is None


@pytest.mark.real_time
async def test_bodies_over_the_buffer_are_refused_503_from_their_headers():
    source = Stream.from_http_server(0, max_body_size=100, max_buffer_bytes=150, start=True)
    gate = OpenGate()
    source.sink(gate)
    first = asyncio.ensure_future(post_async(source.port, b"a" * 100))
    await until(lambda: gate.started == [b"a" * 100])  # 100 of 150 bytes held
    status, headers, text = await asyncio.to_thread(post_full, source.port, b"b" * 60)
    assert status == 503 and headers["Retry-After"] == "1"
    assert b"100 bytes of bodies held (max_buffer_bytes)" in text
    assert (await post_async(source.port, b"c" * 100))[0] == 503  # under max_body_size, too
    small = asyncio.ensure_future(post_async(source.port, b"d" * 50))  # fits: waits its turn
    await until(lambda: source._budget.used == 150)
    gate.open.set()
    assert (await first)[0] == 200 and (await small)[0] == 200
    assert gate.finished == [b"a" * 100, b"d" * 50]
    assert source._budget.used == 0
    assert (await post_async(source.port, b"e" * 100))[0] == 200  # room again
    await stop(source)


@pytest.mark.real_time
async def test_connections_beyond_max_connections_are_answered_503():
    source = Stream.from_http_server(0, max_connections=1, start=True)
    out = source.sink_to_list()
    first = http.client.HTTPConnection("127.0.0.1", source.port, timeout=10)
    assert (await post_async(source.port, b"one", connection=first))[0] == 200  # kept alive
    status, headers, text = await asyncio.to_thread(post_full, source.port, b"two")
    assert status == 503 and headers["Retry-After"] == "1"
    assert b"1 connections open (max_connections)" in text
    assert (await post_async(source.port, b"three", connection=first))[0] == 200
    first.close()
    await until(lambda: not source._open)
    assert (await post_async(source.port, b"four"))[0] == 200
    assert out == [b"one", b"three", b"four"]
    await stop(source)


@pytest.mark.real_time
async def test_idle_connections_are_closed():
    source = Stream.from_http_server(0, idle_timeout=0.2, start=True)
    reader, writer = await asyncio.open_connection("127.0.0.1", source.port)
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
    writer.close()
    await writer.wait_closed()
    assert source.server.conn_params.header_timeout == 0.2
    assert source.server.conn_params.body_timeout == 0.2
    await stop(source)


@pytest.mark.real_time
async def test_a_good_client_is_served_while_others_crowd_the_server():
    source = Stream.from_http_server(
        0, max_body_size=1000, max_buffer_bytes=2000, max_connections=4, start=True
    )
    gate = OpenGate()
    source.sink(gate)
    good = http.client.HTTPConnection("127.0.0.1", source.port, timeout=10)
    good.connect()  # the good client holds one of the 4 connections
    crowd = [asyncio.ensure_future(post_async(source.port, b"c" * 1000)) for _ in range(2)]
    await until(lambda: source._budget.used == 2000)  # two big bodies hold all the room
    idle = [socket.create_connection(("127.0.0.1", source.port)) for _ in range(2)]
    await until(lambda: len(source._open) == 4)
    statuses = [(await post_async(source.port, b"x" * 10))[0] for _ in range(3)]
    assert statuses == [503] * 3  # too many connections; and no room for bodies
    gate.open.set()
    await until(lambda: len(gate.finished) == 2)
    for i in range(5):
        assert (await post_async(source.port, f"good {i}".encode(), connection=good))[0] == 200
    assert gate.finished[2:] == [f"good {i}".encode() for i in range(5)]
    assert [(await c)[0] for c in crowd] == [200, 200]
    for sock in idle:
        sock.close()
    good.close()
    await stop(source)
