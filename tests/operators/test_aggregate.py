"""accumulate/scan, partition, partition_unique, sliding_window, collect and frequencies."""

import asyncio
import itertools
import operator
from collections import Counter

import pytest
import toolz
from helpers import counted, fail, feed, finished, spin
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import RefCounter, Stream

ints = st.lists(st.integers(-50, 50), max_size=40)


# ------------------------------------------------------------------ accumulate / scan


def test_accumulate_without_start_emits_first_element_as_state():
    source = Stream()
    node = source.accumulate(operator.sub)
    out = node.sink_to_list()
    feed(source, [10, 3, 2])
    assert out == [10, 7, 5]
    assert node.state == 5


def test_accumulate_with_start_and_kwargs():
    source = Stream()
    node = source.accumulate(lambda acc, x, scale: acc + scale * x, start=100, scale=2)
    out = node.sink_to_list()
    feed(source, [1, 2])
    assert out == [102, 106]
    assert node.state == 106


def test_accumulate_returns_state_and_with_state():
    source = Stream()
    count_and_echo = source.accumulate(
        lambda n, x: (n + 1, f"{x}{n}"), start=0, returns_state=True
    ).sink_to_list()
    pairs = source.accumulate(operator.add, start=0, with_state=True).sink_to_list()
    first_pair = source.accumulate(operator.add, with_state=True).sink_to_list()
    feed(source, [5, 6])
    assert count_and_echo == ["50", "61"]
    assert pairs == [(5, 5), (11, 11)]
    assert first_pair == [(5, 5), (11, 11)]


def test_accumulate_returns_state_with_state_emits_state_and_result():
    source = Stream()
    out = source.accumulate(
        lambda n, x: (n + x, -x), start=0, returns_state=True, with_state=True
    ).sink_to_list()
    feed(source, [1, 2])
    assert out == [(1, -1), (3, -2)]


def test_accumulate_returns_state_failure_keeps_the_state_and_names_the_node():
    source = Stream()
    node = source.accumulate(
        lambda n, x: (n + x, n + x) if x >= 0 else None, start=0, returns_state=True
    )
    out = node.sink_to_list()
    feed(source, [1, 2])
    with pytest.raises(TypeError) as info:
        source.emit(-1)  # returns None: not a (state, result) pair
    assert "accumulate" in str(info.value) + " ".join(getattr(info.value, "__notes__", []))
    assert node.state == 3
    feed(source, [4])
    assert out == [1, 3, 7]
    assert node.current_value == 7


def test_accumulate_returns_state_without_start_passes_the_first_element():
    source = Stream()
    node = source.accumulate(lambda acc, x: (acc + x, acc * x), returns_state=True)
    out = node.sink_to_list()
    feed(source, [2, 3, 4])
    assert out == [2, 6, 20]
    assert node.state == 9


def test_scan_is_accumulate():
    source = Stream()
    node = source.scan(max, stream_name="best")
    out = node.sink_to_list()
    feed(source, [2, 5, 3])
    assert out == [2, 5, 5]
    assert node._describe() == "best"
    assert source.scan(operator.add)._describe() == "accumulate<add>"


def test_accumulate_error_is_annotated_and_state_kept():
    def add(acc, x):
        if x == 3:
            raise ValueError("no threes")
        return acc + x

    source = Stream()
    node = source.accumulate(add, start=0)
    out = node.sink_to_list()
    feed(source, [1, 2])
    with pytest.raises(ValueError, match="no threes") as info:
        source.emit(3)
    assert "in accumulate<add> (element 3)" in info.value.__notes__
    assert node.state == 3
    source.emit(4)
    assert out == [1, 3, 7]


def test_accumulate_misspelt_keyword_fails_at_build_time():
    with pytest.raises(TypeError, match="stream_nam"):
        Stream().accumulate(operator.add, stream_nam="x")


@settings(max_examples=100)
@given(ints)
def test_accumulate_matches_itertools(xs):
    source = Stream()
    out = source.accumulate(operator.add).sink_to_list()
    feed(source, xs)
    assert out == list(itertools.accumulate(xs, operator.add))


@settings(max_examples=100)
@given(ints, st.integers(-50, 50))
def test_accumulate_with_start_matches_itertools_initial(xs, start):
    source = Stream()
    out = source.accumulate(operator.sub, start=start).sink_to_list()
    feed(source, xs)
    assert out == list(itertools.accumulate(xs, operator.sub, initial=start))[1:]


# ------------------------------------------------------------------ partition


def test_partition_holds_trailing_partial_tuple():
    source = Stream()
    node = source.partition(3)
    out = node.sink_to_list()
    feed(source, range(8))
    assert out == [(0, 1, 2), (3, 4, 5)]
    assert node._describe() == "partition<3>"
    feed(source, [8])
    assert out[-1] == (6, 7, 8)


def test_partition_key_callable_and_index_keep_one_buffer_per_key():
    source = Stream()
    by_parity = source.partition(2, key=lambda x: x[1] % 2).sink_to_list()
    by_name = source.partition(2, key=0).sink_to_list()
    feed(source, [("a", 1), ("b", 2), ("a", 3), ("b", 4), ("a", 5)])
    assert by_parity == [(("a", 1), ("a", 3)), (("b", 2), ("b", 4))]
    assert by_name == [(("a", 1), ("a", 3)), (("b", 2), ("b", 4))]


def test_partition_key_error_is_annotated_and_node_keeps_working():
    source = Stream()
    out = source.partition(2, key="k").sink_to_list()
    source.emit({"k": 1, "v": "a"})
    with pytest.raises(KeyError) as info:
        source.emit({})
    assert "in partition<2> (element {})" in info.value.__notes__
    source.emit({"k": 1, "v": "b"})
    assert out == [({"k": 1, "v": "a"}, {"k": 1, "v": "b"})]


@pytest.mark.parametrize(
    ("n", "error"), [(0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)]
)
def test_partition_rejects_bad_sizes(n, error):
    with pytest.raises(error, match="partition"):
        Stream().partition(n)


def test_partition_releases_refs_once_tuple_is_accepted():
    ra, fired = counted()
    source = Stream()
    out = source.partition(2).sink_to_list()
    source.emit("a", metadata=[{"ref": ra}])
    assert (ra.count, fired, out) == (1, [], [])
    source.emit("b")
    assert (ra.count, fired, out) == (0, [1], [("a", "b")])


def test_partition_failed_output_is_not_acknowledged():
    ra, fired = counted()
    source = Stream()
    source.partition(2).sink(fail)
    source.emit("a", metadata=[{"ref": ra}])
    with pytest.raises(RuntimeError, match="sink down"):
        source.emit("b")
    assert ra.count > 0
    assert fired == []


@settings(max_examples=100)
@given(ints, st.integers(1, 5))
def test_partition_matches_toolz(xs, n):
    source = Stream()
    out = source.partition(n).sink_to_list()
    feed(source, xs)
    assert out == list(toolz.partition(n, xs))


@settings(max_examples=100)
@given(ints, st.integers(1, 4), st.integers(1, 4))
def test_partition_by_key_matches_reference(xs, n, m):
    def key(x):
        return x % m

    expected, buffers = [], {}
    for x in xs:
        buf = buffers.setdefault(key(x), [])
        buf.append(x)
        if len(buf) == n:
            expected.append(tuple(buf))
            del buffers[key(x)]
    source = Stream()
    out = source.partition(n, key=key).sink_to_list()
    feed(source, xs)
    assert out == expected


# ------------------------------------------------------------------ partition_unique


def test_partition_unique_keep_first_and_last():
    source = Stream()
    first = source.partition_unique(3).sink_to_list()
    last = source.partition_unique(3, keep="last").sink_to_list()
    feed(source, [1, 2, 1, 3, 1, 3, 3, 2])
    assert first == [(1, 2, 3), (1, 3, 2)]
    assert last == [(2, 1, 3), (1, 3, 2)]


def test_partition_unique_with_key():
    source = Stream()
    node = source.partition_unique(2, key=0, keep="last")
    out = node.sink_to_list()
    feed(source, [("a", 1), ("a", 2), ("b", 3)])
    assert out == [(("a", 2), ("b", 3))]
    assert node._describe() == "partition_unique<2>"


def test_partition_unique_rejects_bad_keep():
    with pytest.raises(ValueError, match="keep"):
        Stream().partition_unique(2, keep="middle")


def test_partition_unique_releases_replaced_and_emitted_elements():
    r1, fired1 = counted()
    r2, _ = counted()
    source = Stream()
    source.partition_unique(2, keep="last").sink_to_list()
    source.emit(1, metadata=[{"ref": r1}])
    assert r1.count == 1
    source.emit(1, metadata=[{"ref": r2}])  # replaces the first 1
    assert (r1.count, fired1, r2.count) == (0, [1], 1)
    source.emit(2)
    assert r2.count == 0


def reference_partition_unique(xs, n, key, keep):
    out, held = [], {}
    for x in xs:
        k = key(x)
        if k in held:
            if keep == "first":
                continue
            del held[k]  # the newest moves to the end
        held[k] = x
        if len(held) == n:
            out.append(tuple(held.values()))
            held = {}
    return out


@settings(max_examples=100)
@given(ints, st.integers(1, 4), st.sampled_from(["first", "last"]))
def test_partition_unique_matches_reference(xs, n, keep):
    def key(x):
        return x % 5

    source = Stream()
    out = source.partition_unique(n, key=key, keep=keep).sink_to_list()
    feed(source, xs)
    assert out == reference_partition_unique(xs, n, key, keep)


# ------------------------------------------------------------------ sliding_window


def test_sliding_window_partial_and_full():
    source = Stream()
    node = source.sliding_window(3)
    every = node.sink_to_list()
    full = source.sliding_window(3, return_partial=False).sink_to_list()
    feed(source, range(4))
    assert every == [(0,), (0, 1), (0, 1, 2), (1, 2, 3)]
    assert full == [(0, 1, 2), (1, 2, 3)]
    assert node._describe() == "sliding_window<3>"


def test_sliding_window_rejects_zero():
    with pytest.raises(ValueError, match="sliding_window"):
        Stream().sliding_window(0)


def test_sliding_window_releases_element_once_its_last_window_went_out():
    refs = [RefCounter() for _ in range(3)]
    source = Stream()
    out = source.sliding_window(2).sink_to_list()
    counts = []
    for i, ref in enumerate(refs):
        source.emit(i, metadata=[{"ref": ref}])
        counts.append([r.count for r in refs])
    # 0 is in (0,) and (0, 1): released with (0, 1), not when 2 arrives
    assert counts == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert out == [(0,), (0, 1), (1, 2)]


@pytest.mark.parametrize("partial", [True, False])
def test_sliding_window_of_three_holds_each_element_for_three_windows(partial):
    refs = [RefCounter() for _ in range(4)]
    source = Stream()
    source.sliding_window(3, return_partial=partial).sink_to_list()
    counts = []
    for i, ref in enumerate(refs):
        source.emit(i, metadata=[{"ref": ref}])
        counts.append([r.count for r in refs])
    assert counts == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]


async def test_sliding_window_releases_the_oldest_once_a_slow_consumer_took_its_window():
    ra, fired = counted()
    gate = asyncio.Event()

    async def slow(window):
        await gate.wait()

    source = Stream()
    source.sliding_window(1).sink(slow)
    pending = asyncio.ensure_future(source.emit("a", metadata=[{"ref": ra}]))
    await spin()
    # retained by the emitter and by the window, which is still being consumed
    assert (ra.count, fired) == (2, [])
    gate.set()
    await pending
    assert (ra.count, fired) == (0, [1])


def test_sliding_window_keeps_the_oldest_retained_when_its_last_window_failed():
    ra, fired = counted()
    source = Stream()
    source.sliding_window(1).sink(fail)
    with pytest.raises(RuntimeError, match="sink down"):
        source.emit("a", metadata=[{"ref": ra}])
    # neither the emitter nor the window lets go: a failed element is never acknowledged
    assert (ra.count, fired) == (2, [])


@settings(max_examples=100)
@given(ints, st.integers(1, 5))
def test_sliding_window_full_matches_toolz(xs, n):
    source = Stream()
    out = source.sliding_window(n, return_partial=False).sink_to_list()
    feed(source, xs)
    assert out == list(toolz.sliding_window(n, xs))


@settings(max_examples=100)
@given(ints, st.integers(1, 5))
def test_sliding_window_partial_matches_reference(xs, n):
    source = Stream()
    out = source.sliding_window(n).sink_to_list()
    feed(source, xs)
    assert out == [tuple(xs[max(0, i + 1 - n) : i + 1]) for i in range(len(xs))]


# ------------------------------------------------------------------ collect / flush


def test_collect_flush_emits_and_empties():
    source = Stream()
    node = source.collect()
    out = node.sink_to_list()
    feed(source, [1, 2])
    assert out == []
    node.flush()
    node.flush()
    source.emit(3)
    node.flush()
    assert out == [(1, 2), (), (3,)]


def test_flush_as_sink_of_another_stream():
    source, ticks = Stream(), Stream()
    collector = source.collect()
    out = collector.sink_to_list()
    ticks.sink(collector.flush)
    feed(source, "ab")
    ticks.emit("now")
    source.emit("c")
    ticks.emit("again")
    assert out == [("a", "b"), ("c",)]


def test_collect_releases_after_flush_unless_output_fails():
    ra, fired = counted()
    rb, _ = counted()
    source = Stream()
    node = source.collect()
    sink = node.sink_to_list()
    source.emit("a", metadata=[{"ref": ra}])
    assert (ra.count, fired) == (1, [])
    node.flush()
    assert (ra.count, fired, sink) == (0, [1], [("a",)])
    node.sink(fail)
    source.emit("b", metadata=[{"ref": rb}])
    with pytest.raises(RuntimeError, match="sink down"):
        node.flush()
    assert rb.count == 1


def test_collect_flush_returns_awaitable_for_slow_sink():
    async def main():
        gate = asyncio.Event()
        seen = []

        async def slow(x):
            await gate.wait()
            seen.append(x)

        source = Stream()
        node = source.collect()
        node.sink(slow)
        source.emit(1)
        task = asyncio.ensure_future(node.flush())
        await spin()
        assert not task.done()
        gate.set()
        await finished(task)
        assert seen == [(1,)]

    asyncio.run(main())


def test_flush_from_a_plain_script_runs_on_the_graph_loop():
    # delay needs a loop: flush routes through it as emit does, from a plain thread
    source = Stream()
    held = source.collect()
    out = held.delay(0.01).sink_to_list()
    for x in "abc":
        source.emit(x)
    held.flush()
    source.drain()
    assert out == [("a", "b", "c")]


def test_a_failed_flush_keeps_the_cache_and_its_refs():
    ref, fired = counted()
    source = Stream()
    held = source.collect()
    attempts = []

    def flaky(x):
        attempts.append(x)
        if len(attempts) == 1:
            raise RuntimeError("sink down")

    held.sink(flaky)
    source.emit("a", metadata=[{"ref": ref}])
    source.emit("b")
    with pytest.raises(RuntimeError, match="sink down"):
        held.flush()
    assert list(held.cache) == ["a", "b"] and (ref.count, fired) == (1, [])
    source.emit("c")
    held.flush()
    assert attempts == [("a", "b"), ("a", "b", "c")]
    assert (ref.count, fired, list(held.cache)) == (0, [1], [])


def test_a_failed_flush_keeps_a_list_cache_in_order():
    source = Stream()
    held = source.collect(cache=[])
    held.sink(fail)
    source.emit(1)
    source.emit(2)
    with pytest.raises(RuntimeError):
        held.flush()
    assert held.cache == [1, 2]


# ------------------------------------------------------------------ frequencies


def test_frequencies_emits_snapshots():
    source = Stream()
    node = source.frequencies(stream_name="counts")
    out = node.sink_to_list()
    feed(source, "aba")
    assert out == [{"a": 1}, {"a": 1, "b": 1}, {"a": 2, "b": 1}]
    assert node._describe() == "counts"


def test_frequencies_unhashable_element_is_annotated():
    source = Stream()
    out = source.frequencies().sink_to_list()
    with pytest.raises(TypeError) as info:
        source.emit([1])
    assert "in frequencies (element [1])" in info.value.__notes__
    source.emit(1)
    assert out == [{1: 1}]


@settings(max_examples=100)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=40))
def test_frequencies_matches_counter(xs):
    source = Stream()
    out = source.frequencies().sink_to_list()
    feed(source, xs)
    assert out[-1] == dict(Counter(xs)) == toolz.frequencies(xs)
    assert [sum(d.values()) for d in out] == list(range(1, len(xs) + 1))


# ------------------------------------------------------------------ back pressure


def test_partition_completing_element_waits_for_slow_sink():
    async def main():
        gate = asyncio.Event()
        seen = []

        async def slow(x):
            await gate.wait()
            seen.append(x)

        source = Stream()
        source.partition(2).sink(slow)
        await source.emit(1, asynchronous=True)  # held: nothing to wait for

        async def emit_second():
            await source.emit(2, asynchronous=True)

        task = asyncio.create_task(emit_second())
        await spin()
        assert not task.done()
        gate.set()
        await finished(task)
        assert seen == [(1, 2)]

    asyncio.run(main())
