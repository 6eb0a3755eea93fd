"""The graph and the emit/update protocol (streams/core.py)."""

import asyncio
import gc
import threading

import pytest

import streams
from streams import RefCounter, Stream


def inc(x):
    return x + 1


# ------------------------------------------------------------------ wiring


def test_depth_first_in_attach_order():
    events = []
    source = Stream()
    left = source.map(lambda x: events.append(("left", x)) or x)
    left.sink(lambda x: events.append(("left-sink", x)))
    source.sink(lambda x: events.append(("right", x)))
    source.emit(1)
    assert events == [("left", 1), ("left-sink", 1), ("right", 1)]


def test_fan_out_reaches_every_branch():
    source = Stream()
    outs = [source.map(lambda x, k=k: x * k).sink_to_list() for k in range(4)]
    source.emit(1)
    source.emit(2)
    assert outs == [[0, 0], [1, 2], [2, 4], [3, 6]]


def test_downstreams_is_an_ordered_immutable_view():
    source = Stream()
    a, b = source.map(inc), source.map(str)
    assert source.downstreams == (a, b)
    assert a.upstreams == [source]
    with pytest.raises(AttributeError):
        source.downstreams.append(a)  # type: ignore[attr-defined]


def test_connect_and_disconnect():
    a, b = Stream(), Stream()
    out = b.sink_to_list()
    a.connect(b)
    a.connect(b)  # a second connect adds no second edge
    a.emit(1)
    a.disconnect(b)
    a.emit(2)
    b.emit(3)
    assert out == [1, 3]
    assert b.upstreams == []


def test_connect_and_disconnect_reject_bad_arguments():
    a, b = Stream(), Stream()
    with pytest.raises(TypeError, match="can only connect to a Stream"):
        a.connect(print)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="to itself"):
        a.connect(a)
    with pytest.raises(ValueError, match="is not downstream"):
        a.disconnect(b)
    with pytest.raises(TypeError, match="upstream must be a Stream"):
        Stream(upstream=[1, 2])  # type: ignore[arg-type]


def test_upstream_property():
    a, b = Stream(), Stream()
    assert a.upstream is None
    assert a.map(inc).upstream is a
    with pytest.raises(ValueError, match="2 upstreams"):
        _ = a.union(b).upstream


def test_destroy_detaches_from_upstreams():
    a, b = Stream(), Stream()
    u = a.union(b)
    out = u.sink_to_list()
    u.destroy([a])
    a.emit("a")
    b.emit("b")
    assert out == ["b"]
    u.destroy()
    b.emit("b2")
    assert out == ["b"]
    assert a.downstreams == () and b.downstreams == ()


def test_graph_is_kept_alive_by_its_source_not_by_names():
    # streamz held downstreams weakly: an unnamed branch could vanish with the GC.
    seen = []
    source = Stream()
    source.map(inc).filter(lambda x: x > 1).sink(seen.append)
    gc.collect()
    source.emit(1)
    source.emit(5)
    assert seen == [2, 6]


def test_plain_nodes_joined_by_connect_pass_elements_and_back_pressure():
    source, middle = Stream(), Stream()
    gate = asyncio.Event()
    done = []

    async def slow(x):
        await gate.wait()
        done.append(x)

    middle.sink(slow)
    source.connect(middle)

    async def main():
        task = asyncio.ensure_future(source.emit(1, asynchronous=True))
        for _ in range(3):
            await asyncio.sleep(0)
        assert not task.done()
        gate.set()
        await task
        assert done == [1]

    asyncio.run(main())


# ------------------------------------------------------------------ naming


def test_str_and_repr_are_streamz_s():
    # streamz's form, so that a streamz program printing its nodes prints the same
    source = Stream()
    node = source.map(inc)
    named = source.map(inc, stream_name="increment")
    assert str(source) == repr(source) == "<Stream>"
    assert str(node) == repr(node) == "<map: inc>"
    assert str(named) == repr(named) == "<increment; map: inc>"
    assert str(Stream(stream_name="prices")) == "<prices; Stream>"
    assert str(source.filter(inc)) == "<filter: inc>"
    assert str(source.partition(3)) == "<partition: 3>"
    assert str(source.timed_window(0.05)) == "<timed_window: 0.05>"
    assert str(source.map(lambda x: x)) == "<map: lambda>"


def test_a_custom_node_is_shown_by_its_class_name():
    class from_list(Stream):
        pass

    assert str(from_list()) == "<from_list>"
    assert str(from_list(stream_name="numbers")) == "<numbers; from_list>"


def test_messages_and_notes_use_the_short_label():
    source = Stream()
    node = source.map(inc)
    named = source.map(inc, stream_name="increment")
    assert node._describe() == "map<inc>" and named._describe() == "increment"
    assert source._describe() == "stream"
    with pytest.raises(TypeError) as info:
        source.emit("a")
    assert "in map<inc> (element 'a')" in info.value.__notes__


def test_current_value_follows_each_node():
    source = Stream()
    doubled = source.map(lambda x: 2 * x)
    kept = doubled.filter(lambda x: x > 2)
    source.emit(1)
    source.emit(2)
    source.emit(0)
    assert (source.current_value, doubled.current_value, kept.current_value) == (0, 0, 4)


# ------------------------------------------------------------------ emit results


def test_sync_emit_returns_none():
    source = Stream()
    source.map(inc).sink_to_list()
    assert source.emit(1) is None


def test_async_emit_returns_an_awaitable_even_with_nothing_pending():
    source = Stream()
    out = source.map(inc).sink_to_list()

    async def main():
        await source.emit(1, asynchronous=True)

    asyncio.run(main())
    assert out == [2]


def test_plain_await_emit_works_inside_a_running_loop():
    source = Stream()
    out = source.map(inc).sink_to_list()

    async def main():
        await source.emit(1)  # nothing pending: an already complete awaitable

    asyncio.run(main())
    assert out == [2]


def test_asynchronous_is_inherited_downstream():
    source = Stream(asynchronous=True)
    node = source.map(inc)
    assert node.asynchronous is True

    async def main():
        result = node.emit(1)
        assert result is not None
        await result

    asyncio.run(main())


def test_await_emit_waits_for_every_async_branch():
    source = Stream()
    gates = [asyncio.Event(), asyncio.Event()]
    finished = []

    def make(i):
        async def write(x):
            await gates[i].wait()
            finished.append((i, x))

        return write

    source.sink(make(0))
    source.map(inc).sink(make(1))

    async def main():
        task = asyncio.ensure_future(source.emit(1, asynchronous=True))
        for _ in range(3):
            await asyncio.sleep(0)
        gates[1].set()
        for _ in range(3):
            await asyncio.sleep(0)
        assert finished == [(1, 2)]
        assert not task.done()
        gates[0].set()
        await task
        assert sorted(finished) == [(0, 1), (1, 2)]

    asyncio.run(main())


def test_sync_emit_in_a_script_blocks_until_async_sink_finished():
    seen = []

    async def write(x):
        await asyncio.sleep(0.001)
        seen.append(x)

    source = Stream()
    source.sink(write)
    for i in range(3):
        assert source.emit(i) is None
        assert seen == list(range(i + 1))


def test_sync_emit_inside_a_running_loop_returns_a_task():
    seen = []

    async def write(x):
        await asyncio.sleep(0)
        seen.append(x)

    source = Stream()
    source.sink(write)

    async def main():
        task = source.emit(1)  # a callback inside the loop cannot block
        assert isinstance(task, asyncio.Task)
        await task
        assert seen == [1]

    asyncio.run(main())


def test_streamz_style_node_with_emit_helper():
    class Twice(Stream):
        def update(self, x, who=None, metadata=None):
            return [self._emit(x, metadata=metadata), self._emit(x, metadata=metadata)]

    source = Stream()
    out = Twice(source).sink_to_list()
    assert source.emit(1) is None
    assert out == [1, 1]


# ------------------------------------------------------------------ errors


def parse(s):
    return int(s)


def test_user_error_keeps_its_type_gets_a_note_and_graph_survives():
    source = Stream()
    out = source.map(parse).map(inc).sink_to_list()
    with pytest.raises(ValueError, match="invalid literal") as info:
        source.emit("x1")
    assert info.value.__notes__ == ["in map<parse> (element 'x1')"]
    source.emit("41")
    assert out == [42]


def test_only_the_failing_node_annotates():
    def boom(x):
        raise KeyError(x)

    source = Stream()
    source.map(inc).map(boom, stream_name="boom-node")
    with pytest.raises(KeyError) as info:
        source.emit(1)
    assert info.value.__notes__ == ["in boom-node (element 2)"]


def test_long_elements_are_shortened_in_notes():
    source = Stream()
    source.map(parse)
    with pytest.raises(ValueError, match="invalid literal") as info:
        source.emit("z" * 10_000)
    (note,) = info.value.__notes__
    assert note.startswith("in map<parse> (element 'zzz") and len(note) < 120


def test_async_sink_error_reaches_awaiting_emitter_with_note():
    async def fail(x):
        await asyncio.sleep(0)
        raise RuntimeError("disk full")

    source = Stream()
    source.sink(fail)

    async def main():
        with pytest.raises(RuntimeError, match="disk full") as info:
            await source.emit("row", asynchronous=True)
        assert info.value.__notes__ == ["in sink<fail> (element 'row')"]

    asyncio.run(main())


def test_async_sink_error_reaches_blocking_sync_emitter():
    async def fail(x):
        raise OSError("gone")

    source = Stream()
    source.sink(fail)
    with pytest.raises(OSError, match="gone"):
        source.emit(1)


def test_misspelt_node_keyword_fails_at_build_time():
    source = Stream()
    with pytest.raises(TypeError, match="stream_nam"):
        source.map(inc, stream_nam="typo")
    with pytest.raises(TypeError):
        source.partition(2, timeout_s=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"cannot pass \(1\) to inc"):
        source.map(inc, 1)
    assert source.downstreams == ()  # failed builds leave the graph untouched
    # keywords the user function accepts are passed to it
    out = source.map(lambda x, k=1: x * k, k=10).sink_to_list()
    source.emit(2)
    assert out == [20]


# ------------------------------------------------------------------ metadata


def test_ref_released_when_sync_processing_completes():
    acks = []
    ref = RefCounter(cb=lambda: acks.append("ack"))
    source = Stream()
    source.map(inc).sink_to_list()
    source.emit(1, metadata=[{"ref": ref}])
    assert acks == ["ack"] and ref.count == 0


def test_ref_released_only_after_async_sink_finished():
    acks = []
    gate = asyncio.Event()

    async def write(x):
        await gate.wait()

    source = Stream()
    source.sink(write)

    async def main():
        ref = RefCounter(cb=lambda: acks.append("ack"))
        task = asyncio.ensure_future(source.emit(1, asynchronous=True, metadata=[{"ref": ref}]))
        for _ in range(3):
            await asyncio.sleep(0)
        assert acks == [] and ref.count == 1
        gate.set()
        await task
        assert acks == ["ack"]

    asyncio.run(main())


def test_failed_element_is_not_acknowledged():
    acks = []
    ref = RefCounter(cb=lambda: acks.append("ack"))
    source = Stream()
    source.map(parse)
    with pytest.raises(ValueError, match="invalid literal"):
        source.emit("bad", metadata=[{"ref": ref}])
    assert acks == [] and ref.count == 1


def test_refcounter_schedules_callback_on_a_given_loop():
    async def main():
        loop = asyncio.get_running_loop()
        acks = []
        ref = RefCounter(initial=1, cb=lambda: acks.append("ack"), loop=loop)
        ref.release()
        assert acks == []  # scheduled, not called inline
        await asyncio.sleep(0)
        assert acks == ["ack"]

    asyncio.run(main())


# ------------------------------------------------------------------ register_api


def test_register_api_adds_a_method_and_refuses_builtins():
    @Stream.register_api()
    class triple(Stream):
        def update(self, x, who=None, metadata=()):
            return self._emit(3 * x, metadata)

    try:
        source = Stream()
        out = source.triple().sink_to_list()  # type: ignore[attr-defined]
        source.emit(2)
        assert out == [6]
        Stream.register_api()(triple)  # registering a plugin again is fine

        with pytest.raises(ValueError, match="built in"):

            @Stream.register_api()
            class map(Stream):
                pass
    finally:
        del Stream.triple  # type: ignore[attr-defined]


def test_register_api_as_static_method_for_sources():
    @Stream.register_api(staticmethod, attribute_name="from_list_demo")
    def from_list(items):
        source = Stream()
        source.items = items
        return source

    try:
        source = Stream.from_list_demo([1, 2])  # type: ignore[attr-defined]
        assert source.items == [1, 2]
    finally:
        del Stream.from_list_demo  # type: ignore[attr-defined]


# ------------------------------------------------------------------ functional forms


def test_streamz_functional_forms():
    a, b = Stream(), Stream()
    out = streams.zip(a, b).sink_to_list()
    doubled = streams.sink_to_list(streams.map(a, lambda x: 2 * x))
    a.emit(1)
    b.emit(2)
    assert out == [(1, 2)] and doubled == [2]
    with pytest.raises(TypeError, match="first argument must be a Stream"):
        streams.map(inc, a)
    with pytest.raises(AttributeError):
        _ = streams.no_such_operator


def test_sync_graph_starts_no_thread():
    before = {t.name for t in threading.enumerate()}
    source = Stream()
    source.map(inc).partition(2).sink_to_list()
    for i in range(10):
        source.emit(i)
    assert {t.name for t in threading.enumerate()} == before


def test_compiled_pushes_follow_every_rewiring():
    source = Stream()
    doubled = source.map(lambda x: 2 * x)
    kept = doubled.filter(lambda x: x > 2)
    first = kept.sink_to_list()
    source.emit(1)
    source.emit(2)
    second = kept.accumulate(lambda a, b: a + b).sink_to_list()  # now a fan-out
    source.emit(3)
    first.node.destroy()  # one downstream again
    source.emit(4)
    other = Stream()
    other.connect(doubled)  # a second upstream of a compiled node
    other.emit(5)
    doubled.disconnect(kept)  # nothing downstream of doubled: drops
    source.emit(6)
    assert first == [4, 6]
    assert second == [6, 14, 24]
    assert doubled.current_value == 12


def test_a_subclass_overriding_update_is_called_through_it():
    from streams.operators.transform import Map

    class Loud(Map):
        def update(self, x, who=None, metadata=()):
            return super().update(f"<{x}>", who, metadata)

    source = Stream()
    out = Loud(source, str.upper).sink_to_list()
    source.emit("a")
    assert out == ["<A>"]


def test_emit_follows_the_graph_it_joins():
    source = Stream()
    out = source.map(str).sink_to_list()
    assert source.emit(1) is None
    other = Stream(asynchronous=True)
    other.connect(source)  # the merged graph is asynchronous: emit gives an awaitable
    result = source.emit(2)
    assert result is not None and hasattr(result, "__await__")
    assert out == ["1", "2"]


async def test_emit_follows_the_graph_getting_a_loop():
    source = Stream()
    out = source.sink_to_list()
    source.emit(1)  # no loop yet: pushed inline
    windows = source.timed_window(1.0).sink_to_list()  # needs a loop: binds this one
    assert source.loop is not None
    await source.emit(2)
    await asyncio.sleep(1.5)
    assert out == [1, 2] and windows == [[2]]


def test_an_emit_taken_before_the_graph_was_built_reaches_it():
    source = Stream()
    emit = source.emit  # a callback registered before the graph exists
    out = source.map(str).sink_to_list()
    emit(1)
    more = source.map(lambda x: -x).sink_to_list()
    emit(2)
    assert out == ["1", "2"] and more == [-2]


async def test_an_emit_taken_before_the_graph_got_a_loop_hands_elements_to_it():
    source = Stream()
    emit = source.emit
    windows = source.timed_window(1.0).sink_to_list()  # the graph gets this loop
    await emit(1)
    await asyncio.sleep(1.5)
    assert windows == [[1]]


def test_an_emit_taken_in_a_script_before_the_graph_needed_a_loop():
    source = Stream()
    emit = source.emit
    seen = []
    source.timed_window(0.01).sink(seen.append)  # runs on the background loop
    emit(1)
    source.drain()
    assert [x for w in seen for x in w] == [1]
    assert threading.current_thread() is threading.main_thread()
