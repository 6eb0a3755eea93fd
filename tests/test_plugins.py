"""Plugins found through entry points (streams/core.py: register_plugins)."""

import subprocess
import sys
import textwrap

import pytest

import streams.plugins
from streams import Stream

PLUGIN_MODULE = """
from streams import Stream

class Negate(Stream):
    def update(self, x, who=None, metadata=()):
        return self._emit(-x, metadata)

class FromPair(Stream):
    def __init__(self, a, b, **kwargs):
        super().__init__(**kwargs)
        self.pair = (a, b)

class NotANode:
    pass
"""

ENTRY_POINTS = """
[streams.nodes]
negate_demo = demo_plugin_mod:Negate
broken_demo = demo_plugin_mod:NotANode

[streams.sources]
from_pair_demo = demo_plugin_mod:FromPair
"""


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A distribution with streams entry points on sys.path, and a fresh plugin scan."""
    (tmp_path / "demo_plugin_mod.py").write_text(PLUGIN_MODULE)
    info = tmp_path / "demo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(streams.plugins, "registered", False)
    yield
    for name in ("negate_demo", "broken_demo", "from_pair_demo"):
        if name in Stream.__dict__:
            delattr(Stream, name)
    sys.modules.pop("demo_plugin_mod", None)


def test_node_plugin_registered_on_first_node_and_loaded_on_first_call(installed_plugin):
    source = Stream()
    assert "demo_plugin_mod" not in sys.modules  # registered, not yet imported
    out = source.negate_demo().sink_to_list()  # type: ignore[attr-defined]
    assert "demo_plugin_mod" in sys.modules
    source.emit(5)
    assert out == [-5]
    assert type(source.downstreams[0]).__name__ == "Negate"


def test_source_plugin_found_from_the_class_before_any_node(installed_plugin):
    node = Stream.from_pair_demo(1, 2)  # type: ignore[attr-defined]
    assert node.pair == (1, 2)


def test_plugin_that_is_not_a_node_fails_clearly(installed_plugin):
    source = Stream()
    with pytest.raises(TypeError, match=r"broken_demo.*must be a subclass of Stream"):
        source.broken_demo()  # type: ignore[attr-defined]


def test_unknown_names_still_raise_attribute_error(installed_plugin):
    with pytest.raises(AttributeError, match="no_such_plugin"):
        _ = Stream.no_such_plugin  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        _ = Stream().no_such_plugin  # type: ignore[attr-defined]


def test_plugin_shadowing_a_builtin_is_skipped_with_a_warning(tmp_path, monkeypatch):
    (tmp_path / "shadow_mod.py").write_text(
        "from streams import Stream\nclass map(Stream): pass\n"
    )
    info = tmp_path / "shadow-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shadow\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[streams.nodes]\nmap = shadow_mod:map\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(streams.plugins, "registered", False)
    with pytest.warns(RuntimeWarning, match="'map' from shadow_mod:map is ignored"):
        source = Stream()
    out = source.map(abs).sink_to_list()
    source.emit(-1)
    assert out == [1]


def test_import_does_not_scan_entry_points():
    code = textwrap.dedent(
        """
        import importlib.metadata as md
        calls = []
        real = md.entry_points
        md.entry_points = lambda **kw: calls.append(kw) or real(**kw)
        import streams
        assert calls == [], calls
        streams.Stream()
        assert calls == [{}], calls  # one scan, then one select per group
        streams.Stream()
        assert calls == [{}], calls
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_groups_are_streams_then_streamz():
    assert list(streams.plugins.PLUGIN_GROUPS.items()) == [
        ("streams.nodes", False), ("streams.sinks", False), ("streams.sources", True),
        ("streamz.nodes", False), ("streamz.sinks", False), ("streamz.sources", True),
    ]  # fmt: skip


def test_import_does_not_import_importlib_metadata():
    code = textwrap.dedent(
        """
        import sys
        import streams
        assert "importlib.metadata" not in sys.modules
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


class BareEntryPoint:
    """An entry point with only ``name`` and ``load()`` (no ``value``), as in streamz's
    tests and some plugin loaders."""

    def __init__(self, name, obj, module_name=None):
        self.name = name
        self.obj = obj
        self.module_name = module_name

    def load(self):
        return self.obj


@pytest.fixture
def unregister():
    names = []
    yield names
    for name in names:
        if name in Stream.__dict__:
            delattr(Stream, name)


def test_entry_point_without_value_registers_a_stub_then_the_node(unregister):
    class Twice(Stream):
        def update(self, x, who=None, metadata=()):
            return self._emit(2 * x, metadata)

    unregister.append("twice_demo")
    Stream.register_plugin_entry_point(BareEntryPoint("twice_demo", Twice))
    assert Stream.twice_demo.__name__ == "stub"  # type: ignore[attr-defined]
    assert "twice_demo" in Stream.twice_demo.__doc__  # type: ignore[attr-defined]
    source = Stream()
    out = source.twice_demo().sink_to_list()  # type: ignore[attr-defined]
    source.emit(4)
    assert out == [8]
    assert Stream.twice_demo.__name__ == "Twice"  # type: ignore[attr-defined]


def test_entry_point_without_value_that_is_not_a_node_names_its_module(unregister):
    unregister.append("broken_bare")
    Stream.register_plugin_entry_point(BareEntryPoint("broken_bare", object, "some_mod.thing"))
    with pytest.raises(TypeError, match=r"'broken_bare' \(some_mod.thing\) must be a subclass"):
        Stream.broken_bare()  # type: ignore[attr-defined]


STREAMZ_ENTRY_POINTS = """
[streamz.nodes]
negate_demo = demo_plugin_mod:Negate
twin_demo = demo_plugin_mod:Negate

[streams.nodes]
twin_demo = demo_plugin_mod:Negate

[streamz.sources]
from_pair_demo = demo_plugin_mod:FromPair
"""


def test_plugins_in_streamz_groups_load_and_twins_are_not_warned_about(
    installed_plugin, tmp_path, unregister
):
    info = tmp_path / "demo_plugin-1.0.dist-info"
    (info / "entry_points.txt").write_text(STREAMZ_ENTRY_POINTS)
    unregister.append("twin_demo")
    source = Stream()  # scans; filterwarnings=error: a warning would fail here
    out = source.negate_demo().sink_to_list()  # type: ignore[attr-defined]
    source.emit(5)
    assert out == [-5]
    assert isinstance(Stream.__dict__["from_pair_demo"], staticmethod)
    assert Stream.from_pair_demo(1, 2).pair == (1, 2)  # type: ignore[attr-defined]
    assert Stream().twin_demo().__class__.__name__ == "Negate"  # type: ignore[attr-defined]
