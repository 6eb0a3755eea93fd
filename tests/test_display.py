"""Jupyter display of a stream (streams/display.py): a throttled live view of the latest
element. Time-based behaviour runs on the virtual-time loop and asserts exact times."""

import asyncio
import gc
import math
import sys
import threading

import pytest

import streams.display
from streams import Stream
from streams.display import options
from streams.testing import run_virtual

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


def timeline(output):
    """Record ``(loop time, text shown)`` at every update of ``output``."""
    loop = asyncio.get_running_loop()
    seen = []

    def record(change):
        seen.append((loop.time(), shown(output)[0]))

    output.observe(record, names="outputs")
    return seen


async def feed(source, items):
    """Emit ``(time, x)`` pairs at those virtual times."""
    loop = asyncio.get_running_loop()
    for t, x in items:
        await asyncio.sleep(t - loop.time())
        source.emit(x)


def test_displaying_a_node_shows_an_output_that_follows_its_latest_element(monkeypatch, capsys):
    async def main():
        source = Stream()
        output = display_of(source.map(lambda x: 2 * x), monkeypatch)
        assert "Output()" in capsys.readouterr().out  # display() outside a notebook
        assert output.outputs == ()
        source.emit(1)
        assert shown(output) == ["2"]  # the first element at once
        source.emit(21)
        assert shown(output) == ["2"]  # too soon: kept, not rendered
        await asyncio.sleep(1)
        assert shown(output) == ["42"]  # the latest, once the interval is over

    run_virtual(main())


def test_updates_come_at_most_rate_times_a_second_and_the_latest_always_ends_up_shown():
    async def main():
        source = Stream()
        view = source.live(rate=4)  # an update every 0.25 s at most
        seen = timeline(view.output)
        items = [(0, "a"), (0.125, "b"), (0.1875, "c"), (1, "d"), (1.0625, "e"), (3, "f")]
        await feed(source, items)
        await asyncio.sleep(10)
        return seen

    assert run_virtual(main()) == [
        (0.0, "'a'"),
        (0.25, "'c'"),  # b was never rendered: c replaced it in time
        (1.0, "'d'"),
        (1.25, "'e'"),  # the trailing update: nothing arrived after e
        (3.0, "'f'"),
    ]


def test_a_hundred_thousand_elements_cost_at_most_rate_times_duration_plus_one_renders(
    monkeypatch,
):
    formatted = []
    real = streams.display._formats
    monkeypatch.setattr(streams.display, "_formats", lambda x: formatted.append(x) or real(x))

    async def main():
        source = Stream()
        view = source.map(lambda x: x + 1).live()  # the default: 10 a second
        for i in range(100_000):  # over 10 virtual seconds
            source.emit(i)
            if i % 1000 == 999:
                await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        return view

    view = run_virtual(main())
    assert len(formatted) == view.updates <= 10 * 10 + 1
    assert formatted[-1] == 100_000 and view.shown == {"text/plain": "100000"}


def test_the_rate_comes_from_the_options_unless_the_view_has_its_own(monkeypatch):
    monkeypatch.setattr(options, "max_updates_per_second", 2)
    source = Stream()
    default, own = source.live(), source.live(rate=8)
    assert (default.rate, own.rate) == (2.0, 8.0)
    options.max_updates_per_second = 1  # followed by views without a rate of their own
    assert (default.rate, own.rate) == (1.0, 8.0)
    assert repr(own) == "<live view of <Stream>: at most 8 updates/s>"

    async def main():
        source = Stream()
        view = source.live()
        seen = timeline(view.output)
        await feed(source, [(0, 1), (0.5, 2)])
        await asyncio.sleep(5)
        return seen

    assert run_virtual(main()) == [(0.0, "1"), (1.0, "2")]


def test_an_infinite_rate_shows_every_element():
    source = Stream()
    view = source.live(rate=math.inf)
    for i in range(3):
        source.emit(i)
        assert view.shown == {"text/plain": str(i)}
    assert view.updates == 3


@pytest.mark.parametrize("rate", [0, -1, "fast", True, math.nan])
def test_rates_must_be_positive_numbers(rate):
    with pytest.raises(ValueError, match="positive number of updates per second"):
        Stream().live(rate=rate)
    with pytest.raises(ValueError, match="positive number of updates per second"):
        options.max_updates_per_second = rate
    assert options.max_updates_per_second == 10.0


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
    assert capsys.readouterr().out == "<Stream>\n"
    assert source.downstreams == ()  # nothing attached


def test_live_says_what_to_install_without_ipywidgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ImportError, match=r"needs ipywidgets \(pip install ipywidgets\)"):
        Stream().live()


def test_destroying_the_node_stops_the_view_after_showing_what_was_pending():
    async def main():
        source = Stream()
        doubled = source.map(lambda x: 2 * x)
        view = doubled.live(rate=1)
        seen = timeline(view.output)
        source.emit(1)
        source.emit(2)  # pending until t=1
        await asyncio.sleep(0.5)
        doubled.destroy()
        source.emit(3)  # reaches nothing
        await asyncio.sleep(10)
        return view, seen, source

    view, seen, source = run_virtual(main())
    assert seen == [(0.0, "2"), (0.5, "4")]  # the pending element shown as it retired
    assert view.stopped and view.sink.upstreams == [] and source.downstreams == ()


def test_destroying_the_source_stops_the_view_too():
    async def main():
        source = Stream()
        view = source.map(str).live(rate=1)
        source.emit(1)
        source.destroy()
        await asyncio.sleep(10)
        return view

    view = run_virtual(main())
    assert view.stopped and view.updates == 1 and view.sink.upstreams == []


def test_destroying_the_views_sink_stops_it():
    source = Stream()
    view = source.live()
    source.emit(1)
    view.sink.destroy()
    source.emit(2)
    assert view.stopped and source.downstreams == () and view.shown == {"text/plain": "1"}


def test_stop_detaches_the_view_and_cancels_its_pending_update():
    async def main():
        source = Stream()
        view = source.live(rate=1)
        source.emit(1)
        source.emit(2)
        view.stop()
        await asyncio.sleep(10)
        source.emit(3)
        return view, source

    view, source = run_virtual(main())
    assert view.shown == {"text/plain": "1"} and view.updates == 1
    assert source.downstreams == () and view.stopped
    assert repr(view) == "<live view of <Stream>: stopped>"


def test_the_display_sink_lets_go_once_its_widget_is_gone(monkeypatch, capsys):
    async def main():
        source = Stream()
        output = display_of(source, monkeypatch)
        (sink,) = source.downstreams
        assert sink._describe() == "display of stream"
        source.emit(1)
        output.close()
        del output
        gc.collect()
        await asyncio.sleep(1)
        source.emit(2)
        assert source.downstreams == () and sink.upstreams == []

    run_virtual(main())


def test_a_pending_update_for_a_collected_widget_detaches_the_sink():
    async def main():
        source = Stream()
        view = source.live(rate=1)
        source.emit(1)
        source.emit(2)  # pending
        view.output.close()
        gc.collect()
        assert view.output is None
        await asyncio.sleep(1)
        return view, source

    view, source = run_virtual(main())
    assert view.stopped and source.downstreams == () and view.shown is None


def test_elements_from_another_thread_are_shown_by_the_loop_the_view_was_made_in():
    async def main():
        source = Stream()
        view = source.live(rate=2)
        seen = timeline(view.output)
        made_in = threading.get_ident()
        threads = []
        view.output.observe(lambda c: threads.append(threading.get_ident()), names="outputs")

        def produce():
            for i in range(1000):
                source.emit(i)

        await asyncio.to_thread(produce)
        await asyncio.sleep(5)
        return seen, threads[1:], made_in

    seen, later_threads, made_in = run_virtual(main())
    assert seen[-1][1] == "999" and len(seen) == 2  # the first at once, then the last
    assert later_threads == [made_in]


def test_without_any_loop_the_background_loop_shows_the_latest():
    source = Stream()
    view = source.live(rate=20)
    updated = threading.Event()
    source.emit(1)
    view.output.observe(lambda change: updated.set(), names="outputs")
    source.emit(2)  # too soon after 1: the background loop shows it 1/20 s later
    assert view.shown == {"text/plain": "1"}
    assert updated.wait(timeout=10)
    assert view.shown == {"text/plain": "2"}
    view.stop()
