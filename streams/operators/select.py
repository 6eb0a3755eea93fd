"""Operators that let some elements through: filter, remove, slice, unique."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from .._util import bind, check_arguments, funcname, identity, positive_int
from ..core import Stream
from ..errors import ErrorPolicy
from ..protocol import Metadata, Push

__all__ = ["Filter", "Remove", "Slice", "Unique"]

T = TypeVar("T")


class Filter(Stream[T]):
    """Node behind :meth:`Stream.filter`: keep ``x`` when ``predicate(x, ...)`` is true."""

    _label = "filter"
    _graphviz_shape = "box"

    def __init__(
        self,
        upstream: Stream[T],
        predicate: Callable[..., Any] | None,
        *args: Any,
        stream_name: str | None = None,
        on_error: ErrorPolicy = "raise",
        **kwargs: Any,
    ) -> None:
        if predicate is None:
            if args or kwargs:
                raise TypeError(
                    f"{self._label}(None) keeps truthy elements and takes no arguments for a "
                    f"predicate, got {args!r} {kwargs!r}"
                )
            predicate = bool
        elif not callable(predicate):
            raise TypeError(
                f"{self._label}: predicate must be callable or None, got {predicate!r}"
            )
        else:
            check_arguments(f"{self._label}<{funcname(predicate)}>", predicate, args, kwargs)
        self.predicate = predicate
        self.args = args
        self.kwargs = kwargs
        self._call = bind(predicate, args, kwargs)
        super().__init__(upstream, stream_name=stream_name, on_error=on_error)

    def _detail(self) -> str:
        return funcname(self.predicate)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            keep = self._call(x)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        if keep:
            self.current_value = x
            return self._push(x, self, metadata)
        return None

    def _compiled(self, passed: list[int] | None = None) -> Push | None:
        """The compiled push (see ``Stream._compiled``); with ``passed``, one that also
        counts the elements it lets through in ``passed[0]`` (per-node metrics)."""
        if type(self).update is not Filter.update:
            return None
        node, call, push, failed = self, self._call, self._push, self._failed

        def update(x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
            try:
                keep = call(x)
            except Exception as exc:
                return failed(exc, x, who, metadata)
            if keep:
                node.current_value = x
                return push(x, node, metadata)
            return None

        if passed is None:
            return update

        def counting(x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
            try:
                keep = call(x)
            except Exception as exc:
                return failed(exc, x, who, metadata)
            if keep:
                passed[0] += 1
                node.current_value = x
                return push(x, node, metadata)
            return None

        return counting


class Remove(Filter[T]):
    """Node behind :meth:`Stream.remove`: drop ``x`` when ``predicate(x, ...)`` is true."""

    _label = "remove"

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            drop = self._call(x)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        if drop:
            return None
        self.current_value = x
        return self._push(x, self, metadata)


def _index(node: str, name: str, value: Any, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{node}: {name} must be an integer or None, got {value!r}")
    if value < minimum:
        kind = "negative" if minimum == 0 else "below 1"
        raise ValueError(f"{node}: {name}={value} is {kind}; a stream has no end to count from")
    return value


class Slice(Stream[T]):
    """Node behind :meth:`Stream.slice`: pass elements by position, like ``itertools.islice``."""

    _label = "slice"

    def __init__(
        self,
        upstream: Stream[T],
        start: int | None = None,
        end: int | None = None,
        step: int | None = None,
        **options: Any,
    ) -> None:
        self.first = _index("slice", "start", start, 0) or 0
        self.end = _index("slice", "end", end, 0)
        self.step = _index("slice", "step", step, 1) or 1
        self._position = 0
        super().__init__(upstream, **options)
        self._detach_if_done()

    def _detail(self) -> str:
        end = "" if self.end is None else self.end
        return f"{self.first}:{end}:{self.step}"

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        i = self._position
        if self.end is not None and i >= self.end:
            return None  # past the end (still attached to an upstream we could not leave)
        self._position = i + 1
        if i >= self.first and (i - self.first) % self.step == 0:
            self.current_value = x
            try:
                return self._push(x, self, metadata)
            finally:
                self._detach_if_done()
        self._detach_if_done()
        return None

    def _detach_if_done(self) -> None:
        if self.end is not None and self._position >= self.end:
            for up in list(self.upstreams):
                up.disconnect(self)


class Unique(Stream[T]):
    """Node behind :meth:`Stream.unique`: drop elements whose key was seen before."""

    _label = "unique"

    def __init__(
        self,
        upstream: Stream[T],
        maxsize: int | None = None,
        key: Callable[[Any], Any] = identity,
        hashable: bool = True,
        **options: Any,
    ) -> None:
        if not callable(key):
            raise TypeError(f"unique: key must be callable, got {key!r}")
        self.maxsize: int | None = positive_int("unique", "maxsize", maxsize, allow_none=True)
        self.key = key
        self.hashable = hashable
        # hashable keys: a set, or an LRU-ordered dict when bounded; otherwise a list,
        # most recent first, compared with ==.
        self.seen: set[Hashable] | OrderedDict[Hashable, None] | list[Any]
        if not hashable:
            self.seen = []
        elif maxsize is None:
            self.seen = set()
        else:
            self.seen = OrderedDict()
        super().__init__(upstream, **options)

    def _detail(self) -> str:
        return "" if self.maxsize is None else f"maxsize={self.maxsize}"

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            k = self.key(x)
            new = self._remember(k)
        except TypeError as exc:
            if self.hashable and "unhashable" in str(exc):
                exc.add_note("use unique(..., hashable=False) for unhashable keys")
            return self._failed(exc, x, who, metadata)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        if not new:
            return None
        self.current_value = x
        return self._push(x, self, metadata)

    def _remember(self, k: Any) -> bool:
        """Record ``k`` as most recently seen; return whether it was new."""
        seen = self.seen
        if isinstance(seen, set):
            if k in seen:
                return False
            seen.add(k)
            return True
        if isinstance(seen, OrderedDict):
            if k in seen:
                seen.move_to_end(k)
                return False
            seen[k] = None
            if len(seen) > self.maxsize:  # type: ignore[operator]
                seen.popitem(last=False)
            return True
        for i, old in enumerate(seen):
            if old == k:
                del seen[i]
                seen.insert(0, k)
                return False
        seen.insert(0, k)
        if self.maxsize is not None:
            del seen[self.maxsize :]
        return True
