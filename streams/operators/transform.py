"""Operators that turn each element into another: map, starmap, pluck, flatten."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from .._util import annotate, bind, check_arguments, funcname
from ..core import Metadata, Stream, push_each

__all__ = ["Flatten", "Map", "Pluck", "Starmap"]

T = TypeVar("T")
R = TypeVar("R")


def _require_callable(node: str, func: Any) -> None:
    if not callable(func):
        raise TypeError(f"{node}: expected a callable, got {func!r}")


class _Apply(Stream[R]):
    """A node that calls a user function with extra arguments after the element."""

    _leading = 1  # how many positional arguments the element fills

    def __init__(
        self,
        upstream: Stream[Any],
        func: Callable[..., R],
        *args: Any,
        stream_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        _require_callable(self._label, func)
        checked = args if self._leading else ()  # where args land depends on the element
        check_arguments(f"{self._label}<{funcname(func)}>", func, checked, kwargs, self._leading)
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self._call = bind(func, args, kwargs)
        super().__init__(upstream, stream_name=stream_name)

    def _detail(self) -> str:
        return funcname(self.func)


class Map(_Apply[R]):
    """Node behind :meth:`Stream.map`: emit ``func(x, *args, **kwargs)``."""

    _label = "map"
    _graphviz_shape = "box"

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            y = self._call(x)
        except Exception as exc:
            annotate(exc, self, x)
            raise
        self.current_value = y
        return self._push(y, self, metadata)


class Starmap(_Apply[R]):
    """Node behind :meth:`Stream.starmap`: emit ``func(*x, *args, **kwargs)``."""

    _label = "starmap"
    _graphviz_shape = "box"
    _leading = 0  # the element's items are unknown at build time

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            y = self._call(*x)
        except Exception as exc:
            annotate(exc, self, x)
            raise
        self.current_value = y
        return self._push(y, self, metadata)


class Pluck(Stream[Any]):
    """Node behind :meth:`Stream.pluck`: emit ``x[pick]`` (a tuple for a list of picks)."""

    _label = "pluck"

    def __init__(
        self,
        upstream: Stream[Any],
        pick: Hashable | list[Hashable],
        stream_name: str | None = None,
    ) -> None:
        self.pick = pick
        super().__init__(upstream, stream_name=stream_name)

    def _detail(self) -> str:
        return repr(self.pick)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        pick = self.pick
        try:
            y = tuple([x[p] for p in pick]) if isinstance(pick, list) else x[pick]
        except Exception as exc:
            annotate(exc, self, x)
            raise
        self.current_value = y
        return self._push(y, self, metadata)


class Flatten(Stream[Any]):
    """Node behind :meth:`Stream.flatten`: emit each item of an iterable element."""

    _label = "flatten"

    def __init__(self, upstream: Stream[Any], stream_name: str | None = None) -> None:
        super().__init__(upstream, stream_name=stream_name)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            items = iter(x)
        except TypeError as exc:
            annotate(exc, self, x)
            raise
        return push_each(self, ((item, metadata) for item in items))
