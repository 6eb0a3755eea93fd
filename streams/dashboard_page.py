"""The bokeh document of one open dashboard page (see :mod:`streams.dashboard`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .dashboard import REFRESH_MS, is_number

if TYPE_CHECKING:
    from .dashboard import Dashboard, _Collector

__all__ = ["build_page"]

COLUMNS = [
    ("node", "node"),
    ("in", "in"),
    ("out", "out"),
    ("rate", "elements/s"),
    ("errors", "errors"),
    ("busy_percent", "busy %"),
    ("per_element_us", "µs/element"),
    ("waits", "waits"),
    ("waited_seconds", "waited s"),
    ("held", "held"),
]


def build_page(doc: Any, board: Dashboard) -> None:
    """Fill ``doc`` with the graph, the metrics table and the live plots, and refresh
    them every :data:`~streams.dashboard.REFRESH_MS` milliseconds."""
    from bokeh.layouts import column
    from bokeh.models.widgets import Div

    graph = _GraphView(board)
    table = _MetricsTable()
    plots = [
        _LivePlot(collector, example, board.backlog)
        for collector, example in zip(board.collectors, board.examples, strict=True)
    ]

    def refresh() -> None:
        figures = board.figures()
        graph.refresh(figures)
        table.refresh(figures)
        for plot in plots:
            plot.refresh()

    refresh()
    title = Div(text="<h2>streams dashboard</h2>", name="title")
    doc.title = "streams dashboard"
    doc.add_root(column(title, graph.figure, table.widget, *[p.view for p in plots]))
    doc.add_periodic_callback(refresh, REFRESH_MS)


class _GraphView:
    """The graph: a circle per node, coloured by back pressure, sized by rate."""

    def __init__(self, board: Dashboard) -> None:
        from bokeh.models import ColumnDataSource, HoverTool, Range1d
        from bokeh.models.annotations import LabelSet
        from bokeh.plotting import figure

        self.placed = board.layout()
        by_name = {p["name"]: p for p in self.placed}
        xs: list[list[float]] = []
        ys: list[list[float]] = []
        for p in self.placed:
            for d in p["downstreams"]:
                xs.append([p["level"], by_name[d]["level"]])
                ys.append([-p["row"], -by_name[d]["row"]])
        self.source = ColumnDataSource(self._data({}), name="graph")
        height = 120 + 60 * max((p["row"] for p in self.placed), default=0)
        self.figure = figure(
            name="graph",
            title="graph (colour: share of time emitters waited; size: rate)",
            height=height,
            width=900,
            toolbar_location=None,
            x_range=Range1d(
                start=-0.5, end=max((p["level"] for p in self.placed), default=0) + 0.8
            ),
        )
        self.figure.axis.visible = False
        self.figure.grid.visible = False
        self.figure.multi_line(xs, ys, line_color="#999999", line_width=2)
        circles = self.figure.scatter(
            "x", "y", size="size", fill_color="color", line_color="#333333", source=self.source
        )
        self.figure.add_layout(
            LabelSet(x="x", y="y", text="node", source=self.source, x_offset=12, y_offset=8)
        )
        self.figure.add_tools(
            HoverTool(
                renderers=[circles],
                tooltips=[
                    ("node", "@node"),
                    ("elements/s", "@rate{0.0}"),
                    ("waited", "@wait_share{0%}"),
                ],
            )
        )

    def _data(self, figures: dict[str, dict[str, Any]]) -> dict[str, list[Any]]:
        data: dict[str, list[Any]] = {
            "node": [],
            "x": [],
            "y": [],
            "rate": [],
            "wait_share": [],
            "color": [],
            "size": [],
        }
        for p in self.placed:
            f = figures.get(p["name"], {})
            rate = float(f.get("rate", 0.0))
            elapsed = f["in"] / rate if f.get("in") and rate else 0.0
            share = min(1.0, f.get("waited_seconds", 0.0) / elapsed) if elapsed else 0.0
            data["node"].append(p["name"])
            data["x"].append(p["level"])
            data["y"].append(-p["row"])
            data["rate"].append(rate)
            data["wait_share"].append(share)
            data["color"].append(_white_to_red(share))
            data["size"].append(14 + min(26.0, 4.0 * _log10(1.0 + rate)))
        return data

    def refresh(self, figures: dict[str, dict[str, Any]]) -> None:
        self.source.data = self._data(figures)


class _MetricsTable:
    """Every node's figures, one row each: an HTML table, rewritten when they change."""

    def __init__(self) -> None:
        from bokeh.models.widgets import Div

        self.widget = Div(text="", name="metrics", width=900)

    def refresh(self, figures: dict[str, dict[str, Any]]) -> None:
        head = "".join(f"<th>{_escape(title)}</th>" for _, title in COLUMNS)
        body = []
        for name, f in figures.items():
            elapsed = f["in"] / f["rate"] if f["rate"] else 0.0
            row = dict(f, node=name)
            row["busy_percent"] = round(100 * f["busy_seconds"] / elapsed, 1) if elapsed else 0.0
            row["rate"] = round(f["rate"], 1)
            row["per_element_us"] = round(f["per_element_us"], 2)
            row["waited_seconds"] = round(f["waited_seconds"], 3)
            cells = "".join(f"<td>{_escape(str(row[key]))}</td>" for key, _ in COLUMNS)
            body.append(f"<tr>{cells}</tr>")
        text = (
            '<table class="streams-metrics" style="border-collapse: collapse; width: 100%">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
        if text != self.widget.text:
            self.widget.text = text


class _LivePlot:
    """The last elements of one stream: numbers (or numeric columns) as lines, anything
    else as the latest element's text."""

    def __init__(self, collector: _Collector, example: Any, backlog: int) -> None:
        from bokeh.layouts import column
        from bokeh.models import ColumnDataSource
        from bokeh.models.widgets import Div
        from bokeh.plotting import figure

        self.collector = collector
        self.backlog = backlog
        self.sent = 0  # the collector's count of the last element sent to this page
        self.rows = 0
        name = collector.upstreams[0]._describe() if collector.upstreams else "stream"
        self.columns = _numeric_columns(example)
        fields = ["seq", *(self.columns or ["value"])]
        self.source = ColumnDataSource({f: [] for f in fields}, name=f"plot:{name}")
        self.figure = figure(title=name, height=250, width=900, name=f"figure:{name}")
        for i, field in enumerate(fields[1:]):
            self.figure.line(
                "seq",
                field,
                source=self.source,
                legend_label=str(field),
                line_color=_PALETTE[i % len(_PALETTE)],
            )
        self.text = Div(text="", name=f"latest:{name}")
        self.view = column(self.figure, self.text)

    def refresh(self) -> None:
        latest = list(self.collector.kept)  # one C call: safe while the graph appends
        new = [(seen, x) for seen, x in latest if seen > self.sent]
        if not new:
            return
        self.sent = new[-1][0]
        last = new[-1][1]
        if self.columns is not None:
            self._stream_frames([x for _, x in new])
        elif all(is_number(x) for _, x in new):
            self.source.stream(
                {"seq": [s for s, _ in new], "value": [float(x) for _, x in new]},
                rollover=self.backlog,
            )
        self.text.text = f"<b>latest:</b> <code>{_escape(repr(last))[:500]}</code>"

    def _stream_frames(self, chunks: list[Any]) -> None:
        import pandas as pd

        frames = [c.to_frame() if isinstance(c, pd.Series) else c for c in chunks]
        rows = pd.concat(frames) if len(frames) > 1 else frames[0]
        rows = rows.iloc[max(0, len(rows) - self.backlog) :]
        seq = list(range(self.rows + 1, self.rows + len(rows) + 1))
        self.rows += len(rows)
        data: dict[str, Any] = {"seq": seq}
        assert self.columns is not None
        for col in self.columns:
            data[col] = rows[col].astype(float).tolist()
        self.source.stream(data, rollover=self.backlog)


_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def _numeric_columns(example: Any) -> list[str] | None:
    """The numeric columns a frame's plot draws (``None``: not a frame)."""
    if example is None:
        return None
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - a frame implies pandas
        return None
    if isinstance(example, pd.Series):
        example = example.to_frame()
    if not isinstance(example, pd.DataFrame):
        return None
    return [str(c) for c in example.columns if pd.api.types.is_numeric_dtype(example[c])]


def _white_to_red(share: float) -> str:
    level = int(255 * (1.0 - share))
    return f"#ff{level:02x}{level:02x}"


def _log10(x: float) -> float:
    import math

    return math.log10(x)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
