"""In-process sinks (streams/sinks/basic.py)."""

import asyncio
import gc
import io

import pytest

from streams import Sink, Stream
from streams.sinks import FuncSink, ListSink, TextFileSink


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
    assert str(node) == "writer"


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
    assert isinstance(node, TextFileSink) and str(node).startswith("sink_to_textfile<")
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
        first = asyncio.create_task(source.emit(1, asynchronous=True))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert order == [("start", 1)] and not first.done()
        gate.set()
        await first
        await source.emit(2, asynchronous=True)

    asyncio.run(main())
    assert order == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]
