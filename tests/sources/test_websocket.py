"""Stream.from_websocket (streams/sources/websocket.py), with real websockets clients."""

import asyncio
import socket

import pytest
from helpers import OpenGate, stop, until
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streams import ErrorRecord, Stream
from streams.sources.websocket import FromWebsocket
from streams.testing import check_source


def uri(source):
    return f"ws://127.0.0.1:{source.port}"


# ------------------------------------------------------------------ conformance


@pytest.mark.real_time
async def test_conformance():
    made, clients = [], []

    def make():
        made.append(Stream.from_websocket("127.0.0.1", 0))
        return made[-1]

    async def produce(items):
        try:
            client = await connect(uri(made[-1]))
        except OSError:
            assert made[-1].stopped
            return
        clients.append(client)
        for item in items:
            await client.send(item)

    try:
        items = [f"message {i}" for i in range(7)]
        await check_source(make, produce, items, produce_before_start=False)
    finally:
        for client in clients:
            await client.close()


# ------------------------------------------------------------------ behaviour


def test_builds_an_unstarted_source():
    source = Stream.from_websocket("127.0.0.1", 8765)
    assert isinstance(source, FromWebsocket)
    assert (source.host, source.port) == ("127.0.0.1", 8765)
    assert source._describe() == "from_websocket<127.0.0.1:8765>"
    assert not source.started


@pytest.mark.real_time
async def test_text_and_binary_messages_come_as_str_and_bytes():
    source = Stream.from_websocket("127.0.0.1", 0, start=True)
    out = source.sink_to_list()
    async with connect(uri(source)) as client:
        await client.send("text")
        await client.send(b"\x00binary")
    await until(lambda: len(out) == 2)
    assert out == ["text", b"\x00binary"]
    await stop(source)


@pytest.mark.real_time
async def test_undecodable_messages_are_rejected_with_their_position():
    source = Stream.from_websocket("127.0.0.1", 0, decode="json", start=True)
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    async with connect(uri(source)) as client:
        peer = f"127.0.0.1:{client.local_address[1]}"
        await client.send('{"a": 1}')
        await client.send("{broken")
        await client.send(b"[2]")
        await until(lambda: len(out) == 2 and len(errors) == 1)
    assert out == [{"a": 1}, [2]]
    record = errors[0]
    assert isinstance(record, ErrorRecord) and record.node is source
    assert record.element == "{broken"
    assert f"at websocket {peer}, message 2" in record.error.__notes__
    await stop(source)


@pytest.mark.real_time
async def test_several_clients_keep_their_own_order():
    source = Stream.from_websocket("127.0.0.1", 0, start=True)
    out = source.sink_to_list()

    async def client(name):
        async with connect(uri(source)) as ws:
            for i in range(10):
                await ws.send(f"{name}{i}")

    await asyncio.gather(*(client(name) for name in "abc"))
    await until(lambda: len(out) == 30)
    for name in "abc":
        assert [x for x in out if x[0] == name] == [f"{name}{i}" for i in range(10)]
    await stop(source)


@pytest.mark.real_time
async def test_one_element_at_a_time_across_connections():
    source = Stream.from_websocket("127.0.0.1", 0, start=True)
    gate = OpenGate()
    source.sink(gate)
    async with connect(uri(source)) as first, connect(uri(source)) as second:
        await first.send("first")
        await until(lambda: gate.started == ["first"])
        await second.send("second")
        await asyncio.sleep(0.2)  # watch for an element that must not come
        assert gate.started == ["first"]
        gate.open.set()
        await until(lambda: gate.finished == ["first", "second"])
    await stop(source)


@pytest.mark.real_time
async def test_stop_closes_the_connections_going_away():
    source = Stream.from_websocket("127.0.0.1", 0, start=True)
    out = source.sink_to_list()
    async with connect(uri(source)) as client:
        await client.send("before")
        await until(lambda: out == ["before"])
        await stop(source)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(client.recv(), 10)
        assert closed.value.rcvd.code == 1001
    with pytest.raises(ConnectionRefusedError):
        await connect(uri(source))


@pytest.mark.real_time
async def test_serve_kwargs_reach_websockets():
    source = Stream.from_websocket("127.0.0.1", 0, serve_kwargs={"max_size": 8}, start=True)
    out = source.sink_to_list()
    async with connect(uri(source)) as client:
        await client.send("short")
        await client.send("much too long")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(client.recv(), 10)
        assert closed.value.rcvd.code == 1009  # message too big
    assert out == ["short"]
    await stop(source)


@pytest.mark.real_time
async def test_binds_the_given_host_only():
    source = Stream.from_websocket("127.0.0.1", 0, start=True)
    assert source.addresses == [("127.0.0.1", source.port)]
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.2", source.port))
    await stop(source)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("127.0.0.1", 65536), {}, ValueError, "from_websocket: port must be from 0"),
        ((8765, 0), {}, TypeError, "from_websocket: host must be"),
        (("127.0.0.1", 0), {"serve_kwargs": {"port": 1}}, TypeError, "cannot set"),
        (("127.0.0.1", 0), {"serve_kwargs": "x"}, TypeError, "serve_kwargs must be a dict"),
        (("127.0.0.1", 0), {"decode": "nonsense"}, ValueError, "decode must be"),
        (
            ("127.0.0.1", 0),
            {"max_message_size": 10, "serve_kwargs": {"max_size": 10}},
            TypeError,
            "give max_message_size or serve_kwargs max_size, not both",
        ),
        (("127.0.0.1", 0), {"max_message_size": 0}, ValueError, "max_message_size must be"),
        (("127.0.0.1", 0), {"idle_timeout": -2}, ValueError, "from_websocket: idle_timeout"),
        (("127.0.0.1", 0), {"max_connections": "9"}, TypeError, "max_connections must be"),
    ],
)
def test_bad_arguments_fail_at_build_time(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        Stream.from_websocket(*args, **kwargs)


# ------------------------------------------------------------------ limits


@pytest.mark.real_time
async def test_server_is_none_until_listening_and_after_stop():
    from websockets.asyncio.server import Server

    source = Stream.from_websocket("127.0.0.1", 0)
    assert source.server is None
    source.start()
    await until(lambda: source.server is not None)
    assert isinstance(source.server, Server)
    await stop(source)
    assert source.server is None


@pytest.mark.real_time
async def test_an_over_long_message_closes_the_connection_and_is_rejected():
    source = Stream.from_websocket("127.0.0.1", 0, max_message_size=8, start=True)
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    async with connect(uri(source)) as client:
        peer = f"127.0.0.1:{client.local_address[1]}"
        await client.send("short")
        await client.send("much too long")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(client.recv(), 10)
        assert closed.value.rcvd.code == 1009
    await until(lambda: len(errors) == 1)
    assert out == ["short"]
    assert "max_message_size (8 bytes)" in str(errors[0].error)
    assert f"at websocket {peer}, message 2" in errors[0].error.__notes__
    await stop(source)


@pytest.mark.real_time
async def test_clients_beyond_max_connections_are_refused_503_at_the_handshake():
    source = Stream.from_websocket("127.0.0.1", 0, max_connections=1, start=True)
    out = source.sink_to_list()
    async with connect(uri(source)) as first:
        with pytest.raises(InvalidStatus) as refused:
            await connect(uri(source))
        response = refused.value.response
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert b"max_connections" in response.body
        await first.send("still served")
        await until(lambda: out == ["still served"])
    await until(lambda: not source._open)
    async with connect(uri(source)) as again:
        await again.send("room again")
        await until(lambda: out == ["still served", "room again"])
    await stop(source)


@pytest.mark.real_time
async def test_a_full_buffer_refuses_new_clients_and_takes_no_more_messages():
    source = Stream.from_websocket(
        "127.0.0.1",
        0,
        serve_kwargs={"compression": None},  # max_size counts the bytes on the wire
        max_message_size=10,
        max_buffer_bytes=10,
        start=True,
    )
    gate = OpenGate()
    source.sink(gate)
    async with connect(uri(source)) as first, connect(uri(source)) as second:
        await first.send("0123456789")
        await until(lambda: gate.started == ["0123456789"])  # holds the whole buffer
        await second.send("waits")  # taken: second was waiting for it, the buffer empty
        await until(lambda: source._budget.used == 15)
        await second.send("more")  # not taken until there is room
        with pytest.raises(InvalidStatus) as refused:
            await connect(uri(source))
        assert refused.value.response.status_code == 503
        gate.open.set()
        await until(lambda: gate.finished == ["0123456789", "waits", "more"])
    await stop(source)


@pytest.mark.real_time
async def test_idle_clients_are_closed_and_good_ones_served():
    source = Stream.from_websocket("127.0.0.1", 0, idle_timeout=0.2, start=True)
    out = source.sink_to_list()
    async with connect(uri(source)) as idle, connect(uri(source)) as good:
        for i in range(30):  # a message every 10 ms: never idle
            await good.send(f"good {i}")
            await asyncio.sleep(0.01)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(idle.recv(), 10)
        assert closed.value.rcvd.code == 1001 and closed.value.rcvd.reason == "idle for 0.2s"
    await until(lambda: len(out) == 30)
    assert out == [f"good {i}" for i in range(30)]
    await stop(source)
