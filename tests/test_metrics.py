"""Per-node metrics: exact counts, errors, back pressure, held elements, sampled time, the
way back to uninstrumented pushes, and the Prometheus endpoint."""

import asyncio
import socket
import time
import urllib.request

import pytest

from streams import Stream
from streams.metrics import graph_metrics, serve_metrics
from streams.testing import run_virtual


def test_counts_along_a_chain_with_a_filter():
    source = Stream(stream_name="ticks")
    incremented = source.map(lambda x: x + 1, stream_name="inc")
    evens = incremented.filter(lambda x: x % 2 == 0, stream_name="evens")
    out = evens.sink_to_list()
    source.enable_metrics()
    for i in range(10):
        source.emit(i)
    figures = graph_metrics(source)
    assert list(figures) == ["ticks", "inc", "evens", "sink_to_list"]
    assert figures["ticks"]["in"] == figures["ticks"]["out"] == 10
    assert (figures["inc"]["in"], figures["inc"]["out"]) == (10, 10)
    assert (figures["evens"]["in"], figures["evens"]["out"]) == (10, 5)
    assert (figures["sink_to_list"]["in"], figures["sink_to_list"]["out"]) == (5, 0)
    assert out == [2, 4, 6, 8, 10]


def test_fan_out_and_fan_in_count_what_each_node_pushed():
    source = Stream(stream_name="s")
    left = source.map(str, stream_name="left")
    right = source.filter(lambda x: x > 1, stream_name="right")
    both = left.union(right)
    got = both.sink_to_list()
    source.enable_metrics()
    for i in range(4):
        source.emit(i)
    assert source.metrics()["out"] == 4  # one element out, whatever the branches
    assert left.metrics()["out"] == 4
    assert right.metrics()["out"] == 2
    assert both.metrics()["in"] == 6 and both.metrics()["out"] == 6
    assert len(got) == 6


def test_errors_are_counted_where_they_happen_under_any_policy():
    source = Stream()
    skipped = source.map(lambda x: 1 / x, on_error="skip")
    raising = source.map(lambda x: 10 / x)
    skipped.sink_to_list()
    raising.sink_to_list()
    source.enable_metrics()
    source.emit(1)
    with pytest.raises(ZeroDivisionError):
        source.emit(0)
    source.emit(2)
    assert skipped.metrics()["errors"] == 1
    assert raising.metrics()["errors"] == 1
    assert skipped.metrics()["in"] == 3 and skipped.metrics()["out"] == 2
    assert source.metrics()["errors"] == 0


def test_held_elements_and_back_pressure_waits():
    async def main():
        source = Stream(asynchronous=True)
        written = []

        async def slow_write(x):
            await asyncio.sleep(1)
            written.append(x)

        pairs = source.partition(2)
        pairs.sink(slow_write)
        source.enable_metrics()
        for i in range(5):
            await source.emit(i)
        return pairs, written

    pairs, written = run_virtual(main())
    m = pairs.metrics()
    assert written == [(0, 1), (2, 3)]
    assert (m["in"], m["out"], m["held"]) == (5, 2, 1)
    sink = pairs.downstreams[0].metrics()
    assert sink["waits"] == 2  # the two pairs the slow sink made the emitter wait for
    assert sink["waited_seconds"] > 0
    pairs.emit((4, 5))  # nothing held at exit


def test_sampled_time_goes_to_the_node_that_spends_it():
    def heavy(x):
        return sum(range(20_000)) + x  # ~0.3 ms

    source = Stream()
    light = source.map(lambda x: x + 1)
    slow = light.map(heavy)
    slow.sink(lambda x: None)
    source.enable_metrics()
    start = time.perf_counter()
    for i in range(1000):
        source.emit(i)
    elapsed = time.perf_counter() - start
    busy = slow.metrics()["busy_seconds"]
    # the profiler thread saw the heavy node working most of the time, the light one
    # hardly ever (statistical: a few hundred looks)
    assert 0.5 * elapsed < busy < 1.5 * elapsed
    assert light.metrics()["busy_seconds"] < 0.2 * busy
    assert slow.metrics()["per_element_us"] == pytest.approx(busy / 1000 * 1e6)
    source.disable_metrics()


def test_disable_restores_the_original_pushes_and_enable_is_idempotent():
    source = Stream()
    node = source.map(abs)
    pairs = node.partition(2)
    out = pairs.sink_to_list()
    map_fast, pairs_fast = node._fast, pairs._fast
    original_push = source._push
    source.enable_metrics()
    source.enable_metrics()  # a second call changes nothing
    assert node._fast is map_fast  # a map passes every element on: nothing is added
    assert pairs._fast is not pairs_fast  # a partition is entered through a counter
    assert source._push is not original_push  # a source counts what it pushes
    for x in (-1, -2):
        source.emit(x)
    assert (node.metrics()["in"], pairs.metrics()["in"], pairs.metrics()["out"]) == (2, 2, 1)
    source.disable_metrics()
    assert pairs._fast is pairs_fast
    assert source._push is original_push
    assert "update" not in vars(pairs)
    source.emit(-3)
    source.emit(-4)
    assert out == [(1, 2), (3, 4)]
    with pytest.raises(RuntimeError, match=r"map<abs>: metrics are off"):
        node.metrics()


def test_nodes_added_later_are_instrumented_by_enabling_again():
    source = Stream()
    source.map(abs).sink_to_list()
    source.enable_metrics()
    late = source.map(str)
    late.sink_to_list()
    source.emit(-1)
    assert late._metrics is None
    source.enable_metrics()
    source.emit(-2)
    assert late.metrics()["in"] == 1
    assert source.metrics()["out"] == 2


def test_serve_metrics_in_the_prometheus_text_format():
    source = Stream(stream_name="ticks")
    source.map(abs, stream_name="abs").sink_to_list()
    server = serve_metrics(source, port=0)
    try:
        assert server.url.startswith("http://127.0.0.1:")
        for i in range(3):
            source.emit(-i)
        text = urllib.request.urlopen(server.url, timeout=10).read().decode()
        assert 'streams_node_elements_in_total{node="abs"} 3.0' in text
        assert 'streams_node_elements_out_total{node="ticks"} 3.0' in text
        assert 'streams_node_held_elements{node="abs"} 0.0' in text
        assert "# TYPE streams_node_backpressure_wait_seconds_total counter" in text
    finally:
        server.stop()


def test_serve_metrics_on_a_port_in_use_names_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=rf"cannot listen on 127.0.0.1:{port}"):
            serve_metrics(Stream(), port=port)
