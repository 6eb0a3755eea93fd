"""Acknowledgement plumbing: reference counts carried in element metadata.

An element's metadata is a sequence of dicts. A dict with the key ``'ref'`` holds a
:class:`RefCounter`; every node that keeps the element beyond the synchronous call
that delivered it (buffers, windows, zips, pending async sinks) retains the counter
on arrival and releases it on departure. When the count falls back to zero the
counter's callback runs: that is how a source learns that every branch has finished
with an element (for example to commit a Kafka offset).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["RefCounter", "release_refs", "retain_refs"]


class RefCounter:
    """Count the holders of an element and call back when the last one lets go.

    Parameters
    ----------
    initial : int, optional
        The starting count.
    cb : callable, optional
        Called with no arguments each time :meth:`release` brings the count to zero
        or below.
    loop : asyncio event loop or tornado IOLoop, optional
        If given, ``cb`` is scheduled on this loop (thread-safely) instead of being
        called directly by :meth:`release`.

    Examples
    --------
    >>> from streams import RefCounter, Stream
    >>> done = []
    >>> ref = RefCounter(cb=lambda: done.append("acknowledged"))
    >>> source = Stream()
    >>> batches = source.partition(2).sink_to_list()
    >>> source.emit("a", metadata=[{"ref": ref}])
    >>> ref.count, done  # partition still holds "a"
    (1, [])
    >>> source.emit("b")
    >>> ref.count, done
    (0, ['acknowledged'])
    """

    __slots__ = ("cb", "count", "loop")

    def __init__(
        self, initial: int = 0, cb: Callable[[], Any] | None = None, loop: Any = None
    ) -> None:
        self.count = initial
        self.cb = cb
        self.loop = loop

    def retain(self, n: int = 1) -> None:
        """Add ``n`` holders."""
        self.count += n

    def release(self, n: int = 1) -> None:
        """Remove ``n`` holders; call back when none are left."""
        self.count -= n
        if self.count <= 0 and self.cb is not None:
            if self.loop is None:
                self.cb()
            elif hasattr(self.loop, "call_soon_threadsafe"):
                self.loop.call_soon_threadsafe(self.cb)
            else:  # a tornado IOLoop
                self.loop.add_callback(self.cb)

    def __repr__(self) -> str:
        return f"<RefCounter count={self.count}>"


def retain_refs(metadata: Iterable[dict[str, Any]], n: int = 1) -> None:
    """Retain every :class:`RefCounter` found under ``'ref'`` in ``metadata``."""
    for m in metadata:
        ref = m.get("ref")
        if ref is not None:
            ref.retain(n)


def release_refs(metadata: Iterable[dict[str, Any]], n: int = 1) -> None:
    """Release every :class:`RefCounter` found under ``'ref'`` in ``metadata``."""
    for m in metadata:
        ref = m.get("ref")
        if ref is not None:
            ref.release(n)
