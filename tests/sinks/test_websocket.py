"""Stream.to_websocket (streams/sinks/websocket.py), against real websockets servers."""

import asyncio
import socket

import pytest
from helpers import until
from websockets.asyncio.server import serve

from streams import ErrorRecord, Stream, retry
from streams.sinks.websocket import ToWebsocket
from streams.testing import check_sink


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A plain websockets server on loopback recording what it receives."""

    def __init__(self, port=0):
        self.port, self.received, self.closed_codes, self.server = port, [], [], None

    async def handler(self, connection):
        async for message in connection:
            self.received.append(message)
        self.closed_codes.append(connection.close_code)

    async def __aenter__(self):
        self.server = await serve(self.handler, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()

    @property
    def uri(self):
        return f"ws://127.0.0.1:{self.port}"


# ------------------------------------------------------------------ conformance


@pytest.mark.real_time
async def test_conformance():
    async with Receiver() as receiver:
        reads = 0

        async def read_back():
            # A websocket has no acknowledgement: a message sent (handed to the socket)
            # reaches the server's handler a few loop turns later.
            nonlocal reads
            reads += 1
            await until(lambda: len(receiver.received) >= min(reads, len(items)))
            return list(receiver.received)

        items = ["text", b"bytes", "more text", b"\x00\xff"]
        await check_sink(lambda s: s.to_websocket(receiver.uri), read_back, items)
        await until(lambda: receiver.closed_codes == [1000])  # destroy() closed it


# ------------------------------------------------------------------ behaviour


def test_builds_a_sink():
    source = Stream()
    sink = source.to_websocket("ws://127.0.0.1:8765/feed")
    assert isinstance(sink, ToWebsocket)
    assert sink._describe() == "to_websocket<ws://127.0.0.1:8765/feed>"
    assert not sink.connected  # the connection opens with the first element
    sink.destroy()


@pytest.mark.real_time
async def test_roundtrip_to_websocket_then_from_websocket():
    server = Stream.from_websocket("127.0.0.1", 0, decode="json", start=True)
    received = server.sink_to_list()
    source = Stream()
    sink = source.map(lambda x: x.encode() if x.startswith("[") else x).to_websocket(
        f"ws://127.0.0.1:{server.port}"
    )
    for text in ['{"n": 1}', "[2, 3]", '"four"']:
        await source.emit(text)
    await until(lambda: len(received) == 3)
    assert received == [{"n": 1}, [2, 3], "four"]
    sink.destroy()
    await source.drain()
    server.stop()
    await server.wait()


@pytest.mark.real_time
async def test_unreachable_server_errors_then_recovers_with_backoff():
    port = free_port()
    source = Stream()
    sink = source.to_websocket(f"ws://127.0.0.1:{port}", on_error="dead_letter")
    errors = source.errors().sink_to_list()
    await source.emit("lost 1")
    await source.emit("lost 2")  # waits for the backoff before trying again
    assert [e.element for e in errors] == ["lost 1", "lost 2"]
    assert all(isinstance(e, ErrorRecord) and e.node is sink for e in errors)
    notes = [" ".join(e.error.__notes__) for e in errors]
    assert f"cannot connect to ws://127.0.0.1:{port}; next attempt in 0.1s" in notes[0]
    assert "next attempt in 0.2s" in notes[1]
    async with Receiver(port) as receiver:
        await source.emit("delivered")
        await until(lambda: receiver.received == ["delivered"])
        assert sink.connected
        sink.destroy()
        await source.drain()


@pytest.mark.real_time
async def test_by_default_a_failed_element_raises_to_its_emitter():
    source = Stream()
    source.to_websocket(f"ws://127.0.0.1:{free_port()}", backoff=0.01)
    with pytest.raises(ConnectionRefusedError) as caught:
        await source.emit("x")
    assert any(n.startswith("in to_websocket<ws://127.0.0.1:") for n in caught.value.__notes__)


@pytest.mark.real_time
async def test_retry_policy_waits_for_the_server():
    port = free_port()
    source = Stream()
    sink = source.to_websocket(
        f"ws://127.0.0.1:{port}", on_error=retry(20, backoff=0.05), backoff=0.01, max_backoff=0.05
    )
    async with Receiver(port) as receiver:
        sending = asyncio.ensure_future(source.emit("eventually"))
        await until(lambda: receiver.received == ["eventually"])
        await sending
        sink.destroy()
        await source.drain()


@pytest.mark.real_time
async def test_a_lost_connection_is_reopened_and_the_element_sent_again():
    port = free_port()
    source = Stream()
    sink = source.to_websocket(f"ws://127.0.0.1:{port}")
    async with Receiver(port) as first:
        await source.emit("one")
        await until(lambda: first.received == ["one"])
    async with Receiver(port) as second:  # the server restarted: the old connection is gone
        await source.emit("two")
        await until(lambda: second.received == ["two"])
        sink.destroy()
        await source.drain()


@pytest.mark.real_time
async def test_elements_must_be_str_or_bytes():
    source = Stream()
    sink = source.to_websocket("ws://127.0.0.1:9", on_error="dead_letter")
    errors = source.errors().sink_to_list()
    await source.emit({"not": "encoded"})
    assert isinstance(errors[0].error, TypeError)
    assert "to_websocket sends str or bytes, got dict" in str(errors[0].error)
    assert not sink.connected


def test_a_plain_script_sends_and_closes_blocking():
    server = Stream.from_websocket("127.0.0.1", 0)
    received = server.sink_to_list()
    server.start()
    source = Stream()
    sink = source.to_websocket(f"ws://127.0.0.1:{server.port}")
    source.emit("from a script")  # returns once sent
    assert sink.connected
    sink.destroy()  # blocks until the connection is closed
    assert not sink.connected
    asyncio.run(until(lambda: received == ["from a script"]))
    server.stop()
    server.wait()


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("http://x",), {}, ValueError, "to_websocket: uri must be a ws:// or wss:// URI"),
        ((5,), {}, TypeError, "to_websocket: uri must be a string"),
        (("ws://x", [("a", 1)]), {}, TypeError, "connect_kwargs must be a dict"),
        (("ws://x", {"uri": "ws://y"}), {}, TypeError, "its own argument"),
        (("ws://x",), {"backoff": 0}, ValueError, "backoff must be a positive number"),
        (("ws://x",), {"max_backoff": -1}, ValueError, "max_backoff must be a positive"),
    ],
)
def test_bad_arguments_fail_at_build_time(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        Stream().to_websocket(*args, **kwargs)
