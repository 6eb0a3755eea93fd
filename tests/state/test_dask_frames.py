"""Durable state of the Dask nodes (streams/state/distributed.py) and of the event-time
windows of streaming DataFrames (streams/state/frames.py): a graph stopped part-way and
restarted from its store gives, over both runs, exactly the output of one uninterrupted
run; and a cut waits for what is still being computed on the cluster.

Dask runs on a real threads cluster started here (one worker, two threads), so the task
functions below run in this process: a gate (a ``threading.Event``) holds a task on the
cluster for as long as a test needs it there.
"""

import asyncio
import random
import threading
from datetime import datetime, timedelta

import pandas as pd
import pytest
from distributed import Client, LocalCluster

from streams import Stream
from streams.dask import Batch
from streams.dataframe import DataFrame
from streams.state import Checkpointer, DurabilityError, MemoryStore
from streams.state.nodes import adapter_of
from streams.testing import run_virtual, timeline
from streams.windows import EventClock, Hopping, Session, Sliding, Tumbling

EVERY = 3


# ------------------------------------------------------------------ harness


class Store(MemoryStore):
    """A MemoryStore that loses every checkpoint after ``keep`` (a crash right after it)
    and notes how long the given lists were when the last kept one committed."""

    def __init__(self, keep=None, watched=()):
        super().__init__()
        self.keep = keep
        self.watched = list(watched)
        self.lengths = None

    def commit(self, checkpoint):
        if self.keep is not None and checkpoint.id > self.keep:
            return
        super().commit(checkpoint)
        self.lengths = [len(x) for x in self.watched]


def run(source, store, every=EVERY, **options):
    """Run the graph of ``source`` under a Checkpointer until the source is done."""

    async def main():
        async with Checkpointer(source, store=store, interval=None, every=every, **options):
            await source.wait()

    asyncio.run(main())


def killed_and_restarted(graph, items, keep):
    """Run ``graph`` over ``items`` with a checkpoint every 5 elements, lose every
    checkpoint after ``keep`` (a crash right after it), and restart. Returns the first
    run's outputs as far as the kept checkpoint (a durable sink would have truncated the
    rest), the restart's outputs and the restored position."""
    store = Store(keep=keep)
    graph(items, store, every=5, wait_for_commit=True, watch=store.watched)
    kept = [out[:n] for out, n in zip(store.watched, store.lengths, strict=True)]
    position = store.load().positions
    store.keep = None
    second = graph(items, store)
    return kept, second, position


# ------------------------------------------------------------------ Dask

CLUSTER_OPTIONS = {  # (as tests/test_dask.py: no dashboard, no port 8787 warning)
    "dashboard_address": None,
    "scheduler_kwargs": {"dashboard_address": ":0"},
}


@pytest.fixture(scope="module")
def cluster():
    options = {"processes": False, "n_workers": 1, "threads_per_worker": 2}
    with LocalCluster(**options, **CLUSTER_OPTIONS) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    with Client(cluster, set_as_default=False) as c:
        yield c


GATE = threading.Event()  # a held task waits for it (at most 10 s)
HELD = threading.Event()  # set once the held task runs on the cluster
HOLD = 4  # the element whose task is held


@pytest.fixture
def gate():
    GATE.clear()
    HELD.clear()
    yield GATE
    GATE.set()  # never leave a worker thread waiting


def doubled(kv):
    return (kv[0], 2 * kv[1])


def user(kv):
    return kv[0]


def add(a, b):
    return a + b


def add_amount(total, kv):
    return total + kv[1]


def add_pair(state, x):
    """An accumulate step returning (new state, result)."""
    return state + x, (state + x) * 10


def held_square(x):
    """``x * x``; the task of ``HOLD`` waits for the gate."""
    if x == HOLD:
        HELD.set()
        GATE.wait(10)
    return x * x


def held_add(total, x):
    """``total + x``; the task adding ``HOLD`` waits for the gate."""
    if x == HOLD:
        HELD.set()
        GATE.wait(10)
    return total + x


_random = random.Random(11)
PAIRS = [(f"u{_random.randrange(4)}", _random.randrange(10)) for _ in range(25)]
SPLIT = 13  # the first run's elements: every case holds state there

DASK = {
    # name: the graph between the source and the recorded node
    "gather_then_keyed_accumulate": lambda s, c: (
        s.scatter(client=c)
        .map(doubled)
        .gather()
        .accumulate(add_amount, start=0, key=user, stream_name="node")
    ),
    "batched_scatter": lambda s, c: (
        s.scatter(client=c, batch_size=4, stream_name="sc").map(doubled).gather()
    ),
    "remote_unique": lambda s, c: (
        s.scatter(client=c).unique(key=user, maxsize=2, stream_name="node").gather()
    ),
    "remote_accumulate": lambda s, c: (
        s.scatter(client=c).pluck(1).accumulate(add, stream_name="node").gather()
    ),
    "remote_accumulate_returns_state": lambda s, c: (
        s.scatter(client=c)
        .pluck(1)
        .accumulate(add_pair, start=0, returns_state=True, stream_name="node")
        .gather()
    ),
    "batched_accumulate": lambda s, c: (
        s.scatter(client=c, batch_size=3, stream_name="sc")
        .pluck(1)
        .accumulate(add, start=0, stream_name="node")
        .gather()
    ),
    "batched_unique": lambda s, c: (
        s.scatter(client=c, batch_size=3, stream_name="sc")
        .unique(key=user, stream_name="node")
        .gather()
    ),
}


def dask_cases(names=None):
    return list(names or DASK)


def dask_run(kind, client):
    """A function running case ``kind`` over some items into a store; returns its output."""

    def graph(items, store, watch=None, **options):
        source = Stream.from_iterable(items, stream_name="src")
        out = DASK[kind](source, client).sink_to_list()
        if watch is not None:
            watch.append(out)
        run(source, store, **options)
        return out

    return graph


@pytest.mark.parametrize("kind", dask_cases())
def test_dask_cases_need_their_state(kind, client):
    """Each case's graph holds state after ``SPLIT`` elements that changes its output: a
    restart that lost it would not pass the tests below."""
    graph = dask_run(kind, client)
    expected = graph(PAIRS, MemoryStore())
    assert graph(PAIRS[:SPLIT], MemoryStore()) + graph(PAIRS[SPLIT:], MemoryStore()) != expected


@pytest.mark.parametrize("kind", dask_cases())
def test_dask_stopped_half_way_and_restarted(kind, client, open_store):
    graph = dask_run(kind, client)
    expected = graph(PAIRS, MemoryStore())
    first = graph(PAIRS[:SPLIT], open_store())
    second = graph(PAIRS, open_store())  # the same store: resumes at element SPLIT
    assert first and second
    assert first + second == expected


@pytest.mark.parametrize(
    "kind", dask_cases(["gather_then_keyed_accumulate", "batched_scatter", "batched_accumulate"])
)
def test_dask_killed_after_a_checkpoint_and_restarted(kind, client):
    """A crash right after checkpoint 2 (element 10) is done again from there."""
    graph = dask_run(kind, client)
    expected = graph(PAIRS, MemoryStore())
    (before,), after, position = killed_and_restarted(graph, PAIRS, keep=2)
    assert position == {"src": 10}
    assert before + after == expected


def test_what_a_batch_stores():
    """A batch stores its partial batch (elements only), and a restored one goes on
    filling it."""
    source = Stream()
    batch = Batch(source, 4, stream_name="sc.batch")
    for x in "abcdef":
        source.emit(x)
    adapter = adapter_of(batch)
    assert adapter.snapshot(batch).value == [(None, ["e", "f"], None)]
    fresh = Batch(Stream(), 4)
    adapter.restore(fresh, [(None, ["e", "f"], None)])
    out = fresh.sink_to_list()
    fresh.upstreams[0].emit("g")
    fresh.upstreams[0].emit("h")
    assert out == [["e", "f", "g", "h"]]


def test_scatter_and_gather_need_no_name(client):
    source = Stream.from_iterable(range(3), stream_name="src")
    source.scatter(client=client).gather().sink_to_list()
    Checkpointer(source, store=MemoryStore())  # accepted: they hold nothing at a cut


def test_an_unnamed_batched_scatter_is_refused_with_advice(client):
    source = Stream.from_iterable(range(3), stream_name="src")
    source.scatter(client=client, batch_size=2).gather()
    with pytest.raises(DurabilityError, match=r"name the scatter \(scatter\(batch_size="):
        Checkpointer(source, store=MemoryStore())


@pytest.mark.parametrize(
    "build",
    [
        lambda s: s.sliding_window(3, stream_name="node"),
        lambda s: s.partition(2, stream_name="node"),
        lambda s: s.map(add, 1).zip(s, stream_name="node"),
    ],
)
def test_stateful_nodes_holding_futures_are_refused(build, client):
    source = Stream.from_iterable(range(3), stream_name="src")
    build(source.scatter(client=client))
    with pytest.raises(DurabilityError, match=r"node: .*Dask futures.*gather\(\) first"):
        Checkpointer(source, store=MemoryStore())


def test_a_batch_timeout_goes_on_with_the_time_left():
    """``scatter(batch_size=..., timeout=...)``: a restored partial batch is sent as long
    after the restart as its timer had left at the cut."""

    async def first():
        source = Stream()
        batch = Batch(source, 3, timeout=1.0, stream_name="sc.batch")
        await source.emit("a")
        await asyncio.sleep(0.25)
        await source.emit("b")
        await asyncio.sleep(0.5)
        return adapter_of(batch).snapshot(batch).value

    stored = run_virtual(first())
    assert stored == [(None, ["a", "b"], 0.25)]

    async def restarted():
        batch = Batch(Stream(), 3, timeout=1.0, stream_name="sc.batch")
        adapter_of(batch).restore(batch, stored)
        out = timeline(batch)
        await asyncio.sleep(2)
        return out

    assert run_virtual(restarted(), start=10.0) == [(10.25, ["a", "b"])]


# ------------------------------------------------------------------ the cut and the cluster


@pytest.mark.real_time
async def test_the_cut_waits_for_elements_on_the_cluster(client, gate):
    """A checkpoint asked for while an element is computed on the cluster is cut after
    that element went through gather: the stored state is that of the stored position."""
    source = Stream.from_iterable(range(10), stream_name="src")
    totals = (
        source.scatter(client=client)
        .map(held_square)
        .gather()
        .accumulate(add, start=0, stream_name="total")
    )
    store = MemoryStore()
    async with Checkpointer(source, store=store, interval=None) as ck:
        assert await asyncio.to_thread(HELD.wait, 10)  # element 4 is on the cluster
        checkpoint = asyncio.ensure_future(ck.checkpoint())
        done, _ = await asyncio.wait({checkpoint}, timeout=0.3)
        assert not done, "the cut was taken while an element was on the cluster"
        gate.set()
        await asyncio.wait_for(checkpoint, 10)
        stored = store.load()
        await source.wait()
    position = stored.positions["src"]
    assert position > HOLD
    assert stored.state["total"] == sum(x * x for x in range(position))
    assert totals.state == sum(x * x for x in range(10))


@pytest.mark.real_time
@pytest.mark.parametrize("asynchronous", [False, True])
async def test_the_cut_fetches_a_remote_state_still_computing(cluster, client, gate, asynchronous):
    """A remote accumulate's state is a future nothing waits for (no gather): the cut
    waits until it is computed and stores its value, and the graph goes on from there."""
    if asynchronous:
        async with Client(cluster.scheduler_address, asynchronous=True) as aclient:
            await _fetch_a_held_state(aclient, gate)
    else:
        await _fetch_a_held_state(client, gate)


async def _fetch_a_held_state(client, gate):
    source = Stream.from_iterable(range(10), stream_name="src")
    source.scatter(client=client).accumulate(held_add, start=0, stream_name="total")
    store = MemoryStore()
    async with Checkpointer(source, store=store, interval=None) as ck:
        assert await asyncio.to_thread(HELD.wait, 10)  # the state after 4 is computing
        checkpoint = asyncio.ensure_future(ck.checkpoint())
        done, _ = await asyncio.wait({checkpoint}, timeout=0.3)
        assert not done, "the cut was taken while the state was computing"
        gate.set()
        await asyncio.wait_for(checkpoint, 10)
        stored = store.load()
        await source.wait()
    position = stored.positions["src"]
    assert position > HOLD
    assert stored.state["total"] == (True, sum(range(position)))
    # restarted with more input, the restored state goes on from the stored value
    source = Stream.from_iterable(range(15), stream_name="src")
    node = source.scatter(client=client).accumulate(held_add, start=0, stream_name="total")
    out = node.gather().sink_to_list()
    async with Checkpointer(source, store=store, interval=None):
        await source.wait()
    assert out == [sum(range(i + 1)) for i in range(10, 15)]


# ------------------------------------------------------------------ DataFrame windows

COLUMNS = ["ts", "user", "n", "x"]
EXAMPLE = pd.DataFrame({"ts": [0], "user": ["a"], "n": [0], "x": [0.0]})


def records(seed, count, disorder):
    """Rows with timestamps rising by 3, with up to ``disorder`` of jitter backwards."""
    rng = random.Random(seed)
    return [
        {
            "ts": max(0, i * 3 - rng.randrange(disorder + 1)),
            "user": rng.choice("abc"),
            "n": rng.randrange(10),
            "x": rng.randrange(8) / 4,  # binary fractions: sums compare exactly
        }
        for i in range(count)
    ]


def chunked(rows, seed, example=EXAMPLE):
    """The rows as frames of 1 to 30 rows (large ones take the tumbling fast road)."""
    rng = random.Random(seed)
    frames, i = [], 0
    while i < len(rows):
        size = rng.choice([1, 2, 5, 9, 30])
        frame = pd.DataFrame(rows[i : i + size], columns=list(example.columns))
        frames.append(frame.astype(example.dtypes.to_dict()))
        i += size
    return frames


START = datetime(2026, 1, 5, 9, 0)
AT_EXAMPLE = pd.DataFrame({"at": pd.to_datetime([START]), "user": ["a"], "n": [0]})


def at_records(seed, count):
    rows = records(seed, count, disorder=20)
    return [
        {"at": START + timedelta(seconds=r["ts"]), "user": r["user"], "n": r["n"]} for r in rows
    ]


def clock(bound, **options):
    return EventClock(timestamp="ts", max_out_of_order=bound, **options)


FRAMES = {
    # name: (chunks, example, build the panes from the streaming frame)
    "tumbling_sum": (
        chunked(records(1, 240, 40), 1),
        EXAMPLE,
        lambda f: f.window(
            Tumbling(20), clock=clock(15), key="user", allowed_lateness=10, stream_name="w"
        ).sum(),
    ),
    "tumbling_count_unkeyed": (
        chunked(records(2, 240, 40), 2),
        EXAMPLE,
        lambda f: f.window(Tumbling(7, offset=3), clock=clock(9), stream_name="w").count(),
    ),
    "hopping_mean": (
        chunked(records(3, 200, 30), 3),
        EXAMPLE,
        lambda f: f.window(
            Hopping(20, 5), clock=clock(10), key="user", allowed_lateness=6, stream_name="w"
        ).mean(),
    ),
    "session_max": (
        chunked(records(4, 200, 30), 4),
        EXAMPLE,
        lambda f: f.window(
            Session(4), clock=clock(12), key="user", allowed_lateness=5, stream_name="w"
        ).max(),
    ),
    "sliding_min": (
        chunked(records(5, 200, 30), 5),
        EXAMPLE,
        lambda f: f.window(Sliding(10), clock=clock(8), key="user", stream_name="w").min(),
    ),
    "tumbling_per_key_early": (
        chunked(records(6, 200, 30), 6),
        EXAMPLE,
        lambda f: f.window(
            Tumbling(15),
            clock=clock(10, per_key=True),
            key="user",
            early_count=3,
            allowed_lateness=4,
            stream_name="w",
        ).sum(),
    ),
    "tumbling_datetimes": (
        chunked(at_records(7, 200), 7, AT_EXAMPLE),
        AT_EXAMPLE,
        lambda f: f.window(
            Tumbling(timedelta(seconds=30)),
            clock=EventClock(timestamp="at", max_out_of_order=timedelta(seconds=12)),
            key="user",
            allowed_lateness=timedelta(seconds=5),
            stream_name="w",
        ).sum(),
    ),
}


def frame_run(kind):
    """A function running case ``kind`` over some chunks into a store; returns its
    outputs: the pane frames and the late frames."""
    _, example, build = FRAMES[kind]

    def graph(chunks, store, watch=None, **options):
        source = Stream.from_iterable(chunks, stream_name="src")
        out = build(DataFrame(stream=source, example=example))
        panes = out.stream.sink_to_list()
        late = out.late.stream.sink_to_list()
        if watch is not None:
            watch.extend([panes, late])
        run(source, store, **options)
        return panes, late

    return graph


def together(*frames):
    return pd.concat([f for fs in frames for f in fs], ignore_index=True)


def assert_same(runs, expected):
    """The panes and late rows of ``runs`` (one after the other) are ``expected``'s."""
    for i, what in enumerate(["panes", "late rows"]):
        got = [frame for outputs in runs for frame in outputs[i]]
        if got or expected[i]:
            pd.testing.assert_frame_equal(together(got), together(expected[i]), obj=what)


@pytest.mark.parametrize("kind", FRAMES)
def test_frame_windows_need_their_state(kind):
    """A restart without the state would not pass the tests below."""
    graph = frame_run(kind)
    chunks = FRAMES[kind][0]
    half = len(chunks) // 2
    panes, _ = graph(chunks, MemoryStore())
    first, _ = graph(chunks[:half], MemoryStore())
    second, _ = graph(chunks[half:], MemoryStore())
    assert not together(first, second).equals(together(panes))


@pytest.mark.parametrize("kind", FRAMES)
def test_frame_windows_stopped_half_way_and_restarted(kind, open_store):
    graph = frame_run(kind)
    chunks = FRAMES[kind][0]
    expected = graph(chunks, MemoryStore())
    first = graph(chunks[: len(chunks) // 2], open_store())
    second = graph(chunks, open_store())  # the same store: resumes at the half
    assert first[0] and second[0]
    assert_same([first, second], expected)


@pytest.mark.parametrize("kind", ["tumbling_sum", "session_max", "tumbling_datetimes"])
def test_frame_windows_killed_after_a_checkpoint_and_restarted(kind):
    """A crash right after checkpoint 2 (chunk 10) is done again from there."""
    graph = frame_run(kind)
    chunks = FRAMES[kind][0]
    expected = graph(chunks, MemoryStore())
    before, after, position = killed_and_restarted(graph, chunks, keep=2)
    assert position == {"src": 10}
    assert_same([before, after], expected)


def test_the_data_has_late_rows():
    """Late rows come out of ``.late`` in some cases, so that output is compared too."""
    for kind in ["tumbling_sum", "session_max"]:
        _, late = frame_run(kind)(FRAMES[kind][0], MemoryStore())
        assert sum(len(f) for f in late) > 0
