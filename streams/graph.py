"""Draw a stream graph with graphviz.

The graph is written as graphviz DOT text by this module; rendering to an image runs
graphviz's ``dot`` program, so only image formats need graphviz installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Stream

__all__ = ["Rendered", "create_graph", "graph_nodes", "to_dot", "visualize"]

IMAGE_FORMATS = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
}
SOURCE_FORMATS = {"dot", "gv"}


def graph_nodes(node: Stream[Any]) -> list[Stream[Any]]:
    """Every node connected to ``node``, upstream or downstream, in discovery order."""
    seen: dict[int, Stream[Any]] = {}
    todo = [node]
    while todo:
        n = todo.pop()
        if id(n) in seen:
            continue
        seen[id(n)] = n
        todo.extend(reversed(n.downstreams))
        todo.extend(reversed(n.upstreams))
    # Order by depth from the roots so the numbering reads top to bottom.
    order = list(seen.values())
    depth: dict[int, int] = {}

    def level(n: Stream[Any], stack: frozenset[int] = frozenset()) -> int:
        if id(n) not in depth:
            ups = [u for u in n.upstreams if id(u) not in stack]
            depth[id(n)] = 1 + max((level(u, stack | {id(n)}) for u in ups), default=-1)
        return depth[id(n)]

    return sorted(order, key=lambda n: (level(n), order.index(n)))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|-?(\.[0-9]+|[0-9]+(\.[0-9]*)?)")


_DOT_KEYWORDS = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})


def _value(text: str) -> str:
    """A DOT attribute value: bare when it is a plain name or number, else quoted."""
    bare = _DOT_ID.fullmatch(text) and text.lower() not in _DOT_KEYWORDS
    return text if bare else _quote(text)


def _clean_text(text: str, match: str | None = None) -> str:
    """Replace each run of characters matching ``match`` with one space, then ``:`` with
    ``;`` (streamz's label cleaning, for graph tools that choke on punctuation).

    By default everything but letters, digits, ``_`` and ``:`` is replaced.

    Examples
    --------
    >>> _clean_text("map<abs>")
    'map abs '
    >>> _clean_text("JFDSM*(@&$:FFDS:;;")
    'JFDSM ;FFDS; '
    """
    text = re.sub(match or r"[^a-zA-Z0-9_:]+", " ", text)
    return text.replace(":", ";")


def to_dot(node: Stream[Any], **graph_attrs: Any) -> str:
    """Return the DOT source of the graph ``node`` belongs to.

    Nodes are labelled with their name or their kind and detail (``map<add>``; the
    form error notes use) and shaped by kind (ellipse for plain nodes
    and sources, box for maps, diamond for buffering nodes, triangle for joins,
    trapezium for sinks). Edges leaving a node with several downstreams are numbered in
    delivery order.

    Examples
    --------
    >>> from streams import Stream
    >>> source = Stream()
    >>> _ = source.map(str).sink_to_list()
    >>> print(to_dot(source, rankdir="LR"))
    digraph {
      graph [rankdir=LR];
      n0 [label="stream", shape=ellipse];
      n1 [label="map<str>", shape=box];
      n2 [label="sink_to_list", shape=trapezium];
      n0 -> n1;
      n1 -> n2;
    }
    """
    nodes = graph_nodes(node)
    ids = {id(n): f"n{i}" for i, n in enumerate(nodes)}
    lines = ["digraph {"]
    if graph_attrs:
        attrs = ", ".join(f"{k}={_value(str(v))}" for k, v in graph_attrs.items())
        lines.append(f"  graph [{attrs}];")
    for n in nodes:
        lines.append(
            f"  {ids[id(n)]} [label={_quote(n._describe())}, shape={_value(n._graphviz_shape)}];"
        )
    for n in nodes:
        downs = n.downstreams
        for i, d in enumerate(downs):
            label = f" [label={_quote(str(i))}]" if len(downs) > 1 else ""
            lines.append(f"  {ids[id(n)]} -> {ids[id(d)]}{label};")
    lines.append("}")
    return "\n".join(lines)


def create_graph(node: Stream[Any], graph: Any) -> Any:
    """Add the graph ``node`` belongs to into a networkx directed graph.

    Each node becomes a graph node keyed by ``hash(node)``, with the attributes ``label``
    (the node's name, or its kind and detail as in ``map<add>``, through
    :func:`_clean_text`), ``shape`` (as drawn by
    :func:`visualize`) and ``node`` (the :class:`~streams.Stream` itself); each
    connection becomes an edge, labelled with its delivery position (``"0"``, ``"1"``...)
    when a node feeds several. This is streamz's ``create_graph``, for analysing a
    pipeline with networkx (cycles, paths, ordering).

    Parameters
    ----------
    node : Stream
        Any node of the graph.
    graph : networkx.DiGraph
        The graph to add to (anything with networkx's ``add_node``/``add_edge``).

    Returns
    -------
    networkx.DiGraph
        ``graph``.

    Examples
    --------
    >>> import networkx as nx
    >>> from streams import Stream, create_graph
    >>> source = Stream(stream_name="source")
    >>> doubled = source.map(lambda x: 2 * x)
    >>> g = create_graph(source, nx.DiGraph())
    >>> (hash(source), hash(doubled)) in g.edges
    True
    >>> sorted(attrs["label"] for _, attrs in g.nodes(data=True))
    ['map lambda ', 'source']
    """
    nodes = graph_nodes(node)
    for n in nodes:
        graph.add_node(hash(n), label=_clean_text(n._describe()), shape=n._graphviz_shape, node=n)
    for n in nodes:
        downs = n.downstreams
        for i, d in enumerate(downs):
            if len(downs) > 1:
                graph.add_edge(hash(n), hash(d), label=str(i))
            else:
                graph.add_edge(hash(n), hash(d))
    return graph


class Rendered:
    """A drawn graph on disk; Jupyter displays it as an image.

    Attributes
    ----------
    path : pathlib.Path
        The written file.
    format : str
        Its format (``png``, ``svg``, ``pdf``, ``dot``...).
    """

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.format = fmt

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        mime = IMAGE_FORMATS.get(self.format)
        bundle: dict[str, Any] = {"text/plain": repr(self)}
        if mime == "image/svg+xml":
            bundle[mime] = self.path.read_text()
        elif mime in ("image/png", "image/jpeg"):
            bundle[mime] = self.path.read_bytes()
        return bundle

    def __repr__(self) -> str:
        return f"<Rendered {self.format} graph at {str(self.path)!r}>"


def visualize(
    node: Stream[Any], filename: str | os.PathLike[str] = "mystream.png", **graph_attrs: Any
) -> Rendered:
    """Write a drawing of ``node``'s graph to ``filename``; see :meth:`Stream.visualize`."""
    path = Path(filename)
    fmt = path.suffix.lstrip(".").lower()
    source = to_dot(node, **graph_attrs)
    if fmt in SOURCE_FORMATS:
        path.write_text(source + "\n")
        return Rendered(path, fmt)
    if fmt not in IMAGE_FORMATS:
        known = ", ".join(sorted({*IMAGE_FORMATS, *SOURCE_FORMATS}))
        raise ValueError(f"visualize: cannot tell the format of {str(path)!r}; use one of {known}")
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            f"visualize: drawing a .{fmt} needs graphviz's `dot` program, which is not on "
            "PATH (install graphviz, e.g. `apt-get install graphviz`), or write a .dot file"
        )
    done = subprocess.run(
        [dot, f"-T{fmt}", "-o", str(path)], input=source.encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"visualize: dot failed: {done.stderr.decode(errors='replace').strip()}"
        )
    return Rendered(path, fmt)
