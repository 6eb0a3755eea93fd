"""The error stream of a graph (``Stream.errors``)."""

from __future__ import annotations

from typing import Any

from ..core import Stream
from ..errors import ErrorRecord

__all__ = ["ErrorStream"]


class ErrorStream(Stream[ErrorRecord]):
    """Node behind :meth:`Stream.errors`: emits the :class:`~streams.errors.ErrorRecord`
    of every error its graph hands to error streams."""

    _label = "errors"
    _graphviz_shape = "house"

    def __init__(self, graph: Stream[Any], **options: Any) -> None:
        super().__init__(**options)
        graph._runtime.absorb(self._runtime)
        self._runtime.error_streams.append(self)

    def _receive(self, record: ErrorRecord) -> None:
        """Emit ``record`` (called by the node that gave up on an element)."""
        self.emit(record)

    def _close(self) -> None:
        streams = self._runtime.error_streams
        if self in streams:
            streams.remove(self)
