"""The stream graph and its emit/update protocol.

Every node is a :class:`Stream`. ``emit(x)`` hands ``x`` to each downstream node's
``update(x, who, metadata)``, depth-first and in the order the downstreams were
attached, synchronously in the calling thread. ``update`` returns ``None`` when the
element is fully handled, or an awaitable (or a list of awaitables) while work is still
pending; the awaitables travel back up to the emitter, which is how back pressure
works.

The hot path is kept flat: each node caches in ``_push`` the one callable that
delivers to its downstreams (nothing, the single downstream's ``update``, or a fan-out
loop), rebuilt whenever the graph is rewired, so a hop costs one Python call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar

from . import plugins
from ._util import identity
from .loop import run_sync, running_loop
from .methods.aggregate import AggregateMethods
from .methods.combine import CombineMethods
from .methods.select import SelectMethods
from .methods.sinks import SinkMethods
from .methods.transform import TransformMethods
from .plugins import PluginMeta, PluginMethods
from .refs import release_refs, retain_refs

__all__ = ["BackpressureError", "Metadata", "Stream", "identity"]

T = TypeVar("T")
N = TypeVar("N")

Metadata = Sequence[dict[str, Any]]
"""Metadata carried with an element: a sequence of dicts (``{'ref': RefCounter}``...)."""

Push = Callable[[Any, "Stream[Any]", Metadata], Any]

_get_running_loop = asyncio._get_running_loop  # the C call behind loop.running_loop


class BackpressureError(RuntimeError):
    """A node must wait for room, but nothing could ever make room in this context."""


def _drop(x: Any, who: Any, metadata: Any) -> None:
    """The push of a node with no downstreams."""
    return None


class _Done:
    """An already-complete awaitable: what an asynchronous emit returns if nothing waits."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]  # an exhausted iterator: done at once

    def __repr__(self) -> str:
        return "<done>"


DONE = _Done()


async def wait(result: Any) -> None:
    """Wait until a pending ``update`` result (an awaitable or a list of them) completes."""
    if type(result) is list:
        pending = [r for r in result if r is not None]
        if len(pending) == 1:
            await pending[0]
        elif pending:
            await asyncio.gather(*pending)
    elif result is not None:
        await result


def release_after(result: Any, metadata: Metadata) -> Any:
    """Release ``metadata``'s refs once ``result`` (an ``update`` result) has completed."""
    if result is None or (type(result) is list and not any(r is not None for r in result)):
        release_refs(metadata)
        return None
    return _release_when_done(result, metadata)


async def _release_when_done(result: Any, metadata: Metadata) -> None:
    await wait(result)
    release_refs(metadata)


def push_each(node: Stream[Any], items: Iterator[tuple[Any, Metadata]]) -> Any:
    """Push ``(value, metadata)`` pairs from ``node`` one at a time.

    Nodes that emit several elements for one input use this: when a push leaves work
    pending, the rest wait for it, so a slow consumer receives them in order and never
    has more than one of them outstanding.
    """
    try:
        for x, md in items:
            node.current_value = x
            r = node._push(x, node, md)
            if r is not None:
                return _push_rest(node, r, items)
    except BaseException:
        _close(items)
        raise
    return None


async def _push_rest(
    node: Stream[Any], pending: Any, items: Iterator[tuple[Any, Metadata]]
) -> None:
    try:
        await wait(pending)
        for x, md in items:
            node.current_value = x
            await wait(node._push(x, node, md))
    finally:
        _close(items)


def _close(items: Iterator[Any]) -> None:
    """Close a generator of items early, so its cleanup (``finally``) runs now."""
    close = getattr(items, "close", None)
    if close is not None:
        close()


class Stream(
    PluginMethods,
    TransformMethods[T],
    SelectMethods[T],
    AggregateMethods[T],
    CombineMethods[T],
    SinkMethods[T],
    metaclass=PluginMeta,
):
    """A node of a stream graph; a bare ``Stream()`` is a source you push data into.

    Parameters
    ----------
    upstream : Stream, optional
        The node this one listens to.
    upstreams : list of Stream, optional
        Several nodes this one listens to (instead of ``upstream``).
    stream_name : str, optional
        A label for the node, shown by ``str()``, in error notes and in ``visualize``.
    loop : asyncio event loop or tornado IOLoop, optional
        The loop that runs this graph's pending work; by default the loop running where
        ``emit`` is called, or a shared background loop in a plain script.
    asynchronous : bool, optional
        If true, ``emit`` always returns an awaitable. Inherited from upstream nodes.
    ensure_io_loop : bool, optional
        Accepted for streamz compatibility; a loop is found or started on first need.

    Examples
    --------
    >>> from streams import Stream
    >>> source = Stream()
    >>> doubled = source.map(lambda x: 2 * x)
    >>> results = doubled.sink_to_list()
    >>> for i in range(3):
    ...     source.emit(i)
    >>> results
    [0, 2, 4]
    >>> print(doubled)
    map<lambda>
    """

    _graphviz_shape: ClassVar[str] = "ellipse"
    _label: ClassVar[str] = "stream"

    upstreams: list[Stream[Any]]
    _downs: tuple[Stream[Any], ...]
    _push: Push

    def __init__(
        self,
        upstream: Stream[Any] | None = None,
        upstreams: Iterable[Stream[Any]] | None = None,
        stream_name: str | None = None,
        loop: Any = None,
        asynchronous: bool | None = None,
        ensure_io_loop: bool = False,
    ) -> None:
        if not plugins.registered:
            plugins.register_plugins()
        self.name = stream_name
        self.loop = loop
        self.asynchronous = asynchronous
        self.current_value: Any = None
        self.upstreams = []
        self._downs = ()
        self._push = _drop
        if upstreams is not None:
            ups = list(upstreams)
        elif upstream is not None:
            ups = [upstream]
        else:
            ups = []
        for up in ups:
            if not isinstance(up, Stream):
                raise TypeError(f"{type(self).__name__}: upstream must be a Stream, got {up!r}")
            up.connect(self)
        for up in self.upstreams:
            if self.asynchronous is None and up.asynchronous is not None:
                self.asynchronous = up.asynchronous
            if self.loop is None and up.loop is not None:
                self.loop = up.loop

    # ------------------------------------------------------------------ naming

    def _detail(self) -> str:
        """What goes between the angle brackets of ``str(node)``."""
        return ""

    def __str__(self) -> str:
        if self.name is not None:
            return str(self.name)
        detail = self._detail()
        return f"{self._label}<{detail}>" if detail else self._label

    def __repr__(self) -> str:
        detail = self._detail()
        desc = f"{self._label}<{detail}>" if detail else self._label
        return f"<{self.name}: {desc}>" if self.name is not None else f"<{desc}>"

    # ------------------------------------------------------------------ wiring

    @property
    def downstreams(self) -> tuple[Stream[Any], ...]:
        """The nodes this one feeds, in the order elements reach them."""
        return self._downs

    @property
    def upstream(self) -> Stream[Any] | None:
        """The single upstream node (``None`` if there is none).

        Raises
        ------
        ValueError
            If the node has several upstreams; use ``upstreams``.
        """
        if len(self.upstreams) > 1:
            raise ValueError(f"{self!r} has {len(self.upstreams)} upstreams; use .upstreams")
        return self.upstreams[0] if self.upstreams else None

    def connect(self, downstream: Stream[Any]) -> None:
        """Feed this node's elements to ``downstream`` as well.

        Examples
        --------
        >>> from streams import Stream
        >>> a, b = Stream(), Stream()
        >>> out = b.map(str).sink_to_list()
        >>> a.connect(b)
        >>> a.emit(1)
        >>> out
        ['1']
        """
        if not isinstance(downstream, Stream):
            raise TypeError(f"{self}: can only connect to a Stream, got {downstream!r}")
        if downstream is self:
            raise ValueError(f"{self}: cannot connect a node to itself")
        self._add_downstream(downstream)
        downstream._add_upstream(self)

    def disconnect(self, downstream: Stream[Any]) -> None:
        """Stop feeding ``downstream``.

        Raises
        ------
        ValueError
            If ``downstream`` is not fed by this node.

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> node = source.map(str)
        >>> out = node.sink_to_list()
        >>> source.emit(1)
        >>> source.disconnect(node)
        >>> source.emit(2)
        >>> out
        ['1']
        """
        if not any(d is downstream for d in self._downs):
            raise ValueError(f"{downstream!r} is not downstream of {self!r}")
        self._remove_downstream(downstream)
        while any(u is self for u in downstream.upstreams):
            downstream._remove_upstream(self)

    def destroy(self, streams: Iterable[Stream[Any]] | None = None) -> None:
        """Detach this node from its upstreams (or from just ``streams``).

        Once detached from everything upstream, the node and everything only it feeds
        receive nothing more and are freed with it; resources the node owns (an open
        file of ``sink_to_textfile``) are closed.

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> node = source.map(str)
        >>> source.downstreams == (node,)
        True
        >>> node.destroy()
        >>> source.downstreams
        ()
        """
        targets = list(self.upstreams) if streams is None else list(streams)
        for up in targets:
            if any(d is self for d in up._downs):
                up.disconnect(self)
        if not self.upstreams:
            self._close()

    def _close(self) -> None:
        """Release resources the node owns; called by :meth:`destroy`."""

    def _add_downstream(self, downstream: Stream[Any]) -> None:
        if not any(d is downstream for d in self._downs):
            self._downs = (*self._downs, downstream)
            self._rewire()

    def _remove_downstream(self, downstream: Stream[Any]) -> None:
        self._downs = tuple(d for d in self._downs if d is not downstream)
        self._rewire()

    def _add_upstream(self, upstream: Stream[Any]) -> None:
        self.upstreams.append(upstream)

    def _remove_upstream(self, upstream: Stream[Any]) -> None:
        for i, u in enumerate(self.upstreams):
            if u is upstream:
                del self.upstreams[i]
                return

    def _rewire(self) -> None:
        """Recompute ``_push`` after the set of downstreams changed."""
        downs = self._downs
        if not downs:
            self._push = _drop
        elif len(downs) == 1:
            self._push = downs[0].update
        else:
            self._push = self._emit_many

    def _emit_many(self, x: Any, who: Stream[Any], metadata: Metadata) -> Any:
        pending: list[Any] | None = None
        for d in self._downs:
            r = d.update(x, self, metadata)
            if r is not None:
                if pending is None:
                    pending = []
                if type(r) is list:
                    pending.extend(r)
                else:
                    pending.append(r)
        return pending

    # ------------------------------------------------------------------ protocol

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        """Handle an element arriving from ``who``; a plain node passes it on.

        Returns ``None`` when the element is fully handled, otherwise an awaitable (or a
        list of awaitables) that completes when it is. Subclasses override this; they pass
        elements on with ``self._emit(y, metadata)`` and return what it returns, so
        pending work keeps travelling back to the emitter.

        Examples
        --------
        >>> from streams import Stream
        >>> class Pairs(Stream):
        ...     "Emit (previous, current) pairs."
        ...     previous = None
        ...     def update(self, x, who=None, metadata=()):
        ...         pair, self.previous = (self.previous, x), x
        ...         return self._emit(pair, metadata)
        >>> source = Stream()
        >>> out = Pairs(source).sink_to_list()
        >>> for x in "abc":
        ...     source.emit(x)
        >>> out
        [(None, 'a'), ('a', 'b'), ('b', 'c')]
        """
        self.current_value = x
        return self._push(x, self, metadata)

    def _emit(self, x: Any, metadata: Metadata | None = None) -> Any:
        """Push ``x`` downstream and return the pending work (streamz's node helper)."""
        self.current_value = x
        return self._push(x, self, metadata or ())

    def emit(self, x: Any, asynchronous: bool = False, metadata: Metadata | None = None) -> Any:
        """Push ``x`` into the graph at this node.

        Parameters
        ----------
        x : object
            The element.
        asynchronous : bool, optional
            Return an awaitable that completes once every downstream accepted ``x``
            (also the behaviour of nodes built with ``asynchronous=True``).
        metadata : list of dict, optional
            Metadata travelling with ``x``; a :class:`~streams.RefCounter` under
            ``'ref'`` is released once every branch has finished with ``x``.

        Returns
        -------
        None or awaitable
            In a plain synchronous caller: ``None`` once ``x`` is accepted; if work is
            left pending (an async sink), ``emit`` first blocks until it is done. Called
            from inside a running event loop: an awaitable, so ``await source.emit(x)``
            waits for every branch; pending work already runs as a task, so not awaiting
            it loses nothing. With ``asynchronous=True``: always an awaitable.

        Examples
        --------
        >>> import asyncio
        >>> from streams import Stream
        >>> source = Stream()
        >>> seen = []
        >>> async def slow_write(x):
        ...     await asyncio.sleep(0)
        ...     seen.append(x)
        >>> _ = source.map(str).sink(slow_write)
        >>> async def main():
        ...     for i in range(3):
        ...         await source.emit(i)  # resumes once slow_write finished
        >>> asyncio.run(main())
        >>> seen
        ['0', '1', '2']
        """
        self.current_value = x
        if metadata:
            retain_refs(metadata)
            # If the push raises, the refs stay retained: a failed element is never
            # acknowledged.
            r = release_after(self._push(x, self, metadata), metadata)
        else:
            r = self._push(x, self, ())
        if r is None:
            if asynchronous or self.asynchronous or _get_running_loop() is not None:
                return DONE  # so that `await source.emit(x)` works in async code
            return None
        return self._settle(r, asynchronous or bool(self.asynchronous))

    def _settle(self, result: Any, asynchronous: bool) -> Any:
        """Turn pending work from an emit into what ``emit`` returns."""
        if type(result) is list and not any(r is not None for r in result):
            return DONE if asynchronous else None
        if asynchronous:
            return wait(result)
        loop = running_loop()
        if loop is not None:
            return loop.create_task(wait(result))
        run_sync(wait(result), self.loop)
        return None

    def start(self) -> None:
        """Start every source upstream of this node."""
        for up in self.upstreams:
            up.start()

    def stop(self) -> None:
        """Stop every source upstream of this node."""
        for up in self.upstreams:
            up.stop()

    # ------------------------------------------------------------------ tools

    def visualize(self, filename: str = "mystream.png", **kwargs: Any) -> Any:
        """Draw the graph this node belongs to with graphviz.

        Parameters
        ----------
        filename : str
            Where to write; the extension picks the format (``.png``, ``.svg``,
            ``.pdf``, or ``.dot``/``.gv`` for the graphviz source, which needs no
            graphviz installation).
        **kwargs
            Graph attributes for graphviz, such as ``rankdir="LR"``.

        Returns
        -------
        streams.graph.Rendered
            The written file; Jupyter displays it as an image.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from streams import Stream
        >>> source = Stream(stream_name="prices")
        >>> _ = source.map(abs).sink_to_list()
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "graph.dot"
        >>> _ = source.visualize(str(path))
        >>> print(path.read_text())
        digraph {
          n0 [label="prices", shape="ellipse"];
          n1 [label="map<abs>", shape="box"];
          n2 [label="sink_to_list", shape="trapezium"];
          n0 -> n1;
          n1 -> n2;
        }
        <BLANKLINE>
        """
        from .graph import visualize

        return visualize(self, filename, **kwargs)
