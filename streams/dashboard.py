"""A live dashboard page for running graphs: the graph, per-node metrics, live plots.

:func:`serve` starts a bokeh server (the ``streams[plot]`` extra) next to the graphs it
shows. Bokeh is the choice because it is the server the plotting stack already uses
(holoviews and hvplot render to it), it runs on tornado, which streams depends on, so the
page is served from the graph's own event loop without a second framework, and its
documents update in place over a websocket, which is what a page of live figures needs.
Panel would add a large dependency for the same result.

The page shows

* the graph: one circle per node, sources on the left, coloured by how much of the time
  emitters waited on the node (back pressure: white is none, red is always) and sized by
  its rate;
* a table of every node's metrics (see :mod:`streams.metrics`), updated twice a second;
* one live plot per stream passed to :func:`serve`: numbers (or the numeric columns of
  DataFrames) against their position in the stream, the last ``backlog`` of them, or the
  latest element as text when it is not a number.

Each element costs the graph one append to a bounded deque; the page reads what is new
at its own pace.

Examples
--------
>>> import urllib.request
>>> from streams import Stream
>>> from streams import dashboard
>>> source = Stream(stream_name="readings")
>>> doubled = source.map(lambda x: 2 * x, stream_name="doubled")
>>> page = dashboard.serve(doubled, port=0)
>>> source.emit(21)
>>> b"streams dashboard" in urllib.request.urlopen(page.url).read()
True
>>> page.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import numbers
import socket
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from .metrics import all_figures, named_nodes
from .protocol import Metadata
from .sinks.base import Sink

if TYPE_CHECKING:
    from .core import Stream

__all__ = ["Dashboard", "serve"]

REFRESH_MS = 500  # how often an open page reads the figures and what is new


def serve(
    *streams: Any,
    port: int = 8787,
    address: str = "127.0.0.1",
    backlog: int = 1000,
) -> Dashboard:
    """Serve a dashboard of the graphs of ``streams`` at ``http://address:port/``.

    Parameters
    ----------
    *streams : Stream or streaming DataFrame/Series
        What to plot live; the graphs they belong to are drawn and measured (metrics
        are turned on for them).
    port : int
        The port (0: any free port; see ``Dashboard.url``).
    address : str
        The interface to listen on: 127.0.0.1 (this machine only) unless told otherwise.
    backlog : int
        Elements (or rows) each live plot keeps.

    Returns
    -------
    Dashboard
        ``.url``, ``.stop()``. It stops by itself when the graphs are shut down or
        destroyed.

    Raises
    ------
    OSError
        If the port is in use (a dashboard already running there, for example).
    """
    if not streams:
        raise TypeError("dashboard.serve: give at least one stream to show")
    nodes = [getattr(s, "stream", s) for s in streams]
    return Dashboard(list(streams), nodes, port, address, backlog)


class _Collector(Sink[Any]):
    """Keeps the last elements of a node for the page; stops the dashboard when the
    graph retires it (shutdown or destroy)."""

    def __init__(self, upstream: Stream[Any], board: Dashboard, backlog: int) -> None:
        self.board = board
        self.counter = itertools.count(1)  # numbers the elements, for the pages
        self.kept: deque[tuple[int, Any]] = deque(maxlen=backlog)
        super().__init__(upstream, stream_name="dashboard")

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> None:
        self.kept.append((next(self.counter), x))

    def _compiled(self) -> Any:
        keep, counter = self.kept.append, self.counter

        def update(x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> None:
            keep((next(counter), x))

        return update

    def _close(self) -> None:
        self.board._collector_closed(self)


class Dashboard:
    """A running dashboard (made by :func:`serve`)."""

    def __init__(
        self, shown: list[Any], nodes: list[Stream[Any]], port: int, address: str, backlog: int
    ) -> None:
        try:
            from bokeh.application import Application
            from bokeh.application.handlers.function import FunctionHandler
        except ImportError as exc:
            raise ImportError("the dashboard needs bokeh: pip install 'streams[plot]'") from exc
        if port == 0:
            port = _free_port(address)
        self.address = address
        self.port = port
        self.backlog = backlog
        self.nodes = nodes
        for node in nodes:
            node.enable_metrics()
        self._app = Application(FunctionHandler(self._document))
        self._server: Any = None
        self._stopped = False
        self._closed: set[int] = set()
        self.examples = [getattr(s, "example", None) for s in shown]
        self._loop = _serving_loop(nodes)
        self._on_loop(self._start)
        self.collectors = [_Collector(node, self, backlog) for node in nodes]

    # ------------------------------------------------------------------ server

    def _on_loop(self, func: Any) -> None:
        """Run ``func`` on the serving loop and wait for it (raising what it raises)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            func()
            return
        done = threading.Event()
        failure: list[BaseException] = []

        def call() -> None:
            try:
                func()
            except BaseException as exc:
                failure.append(exc)
            finally:
                done.set()

        self._loop.call_soon_threadsafe(call)
        done.wait()
        if failure:
            raise failure[0]

    def _start(self) -> None:
        from bokeh.server.server import Server
        from tornado.ioloop import IOLoop

        origins = [f"{self.address}:{self.port}", f"localhost:{self.port}"]
        try:
            _check_port(self.address, self.port)  # tornado leaks its socket when bind fails
            self._server = Server(
                {"/": self._app},
                io_loop=IOLoop.current(),
                port=self.port,
                address=self.address,
                allow_websocket_origin=origins,
            )
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"dashboard: cannot listen on {self.address}:{self.port}: {exc.strerror} "
                "(is a dashboard already running there?)",
            ) from exc
        self._server.start()

    @property
    def stopped(self) -> bool:
        """Whether the dashboard stopped (by :meth:`stop`, or with its graphs)."""
        return self._stopped

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{self.address}:{self.port}/"

    def stop(self) -> None:
        """Stop serving (open pages stop updating) and let go of the graphs."""
        if self._stopped:
            return
        self._stopped = True
        for collector in self.collectors:
            for up in list(collector.upstreams):
                up.disconnect(collector)
        server = self._server
        if server is not None:
            self._on_loop(server.stop)

    def _collector_closed(self, collector: _Collector) -> None:
        self._closed.add(id(collector))
        if len(self._closed) == len(self.collectors):  # every graph shown was retired
            with contextlib.suppress(RuntimeError):  # the serving loop is closed already
                self.stop()

    # ------------------------------------------------------------------ the page

    def _document(self, doc: Any) -> None:
        from .dashboard_page import build_page

        build_page(doc, self)

    def figures(self) -> dict[str, dict[str, Any]]:
        """The metrics of every node of the graphs shown (see :mod:`streams.metrics`)."""
        return all_figures(self.nodes)

    def layout(self) -> list[dict[str, Any]]:
        """Where each node is drawn: its label (as in :meth:`figures`), level (column)
        and row, and the labels of its downstreams."""
        named = {
            name: n for name, n in named_nodes(self.nodes).items() if not isinstance(n, _Collector)
        }
        names = {id(n): name for name, n in named.items()}
        levels: dict[int, int] = {}
        rows: dict[int, int] = {}
        placed: list[dict[str, Any]] = []
        for name, node in named.items():  # sources first, so upstreams are placed before
            level = 1 + max((levels.get(id(u), 0) for u in node.upstreams), default=-1)
            levels[id(node)] = level
            rows[level] = rows.get(level, 0) + 1
            downstreams = [names[id(d)] for d in node.downstreams if id(d) in names]
            placed.append(
                {
                    "node": node,
                    "name": name,
                    "level": level,
                    "row": rows[level] - 1,
                    "downstreams": downstreams,
                }
            )
        return placed


def _serving_loop(nodes: list[Stream[Any]]) -> asyncio.AbstractEventLoop:
    """The loop to serve from: the graph's, else the running one, else the background
    loop of streams."""
    from .loop import background_loop

    for node in nodes:
        loop = node._runtime.loop
        if loop is not None and not loop.is_closed():
            return loop
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return background_loop()


def _check_port(address: str, port: int) -> None:
    """Raise ``OSError`` if ``port`` cannot be listened on (bound as a server binds it)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((address, port))


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def is_number(x: Any) -> bool:
    """Whether a live plot draws ``x`` as a point (a real number, not a bool)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool)
