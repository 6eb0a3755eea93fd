"""Emitters waiting for room in buffer, map_async and delay: first come, first served.

Callback-style producers emit without awaiting each element; the elements that must
wait for a place queue in arrival order, and each freed place wakes one of them.
"""

import asyncio

import pytest

from streams import Stream


async def slow(sunk, seconds=1):
    async def sink(x):
        await asyncio.sleep(seconds)
        sunk.append(x)

    return sink


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda s: s.buffer(1), id="buffer"),
        pytest.param(lambda s: s.buffer(3), id="buffer3"),
        pytest.param(lambda s: s.delay(0.5, maxsize=1), id="delay"),
    ],
)
async def test_unawaited_emits_come_out_in_the_order_they_went_in(build):
    sunk = []
    source = Stream()
    build(source).sink(await slow(sunk))
    for i in range(8):
        source.emit(i)  # not awaited, as a callback would
    await source.drain()
    assert sunk == list(range(8))


async def identity_async(x):
    await asyncio.sleep(1)
    return x


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda s: s.buffer(1), id="buffer"),
        pytest.param(lambda s: s.map_async(identity_async), id="map_async"),
        pytest.param(lambda s: s.delay(0.5, maxsize=1), id="delay"),
    ],
)
async def test_an_emit_arriving_as_a_place_frees_queues_behind_those_waiting(build):
    sunk = []
    first_out = asyncio.Event()

    async def sink(x):
        await asyncio.sleep(1)
        sunk.append(x)
        first_out.set()

    source = Stream()
    build(source).sink(sink)
    for i in range(3):
        source.emit(i)  # 1 and 2 wait for a place
    await first_out.wait()  # a producer woken as soon as a place frees
    source.emit(3)
    await source.drain()
    assert sunk == [0, 1, 2, 3]


async def test_map_async_keeps_input_order_with_unawaited_emits():
    async def work(x):
        await asyncio.sleep(1 if x != 1 else 0.1)
        return x

    source = Stream()
    out = source.map_async(work).sink_to_list()
    for i in range(3):
        source.emit(i)
    await source.drain()
    assert out == [0, 1, 2]


async def test_an_element_whose_emitter_gave_up_waiting_still_goes_through():
    sunk = []
    source = Stream()
    source.buffer(1).sink(await slow(sunk))
    await source.emit(0)
    await source.emit(1)
    waiting = asyncio.ensure_future(source.emit(2))
    await asyncio.sleep(0)
    waiting.cancel()
    await source.drain()
    assert sunk == [0, 1, 2]


async def test_each_freed_place_wakes_one_waiter():
    # 10,000 waiters on buffer(10) cost a constant amount per element: the loop runs
    # a bounded number of callbacks per element (not one per waiter per freed place).
    loop = asyncio.get_running_loop()
    ran = 0
    original = loop._run_once

    def counting():
        nonlocal ran
        ran += len(loop._ready)
        original()

    loop._run_once = counting
    try:
        source = Stream()
        sunk = []
        source.buffer(10).sink(await slow(sunk, 0))
        for i in range(10_000):
            source.emit(i)
        await source.drain()
    finally:
        loop._run_once = original
    assert sunk == list(range(10_000))
    assert ran < 20 * 10_000
