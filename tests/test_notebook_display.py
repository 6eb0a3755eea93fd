"""Streams in a notebook (issue 10): a displayed stream is a live widget that keeps
updating after its cell finished, ``source.emit(x)`` ending a cell shows nothing, and
``visualize()`` shows SVG inline with lambdas told apart.

The kernel tests run a real ipykernel (the one of tests/test_notebook.py) and look at
the IOPub messages a front end would receive: ``comm_open``/``comm_msg`` of the
``Output`` widget and the cells' outputs. The throttling itself is tested on virtual
time in tests/test_display.py.
"""

import asyncio
import importlib.util
import linecache

import pytest
import test_notebook
from conftest import require_program

import streams.graph
from streams import Stream
from streams.graph import Rendered, node_labels, to_dot
from streams.protocol import done_on

pytest.importorskip("ipywidgets")  # a test dependency (pyproject [test])

kernel = test_notebook.kernel  # the fixture: a real ipykernel importing this checkout

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def outputs_of(kernel, *cells):
    """The ``display_data``/``execute_result`` contents of the given cells."""
    return [
        m["content"]
        for m in kernel.messages
        if m["msg_type"] in ("display_data", "execute_result")
        and m["parent_header"].get("msg_id") in cells
    ]


def widget_shown(kernel, cell):
    """The model id of the one widget view the cell displayed."""
    (shown,) = outputs_of(kernel, cell)
    return shown["data"][WIDGET_VIEW]["model_id"]


def opened(kernel, model_id):
    """The state a widget was created with (its ``comm_open``)."""
    (state,) = [
        m["content"]["data"]["state"]
        for m in kernel.messages
        if m["msg_type"] == "comm_open" and m["content"]["comm_id"] == model_id
    ]
    return state


def updates(kernel, model_id):
    """What an ``Output`` widget was told to show, update by update (``comm_msg``)."""
    return [
        m["content"]["data"]["state"]["outputs"]
        for m in kernel.messages
        if m["msg_type"] == "comm_msg"
        and m["content"]["comm_id"] == model_id
        and m["content"]["data"].get("method") == "update"
        and "outputs" in m["content"]["data"]["state"]
    ]


def ok(reply):
    assert reply["status"] == "ok", reply
    return reply


def test_a_displayed_stream_is_a_widget_that_keeps_showing_its_latest_element(kernel):
    graph, _ = kernel.execute(
        "import asyncio\n"
        "from streams import Stream\n"
        "source = Stream()\n"
        "doubled = source.map(lambda x: 2 * x)\n"
        "loop = asyncio.get_running_loop()\n"
    )
    displayed, reply = kernel.execute("doubled")  # the last expression of a cell
    ok(reply)
    model = widget_shown(kernel, displayed)
    assert opened(kernel, model)["_model_name"] == "OutputModel"

    emitting, reply = kernel.execute(
        "started = loop.time()\nfor i in range(1000):\n    source.emit(i)"
    )
    ok(reply)
    waiting, reply = kernel.execute(  # the trailing update comes after the cell ended
        "await asyncio.sleep(0.5)\n"
        "print(doubled.downstreams[0].view.updates, loop.time() - started)"
    )
    ok(reply)

    shown = updates(kernel, model)
    assert shown[-1] == [
        {"output_type": "display_data", "data": {"text/plain": "1998"}, "metadata": {}}
    ]
    count, elapsed = kernel.stream("stdout", waiting).split()
    assert len(shown) == int(count) <= float(elapsed) * 10 + 1  # the default rate: 10/s

    ending, reply = kernel.execute("source.emit(1)")  # an awaitable: shows nothing
    ok(reply)
    assert outputs_of(kernel, ending) == []
    cells = (graph, displayed, emitting, waiting, ending)
    assert kernel.errors(*cells) == [] and kernel.stream("stderr", *cells) == ""
    assert "Future" not in str(outputs_of(kernel, *cells))


def test_a_streaming_dataframe_shows_a_live_html_table_at_its_own_rate(kernel):
    _, reply = kernel.execute(
        "import pandas as pd\n"
        "from streams import Stream\n"
        "frames = Stream()\n"
        "sdf = frames.to_dataframe(example=pd.DataFrame({'price': [0.0]}).iloc[:0])\n"
    )
    ok(reply)
    displayed, reply = kernel.execute("sdf")
    ok(reply)
    model = widget_shown(kernel, displayed)
    emitting, reply = kernel.execute("frames.emit(pd.DataFrame({'price': [1.5, 2.5]}))")
    ok(reply)
    assert outputs_of(kernel, emitting) == []

    (table,) = updates(kernel, model)
    assert "<table" in table[0]["data"]["text/html"] and "2.5" in table[0]["data"]["text/html"]

    live, reply = kernel.execute("view = frames.live(rate=2)\nview")
    ok(reply)
    assert opened(kernel, widget_shown(kernel, live))["_model_name"] == "OutputModel"
    _, reply = kernel.execute("print(view.rate, view.shown['text/plain'].split()[-1])")
    assert kernel.stream("stdout", _) == "2.0 2.5\n"
    assert kernel.errors(displayed, emitting, live) == []


def test_visualize_shows_svg_inline_with_lambdas_told_apart(kernel):
    require_program("dot")
    _, reply = kernel.execute(
        "from streams import Stream\n"
        "prices = Stream(stream_name='prices')\n"
        "up = prices.map(lambda p: p * 1.1)\n"
        "down = prices.map(lambda p: p * 0.9)\n"
        "prices.visualize(filename=None)"
    )
    ok(reply)
    (drawing,) = outputs_of(kernel, _)
    svg = drawing["data"]["image/svg+xml"]
    cell = reply["execution_count"]
    assert svg.startswith("<svg")
    assert f"map&lt;lambda at In[{cell}] line 3&gt;" in svg
    assert f"map&lt;lambda at In[{cell}] line 4&gt;" in svg


def test_emit_inside_a_loop_returns_a_done_future_that_says_what_it_is():
    async def main():
        source = Stream()
        done = source.emit(1)
        assert done is done_on(asyncio.get_running_loop())  # the cached one: no new object
        await done
        return done

    done = asyncio.run(main())
    assert repr(done) == "<streams emit: done>"
    assert done._ipython_display_() is None  # IPython then shows nothing


def test_visualize_without_a_filename_writes_nothing_and_keeps_the_svg(tmp_path, monkeypatch):
    require_program("dot")
    monkeypatch.chdir(tmp_path)
    source = Stream(stream_name="prices")
    source.map(abs).sink_to_list()
    drawing = source.visualize(filename=None)
    assert list(tmp_path.iterdir()) == []  # as streamz: nothing written
    assert isinstance(drawing, Rendered) and drawing.path is None
    assert repr(drawing) == "<Rendered svg graph>"
    bundle = drawing._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "image/svg+xml"}
    assert bundle["image/svg+xml"].startswith("<svg") and "prices" in bundle["image/svg+xml"]
    assert 'label="map<abs>"' in drawing.source


@pytest.mark.parametrize("ext", ["png", "pdf", "dot", "svg"])
def test_a_drawing_written_to_a_file_shows_inline_as_svg(tmp_path, ext):
    require_program("dot")
    source = Stream(stream_name="prices")
    source.map(abs)
    drawing = source.visualize(str(tmp_path / f"graph.{ext}"))
    assert drawing.path.exists()  # the file is written, as in streamz
    bundle = drawing._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "image/svg+xml"}
    assert bundle["image/svg+xml"].startswith("<svg") and "prices" in bundle["image/svg+xml"]


def test_without_dot_a_drawing_shows_the_image_it_wrote(tmp_path, monkeypatch):
    require_program("dot")
    source = Stream()
    png = source.visualize(str(tmp_path / "graph.png"))
    dot = source.visualize(str(tmp_path / "graph.dot"))
    monkeypatch.setattr(streams.graph.shutil, "which", lambda name: None)
    assert png._repr_mimebundle_()["image/png"] == png.path.read_bytes()
    assert set(dot._repr_mimebundle_()) == {"text/plain"} and dot.svg is None
    with pytest.raises(RuntimeError, match="needs graphviz's `dot` program"):
        source.visualize(filename=None)


def test_lambdas_are_labelled_with_their_file_and_line(tmp_path, monkeypatch):
    (tmp_path / "pipeline_module.py").write_text(
        "def build(source):\n"
        "    return (\n"
        "        source.map(lambda x: x + 1),\n"
        "        source.map(lambda x: x - 1),\n"
        "        source.filter(lambda x: x).map(lambda x: -x),\n"
        "    )\n"
    )
    spec = importlib.util.spec_from_file_location(
        "pipeline_module", tmp_path / "pipeline_module.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    source = Stream()
    inc, dec, neg = module.build(source)
    assert node_labels([inc, dec, neg.upstream, neg]) == [
        "map<lambda at pipeline_module.py line 3>",
        "map<lambda at pipeline_module.py line 4>",
        "filter<lambda at pipeline_module.py line 5>",  # not the same label as the map
        "map<lambda at pipeline_module.py line 5>",
    ]
    assert "map<lambda at pipeline_module.py line 3>" in to_dot(source)


def test_lambdas_on_one_line_are_told_apart_by_column_and_named_nodes_keep_their_name():
    source = Stream()
    a, b = source.map(lambda x: x + 1), source.map(lambda x: x * 2)
    named = source.map(lambda x: x, stream_name="identity")
    line = a.func.__code__.co_firstlineno
    text = linecache.getline(__file__, line)
    where = f"test_notebook_display.py line {line}"
    assert node_labels([a, b, named]) == [
        f"map<lambda at {where} col {text.index('x + 1') + 1}>",  # where each body starts
        f"map<lambda at {where} col {text.index('x * 2') + 1}>",
        "identity",
    ]
    sink = source.sink(lambda x: None)
    assert node_labels([source.map(abs), sink]) == [
        "map<abs>",
        f"sink<lambda at test_notebook_display.py line {line + 10}>",
    ]


def test_cells_of_a_terminal_ipython_are_named_like_notebook_cells():
    code = compile("f = lambda x: x\n", "<ipython-input-7-0123abcd>", "exec")
    namespace = {}
    exec(code, namespace)
    source = Stream()
    assert node_labels([source.map(namespace["f"])]) == ["map<lambda at In[7] line 1>"]
