"""The Prometheus endpoint of :func:`streams.metrics.serve_metrics` (``prometheus_client``,
imported only here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .metrics import all_figures

if TYPE_CHECKING:
    from .core import Stream

__all__ = ["MetricsServer"]

# (figure, metric name, kind, help): counters end in _total in the exposition
_FAMILIES = [
    ("in", "streams_node_elements_in", "counter", "Elements that entered the node."),
    ("out", "streams_node_elements_out", "counter", "Elements the node pushed on."),
    ("errors", "streams_node_errors", "counter", "Elements that failed in the node."),
    ("busy_seconds", "streams_node_busy_seconds", "counter", "Estimated time in the node."),
    ("waits", "streams_node_backpressure_waits", "counter", "Emits that had to wait on it."),
    (
        "waited_seconds",
        "streams_node_backpressure_wait_seconds",
        "counter",
        "Time emitters waited on work the node left pending.",
    ),
    ("held", "streams_node_held_elements", "gauge", "Elements the node holds now."),
]


class _Collector:
    """Reads the graphs' figures at every scrape."""

    def __init__(self, nodes: list[Stream[Any]]) -> None:
        self.nodes = nodes

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        figures = all_figures(self.nodes)
        for key, name, kind, text in _FAMILIES:
            family_type = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            family = family_type(name, text, labels=["node"])
            for node, values in figures.items():
                family.add_metric([node], float(values[key]))
            yield family


class MetricsServer:
    """An HTTP server exposing the metrics of ``nodes``' graphs at ``/metrics``.

    Examples
    --------
    >>> from streams import Stream
    >>> from streams.metrics import serve_metrics
    >>> server = serve_metrics(Stream(), port=0)
    >>> server.url.startswith("http://127.0.0.1:")
    True
    >>> server.stop()
    """

    def __init__(self, nodes: list[Stream[Any]], port: int, addr: str) -> None:
        try:
            from prometheus_client import CollectorRegistry, start_http_server
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "serve_metrics needs prometheus_client: pip install 'streams[metrics]'"
            ) from exc
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(nodes))
        try:
            self._server, self._thread = start_http_server(port, addr, self.registry)
        except OSError as exc:
            raise OSError(
                exc.errno, f"serve_metrics: cannot listen on {addr}:{port}: {exc.strerror}"
            ) from exc
        self.addr = addr
        self.port: int = self._server.server_port

    @property
    def url(self) -> str:
        """Where the metrics are: ``http://addr:port/metrics``."""
        return f"http://{self.addr}:{self.port}/metrics"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
