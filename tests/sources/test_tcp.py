"""Stream.from_tcp (streams/sources/tcp.py), with real asyncio clients on loopback."""

import asyncio
import socket
import subprocess
import sys

import pytest
from helpers import OpenGate, stop, until

from streams import ErrorRecord, Stream
from streams.sources.tcp import FromTCP, ServerSource
from streams.testing import check_source


async def send(port, *chunks, close=True):
    """Connect to ``port`` on loopback and write ``chunks`` one after another."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
    if close:
        writer.close()
        await writer.wait_closed()
    return reader, writer


# ------------------------------------------------------------------ conformance


@pytest.mark.real_time
async def test_conformance():
    made = []

    def make():
        made.append(Stream.from_tcp(0))
        return made[-1]

    async def produce(items):
        try:
            await send(made[-1].port, b"".join(items))
        except ConnectionRefusedError:
            assert made[-1].stopped  # after stop() nothing listens any more

    await check_source(
        make, produce, [f"item {i}\n".encode() for i in range(7)], produce_before_start=False
    )


# ------------------------------------------------------------------ behaviour


def test_builds_an_unstarted_source_on_loopback():
    source = Stream.from_tcp(9000)
    assert isinstance(source, FromTCP) and isinstance(source, ServerSource)
    assert (source.port, source.host, source.delimiter) == (9000, "127.0.0.1", b"\n")
    assert source._describe() == "from_tcp<127.0.0.1:9000>"
    assert not source.started and source.stopped
    assert Stream.from_tcp(9000, host="::1")._describe() == "from_tcp<[::1]:9000>"
    assert Stream.from_tcp(9000, host=None)._describe() == "from_tcp<*:9000>"


@pytest.mark.real_time
async def test_messages_split_and_joined_across_writes():
    source = Stream.from_tcp(0)
    out = source.sink_to_list()
    source.start()
    await send(source.port, b"hel", b"lo\nwor", b"ld\n\nlast")
    await until(lambda: len(out) == 4)
    assert out == [b"hello\n", b"world\n", b"\n", b"last"]  # the last one ended by closing
    await stop(source)


@pytest.mark.real_time
async def test_custom_delimiter_and_decode_strip_the_delimiter():
    source = Stream.from_tcp(0, delimiter=b"\r\n", decode="utf-8")
    out = source.sink_to_list()
    source.start()
    await send(source.port, "caf\u00e9\r\nline\nwith newline\r".encode(), b"\nend")
    await until(lambda: len(out) == 3)
    assert out == ["caf\u00e9", "line\nwith newline", "end"]
    await stop(source)


@pytest.mark.real_time
async def test_str_delimiter_and_callable_decode():
    source = Stream.from_tcp(0, delimiter="|", decode=lambda b: int(b))
    out = source.sink_to_list()
    source.start()
    await send(source.port, b"1|22|333|")
    await until(lambda: len(out) == 3)
    assert out == [1, 22, 333]
    await stop(source)


@pytest.mark.real_time
async def test_undecodable_message_is_rejected_with_its_position_and_the_source_goes_on():
    source = Stream.from_tcp(0, decode="json")
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    _, writer = await send(source.port, b'{"a": 1}\nnot json\n[2]\n', close=False)
    await until(lambda: len(out) == 2 and len(errors) == 1)
    assert out == [{"a": 1}, [2]]
    record = errors[0]
    assert isinstance(record, ErrorRecord) and record.node is source
    assert record.element == b"not json\n"
    peer = f"127.0.0.1:{writer.get_extra_info('sockname')[1]}"
    assert f"at tcp {peer}, message 2" in record.error.__notes__
    writer.close()
    await writer.wait_closed()
    await stop(source)


@pytest.mark.real_time
async def test_several_clients_keep_their_own_order():
    source = Stream.from_tcp(0, decode="ascii")
    out = source.sink_to_list()
    source.start()
    lines = {c: [f"{c}{i}\n".encode() for i in range(20)] for c in "abc"}
    await asyncio.gather(*(send(source.port, *chunks) for chunks in lines.values()))
    await until(lambda: len(out) == 60)
    for c in "abc":
        assert [x for x in out if x[0] == c] == [f"{c}{i}" for i in range(20)]
    await stop(source)


@pytest.mark.real_time
async def test_one_element_at_a_time_across_connections():
    source = Stream.from_tcp(0)
    gate = OpenGate()
    source.sink(gate)
    source.start()
    await send(source.port, b"first\n")
    await until(lambda: gate.started == [b"first\n"])
    await send(source.port, b"second\n")
    await asyncio.sleep(0.2)  # watch for an element that must not come
    assert gate.started == [b"first\n"]
    gate.open.set()
    await until(lambda: gate.finished == [b"first\n", b"second\n"])
    await stop(source)


@pytest.mark.real_time
async def test_a_failure_downstream_goes_to_the_error_channel_and_the_source_goes_on():
    source = Stream.from_tcp(0, decode="ascii")
    out = source.map(int).sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await send(source.port, b"1\nx\n3\n")
    await until(lambda: out == [1, 3] and len(errors) == 1)
    assert errors[0].element == "x" and isinstance(errors[0].error, ValueError)
    await stop(source)


@pytest.mark.real_time
async def test_binds_to_loopback_by_default():
    source = Stream.from_tcp(0)
    source.start()
    assert source.addresses == [("127.0.0.1", source.port)]
    with socket.socket() as probe:
        probe.connect(("127.0.0.1", source.port))
    # 127.0.0.2 reaches this machine too, but only a server on all interfaces listens there
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.2", source.port))
    everywhere = Stream.from_tcp(0, host="0.0.0.0", start=True)
    with socket.socket() as probe:
        probe.connect(("127.0.0.2", everywhere.port))
    await stop(everywhere)
    await stop(source)


@pytest.mark.real_time
async def test_port_zero_is_known_when_start_returns_and_str_shows_it():
    source = Stream.from_tcp(0, start=True)
    assert source.started and source.port != 0
    assert source._describe() == f"from_tcp<127.0.0.1:{source.port}>"
    await stop(source)


@pytest.mark.real_time
async def test_a_port_in_use_raises_at_start_naming_the_source():
    first = Stream.from_tcp(0, start=True)
    second = Stream.from_tcp(first.port)
    with pytest.raises(OSError, match="ddress already in use") as caught:
        second.start()
    assert any(f"in from_tcp<127.0.0.1:{first.port}>" in n for n in caught.value.__notes__)
    assert not second.started
    await stop(first)


@pytest.mark.real_time
async def test_stop_closes_the_connections_and_waits_for_the_element_in_hand():
    source = Stream.from_tcp(0)
    gate = OpenGate()
    source.sink(gate)
    source.start()
    reader, writer = await send(source.port, b"held\nnever\n", close=False)
    await until(lambda: gate.started == [b"held\n"])
    source.stop()
    waiting = asyncio.ensure_future(source.wait())
    await asyncio.sleep(0.1)
    assert not waiting.done()  # held is not accepted yet
    gate.open.set()
    await asyncio.wait_for(waiting, 10)
    assert gate.finished == [b"held\n"]  # nothing after the element in hand
    assert await asyncio.wait_for(reader.read(), 10) == b""  # the server closed it
    writer.close()
    await writer.wait_closed()
    with pytest.raises(ConnectionRefusedError):
        await send(source.port, b"late\n")


@pytest.mark.real_time
async def test_restart_after_stop_listens_on_the_same_port():
    source = Stream.from_tcp(0)
    out = source.sink_to_list()
    source.start()
    port = source.port
    await send(source.port, b"one\n")
    await until(lambda: out == [b"one\n"])
    await stop(source)
    source.start()
    assert source.port == port
    await send(source.port, b"two\n")
    await until(lambda: out == [b"one\n", b"two\n"])
    await stop(source)


def test_a_plain_script_runs_the_server_on_the_background_loop():
    source = Stream.from_tcp(0)
    seen = []
    source.sink(seen.append)
    source.start()
    with socket.create_connection(("127.0.0.1", source.port)) as client:
        client.sendall(b"from a script\n")
    asyncio.run(until(lambda: seen == [b"from a script\n"]))
    source.stop()
    source.wait()
    assert source.done


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"port": -1}, ValueError, "from_tcp: port must be from 0 to 65535"),
        ({"port": 70000}, ValueError, "port must be from 0 to 65535"),
        ({"port": "80"}, TypeError, "from_tcp: port must be an int"),
        ({"port": True}, TypeError, "port must be an int"),
        ({"port": 0, "delimiter": b""}, TypeError, "delimiter must be non-empty bytes"),
        ({"port": 0, "delimiter": 10}, TypeError, "delimiter must be non-empty bytes"),
        ({"port": 0, "server_kwargs": {"nope": 1}}, TypeError, r"unknown options \['nope'\]"),
        ({"port": 0, "server_kwargs": [1]}, TypeError, "server_kwargs must be a dict"),
        ({"port": 0, "decode": "no-such-codec"}, ValueError, "from_tcp: decode must be"),
        ({"port": 0, "host": 127}, TypeError, "from_tcp: host must be"),
        ({"port": 0, "max_message_size": 0}, ValueError, "from_tcp: max_message_size must be"),
        ({"port": 0, "max_connections": 0}, ValueError, "from_tcp: max_connections must be"),
        ({"port": 0, "max_buffer_bytes": 1.5}, TypeError, "max_buffer_bytes must be a positive"),
        (
            {"port": 0, "max_message_size": 100, "max_buffer_bytes": 99},
            ValueError,
            r"from_tcp: max_buffer_bytes \(99\) must hold at least one message of "
            r"max_message_size \(100 bytes\)",
        ),
        ({"port": 0, "idle_timeout": 0}, ValueError, "from_tcp: idle_timeout must be positive"),
        ({"port": 0, "idle_timeout": "5"}, TypeError, "idle_timeout must be seconds"),
        ({"port": 0, "server_kwargs": {"read_chunk_size": 0}}, ValueError, "read_chunk_size"),
    ],
)
def test_bad_arguments_fail_at_build_time(kwargs, error, match):
    with pytest.raises(error, match=match):
        Stream.from_tcp(**kwargs)


def test_limits_have_defaults_and_the_buffer_follows_the_message_size():
    source = Stream.from_tcp(0)
    assert (source.max_message_size, source.max_buffer_bytes) == (2**20, 64 * 2**20)
    assert (source.max_connections, source.idle_timeout) == (1024, 300.0)
    assert Stream.from_tcp(0, max_message_size=32 * 2**20).max_buffer_bytes == 128 * 2**20
    assert Stream.from_tcp(0, idle_timeout=None).idle_timeout is None


def test_server_kwargs_reach_tornado():
    source = Stream.from_tcp(0, server_kwargs={"max_buffer_size": 1024})
    assert source.server_kwargs == {"max_buffer_size": 1024}


def test_importing_the_network_connectors_loads_no_client_library():
    code = (
        "import sys, streams, streams.sources.tcp, streams.sources.http, "
        "streams.sources.websocket, streams.sinks.websocket\n"
        "loaded = {'tornado', 'websockets'} & {m.split('.')[0] for m in sys.modules}\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ limits


async def closed_by_server(reader, timeout=10.0):
    """Whether the server closed the connection (EOF or reset) within ``timeout``."""
    try:
        return await asyncio.wait_for(reader.read(), timeout) == b""
    except ConnectionResetError:
        return True


@pytest.mark.real_time
async def test_server_is_none_until_listening_and_after_stop():
    source = Stream.from_tcp(0)
    assert source.server is None
    source.start()
    await until(lambda: source.server is not None)  # what streamz programs wait for
    from tornado.tcpserver import TCPServer

    assert isinstance(source.server, TCPServer)
    await stop(source)
    assert source.server is None


@pytest.mark.real_time
async def test_an_over_long_message_is_rejected_and_skipped_up_to_its_delimiter():
    source = Stream.from_tcp(0, max_message_size=10)
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    _, writer = await send(
        source.port, b"fits\n", b"x" * 30, b"y" * 30, b"z\nexactly10!\n", b"w" * 11 + b"\nend\n"
    )
    await until(lambda: len(out) == 3 and len(errors) == 2)
    assert out == [b"fits\n", b"exactly10!\n", b"end\n"]
    peer = f"127.0.0.1:{writer.get_extra_info('sockname')[1]}"
    first, second = errors
    assert isinstance(first.error, ValueError)
    assert "max_message_size (10 bytes)" in str(first.error)
    assert first.element.startswith(b"x" * 11)  # its beginning (at most 100 bytes)
    assert second.element == b"w" * 11
    assert f"at tcp {peer}, message 2" in first.error.__notes__
    assert f"at tcp {peer}, message 4" in second.error.__notes__
    await stop(source)


@pytest.mark.real_time
async def test_a_client_streaming_without_a_delimiter_holds_no_more_than_a_message():
    source = Stream.from_tcp(0, max_message_size=1000)
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    _, writer = await send(source.port, *[b"a" * 65536] * 80, close=False)  # 5 MiB
    await until(lambda: len(errors) == 1)
    assert source._budget.used <= 1000 + 65536  # what it holds: at most one read
    writer.write(b"\nok\n")  # the client resynchronises at the next delimiter
    await writer.drain()
    await until(lambda: out == [b"ok\n"])
    writer.close()
    await writer.wait_closed()
    await stop(source)


@pytest.mark.real_time
async def test_a_full_buffer_stops_reading_until_there_is_room_and_loses_nothing():
    source = Stream.from_tcp(0, max_message_size=10, max_buffer_bytes=30,
                             server_kwargs={"read_chunk_size": 8})  # fmt: skip
    gate = OpenGate()
    source.sink(gate)
    source.start()
    lines = {c: [f"{c} line {i}\n".encode() for i in range(5)] for c in "abcdefgh"}
    clients = [await send(source.port, *chunks, close=False) for chunks in lines.values()]
    await until(lambda: len(gate.started) == 1 and source._budget.full)
    assert source._budget.used < 30 + 8  # no more reads: the rest waits in the sockets
    gate.open.set()
    await until(lambda: len(gate.finished) == 40)
    for c, chunks in lines.items():
        assert [x for x in gate.finished if x[:1] == c.encode()] == chunks
    for _, writer in clients:
        writer.close()
    await stop(source)


@pytest.mark.real_time
async def test_when_only_unfinished_messages_fill_the_buffer_the_biggest_is_dropped():
    source = Stream.from_tcp(0, max_message_size=80, max_buffer_bytes=100)
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    big_reader, big = await send(source.port, b"a" * 70, close=False)
    await until(lambda: source._budget.used == 70)
    _, small = await send(source.port, b"b" * 40, close=False)  # 110 held, none finished
    assert await closed_by_server(big_reader)
    assert len(errors) == 1 and isinstance(errors[0].error, ConnectionAbortedError)
    assert errors[0].element == b"a" * 70
    assert any(n.endswith("message 1 (incomplete)") for n in errors[0].error.__notes__)
    small.write(b"b\n")  # the other client goes on, and so does a new one
    await send(source.port, b"new\n")
    await until(lambda: sorted(out) == [b"b" * 41 + b"\n", b"new\n"])
    small.close()
    big.close()
    await stop(source)


@pytest.mark.real_time
async def test_connections_beyond_max_connections_are_closed_at_once():
    source = Stream.from_tcp(0, max_connections=2, decode="ascii")
    out = source.sink_to_list()
    source.start()
    first = await send(source.port, close=False)
    second = await send(source.port, close=False)
    await until(lambda: len(source._peers) == 2)
    third_reader, third = await send(source.port, b"refused\n", close=False)
    assert await closed_by_server(third_reader)
    for _, writer in (first, second):
        writer.write(b"served\n")
    await until(lambda: out == ["served", "served"])
    first[1].close()
    await until(lambda: len(source._peers) == 1)
    await send(source.port, b"room again\n")
    await until(lambda: out[-1:] == ["room again"])
    second[1].close()
    third.close()
    await stop(source)


@pytest.mark.real_time
async def test_idle_connections_are_closed_but_not_while_waiting_for_the_graph():
    source = Stream.from_tcp(0, idle_timeout=0.2)
    gate = OpenGate()
    source.sink(gate)
    errors = source.errors().sink_to_list()
    source.start()
    busy_reader, busy = await send(source.port, b"held\n", close=False)
    await until(lambda: gate.started == [b"held\n"])
    silent_reader, silent = await send(source.port, close=False)
    halfway_reader, halfway = await send(source.port, b"unfinish", close=False)
    assert await closed_by_server(silent_reader)
    assert await closed_by_server(halfway_reader)
    assert len(errors) == 1 and isinstance(errors[0].error, TimeoutError)
    assert errors[0].element == b"unfinish"
    assert not busy_reader.at_eof()  # longer than idle_timeout, waiting on the graph
    busy.write(b"more\n")
    gate.open.set()
    await until(lambda: gate.finished == [b"held\n", b"more\n"])
    for writer in (busy, silent, halfway):
        writer.close()
    await stop(source)


@pytest.mark.real_time
async def test_a_good_client_is_served_whatever_the_others_do():
    source = Stream.from_tcp(
        0, max_message_size=100, max_buffer_bytes=1000, max_connections=5, idle_timeout=0.3
    )
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    reader, good = await send(source.port, close=False)
    lines = [f"good {i}\n".encode() for i in range(50)]

    async def behave():  # a message every 10 ms: never idle
        for line in lines:
            good.write(line)
            await good.drain()
            await asyncio.sleep(0.01)

    sending = asyncio.ensure_future(behave())
    flood = await send(source.port, b"x" * 200_000, close=False)  # over-long, no delimiter
    idle = [await send(source.port, close=False) for _ in range(3)]
    await until(lambda: len(source._peers) == 5)
    extra_reader, extra = await send(source.port, b"too many\n", close=False)
    assert await closed_by_server(extra_reader)  # refused: 5 connections already
    assert all([await closed_by_server(r) for r, _ in idle])  # closed once idle 0.3 s
    await sending
    await until(lambda: len(out) == 50)
    assert out == lines  # every message of the good client, in order, and nothing else
    assert [type(e.error) for e in errors] == [ValueError]  # the flood, rejected
    for _, writer in [*idle, flood, (extra_reader, extra), (reader, good)]:
        writer.close()
    await stop(source)
