"""Live plots: what reaches the plot's buffer and what bokeh draws, the throttle on the
virtual clock, every kind, hvplot's spelling, and letting go of the graph."""

import asyncio
import gc
import subprocess
import sys

import pandas as pd
import pytest

from streams import Stream
from streams.dataframe import DataFrame
from streams.dataframe.plotting import KINDS, live_feed
from streams.testing import run_virtual

hv = pytest.importorskip("holoviews")

EXAMPLE = pd.DataFrame({"x": [0.0], "y": [0.0]}).iloc[:0]


def chunk(i: int, rows: int = 2) -> pd.DataFrame:
    return pd.DataFrame(
        {"x": [float(i * rows + r) for r in range(rows)], "y": [float(i)] * rows},
        index=range(i * rows, (i + 1) * rows),
    )


def drawn(plot) -> dict:
    """The columns bokeh would draw for the plot now."""
    figure = hv.render(plot, backend="bokeh")
    return {k: list(v) for k, v in figure.renderers[0].data_source.data.items()}


def test_the_plot_keeps_the_last_backlog_rows_and_draws_them():
    sdf = DataFrame(example=EXAMPLE)
    plot = sdf.plot.line(x="x", y="y", backlog=5)
    for i in range(4):
        sdf.emit(chunk(i))
        live_feed(plot).flush()
    data = live_feed(plot).buffer.data
    assert data["x"].tolist() == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert drawn(plot)["y"] == [1.0, 2.0, 2.0, 3.0, 3.0]


def test_chunks_inside_the_interval_are_sent_together_and_none_is_lost():
    async def main():
        sdf = DataFrame(example=EXAMPLE)
        plot = sdf.plot.line(y="y", backlog=10_000, rate=10)
        feed = live_feed(plot)
        for i in range(1000):  # 1000 chunks in one second of virtual time
            await sdf.emit(chunk(i))
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.2)  # the trailing send
        return feed

    feed = run_virtual(main())
    assert feed.sends <= 11  # at most 10 a second, plus the last
    assert feed.buffer.data["x"].tolist() == [float(v) for v in range(2000)]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_draws_the_rows(kind):
    sdf = DataFrame(example=EXAMPLE)
    plot = sdf.plot.hist(y="y") if kind == "hist" else getattr(sdf.plot, kind)()
    sdf.emit(chunk(0, rows=4))
    live_feed(plot).flush()
    figure = hv.render(plot, backend="bokeh")
    assert figure is not None
    assert len(live_feed(plot).buffer.data) == 4


def test_a_series_plots_as_its_column_and_hvplot_is_the_same():
    sdf = DataFrame(example=EXAMPLE)
    plot = sdf.y.hvplot.line(backlog=3)
    sdf.emit(chunk(0))
    live_feed(plot).flush()
    assert drawn(plot)["y"] == [0.0, 0.0]


def test_bad_arguments_are_refused_before_anything_is_connected():
    sdf = DataFrame(example=EXAMPLE)
    with pytest.raises(ValueError, match="backlog must be a positive number of rows"):
        sdf.plot.line(backlog=0)
    with pytest.raises(ValueError, match="rate must be a positive number"):
        sdf.plot.line(rate=0)
    assert len(sdf.stream.downstreams) == 0


def test_a_plot_that_is_gone_lets_go_of_the_graph():
    source = Stream()
    sdf = DataFrame(example=EXAMPLE, stream=source)
    plot = sdf.plot.line()
    assert len(source.downstreams) == 1
    del plot
    gc.collect()
    sdf.emit(chunk(0))  # the feed notices and detaches
    assert len(source.downstreams) == 0


def test_plots_import_the_plotting_libraries_only_when_made():
    code = (
        "import sys, pandas as pd, streams.dataframe as d\n"
        "sdf = d.DataFrame(example=pd.DataFrame({'x': [0.0]}))\n"
        "assert 'holoviews' not in sys.modules and 'bokeh' not in sys.modules\n"
        "sdf.plot.line()\n"
        "assert 'holoviews' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_running_result_replaces_what_its_plot_shows():
    sdf = DataFrame(example=EXAMPLE.assign(k=pd.Series([], dtype="int64")))
    means = sdf.groupby("k").y.mean()
    plot = means.plot.bar()
    sdf.emit(pd.DataFrame({"x": [0.0, 1.0], "y": [1.0, 3.0], "k": [1, 2]}))
    live_feed(plot).flush()
    sdf.emit(pd.DataFrame({"x": [2.0], "y": [5.0], "k": [1]}))
    live_feed(plot).flush()
    shown = live_feed(plot).buffer.data
    assert shown["y"].tolist() == [3.0, 3.0]  # the means of keys 1 and 2, not appended
