"""Draw a stream graph with graphviz.

The graph is written as graphviz DOT text by this module; rendering to an image runs
graphviz's ``dot`` program, so only image formats need graphviz installed. In a
notebook a drawing is shown inline as SVG.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Stream

__all__ = ["Rendered", "create_graph", "graph_nodes", "node_labels", "to_dot", "visualize"]

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


def _lambda_of(node: Stream[Any]) -> Any:
    """The lambda a node calls, if its label names one (``map<lambda>``), else ``None``."""
    if node.name is not None or not node._describe().endswith("<lambda>"):
        return None
    for attr in ("func", "predicate"):
        func = getattr(node, attr, None)
        while isinstance(func, functools.partial):
            func = func.func
        if getattr(func, "__name__", None) == "<lambda>" and hasattr(func, "__code__"):
            return func
    return None


def _where(func: Any, column: bool = False) -> str:
    """Where ``func`` was defined: ``In[3] line 2`` (a notebook cell), ``app.py line 12``,
    or ``line 2`` (code without a file); with ``column``, the column of its body too."""
    code = func.__code__
    filename, line = code.co_filename, code.co_firstlineno
    cell = _cell_number(filename)
    if cell is not None:
        place = f"In[{cell}] line {line}"
    elif filename.startswith("<"):  # <stdin>, <string>, <doctest ...>
        place = f"line {line}"
    else:
        place = f"{os.path.basename(filename)} line {line}"
    if column:
        columns = [c for ln, _, c, end in code.co_positions() if ln == line and c and end]
        if columns:
            place += f" col {min(columns) + 1}"
    return place


def _cell_number(filename: str) -> int | None:
    """The execution count of the notebook cell compiled as ``filename``, if it is one."""
    old_style = re.fullmatch(r"<ipython-input-(\d+)-[0-9a-f]+>", filename)
    if old_style:
        return int(old_style.group(1))
    if "IPython" not in sys.modules:  # no notebook here: not worth importing IPython
        return None
    from IPython.core.getipython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call]
    numbers = getattr(getattr(shell, "compile", None), "_filename_map", None) or {}
    number = numbers.get(filename)
    return number if isinstance(number, int) else None


def node_labels(nodes: list[Stream[Any]]) -> list[str]:
    """The labels of ``nodes`` in a drawing: each node's name, or its kind and detail
    (``map<add>``), a lambda also with where it was defined (``map<lambda at In[3]
    line 2>``) and, if that is still ambiguous, the column where its body starts.

    Examples
    --------
    >>> from streams import Stream
    >>> source = Stream(stream_name="source")
    >>> inc, dec = (
    ...     source.map(lambda x: x + 1),
    ...     source.map(lambda x: x - 1),
    ... )
    >>> node_labels([source, inc, dec])
    ['source', 'map<lambda at line 2>', 'map<lambda at line 3>']
    >>> double, triple = source.map(lambda x: 2 * x), source.map(lambda x: 3 * x)
    >>> node_labels([double, triple])
    ['map<lambda at line 1 col 39>', 'map<lambda at line 1 col 68>']
    """
    funcs = [_lambda_of(n) for n in nodes]
    labels = [
        _lambda_label(n, f) if f is not None else n._describe()
        for n, f in zip(nodes, funcs, strict=True)
    ]
    counts = Counter(labels)
    for i, (n, f) in enumerate(zip(nodes, funcs, strict=True)):
        if f is not None and counts[labels[i]] > 1:  # lambdas on one line
            labels[i] = _lambda_label(n, f, column=True)
    return labels


def _lambda_label(node: Stream[Any], func: Any, column: bool = False) -> str:
    kind = node._describe().removesuffix("<lambda>")
    return f"{kind}<lambda at {_where(func, column)}>"


def to_dot(node: Stream[Any], **graph_attrs: Any) -> str:
    """Return the DOT source of the graph ``node`` belongs to.

    Nodes are labelled with their name or their kind and detail (``map<add>``; the
    form error notes use), a lambda also with where it was defined (see
    :func:`node_labels`), and shaped by kind (ellipse for plain nodes
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
    for n, label in zip(nodes, node_labels(nodes), strict=True):
        lines.append(f"  {ids[id(n)]} [label={_quote(label)}, shape={_value(n._graphviz_shape)}];")
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
    """A drawn graph, written to a file or kept in memory; Jupyter shows it inline as SVG.

    Attributes
    ----------
    path : pathlib.Path or None
        The written file (``None`` for a drawing kept in memory).
    format : str
        Its format (``png``, ``svg``, ``pdf``, ``dot``...).
    source : str
        The graph as graphviz DOT text.

    Examples
    --------
    >>> from streams import Stream
    >>> source = Stream(stream_name="prices")
    >>> _ = source.map(abs).sink_to_list()
    >>> drawing = source.visualize(filename=None)  # needs graphviz's dot
    >>> drawing
    <Rendered svg graph>
    >>> drawing.svg.startswith("<svg") and "prices" in drawing.svg
    True
    """

    def __init__(
        self, path: Path | None, fmt: str, source: str = "", svg: str | None = None
    ) -> None:
        self.path = path
        self.format = fmt
        self.source = source
        self._svg = svg

    @property
    def svg(self) -> str | None:
        """The drawing as an SVG element (from the file, or drawn from :attr:`source`),
        or ``None`` if that needs graphviz's ``dot`` and it is not installed."""
        if self._svg is None:
            if self.format == "svg" and self.path is not None:
                self._svg = self.path.read_text()
            elif self.source and shutil.which("dot") is not None:
                self._svg = _run_dot(self.source, "svg").decode()
            else:
                return None
        return self._svg[self._svg.find("<svg") :]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self)}
        svg = self.svg
        if svg is not None:
            bundle["image/svg+xml"] = svg
        elif self.path is not None and self.format in ("png", "jpg", "jpeg"):
            bundle[IMAGE_FORMATS[self.format]] = self.path.read_bytes()
        return bundle

    def __repr__(self) -> str:
        where = "" if self.path is None else f" at {str(self.path)!r}"
        return f"<Rendered {self.format} graph{where}>"


def visualize(
    node: Stream[Any],
    filename: str | os.PathLike[str] | None = "mystream.png",
    **graph_attrs: Any,
) -> Rendered:
    """Draw ``node``'s graph: write it to ``filename``, or with ``filename=None`` keep it
    in memory as SVG; see :meth:`Stream.visualize`.

    In a notebook the result shows inline as SVG either way (as the last expression of a
    cell). Nodes calling lambdas are told apart by where the lambda was defined
    (:func:`node_labels`).

    Examples
    --------
    >>> from streams import Stream, visualize
    >>> source = Stream(stream_name="prices")
    >>> _ = source.map(lambda p: p * 1.2).sink_to_list()
    >>> drawing = visualize(source, filename=None)  # needs graphviz's dot
    >>> print(drawing.source)
    digraph {
      n0 [label="prices", shape=ellipse];
      n1 [label="map<lambda at line 1>", shape=box];
      n2 [label="sink_to_list", shape=trapezium];
      n0 -> n1;
      n1 -> n2;
    }
    >>> drawing._repr_mimebundle_()["image/svg+xml"].startswith("<svg")
    True
    """
    source = to_dot(node, **graph_attrs)
    if filename is None:  # streamz: nothing written, the drawing piped from dot
        return Rendered(None, "svg", source, _run_dot(source, "svg").decode())
    path = Path(filename)
    fmt = path.suffix.lstrip(".").lower()
    if fmt in SOURCE_FORMATS:
        path.write_text(source + "\n")
        return Rendered(path, fmt, source)
    if fmt not in IMAGE_FORMATS:
        known = ", ".join(sorted({*IMAGE_FORMATS, *SOURCE_FORMATS}))
        raise ValueError(f"visualize: cannot tell the format of {str(path)!r}; use one of {known}")
    path.write_bytes(_run_dot(source, fmt))
    return Rendered(path, fmt, source)


def _run_dot(source: str, fmt: str) -> bytes:
    """Draw the DOT ``source`` in format ``fmt`` with graphviz's ``dot`` program."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            f"visualize: drawing a .{fmt} needs graphviz's `dot` program, which is not on "
            "PATH (install graphviz, e.g. `apt-get install graphviz`), or write a .dot file"
        )
    done = subprocess.run(
        [dot, f"-T{fmt}"], input=source.encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"visualize: dot failed: {done.stderr.decode(errors='replace').strip()}"
        )
    return done.stdout
