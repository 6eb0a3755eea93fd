"""Checkpoints of the event-time windows of streaming DataFrames (``sdf.window(...)``).

A :class:`~streams.dataframe.event_time.FrameWindows` node hands its rows to an inner
:class:`~streams.windows.node.EventWindow` (each row is an element: its number in the
chunk and its numeric values), so its state is that node's, stored as the adapter of
event-time windows stores it: the clocks (watermark, per key and per partition), every
open window with its aggregate (a row count and a numpy vector of sums, minima or maxima)
and the rows sliding windows keep. A restored node therefore judges the rows after the
cut exactly as the original would have, and its panes carry the same values.

Between two chunks the node itself holds only the panes a timer fired (an idle clock, an
early pane), which go out with its next chunk: they are stored with it. Row numbers refer
to a chunk, which is gone at a cut; no stored state depends on them.
"""

from __future__ import annotations

import copy
from typing import Any

from .nodes import Adapter, adapter_of, register
from .store import Full

__all__: list[str] = []


def _inner(node: Any) -> Adapter:
    adapter = adapter_of(node.windows)
    assert adapter is not None  # event-time windows are checkpointable
    return adapter


@register("streams.dataframe.event_time.FrameWindows")
class _FrameWindows(Adapter):
    """The inner windows' state and the panes waiting for the next chunk."""

    def why_not(self, node: Any) -> str | None:
        return _inner(node).why_not(node.windows)

    def snapshot(self, node: Any) -> Any:
        windows = _inner(node).snapshot(node.windows).value
        return Full({"windows": windows, "panes": copy.deepcopy(node._panes)})

    def restore(self, node: Any, value: Any) -> None:
        _inner(node).restore(node.windows, value["windows"])
        node._panes[:] = value["panes"]  # in place: the inner windows append to this list
        node._late_rows.clear()
