"""In-process sinks (streams/sinks/basic.py)."""

import asyncio
import gc
import importlib
import io
import threading

import pytest

from streams import Sink, Stream
from streams.sinks import FuncSink, ListSink, TextFileSink, sink_to_file


def test_sink_passes_extra_arguments_and_takes_node_keywords():
    seen = []
    source = Stream()
    node = source.sink(
        lambda x, scale, offset=0: seen.append(x * scale + offset),
        10,
        offset=1,
        stream_name="writer",
    )
    source.emit(2)
    assert seen == [21]
    assert isinstance(node, FuncSink) and isinstance(node, Sink)
    assert node._describe() == "writer"


def test_sink_ignores_plain_return_values():
    source = Stream()
    source.sink(lambda x: x * 2)
    assert source.emit(1) is None


def test_sink_to_list_returns_a_list_with_its_node():
    source = Stream()
    out = source.sink_to_list()
    source.emit(1)
    assert out == [1] and isinstance(out, list)
    assert isinstance(out.node, ListSink)
    assert source.downstreams == (out.node,)
    out.node.destroy()
    source.emit(2)
    assert out == [1] and source.downstreams == ()


def test_sinks_are_not_pinned_globally():
    source = Stream()
    out = source.sink_to_list()
    node = out.node
    node.destroy()
    del node, out, source
    gc.collect()
    assert not any(isinstance(o, ListSink) for o in gc.get_objects())


def test_textfile_sink_writes_flushes_and_closes(tmp_path):
    path = tmp_path / "out.txt"
    source = Stream()
    node = source.map(str).sink_to_textfile(path, end=";")
    source.emit(1)
    assert path.read_text() == "1;"  # flushed per element
    source.emit(2)
    assert isinstance(node, TextFileSink) and node._describe().startswith("sink_to_textfile<")
    node.destroy()
    assert node.file.closed
    assert path.read_text() == "1;2;"


def test_textfile_sink_modes_and_file_objects(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    source = Stream()
    source.sink_to_textfile(str(path), mode="w").destroy()
    assert path.read_text() == ""
    buf = io.StringIO()
    node = source.sink_to_textfile(buf)
    source.emit("a")
    assert buf.getvalue() == "a\n"
    node.destroy()
    assert buf.closed


def test_textfile_sink_rejects_non_text_with_a_note(tmp_path):
    source = Stream()
    node = source.sink_to_textfile(tmp_path / "x.txt")
    with pytest.raises(TypeError) as info:
        source.emit(3)
    assert info.value.__notes__ == ["in sink_to_textfile<%s> (element 3)" % (tmp_path / "x.txt")]
    source.emit("ok")
    node.destroy()
    assert (tmp_path / "x.txt").read_text() == "ok\n"
    with pytest.raises(TypeError, match="expected a path or a text file"):
        source.sink_to_textfile(42)  # type: ignore[arg-type]


def test_sink_rejects_non_callables():
    with pytest.raises(TypeError, match="expected a callable"):
        Stream().sink("print")  # type: ignore[arg-type]


def test_async_sink_back_pressure_and_order():
    order = []
    gate = asyncio.Event()

    async def write(x):
        order.append(("start", x))
        await gate.wait()
        order.append(("end", x))

    source = Stream()
    source.sink(write)

    async def main():
        first = asyncio.ensure_future(source.emit(1, asynchronous=True))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert order == [("start", 1)] and not first.done()
        gate.set()
        await first
        await source.emit(2, asynchronous=True)

    asyncio.run(main())
    assert order == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]


def test_tornado_coroutine_sink_in_a_script_runs_on_the_graph_loop():
    # streamz's test_separate_thread_with_time: calling a gen.coroutine needs a loop
    from tornado import gen

    seen = []

    @gen.coroutine
    def slow_write(x):
        yield gen.sleep(0.01)
        seen.append((x, threading.current_thread().name))

    source = Stream()
    source.map(lambda x: x + 1).sink(slow_write)
    source.emit(1)  # returns once slow_write finished
    assert seen == [(2, "streams-loop")]


def test_failing_tornado_coroutine_sink_in_a_script_raises_from_emit():
    from tornado import gen

    @gen.coroutine
    def broken(x):
        yield gen.moment
        raise ValueError(f"bad {x}")

    source = Stream()
    source.sink(broken)
    with pytest.raises(ValueError, match="bad 1") as info:
        source.emit(1)
    assert info.value.__notes__ == ["in sink<broken> (element 1)"]


async def test_tornado_coroutine_sink_inside_a_loop_is_called_there():
    from tornado import gen

    seen = []

    @gen.coroutine
    def write(x):
        yield gen.moment
        seen.append((x, asyncio.get_running_loop()))

    source = Stream()
    source.sink(write)
    await source.emit(1)
    assert seen == [(1, asyncio.get_running_loop())]


def test_textfile_sink_fp_is_the_file(tmp_path):
    node = Stream().sink_to_textfile(tmp_path / "x.txt")
    assert node._fp is node.file
    node.destroy()


@pytest.mark.parametrize("module", ["streams.sinks", "streams.sources"])
def test_sink_to_file_writes_with_prefix_and_suffix_and_returns_the_file(tmp_path, module):
    sink_to_file = importlib.import_module(module).sink_to_file
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    source = Stream()
    with sink_to_file(path, source, prefix="<", suffix=">\n", flush=True) as f:
        source.emit("a")
        assert path.read_text() == "<a>\n"  # mode "w" truncated; flushed per element
        source.emit("b")
    assert f.closed
    assert path.read_text() == "<a>\n<b>\n"
    with pytest.raises(ValueError, match="closed file"):
        source.emit("c")


def test_sink_to_file_appends_and_buffers_by_default(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    source = Stream()
    f = sink_to_file(path, source, mode="a")
    source.emit("new")
    f.close()
    assert path.read_text() == "old\nnew\n"
    assert source.downstreams[0]._describe() == f"sink_to_file<{path}>"
