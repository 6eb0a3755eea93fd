"""zip, combine_latest, zip_latest and union."""

import asyncio

import pytest
from helpers import Gate, counted, fail, finished, spin
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import BackpressureError, Stream


async def emit_async(source, x):
    await source.emit(x, asynchronous=True)


# ------------------------------------------------------------------ zip


def test_zip_pairs_in_order():
    a, b = Stream(), Stream()
    node = a.zip(b)
    out = node.sink_to_list()
    a.emit(1)
    a.emit(2)
    assert out == []
    b.emit("x")
    b.emit("y")
    b.emit("z")
    assert out == [(1, "x"), (2, "y")]
    assert node._describe() == "zip"


def test_zip_literals_at_their_positions():
    a, b = Stream(), Stream()
    end = a.zip(b, "lit").sink_to_list()
    middle = a.zip("lit", b).sink_to_list()
    a.emit(1)
    b.emit(2)
    assert end == [(1, 2, "lit")]
    assert middle == [(1, "lit", 2)]


def test_zip_three_streams_and_same_stream_twice():
    a, b, c = Stream(), Stream(), Stream()
    three = a.zip(b, c, stream_name="triple")
    out = three.sink_to_list()
    twice = a.zip(a).sink_to_list()
    a.emit(1)
    c.emit(3)
    b.emit(2)
    a.emit(4)
    assert out == [(1, 2, 3)]
    assert twice == [(1, 1), (4, 4)]
    assert three._describe() == "triple"


def test_zip_upstream_connected_later():
    a, b, c = Stream(), Stream(), Stream()
    node = a.zip(b)
    out = node.sink_to_list()
    a.emit(1)
    b.emit(2)
    c.connect(node)
    a.emit(3)
    b.emit(4)
    assert out == [(1, 2)]
    c.emit(5)
    assert out == [(1, 2), (3, 4, 5)]


@pytest.mark.parametrize("maxsize", [0, -1])
def test_zip_rejects_bad_maxsize(maxsize):
    with pytest.raises(ValueError, match="maxsize"):
        Stream().zip(Stream(), maxsize=maxsize)


def test_zip_releases_refs_after_tuple_is_emitted():
    ra, fired = counted()
    a, b = Stream(), Stream()
    a.zip(b).sink_to_list()
    a.emit(1, metadata=[{"ref": ra}])
    assert (ra.count, fired) == (1, [])
    b.emit(2)
    assert (ra.count, fired) == (0, [1])


def test_zip_same_stream_twice_releases_both_holds():
    ra, fired = counted()
    a = Stream()
    out = a.zip(a).sink_to_list()
    a.emit(1, metadata=[{"ref": ra}])
    assert (out, ra.count, fired) == ([(1, 1)], 0, [1])


def test_zip_failed_output_is_not_acknowledged():
    ra, fired = counted()
    a, b = Stream(), Stream()
    a.zip(b).sink(fail)
    a.emit(1, metadata=[{"ref": ra}])
    with pytest.raises(RuntimeError, match="sink down"):
        b.emit(2)
    assert ra.count > 0
    assert fired == []


def test_zip_without_loop_raises_backpressure_error_and_rejects_element():
    a, b = Stream(), Stream()
    node = a.zip(b, maxsize=2)
    out = node.sink_to_list()
    a.emit(1)
    a.emit(2)
    with pytest.raises(BackpressureError, match="maxsize=2"):
        a.emit(3)
    assert len(node.buffers[0]) == 2
    for x in "xyz":
        b.emit(x)
    assert out == [(1, "x"), (2, "y")]


@settings(max_examples=100)
@given(st.data(), st.lists(st.integers()), st.lists(st.integers()))
def test_zip_interleaved_matches_builtin_zip(data, xs, ys):
    order = data.draw(st.permutations(["a"] * len(xs) + ["b"] * len(ys)))
    a, b = Stream(), Stream()
    out = a.zip(b, maxsize=None).sink_to_list()
    items = {"a": iter(xs), "b": iter(ys)}
    for name in order:
        (a if name == "a" else b).emit(next(items[name]))
    assert out == list(zip(xs, ys, strict=False))


def test_zip_passes_sink_awaitable_to_completing_emitter():
    async def main():
        sink = Gate()
        a, b = Stream(), Stream()
        a.zip(b).sink(sink)
        await a.emit(1, asynchronous=True)
        task = asyncio.create_task(emit_async(b, 2))
        await spin()
        assert sink.started == [(1, 2)]
        assert not task.done()
        sink.gates[0].set()
        await finished(task)
        assert sink.finished == [(1, 2)]

    asyncio.run(main())


def test_zip_maxsize_makes_the_stream_ahead_wait():
    async def main():
        a, b = Stream(), Stream()
        out = a.zip(b, maxsize=2).sink_to_list()
        await a.emit(1, asynchronous=True)
        task = asyncio.create_task(emit_async(a, 2))
        await spin()
        assert not task.done()
        b.emit("x")
        await finished(task)
        assert out == [(1, "x")]
        b.emit("y")
        assert out == [(1, "x"), (2, "y")]

    asyncio.run(main())


# ------------------------------------------------------------------ combine_latest


def test_combine_latest_waits_for_every_upstream():
    a, b = Stream(), Stream()
    node = a.combine_latest(b)
    out = node.sink_to_list()
    a.emit(1)
    a.emit(2)
    assert out == []
    b.emit("x")
    a.emit(3)
    b.emit("y")
    assert out == [(2, "x"), (3, "x"), (3, "y")]
    assert node._describe() == "combine_latest"


@pytest.mark.parametrize("which", ["stream", "index", "list"])
def test_combine_latest_emit_on(which):
    a, b, c = Stream(), Stream(), Stream()
    emit_on = {"stream": a, "index": 0, "list": [a, 2]}[which]
    out = a.combine_latest(b, c, emit_on=emit_on).sink_to_list()
    b.emit("b1")
    c.emit("c1")
    a.emit(1)
    b.emit("b2")
    c.emit("c2")
    a.emit(2)
    expected = [(1, "b1", "c1"), (2, "b2", "c2")]
    if which == "list":
        expected.insert(1, (1, "b2", "c2"))
    assert out == expected


@pytest.mark.parametrize("bad", ["foreign", 2, -1])
def test_combine_latest_rejects_bad_emit_on(bad):
    a, b = Stream(), Stream()
    emit_on = Stream() if bad == "foreign" else bad
    with pytest.raises(ValueError, match="emit_on"):
        a.combine_latest(b, emit_on=emit_on)


def test_failed_combine_latest_build_leaves_graph_untouched():
    a, b = Stream(), Stream()
    with pytest.raises(ValueError, match="emit_on"):
        a.combine_latest(b, emit_on=Stream())
    assert a.downstreams == ()
    assert b.downstreams == ()
    a.emit(1)
    b.emit(2)


def test_combine_latest_releases_element_when_replaced():
    r1, fired1 = counted()
    r2, fired2 = counted()
    a, b = Stream(), Stream()
    out = a.combine_latest(b).sink_to_list()
    a.emit(1, metadata=[{"ref": r1}])
    b.emit("x")
    assert (r1.count, fired1) == (1, [])
    a.emit(2, metadata=[{"ref": r2}])
    assert (r1.count, fired1, r2.count, fired2) == (0, [1], 1, [])
    assert out == [(1, "x"), (2, "x")]


def test_combine_latest_passes_back_pressure_through():
    async def main():
        sink = Gate()
        a, b = Stream(), Stream()
        a.combine_latest(b).sink(sink)
        await a.emit(1, asynchronous=True)
        task = asyncio.create_task(emit_async(b, 2))
        await spin()
        assert not task.done()
        sink.gates[0].set()
        await finished(task)
        assert sink.finished == [(1, 2)]

    asyncio.run(main())


# ------------------------------------------------------------------ zip_latest


def test_zip_latest_buffers_lossless_until_others_arrive():
    a, b, c = Stream(), Stream(), Stream()
    node = a.zip_latest(b, c)
    out = node.sink_to_list()
    a.emit(1)
    a.emit(2)
    b.emit("b1")
    assert out == []
    c.emit("c1")
    assert out == [(1, "b1", "c1"), (2, "b1", "c1")]
    b.emit("b2")
    b.emit("b3")
    a.emit(3)
    assert out[2:] == [(3, "b3", "c1")]
    assert node._describe() == "zip_latest"


def test_zip_latest_releases_lossless_after_emit_and_others_when_replaced():
    r1, fired1 = counted()
    rq, firedq = counted()
    a, b = Stream(), Stream()
    a.zip_latest(b).sink_to_list()
    a.emit(1, metadata=[{"ref": r1}])
    assert (r1.count, fired1) == (1, [])
    b.emit("q1", metadata=[{"ref": rq}])
    assert (r1.count, fired1, rq.count, firedq) == (0, [1], 1, [])
    b.emit("q2")
    assert (rq.count, firedq) == (0, [1])


def test_zip_latest_failed_output_is_not_acknowledged():
    r1, fired1 = counted()
    a, b = Stream(), Stream()
    a.zip_latest(b).sink(fail)
    a.emit(1, metadata=[{"ref": r1}])
    with pytest.raises(RuntimeError, match="sink down"):
        b.emit("q")
    assert r1.count > 0
    assert fired1 == []


def test_zip_latest_flushes_buffered_elements_one_at_a_time():
    async def main():
        sink = Gate()
        a, b = Stream(), Stream()
        a.zip_latest(b).sink(sink)
        for x in (1, 2, 3):
            a.emit(x)
        task = asyncio.create_task(emit_async(b, "q"))
        for i in range(3):
            await spin()
            assert sink.started == [(x, "q") for x in (1, 2, 3)[: i + 1]]
            assert not task.done()
            sink.gates[i].set()
        await finished(task)
        assert sink.finished == [(1, "q"), (2, "q"), (3, "q")]

    asyncio.run(main())


def test_zip_latest_lossless_element_arriving_mid_flush_waits_its_turn():
    async def main():
        sink = Gate()
        a, b = Stream(), Stream()
        a.zip_latest(b).sink(sink)
        a.emit(1)
        a.emit(2)
        flush = asyncio.create_task(emit_async(b, "q"))
        await spin()
        third = asyncio.create_task(emit_async(a, 3))
        await spin()
        assert sink.started == [(1, "q")]  # still one at a time
        for i in range(3):
            sink.gates[i].set()
            await spin()
            assert third.done() == ((3, "q") in sink.finished)
        await finished(flush)
        await finished(third)
        assert sink.finished == [(1, "q"), (2, "q"), (3, "q")]

    asyncio.run(main())


# ------------------------------------------------------------------ union


def test_union_merges():
    a, b, c = Stream(), Stream(), Stream()
    node = a.union(b, c)
    out = node.sink_to_list()
    a.emit(1)
    c.emit(3)
    b.emit(2)
    assert out == [1, 3, 2]
    assert node._describe() == "union"
    assert a.union(b, stream_name="merged")._describe() == "merged"


def test_union_passes_back_pressure_through():
    async def main():
        sink = Gate()
        a, b = Stream(), Stream()
        a.union(b).sink(sink)
        task = asyncio.create_task(emit_async(b, 1))
        await spin()
        assert sink.started == [1]
        assert not task.done()
        sink.gates[0].set()
        await finished(task)
        assert sink.finished == [1]

    asyncio.run(main())
