"""Checkpoints of the processing-time nodes (streams/state/timed.py): delay, rate_limit,
latest, timed_window, timed_window_unique and partition(timeout=...), on the virtual
clock.

Each run is one process: a fresh virtual-time loop starting at a chosen time, a graph
restored from the store, stopped (its last checkpoint) or killed (the loop ends: what
the graph held after the last checkpoint is lost). A restored node must emit what it
held at the cut, as long after the restart as it had left then.
"""

import asyncio
import copy
import pickle

import pytest

import streams.state.timed  # noqa: F401  (registers the adapters)
from streams import RefCounter, Stream
from streams.loop import sleep_until
from streams.state import Checkpointer, DurabilityError, MemoryStore, SQLiteStore
from streams.state.nodes import adapter_of
from streams.testing import run_virtual, timeline


class Store(MemoryStore):
    """A MemoryStore noting, at each commit, the loop time and how long the run's output
    was (an in-memory commit happens in the same step as the cut)."""

    def __init__(self):
        super().__init__()
        self.out = []
        self.cuts = []

    def commit(self, checkpoint):
        super().commit(checkpoint)
        self.cuts.append((asyncio.get_running_loop().time(), len(self.out)))


def slow_sink(node, seconds):
    """Sink ``node`` into a consumer taking ``seconds`` per element; returns its log of
    ``(time it started on x, x)``."""
    loop = asyncio.get_running_loop()
    seen = []

    async def consume(x):
        seen.append((loop.time(), x))
        await asyncio.sleep(seconds)

    node.sink(consume)
    return seen


def run(build, items, store, *, start=0.0, stop_at, checkpoint_at=None, every=None):
    """One process: restore from ``store`` (or start fresh) at loop time ``start``, feed
    ``items`` from a replayable source, and at ``stop_at`` stop (the last checkpoint)
    or, with ``checkpoint_at`` or ``every`` (a checkpoint after that many elements),
    get killed at ``stop_at``.

    ``build(source)`` returns the output list. Returns the time of the last cut and the
    output up to it (what a crash keeps).
    """

    async def main():
        source = Stream.from_iterable(items, stream_name="src")
        store.out = build(source)
        ck = Checkpointer(source, store=store, interval=None, every=every)
        await ck.start()
        if checkpoint_at is not None:
            await sleep_until(checkpoint_at)
            await ck.checkpoint()
        await sleep_until(stop_at)
        if checkpoint_at is None and every is None:
            await ck.stop()
        cut, kept = store.cuts[-1]
        return cut, store.out[:kept]

    return run_virtual(main(), start=start)


def state_of(store, name="node"):
    return store.load().state[name]


# ------------------------------------------------------------------ delay


def delay_graph(source):
    """Elements enter delay(10) one second apart."""
    return timeline(source.rate_limit(1, stream_name="rl").delay(10, stream_name="node"))


def test_delay_restored_emits_at_the_remaining_times():
    store = Store()
    cut, first = run(delay_graph, [1, 2, 3], store, stop_at=4)
    assert (cut, first) == (4.0, [])  # arrived at 0, 1, 2; due at 10, 11, 12
    assert state_of(store) == [(6.0, 1), (7.0, 2), (8.0, 3)]
    _, second = run(delay_graph, [1, 2, 3], store, start=100, stop_at=120)
    assert second == [(106.0, 1), (107.0, 2), (108.0, 3)]
    _, uninterrupted = run(delay_graph, [1, 2, 3], Store(), stop_at=120)
    assert uninterrupted == [(10.0, 1), (11.0, 2), (12.0, 3)]


def test_delay_killed_after_a_checkpoint_and_restarted():
    """A checkpoint after element 6 (at 5); killed at 8, the restart at 100 goes on as
    if the outage had not happened."""
    items = list(range(1, 9))
    store = Store()
    cut, first = run(delay_graph, items, store, every=6, stop_at=8)
    assert (cut, first) == (5.0, [])
    assert store.load().positions == {"src": 6}
    assert state_of(store, "rl") == 1.0  # item 7 may pass one second after the restart
    _, second = run(delay_graph, items, store, start=100, stop_at=130)
    _, uninterrupted = run(delay_graph, items, Store(), stop_at=30)
    assert [x for _, x in second] == items
    assert second == [(t + 95, x) for t, x in uninterrupted]  # shifted by the outage


def test_a_cut_does_not_wait_for_a_sleeping_delay():
    async def main():
        loop = asyncio.get_running_loop()
        store = MemoryStore()
        source = Stream.from_iterable([1, 2, 3], stream_name="src")
        node = source.delay(60, stream_name="node")
        out = timeline(node)
        ck = Checkpointer(source, store=store, interval=None)
        await ck.start()
        await asyncio.sleep(5)
        await ck.checkpoint()
        assert loop.time() == 5.0  # the cut did not wait for the delay to empty
        assert node._held_count() == 3
        assert state_of(store) == [(55.0, 1), (55.0, 2), (55.0, 3)]
        await sleep_until(61)
        assert out == [(60.0, 1), (60.0, 2), (60.0, 3)]  # the delay went on as before
        await ck.stop()

    run_virtual(main())


def test_a_cut_waits_while_a_delay_pushes_and_pauses_it_then():
    """The consumer takes 5 s: the cut asked for at 2 waits for element 1 to be
    accepted (at 6), and is taken before the delay pushes element 2, although 2 and 3
    are overdue (without the pause it would wait for them too)."""

    def build(source):
        return slow_sink(source.delay(1, stream_name="node"), 5)

    store = Store()
    cut, first = run(build, [1, 2, 3], store, checkpoint_at=2, stop_at=7)
    assert (cut, first) == (6.0, [(1.0, 1)])
    assert state_of(store) == [(-5.0, 2), (-5.0, 3)]  # overdue: emitted at once
    _, second = run(build, [1, 2, 3], store, start=100, stop_at=120)
    assert second == [(100.0, 2), (105.0, 3)]


def test_a_delay_with_emitters_waiting_for_room_is_not_paused():
    """A buffer's worker waits for room in a full delay: the cut waits for it, so the
    delay must go on making room meanwhile (a paused delay would hold the cut until it
    gave up): the cut is taken once the buffer is empty, at 2."""

    def build(source):
        node = source.buffer(10).delay(1, maxsize=1, stream_name="node")
        return timeline(node)

    store = Store()
    cut, first = run(build, [1, 2, 3], store, checkpoint_at=0.5, stop_at=2.5)
    assert (cut, first) == (pytest.approx(2.0), [(1.0, 1), (2.0, 2)])
    ((left, x),) = state_of(store)
    assert (left, x) == (pytest.approx(1.0), 3)


# ------------------------------------------------------------------ rate_limit


def test_rate_limit_restores_when_the_next_element_may_pass():
    def build(source):
        return timeline(source.rate_limit(4, stream_name="node"))

    store = Store()
    cut, first = run(build, "abc", store, stop_at=9)
    assert (cut, first) == (9.0, [(0.0, "a"), (4.0, "b"), (8.0, "c")])
    assert state_of(store) == 3.0  # the next may pass at 12
    _, second = run(build, "abcde", store, start=100, stop_at=120)
    assert second == [(103.0, "d"), (107.0, "e")]
    store = Store()
    run(build, "abc", store, stop_at=20)
    assert state_of(store) is None  # long enough after the last: at once
    _, second = run(build, "abcde", store, start=100, stop_at=120)
    assert second == [(100.0, "d"), (104.0, "e")]


# ------------------------------------------------------------------ latest


def test_latest_restores_the_element_waiting_for_the_busy_consumer():
    """Element 1 goes to a consumer taking 5 s; 2..5 arrive meanwhile and only 5 is
    kept. The cut asked for at 3.5 waits until 1 is accepted (at 5)."""

    def build(source):
        node = source.rate_limit(1, stream_name="rl").latest(stream_name="node")
        return slow_sink(node, 5)

    items = [1, 2, 3, 4, 5]
    store = Store()
    cut, first = run(build, items, store, checkpoint_at=3.5, stop_at=6)
    assert (cut, first) == (5.0, [(0.0, 1)])
    assert state_of(store) == [5]
    _, second = run(build, items, store, start=100, stop_at=120)
    assert second == [(100.0, 5)]
    _, uninterrupted = run(build, items, Store(), stop_at=20)
    assert uninterrupted == [(0.0, 1), (5.0, 5)]


def test_latest_without_a_consumer_keeps_its_held_element():
    async def main():
        source = Stream()
        node = source.latest(stream_name="node")
        await source.emit("x")
        adapter = adapter_of(node)
        held = adapter.snapshot(node).value
        assert held == ["x"]
        restored = Stream().latest(stream_name="node")
        adapter.restore(restored, held)
        out = []
        restored.sink(out.append)
        await restored.emit("y")
        await asyncio.sleep(0)
        assert out == ["y"]  # y replaced x: the newest is passed on

    run_virtual(main())


# ------------------------------------------------------------------ timed windows


def test_timed_window_restored_emits_its_window_at_the_remaining_tick():
    def build(source):
        return timeline(source.timed_window(4, stream_name="node"))

    store = Store()
    cut, first = run(build, [1, 2, 3, 4, 5], store, stop_at=1.5)
    assert (cut, first) == (1.5, [])
    assert state_of(store) == ([1, 2, 3, 4, 5], 2.5)
    _, second = run(build, list(range(1, 9)), store, start=100, stop_at=107)
    # 6, 7 and 8 join the restored window; the ticks go on every 4 s from there
    assert second == [(102.5, [1, 2, 3, 4, 5, 6, 7, 8]), (106.5, [])]


def test_a_window_built_before_its_loop_runs_is_restored_too():
    """The graph gets its loop only when the checkpointer starts the source, after the
    restore: the restored ticks are kept, not restarted a whole interval later."""
    store = Store()
    run(lambda s: timeline(s.timed_window(4, stream_name="node")), [1, 2], store, stop_at=1.5)
    source = Stream.from_iterable([1, 2, 3], stream_name="src")
    node = source.timed_window(4, stream_name="node")
    out = []
    node.sink(lambda w: out.append((asyncio.get_running_loop().time(), w)))

    async def main():
        async with Checkpointer(source, store=store, interval=None):
            await sleep_until(107)

    run_virtual(main(), start=100)
    assert out == [(102.5, [1, 2, 3]), (106.5, [])]


def test_timed_window_unique_restored_keeps_its_order_and_keys():
    def build(source):
        node = source.timed_window_unique(4, key=lambda x: x % 3, keep="last", stream_name="node")
        return timeline(node)

    store = Store()
    run(build, [1, 2, 3, 4, 5], store, stop_at=1.5)
    assert state_of(store) == ([(0, 3), (1, 4), (2, 5)], 2.5)
    _, second = run(build, list(range(1, 9)), store, start=100, stop_at=103)
    _, uninterrupted = run(build, list(range(1, 9)), Store(), stop_at=5)
    assert second == [(102.5, (6, 7, 8))]
    assert uninterrupted == [(4.0, (6, 7, 8))]


def test_a_cut_waits_while_a_window_is_pushed():
    """The window of tick 4 goes to a consumer taking 3 s: a cut asked for at 5 is taken
    once it was accepted (at 7), with the next window open and due at 8."""

    def build(source):
        return slow_sink(source.timed_window(4, stream_name="node"), 3)

    store = Store()
    cut, first = run(build, [1, 2], store, checkpoint_at=5, stop_at=7.5)
    assert (cut, first) == (7.0, [(4.0, [1, 2])])
    assert state_of(store) == ([], 1.0)
    _, second = run(build, [1, 2, 3], store, start=100, stop_at=106)
    assert second == [(101.0, [3]), (105.0, [])]


def test_a_tick_during_a_cut_leaves_the_window_open():
    """A delay pushes element 1 to a consumer busy until 6; a cut asked for just before
    the window's tick waits for that push, and the tick meanwhile does not emit the
    window (the cut would then see it half delivered): it stays open, due at once, and
    the restored node emits it on restart."""
    tick = 6 - 1 / 64

    def build(source):
        windows = timeline(source.timed_window(tick, stream_name="win"))
        slow_sink(source.delay(1, stream_name="node"), 5)
        return windows

    store = Store()
    cut, first = run(build, [1, 2], store, checkpoint_at=6 - 1 / 32, stop_at=7)
    assert (cut, first) == (6.0, [])
    assert state_of(store, "win") == ([1, 2], 0.0)
    assert state_of(store) == [(-5.0, 2)]
    _, second = run(build, [1, 2], store, start=100, stop_at=105)
    assert second == [(100.0, [1, 2])]


# ------------------------------------------------------------------ partition


def test_partition_with_a_timeout_restores_each_group_s_remaining_time():
    def build(source):
        node = source.rate_limit(1, stream_name="rl").partition(
            3, timeout=5, key=lambda x: x % 2, stream_name="node"
        )
        return timeline(node)

    store = Store()
    cut, first = run(build, [1, 2, 3, 4], store, stop_at=3.5)
    assert (cut, first) == (3.5, [])
    # odd group started at 0, even at 1: they time out at 5 and 6
    assert state_of(store) == ({1: [1, 3], 0: [2, 4]}, {1: 1.5, 0: 2.5})
    _, second = run(build, [1, 2, 3, 4, 5], store, start=100, stop_at=110)
    # 5 passes rate_limit at 100.5 and fills the odd group; the even one times out
    assert second == [(100.5, (1, 3, 5)), (102.5, (2, 4))]
    _, uninterrupted = run(build, [1, 2, 3, 4, 5], Store(), stop_at=10)
    assert uninterrupted == [(4.0, (1, 3, 5)), (6.0, (2, 4))]


def test_partition_without_a_timeout_is_stored_as_before():
    source = Stream()
    node = source.partition(3, stream_name="node")
    source.emit(1)
    assert adapter_of(node).snapshot(node).value == {None: [1]}


def test_a_timeout_is_armed_for_a_group_stored_without_one():
    """A store written by the graph without a timeout, restored into one with: each
    group gets a whole timeout."""

    async def main():
        node = Stream().partition(3, timeout=2, stream_name="node")
        out = timeline(node)
        adapter_of(node).restore(node, {None: [1, 2]})
        await asyncio.sleep(5)
        assert out == [(2.0, (1, 2))]

    run_virtual(main())


# ------------------------------------------------------------------ snapshots


def held_everywhere(source):
    """Nodes of every kind, each holding elements (fed at 0, snapshot at 1)."""
    return {
        "delay": source.delay(10),
        "latest": source.latest(),
        "rate_limit": source.rate_limit(5),
        "timed_window": source.timed_window(4),
        "timed_window_unique": source.timed_window_unique(4, key=lambda x: x % 2),
        "partition": source.partition(9, timeout=5, key=lambda x: x % 2),
    }


async def test_a_snapshot_is_a_copy_without_metadata():
    """The store pickles a snapshot after the graph went on: later elements must not
    change it, and it holds no metadata (refs are not state)."""
    source = Stream()
    nodes = held_everywhere(source)
    ref = RefCounter(cb=lambda: None)
    await source.emit(1, metadata=[{"ref": ref}])
    await asyncio.sleep(1)
    snapshots = {kind: adapter_of(node).snapshot(node) for kind, node in nodes.items()}
    frozen = copy.deepcopy(snapshots)
    assert b"RefCounter" not in pickle.dumps(snapshots)
    for x in range(2, 9):
        await source.emit(x)
    assert snapshots == frozen
    assert snapshots["delay"].value == [(9.0, 1)]
    assert snapshots["rate_limit"].value == 4.0


def test_the_state_goes_through_an_sqlite_store(tmp_path):
    """Stopped at 4 and restarted at 50 from the file, as a new process would."""

    def once(start, stop_at):
        async def main():
            source = Stream.from_iterable([1, 2, 3], stream_name="src")
            out = delay_graph(source)
            store = SQLiteStore(tmp_path / "state.db")
            try:
                async with Checkpointer(source, store=store, interval=None):
                    await sleep_until(stop_at)
            finally:
                store.close()
            return out

        return run_virtual(main(), start=start)

    once(0, 4)  # (its commit runs in a thread, while the virtual clock goes on)
    assert once(50, 70) == [(56.0, 1), (57.0, 2), (58.0, 3)]


@pytest.mark.parametrize("kind", ["delay", "latest", "timed_window"])
def test_an_unnamed_node_is_refused(kind):
    source = Stream.from_iterable([1], stream_name="src")
    getattr(source, kind)(*([] if kind == "latest" else [1]))
    with pytest.raises(DurabilityError, match="needs a stream_name"):
        Checkpointer(source, store=MemoryStore())
