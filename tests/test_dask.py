"""Scale-out to Dask (streams.dask): scatter/gather, the distributed variants of every
operator, batching, clients, back pressure, worker loss, resources and errors.

Everything runs against real ``distributed`` clusters started here (no mocks):

- ``cluster``/``client``: a threads cluster (2 workers x 1 thread) shared by the
  module, with a synchronous client that is *not* the default client (tests that need
  a default client say so with ``client.as_current()``);
- ``wide_client``: a threads cluster with 8 threads, where concurrency and completion
  order are measured (task functions in ``dask_probe`` record them: same process);
- a processes cluster, only in the worker-loss test.

Every distributed pipeline is compared with the same pipeline run locally.
"""

import asyncio
import gc
import itertools
import logging
import os
import signal
import threading
import time

import dask_probe as probe
import distributed
import pytest
import toolz
from distributed import Client, LocalCluster

from streams import ErrorRecord, Stream, retry

# distributed always starts the scheduler's HTTP server; with dashboard_address=None it
# still tries port 8787 and warns when it is taken (warnings are errors here), so the
# server goes on a free port while the dashboard stays off.
CLUSTER_OPTIONS = {
    "dashboard_address": None,
    "scheduler_kwargs": {"dashboard_address": ":0"},
}


def make_cluster(**kwargs):
    options = {"processes": False, "n_workers": 2, "threads_per_worker": 1}
    options.update(kwargs)
    return LocalCluster(**options, **CLUSTER_OPTIONS)


@pytest.fixture(scope="module")
def cluster():
    with make_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    with Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture(scope="module")
def wide_client():
    with (
        make_cluster(n_workers=1, threads_per_worker=8) as c,
        Client(c, set_as_default=False) as cl,
    ):
        yield cl


@pytest.fixture
def probes():
    probe.reset()
    yield probe
    probe.gate.set()  # never leave a worker thread waiting on the gate


def wait_until(condition, timeout=10.0, what="condition"):
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


async def await_until(condition, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


def inc(x):
    return x + 1


def double(x):
    return 2 * x


def is_even(x):
    return x % 2 == 0


def run(build, xs, client=None, **scatter_options):
    """Run ``build(node)`` over ``xs``: locally (no client) or between scatter/gather."""
    source = Stream()
    if client is None:
        out = build(source).sink_to_list()
    else:
        out = build(source.scatter(client=client, **scatter_options)).gather().sink_to_list()
    for x in xs:
        source.emit(x)
    source.drain()
    return list(out)


NUMS = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 0]
PAIRS = [(x, 2 * x, -x) for x in NUMS]
LISTS = [[x] * (x % 3) for x in NUMS]
DICTS = [{"a": x, "b": -x} for x in NUMS]


def pair_step(state, x):
    return state + x, state * x


# (id, input, pipeline): each runs distributed (elementwise and batched) and locally.
PIPELINES = [
    ("map", NUMS, lambda s: s.map(inc)),
    ("map-args", NUMS, lambda s: s.map(lambda x, y, z=0: x * y + z, 3, z=1)),
    ("starmap", PAIRS, lambda s: s.starmap(lambda a, b, c: a + b * c)),
    ("starmap-args", PAIRS, lambda s: s.starmap(lambda a, b, c, d: a + b + c + d, 100)),
    ("filter", NUMS, lambda s: s.filter(is_even)),
    ("filter-args", NUMS, lambda s: s.filter(lambda x, n: x > n, 3)),
    ("filter-None", NUMS, lambda s: s.filter(None)),
    ("remove", NUMS, lambda s: s.remove(is_even)),
    ("flatten", LISTS, lambda s: s.flatten()),
    ("pluck-index", PAIRS, lambda s: s.pluck(1)),
    ("pluck-list", PAIRS, lambda s: s.pluck([2, 0])),
    ("pluck-key", DICTS, lambda s: s.pluck("b")),
    ("accumulate", NUMS, lambda s: s.accumulate(probe.add)),
    ("accumulate-start", NUMS, lambda s: s.accumulate(probe.add, start=100)),
    (
        "accumulate-returns_state",
        NUMS,
        lambda s: s.accumulate(probe.add_pair, start=0, returns_state=True),
    ),
    (
        "accumulate-with_state",
        NUMS,
        lambda s: s.accumulate(pair_step, start=1, returns_state=True, with_state=True),
    ),
    ("accumulate-with_state-nostart", NUMS, lambda s: s.accumulate(probe.add, with_state=True)),
    ("unique", NUMS, lambda s: s.unique()),
    ("unique-key", NUMS, lambda s: s.unique(key=lambda x: x % 4)),
    ("unique-maxsize", NUMS, lambda s: s.unique(maxsize=2)),
    ("buffer", NUMS, lambda s: s.map(inc).buffer(3)),
    (
        "chain",
        NUMS,
        lambda s: s.map(inc).filter(is_even).map(double).accumulate(probe.add).buffer(4),
    ),
]

# Operators that only elementwise (not batched) distributed streams support.
ELEMENTWISE_ONLY = [
    ("zip", NUMS, lambda s: s.map(inc).zip(s.map(double))),
    ("union", NUMS, lambda s: s.map(inc).union(s.map(double))),
    ("partition", NUMS, lambda s: s.map(inc).partition(3)),
    ("sliding_window", NUMS, lambda s: s.map(inc).sliding_window(3)),
    ("sliding_window-no-partial", NUMS, lambda s: s.sliding_window(3, return_partial=False)),
    ("zip-buffer", NUMS, lambda s: s.map(inc).buffer(2).zip(s.map(double).buffer(5))),
]


def ids(cases):
    return [case[0] for case in cases]


# ---------------------------------------------------------------------- order and bounds


def test_gather_keeps_input_order_when_tasks_finish_out_of_order(wide_client, probes):
    xs = list(range(40))
    assert run(lambda s: s.map(probes.slow_square).buffer(8), xs, wide_client) == [
        x * x for x in xs
    ]
    assert sorted(probes.finished) == xs
    assert probes.finished != xs, "tasks should have finished out of order"


@pytest.mark.parametrize("n", [1, 3, 6])
def test_buffer_bounds_tasks_computing_at_once(wide_client, probes, n):
    xs = list(range(16))
    out = run(lambda s: s.map(probes.tracked).buffer(n), xs, wide_client)
    assert out == [x + 1000 for x in xs]
    # n held by the buffer, and one submitted by map whose emitter waits for room
    assert n <= probes.peak <= n + 1


def test_without_buffer_one_task_at_a_time(wide_client, probes):
    xs = list(range(8))
    out = run(lambda s: s.map(probes.tracked, delay=0.02), xs, wide_client)
    assert out == [x + 1000 for x in xs]
    assert probes.peak == 1


@pytest.mark.real_time
async def test_back_pressure_reaches_the_emitter(cluster, probes):
    async with Client(cluster.scheduler_address, asynchronous=True) as aclient:
        source = Stream()
        out = source.scatter(client=aclient).map(probes.gated).buffer(2).gather().sink_to_list()
        try:
            await asyncio.wait_for(source.emit(1), 5)  # room in the buffer: accepted
            await asyncio.wait_for(source.emit(2), 5)
            third = asyncio.ensure_future(source.emit(3))
            await await_until(lambda: sorted(probes.started) == [1, 2], what="tasks 1, 2")
            done, _ = await asyncio.wait({third}, timeout=0.3)
            assert not done, "emit returned while the buffer was full"
            assert out == []
        finally:
            probes.gate.set()
        await asyncio.wait_for(third, 10)
        await asyncio.wait_for(source.drain(), 10)
        assert out == [-1, -2, -3]


@pytest.mark.real_time
async def test_gather_keeps_input_order_when_emitters_do_not_wait(cluster, probes):
    # Inside a loop, emit's pending work runs as a task: not awaiting it loses nothing,
    # and gather still emits values in input order.
    async with Client(cluster.scheduler_address, asynchronous=True) as aclient:
        source = Stream()
        out = source.scatter(client=aclient).map(probes.slow_square).gather().sink_to_list()
        pending = [source.emit(x) for x in range(10)]
        await asyncio.wait_for(asyncio.gather(*pending), 10)
        await asyncio.wait_for(source.drain(), 10)
        assert sorted(out) == [x * x for x in range(10)]
        assert out == [x * x for x in range(10)]


# ---------------------------------------------------------------------- every operator


@pytest.mark.parametrize(("xs", "build"), [c[1:] for c in PIPELINES + ELEMENTWISE_ONLY],
                         ids=ids(PIPELINES + ELEMENTWISE_ONLY))  # fmt: skip
def test_distributed_operator_matches_local(client, xs, build):
    local = run(build, xs)
    assert local, "the oracle should produce something"
    assert run(build, xs, client) == local


def test_distributed_nodes_emit_futures_and_keep_the_stream_distributed(client):
    source = Stream()
    scattered = source.scatter(client=client)
    mapped = scattered.map(inc)
    futures = []
    mapped.sink(futures.append)
    for x in NUMS:
        source.emit(x)
    source.drain()
    assert all(isinstance(f, distributed.Future) for f in futures)
    assert all(f.client is client for f in futures)
    assert client.gather(futures) == [inc(x) for x in NUMS]
    assert mapped._dask is scattered._dask is not None
    gathered = mapped.gather()
    assert gathered._dask is None
    assert gathered.map(inc)._dask is None  # local again after gather


@pytest.mark.parametrize(
    ("kwargs", "step"),
    [
        ({}, probe.add),
        ({"start": 100}, probe.add),
        ({"start": 0, "returns_state": True}, probe.add_pair),
        ({"start": 0, "returns_state": True, "with_state": True}, probe.add_pair),
        ({"with_state": True}, probe.add),
    ],
    ids=["plain", "start", "returns_state", "returns_state-with_state", "with_state"],
)
@pytest.mark.parametrize("batch_size", [None, 4])
def test_accumulate_state_stays_on_the_cluster(client, kwargs, step, batch_size):
    source = Stream()
    acc = source.scatter(client=client, batch_size=batch_size).accumulate(step, **kwargs)
    out = acc.gather().sink_to_list()
    local = source.accumulate(step, **kwargs).sink_to_list()
    for x in NUMS:
        source.emit(x)
    source.drain()
    assert out == local
    assert isinstance(acc.state, distributed.Future)
    assert acc.state.client is client
    # the state is the running state after the last element
    expected_state = 100 if kwargs.get("start") == 100 else 0
    expected_state += sum(NUMS)
    assert acc.state.result() == expected_state


def test_sink_receives_futures(client):
    source = Stream()
    received = []
    source.scatter(client=client).map(double).sink(received.append)
    for x in NUMS:
        source.emit(x)
    source.drain()
    assert len(received) == len(NUMS)
    assert all(isinstance(f, distributed.Future) for f in received)
    assert [f.result() for f in received] == [double(x) for x in NUMS]


def test_timed_window_on_distributed_stream(client):
    xs = list(range(20))
    results = []
    for distributed_run in (True, False):
        source = Stream()
        node = source.scatter(client=client) if distributed_run else source
        window = node.map(inc).timed_window(0.05)
        windows = (window.gather() if distributed_run else window).sink_to_list()
        for x in xs[:10]:
            source.emit(x)
        wait_until(lambda w=windows: w, what="a timed window")  # the timer runs on its own
        for x in xs[10:]:
            source.emit(x)
        source.drain()
        window.destroy()  # stop its timer
        assert all(isinstance(w, list) for w in windows)
        results.append([y for w in windows for y in w])
    assert results[0] == results[1] == list(map(inc, xs))


# ---------------------------------------------------------------------- batching


@pytest.mark.parametrize("batch_size", [3, 4])
@pytest.mark.parametrize(("xs", "build"), [c[1:] for c in PIPELINES], ids=ids(PIPELINES))
def test_batched_matches_unbatched_and_local(client, xs, build, batch_size):
    assert len(xs) % batch_size == 0  # full batches only: see the partial-batch tests
    local = run(build, xs)
    assert run(build, xs, client) == local
    assert run(build, xs, client, batch_size=batch_size) == local


def test_partial_batch_goes_out_on_drain(client):
    # scatter(timeout=...) docstring: "else it waits to be full, or for drain()"
    xs = list(range(7))
    assert run(lambda s: s.map(inc), xs, client, batch_size=5) == list(map(inc, xs))


def test_partial_batch_goes_out_after_timeout(client):
    source = Stream()
    out = source.scatter(client=client, batch_size=5, timeout=0.1).map(inc).gather()
    out = out.sink_to_list()
    t0 = time.monotonic()
    for x in range(7):
        source.emit(x)
    wait_until(lambda: len(out) == 7, timeout=10, what="the partial batch")
    assert time.monotonic() - t0 >= 0.1
    assert out == list(map(inc, range(7)))
    source.drain()
    assert out == list(map(inc, range(7)))


@pytest.mark.parametrize(
    "build",
    [
        lambda s: s.map(probe.Keyed("op", inc)),
        lambda s: s.map(lambda x: (x, x)).starmap(probe.Keyed("op", probe.add)),
        lambda s: s.filter(probe.Keyed("op", is_even)),
        lambda s: s.remove(probe.Keyed("op", is_even)),
        lambda s: s.accumulate(probe.Keyed("op", probe.add), start=0),
        lambda s: s.unique(key=probe.Keyed("op", lambda x: x % 5)),
    ],
    ids=["map", "starmap", "filter", "remove", "accumulate", "unique"],
)
def test_one_task_per_batch_and_operator(client, probes, build):
    xs = list(range(12))
    expected = run(build, xs)
    probes.task_keys.clear()
    assert run(build, xs, client, batch_size=4) == expected
    assert len(probes.task_keys["op"]) == 3  # 12 elements in batches of 4
    probes.task_keys.clear()
    assert run(build, xs, client) == expected
    assert len(probes.task_keys["op"]) == 12  # unbatched: one task per element


@pytest.mark.parametrize(
    ("xs", "build"),
    [(PAIRS, lambda s: s.pluck(0)), (LISTS, lambda s: s.flatten())],
    ids=["pluck", "flatten"],
)
def test_batched_pluck_flatten_one_task_per_batch(client, xs, build):
    expected = run(build, xs)
    with distributed.get_task_stream(client=client) as tasks:
        assert run(build, xs, client, batch_size=6) == expected
    assert len(tasks.data) == 2  # 12 elements, 2 batches, one task each


@pytest.mark.parametrize(
    "build",
    [
        lambda s, other: s.partition(2),
        lambda s, other: s.zip(other),
        lambda s, other: s.sliding_window(2),
        lambda s, other: s.timed_window(0.1),
    ],
    ids=["partition", "zip", "sliding_window", "timed_window"],
)
def test_batched_refuses_operators_that_see_elements(client, build):
    source, other = Stream(), Stream()
    batched = source.scatter(client=client, batch_size=2).map(inc)
    with pytest.raises(TypeError, match=r"batched distributed stream.*gather\(\) first"):
        build(batched, other)
    assert batched.downstreams == ()
    assert other.downstreams == ()
    # the graph still works
    out = batched.gather().sink_to_list()
    for x in range(4):
        source.emit(x)
    source.drain()
    assert out == [1, 2, 3, 4]


# Sinks and unions also run on batched streams (BATCH_SAFE in streams/dask.py): they
# do not look inside elements.


def test_batched_sink_receives_futures_of_batches(client):
    source = Stream()
    received = []
    source.scatter(client=client, batch_size=2).map(inc).sink(received.append)
    for x in range(4):
        source.emit(x)
    source.drain()
    assert all(isinstance(f, distributed.Future) for f in received)
    assert [f.result() for f in received] == [[1, 2], [3, 4]]


def test_batched_union(client):
    a, b = Stream(), Stream()
    left = a.scatter(client=client, batch_size=2).map(inc)
    right = b.scatter(client=client, batch_size=2).map(double)
    out = left.union(right).gather().sink_to_list()
    for x in range(4):
        a.emit(x)
        b.emit(10 + x)
    a.drain()
    b.drain()
    assert out == [1, 2, 20, 22, 3, 4, 24, 26]


# ---------------------------------------------------------------------- clients


def test_sync_client_from_plain_code_as_default(client):
    with pytest.raises(ValueError, match="No clients found"):
        distributed.default_client()  # the module's client is not the default...
    with client.as_current():  # ...until made current
        source = Stream()
        scattered = source.scatter()
    assert scattered._dask.client is client
    out = scattered.map(inc).buffer(3).gather().sink_to_list()
    for x in NUMS:
        assert source.emit(x) is None  # a plain caller: blocks until accepted
    source.drain()
    assert out == [inc(x) for x in NUMS]


@pytest.mark.real_time
async def test_async_client_in_asyncio_app(cluster, probes):
    async with Client(cluster.scheduler_address, asynchronous=True) as aclient:
        source = Stream()
        scattered = source.scatter()  # the asynchronous client is the default here
        assert scattered._dask.client is aclient
        out = scattered.map(probes.slow_square).buffer(4).gather().sink_to_list()
        acc = scattered.accumulate(probe.add).gather().sink_to_list()
        for x in range(12):
            await source.emit(x)
        await source.drain()
        assert out == [x * x for x in range(12)]
        assert acc == list(itertools.accumulate(range(12)))
        assert source.loop.asyncio_loop is asyncio.get_running_loop()


@pytest.mark.real_time
async def test_async_client_batched_and_timed(cluster):
    async with Client(cluster.scheduler_address, asynchronous=True) as aclient:
        source = Stream()
        out = (
            source.scatter(client=aclient, batch_size=3, timeout=0.05)
            .map(inc)
            .filter(is_even)
            .gather()
            .sink_to_list()
        )
        for x in range(8):
            await source.emit(x)
        await await_until(lambda: len(out) == 4, what="the partial batch")
        assert out == [2, 4, 6, 8]


def test_explicit_client_wins_over_default(cluster, client):
    with Client(cluster, set_as_default=False) as other, client.as_current():
        source = Stream()
        mine, default = [], []
        source.scatter(client=other).map(inc).sink(mine.append)
        source.scatter().map(inc).sink(default.append)
        for x in range(3):
            source.emit(x)
        source.drain()
        assert [f.client for f in mine] == [other] * 3
        assert [f.client for f in default] == [client] * 3
        assert other.gather(mine) == client.gather(default) == [1, 2, 3]


def test_no_default_client_is_a_clear_error():
    with pytest.raises(ValueError, match="No clients found"):
        distributed.default_client()
    source = Stream()
    with pytest.raises(ValueError, match=r"no Dask client.*scatter\(client=\.\.\.\)"):
        source.scatter()
    assert source.downstreams == ()


def test_gather_on_local_stream_is_the_stream_itself():
    source = Stream()
    node = source.map(inc)
    assert source.gather() is source
    assert node.gather() is node
    out = node.gather().sink_to_list()
    source.emit(1)
    assert out == [2]


def test_timeout_without_batch_size_is_an_error(client):
    source = Stream()
    with pytest.raises(ValueError, match="batch_size"):
        source.scatter(client=client, timeout=1.0)
    assert source.downstreams == ()


# ---------------------------------------------------------------------- fault tolerance


def test_worker_killed_mid_stream_loses_nothing():
    n = 40
    with make_cluster(processes=True) as cluster, Client(cluster, set_as_default=False) as c:
        pids = c.run(os.getpid)
        assert len(pids) == 2
        source = Stream()
        out = source.scatter(client=c).map(probe.pause_square).buffer(6).gather()
        out = out.sink_to_list()
        failure = []
        victim = min(pids)  # a worker address
        lost = []

        def feed():
            try:
                for x in range(n):
                    source.emit(x)
                    if x == 12:  # tasks are in flight in the buffer now
                        lost.extend(c.processing()[victim])  # computing there
                        lost.extend(c.has_what()[victim])  # results held there
                        os.kill(pids[victim], signal.SIGKILL)
                source.drain()
            except BaseException as exc:  # pragma: no cover - reported below
                failure.append(exc)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        feeder.join(60)
        assert not feeder.is_alive(), f"stream stalled after a worker died: {len(out)} out"
        assert failure == []
        assert lost, "the killed worker should have held some of the stream's work"
        assert out == [x * x for x in range(n)]
        wait_until(lambda: len(c.scheduler_info()["workers"]) == 2, 30, "the new worker")
        assert set(c.run(os.getpid).values()) != set(pids.values())


# ---------------------------------------------------------------------- resources


def distributed_warnings(caplog):
    return [r for r in caplog.records if r.name.startswith("distributed") and r.levelno >= 30]


def test_long_run_leaves_no_futures_and_closes_cleanly(caplog, recwarn):
    dlog = logging.getLogger("distributed")
    listen = not dlog.propagate  # distributed may configure it not to reach the root
    if listen:
        dlog.addHandler(caplog.handler)
    try:
        logging.getLogger("distributed.test_dask").warning("sentinel")
        assert [r.getMessage() for r in caplog.records] == ["sentinel"]  # we listen
        caplog.clear()
        with make_cluster() as cluster, Client(cluster, set_as_default=False) as c:
            source = Stream()
            scattered = source.scatter(client=c)
            mapped = scattered.map(inc)
            acc = mapped.accumulate(probe.add)
            buffered = acc.buffer(8)
            out = buffered.gather().sink_to_list()
            batched = source.scatter(client=c, batch_size=10).map(double)
            bout = batched.buffer(3).gather().sink_to_list()
            n = 300
            for x in range(n):
                source.emit(x)
            source.drain()
            expected = list(itertools.accumulate(map(inc, range(n))))
            assert out == expected
            assert bout == [double(x) for x in range(n)]

            nodes = [scattered, mapped, acc, buffered, batched]
            held = {
                node.current_value.key
                for node in nodes
                if isinstance(node.current_value, distributed.Future)
            }
            assert acc.state.key in c.futures
            # only the accumulate state and each node's latest value (current_value)
            assert set(c.futures) <= held | {acc.state.key}
            assert len(c.futures) <= len(nodes)

            # nor does the scheduler keep the accumulate's whole history (300 map and
            # 300 accumulate tasks, each state depending on the previous one)
            def scheduler_tasks():
                return c.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))

            wait_until(lambda: scheduler_tasks() < n, what="the scheduler to drop history")

            scattered.destroy()
            batched.upstream.destroy()
            # the sinks (out.node) hold their upstreams: drop every reference
            del nodes, scattered, mapped, acc, buffered, batched, out, bout
            gc.collect()
            wait_until(lambda: not c.futures, what="the client to release every future")
            wait_until(lambda: scheduler_tasks() == 0, what="the scheduler to forget every task")
        assert cluster.status.name == "closed"
    finally:
        if listen:
            dlog.removeHandler(caplog.handler)
    assert distributed_warnings(caplog) == []
    assert [str(w.message) for w in recwarn] == []


# ---------------------------------------------------------------------- errors


def test_task_error_reaches_the_emitter_and_graph_goes_on(client):
    source = Stream()
    gathered = source.scatter(client=client).map(probe.fails_on_three).gather()
    out = gathered.sink_to_list()
    source.emit(1)
    with pytest.raises(ZeroDivisionError) as info:
        source.emit(3)
    notes = getattr(info.value, "__notes__", [])
    assert any(note.startswith(f"in {gathered._describe()}") for note in notes), notes
    source.emit(5)
    source.drain()
    assert out == [10 // -2, 10 // 2]


def test_task_error_behind_buffer_reaches_drain(client):
    source = Stream()
    gathered = source.scatter(client=client).map(probe.fails_on_three).buffer(3).gather()
    out = gathered.sink_to_list()
    for x in [1, 3, 5, 13]:
        source.emit(x)
    with pytest.raises(ZeroDivisionError) as info:
        source.drain()
    notes = getattr(info.value, "__notes__", [])
    assert any(note.startswith(f"in {gathered._describe()}") for note in notes), notes
    assert out == [-5, 5, 1]
    source.emit(4)
    source.drain()  # the failure was reported once
    assert out == [-5, 5, 1, 10]


def test_gather_dead_letter_goes_to_error_stream(client):
    source = Stream()
    errors = source.errors().sink_to_list()
    gathered = (
        source.scatter(client=client).map(probe.fails_on_three).gather(on_error="dead_letter")
    )
    out = gathered.sink_to_list()
    for x in [1, 3, 5]:
        source.emit(x)
    source.drain()
    assert out == [-5, 5]
    assert len(errors) == 1
    record = errors[0]
    assert isinstance(record, ErrorRecord)
    assert record.node is gathered
    assert isinstance(record.error, ZeroDivisionError)
    assert isinstance(record.element, distributed.Future)


def test_gather_retry_runs_failed_tasks_again_in_order(client, probes):
    source = Stream()
    errors = source.errors().sink_to_list()
    gathered = source.scatter(client=client).map(probe.fails_once)
    out = gathered.gather(on_error=retry(2, backoff=0.01)).sink_to_list()
    for x in [1, 2, 3, 4]:
        source.emit(x)  # (1 and 3 fail once: each retry happens in its element's turn)
    source.drain()
    assert out == [-1, -2, -3, -4]
    assert errors == []
    assert probes.failed_once == {1, 2, 3, 4}


def test_batched_task_error_reaches_the_emitter(client):
    source = Stream()
    gathered = source.scatter(client=client, batch_size=2).map(probe.fails_on_three).gather()
    out = gathered.sink_to_list()
    source.emit(0)
    source.emit(1)
    source.emit(2)
    with pytest.raises(ZeroDivisionError) as info:
        source.emit(3)
    notes = getattr(info.value, "__notes__", [])
    assert any(n.startswith(f"in {gathered._describe()}") for n in notes)
    source.emit(4)
    source.emit(5)
    assert out == [probe.fails_on_three(x) for x in (0, 1, 4, 5)]


def test_toolz_oracle_for_a_long_batched_chain(client):
    xs = list(range(100))
    out = run(
        lambda s: s.map(inc).filter(is_even).accumulate(probe.add, start=0).buffer(5),
        xs,
        client,
        batch_size=10,
    )
    assert out == list(itertools.accumulate(toolz.filter(is_even, map(inc, xs))))
