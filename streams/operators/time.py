"""Operators that involve time or run on their own: timed_window, timed_window_unique,
delay, rate_limit, buffer and latest.

These are the nodes that need an event loop. They read time only from the loop their
graph runs on (``loop.time()``, ``call_at``), so a virtual clock drives them exactly in
tests (:mod:`streams.testing`).
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, Literal, TypeVar

from .._util import flat, identity, key_function, parse_interval, positive_int
from ..core import Stream
from ..loop import Alarm, Completion, running_loop, sleep_until
from ..protocol import Metadata, wait
from ..refs import release_refs, retain_refs
from ._worker import BoundedWorker, Worker

__all__ = [
    "Buffer",
    "Delay",
    "Latest",
    "RateLimit",
    "TimedWindow",
    "TimedWindowUnique",
    "parse_interval",
]

T = TypeVar("T")


class _Pausable:
    """A node whose held elements a checkpoint stores (see ``streams/state/timed.py``):
    a checkpoint's cut pauses it between two pushes instead of waiting for it to empty.

    Without a checkpointer ``_resume`` and ``_pushed`` stay ``None``: a push costs one
    or two attribute checks more.
    """

    _delivering: int
    _resume: asyncio.Future[None] | None = None  # set while a cut is being taken
    _pushed: asyncio.Future[None] | None = None  # a cut waits for the push under way

    def _pause(self, resume: asyncio.Future[None]) -> asyncio.Future[None] | None:
        """Start no new push until ``resume`` is done (a checkpoint's cut).

        Returns ``None`` if no push is under way, else a future done when it has ended.
        """
        self._resume = resume
        if not self._delivering:
            return None
        if self._pushed is None:
            self._pushed = resume.get_loop().create_future()
        return self._pushed

    def _push_ended(self) -> None:
        """A push ended: tell the cut waiting for it."""
        pushed, self._pushed = self._pushed, None
        if pushed is not None and not pushed.done():
            pushed.set_result(None)

    async def _paused(self) -> None:
        """Between two pushes while ``_resume`` is set: wait until the cut is taken."""
        self._push_ended()
        while (resume := self._resume) is not None:
            if not resume.done():
                await asyncio.shield(resume)
            if self._resume is resume:
                self._resume = None


class Buffer(BoundedWorker[T]):
    """Node behind :meth:`Stream.buffer`: a queue of at most ``n`` elements between a fast
    producer and a slower consumer."""

    _label = "buffer"
    _graphviz_shape = "diamond"

    def __init__(self, upstream: Stream[Any], n: int, **options: Any) -> None:
        self.n: int = positive_int("buffer", "n", n)
        self._queue: deque[tuple[Any, Metadata]] = deque()
        super().__init__(upstream, **options)

    def _detail(self) -> str:
        return str(self.n)

    def _full(self) -> bool:
        return len(self._queue) >= self.n

    def _held_count(self) -> int:
        return len(self._queue)

    def _put(self, x: Any, metadata: Metadata) -> None:
        retain_refs(metadata)
        self._queue.append((x, metadata))
        self._kick()

    async def _work(self) -> None:
        while self._queue:
            x, md = self._queue.popleft()
            self._made_room()
            await self._push_async(x, md)


class Latest(_Pausable, Worker[T]):
    """Node behind :meth:`Stream.latest`: pass on only the newest element while the
    consumer is busy (and hold it, refs retained, while there is no consumer)."""

    _label = "latest"
    _graphviz_shape = "diamond"

    def __init__(self, upstream: Stream[Any], **options: Any) -> None:
        self._next: tuple[Any, Metadata] | None = None
        super().__init__(upstream, **options)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> None:
        retain_refs(metadata)
        if self._next is not None:
            release_refs(self._next[1])  # superseded: done with by design
        self._next = (x, metadata)
        if self._downs:  # with no consumer the newest element stays held (as in streamz)
            self._kick()

    def _held_count(self) -> int:
        # with no consumer, the element held is the current value, nothing undelivered
        return 0 if self._next is None or not self._downs else 1

    async def _work(self) -> None:
        while self._next is not None:
            if self._resume is not None:  # a checkpoint's cut: push nothing new now
                await self._paused()
                continue
            (x, md), self._next = self._next, None
            await self._push_async(x, md)
            if self._pushed is not None:
                self._push_ended()


class Delay(_Pausable, BoundedWorker[T]):
    """Node behind :meth:`Stream.delay`: emit each element ``interval`` seconds after it
    arrived, holding at most ``maxsize`` of them."""

    _label = "delay"
    _graphviz_shape = "octagon"

    def __init__(
        self, upstream: Stream[Any], interval: Any, maxsize: int | None = 1000, **options: Any
    ) -> None:
        self.interval = parse_interval("delay", interval)
        self.maxsize = positive_int("delay", "maxsize", maxsize, allow_none=True)
        self._queue: deque[tuple[float, Any, Metadata]] = deque()
        self._alarm = Alarm()
        self._hurry = False
        super().__init__(upstream, **options)

    def _detail(self) -> str:
        return f"{self.interval:g}s"

    def _str_detail(self) -> str:
        return f"{self.interval:g}"  # streamz shows the number alone: <delay: 0.5>

    def _full(self) -> bool:
        return self.maxsize is not None and len(self._queue) >= self.maxsize

    def _held_count(self) -> int:
        return len(self._queue)

    def _put(self, x: Any, metadata: Metadata) -> None:
        retain_refs(metadata)
        due = asyncio.get_running_loop().time() + self.interval
        self._queue.append((due, x, metadata))
        self._kick()

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            due, x, md = self._queue[0]
            if not self._hurry and due > loop.time():
                await self._alarm.sleep_until(due)
                continue
            # a checkpoint's cut: push nothing new now (unless emitters wait for room:
            # they are inside an element, the cut waits for them)
            if self._resume is not None and not self._waiting:
                await self._paused()
                continue
            self._queue.popleft()
            self._made_room()
            await self._push_async(x, md)
            if self._pushed is not None:
                self._push_ended()

    async def _flush(self) -> bool:
        if self._worker is None:
            return False
        self._hurry = True  # drain: emit what is held now, in order
        try:
            worker: asyncio.Task[None] | None = self._worker
            while worker is not None:
                self._alarm.ring()
                await worker
                # emitters that waited for room put their elements in now; hurry them too
                await asyncio.sleep(0)
                worker = self._worker
        finally:
            self._hurry = False
        return True


class RateLimit(Stream[T]):
    """Node behind :meth:`Stream.rate_limit`: at most one element per ``interval``; the
    emitter of an early element waits for its turn."""

    _label = "rate_limit"
    _graphviz_shape = "octagon"

    def __init__(self, upstream: Stream[Any], interval: Any, **options: Any) -> None:
        self.interval = parse_interval("rate_limit", interval)
        self._next = -math.inf  # the earliest time the next element may pass
        super().__init__(upstream, **options)
        self._require_loop()

    def _detail(self) -> str:
        return f"{self.interval:g}s"

    def _str_detail(self) -> str:
        return f"{self.interval:g}"  # streamz shows the number alone: <delay: 0.5>

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        now = asyncio.get_running_loop().time()
        slot = self._next
        if slot <= now:
            self._next = now + self.interval
            self.current_value = x
            return self._push(x, self, metadata)
        self._next = slot + self.interval  # book the slot now: order is kept
        return self._push_at(slot, x, metadata)

    async def _push_at(self, when: float, x: Any, metadata: Metadata) -> None:
        await sleep_until(when)
        self.current_value = x
        await wait(self._push(x, self, metadata))


class TimedWindow(_Pausable, Stream[Any]):
    """Node behind :meth:`Stream.timed_window`: every ``interval`` seconds, emit the list
    of what arrived since the last emission."""

    _label = "timed_window"
    _graphviz_shape = "octagon"

    def __init__(self, upstream: Stream[Any], interval: Any, **options: Any) -> None:
        self.interval = parse_interval(self._label, interval)
        self._buffer: Any = self._empty()
        self._metadata: list[Metadata] = []
        self._emitting: Completion | None = None  # while a window is being accepted
        self._lock: asyncio.Lock | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._due: float | None = None  # the loop time of the next tick
        super().__init__(upstream, **options)
        self._require_loop()

    def _detail(self) -> str:
        return f"{self.interval:g}s"

    def _str_detail(self) -> str:
        return f"{self.interval:g}"  # streamz shows the number alone: <delay: 0.5>

    def _on_loop(self) -> None:
        if self._ticker is None:
            loop = asyncio.get_running_loop()
            # ticks count from now, when the node got its loop, not from when the task
            # first runs: a window built then filled at once closes one interval later
            self._due = loop.time() + self.interval
            self._ticker = loop.create_task(self._tick(loop.time()))

    def _close(self) -> None:
        if self._ticker is not None:
            loop = self._ticker.get_loop()
            if loop is running_loop():
                self._ticker.cancel()  # (it ends at the loop's next iteration)
            else:
                loop.call_soon_threadsafe(self._ticker.cancel)
            self._ticker = None

    async def _tick(self, start: float) -> None:
        loop = asyncio.get_running_loop()
        k = 0
        while True:
            # the next tick not in the past (ticks missed while a window was slow are skipped)
            k = max(k + 1, math.ceil((loop.time() - start) / self.interval))
            self._due = due = start + k * self.interval
            await sleep_until(due)
            await self._emit_window()

    def _empty(self) -> Any:
        """A new, empty window."""
        return []

    def _held_count(self) -> int:
        return len(self._buffer)

    def _take(self) -> tuple[Any, list[dict[str, Any]]]:
        """The current window's content as emitted, and its metadata; empties the window."""
        out, self._buffer = self._buffer, self._empty()
        md, self._metadata = flat(self._metadata), []
        return out, md

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        retain_refs(metadata)
        self._buffer.append(x)
        self._metadata.append(metadata)
        return self._pressure()

    def _pressure(self) -> Any:
        if self._emitting is not None:  # back pressure while the last window is accepted
            return self._emitting.wait()
        return None

    async def _emit_window(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._resume is not None:  # a checkpoint's cut: the window stays open
                await self._paused()
            out, md = self._take()
            self._emitting = done = Completion()
            try:
                await self._push_async(out, md)
            finally:
                self._emitting = None
                done.set()
                if self._pushed is not None:
                    self._push_ended()

    async def _flush(self) -> bool:
        busy = False
        if self._emitting is not None:  # a window still being accepted downstream
            await self._emitting.wait()
            busy = True
        if self._buffer:
            await self._emit_window()
            busy = True
        return busy


class TimedWindowUnique(TimedWindow):
    """Node behind :meth:`Stream.timed_window_unique`: every ``interval`` seconds, emit a
    tuple of what arrived, one element per key."""

    _label = "timed_window_unique"

    def __init__(
        self,
        upstream: Stream[Any],
        interval: Any,
        key: Hashable | Callable[[Any], Hashable] = identity,
        keep: Literal["first", "last"] = "first",
        **options: Any,
    ) -> None:
        if keep not in ("first", "last"):
            raise ValueError(f"timed_window_unique: keep must be 'first' or 'last', got {keep!r}")
        self.key = key
        self.keep = keep
        self._key = key_function("timed_window_unique", key) or identity
        self._by_key: dict[Any, Metadata] = {}  # metadata of each held element, by key
        super().__init__(upstream, interval, **options)

    def _empty(self) -> Any:
        return {}

    def _take(self) -> tuple[Any, list[dict[str, Any]]]:
        out, self._buffer = tuple(self._buffer.values()), {}
        md, self._by_key = flat(self._by_key.values()), {}
        return out, md

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            k = self._key(x)
            held = k in self._buffer
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        if held:
            if self.keep == "first":
                return self._pressure()
            del self._buffer[k]  # keep="last": the newest moves to the end
            release_refs(self._by_key.pop(k))
        retain_refs(metadata)
        self._buffer[k] = x
        self._by_key[k] = metadata
        return self._pressure()
