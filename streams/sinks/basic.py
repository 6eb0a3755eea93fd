"""In-process sinks: call a function, fill a list, write a text file."""

from __future__ import annotations

import inspect
import os
import weakref
from collections.abc import Awaitable, Callable
from typing import IO, Any, TypeVar

from .._util import bind, check_arguments, funcname
from ..core import Stream
from ..loop import running_loop
from ..protocol import Metadata, Push, wait
from .base import Sink

__all__ = ["FuncSink", "ListSink", "SinkList", "TextFileSink", "sink_to_file"]

T = TypeVar("T")

# Keyword arguments that configure the node rather than the function (as in streamz).
_NODE_KEYWORDS = frozenset({"stream_name", "loop", "asynchronous", "ensure_io_loop", "on_error"})


class FuncSink(Sink[T]):
    """Node behind :meth:`Stream.sink`: call ``func(x, *args, **kwargs)`` per element.

    A result that is awaitable (``func`` is a coroutine function, say) is returned to the
    emitter, so ``await source.emit(x)`` waits for it: back pressure.
    """

    def __init__(
        self, upstream: Stream[Any], func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        if not callable(func):
            raise TypeError(f"sink: expected a callable, got {func!r}")
        node_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _NODE_KEYWORDS}
        check_arguments(f"sink<{funcname(func)}>", func, args, kwargs)
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self._call = bind(func, args, kwargs)
        # A tornado coroutine runs up to its first yield when called, and needs a loop
        # there (gen.sleep, IOLoop.current()): without one, it is called on the graph's.
        self._needs_loop = bool(getattr(func, "__tornado_coroutine__", False))
        super().__init__(upstream, **node_kwargs)

    def _detail(self) -> str:
        return funcname(self.func)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if self._needs_loop and running_loop() is None:
            return self._update_on_loop(x, who, metadata)
        try:
            r = self._call(x)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        self.current_value = x
        if r is None or not inspect.isawaitable(r):
            return None
        return self._finish(r, x, who, metadata)

    def _compiled(self) -> Push | None:
        if type(self).update is not FuncSink.update or self._needs_loop:
            return None
        node, call, failed, finish = self, self._call, self._failed, self._finish
        isawaitable = inspect.isawaitable

        def update(x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
            try:
                r = call(x)
            except Exception as exc:
                return failed(exc, x, who, metadata)
            node.current_value = x
            if r is None or not isawaitable(r):
                return None
            return finish(r, x, who, metadata)

        return update

    async def _update_on_loop(self, x: Any, who: Stream[Any] | None, metadata: Metadata) -> None:
        """``update`` in the loop that runs this coroutine (the emitter's pending work)."""
        await wait(self.update(x, who, metadata))

    async def _finish(
        self, pending: Awaitable[Any], x: Any, who: Stream[Any] | None, metadata: Metadata
    ) -> None:
        try:
            await pending
        except Exception as exc:
            await wait(self._failed(exc, x, who, metadata))


class SinkList(list[T]):
    """The list returned by :meth:`Stream.sink_to_list`; ``.node`` is the sink filling it."""

    node: ListSink[T]


class ListSink(Sink[T]):
    """Node behind :meth:`Stream.sink_to_list`: append every element to ``self.data``."""

    _label = "sink_to_list"

    def __init__(self, upstream: Stream[Any], **options: Any) -> None:
        self.data: SinkList[T] = SinkList()
        self.data.node = self
        self._append = self.data.append
        super().__init__(upstream, **options)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> None:
        self.current_value = x
        self._append(x)

    def _compiled(self) -> Push | None:
        if type(self).update is not ListSink.update:
            return None
        node, append = self, self._append

        def update(x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> None:
            node.current_value = x
            append(x)

        return update


class TextFileSink(Sink[str]):
    """Node behind :meth:`Stream.sink_to_textfile`: write ``x + end`` for every element."""

    _label = "sink_to_textfile"

    def __init__(
        self,
        upstream: Stream[Any],
        file: str | os.PathLike[str] | IO[str],
        end: str = "\n",
        mode: str = "a",
        durable: bool = False,
        **options: Any,
    ) -> None:
        self.durable = bool(durable)
        if durable and not isinstance(file, str | os.PathLike):
            raise TypeError(
                "sink_to_textfile: durable=True needs a path (the file is truncated on restore)"
            )
        if isinstance(file, str | os.PathLike):
            self.file: IO[str] = open(file, mode=mode)  # noqa: SIM115 -- closed by destroy()
        elif hasattr(file, "write"):
            self.file = file
        else:
            raise TypeError(f"sink_to_textfile: expected a path or a text file, got {file!r}")
        self.end = end
        self._finalizer = weakref.finalize(self, self.file.close)
        super().__init__(upstream, **options)

    @property
    def _fp(self) -> IO[str]:
        """The file written to (streamz's name for it)."""
        return self.file

    def _detail(self) -> str:
        return str(getattr(self.file, "name", ""))

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            self.file.write(x + self.end)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        self.file.flush()
        self.current_value = x
        return None

    def _close(self) -> None:
        self._finalizer()


def sink_to_file(
    filename: str | os.PathLike[str],
    upstream: Stream[Any],
    mode: str = "w",
    prefix: str = "",
    suffix: str = "\n",
    flush: bool = False,
) -> IO[str]:
    """Open ``filename`` and write ``prefix + x + suffix`` to it for every element of
    ``upstream``; return the open file (streamz's ``streamz.sources.sink_to_file``).

    Use the file as a context manager to close it; elements arriving after it was closed
    fail with ``ValueError``. :meth:`~streams.Stream.sink_to_textfile` is the node form,
    closed by ``destroy()``.

    Parameters
    ----------
    filename : path
        The file to open.
    upstream : Stream
        The node whose elements (``str``) are written.
    mode : str, optional
        Mode to open the file with (default ``'w'``, truncate).
    prefix, suffix : str, optional
        Written before and after each element (default: nothing, a newline).
    flush : bool, optional
        Flush the file after each element (default: leave it to the file's buffering).

    Returns
    -------
    file object

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> from streams import Stream
    >>> from streams.sinks.basic import sink_to_file
    >>> path = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> source = Stream()
    >>> with sink_to_file(path, source.map(str), prefix="> ") as f:
    ...     source.emit(1)
    ...     source.emit(2)
    >>> print(pathlib.Path(path).read_text(), end="")
    > 1
    > 2
    """
    file = open(filename, mode=mode)  # noqa: SIM115 -- returned to the caller, who closes it

    def write(text: str) -> None:
        file.write(f"{prefix}{text}{suffix}")
        if flush:
            file.flush()

    FuncSink(upstream, write, stream_name=f"sink_to_file<{os.fspath(filename)}>")
    return file
