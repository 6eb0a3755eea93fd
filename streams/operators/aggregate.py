"""Operators that keep state across elements: accumulate, partition, partition_unique,
sliding_window, collect and frequencies.

Nodes here that hold elements retain the elements' metadata refs while they hold them
and release them once the output containing them has been accepted downstream.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, Literal, TypeVar

from .._util import NO_START, annotate, bind, check_arguments, funcname, identity, positive_int
from ..core import Metadata, Stream, release_after
from ..refs import release_refs, retain_refs

__all__ = ["Accumulate", "Collect", "Frequencies", "Partition", "PartitionUnique", "SlidingWindow"]

T = TypeVar("T")


def key_function(node: str, key: Any) -> Callable[[Any], Any] | None:
    """A callable ``key`` as is; any other non-None key ``k`` as ``x[k]``."""
    if key is None or callable(key):
        return key  # type: ignore[no-any-return]
    if not isinstance(key, Hashable):
        raise TypeError(f"{node}: key must be callable or an index/key, got {key!r}")
    return operator.itemgetter(key)


def flat(metadatas: Any) -> list[dict[str, Any]]:
    """Concatenate several elements' metadata into the metadata of their combination."""
    return [m for md in metadatas for m in md]


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
        super().__init__(upstream, stream_name=stream_name)

    def _detail(self) -> str:
        return funcname(self.func)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
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
                annotate(exc, self, x)
                raise
        self.state = state
        if self.with_state:
            result = (state, result)
        self.current_value = result
        return self._push(result, self, metadata)


class Partition(Stream[tuple[Any, ...]]):
    """Node behind :meth:`Stream.partition`: emit tuples of ``n`` elements (per key)."""

    _label = "partition"
    _graphviz_shape = "diamond"

    def __init__(
        self,
        upstream: Stream[Any],
        n: int,
        key: Hashable | Callable[[Any], Hashable] | None = None,
        stream_name: str | None = None,
    ) -> None:
        self.n = positive_int("partition", "n", n)
        self.key = key
        self._key = key_function("partition", key)
        self._buffers: dict[Any, list[Any]] = {}
        self._metadata: dict[Any, list[dict[str, Any]]] = {}
        super().__init__(upstream, stream_name=stream_name)

    def _detail(self) -> str:
        return str(self.n)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        k = None
        if self._key is not None:
            try:
                k = self._key(x)
                buf = self._buffers.get(k)
            except Exception as exc:
                annotate(exc, self, x)
                raise
        else:
            buf = self._buffers.get(None)
        if buf is None:
            buf = self._buffers[k] = []
        buf.append(x)
        if metadata:
            retain_refs(metadata)
            self._metadata.setdefault(k, []).extend(metadata)
        if len(buf) < self.n:
            return None
        del self._buffers[k]
        out = tuple(buf)
        self.current_value = out
        md = self._metadata.pop(k, None)
        if md is None:
            return self._push(out, self, ())
        return release_after(self._push(out, self, md), md)


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
        stream_name: str | None = None,
    ) -> None:
        if keep not in ("first", "last"):
            raise ValueError(f"partition_unique: keep must be 'first' or 'last', got {keep!r}")
        self.n = positive_int("partition_unique", "n", n)
        self.key = key
        self.keep = keep
        self._key = key_function("partition_unique", key) or identity
        self._buffer: dict[Any, tuple[Any, Metadata]] = {}
        super().__init__(upstream, stream_name=stream_name)

    def _detail(self) -> str:
        return str(self.n)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            k = self._key(x)
            held = self._buffer.get(k)
        except Exception as exc:
            annotate(exc, self, x)
            raise
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
        stream_name: str | None = None,
    ) -> None:
        self.n = positive_int("sliding_window", "n", n)
        self.return_partial = return_partial
        self._buffer: deque[Any] = deque(maxlen=self.n)
        self._metadata: deque[Metadata] = deque(maxlen=self.n)
        super().__init__(upstream, stream_name=stream_name)

    def _detail(self) -> str:
        return str(self.n)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if len(self._metadata) == self.n:
            release_refs(self._metadata[0])  # the oldest element leaves the window
        retain_refs(metadata)
        self._buffer.append(x)
        self._metadata.append(metadata)
        if len(self._buffer) < self.n and not self.return_partial:
            return None
        out = tuple(self._buffer)
        self.current_value = out
        return self._push(out, self, flat(self._metadata))


class Collect(Stream[tuple[Any, ...]]):
    """Node behind :meth:`Stream.collect`: hold elements until :meth:`flush`."""

    _label = "collect"
    _graphviz_shape = "diamond"

    def __init__(
        self,
        upstream: Stream[Any],
        cache: Any = None,
        metadata_cache: Any = None,
        stream_name: str | None = None,
    ) -> None:
        self.cache = deque() if cache is None else cache
        self.metadata_cache = deque() if metadata_cache is None else metadata_cache
        super().__init__(upstream, stream_name=stream_name)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> None:
        self.cache.append(x)
        if metadata:
            retain_refs(metadata)
            self.metadata_cache.extend(metadata)

    def flush(self, _: Any = None) -> Any:
        """Emit everything held as one tuple and empty the cache.

        The argument is ignored, so ``other.sink(collector.flush)`` flushes on every
        element of ``other``. Returns the pending work of the emit (back pressure).
        """
        out = tuple(self.cache)
        md = list(self.metadata_cache)
        self.cache.clear()
        self.metadata_cache.clear()
        self.current_value = out
        return release_after(self._push(out, self, md), md)


class Frequencies(Stream[dict[Any, int]]):
    """Node behind :meth:`Stream.frequencies`: a running ``{value: count}``."""

    _label = "frequencies"

    def __init__(self, upstream: Stream[Any], stream_name: str | None = None) -> None:
        self.counts: dict[Any, int] = {}
        super().__init__(upstream, stream_name=stream_name)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            self.counts[x] = self.counts.get(x, 0) + 1
        except TypeError as exc:
            annotate(exc, self, x)
            raise
        out = dict(self.counts)  # each emitted count is a snapshot
        self.current_value = out
        return self._push(out, self, metadata)
