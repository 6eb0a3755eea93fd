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
import threading
import weakref
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from ._util import annotate
from .errors import ErrorRecord, Retry, log
from .loop import background_loop, run_sync, running_loop
from .protocol import wait
from .refs import release_refs

if TYPE_CHECKING:
    from .core import Stream

__all__ = ["UNBOUND", "PendingEmit", "Runtime", "RuntimeMethods", "downstream_order"]


class Unbound:
    """The type of :data:`UNBOUND`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<loop chosen on first need>"


UNBOUND: Any = Unbound()
"""A node's ``_home`` while its graph needs a loop but has not picked one yet."""

MAX_FAILURES = 100  # unobserved failures kept for drain(); more are only logged


class PendingEmit(asyncio.Task[Any]):
    """The task an ``emit`` inside a running loop returns for work still pending.

    It runs whether or not it is awaited; one that is awaited is not also reported to
    the error channel when it fails, since its awaiter receives the error.
    """

    awaited = False

    def __await__(self) -> Any:
        self.awaited = True
        return super().__await__()


class Runtime:
    """The shared run-time state of a connected graph (see the module docstring)."""

    __slots__ = (
        "__weakref__",
        "_lock",
        "asynchronous",
        "error_streams",
        "failures",
        "loop",
        "loop_users",
        "needs_loop",
        "nodes",
        "tasks",
    )

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.needs_loop = False
        self.asynchronous: bool | None = None
        self.nodes: weakref.WeakSet[Stream[Any]] = weakref.WeakSet()
        self.loop_users: weakref.WeakSet[Stream[Any]] = weakref.WeakSet()
        self.error_streams: list[Stream[Any]] = []
        self.failures: list[ErrorRecord] = []
        self.tasks: set[asyncio.Future[Any]] = set()
        self._lock = threading.Lock()

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
        node.asynchronous = self.asynchronous

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
        self.tasks |= other.tasks
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

    def need_loop(self, node: Stream[Any]) -> None:
        """``node`` needs an event loop; bind the running one if there is one.

        Inside a running loop the graph takes that loop at once (so timers start now);
        otherwise it picks one on first need (``emit`` or ``start``).
        """
        self.loop_users.add(node)
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
        for node in list(self.nodes):
            node._home = loop
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

        If it fails, the error is logged and kept for the next ``drain``, whether or not
        someone awaits the task too: it must not vanish.
        """
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled() or getattr(task, "awaited", False):
            return  # whoever awaits it receives the error
        exc = task.exception()
        if isinstance(exc, Exception):
            node = getattr(exc, "_streams_node", None)
            record = ErrorRecord(node, getattr(exc, "_streams_element", None), exc)
            if self.error_streams:  # like any failure nobody waits for
                for errors in list(self.error_streams):
                    try:
                        errors._receive(record)  # type: ignore[attr-defined]
                    except Exception:
                        log.exception("an error stream's consumer failed on %s", record)
            else:
                log.error("unawaited work of the graph failed: %s", record, exc_info=exc)
                self.fail(record)

    def fail(self, record: ErrorRecord) -> None:
        """Keep an error nobody has seen yet, for the next ``drain``."""
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(record)


RETRYING: contextvars.ContextVar[object] = contextvars.ContextVar("RETRYING", default=None)
"""The node retrying an element in this context (its policy must not catch again)."""


def downstream_order(node: Stream[Any]) -> list[Stream[Any]]:
    """``node`` and everything downstream of it, upstream nodes before downstream ones."""
    seen: set[int] = set()
    order: list[Stream[Any]] = []

    def visit(n: Stream[Any]) -> None:
        seen.add(id(n))
        for d in n.downstreams:
            if id(d) not in seen:
                visit(d)
        order.append(n)

    visit(node)
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

    def drain(self: Any) -> Any:
        """Push out everything the graph holds downstream of this node, and wait for it.

        Time windows emit what they hold, buffers, delays and ``partition`` timeouts
        empty, ``map_async`` and async sinks finish. Elements waiting for a partner
        (``zip``) or for more elements (``partition`` without a timeout, ``collect``) stay
        where they are. Afterwards the graph runs on as before.

        Returns
        -------
        None or awaitable
            In a plain script ``drain`` blocks until done; inside a running event loop it
            returns an awaitable.

        Raises
        ------
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
                return self._drain_here()
            if any(type(n)._flush is not RuntimeMethods._flush for n in downstream_order(self)):
                # a graph without a loop can still hold elements (scatter batches)
                run_sync(self._drain_here(), background_loop())
            self._raise_failures()
            return None
        future = asyncio.run_coroutine_threadsafe(self._drain_here(), home)
        if running is not None:
            return asyncio.wrap_future(future, loop=running)
        future.result()
        return None

    async def _drain_here(self: Any) -> None:
        order = downstream_order(self)
        while True:
            busy = False
            for node in order:
                busy = await node._flush() or busy
            tasks = [t for t in self._runtime.tasks if not t.done()]
            if tasks:
                busy = True
                await asyncio.wait(tasks)
            if not busy:
                break
        self._raise_failures()

    async def _flush(self) -> bool:
        """Push out what this node holds (drain); return whether there was anything."""
        return False

    def _raise_failures(self) -> None:
        failures, self._runtime.failures = self._runtime.failures, []
        if failures:
            first = failures[0].error
            if len(failures) > 1:
                first.add_note(f"({len(failures) - 1} more errors since the last drain)")
            raise first

    # ------------------------------------------------------------------ policies

    def _failed(self: Any, exc: Exception, x: Any, who: Any, metadata: Any) -> Any:
        """Apply this node's ``on_error`` policy to ``x``, whose processing raised ``exc``.

        Called from the node's ``except`` block: re-raises for ``"raise"``; returns the
        node's ``update`` result otherwise (``None``, or pending work for a retry).
        """
        annotate(exc, self, x)
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
        self._dead_letter(ErrorRecord(getattr(exc, "_streams_node", self), x, exc, metadata))

    async def _retry(
        self: Any, policy: Retry, exc: Exception, x: Any, who: Any, metadata: Any
    ) -> None:
        token = RETRYING.set(self)
        try:
            for attempt in range(policy.attempts):
                await asyncio.sleep(policy.delay(attempt))
                try:
                    await wait(self.update(x, who, metadata))
                except Exception as again:
                    if getattr(again, "_streams_node", None) is not self:
                        raise  # it failed downstream: not this node's to retry
                    exc = again
                else:
                    return
        finally:
            RETRYING.reset(token)
        exc.add_note(f"gave up after {policy.attempts} retries")
        self._give_up(policy.then, exc, x, metadata)

    def _dead_letter(self: Any, record: ErrorRecord) -> bool:
        """Hand ``record`` to the graph's error streams; log it if there are none."""
        streams = self._runtime.error_streams
        for errors in streams:
            try:
                errors._receive(record)
            except Exception:
                log.exception("an error stream's consumer failed on %s", record)
        if not streams:
            log.error("%s (no error stream)", record, exc_info=record.error)
        return bool(streams)

    def _report(self: Any, exc: Exception, x: Any, metadata: Any) -> None:
        """Handle a failure no emitter waits for (a timer's or a worker's push raised)."""
        if not hasattr(exc, "_streams_node"):
            annotate(exc, self, x)
        node = getattr(exc, "_streams_node", self)
        element = getattr(exc, "_streams_element", x)
        policy = self.on_error.then if isinstance(self.on_error, Retry) else self.on_error
        if policy == "skip":
            log.warning("%s; element skipped (on_error='skip')", "; ".join(_notes(exc)))
            return
        record = ErrorRecord(node, element, exc, metadata)
        if not self._dead_letter(record) and policy == "raise":
            self._runtime.fail(record)

    # ------------------------------------------------------------------ autonomous pushes

    async def _push_async(self: Any, value: Any, metadata: Any) -> bool:
        """Push ``value`` from a worker task and wait for it; on failure, retry or report
        per the node's policy. Returns whether the element was delivered."""
        self.current_value = value
        try:
            await wait(self._push(value, self, metadata))
        except Exception as exc:
            recovered: bool = await self._recover(exc, value, metadata)
            return recovered
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
        try:
            await wait(pending)
        except Exception as exc:
            await self._recover(exc, value, metadata)
        else:
            release_refs(metadata)

    async def _recover(self: Any, exc: Exception, value: Any, metadata: Any) -> bool:
        """This node's push of ``value`` failed with ``exc`` and no emitter waits for it:
        push it again if the policy is ``retry``, else (or then) report the failure."""
        policy = self.on_error
        if isinstance(policy, Retry):
            for attempt in range(policy.attempts):
                await asyncio.sleep(policy.delay(attempt))
                self.current_value = value
                try:
                    await wait(self._push(value, self, metadata))
                except Exception as again:
                    exc = again
                else:
                    release_refs(metadata)
                    return True
            exc.add_note(f"gave up after {policy.attempts} retries")
        self._report(exc, value, metadata)
        return False

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task of the graph's loop that ``drain`` waits for."""
        task = asyncio.get_running_loop().create_task(coro)
        self._runtime.track(task)
        return task


def _notes(exc: BaseException) -> list[str]:
    return [f"{type(exc).__name__}: {exc}", *getattr(exc, "__notes__", [])]
