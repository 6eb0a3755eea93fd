"""The notebooks of docs/notebooks run from top to bottom in a fresh Jupyter kernel and
show what their text says (issue 10).

Each notebook is executed with nbclient, as ``jupyter nbconvert --execute`` would, in a
kernel running this interpreter and importing this checkout. Besides the outputs
nbclient stores in the notebook, every IOPub message the kernel sent is kept: a live
view updates its widget with ``comm_msg`` messages, and an update sent by the view's
throttle timer after a cell ended carries the header of the cell that scheduled it (the
timer inherits ipykernel's parent-header context variable). nbclient drops messages of
a cell it is no longer running, so its stored widget state (``store_widget_state``)
misses those updates, while a front end applies them. The tests therefore read a
widget's updates from the messages, as a front end would.
"""

import ast
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import require_program
from test_notebook import kernel_setup

import streams

REPO = Path(streams.__file__).resolve().parent.parent
NOTEBOOKS = REPO / "docs" / "notebooks"
CELL_TIMEOUT = 60  # seconds a cell may run

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
HOLOVIEWS_EXEC = "application/vnd.holoviews_exec.v0+json"


class Executed:
    """A notebook after execution, and every IOPub message its kernel sent."""

    def __init__(self, nb: Any, messages: list[dict[str, Any]]) -> None:
        self.nb = nb
        self.messages = messages
        self.cells = {cell.id: cell for cell in nb.cells}
        by_count = {c.execution_count: c.id for c in nb.cells if c.cell_type == "code"}
        self.cell_of = {  # message id of each cell's execute_request -> cell id
            m["parent_header"]["msg_id"]: by_count[m["content"]["execution_count"]]
            for m in messages
            if m["msg_type"] == "execute_input"
        }

    def outputs(self, cell: str, output_type: str) -> list[Any]:
        return [o for o in self.cells[cell].outputs if o.output_type == output_type]

    def stdout(self, cell: str) -> str:
        return "".join(o.text for o in self.outputs(cell, "stream") if o.name == "stdout")

    def result(self, cell: str) -> dict[str, Any]:
        """The MIME bundle of the cell's value (its last expression)."""
        (result,) = self.outputs(cell, "execute_result")
        return dict(result.data)

    def widget(self, cell: str) -> str:
        """The model id of the one widget view the cell displayed."""
        (view,) = [o for o in self.outputs(cell, "display_data") if WIDGET_VIEW in o.data]
        model: str = view.data[WIDGET_VIEW]["model_id"]
        (opened,) = [
            m["content"]["data"]["state"]
            for m in self.messages
            if m["msg_type"] == "comm_open" and m["content"]["comm_id"] == model
        ]
        assert opened["_model_name"] == "OutputModel"
        return model

    def shown(self, model: str) -> list[dict[str, Any]]:
        """What an ``Output`` widget was told to show, update by update (MIME bundles)."""
        shown = []
        for m in self.messages:
            if m["msg_type"] != "comm_msg" or m["content"]["comm_id"] != model:
                continue
            data = m["content"]["data"]
            if data.get("method") == "update" and "outputs" in data["state"]:
                (output,) = data["state"]["outputs"]  # a live view shows one element
                shown.append(output["data"])
        return shown

    def problems(self) -> list[Any]:
        """Errors and stderr text: in the stored outputs, and in every message (also
        those shown after their cell ended)."""
        stored = [
            o
            for cell in self.nb.cells
            for o in cell.get("outputs", [])
            if o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
        ]
        sent = [
            m["content"]
            for m in self.messages
            if m["msg_type"] == "error"
            or (m["msg_type"] == "stream" and m["content"]["name"] == "stderr")
        ]
        return stored + sent


def execute(name: str, tmp_path: Path) -> Executed:
    """Run a notebook of docs/notebooks in a fresh kernel of this interpreter, in
    ``tmp_path``; every code cell must finish within :data:`CELL_TIMEOUT`."""
    try:
        import nbformat
        from jupyter_client import AsyncKernelManager
        from nbclient import NotebookClient
    except ImportError as exc:
        pytest.fail(f"nbclient is a test dependency (pip install -e '.[test]'): {exc}")

    class RecordingClient(NotebookClient):
        """nbclient, keeping every IOPub message it reads (also other cells')."""

        async def async_start_new_kernel_client(self) -> Any:
            client = await super().async_start_new_kernel_client()
            get = client.iopub_channel.get_msg

            async def recorded(*args: Any, **kwargs: Any) -> Any:
                msg = await get(*args, **kwargs)
                messages.append(msg)
                return msg

            client.iopub_channel.get_msg = recorded
            return client

    messages: list[dict[str, Any]] = []
    specs, env = kernel_setup(tmp_path)
    manager = AsyncKernelManager(kernel_name="streams-test", kernel_spec_manager=specs)
    work = tmp_path / "work"
    work.mkdir()
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = RecordingClient(nb, km=manager, timeout=CELL_TIMEOUT)
    client.execute(cleanup_kc=True, env=env, cwd=str(work))
    assert list(work.iterdir()) == []  # the notebook writes no file
    return Executed(nb, messages)


def test_the_notebooks_are_stored_clean_for_the_python3_kernel():
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == [
        "01_first_pipeline.ipynb",
        "02_streaming_dataframes.ipynb",
        "03_metrics_and_backpressure.ipynb",
    ]
    for name in names:
        nb = json.loads((NOTEBOOKS / name).read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3", name
        assert "widgets" not in nb["metadata"], name
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert (cell["outputs"], cell["execution_count"]) == ([], None), name


def test_a_first_pipeline_updates_its_live_views_draws_its_graph_and_runs_a_timer(tmp_path):
    require_program("dot")
    run = execute("01_first_pipeline.ipynb", tmp_path)
    assert run.problems() == []

    # the displayed node: a widget that ends on the running sum of all valid elements
    # (1, 2, 3, then 4, times 10), showing only sums the node really reached
    shown = [int(bundle["text/plain"]) for bundle in run.shown(run.widget("watch"))]
    assert shown[-1] == 100
    assert shown == sorted(shown) and set(shown) <= {10, 30, 60, 100}
    for cell in ("emit", "emit-await"):  # source.emit(x) shows nothing, awaited or not
        assert run.outputs(cell, "execute_result") == []

    # live(rate=2): made showing 60, updated to 100 after the cell that emitted 4
    live = run.shown(run.widget("live"))
    assert [bundle["text/plain"] for bundle in live] == ["60", "100"]
    assert run.result("emit-more")["text/plain"] == "'100'"  # view.shown, in the notebook

    svg = run.result("draw")["image/svg+xml"]
    cell = run.cells["build"].execution_count
    assert svg.startswith("<svg")
    for label in (
        "readings",
        f"filter&lt;lambda at In[{cell}] line 6&gt;",
        f"map&lt;lambda at In[{cell}] line 7&gt;",
        f"accumulate&lt;lambda at In[{cell}] line 8&gt;",
    ):
        assert label in svg

    # the timer: every tick once, in order, and the view ends on the last window
    received, last = run.stdout("timer-check").splitlines()
    assert received == "True True"
    windows = run.shown(run.widget("timer"))
    assert len(windows) >= 2 and windows[-1]["text/plain"] == last
    assert ast.literal_eval(last) != []


def chunk(t: int) -> pd.DataFrame:
    """The chunk ``chunk(t)`` of the DataFrame notebook."""
    temps = [20.0 + t, 22.0 + t, 21.0 + t]
    return pd.DataFrame({"t": [t, t + 1, t + 2], "sensor": ["a", "b", "a"], "temp": temps})


def test_streaming_dataframes_show_live_tables_and_a_live_plot(tmp_path):
    run = execute("02_streaming_dataframes.ipynb", tmp_path)
    assert run.problems() == []
    rows = pd.concat([chunk(t) for t in (0, 3, 6, 9)], ignore_index=True)  # pandas' answer

    setup = [o.data for o in run.outputs("setup", "display_data")]
    assert any("application/vnd.holoviews_load.v0+json" in data for data in setup)

    # the live table ends on the last chunk, as Jupyter shows a DataFrame
    table = run.shown(run.widget("table"))
    assert len(table) >= 2
    assert table[-1]["text/plain"] == repr(chunk(9))
    assert table[-1]["text/html"] == chunk(9)._repr_html_()
    assert run.outputs("emit", "execute_result") == []  # readings.emit(...) shows nothing

    means = run.shown(run.widget("means"))
    assert len(means) >= 2
    assert means[-1]["text/plain"] == repr(rows.groupby("sensor").temp.mean())

    # the plot: a holoviews DynamicMap rendered with bokeh, which redrew as chunks came
    # (a DynamicMap that is not displayed keeps last = None: nothing subscribes to it)
    plot = run.result("plot")
    assert HOLOVIEWS_EXEC in plot and plot["text/plain"].startswith(":DynamicMap")
    assert "docs_json" in plot["text/html"]  # the bokeh document

    assert run.stdout("results").splitlines() == [
        f"hottest: {rows.temp.max()} | last 4 rows: {rows.temp.tail(4).mean()}",
        str(rows.groupby("sensor").temp.mean().to_dict()),
        f"plotted t: {rows.t.tail(6).tolist()}",  # backlog=6
    ]


def metrics_table(text: str) -> dict[str, dict[str, float]]:
    """The table of metrics a cell showed (``text/plain``), by node and column."""
    header, *rows = text.splitlines()
    columns = header.split()
    table = {}
    for row in rows:
        node, *values = row.split()
        table[node] = dict(zip(columns, map(float, values), strict=True))
    return table


def counts(table: dict[str, dict[str, float]]) -> dict[str, tuple[float, ...]]:
    """``(in, out, waits, held)`` of every node: the exact figures."""
    return {node: (m["in"], m["out"], m["waits"], m["held"]) for node, m in table.items()}


def seconds(text: str) -> float:
    """The seconds in ``'10 emits took 0.5 s'``."""
    *_, value, unit = text.split()
    assert unit == "s"
    return float(value)


def test_metrics_show_back_pressure_and_a_buffer_absorbing_a_burst(tmp_path):
    run = execute("03_metrics_and_backpressure.ipynb", tmp_path)
    assert run.problems() == []
    ten_writes = 10 * 0.05 * 0.9  # ten writes of 50 ms, less a margin for timer rounding

    # every emit waited for its write, which the database node reports (the map in
    # front of it only passes the waiting work up)
    assert seconds(run.stdout("slow")) >= ten_writes
    slow = metrics_table(run.result("slow-table")["text/plain"])
    assert counts(slow) == {
        "orders": (10, 10, 0, 0),
        "price": (10, 10, 0, 0),
        "database": (10, 0, 10, 0),
    }
    assert slow["database"]["waited_seconds"] >= ten_writes

    # buffer(5): a burst of 5 is accepted at once and held
    assert run.stdout("burst") == "5 emits took 0.0 s\n"
    burst = metrics_table(run.result("burst")["text/plain"])
    assert counts(burst) == {
        "orders": (5, 5, 0, 0),
        "buffer": (5, 0, 0, 5),
        "database": (0, 0, 0, 0),
    }
    assert run.stdout("drain") == "held after drain(): 0\n"

    # a burst of 10: the 5 beyond the buffer wait for room, one write each
    assert seconds(run.stdout("overflow")) >= 4 * 0.05 * 0.9
    overflow = metrics_table(run.result("overflow")["text/plain"])
    assert counts(overflow) == {
        "orders": (15, 15, 0, 0),
        "buffer": (15, 10, 5, 5),  # 5 held; 1 of the 10 passed on is being written
        "database": (10, 0, 10, 0),
    }
    assert overflow["buffer"]["waited_seconds"] >= 4 * 0.05 * 0.9

    end = metrics_table(run.result("end")["text/plain"])
    assert counts(end) == {
        "orders": (15, 15, 0, 0),
        "buffer": (15, 15, 5, 0),
        "database": (15, 0, 15, 0),
    }
