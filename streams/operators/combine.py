"""Operators that join several streams: zip, combine_latest, zip_latest and union."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Any

from ..core import (
    BackpressureError,
    Metadata,
    Stream,
    positive_int,
    push_each,
    release_after,
)
from ..loop import running_loop
from ..refs import release_refs, retain_refs
from .aggregate import flat

__all__ = ["CombineLatest", "Union", "Zip", "ZipLatest"]


class _Join(Stream[Any]):
    """A node with one input slot per upstream edge (the same stream may fill several)."""

    _graphviz_shape = "triangle"

    def __init__(self, upstreams: list[Stream[Any]], stream_name: str | None) -> None:
        self._slots: dict[Stream[Any], list[int]] = {}
        super().__init__(upstreams=upstreams, stream_name=stream_name)

    def _add_upstream(self, upstream: Stream[Any]) -> None:
        super()._add_upstream(upstream)
        self._slots.setdefault(upstream, []).append(len(self.upstreams) - 1)
        self._slot_added()

    def _remove_upstream(self, upstream: Stream[Any]) -> None:
        index = next(i for i, u in enumerate(self.upstreams) if u is upstream)
        super()._remove_upstream(upstream)
        self._slot_removed(index)
        self._slots = {}
        for i, u in enumerate(self.upstreams):
            self._slots.setdefault(u, []).append(i)

    def _slot_added(self) -> None:
        """A slot was appended for a new upstream."""

    def _slot_removed(self, index: int) -> None:
        """The slot at ``index`` went away with its upstream."""

    def _slots_of(self, who: Stream[Any] | None) -> list[int]:
        slots = self._slots.get(who) if who is not None else None
        if slots is None:
            raise ValueError(f"{self}: received an element from {who!r}, which is not an upstream")
        return slots


class Zip(_Join):
    """Node behind :meth:`Stream.zip`: a tuple once every upstream delivered an element."""

    _label = "zip"

    def __init__(
        self, *upstreams: Any, maxsize: int | None = 10, stream_name: str | None = None
    ) -> None:
        self.maxsize = positive_int("zip", "maxsize", maxsize, allow_none=True)
        streams = [u for u in upstreams if isinstance(u, Stream)]
        if not streams:
            raise TypeError("zip: needs at least one Stream among its arguments")
        # Output layout: ("slot", i) for the i-th stream argument, ("literal", value) otherwise.
        self._layout: list[tuple[str, Any]] = []
        i = 0
        for u in upstreams:
            if isinstance(u, Stream):
                self._layout.append(("slot", i))
                i += 1
            else:
                self._layout.append(("literal", u))
        self.literals = [
            (pos, v) for pos, (kind, v) in enumerate(self._layout) if kind == "literal"
        ]
        self.buffers: list[deque[tuple[Any, Metadata]]] = []
        self._waiters: list[asyncio.Future[None]] = []
        super().__init__(streams, stream_name)

    def _slot_added(self) -> None:
        self.buffers.append(deque())
        if len(self.buffers) > sum(kind == "slot" for kind, _ in self._layout):
            self._layout.append(("slot", len(self.buffers) - 1))

    def _slot_removed(self, index: int) -> None:
        # Elements still buffered for that upstream were never delivered: their refs stay
        # held, so they are not acknowledged.
        self.buffers.pop(index)
        layout = []
        for kind, v in self._layout:
            if kind == "slot":
                if v == index:
                    continue
                v = v - 1 if v > index else v
            layout.append((kind, v))
        self._layout = layout

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        slots = self._slots_of(who)
        buffers = self.buffers
        maxsize = self.maxsize
        loop = None
        if maxsize is not None and any(len(buffers[j]) >= maxsize for j in slots):
            loop = running_loop()
            if loop is None:
                raise BackpressureError(
                    f"{self}: the buffer for {who} already holds maxsize={maxsize} elements "
                    "waiting for the other upstreams, and this synchronous emit has no event "
                    "loop to wait on. Emit with `await source.emit(x)` inside a running loop, "
                    "feed the other upstreams, or raise maxsize (None is unbounded)."
                )
        for j in slots:
            retain_refs(metadata)
            buffers[j].append((x, metadata))
        if all(buffers):
            return self._emit_front()
        if maxsize is not None and any(len(buffers[j]) >= maxsize for j in slots):
            loop = loop or running_loop()
            if loop is not None:
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append(waiter)
                return waiter
        return None

    def _emit_front(self) -> Any:
        fronts = [b.popleft() for b in self.buffers]
        values = [v for v, _ in fronts]
        out = tuple(v if kind == "literal" else values[v] for kind, v in self._layout)
        md = flat(m for _, m in fronts)
        self._wake()
        self.current_value = out
        return release_after(self._push(out, self, md), md)

    def _wake(self) -> None:
        """Let upstreams that wait for room in their buffer continue."""
        waiters, self._waiters = self._waiters, []
        here = running_loop()
        for w in waiters:
            if w.done():
                continue
            if w.get_loop() is here:
                w.set_result(None)
            else:
                w.get_loop().call_soon_threadsafe(_resolve, w)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _emit_on_slots(node: _Join, emit_on: Any) -> set[int]:
    """Slots whose arrivals trigger an emit: given as streams, indices, or a mix."""
    items: Iterable[Any]
    if emit_on is None:
        return set(range(len(node.upstreams)))
    items = [emit_on] if isinstance(emit_on, Stream | int) else emit_on
    slots: set[int] = set()
    for item in items:
        if isinstance(item, Stream):
            found = node._slots.get(item)
            if not found:
                raise ValueError(f"{node}: emit_on={item!r} is not one of the upstreams")
            slots.update(found)
        elif isinstance(item, int) and not isinstance(item, bool):
            if not 0 <= item < len(node.upstreams):
                raise ValueError(f"{node}: emit_on index {item} is out of range")
            slots.add(item)
        else:
            raise TypeError(f"{node}: emit_on must be streams or indices, got {item!r}")
    return slots


class CombineLatest(_Join):
    """Node behind :meth:`Stream.combine_latest`: the latest of every upstream, on demand."""

    _label = "combine_latest"

    def __init__(
        self, *upstreams: Stream[Any], emit_on: Any = None, stream_name: str | None = None
    ) -> None:
        self.last: list[Any] = []
        self._metadata: list[Metadata] = []
        self._missing: set[int] = set()
        super().__init__(list(upstreams), stream_name)
        self._emit_on = _emit_on_slots(self, emit_on)
        self.emit_on = emit_on

    def _slot_added(self) -> None:
        self.last.append(None)
        self._metadata.append(())
        self._missing.add(len(self.last) - 1)
        if getattr(self, "emit_on", None) is None and hasattr(self, "_emit_on"):
            self._emit_on.add(len(self.last) - 1)

    def _slot_removed(self, index: int) -> None:
        del self.last[index]
        release_refs(self._metadata.pop(index))
        self._missing = {j - (j > index) for j in self._missing if j != index}
        self._emit_on = {j - (j > index) for j in self._emit_on if j != index}

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        slots = self._slots_of(who)
        for j in slots:
            retain_refs(metadata)
            release_refs(self._metadata[j])
            self._metadata[j] = metadata
            self.last[j] = x
            self._missing.discard(j)
        if self._missing or self._emit_on.isdisjoint(slots):
            return None
        out = tuple(self.last)
        self.current_value = out
        return self._push(out, self, flat(self._metadata))


class ZipLatest(_Join):
    """Node behind :meth:`Stream.zip_latest`: every element of the first (lossless)
    upstream with the latest of the others."""

    _label = "zip_latest"

    def __init__(
        self, lossless: Stream[Any], *upstreams: Stream[Any], stream_name: str | None = None
    ) -> None:
        self.lossless = lossless
        self.last: list[Any] = []
        self._metadata: list[Metadata] = []
        self._missing: set[int] = set()
        self._pending: deque[tuple[Any, Metadata]] = deque()
        super().__init__([lossless, *upstreams], stream_name)

    def _slot_added(self) -> None:
        self.last.append(None)
        self._metadata.append(())
        self._missing.add(len(self.last) - 1)

    def _slot_removed(self, index: int) -> None:
        del self.last[index]
        release_refs(self._metadata.pop(index))
        self._missing = {j - (j > index) for j in self._missing if j != index}

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        slots = self._slots_of(who)
        if who is self.lossless:
            retain_refs(metadata)
            self._pending.append((x, metadata))
            self._missing.discard(0)
        else:
            for j in slots:
                retain_refs(metadata)
                release_refs(self._metadata[j])
                self._metadata[j] = metadata
                self.last[j] = x
                self._missing.discard(j)
        if self._missing or not self._pending:
            return None
        return push_each(self, self._drain_lossless())

    def _drain_lossless(self) -> Any:
        """Yield one output per buffered lossless element, releasing it as it goes."""
        while self._pending:
            x, md = self._pending.popleft()
            self.last[0] = x
            out_md = flat([md, *self._metadata[1:]])
            yield tuple(self.last), out_md
            release_refs(md)


class Union(Stream[Any]):
    """Node behind :meth:`Stream.union`: every element of every upstream."""

    _label = "union"
    _graphviz_shape = "triangle"

    def __init__(self, *upstreams: Stream[Any], stream_name: str | None = None) -> None:
        super().__init__(upstreams=upstreams, stream_name=stream_name)
