"""Operators that keep state across elements: accumulate, partition, partition_unique,
sliding_window, collect and frequencies.

Nodes here that hold elements retain the elements' metadata refs while they hold them
and release them once the output containing them has been accepted downstream.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Literal, TypeVar

from .._util import (
    NO_START,
    bind,
    check_arguments,
    flat,
    funcname,
    identity,
    key_function,
    parse_interval,
    positive_int,
)
from ..core import Stream
from ..errors import ErrorPolicy
from ..protocol import Metadata, Push, release_after
from ..refs import release_refs, retain_refs

__all__ = ["Accumulate", "Collect", "Frequencies", "Partition", "PartitionUnique", "SlidingWindow"]

T = TypeVar("T")


class Accumulate(Stream[Any]):
    """Node behind :meth:`Stream.accumulate`: emit a running state ``func(state, x)``."""

    _label = "accumulate"
    _graphviz_shape = "box"

    def __init__(
        self,
        upstream: Stream[Any],
        func: Callable[..., Any],
        start: Any = NO_START,
        returns_state: bool = False,
        with_state: bool = False,
        stream_name: str | None = None,
        on_error: ErrorPolicy = "raise",
        **kwargs: Any,
    ) -> None:
        if not callable(func):
            raise TypeError(f"accumulate: func must be callable, got {func!r}")
        check_arguments(f"accumulate<{funcname(func)}>", func, (), kwargs, leading=2)
        self.func = func
        self.kwargs = kwargs
        self.state = start
        self.returns_state = returns_state
        self.with_state = with_state
        self._call = bind(func, (), kwargs)
        super().__init__(upstream, stream_name=stream_name, on_error=on_error)

    def _detail(self) -> str:
        return funcname(self.func)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if self.returns_state or self.with_state:
            return self._update_with_state(x, who, metadata)
        state = self.state
        if state is NO_START:
            state = x
        else:
            try:
                state = self._call(state, x)
            except Exception as exc:
                return self._failed(exc, x, who, metadata)
        self.state = self.current_value = state
        return self._push(state, self, metadata)

    def _compiled(self) -> Push | None:
        if type(self).update is not Accumulate.update or self.with_state:
            return None
        node, call, push, failed = self, self._call, self._push, self._failed
        no_start = NO_START
        if self.returns_state:

            def update_returning_state(
                x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()
            ) -> Any:
                if node.state is no_start:
                    node.state = node.current_value = x
                    return push(x, node, metadata)
                try:
                    node.state, result = call(node.state, x)
                except Exception as exc:
                    return failed(exc, x, who, metadata)
                node.current_value = result
                return push(result, node, metadata)

            return update_returning_state

        def update(x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
            state = node.state
            if state is no_start:
                state = x
            else:
                try:
                    state = call(state, x)
                except Exception as exc:
                    return failed(exc, x, who, metadata)
            node.state = node.current_value = state
            return push(state, node, metadata)

        return update

    def _update_with_state(self, x: Any, who: Stream[Any] | None, metadata: Metadata) -> Any:
        """``update`` when ``func`` returns ``(state, result)`` or the state is emitted too."""
        if self.state is NO_START:
            state = result = x
        else:
            try:
                out = self._call(self.state, x)
                if self.returns_state:
                    state, result = out
                else:
                    state = result = out
            except Exception as exc:
                return self._failed(exc, x, who, metadata)
        self.state = state
        if self.with_state:
            result = (state, result)
        self.current_value = result
        return self._push(result, self, metadata)


class KeyedAccumulate(Accumulate):
    """Node behind ``accumulate(func, start, key=...)``: one running state per key,
    emitting ``(key, state)`` (or ``(key, result)`` with ``returns_state``)."""

    def __init__(
        self,
        upstream: Stream[Any],
        func: Callable[..., Any],
        key: Callable[[Any], Any],
        start: Any = NO_START,
        returns_state: bool = False,
        with_state: bool = False,
        **kwargs: Any,
    ) -> None:
        self.key = key
        self.initial = start
        self.dirty: set[Any] = set()  # keys changed since durable state last looked
        super().__init__(upstream, func, start, returns_state, with_state, **kwargs)
        self.state: dict[Any, Any] = {}

    def _compiled(self) -> Push | None:
        return None

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            k = self.key(x)
            state = self.state.get(k, self.initial)
            if state is NO_START:
                state = result = x
            else:
                out = self._call(state, x)
                state, result = out if self.returns_state else (out, out)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        self.state[k] = state
        self.dirty.add(k)
        if self.with_state:
            result = (state, result)
        self.current_value = out = (k, result)
        return self._push(out, self, metadata)


class Partition(Stream[tuple[Any, ...]]):
    """Node behind :meth:`Stream.partition`: emit tuples of ``n`` elements (per key)."""

    _label = "partition"
    _graphviz_shape = "diamond"

    def __init__(
        self,
        upstream: Stream[Any],
        n: int,
        timeout: Any = None,
        key: Hashable | Callable[[Any], Hashable] | None = None,
        **options: Any,
    ) -> None:
        self.n = positive_int("partition", "n", n)
        self.timeout = None if timeout is None else parse_interval("partition", timeout)
        self.key = key
        self._key = key_function("partition", key)
        self._buffers: dict[Any, list[Any]] = {}
        self._metadata: dict[Any, list[dict[str, Any]]] = {}
        self._timers: dict[Any, asyncio.TimerHandle] = {}  # per key, with a timeout
        super().__init__(upstream, **options)
        if self.timeout is not None:
            self._require_loop()

    def _detail(self) -> str:
        return str(self.n) if self.timeout is None else f"{self.n}, timeout={self.timeout:g}s"

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        k = None
        if self._key is not None:
            try:
                k = self._key(x)
                buf = self._buffers.get(k)
            except Exception as exc:
                return self._failed(exc, x, who, metadata)
        else:
            buf = self._buffers.get(None)
        if buf is None:
            buf = self._buffers[k] = []
            if self.timeout is not None:  # the first element of a group starts its clock
                loop = asyncio.get_running_loop()
                self._timers[k] = loop.call_later(self.timeout, self._time_out, k)
        buf.append(x)
        if metadata:
            retain_refs(metadata)
            self._metadata.setdefault(k, []).extend(metadata)
        if len(buf) < self.n:
            return None
        out, md = self._take(k)
        self.current_value = out
        if md is None:
            return self._push(out, self, ())
        return release_after(self._push(out, self, md), md)

    def _take(self, k: Any) -> tuple[tuple[Any, ...], list[dict[str, Any]] | None]:
        """The group of key ``k`` as a tuple, and its metadata; the group is emptied."""
        timer = self._timers.pop(k, None)
        if timer is not None:
            timer.cancel()
        return tuple(self._buffers.pop(k)), self._metadata.pop(k, None)

    def _time_out(self, k: Any) -> None:
        """Timer callback: emit the partial group of key ``k``."""
        if k in self._buffers:
            out, md = self._take(k)
            self._push_soon(out, md or ())

    def _held_count(self) -> int:
        return sum(len(b) for b in self._buffers.values())

    async def _flush(self) -> bool:
        if self.timeout is None or not self._buffers:
            return False  # without a timeout, a partial group waits for more elements
        for k in list(self._buffers):
            out, md = self._take(k)
            await self._push_async(out, md or ())
        return True


class PartitionUnique(Stream[tuple[Any, ...]]):
    """Node behind :meth:`Stream.partition_unique`: tuples of ``n`` elements, distinct keys."""

    _label = "partition_unique"
    _graphviz_shape = "diamond"

    def __init__(
        self,
        upstream: Stream[Any],
        n: int,
        key: Hashable | Callable[[Any], Hashable] = identity,
        keep: Literal["first", "last"] = "first",
        **options: Any,
    ) -> None:
        if keep not in ("first", "last"):
            raise ValueError(f"partition_unique: keep must be 'first' or 'last', got {keep!r}")
        self.n = positive_int("partition_unique", "n", n)
        self.key = key
        self.keep = keep
        self._key = key_function("partition_unique", key) or identity
        self._buffer: dict[Any, tuple[Any, Metadata]] = {}
        super().__init__(upstream, **options)

    def _detail(self) -> str:
        return str(self.n)

    def _held_count(self) -> int:
        return len(self._buffer)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            k = self._key(x)
            held = self._buffer.get(k)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        if held is not None:
            if self.keep == "first":
                return None
            # keep="last": the new element replaces the old one and takes its place at the end
            del self._buffer[k]
            release_refs(held[1])
        retain_refs(metadata)
        self._buffer[k] = (x, metadata)
        if len(self._buffer) < self.n:
            return None
        held_items = list(self._buffer.values())
        self._buffer = {}
        out = tuple(v for v, _ in held_items)
        md = flat(m for _, m in held_items)
        self.current_value = out
        return release_after(self._push(out, self, md), md)


class SlidingWindow(Stream[tuple[Any, ...]]):
    """Node behind :meth:`Stream.sliding_window`: tuples of the last ``n`` elements."""

    _label = "sliding_window"
    _graphviz_shape = "diamond"

    def __init__(
        self,
        upstream: Stream[Any],
        n: int,
        return_partial: bool = True,
        **options: Any,
    ) -> None:
        self.n = positive_int("sliding_window", "n", n)
        self.return_partial = return_partial
        self._buffer: deque[Any] = deque(maxlen=self.n)
        self._metadata: deque[Metadata] = deque(maxlen=self.n)
        super().__init__(upstream, **options)

    def _detail(self) -> str:
        return str(self.n)

    def _held_count(self) -> int:
        # elements already emitted in a (partial) window are delivered
        held = len(self._buffer)
        return held if not self.return_partial and held < self.n else 0

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        # ``_metadata`` holds the refs of the elements that will be in a later window:
        # the oldest element of a full window is released once that window went out.
        retain_refs(metadata)
        self._buffer.append(x)
        self._metadata.append(metadata)
        full = len(self._buffer) == self.n
        if not full and not self.return_partial:
            return None
        out = tuple(self._buffer)
        self.current_value = out
        refs = flat(self._metadata)
        if not full:
            return self._push(out, self, refs)
        oldest = self._metadata.popleft()  # in no later window: let go once this one went
        return release_after(self._push(out, self, refs), oldest)


class Collect(Stream[tuple[Any, ...]]):
    """Node behind :meth:`Stream.collect`: hold elements until :meth:`flush`."""

    _label = "collect"
    _graphviz_shape = "diamond"

    def __init__(
        self,
        upstream: Stream[Any],
        cache: Any = None,
        metadata_cache: Any = None,
        **options: Any,
    ) -> None:
        self.cache = deque() if cache is None else cache
        self.metadata_cache = deque() if metadata_cache is None else metadata_cache
        super().__init__(upstream, **options)

    def _held_count(self) -> int:
        return len(self.cache)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> None:
        self.cache.append(x)
        if metadata:
            retain_refs(metadata)
            self.metadata_cache.extend(metadata)

    def flush(self, _: Any = None) -> Any:
        """Emit everything held as one tuple and empty the cache.

        The argument is ignored, so ``other.sink(collector.flush)`` flushes on every
        element of ``other``. Like :meth:`~Stream.emit`, ``flush`` runs on the graph's
        loop when it has one and returns what ``emit`` would (an awaitable inside a
        running loop: back pressure). If the push raises, the elements go back to the
        front of the cache with their refs: nothing is dropped before it was accepted.

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> held = source.collect()
        >>> out = held.sink_to_list()
        >>> for x in "ab":
        ...     source.emit(x)
        >>> held.flush()
        >>> out
        [('a', 'b')]
        """
        return self._enter(self._flush_now)

    def _flush_now(self) -> Any:
        out = tuple(self.cache)
        md = list(self.metadata_cache)
        self.cache.clear()
        self.metadata_cache.clear()
        self.current_value = out
        try:
            pending = self._push(out, self, md)
        except BaseException:
            _put_back(self.cache, out)
            _put_back(self.metadata_cache, md)
            raise
        return release_after(pending, md)


def _put_back(cache: Any, items: Sequence[Any]) -> None:
    """Put ``items`` back at the front of ``cache`` (a deque or a list) in order."""
    if isinstance(cache, deque):
        cache.extendleft(reversed(items))
    else:
        cache[:0] = items


class Frequencies(Stream[dict[Any, int]]):
    """Node behind :meth:`Stream.frequencies`: a running ``{value: count}``."""

    _label = "frequencies"

    def __init__(self, upstream: Stream[Any], **options: Any) -> None:
        self.counts: dict[Any, int] = {}
        super().__init__(upstream, **options)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            self.counts[x] = self.counts.get(x, 0) + 1
        except TypeError as exc:
            return self._failed(exc, x, who, metadata)
        out = dict(self.counts)  # each emitted count is a snapshot
        self.current_value = out
        return self._push(out, self, metadata)
