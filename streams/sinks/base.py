"""The base class of sinks."""

from __future__ import annotations

from typing import Any, TypeVar

from ..core import Stream

__all__ = ["Sink"]

T = TypeVar("T")


class Sink(Stream[T]):
    """A node that consumes elements instead of transforming them.

    A sink is kept alive by its upstream like any node (there is no global registry of
    sinks); :meth:`~streams.Stream.destroy` detaches it and closes what it owns.
    Subclasses implement ``update`` and, if they own resources, ``_close``.
    """

    _graphviz_shape = "trapezium"
    _label = "sink"

    def __init__(self, upstream: Stream[Any], **options: Any) -> None:
        super().__init__(upstream, **options)
