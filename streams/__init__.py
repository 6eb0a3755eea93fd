"""streams: push-based reactive streams for Python on an event loop.

Build a graph of :class:`Stream` nodes, push data in with ``emit``, and let sinks take
it out. A slow consumer pushes back on a fast producer through the awaitable ``emit``
returns.

>>> import streams
>>> source = streams.Stream()
>>> totals = source.map(len).accumulate(lambda a, b: a + b).sink_to_list()
>>> for word in ["push", "based", "streams"]:
...     source.emit(word)
>>> totals
[4, 9, 16]

For streamz compatibility each operator also exists as a function taking the upstream
first: ``streams.zip(a, b)`` is ``a.zip(b)`` and ``streams.map(s, f)`` is ``s.map(f)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._util import identity
from .core import BackpressureError, Metadata, Stream
from .errors import ErrorRecord, retry
from .refs import RefCounter
from .shutdown import exit_drain
from .sinks import Sink
from .sources import Source

if TYPE_CHECKING:
    from .graph import create_graph, visualize

__all__ = [
    "BackpressureError",
    "ErrorRecord",
    "Metadata",
    "RefCounter",
    "Sink",
    "Source",
    "Stream",
    "create_graph",
    "exit_drain",
    "identity",
    "retry",
    "visualize",
]
__version__ = "0.1.0"

FUNCTIONAL_FORMS = frozenset(
    {
        "accumulate",
        "buffer",
        "collect",
        "combine_latest",
        "concat",
        "delay",
        "filter",
        "flatten",
        "frequencies",
        "gather",
        "latest",
        "map",
        "map_async",
        "partition",
        "partition_unique",
        "pluck",
        "rate_limit",
        "remove",
        "scan",
        "scatter",
        "sink",
        "sink_to_list",
        "sink_to_textfile",
        "slice",
        "sliding_window",
        "starmap",
        "timed_window",
        "timed_window_unique",
        "to_kafka",
        "to_mqtt",
        "to_redis_stream",
        "to_sql",
        "to_websocket",
        "union",
        "unique",
        "zip",
        "zip_latest",
    }
)
"""Operators also reachable as ``streams.<name>(upstream, ...)``, as in streamz."""


GRAPH_FUNCTIONS = frozenset({"create_graph", "visualize"})
"""Functions of :mod:`streams.graph` reachable as ``streams.<name>``, imported on first use."""


def __getattr__(name: str) -> Callable[..., Any]:
    if name in GRAPH_FUNCTIONS:
        from . import graph

        function: Callable[..., Any] = getattr(graph, name)
        globals()[name] = function
        return function
    if name not in FUNCTIONAL_FORMS:
        raise AttributeError(f"module 'streams' has no attribute {name!r}")

    def operator(upstream: Stream[Any], *args: Any, **kwargs: Any) -> Any:
        if not isinstance(upstream, Stream):
            raise TypeError(
                f"streams.{name}: the first argument must be a Stream, got {upstream!r}"
            )
        return getattr(upstream, name)(*args, **kwargs)

    operator.__name__ = operator.__qualname__ = name
    operator.__doc__ = f"``streams.{name}(upstream, ...)`` is ``upstream.{name}(...)``."
    return operator
