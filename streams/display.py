"""Jupyter display of a stream: a live output that shows the latest element.

Displaying a node in a notebook (the last expression of a cell, or
``IPython.display.display(node)``) shows an ``ipywidgets.Output`` that a small sink
attached to the node fills with each element as it arrives, rendered the way Jupyter
renders that element (a DataFrame as a table, an image as an image). Without
``ipywidgets`` the node is shown as text. The sink lets go of the graph once its output
widget is gone.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Stream

__all__ = ["DisplayMethods", "LiveOutput"]


class DisplayMethods:
    """The :class:`~streams.Stream` hook Jupyter calls to display a node."""

    def _ipython_display_(self, **kwargs: Any) -> None:
        """Show a live output of this node's latest element (called by Jupyter)."""
        from IPython.display import display

        try:
            import ipywidgets  # type: ignore[import-untyped]

            output = ipywidgets.Output()
        except ImportError:  # no widgets: the node as text
            display(repr(self))  # type: ignore[no-untyped-call]
            return
        node: Stream[Any] = self  # type: ignore[assignment]
        live = LiveOutput(node, output)
        if node.current_value is not None:  # something to show already
            live.show(node.current_value)
        display(output)  # type: ignore[no-untyped-call]


class LiveOutput:
    """Renders elements into an ``ipywidgets.Output`` through a sink on ``node``; the
    sink is detached at the first element after the widget was garbage-collected."""

    def __init__(self, node: Stream[Any], output: Any) -> None:
        self._output = weakref.ref(output)
        self.sink = node.sink(self._receive, stream_name=f"display of {node._describe()}")

    def _receive(self, x: Any) -> None:
        if self._output() is None:
            for up in list(self.sink.upstreams):
                up.disconnect(self.sink)
            return
        self.show(x)

    def show(self, x: Any) -> None:
        """Replace what the output shows with ``x``, rendered as Jupyter renders it."""
        output = self._output()
        if output is None:
            return
        data, metadata = _formats(x)
        output.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)


def _formats(x: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The MIME bundle of ``x``: the notebook's formatters, or plain text outside one."""
    from IPython.core.getipython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call]
    if shell is None:
        return {"text/plain": repr(x)}, {}
    data, metadata = shell.display_formatter.format(x)
    return dict(data), dict(metadata)
