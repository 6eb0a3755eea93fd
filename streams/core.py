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
import functools
import types
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

from . import plugins
from ._emit import compile_emit, refresh_emit
from ._util import identity
from .display import DisplayMethods
from .errors import ErrorPolicy, check_policy
from .loop import Handoff, as_asyncio_loop, background_loop, tornado_loop
from .methods.aggregate import AggregateMethods
from .methods.combine import CombineMethods
from .methods.dask import DaskMethods
from .methods.eventstore import EventStoreMethods
from .methods.files import FileMethods
from .methods.kafka import KafkaMethods
from .methods.mqtt import MqttMethods
from .methods.network import NetworkMethods
from .methods.redis import RedisMethods
from .methods.select import SelectMethods
from .methods.sinks import SinkMethods
from .methods.sources import SourceMethods
from .methods.sql import SqlMethods
from .methods.tables import TableMethods
from .methods.time import TimeMethods
from .methods.transform import TransformMethods
from .methods.windows import WindowMethods
from .metrics import MetricsMethods, counted_push
from .plugins import PluginMeta, PluginMethods
from .protocol import (
    BLOCKED_EMITTER,
    DONE,
    DONE_CACHE,
    BackpressureError,
    Metadata,
    Push,
    combine_errors,
    done_on,
    drop,
    release_after,
    wait,
)
from .refs import retain_refs
from .runtime import UNBOUND, PendingEmit, Runtime, RuntimeMethods

if TYPE_CHECKING:
    from tornado.ioloop import IOLoop
from .turns import Turn

__all__ = ["BackpressureError", "Metadata", "Stream", "identity"]

T = TypeVar("T")

_get_running_loop = asyncio._get_running_loop  # the C call behind loop.running_loop


class Stream(
    PluginMethods,
    RuntimeMethods,
    DisplayMethods,
    MetricsMethods,
    TransformMethods[T],
    SelectMethods[T],
    AggregateMethods[T],
    CombineMethods[T],
    TimeMethods[T],
    SinkMethods[T],
    SourceMethods,
    FileMethods[T],
    NetworkMethods[T],
    KafkaMethods[T],
    RedisMethods[T],
    MqttMethods[T],
    SqlMethods[T],
    DaskMethods[T],
    EventStoreMethods[T],
    TableMethods,
    WindowMethods,
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
        The loop the whole graph runs on. By default a graph that needs a loop (timers,
        sources, ``map_async``) takes the loop running where it is built, or else the one
        running where it is first used, or else a shared background loop.
    asynchronous : bool, optional
        If true, ``emit`` always returns an awaitable; shared by the whole graph.
    ensure_io_loop : bool, optional
        Give the graph a loop now, even if none of its nodes needs one (streamz): the
        loop running here, or else the shared background loop.
    on_error : {'raise', 'skip', 'dead_letter'} or streams.retry(...), optional
        What to do when processing an element fails at this node; see
        :mod:`streams.errors`. Every operator accepts it.

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
    <map: lambda>
    """

    _graphviz_shape: ClassVar[str] = "ellipse"
    _label: ClassVar[str] = "stream"
    _dask: Any = None  # a streams.dask.DaskContext downstream of scatter()

    upstreams: list[Stream[Any]]
    _downs: tuple[Stream[Any], ...]
    _push: Push
    _fast: Push | None  # what upstreams call instead of update (see _compiled)
    _push_cell: types.CellType | None  # where _fast finds _push
    _fan: tuple[tuple[Stream[Any], Push], ...] = ()  # each downstream and its push
    _emit_cells: dict[str, types.CellType] | None = None  # what a compiled emit reads
    _graph_turn: Turn  # the graph's (set by Runtime.add): threads pushing inline take turns

    def __init__(
        self,
        upstream: Stream[Any] | None = None,
        upstreams: Iterable[Stream[Any]] | None = None,
        stream_name: str | None = None,
        loop: Any = None,
        asynchronous: bool | None = None,
        ensure_io_loop: bool = False,
        on_error: ErrorPolicy = "raise",
    ) -> None:
        if not plugins.registered:
            plugins.register_plugins()
        self.name = stream_name
        self.on_error = check_policy(type(self).__name__, on_error)
        self.current_value: Any = None
        # set here, not first by enable_metrics: an attribute added later would turn the
        # instance's dict from shared keys into its own and slow every attribute store
        self._metrics = None
        self.upstreams = []
        self._downs = ()
        self._fan = ()
        self._push = drop
        self._fast = self._compiled()
        self._push_cell = None if self._fast is None else _push_cell(self._fast)
        if upstreams is not None:
            ups = list(upstreams)
        elif upstream is not None:
            ups = [upstream]
        else:
            ups = []
        for up in ups:
            if not isinstance(up, Stream):
                raise TypeError(f"{type(self).__name__}: upstream must be a Stream, got {up!r}")
            if up._dask is not None:  # a distributed stream: so is this node
                up._dask.admit(type(self), self._label)
                self._dask = up._dask
        runtime = Runtime()
        if loop is not None:
            runtime.loop = as_asyncio_loop(loop)
        runtime.asynchronous = asynchronous
        probe = Runtime()  # refuse conflicting loops before wiring anything
        probe.loop, probe.asynchronous = runtime.loop, asynchronous
        for up in ups:
            probe.check_compatible(up._runtime)
            probe.loop = probe.loop or up._runtime.loop
            if probe.asynchronous is None:
                probe.asynchronous = up._runtime.asynchronous
        self.asynchronous = asynchronous
        self._home: Any = runtime.loop
        if not ups and type(self).emit is Stream.emit:  # a head: emit compiled (_emit.py)
            self.emit, self._emit_cells = compile_emit(self)  # type: ignore[method-assign]
        runtime.add(self)
        for up in ups:
            up.connect(self)
        if ensure_io_loop:  # a loop now, as in streamz: the running one, or the background one
            self._runtime.need_loop(self)
            if self._runtime.loop is None:
                self._runtime.bind(background_loop())

    @property
    def loop(self) -> IOLoop | None:
        """The loop this node's graph runs on, as a tornado ``IOLoop`` as in streamz
        (``None`` until the graph has a loop); ``loop.asyncio_loop`` is the asyncio loop.

        Inside that loop it is ``IOLoop.current()``. The ``IOLoop`` only wraps the
        asyncio loop, which the graph uses directly.
        """
        loop = self._runtime.loop
        return None if loop is None else tornado_loop(loop)

    def _require_loop(self) -> None:
        """Declare that this node needs an event loop (timers, tasks); see ``_on_loop``."""
        self._runtime.need_loop(self)

    def _on_loop(self) -> None:
        """Called in the loop's thread once the graph has its loop; nodes start timers."""

    # ------------------------------------------------------------------ naming

    def _detail(self) -> str:
        """What the node's label shows after its kind: ``add`` in ``map<add>``."""
        return ""

    def _str_detail(self) -> str:
        """What ``str(node)`` shows after its kind: ``add`` in ``<map: add>``."""
        return self._detail()

    def _describe(self) -> str:
        """The node's label in error notes, error records, messages and graph drawings:
        its name, or its kind with the detail in angle brackets (``map<add>``)."""
        if self.name is not None:
            return str(self.name)
        detail = self._detail()
        return f"{self._label}<{detail}>" if detail else self._label

    def __str__(self) -> str:
        # streamz's form: <kind: detail>, <name; kind: detail>; the kind of a subclass
        # without a label of its own (a plugin, a custom node) is its class name
        kind = type(self).__name__ if self._label == Stream._label else self._label
        if self.name is not None:
            kind = f"{self.name}; {kind}"
        detail = self._str_detail()
        return f"<{kind}: {detail}>" if detail else f"<{kind}>"

    __repr__ = __str__

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
            raise TypeError(
                f"{self._describe()}: can only connect to a Stream, got {downstream!r}"
            )
        if downstream is self:
            raise ValueError(f"{self._describe()}: cannot connect a node to itself")
        self._runtime.check_compatible(downstream._runtime)
        self._add_downstream(downstream)
        downstream._add_upstream(self)
        self._runtime.absorb(downstream._runtime)

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
        """Detach this node from its upstreams (or from just ``streams``) and, once it
        has none left, retire it with everything fed only through it.

        Retiring stops the sources of that removed part, delivers what it had accepted
        (time windows emit what they hold, buffers empty, batched writes are written;
        failures are reported as usual, never dropped silently), then cancels its
        timers and closes its files and clients. A source upstream that is left
        feeding nothing stops too. In a plain script ``destroy`` returns once that is
        done; on the graph's running loop it goes on as a task that :meth:`drain`
        waits for.

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
        from .teardown import retire, stop_orphaned

        targets = list(self.upstreams) if streams is None else list(streams)
        for up in targets:
            if any(d is self for d in up._downs):
                up.disconnect(self)
        stop_orphaned(targets)
        if not self.upstreams:
            retire(self)

    def _close(self) -> None:
        """Release what the node owns (timers, files, clients) once it was retired by
        :meth:`destroy` and drained; nothing more reaches it afterwards."""

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
        """Recompute ``_push`` after the set of downstreams changed.

        A single downstream is called through its compiled push when it has one (see
        :meth:`_compiled`); this node's own compiled push is repointed to the new push.
        """
        downs = self._downs
        push: Push
        self._fan = ()  # kept only for a fan-out (it holds the downstreams)
        if not downs:
            push = drop
        elif len(downs) == 1:
            down = downs[0]
            push = down.update if down._fast is None else down._fast
        else:
            push = self._emit_many
            # each branch through its compiled push when it has one, as a single one is
            self._fan = tuple((d, d.update if d._fast is None else d._fast) for d in downs)
        if self._metrics is not None:  # see streams.metrics
            push = counted_push(self, push)
        self._push = push
        if self._push_cell is not None:
            self._push_cell.cell_contents = push
        self._refresh_emit()

    def _refresh_emit(self) -> None:
        """Keep this node's compiled ``emit``, if it has one, in step with its graph
        state (see :mod:`streams._emit`)."""
        cells = self._emit_cells
        if cells is not None:
            refresh_emit(self, cells)

    def _compiled(self) -> Push | None:
        """A closure that does exactly what ``update`` does, with what it calls bound in,
        or ``None`` to be called through ``update``.

        This is how the common operators (``map``, ``filter``, ``accumulate``, ``sink``,
        ``sink_to_list``, a plain node) save the attribute look-ups of a method call on
        the hot path; upstreams call it instead of ``update``. It is built once, with the
        node, and calls the node's push through a free variable named ``push``, which
        :meth:`_rewire` repoints whenever the downstreams change (so the closure, which
        upstreams hold, never goes stale). A subclass that overrides ``update`` must
        not inherit it: each implementation checks ``type(self).update`` first.
        """
        if type(self).update is not Stream.update:
            return None
        node, push = self, self._push

        def update(x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
            node.current_value = x
            return push(x, node, metadata)

        return update

    def _emit_many(self, x: Any, who: Stream[Any], metadata: Metadata) -> Any:
        pending: list[Any] | None = None
        for d, push in self._fan:
            try:
                r = push(x, self, metadata)
            except BaseException as exc:
                self._branch_failed(x, metadata, self._downs, d, exc, pending)
            if r is not None:
                if pending is None:
                    pending = []
                if type(r) is list:
                    pending.extend(r)
                else:
                    pending.append(r)
        return pending

    def _branch_failed(
        self,
        x: Any,
        metadata: Metadata,
        downs: tuple[Stream[Any], ...],
        failed: Stream[Any],
        exc: BaseException,
        pending: list[Any] | None,
    ) -> NoReturn:
        """A branch of a fan-out raised: the other branches still receive ``x``, then
        the errors are raised together. Work the branches left pending is owned now
        (started, or finished here), since the emitter receives an error instead."""
        errors = [exc]
        pending = list(pending or ())
        if isinstance(exc, Exception):
            for d in downs[downs.index(failed) + 1 :]:
                try:
                    r = d.update(x, self, metadata)
                except Exception as again:
                    errors.append(again)
                    continue
                except BaseException as again:
                    errors.insert(0, again)
                    break
                if r is not None:
                    pending.extend(r if type(r) is list else [r])
        if pending:
            errors.extend(self._runtime.adopt(pending))
        raise combine_errors(errors)

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

        Notes
        -----
        Several threads may emit into one graph at once: each element goes through the
        whole graph before another thread's element enters it (a graph without a loop
        runs it in the emitting thread, the threads taking turns; a graph with a loop
        runs it on the loop's thread). See "Emitting from several threads" in the
        execution guide.

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
        # A node heading a graph runs the compiled copy of this method instead, while
        # the graph has no loop (streams/_emit.py); this is the general form.
        home = self._home
        if home is None:  # no loop: push here, taking turns with other threads (turns.py)
            return self._enter(functools.partial(self._push_in, x, metadata), asynchronous)
        elif home is not _get_running_loop():
            return self._elsewhere(functools.partial(self._push_in, x, metadata), asynchronous)
        else:  # the graph's own loop, where every push of the graph runs
            r = self._push_in(x, metadata)
            if r is None:  # home is the running loop here
                return DONE_CACHE[1] if DONE_CACHE[0] is home else done_on(home)  # type: ignore[arg-type]
        return self._settle(r, asynchronous or bool(self.asynchronous))

    def _push_in(self, x: Any, metadata: Metadata | None) -> Any:
        """Push ``x`` in at this node, here and now; return the pending work. If the push
        raises, the refs stay retained: a failed element is never acknowledged."""
        self.current_value = x
        if not metadata:
            return self._push(x, self, ())
        retain_refs(metadata)
        return release_after(self._push(x, self, metadata), metadata)

    def _enter(self, push: Callable[[], Any], asynchronous: bool = False) -> Any:
        """Run ``push`` (which pushes into the graph and returns its pending work) the
        way ``emit`` runs an element, and return what ``emit`` would.

        Every public entry point that pushes (``emit``, ``Collect.flush``...) goes
        through here: on the graph's loop when it has one (blocking a plain thread until
        the work was accepted), inline otherwise, taking turns with other threads.
        """
        home = self._home
        if home is None:
            result = self._runtime.turn.run(push)
        elif home is not _get_running_loop():
            return self._elsewhere(push, asynchronous)
        else:
            result = push()
        return self._settle(result, asynchronous or bool(self.asynchronous))

    def _settle(self, result: Any, asynchronous: bool) -> Any:
        """Turn the pending work of an entry point into what ``emit`` returns.

        Pending work is owned at once: inside a running loop it is a started task
        (:class:`~streams.runtime.PendingEmit`, the one kind of pending awaitable
        ``emit`` returns); in a plain thread it is finished before returning.
        """
        if type(result) is list and not any(r is not None for r in result):
            result = None
        loop = _get_running_loop()
        if result is None:
            if loop is not None:
                return done_on(loop)
            return DONE if asynchronous else None
        if loop is not None:  # a callback in the loop must not block it: run it as a task
            task = PendingEmit(wait(result), loop=loop)
            self._runtime.track(task)
            return task
        # A plain script: finish the work on the shared background loop (always the same
        # loop, so a coroutine sink sees one loop for all its calls). The graph is not
        # bound to it: its synchronous elements keep running inline in the caller.
        self._runtime.finish(result)
        return DONE if asynchronous else None

    def _elsewhere(self, push: Callable[[], Any], asynchronous: bool) -> Any:
        """Run ``push`` from outside the graph's loop: on that loop.

        From a plain thread this blocks until the work was accepted; from another
        running loop it returns an awaitable of that loop.
        """
        running = _get_running_loop()
        home = self._home
        if home is UNBOUND:  # first need: the loop here, or the background one
            self._runtime.bind(running or background_loop())
            # the loop, read from the runtime: another thread binding it at the same
            # time may not have marked every node yet
            home = self._runtime.loop
            if home is running:
                return self._settle(push(), asynchronous or bool(self.asynchronous))
        if home.is_closed() or not home.is_running():
            raise RuntimeError(self._runtime.dead_loop_message(self, running))
        if running is not None:  # another loop: hand back an awaitable of that loop
            future = asyncio.run_coroutine_threadsafe(self._at_home(push), home)
            return asyncio.wrap_future(future, loop=running)
        handoff = Handoff()
        home.call_soon_threadsafe(self._for_thread, push, handoff)
        handoff.wait()
        return DONE if asynchronous or self.asynchronous else None

    async def _at_home(self, push: Callable[[], Any]) -> None:
        await wait(push())

    def _for_thread(self, push: Callable[[], Any], handoff: Handoff) -> None:
        """Run ``push`` for a thread blocked waiting for it (a callback on the home loop)."""
        token = BLOCKED_EMITTER.set(True)  # see BackpressureError
        try:
            r = push()
        except BaseException as exc:
            handoff.fail(exc)
            return
        finally:
            BLOCKED_EMITTER.reset(token)
        if r is None or (type(r) is list and not any(p is not None for p in r)):
            handoff.succeed()
            return
        task = asyncio.get_running_loop().create_task(_blocked(wait(r)))
        task.add_done_callback(handoff.settle)

    def start(self) -> None:
        """Start every source upstream of this node.

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream.from_iterable([1, 2, 3])
        >>> out = source.map(str).sink_to_list()
        >>> out.node.start()  # reaches the source upstream
        >>> source.wait()
        >>> out
        ['1', '2', '3']
        """
        for up in self.upstreams:
            up.start()

    def stop(self) -> None:
        """Stop every source upstream of this node.

        Examples
        --------
        >>> import asyncio, itertools
        >>> from streams import Stream
        >>> from streams.testing import run_virtual
        >>> async def main():
        ...     ticks = itertools.count()
        ...     source = Stream.from_periodic(lambda: next(ticks), poll_interval=1.0)
        ...     out = source.sink_to_list()
        ...     out.node.start()
        ...     await asyncio.sleep(2.5)
        ...     out.node.stop()
        ...     await asyncio.sleep(10)
        ...     return out, source.stopped
        >>> run_virtual(main())
        ([0, 1, 2], True)
        """
        for up in self.upstreams:
            up.stop()

    # ------------------------------------------------------------------ tools

    def visualize(self, filename: str | None = "mystream.png", **kwargs: Any) -> Any:
        """Draw the graph this node belongs to with graphviz.

        Parameters
        ----------
        filename : str or None
            Where to write; the extension picks the format (``.png``, ``.svg``,
            ``.pdf``, or ``.dot``/``.gv`` for the graphviz source, which needs no
            graphviz installation). ``None`` writes nothing and keeps the drawing in
            memory as SVG.
        **kwargs
            Graph attributes for graphviz, such as ``rankdir="LR"``.

        Returns
        -------
        streams.graph.Rendered
            The drawing; a notebook shows it inline as SVG.

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
          n0 [label="prices", shape=ellipse];
          n1 [label="map<abs>", shape=box];
          n2 [label="sink_to_list", shape=trapezium];
          n0 -> n1;
          n1 -> n2;
        }
        <BLANKLINE>
        """
        from .graph import visualize

        return visualize(self, filename, **kwargs)


async def _blocked(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` for a thread blocked in ``emit``: pushes made in it cannot wait for
    that thread (see :class:`~streams.BackpressureError`)."""
    BLOCKED_EMITTER.set(True)  # this task's own context
    await work


def _push_cell(fast: Push) -> types.CellType | None:
    """The cell of the free variable ``push`` of a compiled push (see ``_compiled``);
    ``None`` for one that pushes nothing on (a sink)."""
    code, cells = fast.__code__, fast.__closure__
    if cells is None or "push" not in code.co_freevars:
        return None
    return cells[code.co_freevars.index("push")]
