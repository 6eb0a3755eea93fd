"""Several threads emitting into one graph (streams/turns.py, Stream.emit and _enter).

Every test makes the interpreter switch threads as often as it can
(``sys.setswitchinterval(1e-6)``), so that a push that is not serialised is interrupted
in the middle of a node's update many times over the run; the counts must still be
exact. Threads are joined with a generous bound, so a deadlock fails the test instead
of hanging the run.
"""

import asyncio
import collections
import sys
import threading

import pytest

from streams import Stream
from streams.loop import background_loop
from streams.runtime import UNBOUND

JOIN_SECONDS = 120  # a bound for a deadlock to fail the test, not a timing assertion


@pytest.fixture
def switch_often():
    """Switch threads every microsecond (restored afterwards)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def run_threads(*targets):
    """Run each target in its own thread, all released at once; re-raise a failure."""
    start = threading.Barrier(len(targets))
    errors = []

    def body(target):
        start.wait()
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(t,), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_SECONDS)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (deadlock?)"
    if errors:
        raise errors[0]


def emitter(source, tag, n):
    """A thread body emitting ``(tag, 0) ... (tag, n - 1)`` into ``source``."""

    def run():
        emit = source.emit
        for i in range(n):
            emit((tag, i))

    return run


def numbered(source):
    """Number every element as the graph sees it: a list of ``(k, element)``, k = 1, 2..."""
    return source.accumulate(
        lambda k, x: (k + 1, (k + 1, x)), start=0, returns_state=True
    ).sink_to_list()


def check_each_once(out, threads, n):
    """``out`` (from :func:`numbered`) holds each thread's elements once, in its order,
    numbered without gaps or repeats."""
    assert [k for k, _ in out] == list(range(1, threads * n + 1))
    elements = [x for _, x in out]
    assert collections.Counter(elements) == collections.Counter(
        (tag, i) for tag in range(threads) for i in range(n)
    )
    for tag in range(threads):
        assert [i for t, i in elements if t == tag] == list(range(n))


# ------------------------------------------------------------------ graphs without a loop


@pytest.mark.usefixtures("switch_often")
def test_two_threads_counting_lose_nothing():
    source = Stream()
    counts = []
    source.accumulate(lambda acc, x: acc + 1, start=0).sink(counts.append)
    run_threads(emitter(source, 0, 50_000), emitter(source, 1, 50_000))
    assert source.loop is None  # pushed inline, in the emitting threads
    assert counts == list(range(1, 100_001))


@pytest.mark.usefixtures("switch_often")
@pytest.mark.parametrize(("threads", "n"), [(2, 50_000), (4, 25_000)])
def test_every_element_once_in_each_threads_order(threads, n):
    source = Stream()
    out = numbered(source.map(lambda x: x))
    run_threads(*(emitter(source, tag, n) for tag in range(threads)))
    check_each_once(out, threads, n)


@pytest.mark.usefixtures("switch_often")
def test_collect_flush_takes_turns_with_emit():
    """flush (through _enter) empties the cache while other threads fill it: each
    element comes out in exactly one batch."""
    source = Stream()
    held = source.collect()
    batches = held.sink_to_list()
    n = 20_000

    def fill_and_flush(tag):
        def run():
            for i in range(n):
                source.emit((tag, i))
                if i % 7 == 0:
                    held.flush()

        return run

    run_threads(fill_and_flush(0), fill_and_flush(1))
    held.flush()
    elements = [x for batch in batches for x in batch]
    assert collections.Counter(elements) == collections.Counter(
        (tag, i) for tag in range(2) for i in range(n)
    )


@pytest.mark.usefixtures("switch_often")
def test_a_sink_emitting_into_its_own_graph_from_several_threads():
    """A re-entrant emit (from inside a push, in the same thread) goes ahead instead of
    waiting for the turn its own thread holds; the echo is part of the element."""
    source = Stream()
    out = numbered(source)

    def echo(x):
        if len(x) == 2:
            source.emit((*x, "echo"))

    source.sink(echo)
    n = 20_000
    run_threads(emitter(source, 0, n), emitter(source, 1, n))
    assert [k for k, _ in out] == list(range(1, 4 * n + 1))
    elements = [x for _, x in out]
    # each element is followed at once by its echo: no other thread got in between
    assert elements[1::2] == [(*x, "echo") for x in elements[0::2]]
    assert sorted(elements[0::2]) == [(tag, i) for tag in range(2) for i in range(n)]


@pytest.mark.usefixtures("switch_often")
def test_graphs_merged_by_connect_take_one_turn():
    a, b = Stream(), Stream()
    out = numbered(b)
    a.connect(b)  # a's graph and b's graph are one now
    n = 20_000
    run_threads(emitter(a, 0, n), emitter(b, 1, n))
    check_each_once(out, 2, n)


def test_a_failing_push_gives_the_turn_back():
    source = Stream()
    out = source.map(lambda x: 1 // x).sink_to_list()
    with pytest.raises(ZeroDivisionError):
        source.emit(0)
    run_threads(lambda: source.emit(1))  # another thread gets its turn
    assert out == [1]


@pytest.mark.usefixtures("switch_often")
def test_pending_work_that_emits_does_not_block_on_a_waiting_thread():
    """An async sink's work finishes on the background loop while its emitter waits for
    it, without the turn: that work emitting into the graph from the loop's thread
    takes the turn like any other thread."""
    source = Stream()
    out = numbered(source)

    async def echo(x):
        await asyncio.sleep(0)
        if len(x) == 2:
            await source.emit((*x, "echo"))

    source.sink(echo)
    n = 1_000
    run_threads(emitter(source, 0, n), emitter(source, 1, n))
    source.drain()
    assert [k for k, _ in out] == list(range(1, 4 * n + 1))
    assert collections.Counter(x for _, x in out) == collections.Counter(
        (tag, i, *echoed) for tag in range(2) for i in range(n) for echoed in ((), ("echo",))
    )


# ------------------------------------------------------------------ graphs on a loop


@pytest.mark.usefixtures("switch_often")
def test_threads_binding_and_feeding_a_loop_graph():
    """A graph that needs a loop binds to the background loop at the threads' first
    (simultaneous) emits; every element then hops to the loop's thread."""
    source = Stream()
    where = set()

    def count(k, x):
        where.add(threading.current_thread().name)
        return k + 1, (k + 1, x)

    out = source.buffer(10).accumulate(count, start=0, returns_state=True).sink_to_list()
    n = 3_000
    run_threads(emitter(source, 0, n), emitter(source, 1, n))
    source.drain()
    check_each_once(out, 2, n)
    assert where == {"streams-loop"}


@pytest.mark.usefixtures("switch_often")
def test_a_loop_in_another_thread_and_its_own_callbacks():
    """Plain threads hand their elements to the graph's loop; callbacks on that loop
    emit inline. All of them together lose nothing."""
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        source = Stream(loop=loop)
        out = numbered(source)
        n = 3_000

        def from_the_loop():
            emit = source.emit
            done = threading.Event()

            def burst(i):
                for j in range(i, min(i + 100, n)):
                    emit((2, j))
                if i + 100 < n:
                    loop.call_soon(burst, i + 100)
                else:
                    done.set()

            loop.call_soon_threadsafe(burst, 0)
            assert done.wait(JOIN_SECONDS)

        run_threads(emitter(source, 0, n), emitter(source, 1, n), from_the_loop)
        check_each_once(out, 3, n)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(JOIN_SECONDS)
        loop.close()


def test_an_emit_while_another_thread_is_binding_the_graph():
    """The state another thread's first emit leaves for a moment: the graph's loop is
    chosen, this node is not marked yet. The emit still reaches that loop."""
    source = Stream()
    source._require_loop()  # needs a loop, has none yet (ensure_io_loop=True binds at once)
    out = source.sink_to_list()
    source._runtime.loop = background_loop()  # bind() got this far in another thread
    assert source._home is UNBOUND
    source.emit(1)
    assert out == [1]


def test_a_sink_emitting_into_its_own_head_with_async_work_does_not_block():
    source = Stream()
    written = []

    async def write(x):
        await asyncio.sleep(0)
        written.append(x)

    def echo(x):
        if x < 3:
            source.emit(x + 1)  # re-entrant: the outer emit's turn is further up the stack

    source.sink(write)
    source.sink(echo)
    source.emit(0)
    source.drain()
    assert sorted(written) == [0, 1, 2, 3]
