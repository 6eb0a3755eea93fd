"""map_async on the virtual clock: input order kept, bounded parallelism with back
pressure, errors, drain and metadata refs."""

import asyncio
import functools
import gc

import pytest

import streams
from streams import RefCounter, Stream
from streams.errors import ErrorRecord
from streams.testing import record, timeline


def timed_ref(log, name):
    """Metadata with a RefCounter that logs ``(release time, name)`` when let go."""
    loop = asyncio.get_running_loop()
    return [{"ref": RefCounter(cb=lambda: log.append((loop.time(), name)))}]


class Worker:
    """An async function taking ``durations[x]`` virtual seconds (default 1); it fails
    on elements in ``failing`` and records when calls start and end."""

    def __init__(self, durations=None, failing=()):
        self.durations = durations or {}
        self.failing = failing
        self.started, self.ended, self.cancelled = [], [], []
        self.running = self.most_running = 0

    async def __call__(self, x):
        loop = asyncio.get_running_loop()
        self.started.append((loop.time(), x))
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.durations.get(x, 1.0))
        except asyncio.CancelledError:
            self.cancelled.append((loop.time(), x))
            raise
        finally:
            self.running -= 1
        self.ended.append((loop.time(), x))
        if x in self.failing:
            raise ValueError(f"bad {x}")
        return f"<{x}>"


async def emit_all(source, xs):
    """Emit each of ``xs``, awaiting each; return the times the emits returned."""
    loop = asyncio.get_running_loop()
    returned = []
    for x in xs:
        await source.emit(x)
        returned.append(loop.time())
    return returned


# ------------------------------------------------------------------ order and parallelism


async def test_results_keep_input_order_when_calls_finish_out_of_order():
    work = Worker({"a": 3, "b": 1, "c": 2})
    source = Stream()
    out = timeline(source.map_async(work, parallelism=3))
    assert await emit_all(source, "abc") == [0.0, 0.0, 0.0]
    await asyncio.sleep(5)
    assert work.ended == [(1.0, "b"), (2.0, "c"), (3.0, "a")]
    assert out == [(3.0, "<a>"), (3.0, "<b>"), (3.0, "<c>")]


async def test_a_finished_result_is_emitted_as_soon_as_those_before_it_are():
    work = Worker({"a": 1, "b": 3, "c": 2})
    events = [(0, "a"), (0, "b"), (0, "c")]
    out = await record(lambda s: s.map_async(work, parallelism=3), feed=events, until=4)
    assert out == [(1.0, "<a>"), (3.0, "<b>"), (3.0, "<c>")]


async def test_emitter_waits_while_parallelism_calls_are_in_flight():
    work = Worker()
    source = Stream()
    out = timeline(source.map_async(work, parallelism=2))
    assert await emit_all(source, range(5)) == [0.0, 0.0, 1.0, 1.0, 2.0]
    await asyncio.sleep(5)
    assert work.most_running == 2
    assert work.started == [(0.0, 0), (0.0, 1), (1.0, 2), (1.0, 3), (2.0, 4)]
    assert out == [(1.0, "<0>"), (1.0, "<1>"), (2.0, "<2>"), (2.0, "<3>"), (3.0, "<4>")]


async def test_default_parallelism_is_one_call_at_a_time():
    work = Worker({"a": 0.5, "b": 0.25})
    out = await record(lambda s: s.map_async(work), feed=[(0, "a"), (0, "b"), (2, "c")], until=5)
    assert work.most_running == 1
    assert out == [(0.5, "<a>"), (0.75, "<b>"), (3.0, "<c>")]


async def test_args_and_kwargs_are_passed_to_each_call():
    async def scale(x, factor, offset=0):
        await asyncio.sleep(0.5)
        return x * factor + offset

    out = await record(
        lambda s: s.map_async(scale, 10, offset=3), feed=[(0, 1), (0.25, 2)], until=2
    )
    assert out == [(0.5, 13), (1.0, 23)]


async def test_slow_downstream_backs_up_into_map_async():
    loop = asyncio.get_running_loop()
    work = Worker({x: 0.25 for x in range(4)})
    source = Stream()
    node = source.map_async(work, parallelism=2)
    seen = []

    async def consume(x):
        seen.append((loop.time(), x))
        await asyncio.sleep(1.0)

    node.sink(consume)
    returned = await emit_all(source, range(4))
    # results wait for the consumer, so the slots free up only as it takes them
    assert returned == [0.0, 0.0, 0.25, 1.25]
    await asyncio.sleep(10)
    assert seen == [(0.25, "<0>"), (1.25, "<1>"), (2.25, "<2>"), (3.25, "<3>")]


# ------------------------------------------------------------------ errors


async def test_failed_call_goes_to_the_error_stream_and_later_elements_flow():
    work = Worker(failing={2})
    source = Stream()
    node = source.map_async(work)
    out = timeline(node)
    errors = timeline(source.errors())
    assert await emit_all(source, [1, 2, 3]) == [0.0, 1.0, 2.0]
    await source.drain()
    assert out == [(1.0, "<1>"), (3.0, "<3>")]
    assert len(errors) == 1
    when, rec = errors[0]
    assert when == 2.0
    assert isinstance(rec, ErrorRecord)
    assert rec.node is node
    assert rec.element == 2
    assert isinstance(rec.error, ValueError)
    assert str(rec.error) == "bad 2"
    assert "in map_async<Worker> (element 2)" in rec.error.__notes__


async def test_failed_call_without_an_error_stream_is_raised_by_the_next_drain():
    work = Worker(failing={1, 2})
    source = Stream()
    out = timeline(source.map_async(work))
    await emit_all(source, [1, 2, 3])
    with pytest.raises(ValueError, match="bad 1") as info:
        await source.drain()
    assert "(1 more errors since the last drain)" in info.value.__notes__
    assert out == [(3.0, "<3>")]
    await source.drain()  # reported once only


async def test_stop_on_exception_holds_later_results_until_the_next_element():
    work = Worker({"b": 5}, failing={"a"})
    source = Stream()
    node = source.map_async(work, parallelism=2, stop_on_exception=True)
    out = timeline(node)
    errors = timeline(source.errors())
    assert await emit_all(source, "ab") == [0.0, 0.0]
    await asyncio.sleep(10)
    # the error was reported; "b" ran to its end, but its result is held
    assert [(t, r.element) for t, r in errors] == [(1.0, "a")]
    assert work.ended == [(1.0, "a"), (5.0, "b")] and work.cancelled == []
    assert out == [] and node.work_task is None
    await source.emit("c")  # goes on: "b" first, then "c"
    await source.drain()
    assert out == [(10.0, "<b>"), (11.0, "<c>")]


async def test_stop_on_exception_lets_an_emitter_waiting_for_room_in():
    work = Worker(failing={1})
    source = Stream()
    out = timeline(source.map_async(work, stop_on_exception=True))
    source.errors().sink(lambda rec: None)
    await source.emit(1)
    waiting = asyncio.ensure_future(source.emit(2))
    await asyncio.sleep(1.5)
    assert waiting.done() and waiting.exception() is None  # 1's place went to 2
    await asyncio.sleep(10)
    assert [x for _, x in work.started] == [1, 2] and out == []
    await source.emit(3)
    await source.drain()
    assert out == [(11.5, "<2>"), (12.5, "<3>")]


async def test_stop_on_exception_stops_the_source_and_a_restart_goes_on():
    # streamz's test_map_async_restart: nothing is lost across the stop
    async def flaky(x):
        await asyncio.sleep(1)
        if x in (2, 5):
            raise RuntimeError(f"fails on {x}")
        return x

    source = Stream.from_iterable(iter(range(6)))  # an iterator: a restart goes on
    mapped = source.map_async(flaky, stop_on_exception=True)
    results = mapped.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await asyncio.sleep(20)
    assert results == [0, 1] and source.stopped and mapped.work_task is None
    assert [r.element for r in errors] == [2]
    source.start()
    await asyncio.sleep(20)
    assert results == [0, 1, 3, 4] and source.done
    assert [r.element for r in errors] == [2, 5]


async def test_start_on_the_node_resumes_it_and_starts_the_sources():
    async def flaky(x):
        await asyncio.sleep(1)
        if x == 1:
            raise RuntimeError("fails on 1")
        return x

    source = Stream.from_iterable(iter(range(4)))
    mapped = source.map_async(flaky, stop_on_exception=True)
    results = mapped.sink_to_list()
    source.errors().sink(lambda rec: None)
    results.node.start()
    await asyncio.sleep(10)
    assert results == [0]
    results.node.start()  # resumes mapped (2 is held) and restarts the source
    await asyncio.sleep(10)
    assert results == [0, 2, 3] and source.done


async def test_start_from_another_thread_resumes_on_the_graph_loop():
    # start() called from another thread than the graph's loop resumes on that loop
    async def flaky(x):
        if x == 1:
            raise RuntimeError("fails on 1")
        return x

    source = Stream.from_iterable(iter(range(3)))
    mapped = source.map_async(flaky, stop_on_exception=True)
    results = mapped.sink_to_list()
    source.errors().sink(lambda rec: None)
    source.start()
    await asyncio.sleep(1)
    assert results == [0]
    await asyncio.to_thread(mapped.start)
    await asyncio.sleep(1)
    assert results == [0, 2]


async def test_a_held_call_that_fails_is_reported_once_the_node_goes_on():
    work = Worker(failing={1, 2})
    source = Stream()
    out = timeline(source.map_async(work, parallelism=2, stop_on_exception=True))
    errors = timeline(source.errors())
    await emit_all(source, [1, 2])
    await asyncio.sleep(5)
    assert [(t, r.element) for t, r in errors] == [(1.0, 1)]  # 2 failed too, but is held
    await source.emit(3)  # goes on: 2's failure pauses it again, with 3 held
    await asyncio.sleep(5)
    assert [(t, r.element) for t, r in errors] == [(1.0, 1), (5.0, 2)]
    assert out == []


async def test_a_held_call_that_fails_is_not_logged_as_a_forgotten_task(caplog):
    work = Worker(failing={1, 2})
    source = Stream()
    source.map_async(work, parallelism=2, stop_on_exception=True)
    source.errors().sink(lambda rec: None)
    await emit_all(source, [1, 2])
    await asyncio.sleep(5)
    del source
    gc.collect()
    assert "never retrieved" not in caplog.text


async def test_retry_policy_calls_again_after_backoff_and_keeps_order():
    loop = asyncio.get_running_loop()
    calls = []

    async def flaky(x):
        calls.append((loop.time(), x))
        await asyncio.sleep(1.0)
        if x == "a" and len(calls) < 3:
            raise ConnectionError("try again")
        return x.upper()

    out = await record(
        lambda s: s.map_async(flaky, parallelism=2, on_error=streams.retry(3, backoff=0.5)),
        feed=[(0, "a"), (0, "b")],
        until=10,
    )
    assert calls == [(0.0, "a"), (0.0, "b"), (1.5, "a")]
    assert out == [(2.5, "A"), (2.5, "B")]


async def test_skip_policy_drops_failed_elements_and_never_stops():
    work = Worker(failing={1, 2})
    source = Stream()
    out = timeline(source.map_async(work, on_error="skip", stop_on_exception=True))
    errors = timeline(source.errors())
    await emit_all(source, [1, 2, 3])
    await source.drain()
    assert out == [(3.0, "<3>")]
    assert errors == []


# ------------------------------------------------------------------ drain and refs


async def test_drain_waits_for_calls_in_flight_only_as_long_as_needed():
    loop = asyncio.get_running_loop()
    work = Worker({"a": 0.5, "b": 2, "c": 1})
    source = Stream()
    out = timeline(source.map_async(work, parallelism=3))
    await emit_all(source, "abc")
    await source.drain()
    assert loop.time() == 2.0
    assert out == [(0.5, "<a>"), (2.0, "<b>"), (2.0, "<c>")]
    await source.drain()  # nothing in flight: returns at once
    assert loop.time() == 2.0


async def test_refs_are_held_while_in_flight_and_released_once_emitted():
    log = []
    work = Worker(failing={"bad"})
    source = Stream()
    source.map_async(work, parallelism=2).sink(lambda x: None)
    source.errors().sink(lambda rec: None)
    await source.emit("a", metadata=timed_ref(log, "a"))
    await source.emit("bad", metadata=timed_ref(log, "bad"))
    await asyncio.sleep(0.5)
    assert log == []
    await source.drain()
    assert log == [(1.0, "a")]  # a failed element is never acknowledged


# ------------------------------------------------------------------ construction


async def test_tornado_coroutine_and_functions_returning_awaitables_are_accepted():
    from tornado import gen

    @gen.coroutine
    def tornado_add(x, y=0):
        yield gen.moment
        return x + y

    def future_of(x):
        future = asyncio.get_running_loop().create_future()
        future.set_result(-x)
        return future

    source = Stream()
    added = source.map_async(tornado_add, y=10).sink_to_list()
    negated = source.map_async(future_of, parallelism=2).sink_to_list()
    await emit_all(source, [1, 2])
    await source.drain()
    assert added == [11, 12]
    assert negated == [-1, -2]


async def test_a_result_that_is_not_awaitable_fails_the_element_naming_map():
    def double(x):
        return 2 * x

    source = Stream()
    out = source.map_async(double).sink_to_list()
    errors = source.errors().sink_to_list()
    await emit_all(source, [1, 2])
    await source.drain()
    assert out == []
    assert [r.element for r in errors] == [1, 2]
    assert isinstance(errors[0].error, TypeError)
    assert "returned int, not an awaitable; use map" in str(errors[0].error)


def test_non_callable_is_a_type_error():
    with pytest.raises(TypeError):
        Stream().map_async(42)


@pytest.mark.parametrize(
    ("parallelism", "error"), [(0, ValueError), (-1, ValueError), ("2", TypeError)]
)
def test_bad_parallelism(parallelism, error):
    async def work(x):
        return x

    with pytest.raises(error, match="parallelism"):
        Stream().map_async(work, parallelism=parallelism)


async def test_async_callable_object_and_partial_are_accepted():
    async def add(x, y):
        await asyncio.sleep(0.25)
        return x + y

    node = Stream().map_async(functools.partial(add, y=1))
    assert node._describe().startswith("map_async<")
    out = await record(lambda s: s.map_async(Worker(), parallelism=2), feed=[(0, 1), (0, 2)])
    await asyncio.sleep(2)
    assert out == [(1.0, "<1>"), (1.0, "<2>")]
    assert Stream().map_async(add, 1)._describe() == "map_async<add>"
