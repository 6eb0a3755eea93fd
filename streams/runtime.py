"""What the nodes of one connected graph share while it runs.

A :class:`Runtime` records the event loop the graph runs on (once it has one), whether
it is asynchronous, the error streams that listen to it, the errors that reached no
one yet, and the work under way that no emitter is waiting for. Every node points at
its graph's runtime; connecting two graphs merges theirs, and a conflict (two loops)
is refused before anything is wired.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
import types
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from ._util import annotate
from .errors import ErrorRecord, Retry, log
from .loop import background_loop, run_sync, running_loop
from .protocol import also_of, wait
from .refs import release_refs
from .shutdown import watch
from .turns import Turn

if TYPE_CHECKING:
    from .core import Stream

__all__ = [
    "UNBOUND",
    "PendingEmit",
    "Runtime",
    "RuntimeMethods",
    "downstream_order",
    "retrying",
]

R = TypeVar("R")


class Unbound:
    """The type of :data:`UNBOUND`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<loop chosen on first need>"


UNBOUND: Any = Unbound()
"""A node's ``_home`` while its graph needs a loop but has not picked one yet."""

MAX_FAILURES = 100  # unobserved failures kept for drain(); more are only logged


class PendingEmit(asyncio.Task[Any]):
    """The task an entry point (``emit``...) returns inside a running loop for work still
    pending: the one kind of pending awaitable of the library.

    It runs whether or not it is awaited. If it fails, its error goes to whoever
    watches it (awaits it, or gathers or waits on it, or asks for its result), and
    only if nobody does to the graph's error channel: an error is reported once.
    """

    observed = False

    def __await__(self) -> Any:
        self.observed = True
        return super().__await__()

    def add_done_callback(self, fn: Any, *, context: Any = None) -> None:  # gather, wait...
        self.observed = True
        super().add_done_callback(fn, context=context)

    def result(self) -> Any:
        self.observed = True
        return super().result()

    def exception(self) -> BaseException | None:
        self.observed = True
        return super().exception()

    def __repr__(self) -> str:
        state = "pending" if not self.done() else "failed" if self._failed() else "done"
        return f"<streams pending emit: {state}>"

    def _failed(self) -> bool:
        return not self.cancelled() and super().exception() is not None


class Runtime:
    """The shared run-time state of a connected graph (see the module docstring)."""

    __slots__ = (
        "__weakref__",
        "_lock",
        "asynchronous",
        "error_streams",
        "failure_count",
        "failures",
        "loop",
        "loop_users",
        "needs_loop",
        "nodes",
        "tasks",
        "turn",
        "watched",
    )

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.needs_loop = False
        self.asynchronous: bool | None = None
        self.nodes: weakref.WeakSet[Stream[Any]] = weakref.WeakSet()
        self.loop_users: weakref.WeakSet[Stream[Any]] = weakref.WeakSet()
        self.error_streams: list[Stream[Any]] = []
        self.failures: list[ErrorRecord] = []
        self.failure_count = 0  # errors kept since the last drain (failures holds the first)
        self.tasks: set[asyncio.Future[Any]] = set()
        self._lock = threading.Lock()
        self.turn = Turn()  # threads pushing inline take turns (a graph without a loop)
        self.watched = False  # known to the exit drain (streams.shutdown.watch)

    @property
    def home(self) -> Any:
        """What nodes cache as ``_home``: the loop, :data:`UNBOUND`, or ``None``."""
        if self.loop is not None:
            return self.loop
        return UNBOUND if self.needs_loop else None

    def add(self, node: Stream[Any]) -> None:
        """Make ``node`` part of this graph."""
        self.nodes.add(node)
        node._runtime = self
        node._home = self.home
        node._graph_turn = self.turn
        node.asynchronous = self.asynchronous
        node._refresh_emit()
        if not self.watched and type(node)._held_count is not RuntimeMethods._held_count:
            watch(self)  # a node that holds elements: the exit drain must know the graph

    def check_compatible(self, other: Runtime) -> None:
        """Raise ``ValueError`` if the two graphs cannot become one."""
        if self.loop is not None and other.loop is not None and self.loop is not other.loop:
            raise ValueError(
                f"cannot connect a graph running on {self.loop!r} to one running on "
                f"{other.loop!r}: a graph runs on exactly one event loop"
            )
        if (
            self.asynchronous is not None
            and other.asynchronous is not None
            and self.asynchronous != other.asynchronous
        ):
            raise ValueError(
                "cannot connect an asynchronous=True graph to an asynchronous=False one"
            )

    def absorb(self, other: Runtime) -> None:
        """Take over ``other``'s nodes and state (after :meth:`check_compatible`)."""
        if other is self:
            return
        self.check_compatible(other)
        newly_bound = self.loop is None and other.loop is not None
        unstarted = list(self.loop_users) if newly_bound else list(other.loop_users)
        if self.loop is None:
            self.loop = other.loop
        self.needs_loop = self.needs_loop or other.needs_loop
        if self.asynchronous is None:
            self.asynchronous = other.asynchronous
        self.error_streams.extend(other.error_streams)
        self.failures.extend(other.failures)
        self.failure_count += other.failure_count
        self.tasks |= other.tasks
        if other.watched and not self.watched:
            watch(self)
        for user in other.loop_users:
            self.loop_users.add(user)
        for node in list(other.nodes) + list(self.nodes):
            self.add(node)
        if self.loop is not None and (newly_bound or other.loop is None):
            for user in unstarted:
                self._start(user)

    def set_asynchronous(self, value: bool) -> None:
        """Fix whether ``emit`` returns awaitables everywhere in the graph."""
        if self.asynchronous is not None and self.asynchronous != value:
            raise ValueError("a graph cannot be both asynchronous and synchronous")
        self.asynchronous = value
        for node in list(self.nodes):
            node.asynchronous = value
            node._refresh_emit()

    def need_loop(self, node: Stream[Any]) -> None:
        """``node`` needs an event loop; bind the running one if there is one.

        Inside a running loop the graph takes that loop at once (so timers start now);
        otherwise it picks one on first need (``emit`` or ``start``).
        """
        self.loop_users.add(node)
        if not self.watched:
            watch(self)
        if self.loop is not None:
            self._start(node)
            return
        self.needs_loop = True
        running = running_loop()
        if running is not None:
            self.bind(running)
        else:
            for n in list(self.nodes):
                n._home = UNBOUND
                n._refresh_emit()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the graph on ``loop`` from now on, and start what waited for a loop."""
        with self._lock:
            if self.loop is loop:
                return
            if self.loop is not None:
                raise ValueError(
                    f"this graph runs on {self.loop!r}; it cannot also run on {loop!r}"
                )
            self.loop = loop
        if not self.watched:
            watch(self)
        for node in list(self.nodes):
            node._home = loop
            node._refresh_emit()
        for user in list(self.loop_users):
            self._start(user)

    def _start(self, node: Stream[Any]) -> None:
        """Call ``node._on_loop()`` in the loop's thread."""
        loop = self.loop
        assert loop is not None
        if loop is running_loop():
            node._on_loop()
        else:
            loop.call_soon_threadsafe(node._on_loop)

    def track(self, task: asyncio.Future[Any]) -> None:
        """Remember work under way that no emitter awaits, so ``drain`` can wait for it.

        If it fails and nobody watches it (see :class:`PendingEmit`), the error is
        reported at once: to the error streams, or logged and kept for the next
        ``drain``. It must not vanish.
        """
        self.tasks.add(task)
        if not self.watched:
            watch(self)
        asyncio.Future.add_done_callback(task, self._done)  # not PendingEmit's: not a watcher

    def _done(self, task: asyncio.Future[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled() or getattr(task, "observed", False):
            return  # whoever watches it receives the error
        exc = asyncio.Future.exception(task)
        if isinstance(exc, Exception):
            node = getattr(exc, "_streams_node", None)
            self.report(ErrorRecord(node, getattr(exc, "_streams_element", None), exc))

    def report(self, record: ErrorRecord, keep: bool = True) -> bool:
        """Hand an error nobody waits for to the error streams; if there are none, log
        it now and (with ``keep``) keep it for the next ``drain``. Returns whether an
        error stream took it.

        Further errors the exception carries (see
        :func:`~streams.protocol.combine_errors`) are reported too, each in a record of
        its own.
        """
        records = [record]
        for more in also_of(record.error):
            node = getattr(more, "_streams_node", record.node)
            element = getattr(more, "_streams_element", record.element)
            records.append(ErrorRecord(node, element, more, record.metadata))
        streams = list(self.error_streams)
        for r in records:
            for errors in streams:
                try:
                    errors._receive(r)  # type: ignore[attr-defined]
                except Exception:
                    log.exception("an error stream's consumer failed on %s", r)
            if not streams:
                log.error("%s (no error stream took it)", r, exc_info=r.error)
        if not streams and keep:
            self.fail(record, len(records))
        return bool(streams)

    def fail(self, record: ErrorRecord, count: int = 1) -> None:
        """Keep an error nobody has seen yet (standing for ``count`` errors) for the
        next ``drain``."""
        self.failure_count += count
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(record)

    def adopt(self, pending: list[Any]) -> list[BaseException]:
        """Own work left pending by an element whose emitter receives an error instead.

        Inside a running loop the work goes on as tracked tasks (their failures are
        reported); in a plain thread it is finished now, and its errors are returned
        to travel with the emitter's.
        """
        loop = running_loop()
        if loop is not None:
            for p in pending:
                self.track(asyncio.ensure_future(p, loop=loop))
            return []
        try:
            self.finish(pending)
        except Exception as exc:
            return [exc]
        return []

    def finish(self, result: Any) -> None:
        """Finish pending work for a plain (loop-less) thread: block until it is done on
        the shared background loop.

        A re-entrant emit (a consumer emitting into its own graph) must not block: the
        emit further up the same stack holds what the work may wait for. Its work goes
        on as a tracked task of the background loop instead, and ``drain`` waits for it.
        """
        loop = background_loop()
        if not _inside_emit():
            run_sync(wait(result), loop)
            return
        loop.call_soon_threadsafe(self._start_tracked, wait(result))

    def _start_tracked(self, work: Coroutine[Any, Any, Any]) -> None:
        self.track(asyncio.get_running_loop().create_task(work))

    def dead_loop_message(self, node: Stream[Any], running: Any) -> str:
        """Why ``node`` cannot run on its graph's loop any more, and what to do."""
        loop = self.loop
        assert loop is not None
        if loop.is_closed():
            advice = (
                "A graph is bound to the loop it first ran on; that loop was closed (a "
                "finished asyncio.run(), say). Build the graph inside the coroutine you "
                "run, or build it afresh for each asyncio.run()"
            )
            if running is not None:
                advice += " (a loop is running here: build the graph in it)"
            return (
                f"{node._describe()}: the event loop this graph runs on is closed "
                f"({loop!r}). {advice}."
            )
        return (
            f"{node._describe()}: the event loop this graph runs on is not running "
            f"({loop!r}); run that loop (or emit from inside it)"
        )


_EMIT_CODES: set[Any] = set()
"""Code objects of entry points whose frames mark 'inside an emit' (see _inside_emit)."""


def _inside_emit() -> bool:
    """Whether the calling thread is inside two or more entry points (a re-entrant emit).

    The entry points are ``Stream.emit``, its compiled form (``streams._emit``) and
    ``Stream._enter``; an ``_enter`` called by an emit is part of that emit. Only called
    on the slow path of a plain thread with pending work; it looks at the stack rather
    than keeping a count on the hot path.
    """
    if not _EMIT_CODES:
        from ._emit import emit_code
        from .core import Stream

        _EMIT_CODES.update((Stream.emit.__code__, emit_code(), Stream._enter.__code__))
    enter = next(c for c in _EMIT_CODES if c.co_name == "_enter")
    frame: types.FrameType | None = sys._getframe(1)
    seen = 0
    while frame is not None:
        code = frame.f_code
        if code in _EMIT_CODES:
            back = frame.f_back
            if not (code is enter and back is not None and back.f_code in _EMIT_CODES):
                seen += 1
                if seen > 1:
                    return True
        frame = frame.f_back
    return False


RETRYING: contextvars.ContextVar[object] = contextvars.ContextVar("RETRYING", default=None)
"""The node retrying an element in this context (its policy must not catch again)."""


def downstream_order(node: Stream[Any]) -> list[Stream[Any]]:
    """``node`` and everything downstream of it, upstream nodes before downstream ones."""
    # a depth-first post-order, reversed; iterative, so no closure cycle keeps the nodes
    # alive after the call (a destroyed branch is freed at once)
    seen = {id(node)}
    order: list[Stream[Any]] = []
    stack: list[tuple[Stream[Any], Iterator[Stream[Any]]]] = [(node, iter(node.downstreams))]
    while stack:
        n, downs = stack[-1]
        for d in downs:
            if id(d) not in seen:
                seen.add(id(d))
                stack.append((d, iter(d.downstreams)))
                break
        else:
            stack.pop()
            order.append(n)
    return order[::-1]


class RuntimeMethods:
    """The :class:`~streams.Stream` methods about running: errors, drain, and the helpers
    nodes that run on their own (timers, workers) use to push and to report failures."""

    _runtime: Runtime
    _home: Any

    def errors(self: Any) -> Stream[ErrorRecord]:
        """Return a stream of this graph's errors, as :class:`~streams.errors.ErrorRecord`.

        It receives the elements that nodes with ``on_error="dead_letter"`` gave up on,
        and the errors of nodes that run on their own (timers, buffers, ``map_async``,
        sources) when no emitter is waiting to receive them. Errors raised to an
        emitter are not repeated here. Every call returns a new subscriber.

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> parsed = source.map(int, on_error="dead_letter").sink_to_list()
        >>> problems = source.errors().map(str).sink_to_list()
        >>> for text in ["1", "two", "3"]:
        ...     source.emit(text)
        >>> parsed
        [1, 3]
        >>> problems
        ["map<int>: ValueError: invalid literal for int() with base 10: 'two'"]
        """
        from .operators.errors import ErrorStream

        return ErrorStream(self)

    def drain(self: Any, timeout: float | None = None) -> Any:
        """Push out everything the graph holds downstream of this node, and wait for it.

        Time windows emit what they hold, buffers, delays and ``partition`` timeouts
        empty, ``map_async`` and async sinks finish. Elements waiting for a partner
        (``zip``) or for more elements (``partition`` without a timeout, ``collect``) stay
        where they are. Afterwards the graph runs on as before. While a source still
        produces, there is always more to drain: stop it first, or use :meth:`shutdown`.

        Parameters
        ----------
        timeout : float, optional
            Give up after this many seconds (default: wait as long as it takes). The
            pushing goes on; only the waiting stops.

        Returns
        -------
        None or awaitable
            In a plain script ``drain`` blocks until done; inside a running event loop it
            returns an awaitable.

        Raises
        ------
        TimeoutError
            :class:`~streams.shutdown.DrainTimeout`, naming the nodes that still hold
            work, if ``timeout`` passed first.
        Exception
            The first error of a node running on its own that reached no error stream
            since the last drain (the others were logged).

        Examples
        --------
        >>> import asyncio
        >>> from streams import Stream
        >>> source = Stream()
        >>> batches = source.timed_window(60).sink_to_list()
        >>> async def main():
        ...     for i in range(3):
        ...         await source.emit(i)
        ...     await source.drain()  # no need to wait a minute for the window
        >>> asyncio.run(main())
        >>> batches
        [[0, 1, 2]]
        """
        home = self._home
        running = running_loop()
        if home is None or home is UNBOUND or home is running:
            if running is not None:
                return self._drain_here(timeout)
            if any(type(n)._flush is not RuntimeMethods._flush for n in downstream_order(self)):
                # a graph without a loop can still hold elements (scatter batches)
                run_sync(self._drain_here(timeout), background_loop())
            self._raise_failures()
            return None
        if home.is_closed() or not home.is_running():  # as emit: say why and what to do
            raise RuntimeError(self._runtime.dead_loop_message(self, running))
        future = asyncio.run_coroutine_threadsafe(self._drain_here(timeout), home)
        if running is not None:
            return asyncio.wrap_future(future, loop=running)
        future.result()
        return None

    async def _drain_here(self: Any, timeout: float | None = None) -> None:
        from .shutdown import drain_within, timeout_error

        order = downstream_order(self)
        if not await drain_within(self._runtime, order, timeout):
            assert timeout is not None  # without one, a drain always finishes
            raise timeout_error("drain()", self._runtime, order, timeout)
        self._raise_failures()

    def shutdown(self: Any, timeout: float | None = None) -> Any:
        """Stop the graph's sources, deliver what it accepted, then commit and close.

        The one safe order to end a graph (everything connected to this node): 1. every
        source stops taking input; 2. what the graph holds is drained, as by
        :meth:`drain`, for at most ``timeout`` seconds; 3. sources commit what was
        delivered (a Kafka source's final offset commit) and close their clients, and
        every node releases what it owns (timers, files, connections); 4. what was not
        delivered is reported. The graph is finished afterwards.

        Parameters
        ----------
        timeout : float, optional
            Seconds the stopping and draining may take (default: as long as it takes).
            Sources then get what is left, and at least 5 seconds, to commit and close.

        Returns
        -------
        None or awaitable
            In a plain script ``shutdown`` blocks until done; inside a running event
            loop it returns an awaitable (``await node.shutdown()`` in your own signal
            handler, for example).

        Raises
        ------
        TimeoutError
            :class:`~streams.shutdown.DrainTimeout` if elements were still held when
            ``timeout`` passed; it names the nodes and counts.
        Exception
            The first error that reached no error stream (as :meth:`drain`).

        Notes
        -----
        Elements that only more input would complete (``collect`` without ``flush``,
        ``zip`` without a partner, ``partition`` without a timeout) are not invented
        into output: they are logged as not delivered.

        Examples
        --------
        >>> import itertools
        >>> from streams import Stream
        >>> ticks = itertools.count()
        >>> source = Stream.from_periodic(lambda: next(ticks), poll_interval=0.01)
        >>> batches = source.timed_window(60).sink_to_list()
        >>> source.start()
        >>> source.shutdown(timeout=5)  # the endless source stops; the window is emitted
        >>> source.stopped and sum(len(b) for b in batches) == next(ticks)
        True
        """
        from .shutdown import shutdown

        return shutdown(self, timeout)

    async def _flush(self) -> bool:
        """Push out what this node holds (drain); return whether there was anything."""
        return False

    def _held_count(self) -> int:
        """How many accepted elements this node holds and has not passed on (0 for a node
        that holds nothing); the exit drain reports them if they cannot be delivered."""
        return 0

    _delivering = 0  # elements this node's own tasks are pushing downstream right now

    def _raise_failures(self) -> None:
        runtime = self._runtime
        failures, runtime.failures = runtime.failures, []
        count, runtime.failure_count = runtime.failure_count, 0
        if failures:
            first = failures[0].error
            if count > 1:
                first.add_note(f"({count - 1} more errors since the last drain)")
            raise first

    # ------------------------------------------------------------------ policies

    def _failed(self: Any, exc: Exception, x: Any, who: Any, metadata: Any) -> Any:
        """Apply this node's ``on_error`` policy to ``x``, whose processing raised ``exc``.

        Called from the node's ``except`` block: re-raises for ``"raise"``; returns the
        node's ``update`` result otherwise (``None``, or pending work for a retry).
        """
        annotate(exc, self, x)
        if self._metrics is not None:
            self._metrics.errors += 1
        policy = self.on_error
        if policy == "raise" or RETRYING.get() is self:
            raise exc
        if isinstance(policy, Retry):
            return self._retry(policy, exc, x, who, metadata)
        return self._give_up(policy, exc, x, metadata)

    def _give_up(self: Any, policy: str, exc: Exception, x: Any, metadata: Any) -> None:
        if policy == "raise":
            raise exc
        if policy == "skip":
            log.warning("%s; element skipped (on_error='skip')", "; ".join(_notes(exc)))
            return
        node = getattr(exc, "_streams_node", self)
        self._runtime.report(ErrorRecord(node, x, exc, metadata), keep=False)

    async def _retry(
        self: Any, policy: Retry, exc: Exception, x: Any, who: Any, metadata: Any
    ) -> None:
        """Retry this node's own work on ``x`` (a failure downstream is not retried)."""
        token = RETRYING.set(self)
        try:
            await retrying(
                policy,
                exc,
                lambda: wait(self.update(x, who, metadata)),
                mine=lambda e: getattr(e, "_streams_node", None) is self,
            )
        except Exception as final:
            mine = getattr(final, "_streams_node", None) is self
            if not mine:
                raise
            self._give_up(policy.then, final, x, metadata)
        finally:
            RETRYING.reset(token)

    def _report(self: Any, exc: Exception, x: Any, metadata: Any) -> None:
        """Handle a failure no emitter waits for (a timer's or a worker's push raised)."""
        if not hasattr(exc, "_streams_node"):
            annotate(exc, self, x)
        node = getattr(exc, "_streams_node", self)
        element = getattr(exc, "_streams_element", x)
        if node is self and self._metrics is not None:  # a failure of this node's own
            self._metrics.errors += 1
        policy = self.on_error.then if isinstance(self.on_error, Retry) else self.on_error
        if policy == "skip":
            log.warning("%s; element skipped (on_error='skip')", "; ".join(_notes(exc)))
            return
        self._runtime.report(ErrorRecord(node, element, exc, metadata), keep=policy == "raise")

    # ------------------------------------------------------------------ autonomous pushes

    async def _push_async(self: Any, value: Any, metadata: Any) -> bool:
        """Push ``value`` from a worker task and wait for it; on failure, retry or report
        per the node's policy. Returns whether the element was delivered."""
        self.current_value = value
        self._delivering += 1
        try:
            await wait(self._push(value, self, metadata))
        except Exception as exc:
            recovered: bool = await self._recover(exc, value, metadata)
            return recovered
        finally:
            self._delivering -= 1
        release_refs(metadata)
        return True

    def _push_soon(self: Any, value: Any, metadata: Any) -> None:
        """Push ``value`` from a timer callback; pending work goes on as a tracked task."""
        self.current_value = value
        try:
            r = self._push(value, self, metadata)
        except Exception as exc:
            if isinstance(self.on_error, Retry):
                self._spawn(self._recover(exc, value, metadata))
            else:
                self._report(exc, value, metadata)
            return
        if r is None:
            release_refs(metadata)
        else:
            self._spawn(self._finish_push(r, value, metadata))

    async def _finish_push(self: Any, pending: Any, value: Any, metadata: Any) -> None:
        self._delivering += 1
        try:
            await wait(pending)
        except Exception as exc:
            await self._recover(exc, value, metadata)
        else:
            release_refs(metadata)
        finally:
            self._delivering -= 1

    async def _recover(self: Any, exc: Exception, value: Any, metadata: Any) -> bool:
        """This node's push of ``value`` failed with ``exc`` and no emitter waits for it:
        push it again if the policy is ``retry``, else (or then) report the failure."""
        policy = self.on_error
        if isinstance(policy, Retry):

            async def push() -> None:
                self.current_value = value
                await wait(self._push(value, self, metadata))

            try:
                await retrying(policy, exc, push)
            except Exception as final:
                exc = final
            else:
                release_refs(metadata)
                return True
        self._report(exc, value, metadata)
        return False

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task of the graph's loop that ``drain`` waits for."""
        task = asyncio.get_running_loop().create_task(coro)
        self._runtime.track(task)
        return task


async def settled(futures: list[asyncio.Future[Any]]) -> None:
    """Wait until every future is done, without counting as one of their watchers (see
    :class:`PendingEmit`): the graph waiting for its own work does not take its errors."""
    loop = asyncio.get_running_loop()
    left = len(futures)
    all_done = loop.create_future()

    def one_done(_: Any) -> None:
        nonlocal left
        left -= 1
        if left == 0 and not all_done.done():
            all_done.set_result(None)

    for f in futures:
        asyncio.Future.add_done_callback(f, one_done)
    if futures:
        await all_done


async def retrying(
    policy: Retry,
    exc: Exception,
    attempt: Callable[[], Awaitable[R]],
    mine: Callable[[Exception], bool] | None = None,
) -> R:
    """The one retry loop: ``await attempt()`` up to ``policy.attempts`` more times after
    it failed with ``exc``, waiting ``policy.delay(i)`` before try ``i``.

    Returns the first successful result. Raises the last error (noted with the number
    of retries) if every try failed, or at once an error that ``mine`` says is not
    this node's to retry.
    """
    for i in range(policy.attempts):
        await asyncio.sleep(policy.delay(i))
        try:
            return await attempt()
        except Exception as again:
            if mine is not None and not mine(again):
                raise
            exc = again
    exc.add_note(f"gave up after {policy.attempts} retries")
    raise exc


def _notes(exc: BaseException) -> list[str]:
    return [f"{type(exc).__name__}: {exc}", *getattr(exc, "__notes__", [])]
