"""Operators that turn each element into another: map, starmap, map_async, pluck,
flatten."""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any, TypeVar

from .._util import annotate, bind, check_arguments, funcname, positive_int
from ..core import Stream
from ..errors import ErrorPolicy, Retry
from ..loop import running_loop
from ..protocol import Metadata, Push, push_each
from ..refs import retain_refs
from ..runtime import retrying
from ._worker import BoundedWorker

__all__ = ["Flatten", "Map", "MapAsync", "Pluck", "Starmap"]

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
        on_error: ErrorPolicy = "raise",
        **kwargs: Any,
    ) -> None:
        _require_callable(self._label, func)
        checked = args if self._leading else ()  # where args land depends on the element
        check_arguments(f"{self._label}<{funcname(func)}>", func, checked, kwargs, self._leading)
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self._call = bind(func, args, kwargs)
        super().__init__(upstream, stream_name=stream_name, on_error=on_error)

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
            return self._failed(exc, x, who, metadata)
        self.current_value = y
        return self._push(y, self, metadata)

    def _compiled(self) -> Push | None:
        if type(self).update is not Map.update:
            return None
        node, call, push, failed = self, self._call, self._push, self._failed

        def update(x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
            try:
                y = call(x)
            except Exception as exc:
                return failed(exc, x, who, metadata)
            node.current_value = y
            return push(y, node, metadata)

        return update


class Starmap(_Apply[R]):
    """Node behind :meth:`Stream.starmap`: emit ``func(*x, *args, **kwargs)``."""

    _label = "starmap"
    _graphviz_shape = "box"
    _leading = 0  # the element's items are unknown at build time

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            y = self._call(*x)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        self.current_value = y
        return self._push(y, self, metadata)


class Pluck(Stream[Any]):
    """Node behind :meth:`Stream.pluck`: emit ``x[pick]`` (a tuple for a list of picks)."""

    _label = "pluck"

    def __init__(
        self,
        upstream: Stream[Any],
        pick: Hashable | list[Hashable],
        **options: Any,
    ) -> None:
        self.pick = pick
        super().__init__(upstream, **options)

    def _detail(self) -> str:
        return repr(self.pick)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        pick = self.pick
        try:
            y = tuple([x[p] for p in pick]) if isinstance(pick, list) else x[pick]
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        self.current_value = y
        return self._push(y, self, metadata)


class Flatten(Stream[Any]):
    """Node behind :meth:`Stream.flatten`: emit each item of an iterable element."""

    _label = "flatten"

    def __init__(self, upstream: Stream[Any], **options: Any) -> None:
        super().__init__(upstream, **options)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            items = iter(x)
        except TypeError as exc:
            return self._failed(exc, x, who, metadata)
        return push_each(self, ((item, metadata) for item in items))


def is_coroutine_function(func: Any) -> bool:
    """Whether calling ``func`` gives a coroutine (``async def``, also partials of one and
    objects with an ``async def __call__``)."""
    call = type(func).__call__ if not inspect.isroutine(func) else None
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(call)


class MapAsync(_Apply[R], BoundedWorker[R]):
    """Node behind :meth:`Stream.map_async`: await ``func(x, ...)`` for every element, up
    to ``parallelism`` at a time, and emit the results in input order.

    ``func`` is any callable returning an awaitable: an ``async def`` function, a tornado
    ``gen.coroutine``, a function returning a future. With ``stop_on_exception``, a
    failure stops the sources upstream and pauses the node: calls already started run
    on, their results are held until the node resumes, which it does when an element
    arrives again (a restarted source) or when :meth:`start` is called on it.
    """

    _label = "map_async"

    def __init__(
        self,
        upstream: Stream[Any],
        func: Callable[..., Awaitable[R]],
        *args: Any,
        parallelism: int = 1,
        stop_on_exception: bool = False,
        **kwargs: Any,
    ) -> None:
        self.parallelism: int = positive_int("map_async", "parallelism", parallelism)
        self.stop_on_exception = stop_on_exception
        self._inflight: deque[tuple[asyncio.Task[Any], Any, Metadata]] = deque()
        self._paused = False
        self._coroutine_function = is_coroutine_function(func)
        super().__init__(upstream, func, *args, **kwargs)  # type: ignore[arg-type]

    @property
    def work_task(self) -> asyncio.Task[None] | None:
        """The task emitting results; ``None`` while there is nothing to emit or while
        paused after an error (the name streamz gives it)."""
        return self._worker

    def _full(self) -> bool:
        return len(self._inflight) >= self.parallelism

    def _held_count(self) -> int:
        return len(self._inflight)

    def _awaitable(self, x: Any) -> Coroutine[Any, Any, Any]:
        """A coroutine giving ``func``'s result on ``x``."""
        if self._coroutine_function:
            return self._call(x)  # type: ignore[no-any-return]
        return self._call_and_check(x)

    async def _call_and_check(self, x: Any) -> Any:
        """Call a ``func`` that is not ``async def`` and await what it returns."""
        result = self._call(x)
        if not inspect.isawaitable(result):
            raise TypeError(
                f"map_async<{funcname(self.func)}>: func returned {type(result).__name__}, "
                "not an awaitable; use map for plain functions"
            )
        return await result

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if self._paused:  # an element after a stop_on_exception stop: go on
            self._resume()
        return super().update(x, who, metadata)

    def _put(self, x: Any, metadata: Metadata) -> None:
        """Start the call for ``x``."""
        retain_refs(metadata)
        task = asyncio.get_running_loop().create_task(self._awaitable(x))
        self._inflight.append((task, x, metadata))
        if self._paused:
            task.add_done_callback(_held)
        else:
            self._kick()

    async def _work(self) -> None:
        while self._inflight and not self._paused:
            task, x, md = self._inflight[0]
            try:
                result = await task
            except Exception as exc:
                # Its place stays taken until the failure was handled (a retry).
                await self._element_failed(exc, x, md)
                if self._inflight and self._inflight[0][0] is task:
                    self._inflight.popleft()
                self._made_room()
                continue
            self._inflight.popleft()
            self._made_room()
            await self._push_async(result, md)

    async def _element_failed(self, exc: Exception, x: Any, metadata: Metadata) -> None:
        policy = self.on_error
        if isinstance(policy, Retry):
            try:
                result = await retrying(policy, exc, lambda: self._awaitable(x))
            except Exception as final:
                exc = final
            else:
                await self._push_async(result, metadata)
                return
        annotate(exc, self, x)
        self._report(exc, x, metadata)
        final_policy = policy.then if isinstance(policy, Retry) else policy
        if self.stop_on_exception and final_policy == "raise":
            self._paused = True
            for task, _, _ in self._inflight:
                task.add_done_callback(_held)
            self.stop()  # every source upstream

    def _resume(self) -> None:
        """Emit again after a ``stop_on_exception`` pause (in the loop's thread)."""
        if self._paused:
            self._paused = False
            if self._inflight:
                self._kick()

    def start(self) -> None:
        """Resume after a ``stop_on_exception`` pause, and start the sources upstream."""
        if self._paused:
            loop = self._runtime.loop
            if loop is not None and loop is not running_loop():
                loop.call_soon_threadsafe(self._resume)
            else:
                self._resume()
        super().start()


def _held(task: asyncio.Task[Any]) -> None:
    """A call finished while its node is paused: its error (if any) is handled when the
    node goes on, or never, if it never does; asyncio must not log it as forgotten."""
    if not task.cancelled():
        task.exception()
