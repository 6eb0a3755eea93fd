"""Jupyter display of a stream (streams/display.py): a live output of the latest element."""

import gc

import pytest

from streams import Stream

ipywidgets = pytest.importorskip("ipywidgets")  # a test dependency (pyproject [test])


def shown(output):
    """The text an ``ipywidgets.Output`` shows."""
    return [o["data"]["text/plain"] for o in output.outputs]


def display_of(node, monkeypatch):
    """Display ``node`` as Jupyter does; return the output widget it showed."""
    outputs = []
    real = ipywidgets.Output

    def spy(*args, **kwargs):
        outputs.append(real(*args, **kwargs))
        return outputs[-1]

    with monkeypatch.context() as patch:
        patch.setattr(ipywidgets, "Output", spy)
        node._ipython_display_()
    return outputs.pop()


def test_displaying_a_node_shows_an_output_that_follows_its_latest_element(monkeypatch, capsys):
    # streamz's test_no_ipywidget_repr: display() of the widget outside a notebook
    source = Stream()
    doubled = source.map(lambda x: 2 * x)
    output = display_of(doubled, monkeypatch)
    assert "Output()" in capsys.readouterr().out
    assert output.outputs == ()
    source.emit(1)
    assert shown(output) == ["2"]
    source.emit(21)
    assert shown(output) == ["42"]


def test_a_node_that_already_emitted_shows_its_latest_element_at_once(monkeypatch, capsys):
    source = Stream()
    source.emit("first")
    output = display_of(source, monkeypatch)
    assert shown(output) == ["'first'"]


def test_without_widgets_the_node_is_shown_as_text(monkeypatch, capsys):
    def unavailable(*args, **kwargs):
        raise ImportError("no widgets here")

    monkeypatch.setattr(ipywidgets.Output, "__init__", unavailable)
    source = Stream()
    source._ipython_display_()
    assert "<Stream>" in capsys.readouterr().out
    assert source.downstreams == ()  # nothing attached


def test_the_display_sink_lets_go_once_its_widget_is_gone(monkeypatch, capsys):
    source = Stream()
    output = display_of(source, monkeypatch)
    (sink,) = source.downstreams
    assert sink._describe() == "display of stream"
    source.emit(1)
    output.close()
    del output
    gc.collect()
    source.emit(2)
    assert source.downstreams == () and sink.upstreams == []
