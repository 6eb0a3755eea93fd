"""Operators that join several streams: zip, combine_latest, zip_latest and union."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from .._util import flat, label, positive_int
from ..core import Stream
from ..loop import Completion, running_loop
from ..protocol import BLOCKED_EMITTER, BackpressureError, Metadata, push_each, release_after, wait
from ..refs import release_refs, retain_refs

__all__ = ["CombineLatest", "Union", "Zip", "ZipLatest"]


class _Join(Stream[Any]):
    """A node with one input slot per upstream edge (the same stream may fill several)."""

    _graphviz_shape = "triangle"

    def __init__(self, upstreams: list[Stream[Any]], **options: Any) -> None:
        self._slots: dict[Stream[Any], list[int]] = {}
        super().__init__(upstreams=upstreams, **options)

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
            raise ValueError(
                f"{self._describe()}: received an element from {who!r}, which is not an upstream"
            )
        return slots


class Zip(_Join):
    """Node behind :meth:`Stream.zip`: a tuple once every upstream delivered an element."""

    _label = "zip"

    def __init__(self, *upstreams: Any, maxsize: int | None = 10, **options: Any) -> None:
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
        self._room: Completion | None = None  # set when the next tuple frees a place
        super().__init__(streams, **options)

    def _held_count(self) -> int:
        return sum(len(b) for b in self.buffers)

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
        # Waiting for room needs someone else to feed the other upstreams. A blocked
        # synchronous caller (no loop here, or a thread waiting on this element) would
        # wait forever if it is that someone: a full buffer refuses it instead.
        can_wait = running_loop() is not None and not BLOCKED_EMITTER.get()
        if not can_wait and maxsize is not None and any(len(buffers[j]) >= maxsize for j in slots):
            raise BackpressureError(
                f"{self._describe()}: the buffer for {label(who)} already holds "
                f"maxsize={maxsize} elements waiting for the other upstreams, and this "
                "synchronous emit cannot wait for room. Emit with `await source.emit(x)` "
                "inside a running loop, feed the other upstreams, or raise maxsize (None is "
                "unbounded)."
            )
        for j in slots:
            retain_refs(metadata)
            buffers[j].append((x, metadata))
        if all(buffers):
            return self._emit_front()
        full = maxsize is not None and any(len(buffers[j]) >= maxsize for j in slots)
        if full and can_wait:
            if self._room is None:
                self._room = Completion()
            return self._room.wait()
        return None

    def _emit_front(self) -> Any:
        fronts = [b.popleft() for b in self.buffers]
        values = [v for v, _ in fronts]
        out = tuple(v if kind == "literal" else values[v] for kind, v in self._layout)
        md = flat(m for _, m in fronts)
        if self._room is not None:  # upstreams waiting for room may continue
            self._room.set()
            self._room = None
        self.current_value = out
        return release_after(self._push(out, self, md), md)


def _emit_on_slots(upstreams: list[Stream[Any]], emit_on: Any) -> set[int] | None:
    """Slots whose arrivals trigger an emit (``None``: all), from streams and/or indices.

    Checked before the node is connected, so a bad ``emit_on`` leaves the graph untouched.
    """
    if emit_on is None:
        return None
    items: Iterable[Any] = [emit_on] if isinstance(emit_on, Stream | int) else emit_on
    slots: set[int] = set()
    for item in items:
        if isinstance(item, Stream):
            found = [i for i, u in enumerate(upstreams) if u is item]
            if not found:
                raise ValueError(f"combine_latest: emit_on={item!r} is not one of the upstreams")
            slots.update(found)
        elif isinstance(item, int) and not isinstance(item, bool):
            if not 0 <= item < len(upstreams):
                raise ValueError(f"combine_latest: emit_on index {item} is out of range")
            slots.add(item)
        else:
            raise TypeError(f"combine_latest: emit_on must be streams or indices, got {item!r}")
    return slots


class _Latest(_Join):
    """A join that keeps the latest element of each slot (retained until replaced)."""

    def __init__(self, upstreams: list[Stream[Any]], **options: Any) -> None:
        self.last: list[Any] = []
        self._metadata: list[Metadata] = []
        self._missing: set[int] = set()  # slots that have not delivered yet
        super().__init__(upstreams, **options)

    def _slot_added(self) -> None:
        self.last.append(None)
        self._metadata.append(())
        self._missing.add(len(self.last) - 1)

    def _slot_removed(self, index: int) -> None:
        del self.last[index]
        release_refs(self._metadata.pop(index))
        self._missing = _without(self._missing, index)

    def _store(self, j: int, x: Any, metadata: Metadata) -> None:
        """Make ``x`` the latest element of slot ``j``, releasing the one it replaces."""
        retain_refs(metadata)
        release_refs(self._metadata[j])
        self._metadata[j] = metadata
        self.last[j] = x
        self._missing.discard(j)


def _without(slots: set[int], index: int) -> set[int]:
    """Slot numbers after slot ``index`` was removed."""
    return {j - (j > index) for j in slots if j != index}


class CombineLatest(_Latest):
    """Node behind :meth:`Stream.combine_latest`: the latest of every upstream, on demand."""

    _label = "combine_latest"

    def __init__(self, *upstreams: Stream[Any], emit_on: Any = None, **options: Any) -> None:
        self.emit_on = emit_on
        self._emit_on = _emit_on_slots(list(upstreams), emit_on)  # None: every slot
        super().__init__(list(upstreams), **options)

    def _slot_removed(self, index: int) -> None:
        super()._slot_removed(index)
        if self._emit_on is not None:
            self._emit_on = _without(self._emit_on, index)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        slots = self._slots_of(who)
        for j in slots:
            self._store(j, x, metadata)
        if self._missing or (self._emit_on is not None and self._emit_on.isdisjoint(slots)):
            return None
        out = tuple(self.last)
        self.current_value = out
        return self._push(out, self, flat(self._metadata))


class ZipLatest(_Latest):
    """Node behind :meth:`Stream.zip_latest`: every element of the first (lossless)
    upstream with the latest of the others."""

    _label = "zip_latest"

    def __init__(self, lossless: Stream[Any], *upstreams: Stream[Any], **options: Any) -> None:
        self.lossless = lossless
        self._pending: deque[tuple[Any, Metadata]] = deque()  # lossless elements to send
        self._flushing: Completion | None = None  # set while buffered elements go out
        self._sending = False  # while a flush pushes synchronously (re-entrant emits)
        super().__init__([lossless, *upstreams], **options)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        for j in self._slots_of(who):
            if j == 0:  # the lossless slot: every element is kept until sent
                retain_refs(metadata)
                self._pending.append((x, metadata))
                self._missing.discard(0)
            else:
                self._store(j, x, metadata)
        if self._missing or not self._pending:
            return None
        if self._flushing is not None:
            if self._sending:
                # Re-entrant: a consumer of this node emitted into an upstream while the
                # flush under way is pushing. That flush sends this element too.
                return None
            # A flush is under way and will send this element too; wait for it to end
            # rather than start a second one (which would put two outputs in flight).
            return self._after_flush(self._flushing)
        self._sending = True
        try:
            return push_each(self, self._drain_lossless(), release=True)
        finally:
            self._sending = False

    def _held_count(self) -> int:
        return len(self._pending)

    def _drain_lossless(self) -> Iterator[tuple[Any, Metadata]]:
        """Yield one output per buffered lossless element; each output holds a ref of
        every element in it, released once it was accepted (see ``push_each``)."""
        self._flushing = flushing = Completion()
        try:
            while self._pending:
                x, md = self._pending.popleft()
                self.last[0] = x
                others = flat(self._metadata[1:])
                retain_refs(others)
                yield tuple(self.last), [*md, *others]
        finally:
            self._flushing = None
            flushing.set()

    async def _after_flush(self, flushing: Completion | None) -> None:
        while flushing is not None:
            await flushing.wait()
            flushing = self._flushing
        # If that flush stopped early (a downstream error), send what it left behind.
        if self._pending and not self._missing:
            await wait(push_each(self, self._drain_lossless(), release=True))


class Union(Stream[Any]):
    """Node behind :meth:`Stream.union`: every element of every upstream."""

    _label = "union"
    _graphviz_shape = "triangle"

    def __init__(self, *upstreams: Stream[Any], **options: Any) -> None:
        super().__init__(upstreams=upstreams, **options)
