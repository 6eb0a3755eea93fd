"""Per-node metrics: elements in and out, errors, time spent, back pressure, held elements.

Metrics cost nothing until asked for, and little once on.
:meth:`~streams.Stream.enable_metrics` instruments every node of the connected graph:

* counting is exact and done where counts change. A source counts what it pushes out, and
  so does a node that may push out a different number of elements than it takes in
  (``filter``, ``partition``, a window...), by a counting push. ``map``, ``accumulate``,
  a plain node and the synchronous sinks pass every element on: nothing is added to them,
  and their figures are worked out (in = what their upstreams pushed; out = in less
  errors);
* a node that can leave work pending for its emitter (an async sink, ``buffer``, ``zip``,
  a Dask or worker node) is entered through a counting entry that also times how long
  the emitter waits for that work: back pressure;
* time is sampled by a profiler thread (:mod:`streams.metrics_sampler`) that looks at
  the threads' stacks every few milliseconds and adds the time to the node it finds
  working, so elements pay nothing for it; the figures are statistical.

:meth:`~streams.Stream.disable_metrics` puts the original pushes back, so a graph without
metrics runs exactly the code it ran before.

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

from .metrics_sampler import unwatch, watch

if TYPE_CHECKING:
    from .core import Stream

__all__ = ["MetricsMethods", "NodeMetrics", "graph_metrics", "serve_metrics"]


class NodeMetrics:
    """The counters of one node (see :meth:`~streams.Stream.metrics` for the figures).

    ``elements_in`` / ``elements_out`` are counted here when not worked out from the
    neighbours (``None`` then); ``busy_ns`` comes from the sampling profiler.
    """

    __slots__ = (
        "_entry",
        "_original",
        "_original_cell",
        "_out",
        "_watched",
        "busy_ns",
        "elements_in",
        "errors",
        "in_offset",
        "passes_on",
        "since",
        "waited_ns",
        "waits",
    )

    def __init__(self) -> None:
        self.elements_in: int | None = None
        self._out: list[int] | None = None  # [count] when this node counts its output
        self.errors = 0
        self.busy_ns = 0
        self.waits = 0
        self.waited_ns = 0
        self.passes_on = False  # one element out per element in (less errors)
        self.in_offset = 0  # what the upstreams had pushed before this node was measured
        self.since = time.monotonic()
        self._original: Any = None  # the node's own _fast, restored on disable
        self._original_cell: Any = None  # and the cell its push is in
        self._entry: Any = None
        self._watched: tuple[Any, ...] = ()

    @property
    def elements_out(self) -> int | None:
        """Elements pushed on, when this node counts them (``None``: worked out)."""
        return None if self._out is None else self._out[0]

    def counting(self, push: Callable[..., Any]) -> Callable[..., Any]:
        """``push`` counting what goes through it as this node's output."""
        if self._out is None:
            self._out = [0]
        tally = self._out

        def counted(x: Any, who: Any = None, metadata: Any = ()) -> Any:
            tally[0] += 1
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


def _entry(metrics: NodeMetrics, inner: Any) -> Any:
    """The counting entry of a node: what its upstreams call instead of ``inner``."""
    metrics.elements_in = 0

    def entry(x: Any, who: Any = None, metadata: Any = ()) -> Any:
        metrics.elements_in += 1  # type: ignore[operator]
        r = inner(x, who, metadata)
        if r is not None:
            return metrics.waited_on(r)
        return r

    return entry


def _passes_on(node: Stream[Any]) -> bool:
    """Whether ``node`` pushes exactly one element per element in, synchronously and
    through its own compiled push (so its counts can be worked out)."""
    from .core import Stream
    from .errors import Retry
    from .operators.aggregate import Accumulate
    from .operators.transform import Map, Pluck, Starmap

    return (
        type(node) in (Stream, Map, Starmap, Pluck, Accumulate)
        and node._fast is not None
        and not isinstance(node.on_error, Retry)
    )


def _never_waits(node: Stream[Any]) -> bool:
    """Whether ``node`` never leaves work of its own pending (no counting entry)."""
    import inspect

    from .operators.select import Filter, Remove
    from .sinks.basic import FuncSink, ListSink

    if node._fast is None:
        return False
    if type(node) in (Filter, Remove, ListSink):
        return True
    if type(node) is FuncSink:
        return not inspect.iscoroutinefunction(node.func)
    return _passes_on(node)


def _in_cycle(node: Stream[Any]) -> bool:
    seen: set[int] = set()
    todo = list(node.downstreams)
    while todo:
        n = todo.pop()
        if n is node:
            return True
        if id(n) not in seen:
            seen.add(id(n))
            todo.extend(n.downstreams)
    return False


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
        from .core import _push_cell
        from .graph import graph_nodes
        from .operators.select import Filter

        node: Stream[Any] = self  # type: ignore[assignment]
        nodes = graph_nodes(node)
        fresh = [n for n in nodes if n._metrics is None]
        for n in fresh:
            metrics = NodeMetrics()
            # never n.__dict__: reading it costs the node its fast attribute access
            own = n._fast
            metrics._original = own
            cyclic = _in_cycle(n)  # counts in a cycle cannot be worked out
            metrics.passes_on = _passes_on(n) and not cyclic
            if own is not None:
                metrics._watched = (own.__code__,)
            else:
                metrics._watched = (type(n).update.__code__,)
            if own is not None and type(n) is Filter and not cyclic:
                # a filter counts what it lets through itself (no extra call)
                metrics._out = [0]
                variant = n._compiled(metrics._out)
                metrics._original_cell = n._push_cell
                n._fast = variant
                n._push_cell = _push_cell(variant) if variant is not None else None
                n.update = variant  # type: ignore[method-assign,assignment]  # fan-outs
            elif cyclic or not (metrics.passes_on or _never_waits(n)):
                inner = own if own is not None else _bound_update(n)
                metrics._entry = _entry(metrics, inner)
                n._fast = metrics._entry
                n.update = metrics._entry  # type: ignore[method-assign]  # the class's update
            n._metrics = metrics
            watch(n, *metrics._watched)
        for n in nodes:
            n._rewire()  # upstreams call the new entries; fan-outs count their output
        for n in fresh:  # a node measured later counts from now on
            measured = n._metrics
            assert measured is not None
            if measured.elements_in is None and n.upstreams:
                measured.in_offset = _in(n)
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
            unwatch(n, *metrics._watched)
            if metrics._entry is not None:
                n._fast = metrics._original
                del n.update  # the instance's entry; the class's update shows again
            elif metrics._original_cell is not None:  # a filter's counting variant
                n._fast = metrics._original
                n._push_cell = metrics._original_cell
                del n.update
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


def _in(node: Stream[Any]) -> int:
    """Elements into ``node``: counted, or what its upstreams pushed (each push reaches
    every downstream), or for a source what was emitted into it."""
    metrics = node._metrics
    assert metrics is not None
    if metrics.elements_in is not None:
        return metrics.elements_in
    if not node.upstreams:
        return metrics.elements_out or 0
    pushed = sum(_out(u) for u in node.upstreams if u._metrics is not None)
    return pushed - metrics.in_offset


def _out(node: Stream[Any]) -> int:
    """Elements ``node`` pushed on: counted, or (one out per one in) its input less the
    elements that failed in it."""
    metrics = node._metrics
    assert metrics is not None
    if metrics.elements_out is not None:
        return metrics.elements_out
    if metrics.passes_on and node.upstreams:
        return max(_in(node) - metrics.errors, 0)
    return 0


def _figures(node: Stream[Any]) -> dict[str, Any]:
    metrics = node._metrics
    assert metrics is not None
    elements_in = _in(node)
    busy = metrics.busy_ns * 1e-9
    elapsed = max(time.monotonic() - metrics.since, 1e-9)
    return {
        "node": node._describe(),
        "in": elements_in,
        "out": _out(node),
        "errors": metrics.errors,
        "busy_seconds": busy,
        "per_element_us": busy / elements_in * 1e6 if elements_in else 0.0,
        "waits": metrics.waits,
        "waited_seconds": metrics.waited_ns * 1e-9,
        "held": node._held_count(),
        "rate": elements_in / elapsed,
    }


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
    return {name: _figures(n) for name, n in named_nodes([node]).items() if n._metrics is not None}


def named_nodes(nodes: Iterable[Stream[Any]]) -> dict[str, Stream[Any]]:
    """Every node of the graphs of ``nodes``, each once, keyed by its label (``map<inc>
    #2`` for a second node of the same label), sources first."""
    from .graph import graph_nodes

    named: dict[str, Stream[Any]] = {}
    seen: set[int] = set()
    for node in nodes:
        for n in graph_nodes(node):
            if id(n) in seen:
                continue
            seen.add(id(n))
            label = n._describe()
            key, i = label, 1
            while key in named:
                i += 1
                key = f"{label} #{i}"
            named[key] = n
    return named


def counted_push(node: Stream[Any], push: Callable[..., Any]) -> Callable[..., Any]:
    """The push ``node`` uses with metrics on (called by ``Stream._rewire``): counted for
    a source and for a node that may push out another number of elements than it takes
    in; as it is for one that passes every element on (its count is worked out)."""
    metrics = node._metrics
    assert metrics is not None
    if not node.upstreams:
        return metrics.counting(push)  # what is emitted into a source
    if metrics.passes_on or not node._downs or metrics._original_cell is not None:
        return push  # worked out, nothing goes out, or counted by the node itself
    return metrics.counting(push)


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
    return {name: _figures(n) for name, n in named_nodes(nodes).items() if n._metrics is not None}
