"""Stream.from_iterable (streams/sources/iterable.py)."""

import asyncio

import pytest

from streams import Source, Stream
from streams.sources import FromIterable
from streams.testing import timeline


def test_builds_a_from_iterable_source_that_does_not_start_by_itself():
    source = Stream.from_iterable([1, 2], stream_name="numbers")
    assert isinstance(source, FromIterable) and isinstance(source, Source)
    assert source._describe() == "numbers"
    assert Stream.from_iterable([])._describe() == "from_iterable"
    assert not source.started


def test_plain_script_emits_everything_in_order():
    source = Stream.from_iterable(range(5))
    squares = source.map(lambda x: x * x).sink_to_list()
    source.start()
    source.wait()
    assert squares == [0, 1, 4, 9, 16]
    assert source.done


async def test_emits_every_item_at_start_time_when_nothing_pushes_back():
    loop = asyncio.get_running_loop()
    source = Stream.from_iterable("abc")
    out = timeline(source)
    await asyncio.sleep(2)
    source.start()
    await source.wait()
    assert out == [(2.0, "a"), (2.0, "b"), (2.0, "c")]
    assert loop.time() == 2.0


async def test_an_empty_iterable_is_done_at_once():
    source = Stream.from_iterable([])
    out = source.sink_to_list()
    source.start()
    await source.wait()
    assert out == [] and source.done


async def test_generators_are_consumed_lazily():
    taken = []

    def numbers():
        for i in range(3):
            taken.append(i)
            yield i

    source = Stream.from_iterable(numbers())
    assert taken == []  # building does not iterate
    out = []

    def sink(x):
        out.append((x, list(taken)))

    source.sink(sink)
    source.start()
    await source.wait()
    # each item is taken when the previous one was accepted, not all up front
    assert out == [(0, [0]), (1, [0, 1]), (2, [0, 1, 2])]


async def test_a_list_is_emitted_again_on_restart():
    source = Stream.from_iterable([1, 2])
    out = source.sink_to_list()
    source.start()
    await source.wait()
    source.start()
    await source.wait()
    assert out == [1, 2, 1, 2]


async def test_stop_from_downstream_stops_before_the_next_item():
    items = iter(range(10))
    source = Stream.from_iterable(items)
    out = []

    def sink(x):
        out.append(x)
        if x == 2:
            source.stop()

    source.sink(sink)
    source.start()
    await source.wait()
    assert out == [0, 1, 2]
    assert source.done
    # the source took no item it did not emit: a restart would continue with 3
    assert next(items) == 3


async def test_an_iterable_that_raises_is_reported_and_the_source_is_done():
    def numbers():
        yield 1
        yield 2
        raise OSError("read failed")

    source = Stream.from_iterable(numbers())
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await source.wait()
    assert out == [1, 2]
    assert source.done
    assert len(errors) == 1
    assert errors[0].node is source and isinstance(errors[0].error, OSError)


async def test_several_failing_elements_each_reported():
    source = Stream.from_iterable(["1", "x", "3", "y"])
    parsed = source.map(int)
    out = parsed.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await source.wait()
    assert out == [1, 3]
    assert [(r.node, r.element) for r in errors] == [(parsed, "x"), (parsed, "y")]
    assert all(isinstance(r.error, ValueError) for r in errors)


async def test_rate_limit_downstream_paces_the_source():
    loop = asyncio.get_running_loop()
    source = Stream.from_iterable(["a", "b", "c"])
    out = timeline(source.rate_limit(1.0))
    source.start()
    await source.wait()
    assert out == [(0.0, "a"), (1.0, "b"), (2.0, "c")]
    assert loop.time() == 2.0


async def test_delay_downstream_accepts_at_once_and_emits_later():
    loop = asyncio.get_running_loop()
    source = Stream.from_iterable([1, 2])
    out = timeline(source.delay(1.5))
    source.start()
    await source.wait()
    assert loop.time() == 0.0  # the delay held both: the source is done
    assert out == []
    await asyncio.sleep(2)
    assert out == [(1.5, 1), (1.5, 2)]


async def test_async_sink_on_two_branches_waits_for_both():
    loop = asyncio.get_running_loop()
    seen = []

    def sink(seconds):
        async def write(x):
            await asyncio.sleep(seconds)
            seen.append((loop.time(), seconds, x))

        return write

    source = Stream.from_iterable([1, 2])
    source.sink(sink(1.0))
    source.sink(sink(3.0))
    source.start()
    await source.wait()
    assert loop.time() == 6.0
    assert seen == [(1.0, 1.0, 1), (3.0, 3.0, 1), (4.0, 1.0, 2), (6.0, 3.0, 2)]


@pytest.mark.parametrize("n", [255, 256, 257, 1000])
async def test_large_iterables_emit_everything_in_order(n):
    source = Stream.from_iterable(range(n))
    out = source.sink_to_list()
    source.start()
    await source.wait()
    assert out == list(range(n))
