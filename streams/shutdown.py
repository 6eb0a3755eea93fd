"""Ending a graph's run without losing what it accepted: :meth:`Stream.shutdown
<streams.Stream.shutdown>`, the drain at interpreter exit, and SIGTERM in scripts.

A shutdown has one order, whoever asks for it:

1. every source of the graph stops taking input (a source in the middle of handing an
   element on finishes that first);
2. what the graph accepted is drained: windows emit, buffers empty, async work ends,
   as :meth:`~streams.Stream.drain` does, within a time limit;
3. the sources commit and close their clients (a Kafka source commits the offsets of
   everything the drain delivered, then closes its consumer), then every node releases
   what it owns (timers, files, clients);
4. whatever is still undelivered is reported: held or being delivered per node, and the
   elements that failed without reaching an error stream.

At interpreter exit the same shutdown runs for every graph that has a loop, once the
script's other (non-daemon) threads ended, bounded by :func:`exit_drain`'s timeout
(10 s unless ``STREAMS_EXIT_TIMEOUT`` says otherwise); what was not delivered is
listed on standard error.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .errors import log
from .loop import background_loop, run_sync, running_loop

if TYPE_CHECKING:
    from .core import Stream
    from .runtime import Runtime

__all__ = [
    "CLOSE_GRACE",
    "EXIT_TIMEOUT",
    "DrainTimeout",
    "Report",
    "exit_drain",
    "shutdown",
    "watch",
]

EXIT_TIMEOUT = 10.0
"""Seconds the exit drain waits by default (``STREAMS_EXIT_TIMEOUT`` overrides it)."""

CLOSE_GRACE = 5.0
"""Seconds sources get to commit and close after a drain that used up its time."""

_live: weakref.WeakSet[Runtime] = weakref.WeakSet()
_lock = threading.Lock()
_hooked = False
_sigterm_installed = False
_settings: dict[str, Any] = {"enabled": None, "timeout": None}  # None: from the environment


class DrainTimeout(TimeoutError):
    """:meth:`~streams.Stream.drain` or :meth:`~streams.Stream.shutdown` did not finish
    within its timeout.

    Attributes
    ----------
    holding : list of (Stream, int, int)
        Each node still holding work, with the number of elements it holds and the
        number it is still handing on downstream.
    """

    def __init__(self, message: str, holding: list[tuple[Stream[Any], int, int]]) -> None:
        super().__init__(message)
        self.holding = holding


# ---------------------------------------------------------------------- settings


def exit_drain(enabled: bool | None = None, *, timeout: float | None = None) -> tuple[bool, float]:
    """Choose what happens at interpreter exit to graphs still holding data.

    By default a script that ends (or gets SIGINT or SIGTERM) while a graph still holds
    accepted elements (a ``timed_window``, a ``buffer`` before a slow sink, rows of
    ``to_sql`` not written yet...) first shuts the graph down in order: sources stop,
    the graph is drained for at most ``timeout`` seconds, sources commit and close.
    Whatever could not be delivered is listed on standard error, per node. Without
    the drain (``enabled=False``) sources still stop, commit what was processed and
    close, but held elements are dropped (and listed).

    The environment sets the defaults: ``STREAMS_EXIT_DRAIN=0`` turns the drain off,
    ``STREAMS_EXIT_TIMEOUT=<seconds>`` sets the limit (default 10). A call here wins
    over the environment.

    Parameters
    ----------
    enabled : bool, optional
        Drain at exit (``None``: leave as it is).
    timeout : float, optional
        Seconds the drain may take at most (``None``: leave as it is).

    Returns
    -------
    (bool, float)
        The settings now in force.

    Examples
    --------
    >>> import streams
    >>> streams.exit_drain()
    (True, 10.0)
    >>> streams.exit_drain(timeout=30)
    (True, 30.0)
    >>> streams.exit_drain(False)
    (False, 30.0)
    >>> streams.exit_drain(True, timeout=10)
    (True, 10.0)
    """
    if timeout is not None:
        if not timeout >= 0:
            raise ValueError(f"exit_drain: timeout must be a number >= 0, got {timeout!r}")
        _settings["timeout"] = float(timeout)
    if enabled is not None:
        _settings["enabled"] = bool(enabled)
    return _current()


def _current() -> tuple[bool, float]:
    enabled = _settings["enabled"]
    if enabled is None:
        flag = os.environ.get("STREAMS_EXIT_DRAIN", "1").strip().lower()
        enabled = flag not in ("0", "false", "no", "off")
    timeout = _settings["timeout"]
    if timeout is None:
        text = os.environ.get("STREAMS_EXIT_TIMEOUT", "")
        try:
            timeout = float(text) if text.strip() else EXIT_TIMEOUT
        except ValueError:
            timeout = -1.0
        if not timeout >= 0:
            print(
                f"streams: ignoring STREAMS_EXIT_TIMEOUT={text!r} (not a number of seconds "
                f">= 0); using {EXIT_TIMEOUT:g}",
                file=sys.stderr,
            )
            timeout = EXIT_TIMEOUT
    return enabled, timeout


# ---------------------------------------------------------------------- the registry


def watch(runtime: Runtime) -> None:
    """Remember ``runtime`` for the exit drain (once it may hold work or has a loop)."""
    runtime.watched = True
    _live.add(runtime)
    if not _hooked:
        _hook()


def _hook() -> None:
    """Register the exit drain, once, before any thread shuts down.

    ``threading._register_atexit`` hooks run before non-daemon threads are joined and
    before ``atexit`` handlers (which stop the background loop), in reverse order of
    registration. Importing ``concurrent.futures.thread`` first puts its hook (which
    refuses new work to every thread pool) after ours, so ``asyncio.to_thread`` still
    works while graphs drain; and registering here, not during the exit, avoids
    "can't register atexit after shutdown".
    """
    global _hooked
    with _lock:
        if _hooked:
            return
        _hooked = True
        import concurrent.futures.thread  # noqa: F401  (see above)

        register = getattr(threading, "_register_atexit", None)
        try:
            if register is not None:
                register(_at_exit)
            else:  # pragma: no cover - every supported Python has it
                import atexit

                atexit.register(_at_exit)
        except RuntimeError:  # already exiting: this graph misses the exit drain
            pass


def started_in_script() -> None:
    """A source started outside any running loop: in the main thread, make SIGTERM
    end the script the way Ctrl-C does (unless a handler is installed already)."""
    global _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    if running_loop() is not None:  # the loop's owner handles signals (see the guide)
        return
    _sigterm_installed = True
    import signal

    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # pragma: no cover - no signals here (embedded Python)
        pass


def _on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM: unwind the script with ``SystemExit(143)``; the exit drain runs.

    A second SIGTERM ends the process at once (the default action).
    """
    import signal

    signal.signal(signum, signal.SIG_DFL)
    raise SystemExit(128 + signum)


# ---------------------------------------------------------------------- shutting down


def shutdown(node: Stream[Any], timeout: float | None) -> Any:
    """What :meth:`Stream.shutdown <streams.Stream.shutdown>` does (see there)."""
    if timeout is not None and not timeout >= 0:
        raise ValueError(f"shutdown: timeout must be a number >= 0, got {timeout!r}")
    runtime = node._runtime
    nodes = component(node)
    loop = runtime.loop
    running = running_loop()
    if loop is not None and (loop.is_closed() or not loop.is_running()):
        if running is not None:  # nothing can run the graph any more: close and report
            return _at_once(runtime, nodes)
        _close_and_report(runtime, nodes)
        return None
    if loop is None:  # no loop: pending work, if any, is on the running or background one
        if running is not None:
            return _shut_and_raise(runtime, nodes, timeout)
        if holding(nodes) or _unfinished(runtime):
            run_sync(_shut_and_raise(runtime, nodes, timeout), background_loop())
        else:
            _close_and_report(runtime, nodes)
        return None
    if loop is running:
        return _shut_and_raise(runtime, nodes, timeout)
    future = asyncio.run_coroutine_threadsafe(_shut_and_raise(runtime, nodes, timeout), loop)
    if running is not None:
        return asyncio.wrap_future(future, loop=running)
    future.result()
    return None


def _close_and_report(runtime: Runtime, nodes: list[Stream[Any]]) -> None:
    _close_all(nodes)
    report(runtime, nodes).raise_or_warn("shutdown()")


async def _at_once(runtime: Runtime, nodes: list[Stream[Any]]) -> None:
    _close_and_report(runtime, nodes)


async def _shut_and_raise(
    runtime: Runtime, nodes: list[Stream[Any]], timeout: float | None
) -> None:
    (await shut(runtime, nodes, timeout)).raise_or_warn("shutdown()")


async def shut(
    runtime: Runtime, nodes: list[Stream[Any]], timeout: float | None, drain: bool = True
) -> Report:
    """Shut the graph made of ``nodes`` down in order, on its loop (see the module
    docstring); return what was not delivered. The graph's errors are in the report,
    not raised.

    Without ``drain``, sources stop, commit what was processed and close, and nothing
    else is waited for: what nodes hold stays there (and is reported).
    """
    from .loop import Completion
    from .sources.base import Source

    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    runs = []
    for source in nodes:
        run = getattr(source, "_run", None)
        if isinstance(source, Source) and run is not None and not run.finished.done:
            hold = (Completion(), Completion()) if drain else None
            source._hold = hold  # the run waits there before its final commit
            source.stop()
            runs.append((source, run, hold))
    timed_out = False
    if drain:
        timed_out = not await _within([h[0].wait() for _, _, h in runs if h], deadline)
        if not timed_out:
            timed_out = not await drain_within(runtime, nodes, _left(deadline))
        for _, _, hold in runs:
            if hold is not None:
                hold[1].set()  # sources commit what the drain delivered, then close
    close_by = None if deadline is None else max(deadline, loop.time() + CLOSE_GRACE)
    await _within([run.finished.wait() for _, run, _ in runs], close_by)
    for source, _, _ in runs:
        source._hold = None
    if drain:
        before = set(_unfinished(runtime))
        _close_all(nodes)
        started = [t for t in _unfinished(runtime) if t not in before]
        await _within(started, close_by)  # what closing started (to_sql writes its rows)
    result = report(runtime, nodes)
    result.timed_out, result.timeout = timed_out, timeout
    return result


def _left(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return max(0.0, deadline - asyncio.get_running_loop().time())


async def _within(waits: list[Any], deadline: float | None) -> bool:
    """Wait for ``waits`` until ``deadline`` (loop time); return whether all finished.

    On a timeout only the waiting stops: coroutines given here (waits on a
    :class:`~streams.loop.Completion`) are cancelled, futures given (the graph's own
    work) go on.
    """
    if not waits:
        return True
    mine = [asyncio.ensure_future(w) for w in waits if asyncio.iscoroutine(w)]
    theirs = [w for w in waits if not asyncio.iscoroutine(w)]
    _, pending = await asyncio.wait([*mine, *theirs], timeout=_left(deadline))
    for task in mine:
        task.cancel()
    return not pending


async def flush_until_quiet(runtime: Runtime, order: list[Stream[Any]]) -> None:
    """Push out what ``order``'s nodes hold, and wait for the graph's own work, until
    nothing moves any more (what ``drain`` does)."""
    from .runtime import settled

    while True:
        busy = False
        for node in order:
            busy = await node._flush() or busy
        tasks = list(_unfinished(runtime))
        if tasks:
            busy = True
            await settled(tasks)
        if not busy:
            return


async def drain_within(runtime: Runtime, order: list[Stream[Any]], timeout: float | None) -> bool:
    """Drain within ``timeout`` seconds; return whether the graph became quiet.

    A drain that runs out of time is not cancelled (that would cancel the windows and
    workers it waits for, and lose their elements): it goes on as work of the graph.
    """
    if timeout is None:
        await flush_until_quiet(runtime, order)
        return True
    task = asyncio.get_running_loop().create_task(flush_until_quiet(runtime, order))
    done, _ = await asyncio.wait([task], timeout=timeout)
    if not done:
        _leftover.add(task)  # not a task of the graph: later drains must not wait for it
        task.add_done_callback(_drain_ended)
        return False
    task.result()
    return True


_leftover: set[asyncio.Task[None]] = set()  # drains that ran out of time, still going


def _drain_ended(task: asyncio.Task[None]) -> None:
    _leftover.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("a drain that ran out of time failed", exc_info=task.exception())


def _unfinished(runtime: Runtime) -> Iterable[asyncio.Future[Any]]:
    return [t for t in runtime.tasks if not t.done()]


def _close_all(nodes: list[Stream[Any]]) -> None:
    """Let every node release what it owns; error streams last (they report failures of
    the others)."""
    errors = [n for n in nodes if n in n._runtime.error_streams]
    for node in [n for n in nodes if n not in errors] + errors:
        try:
            node._close()
        except Exception:
            log.exception("%s: closing failed", _name(node))


def component(node: Stream[Any]) -> list[Stream[Any]]:
    """Every node connected to ``node`` (and the graph's error streams), upstream nodes
    before downstream ones."""
    seen: set[int] = set()
    stack = [node, *node._runtime.error_streams]
    members = []
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        members.append(n)
        stack.extend(n.upstreams)
        stack.extend(n.downstreams)
    return _ordered(members)


def _ordered(members: list[Stream[Any]]) -> list[Stream[Any]]:
    """``members`` with upstream nodes before downstream ones, siblings in the order
    they were attached (a node in a cycle comes after the rest)."""
    inside = {id(n) for n in members}
    waiting = {id(n): sum(id(u) in inside for u in n.upstreams) for n in members}
    ready = [n for n in members if not waiting[id(n)]]
    order: list[Stream[Any]] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for d in node.downstreams:
            if id(d) in waiting:
                waiting[id(d)] -= 1
                if waiting[id(d)] == 0:
                    ready.append(d)
    placed = {id(n) for n in order}
    return order + [n for n in members if id(n) not in placed]


# ---------------------------------------------------------------------- reporting


class Report:
    """What a shutdown could not deliver.

    Attributes
    ----------
    holding : list of (Stream, int, int)
        Nodes still holding work: elements held, elements being handed on.
    failed : dict
        Elements that failed without reaching an error stream, per node.
    failures : list of ErrorRecord
        Those failures (the first hundred).
    failure_count : int
        How many there were in all.
    timed_out : bool
        Whether the drain ran out of time.
    """

    def __init__(self) -> None:
        self.holding: list[tuple[Stream[Any], int, int]] = []
        self.failed: dict[Any, int] = {}
        self.failures: list[Any] = []
        self.failure_count = 0
        self.timed_out = False
        self.timeout: float | None = None
        self.tasks = 0

    def __bool__(self) -> bool:
        return bool(self.holding or self.failure_count or self.tasks)

    def lines(self) -> list[str]:
        """One line per node: what it holds, hands on, or failed to deliver."""
        out = []
        for node, held, delivering in self.holding:
            out.append(_line(node, held, delivering, self.failed.get(node, 0)))
        shown = {id(node) for node, _, _ in self.holding}
        for node, failed in self.failed.items():
            if id(node) not in shown:
                out.append(_line(node, 0, 0, failed))
        unattributed = self.failure_count - sum(self.failed.values())
        if unattributed > 0:
            out.append(f"{unattributed} more failed")
        if self.tasks and not out:  # (the tasks of nodes listed are no news)
            out.append(f"{self.tasks} unfinished tasks of the graph")
        return out

    def raise_or_warn(self, what: str) -> None:
        """Raise :class:`DrainTimeout` after a timeout, else the first failure; log a
        warning for elements only more input could complete (collect, zip...)."""
        if self.timed_out:
            timeout = "" if self.timeout is None else f" within {self.timeout:g}s"
            raise DrainTimeout(
                f"{what} did not deliver everything{timeout}; still holding work: "
                + "; ".join(self.lines()),
                self.holding,
            )
        if self.failures:
            first = self.failures[0].error
            if self.failure_count > 1:
                first.add_note(f"({self.failure_count - 1} more errors since the last drain)")
            if self.holding:
                first.add_note("also undelivered: " + "; ".join(self.lines()))
            raise first
        if self:
            log.warning("%s: not delivered: %s", what, "; ".join(self.lines()))


def holding(nodes: Iterable[Stream[Any]]) -> list[tuple[Stream[Any], int, int]]:
    """The nodes holding work: ``(node, held, being delivered)``."""
    out = []
    for node in nodes:
        try:
            held, delivering = node._held_count(), node._delivering
        except RuntimeError:  # read from another thread while the loop changed it
            continue
        if held or delivering:
            out.append((node, held, delivering))
    return out


def report(runtime: Runtime, nodes: list[Stream[Any]]) -> Report:
    """What ``nodes`` still hold, and the failures nobody saw (taken from the graph)."""
    result = Report()
    result.holding = holding(nodes)
    result.tasks = len(list(_unfinished(runtime)))
    failures, runtime.failures = runtime.failures, []
    result.failure_count, runtime.failure_count = runtime.failure_count, 0
    result.failures = failures
    for record in failures:
        result.failed[record.node] = result.failed.get(record.node, 0) + 1
    return result


def timeout_error(
    what: str, runtime: Runtime, order: list[Stream[Any]], timeout: float
) -> DrainTimeout:
    """The error of a ``drain(timeout=...)`` that ran out of time, naming the nodes."""
    held = holding(order)
    parts = [_line(node, h, d, 0) for node, h, d in held]
    tasks = len(list(_unfinished(runtime)))
    if tasks and not parts:  # (the tasks of nodes listed are no news)
        parts.append(f"{tasks} unfinished tasks of the graph")
    return DrainTimeout(
        f"{what} did not finish within {timeout:g}s; still holding work: "
        + ("; ".join(parts) or "nothing any more (it finished just after the timeout)"),
        held,
    )


def _line(node: Any, held: int, delivering: int, failed: int) -> str:
    """``buffer<10>: 3 held, 1 being delivered``."""
    counts = [(held, "held"), (delivering, "being delivered"), (failed, "failed")]
    return f"{_name(node)}: " + ", ".join(f"{n} {what}" for n, what in counts if n)


def _name(node: Any) -> str:
    """How reports name a node: its name, or its kind and detail (``buffer<10>``)."""
    describe = getattr(node, "_describe", None)
    return str(describe()) if callable(describe) else str(node)


# ---------------------------------------------------------------------- at exit


def _at_exit() -> None:
    """The exit drain (a ``threading`` exit hook: see :func:`_hook`). Never raises."""
    try:
        _exit_drain()
    except BaseException as exc:  # an exit hook must not fail the exit
        print(f"streams: the exit drain failed: {exc!r}", file=sys.stderr)


def _exit_drain() -> None:
    if not _live:
        return
    enabled, timeout = _current()
    interrupted = not _join_other_threads()
    graphs = [(rt, nodes) for rt in _snapshot() if (nodes := _all_nodes(rt))]
    futures: dict[int, concurrent.futures.Future[Report]] = {}
    try:  # a second Ctrl-C or a SIGTERM, whenever it comes: stop waiting, report
        for runtime, nodes in graphs:
            loop = runtime.loop
            if loop is not None and not loop.is_closed() and loop.is_running() and not interrupted:
                coro = shut(runtime, nodes, timeout if enabled else 0.0, drain=enabled)
                futures[id(runtime)] = asyncio.run_coroutine_threadsafe(coro, loop)
        if futures:
            concurrent.futures.wait(futures.values(), timeout=timeout + CLOSE_GRACE + 1.0)
    except BaseException:
        interrupted = True
    reports: list[Report] = []
    for runtime, nodes in graphs:
        future = futures.get(id(runtime))
        ok = future is not None and future.done() and not future.cancelled()
        if ok and future.exception() is None:  # type: ignore[union-attr]
            reports.append(future.result())  # type: ignore[union-attr]
            continue
        late = report(runtime, nodes)  # nothing runs the graph any more, or it ran late
        late.timed_out = future is not None
        reports.append(late)
    _print(reports, enabled, timeout, interrupted)


def _join_other_threads() -> bool:
    """Wait for the script's other non-daemon threads (they may still emit); return
    ``False`` if interrupted (Ctrl-C) while waiting."""
    exempt: set[Any] = set()
    for module, name in (
        ("concurrent.futures.thread", "_threads_queues"),
        ("concurrent.futures.process", "_threads_wakeups"),
    ):
        mod = sys.modules.get(module)
        exempt.update(getattr(mod, name, {}).keys())  # thread pools end after this hook
    me = threading.current_thread()
    try:
        for thread in threading.enumerate():
            if thread is not me and not thread.daemon and thread not in exempt:
                thread.join()
    except KeyboardInterrupt:
        return False
    return True


def _snapshot() -> list[Runtime]:
    for _ in range(10):
        try:
            return list(_live)
        except RuntimeError:  # the set changed while it was copied
            continue
    return []


def _all_nodes(runtime: Runtime) -> list[Stream[Any]]:
    for _ in range(10):
        try:
            members = list(runtime.nodes)
            break
        except RuntimeError:
            continue
    else:
        return []
    return _ordered(members)


def _print(reports: list[Report], enabled: bool, timeout: float, interrupted: bool) -> None:
    lines = [line for r in reports for line in r.lines()]
    if not lines:
        return
    if interrupted:
        why = "the exit drain was interrupted"
    elif not enabled:
        why = "the exit drain is off: streams.exit_drain(False) or STREAMS_EXIT_DRAIN=0"
    elif any(r.timed_out for r in reports):
        why = (
            f"the exit drain did not finish within {timeout:g}s: raise the limit with "
            "streams.exit_drain(timeout=...) or STREAMS_EXIT_TIMEOUT"
        )
    else:
        why = "they wait for more input (collect, zip, partition...) or failed"
    text = "\n".join(f"  {line}" for line in lines)
    print(f"streams: at exit, accepted data was not delivered ({why}):\n{text}", file=sys.stderr)
