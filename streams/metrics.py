"""Per-node metrics: elements in and out, errors, time spent, back pressure, held elements.

Metrics cost nothing until asked for. :meth:`~streams.Stream.enable_metrics` instruments
every node of the connected graph by swapping the entry its upstreams call (the node's
compiled push, see ``Stream._compiled``) for a counting one; a node that has several
downstreams, or feeds a node with several upstreams, also counts what it pushes out
(elsewhere "out" is the downstream's "in"). :meth:`~streams.Stream.disable_metrics`
swaps the original entries back, so a graph without metrics runs exactly the code it
ran before.

Counting is exact. Time is sampled: one element in 64 is timed per node, and a node's
own time is its timed time less what the nodes it pushes to took for the same elements
(the figures are estimates, good to a few percent on a steady stream). Back pressure is
measured where it happens: when a node hands its upstream work still pending (a full
buffer, an async sink), the time until that work completes is added to the node's
``waited_seconds``.

Examples
--------
>>> from streams import Stream
>>> source = Stream()
>>> evens = source.map(lambda x: x + 1).filter(lambda x: x % 2 == 0)
>>> _ = evens.sink(print)
>>> _ = source.enable_metrics()
>>> for i in range(4):
...     source.emit(i)
2
4
>>> figures = evens.metrics()
>>> figures["in"], figures["out"], figures["errors"]
(4, 2, 0)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Stream

__all__ = ["MetricsMethods", "NodeMetrics", "graph_metrics", "serve_metrics"]

SAMPLE_EVERY = 64  # one element in this many is timed, per node (a power of two)
_SAMPLE_MASK = SAMPLE_EVERY - 1


class NodeMetrics:
    """The counters of one node (see :meth:`~streams.Stream.metrics` for the figures).

    ``elements_in`` counts calls into the node; ``elements_out`` what it pushed on, when
    counted here (``None``: read the downstream's ``elements_in``); ``timed`` and
    ``timed_ns`` the sampled elements and their time including downstream pushes.
    """

    __slots__ = (
        "_entry",
        "_original",
        "elements_in",
        "elements_out",
        "errors",
        "since",
        "timed",
        "timed_ns",
        "waited_ns",
        "waits",
    )

    def __init__(self) -> None:
        self.elements_in = 0
        self.elements_out: int | None = None
        self.errors = 0
        self.timed = 0
        self.timed_ns = 0
        self.waits = 0
        self.waited_ns = 0
        self.since = time.monotonic()
        self._original: Any = None  # the node's own _fast, restored on disable
        self._entry: Any = None

    def counting(self, push: Callable[..., Any]) -> Callable[..., Any]:
        """``push`` counting what goes through it as this node's output."""
        self.elements_out = self.elements_out or 0
        metrics = self

        def counted(x: Any, who: Any = None, metadata: Any = ()) -> Any:
            metrics.elements_out += 1  # type: ignore[operator]
            return push(x, who, metadata)

        counted.__wrapped__ = push  # type: ignore[attr-defined]
        return counted

    def waited_on(self, pending: Any) -> Any:
        """``pending`` (work this node left for its emitter to wait on), timed: the
        wait until it completes is added to ``waited_ns``."""
        self.waits += 1
        start = time.perf_counter_ns()
        if type(pending) is list:
            return [self._timed(item, start) for item in pending]
        return self._timed(pending, start)

    def _timed(self, item: Any, start: int) -> Any:
        if isinstance(item, asyncio.Future):
            item.add_done_callback(lambda _: self._add_wait(start))
            return item
        if asyncio.iscoroutine(item):
            return self._await(item, start)
        return item  # another awaitable: counted, not timed

    async def _await(self, item: Any, start: int) -> Any:
        try:
            return await item
        finally:
            self._add_wait(start)

    def _add_wait(self, start: int) -> None:
        self.waited_ns += time.perf_counter_ns() - start


def _entry(node: Stream[Any], metrics: NodeMetrics, inner: Any) -> Any:
    """The counting entry of ``node``: what its upstreams call instead of ``inner``."""
    perf = time.perf_counter_ns
    mask = _SAMPLE_MASK

    def entry(x: Any, who: Any = None, metadata: Any = ()) -> Any:
        metrics.elements_in += 1
        if metrics.elements_in & mask:
            r = inner(x, who, metadata)
        else:
            start = perf()
            try:
                r = inner(x, who, metadata)
            finally:
                metrics.timed_ns += perf() - start
                metrics.timed += 1
        if r is not None:
            return metrics.waited_on(r)
        return r

    return entry


class MetricsMethods:
    """The :class:`~streams.Stream` methods of per-node metrics."""

    _metrics: NodeMetrics | None = None

    def enable_metrics(self) -> dict[str, dict[str, Any]]:
        """Turn metrics on for every node connected to this one; return
        :func:`graph_metrics` (all zero). Calling it again changes nothing; nodes added
        to the graph later are instrumented by calling it again.

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> _ = source.map(str).sink_to_list()
        >>> sorted(source.enable_metrics())
        ['map<str>', 'sink_to_list', 'stream']
        """
        from .graph import graph_nodes

        node: Stream[Any] = self  # type: ignore[assignment]
        nodes = graph_nodes(node)
        fresh = [n for n in nodes if n._metrics is None]
        for n in fresh:
            metrics = NodeMetrics()
            own = n.__dict__.get("_fast", None)
            metrics._original = own
            inner = own if own is not None else _bound_update(n)
            metrics._entry = _entry(n, metrics, inner)
            n._metrics = metrics
            n._fast = metrics._entry
            n.update = metrics._entry  # type: ignore[method-assign]  # _emit_many's call
        for n in nodes:
            n._rewire()  # upstreams call the new entries; fan-outs count their output
        return graph_metrics(node)

    def disable_metrics(self) -> None:
        """Turn metrics off for every node connected to this one: each runs its own
        entry again, and its figures are dropped.

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> _ = source.sink_to_list()
        >>> _ = source.enable_metrics()
        >>> source.disable_metrics()
        >>> source._metrics is None
        True
        """
        from .graph import graph_nodes

        node: Stream[Any] = self  # type: ignore[assignment]
        nodes = graph_nodes(node)
        for n in nodes:
            metrics = n._metrics
            if metrics is None:
                continue
            n._metrics = None
            n._fast = metrics._original
            n.__dict__.pop("update", None)
        for n in nodes:
            n._rewire()

    def metrics(self) -> dict[str, Any]:
        """This node's figures since metrics were enabled.

        Keys: ``node`` (its label), ``in`` and ``out`` (elements), ``errors`` (elements
        that failed here), ``busy_seconds`` (estimated time in the node itself),
        ``per_element_us`` (that per element), ``waits`` and ``waited_seconds`` (how
        often and how long emitters waited on work this node left pending: back
        pressure), ``held`` (elements it holds now: buffers, windows), ``rate`` (elements
        in per second since enabled).

        Raises ``RuntimeError`` if metrics are off (see :meth:`enable_metrics`).

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> pairs = source.partition(2)
        >>> _ = pairs.sink_to_list()
        >>> _ = source.enable_metrics()
        >>> for i in range(5):
        ...     source.emit(i)
        >>> m = pairs.metrics()
        >>> m["in"], m["out"], m["held"]
        (5, 2, 1)
        >>> source.emit(5)  # completes the last pair: nothing held at exit
        """
        node: Stream[Any] = self  # type: ignore[assignment]
        if node._metrics is None:
            raise RuntimeError(
                f"{node._describe()}: metrics are off; call enable_metrics() on any node "
                "of the graph first"
            )
        return _figures(node)


def _bound_update(node: Stream[Any]) -> Callable[..., Any]:
    update: Callable[..., Any] = type(node).update.__get__(node)
    return update


def _out(node: Stream[Any]) -> int:
    metrics = node._metrics
    assert metrics is not None
    if metrics.elements_out is not None:
        return metrics.elements_out
    downs = node.downstreams
    if not downs:
        return 0
    down = downs[0]._metrics
    return 0 if down is None else down.elements_in


def _figures(node: Stream[Any]) -> dict[str, Any]:
    metrics = node._metrics
    assert metrics is not None
    out = _out(node)
    elements_in = metrics.elements_in if node.upstreams else out  # emitted into it
    busy = _busy_ns(node) * 1e-9
    elapsed = max(time.monotonic() - metrics.since, 1e-9)
    return {
        "node": node._describe(),
        "in": elements_in,
        "out": out,
        "errors": metrics.errors,
        "busy_seconds": busy,
        "per_element_us": busy / elements_in * 1e6 if elements_in else 0.0,
        "waits": metrics.waits,
        "waited_seconds": metrics.waited_ns * 1e-9,
        "held": node._held_count(),
        "rate": elements_in / elapsed,
    }


def _inclusive_ns(metrics: NodeMetrics) -> float:
    """Mean time per element in the node and what it pushed to (sampled)."""
    return metrics.timed_ns / metrics.timed if metrics.timed else 0.0


def _busy_ns(node: Stream[Any]) -> float:
    """Estimated time in the node itself: its inclusive time less its downstreams'
    inclusive time for the elements it pushed to them."""
    metrics = node._metrics
    assert metrics is not None
    own = _inclusive_ns(metrics) * metrics.elements_in
    out = _out(node)
    for down in node.downstreams:
        if down._metrics is not None:
            own -= _inclusive_ns(down._metrics) * out
    return max(own, 0.0)


def graph_metrics(node: Stream[Any]) -> dict[str, dict[str, Any]]:
    """The figures of every instrumented node connected to ``node`` (see
    :meth:`~streams.Stream.metrics`), keyed by label (``map<inc> #2`` for a second
    node of the same label), sources first.

    Examples
    --------
    >>> from streams import Stream
    >>> from streams.metrics import graph_metrics
    >>> source = Stream(stream_name="ticks")
    >>> _ = source.map(abs).sink_to_list()
    >>> _ = source.enable_metrics()
    >>> source.emit(-1)
    >>> {name: m["in"] for name, m in graph_metrics(source).items()}
    {'ticks': 1, 'map<abs>': 1, 'sink_to_list': 1}
    """
    from .graph import graph_nodes

    out: dict[str, dict[str, Any]] = {}
    for n in graph_nodes(node):
        if n._metrics is None:
            continue
        name = n._describe()
        key, i = name, 1
        while key in out:
            i += 1
            key = f"{name} #{i}"
        out[key] = _figures(n)
    return out


def counted_push(node: Stream[Any], push: Callable[..., Any]) -> Callable[..., Any]:
    """The push ``node`` uses with metrics on (called by ``Stream._rewire``): counted
    when its output is not the input of exactly one downstream of its own."""
    metrics = node._metrics
    assert metrics is not None
    downs = node._downs
    if not downs:
        return push  # nothing goes out
    if node.upstreams and len(downs) == 1 and len(downs[0].upstreams) == 1:
        return push  # the downstream's "in" is this node's "out"
    return metrics.counting(push)  # a source's "in" is its "out" too


def serve_metrics(*nodes: Stream[Any], port: int = 9464, addr: str = "127.0.0.1") -> Any:
    """Serve the graphs' metrics in the Prometheus text format (``prometheus_client``,
    the ``streams[metrics]`` extra) at ``http://addr:port/metrics``; turns metrics on.

    Returns the server: ``server.url`` and ``server.stop()``. Binds to 127.0.0.1 unless
    told otherwise; a port in use raises ``OSError`` naming it.

    Examples
    --------
    >>> import urllib.request
    >>> from streams import Stream
    >>> from streams.metrics import serve_metrics
    >>> source = Stream(stream_name="ticks")
    >>> _ = source.sink_to_list()
    >>> server = serve_metrics(source, port=0)
    >>> source.emit(1)
    >>> text = urllib.request.urlopen(server.url).read().decode()
    >>> 'streams_node_elements_in_total{node="ticks"} 1.0' in text
    True
    >>> server.stop()
    """
    from .metrics_server import MetricsServer

    for node in nodes:
        node.enable_metrics()
    return MetricsServer(list(nodes), port, addr)


def all_figures(nodes: Iterable[Stream[Any]]) -> dict[str, dict[str, Any]]:
    """:func:`graph_metrics` of several graphs together (each node once)."""
    out: dict[str, dict[str, Any]] = {}
    for node in nodes:
        for key, figures in graph_metrics(node).items():
            out.setdefault(key, figures)
    return out
