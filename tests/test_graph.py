"""Drawing graphs (streams/graph.py)."""

import pytest
from conftest import require_program

import streams.graph
from streams import Stream
from streams.graph import Rendered, graph_nodes, to_dot


def test_graph_nodes_finds_everything_connected_from_any_node():
    a, b = Stream(stream_name="a"), Stream(stream_name="b")
    z = a.zip(b)
    sink = z.map(str).sink_to_list().node
    names = [str(n) for n in graph_nodes(sink)]
    assert names[:2] == ["a", "b"]  # roots first
    assert names[2:] == ["zip", "map<str>", "sink_to_list"]


def test_dot_labels_shapes_and_numbered_fan_out():
    source = Stream(stream_name='say "hi"')
    source.map(abs).sink_to_list()
    source.partition(2)
    text = to_dot(source)
    assert 'n0 [label="say \\"hi\\"", shape="ellipse"];' in text
    assert '[label="partition<2>", shape="diamond"]' in text
    assert '[label="sink_to_list", shape="trapezium"]' in text
    assert 'n0 -> n1 [label="0"];' in text and 'n0 -> n2 [label="1"];' in text


def test_cycles_are_drawn_without_looping_forever():
    a = Stream()
    m = a.map(abs)
    m.connect(a)
    text = to_dot(a)
    assert text.count("->") == 2


def test_visualize_writes_dot_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(streams.graph.shutil, "which", lambda name: None)
    source = Stream()
    source.map(abs).sink_to_list()
    out = source.visualize(str(tmp_path / "g.dot"), rankdir="LR")
    assert isinstance(out, Rendered) and out.format == "dot"
    assert out.path.read_text().startswith('digraph {\n  graph [rankdir="LR"];')
    with pytest.raises(RuntimeError, match="needs graphviz's `dot` program"):
        source.visualize(str(tmp_path / "g.png"))


@pytest.mark.parametrize("ext", ["png", "svg", "pdf"])
def test_visualize_renders_images_with_dot(tmp_path, ext):
    require_program("dot")
    source = Stream(stream_name="prices")
    source.map(abs).filter(None).sink_to_list()
    out = source.visualize(str(tmp_path / f"graph.{ext}"))
    data = out.path.read_bytes()
    magic = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[ext]
    assert data.startswith(magic)
    bundle = out._repr_mimebundle_()
    if ext == "png":
        assert bundle["image/png"] == data
    elif ext == "svg":
        assert "prices" in bundle["image/svg+xml"]
    else:
        assert set(bundle) == {"text/plain"}


def test_visualize_rejects_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the format"):
        Stream().visualize(str(tmp_path / "graph.bmpx"))
