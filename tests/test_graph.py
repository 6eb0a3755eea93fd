"""Drawing graphs (streams/graph.py)."""

import networkx as nx
import pytest
from conftest import require_program

import streams
import streams.graph
from streams import Stream
from streams.graph import Rendered, _clean_text, graph_nodes, to_dot


def test_graph_nodes_finds_everything_connected_from_any_node():
    a, b = Stream(stream_name="a"), Stream(stream_name="b")
    z = a.zip(b)
    sink = z.map(str).sink_to_list().node
    names = [n._describe() for n in graph_nodes(sink)]
    assert names[:2] == ["a", "b"]  # roots first
    assert names[2:] == ["zip", "map<str>", "sink_to_list"]


def test_dot_labels_shapes_and_numbered_fan_out():
    source = Stream(stream_name='say "hi"')
    source.map(abs).sink_to_list()
    source.partition(2)
    text = to_dot(source)
    assert 'n0 [label="say \\"hi\\"", shape=ellipse];' in text
    assert '[label="partition<2>", shape=diamond]' in text
    assert '[label="sink_to_list", shape=trapezium]' in text
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
    assert out.path.read_text().startswith("digraph {\n  graph [rankdir=LR];")
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
    bundle = out._repr_mimebundle_()  # a notebook shows every drawing as SVG
    assert set(bundle) == {"text/plain", "image/svg+xml"}
    assert "prices" in bundle["image/svg+xml"]


def test_visualize_rejects_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the format"):
        Stream().visualize(str(tmp_path / "graph.bmpx"))


def test_attribute_values_are_bare_only_when_dot_allows_it():
    source = Stream()
    source.map(abs)
    text = to_dot(source, rankdir="LR", label="two words", nodesep=0.5, comment="node")
    assert 'graph [rankdir=LR, label="two words", nodesep=0.5, comment="node"];' in text
    assert "shape=box" in text and "shape=ellipse" in text


def test_create_graph_keys_nodes_by_hash_with_numbered_fan_out():
    a, b = Stream(stream_name="a"), Stream(stream_name="b")
    z = a.zip(b)
    m = z.map(str)
    out = m.sink_to_list().node
    other = m.sink_to_list().node
    g = streams.create_graph(out, nx.DiGraph())
    assert set(g) == {hash(n) for n in (a, b, z, m, out, other)}
    assert set(g.edges) == {
        (hash(a), hash(z)), (hash(b), hash(z)), (hash(z), hash(m)),
        (hash(m), hash(out)), (hash(m), hash(other)),
    }  # fmt: skip
    assert g.nodes[hash(m)] == {"label": "map str ", "shape": "box", "node": m}
    assert g.edges[hash(m), hash(out)] == {"label": "0"}
    assert g.edges[hash(m), hash(other)] == {"label": "1"}
    assert g.edges[hash(z), hash(m)] == {}


def test_create_graph_of_a_cycle_terminates_and_has_the_cycle():
    a = Stream()
    m = a.map(abs)
    m.connect(a)
    g = streams.create_graph(m, nx.DiGraph())
    assert sorted(nx.find_cycle(g)) == sorted([(hash(a), hash(m)), (hash(m), hash(a))])


def test_clean_text_turns_punctuation_runs_into_one_space_and_colons_into_semicolons():
    assert _clean_text("JFDSM*(@&$:FFDS:;;") == "JFDSM ;FFDS; "
    assert _clean_text("a-b", match="-") == "a b"


def test_top_level_visualize_and_create_graph_are_the_graph_module_functions(tmp_path):
    assert streams.visualize is streams.graph.visualize
    assert streams.create_graph is streams.graph.create_graph
    source = Stream(stream_name="s")
    source.map(abs)
    out = streams.visualize(source, tmp_path / "g.dot", rankdir="LR")
    assert "shape=box" in out.path.read_text()
