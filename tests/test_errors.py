"""Error policies (``on_error=``) and error streams (streams/errors.py, Stream.errors,
Stream.drain)."""

import asyncio
import io
import logging
import threading
from typing import Any, NamedTuple

import pytest
from helpers import counted, fail

import streams
from streams import ErrorRecord, RefCounter, Stream, retry


def tenth(x):
    return 10 // x


def tenth_of_pair(a, b):
    return a // b


def tenth_is_big(x):
    return tenth(x) > 1


def tenth_is_huge(x):
    return tenth(x) > 100


def add_tenth(acc, x):
    return acc + tenth(x)


async def async_identity(x):
    await asyncio.sleep(0)
    return x


async def async_fail(x):
    await asyncio.sleep(0)
    raise RuntimeError("async down")


def streams_records(caplog, level):
    return [r for r in caplog.records if r.name == "streams" and r.levelno == level]


# ------------------------------------------------------------------ nodes with a user function
#
# Each builder takes the source and an on_error policy and returns the node carrying the
# policy and a function reading what came out. ``good`` flows, ``bad`` fails there.


def _out(node):
    out = node.sink_to_list()
    return node, lambda: list(out)


def build_map(s, p):
    return _out(s.map(tenth, on_error=p))


def build_starmap(s, p):
    return _out(s.starmap(tenth_of_pair, on_error=p))


def build_filter(s, p):
    return _out(s.filter(tenth_is_big, on_error=p))


def build_remove(s, p):
    return _out(s.remove(tenth_is_huge, on_error=p))


def build_accumulate(s, p):
    return _out(s.accumulate(add_tenth, start=0, on_error=p))


def build_partition_key(s, p):
    return _out(s.partition(1, key=tenth, on_error=p))


def build_partition_unique_key(s, p):
    return _out(s.partition_unique(1, key=tenth, on_error=p))


def build_unique_key(s, p):
    return _out(s.unique(key=tenth, on_error=p))


def build_pluck(s, p):
    return _out(s.pluck("a", on_error=p))


def build_flatten(s, p):
    return _out(s.flatten(on_error=p))


def build_frequencies(s, p):
    return _out(s.frequencies(on_error=p))


def build_sink(s, p):
    out = []
    return s.sink(lambda x: out.append(tenth(x)), on_error=p), lambda: list(out)


def build_async_sink(s, p):
    out = []

    async def write(x):
        await asyncio.sleep(0)
        out.append(tenth(x))

    return s.sink(write, on_error=p), lambda: list(out)


def build_textfile(s, p):
    f = io.StringIO()
    return s.sink_to_textfile(f, on_error=p), lambda: f.getvalue().splitlines()


class Case(NamedTuple):
    build: Any  # build(source, on_error) -> (node, read)
    good: Any  # an element that goes through
    gives: Any  # what the node makes of it
    bad: Any  # an element that fails at the node
    exc: type  # with this exception


NODES = {
    "map": Case(build_map, 2, 5, 0, ZeroDivisionError),
    "starmap": Case(build_starmap, (6, 3), 2, (1, 0), ZeroDivisionError),
    "filter": Case(build_filter, 2, 2, 0, ZeroDivisionError),
    "remove": Case(build_remove, 2, 2, 0, ZeroDivisionError),
    "accumulate": Case(build_accumulate, 2, 5, 0, ZeroDivisionError),
    "partition key": Case(build_partition_key, 2, (2,), 0, ZeroDivisionError),
    "partition_unique key": Case(build_partition_unique_key, 2, (2,), 0, ZeroDivisionError),
    "unique key": Case(build_unique_key, 2, 2, 0, ZeroDivisionError),
    "pluck missing key": Case(build_pluck, {"a": 1}, 1, {"b": 1}, KeyError),
    "flatten non-iterable": Case(build_flatten, [7], 7, 7, TypeError),
    "frequencies unhashable": Case(build_frequencies, "x", {"x": 1}, ["x"], TypeError),
    "sink": Case(build_sink, 2, 5, 0, ZeroDivisionError),
    "async sink": Case(build_async_sink, 2, 5, 0, ZeroDivisionError),
    "sink_to_textfile non-str": Case(build_textfile, "ok", "ok", 5, TypeError),
}


def expected_after_two_goods(name):
    """What a node gives for good, (bad,) good: the bad element left no trace."""
    if name == "accumulate":
        return [5, 10]  # the state is untouched by the failed element
    if name == "frequencies unhashable":
        return [{"x": 1}, {"x": 2}]
    if name == "unique key":
        return [NODES[name].gives]  # the second good one is a repeat
    return [NODES[name].gives] * 2


node_cases = pytest.mark.parametrize("name", list(NODES))


@node_cases
def test_raise_reaches_the_emitter_with_a_note_and_the_graph_goes_on(name):
    build, good, _, bad, exc = NODES[name]
    source = Stream()
    node, read = build(source, "raise")
    ref, fired = counted()
    source.emit(good)
    with pytest.raises(exc) as info:
        source.emit(bad, metadata=[{"ref": ref}])
    assert type(info.value) is exc  # the original exception, not a wrapper
    assert f"in {node._describe()} (element {bad!r})" in info.value.__notes__
    assert fired == [] and ref.count == 1  # a failed element is not acknowledged
    source.emit(good)
    assert read() == expected_after_two_goods(name)


def test_raise_is_the_default_and_names_the_failing_node_deep_in_the_graph():
    source = Stream()
    node = source.map(lambda x: x - 1).map(tenth, stream_name="tenths")
    out = node.sink_to_list()
    with pytest.raises(ZeroDivisionError) as info:
        source.emit(1)
    assert info.value.__notes__ == ["in tenths (element 0)"]
    source.emit(3)
    assert out == [5]


async def test_raise_from_a_coroutine_sink_reaches_the_awaiting_emitter():
    source = Stream()
    node, read = build_async_sink(source, "raise")
    with pytest.raises(ZeroDivisionError) as info:
        await source.emit(0)
    assert f"in {node._describe()} (element 0)" in info.value.__notes__
    await source.emit(2)
    assert read() == [5]


@node_cases
def test_skip_drops_the_element_logs_a_warning_and_acknowledges_it(name, caplog):
    build, good, _, bad, exc = NODES[name]
    source = Stream()
    errors = source.errors().sink_to_list()
    node, read = build(source, "skip")
    ref, fired = counted()
    source.emit(good)
    with caplog.at_level(logging.WARNING, logger="streams"):
        assert source.emit(bad, metadata=[{"ref": ref}]) is None
    [warning] = streams_records(caplog, logging.WARNING)
    assert node._describe() in warning.getMessage()
    assert exc.__name__ in warning.getMessage()
    assert "skip" in warning.getMessage()
    assert fired == [1] and ref.count == 0  # handled: its refs are released
    assert errors == []  # skipped, not dead-lettered
    source.emit(good)
    assert read() == expected_after_two_goods(name)


@node_cases
def test_dead_letter_sends_a_record_to_every_error_stream(name):
    build, good, _, bad, exc = NODES[name]
    source = Stream()
    first = source.errors().sink_to_list()
    node, read = build(source, "dead_letter")
    second = source.errors().sink_to_list()
    metadata = [{"origin": "test"}]
    source.emit(good)
    assert source.emit(bad, metadata=metadata) is None
    assert first == second and len(first) == 1
    [record] = first
    assert isinstance(record, ErrorRecord)
    assert record.node is node
    assert record.element == bad
    assert type(record.error) is exc
    assert f"in {node._describe()} (element {bad!r})" in record.error.__notes__
    assert list(record.metadata) == metadata
    assert str(record) == f"{node._describe()}: {exc.__name__}: {record.error}"
    source.emit(good)
    assert read() == expected_after_two_goods(name)
    assert len(first) == 1


def test_dead_letter_record_in_detail():
    source = Stream()
    node = source.map(tenth, on_error="dead_letter")
    records = source.errors().sink_to_list()
    texts = source.errors().map(str).sink_to_list()
    source.emit(0)
    assert records[0].node is node and records[0].element == 0
    assert texts == ["map<tenth>: ZeroDivisionError: integer division or modulo by zero"]


@pytest.mark.parametrize("name", ["map", "filter", "sink", "async sink"])
def test_dead_letter_without_an_error_stream_is_logged_at_error(name, caplog):
    build, good, _, bad, exc = NODES[name]
    source = Stream()
    node, read = build(source, "dead_letter")
    with caplog.at_level(logging.WARNING, logger="streams"):
        source.emit(bad)
    [error] = streams_records(caplog, logging.ERROR)
    assert node._describe() in error.getMessage() and "no error stream" in error.getMessage()
    assert error.exc_info[0] is exc
    source.emit(good)
    assert read() == [NODES[name].gives]
    source.drain()  # a dead letter is not an unobserved failure


# ------------------------------------------------------------------ retry


def flaky(failures, result=None):
    """A function failing its first ``failures`` calls; ``calls`` records every call."""

    def func(x):
        func.calls.append((x, threading.current_thread().name))
        if len(func.calls) <= failures:
            raise ConnectionError(f"attempt {len(func.calls)}")
        return x * 10 if result is None else result

    func.calls = []
    return func


@pytest.mark.parametrize(("k", "waited"), [(1, 0.0), (2, 0.25), (3, 0.75), (4, 1.75)])
async def test_retry_succeeding_on_attempt_k_delivers_once_after_the_backoffs(k, waited):
    loop = asyncio.get_running_loop()
    func = flaky(k - 1)
    source = Stream()
    out = source.map(func, on_error=retry(5, backoff=0.25)).sink_to_list()
    errors = source.errors().sink_to_list()
    t0 = loop.time()
    await source.emit(4)
    assert loop.time() - t0 == waited  # 0.25 * (1 + 2 + 4 ...), in virtual time
    assert out == [40]
    assert len(func.calls) == k
    assert errors == []
    await source.drain()


async def test_retry_exhausted_then_raise_re_raises_with_a_note():
    loop = asyncio.get_running_loop()
    func = flaky(100)
    source = Stream()
    node = source.map(func, on_error=retry(3, backoff=0.5))
    out = node.sink_to_list()
    t0 = loop.time()
    with pytest.raises(ConnectionError, match="attempt 4") as info:
        await source.emit(1)
    assert loop.time() - t0 == 0.5 + 1.0 + 2.0
    assert len(func.calls) == 4  # the first try and 3 retries
    assert "gave up after 3 retries" in info.value.__notes__
    assert f"in {node._describe()} (element 1)" in info.value.__notes__
    assert out == []


async def test_retry_exhausted_then_dead_letter_goes_to_error_streams():
    loop = asyncio.get_running_loop()
    func = flaky(100)
    source = Stream()
    node = source.map(func, on_error=retry(2, backoff=0.5, then="dead_letter"))
    errors = source.errors().sink_to_list()
    t0 = loop.time()
    await source.emit(1)
    assert loop.time() - t0 == 1.5
    [record] = errors
    assert record.node is node and record.element == 1
    assert type(record.error) is ConnectionError
    assert "gave up after 2 retries" in record.error.__notes__


async def test_retry_exhausted_then_skip_logs_a_warning(caplog):
    func = flaky(100)
    source = Stream()
    source.map(func, on_error=retry(1, backoff=0.5, then="skip")).sink_to_list()
    errors = source.errors().sink_to_list()
    with caplog.at_level(logging.WARNING, logger="streams"):
        await source.emit(1)
    [warning] = streams_records(caplog, logging.WARNING)
    assert "gave up after 1 retries" in warning.getMessage()
    assert errors == []


def test_retry_in_a_plain_synchronous_caller_runs_on_the_background_loop():
    func = flaky(2)
    source = Stream()
    out = source.map(func, on_error=retry(3, backoff=0.001)).sink_to_list()
    assert source.emit(3) is None  # blocks until the element got through
    assert out == [30]
    threads = [name for _, name in func.calls]
    assert threads[0] == threading.current_thread().name
    assert threads[1:] == ["streams-loop", "streams-loop"]
    assert source.emit(4) is None
    assert out == [30, 40]


def test_retry_exhausted_in_a_plain_synchronous_caller_raises():
    source = Stream()
    source.map(flaky(100), on_error=retry(2, backoff=0.001)).sink_to_list()
    with pytest.raises(ConnectionError) as info:
        source.emit(1)
    assert "gave up after 2 retries" in info.value.__notes__


@pytest.mark.parametrize("name", list(NODES))
async def test_retry_applies_to_every_node_with_a_user_function(name):
    build, good, _, bad, exc = NODES[name]
    loop = asyncio.get_running_loop()
    source = Stream()
    node, read = build(source, retry(2, backoff=0.5, then="dead_letter"))
    errors = source.errors().sink_to_list()
    await source.emit(good)
    t0 = loop.time()
    await source.emit(bad)
    assert loop.time() - t0 == 1.5
    [record] = errors
    assert record.node is node and type(record.error) is exc
    assert "gave up after 2 retries" in record.error.__notes__
    await source.emit(good)
    assert read() == expected_after_two_goods(name)


async def test_retry_of_a_coroutine_sink_calls_it_again():
    loop = asyncio.get_running_loop()
    calls = []

    async def write(x):
        calls.append(loop.time())
        await asyncio.sleep(1.0)
        if len(calls) < 3:
            raise ConnectionError("busy")

    source = Stream()
    source.sink(write, on_error=retry(5, backoff=0.5))
    await source.emit(1)
    # fails at 1.0; retried at 1.5, fails at 2.5; retried at 3.5, succeeds at 4.5
    assert calls == [0.0, 1.5, 3.5]
    assert loop.time() == 4.5


def test_retry_retries_only_this_nodes_function_not_a_downstream_failure():
    # The sink's policy is "raise": its error reaches the emitter even while the map
    # upstream is retrying, and the map's function is not called again because of it.
    func = flaky(1)
    sink_calls = []

    def sink_failing_once(x):
        sink_calls.append(x)
        if len(sink_calls) == 1:
            raise RuntimeError("sink down")

    source = Stream()
    source.map(func, on_error=retry(3, backoff=0.001)).sink(sink_failing_once)
    with pytest.raises(RuntimeError, match="sink down"):
        source.emit(1)
    assert len(func.calls) == 2
    assert sink_calls == [10]


# ------------------------------------------------------------------ validation

NODE_NAMES = {
    "map": (lambda s, p: s.map(tenth, on_error=p), "Map"),
    "filter": (lambda s, p: s.filter(tenth_is_big, on_error=p), "Filter"),
    "accumulate": (lambda s, p: s.accumulate(add_tenth, on_error=p), "Accumulate"),
    "pluck": (lambda s, p: s.pluck(0, on_error=p), "Pluck"),
    "partition": (lambda s, p: s.partition(2, on_error=p), "Partition"),
    "sink": (lambda s, p: s.sink(print, on_error=p), "FuncSink"),
    "buffer": (lambda s, p: s.buffer(2, on_error=p), "Buffer"),
    "zip": (lambda s, p: s.zip(Stream(), on_error=p), "Zip"),
    "union": (lambda s, p: s.union(Stream(), on_error=p), "Union"),
    "Stream": (lambda s, p: Stream(s, on_error=p), "Stream"),
    "from_iterable": (lambda s, p: Stream.from_iterable([1], on_error=p), "FromIterable"),
}


@pytest.mark.parametrize("name", list(NODE_NAMES))
@pytest.mark.parametrize("policy", ["ignore", "Raise", None, 3, retry, ("skip",)])
def test_invalid_on_error_is_refused_at_build_time_naming_the_node(name, policy):
    build, label = NODE_NAMES[name]
    source = Stream()
    with pytest.raises(ValueError, match=f"^{label}: on_error must be") as info:
        build(source, policy)
    assert repr(policy) in str(info.value)
    assert source.downstreams == ()  # nothing was wired


def test_invalid_on_error_of_sink_to_textfile_leaves_no_open_file(tmp_path):
    source = Stream()
    with pytest.raises(ValueError, match="on_error"):
        source.sink_to_textfile(tmp_path / "out.txt", on_error="ignore")
    assert source.downstreams == ()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempts": 0},
        {"attempts": -1},
        {"attempts": 1.5},
        {"attempts": True},
        {"attempts": "3"},
        {"attempts": 2, "backoff": -0.1},
        {"attempts": 2, "backoff": "1s"},
        {"attempts": 2, "backoff": True},
        {"attempts": 2, "then": "retry"},
        {"attempts": 2, "then": None},
        {"attempts": 2, "then": retry(1)},
    ],
)
def test_retry_arguments_are_validated(kwargs):
    with pytest.raises(ValueError, match="retry: "):
        retry(**kwargs)


def test_retry_accepts_good_arguments():
    policy = retry(3, backoff=0, then="skip")
    assert (policy.attempts, policy.backoff, policy.then) == (3, 0, "skip")
    assert [retry(4, backoff=0.5).delay(i) for i in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert streams.retry(1).then == "raise"


# ------------------------------------------------------------------ nodes that run on their own
#
# Each builder returns the node whose worker pushes to a failing sink, and the element
# that sink receives. By virtual time 0.75 each has pushed element 1 exactly once.


def worker_buffer(s, **kw):
    return s.buffer(2, **kw), 1


def worker_delay(s, **kw):
    return s.delay(0.5, **kw), 1


def worker_timed_window(s, **kw):
    return s.timed_window(0.5, **kw), [1]


def worker_latest(s, **kw):
    return s.latest(**kw), 1


def worker_map_async(s, **kw):
    return s.map_async(async_identity, **kw), 1


def worker_partition_timeout(s, **kw):
    return s.partition(3, timeout=0.5, **kw), (1,)


WORKERS = {
    "buffer": worker_buffer,
    "delay": worker_delay,
    "timed_window": worker_timed_window,
    "latest": worker_latest,
    "map_async": worker_map_async,
    "partition timeout": worker_partition_timeout,
}

worker_cases = pytest.mark.parametrize("worker", list(WORKERS))


def failing_graph(worker, **kw):
    source = Stream()
    node, element = WORKERS[worker](source, **kw)
    seen = []

    def fail_on_elements(x):
        seen.append(x)
        if x:  # empty windows of timed_window pass
            raise RuntimeError("sink down")

    sink = node.sink(fail_on_elements)
    return source, sink, element


@worker_cases
async def test_error_of_a_worker_goes_to_the_error_stream_and_drain_does_not_raise(worker):
    source, sink, element = failing_graph(worker)
    errors = source.errors().sink_to_list()
    await source.emit(1)  # accepted: the failure comes later, with no emitter waiting
    await asyncio.sleep(0.75)
    [record] = errors
    assert record.node is sink
    assert record.element == element
    assert type(record.error) is RuntimeError
    assert f"in {sink._describe()} (element {element!r})" in record.error.__notes__
    await source.drain()  # the error stream observed it
    await source.emit(2)
    await source.drain()
    assert len(errors) == 2


@worker_cases
async def test_error_of_a_worker_without_error_stream_is_logged_and_raised_by_drain(
    worker, caplog
):
    source, sink, element = failing_graph(worker)
    with caplog.at_level(logging.ERROR, logger="streams"):
        await source.emit(1)
        await asyncio.sleep(0.75)
    [logged] = streams_records(caplog, logging.ERROR)
    assert logged.exc_info[0] is RuntimeError
    assert sink._describe() in logged.getMessage()
    with pytest.raises(RuntimeError, match="sink down") as info:
        await source.drain()
    assert f"in {sink._describe()} (element {element!r})" in info.value.__notes__
    await source.drain()  # reported once


@worker_cases
async def test_error_of_a_worker_is_raised_by_drain_when_drain_pushed_it(worker, caplog):
    source = failing_graph(worker)[0]
    with caplog.at_level(logging.ERROR, logger="streams"):
        await source.emit(1)
        with pytest.raises(RuntimeError, match="sink down"):
            await source.drain()
    assert asyncio.get_running_loop().time() == 0.0  # drain did not wait for timers
    await source.drain()


@worker_cases
async def test_worker_with_skip_logs_a_warning_and_keeps_nothing_for_drain(worker, caplog):
    source = failing_graph(worker, on_error="skip")[0]
    errors = source.errors().sink_to_list()
    with caplog.at_level(logging.WARNING, logger="streams"):
        await source.emit(1)
        await asyncio.sleep(0.75)
    [warning] = streams_records(caplog, logging.WARNING)
    assert "sink down" in warning.getMessage() and "skip" in warning.getMessage()
    assert streams_records(caplog, logging.ERROR) == []
    assert errors == []
    await source.drain()


@worker_cases
async def test_worker_with_dead_letter_and_no_error_stream_logs_but_drain_passes(worker, caplog):
    source = failing_graph(worker, on_error="dead_letter")[0]
    with caplog.at_level(logging.ERROR, logger="streams"):
        await source.emit(1)
        await asyncio.sleep(0.75)
    [logged] = streams_records(caplog, logging.ERROR)
    assert "no error stream" in logged.getMessage()
    await source.drain()


async def test_skip_on_the_failing_sink_below_a_worker_keeps_the_graph_quiet(caplog):
    source = Stream()
    source.buffer(2).sink(fail, on_error="skip")
    errors = source.errors().sink_to_list()
    with caplog.at_level(logging.WARNING, logger="streams"):
        for x in range(3):
            await source.emit(x)
        await source.drain()
    assert len(streams_records(caplog, logging.WARNING)) == 3
    assert errors == []


async def test_failing_map_async_function_goes_to_the_error_stream():
    source = Stream()
    node = source.map_async(async_fail)
    out = node.sink_to_list()
    errors = source.errors().sink_to_list()
    await source.emit(1)
    await source.drain()
    [record] = errors
    assert record.node is node and record.element == 1
    assert type(record.error) is RuntimeError
    assert out == []


async def test_failing_map_async_function_without_error_stream_is_raised_by_drain(caplog):
    source = Stream()
    source.map_async(async_fail).sink_to_list()
    with caplog.at_level(logging.ERROR, logger="streams"):
        await source.emit(1)
        with pytest.raises(RuntimeError, match="async down"):
            await source.drain()
    await source.drain()


async def test_failing_map_async_function_with_retry_tries_again():
    loop = asyncio.get_running_loop()
    calls = []

    async def flaky_async(x):
        calls.append(loop.time())
        if len(calls) < 3:
            raise ConnectionError("busy")
        return x

    source = Stream()
    out = source.map_async(flaky_async, on_error=retry(3, backoff=0.5)).sink_to_list()
    await source.emit(1)
    await source.drain()
    assert out == [1]
    assert calls == [0.0, 0.5, 1.5]


async def test_retry_at_a_worker_node_tries_its_failed_push_again():
    # streams/errors.py: for a node that runs on its own, "the push downstream raised" is
    # its failure, and retry(n) "tries the element again up to n times".
    loop = asyncio.get_running_loop()
    calls = []

    def sink_failing_once(x):
        calls.append(loop.time())
        if len(calls) == 1:
            raise ConnectionError("busy")

    source = Stream()
    source.buffer(2, on_error=retry(2, backoff=0.5)).sink(sink_failing_once)
    errors = source.errors().sink_to_list()
    await source.emit(1)
    await source.drain()
    assert calls == [0.0, 0.5]
    assert errors == []


@pytest.mark.parametrize("with_errors", [True, False])
async def test_error_below_a_from_iterable_source(with_errors, caplog):
    source = Stream.from_iterable([1, 0, 2])
    out = source.map(tenth).sink_to_list()
    errors = source.errors().sink_to_list() if with_errors else None
    with caplog.at_level(logging.ERROR, logger="streams"):
        source.start()
        await source.wait()
    assert out == [10, 5]  # the source went on after the failure
    if with_errors:
        [record] = errors
        assert record.node._describe() == "map<tenth>" and record.element == 0
        await source.drain()
    else:
        assert len(streams_records(caplog, logging.ERROR)) == 1
        with pytest.raises(ZeroDivisionError):
            await source.drain()
        await source.drain()


def test_error_of_a_worker_in_a_plain_script_is_raised_by_drain(caplog):
    source = Stream()
    source.buffer(1).sink(fail)
    with caplog.at_level(logging.ERROR, logger="streams"):
        source.emit(1)  # runs on the background loop
        with pytest.raises(RuntimeError, match="sink down"):
            source.drain()
    source.drain()


async def test_drain_raises_the_first_of_several_failures(caplog):
    source = Stream()
    source.buffer(5).map(tenth).sink_to_list()
    with caplog.at_level(logging.ERROR, logger="streams"):
        for x in [0, "a", 1]:
            await source.emit(x)
        with pytest.raises(ZeroDivisionError) as info:
            await source.drain()
    assert "(1 more errors since the last drain)" in info.value.__notes__
    assert len(streams_records(caplog, logging.ERROR)) == 2  # each one was logged
    await source.drain()


# ------------------------------------------------------------------ error streams


def test_an_error_stream_consumer_that_raises_is_logged_and_the_graph_goes_on(caplog):
    source = Stream()
    out = source.map(int, on_error="dead_letter").sink_to_list()
    source.errors().sink(fail)
    others = source.errors().sink_to_list()
    with caplog.at_level(logging.ERROR, logger="streams"):
        source.emit("x")
    [logged] = streams_records(caplog, logging.ERROR)
    assert "error stream's consumer failed" in logged.getMessage()
    assert logged.exc_info[0] is RuntimeError
    assert len(others) == 1  # the other error streams still got it
    source.emit("2")
    source.emit("y")
    assert out == [2]
    assert len(others) == 2
    source.drain()


@pytest.mark.parametrize("merge", ["connect", "zip", "union"])
def test_error_streams_of_merged_graphs_all_receive_errors(merge):
    a, b = Stream(), Stream()
    errors_a = a.errors().sink_to_list()
    errors_b = b.errors().sink_to_list()
    a_branch = a.map(tenth, on_error="dead_letter")
    b_branch = b.map(tenth, on_error="dead_letter")
    if merge == "connect":
        a.connect(b)
    else:
        getattr(a, merge)(b).sink_to_list()
    a.emit(0)
    assert [r.node for r in errors_a] == [r.node for r in errors_b]
    assert a_branch in [r.node for r in errors_b]  # a's error reached b's error stream
    b.emit(0)
    assert errors_a == errors_b
    assert b_branch in [r.node for r in errors_a]  # and b's reached a's


def test_error_streams_merge_when_the_failing_node_is_built_before_the_merge():
    a, b = Stream(), Stream()
    node = a.map(tenth, on_error="dead_letter")
    errors_b = b.errors().sink_to_list()
    b.connect(a)
    a.emit(0)
    assert [r.node for r in errors_b] == [node]


def test_destroying_an_error_stream_unsubscribes_it(caplog):
    source = Stream()
    source.map(tenth, on_error="dead_letter")
    errors = source.errors()
    out = errors.sink_to_list()
    kept = source.errors().sink_to_list()
    source.emit(0)
    errors.destroy()
    source.emit(0)
    assert len(out) == 1 and len(kept) == 2
    kept.node.upstream.destroy()
    with caplog.at_level(logging.ERROR, logger="streams"):
        source.emit(0)
    assert len(out) == 1 and len(kept) == 2
    [logged] = streams_records(caplog, logging.ERROR)
    assert "no error stream" in logged.getMessage()


def test_errors_returns_a_new_stream_each_call():
    source = Stream()
    first, second = source.errors(), source.errors()
    assert first is not second
    assert first._describe() == "errors"


async def test_error_stream_with_a_slow_async_consumer_is_waited_for_by_drain():
    loop = asyncio.get_running_loop()
    handled = []

    async def slow_report(record):
        await asyncio.sleep(1.0)
        handled.append((loop.time(), record.element))

    source = Stream()
    source.map(tenth, on_error="dead_letter")
    source.errors().sink(slow_report)
    await source.emit(0)
    await source.drain()
    assert handled == [(1.0, 0)]


def test_error_record_fields_and_str():
    node = Stream(stream_name="parser")
    error = ValueError("bad digit")
    ref = RefCounter()
    record = ErrorRecord(node, "x1", error, [{"ref": ref}])
    assert (record.node, record.element, record.error) == (node, "x1", error)
    assert str(record) == "parser: ValueError: bad digit"
    assert "ref" not in repr(record)  # metadata is left out of the repr
