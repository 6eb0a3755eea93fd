"""Helpers for connector sources (streams/sources/base.py): acknowledgement, rejecting
malformed input, reporting unreachable services, backoff, decoders."""

import asyncio

import pytest

from streams import Source
from streams.sources.base import Backoff, decoder


class Feed(Source):
    """Emits a fixed list, each element acknowledged through emit_acked."""

    def __init__(self, items, **kwargs):
        self.items = items
        self.acked = []
        super().__init__(**kwargs)

    async def run(self):
        for x in self.items:
            await self.emit_acked(x, lambda x=x: self.acked.append(x))


async def test_emit_acked_acknowledges_once_every_branch_released_the_element():
    loop = asyncio.get_running_loop()
    acks = []

    async def slow(x):
        await asyncio.sleep(1)

    source = Feed(["a", "b"])
    source.acked = acks
    source.timed_window(10).sink_to_list()  # holds elements until drained
    source.sink(slow)
    source.start()
    await asyncio.sleep(5)
    assert acks == []  # the window still holds both
    await source.drain()
    assert acks == ["a", "b"] and loop.time() == 5


async def test_a_failed_element_is_not_acknowledged_and_the_source_goes_on():
    source = Feed([1, 0, 2])
    source.map(lambda x: 1 / x)
    errors = source.errors().sink_to_list()
    source.start()
    await source.wait()
    assert source.acked == [1, 2]
    assert [type(e.error) for e in errors] == [ZeroDivisionError]


class Reader(Source):
    """Decodes raw lines, rejecting what does not decode, with its position."""

    def __init__(self, lines, decode, **kwargs):
        self.lines = lines
        self.decode = decoder("reader", decode)
        super().__init__(**kwargs)

    async def run(self):
        for number, raw in enumerate(self.lines, 1):
            try:
                value = self.decode(raw)
            except ValueError as exc:
                self.reject(exc, raw, f"line {number}")
                continue
            await self.emit(value)


async def test_reject_sends_malformed_input_to_the_error_channel_with_its_position():
    source = Reader([b'{"a": 1}', b"{oops", b'{"a": 2}'], "json")
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await source.wait()
    assert out == [{"a": 1}, {"a": 2}]
    (record,) = errors
    assert record.node is source and record.element == b"{oops"
    assert "at line 2" in record.error.__notes__


async def test_reject_follows_the_sources_policy():
    source = Reader([b"\xff"], "utf-8", on_error="skip")
    errors = source.errors().sink_to_list()
    source.start()
    await source.wait()
    assert errors == []


async def test_connection_failed_reports_target_and_retry_delay():
    class Flaky(Source):
        async def run(self):
            backoff = Backoff(initial=0.5, maximum=2)
            for _ in range(3):
                delay = backoff.next()
                self.connection_failed(ConnectionRefusedError("refused"), "db:5432", delay)
                await self.sleep(delay)
            await self.emit("connected")

    loop = asyncio.get_running_loop()
    source = Flaky()
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await source.wait()
    assert out == ["connected"] and loop.time() == 0.5 + 1 + 2
    assert [e.error.__notes__[-1] for e in errors] == [
        f"in source: cannot reach db:5432; retrying in {d}s" for d in ("0.5", "1", "2")
    ]
    assert all(e.node is source for e in errors)


def test_backoff_doubles_up_to_its_maximum_and_resets():
    backoff = Backoff(initial=0.1, maximum=0.5)
    assert [backoff.next() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    backoff.reset()
    assert backoff.next() == 0.1


def test_decoders():
    assert decoder("n", None)(b"x") == b"x"
    assert decoder("n", "latin-1")(b"\xe9") == "é"
    assert decoder("n", str.upper)("x") == "X"
    with pytest.raises(UnicodeDecodeError):
        decoder("n", "utf-8")(b"\xff")
    with pytest.raises(ValueError, match="n: decode must be"):
        decoder("n", "no-such-codec")
    with pytest.raises(TypeError, match="n: decode must be"):
        decoder("n", 42)
