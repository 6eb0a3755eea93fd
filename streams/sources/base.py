"""The base class of sources."""

from __future__ import annotations

import asyncio
import codecs
import contextvars
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .._util import annotate
from ..core import Stream
from ..loop import Alarm, Completion, background_loop, running_loop
from ..protocol import Metadata, wait
from ..refs import RefCounter
from ..shutdown import started_in_script

__all__ = ["CURRENT_RUN", "Backoff", "Run", "Source", "decoder"]

T = TypeVar("T")


class Run:
    """One run of a source, from ``start()`` until ``run()`` returned.

    Each run has its own stop flag, so restarting a source cannot revive a run that is
    still winding down after ``stop()``; the new run waits for it to finish.
    """

    __slots__ = ("finished", "source", "stopped")

    def __init__(self, source: Source[Any]) -> None:
        self.source = source
        self.stopped = False
        self.finished = Completion()


CURRENT_RUN: contextvars.ContextVar[Run | None] = contextvars.ContextVar(
    "CURRENT_RUN", default=None
)
"""The run this task executes (set in the task of each run)."""


class Source(Stream[T]):
    """A node that produces elements on its own, from ``start()`` until it is done or
    stopped.

    Subclasses implement ``async def run(self)``: produce elements with
    ``await self.emit(x)`` (which waits for back pressure), check :attr:`stopped` between
    elements, and pause with ``await self.sleep(seconds)``, which :meth:`stop` cuts
    short. When ``run`` returns, the source is done: everything it emitted has been
    accepted downstream.

    A source runs on its graph's event loop: the loop running where it is built or
    started, or else the shared background loop.

    Parameters
    ----------
    start : bool, optional
        Start at once (default: nothing flows until :meth:`start`).
    **options
        ``stream_name``, ``on_error``... as for every node. An error raised by ``run`` or
        by the graph downstream while no emitter waits goes to the graph's error
        streams (see :meth:`~streams.Stream.errors`); the source goes on with its next
        element.

    Attributes
    ----------
    started : bool
        Whether :meth:`start` was called.
    stopped : bool
        Whether the source is not running (before ``start``, after ``stop`` or once done).

    Examples
    --------
    >>> import asyncio
    >>> from streams import Source
    >>> class Countdown(Source):
    ...     def __init__(self, n, **kwargs):
    ...         self.n = n
    ...         super().__init__(**kwargs)
    ...     async def run(self):
    ...         for i in range(self.n, 0, -1):
    ...             if self.stopped:
    ...                 break
    ...             await self.emit(i)
    ...             await self.sleep(0.01)
    >>> source = Countdown(3)
    >>> out = source.sink_to_list()
    >>> source.start()
    >>> source.wait()  # a plain script blocks until the source is done
    >>> out
    [3, 2, 1]
    """

    _label = "source"
    _graphviz_shape = "house"

    def __init__(self, start: bool = False, **options: Any) -> None:
        self.started = False
        self._stopped = True
        self._run: Run | None = None  # the latest run
        self._task: asyncio.Task[None] | None = None
        self._alarm = Alarm()
        # During shutdown(): (the run reached its final step, the graph was drained)
        self._hold: tuple[Completion, Completion] | None = None
        super().__init__(**options)
        self._require_loop()
        if start:
            self.start()

    async def run(self) -> None:
        """Produce the elements (override this); return when there are no more."""
        raise NotImplementedError(f"{type(self).__name__} must implement async def run()")

    @property
    def stopped(self) -> bool:
        """Whether the source is not running; inside ``run``, whether *this* run must
        stop (a restart does not revive a run still winding down)."""
        run = CURRENT_RUN.get()
        if run is not None and run.source is self:
            return run.stopped
        return self._stopped

    @property
    def done(self) -> bool:
        """Whether the source ran to its end (or was stopped) after being started."""
        return self._run is not None and self._run.finished.done

    def start(self) -> None:
        """Start producing, on the graph's loop; nothing happens if already running."""
        if self.started and not self._stopped:
            return
        runtime = self._runtime
        if runtime.loop is None:
            runtime.bind(running_loop() or background_loop())
        loop = runtime.loop
        assert loop is not None
        self.started = True
        self._stopped = False
        self._run = run = Run(self)
        if loop is running_loop():
            self._launch(run)
        else:
            started_in_script()  # SIGTERM then ends a plain script as Ctrl-C does
            loop.call_soon_threadsafe(self._launch, run)

    def _launch(self, run: Run) -> None:
        previous = self._task
        self._task = asyncio.get_running_loop().create_task(self._main(run, previous))

    async def _main(self, run: Run, previous: asyncio.Task[None] | None) -> None:
        CURRENT_RUN.set(run)  # this task's own context: see stopped and emit
        try:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])  # the last run is still winding down
            await self.run()  # even if stopped already: run() then cleans up and returns
        except Exception as exc:
            self._report(exc, None, ())
        finally:
            run.stopped = True
            if self._run is run:
                self._stopped = True
            if self._hold is not None:
                self._hold[0].set()
            run.finished.set()

    def stop(self) -> None:
        """Stop producing after the element in hand; a ``sleep`` in progress ends now."""
        if self._stopped:
            return
        self._stopped = True
        if self._run is not None:
            self._run.stopped = True
        loop = self._runtime.loop
        if loop is None or loop is running_loop():
            self._alarm.ring()
        else:
            loop.call_soon_threadsafe(self._alarm.ring)

    async def sleep(self, seconds: float) -> None:
        """Pause ``run`` for ``seconds`` of loop time, or until :meth:`stop`.

        A source sleeps between two elements: a checkpoint's cut (see
        :mod:`streams.state`) started meanwhile is taken without waiting for it to wake.
        """
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while not self.stopped:
            cut = self._cut_wait()
            if cut is not None:
                await cut
            elif loop.time() < until:
                await self._alarm.sleep_until(until)
            else:
                return

    def wait(self) -> Any:
        """Wait until the source is done: it produced everything and all of it was
        accepted downstream (or it was stopped).

        Returns
        -------
        None or awaitable
            In a plain script ``wait`` blocks; inside a running loop it returns an
            awaitable. Pair it with :meth:`~streams.Stream.drain` to also flush what
            buffering nodes still hold.
        """
        home = self._runtime.loop
        running = running_loop()
        finished = self._run.finished if self._run is not None else Completion()
        if home is None or finished.done:
            return finished.wait() if running is not None else None
        if home is running:
            return finished.wait()
        future = asyncio.run_coroutine_threadsafe(finished.wait(), home)
        if running is not None:
            return asyncio.wrap_future(future, loop=running)
        future.result()
        return None

    # ------------------------------------------------------------------ checkpoints

    _checkpointer: Any = None  # a streams.state.Checkpointer, while one runs the graph

    def _cut_wait(self) -> Any:
        """Before taking the next element: an awaitable while a checkpoint's cut is being
        taken (the source waits between elements for it), else ``None``. For sources
        that can resume from a position (see :mod:`streams.state`)."""
        checkpointer = self._checkpointer
        if checkpointer is not None and checkpointer.attention and checkpointer.cutting:
            return checkpointer.between(self)
        return None

    def _cut_started(self) -> None:
        """A checkpoint's cut started: a source waiting for input looks at it now (a
        source that waits other than in :meth:`sleep` overrides this to wake up)."""
        self._alarm.ring()

    def _element_done(self) -> Any:
        """After an element was handled (its position moved on): an awaitable if a
        checkpoint is due right here (``every=``), else ``None``."""
        checkpointer = self._checkpointer
        if checkpointer is not None and checkpointer.attention:
            return checkpointer.handled(self)
        return None

    def emit(self, x: Any, asynchronous: bool = False, metadata: Metadata | None = None) -> Any:
        """Push ``x`` downstream (see :meth:`Stream.emit`).

        Called by the source's own ``run``, a failure downstream is reported to the error
        channel instead of raised, so ``run`` goes on with its next element.
        """
        run = CURRENT_RUN.get()
        if run is None or run.source is not self:
            return super().emit(x, asynchronous, metadata)
        return self._send(x, metadata or ())

    async def _send(self, x: Any, metadata: Metadata = ()) -> None:
        """Push ``x`` downstream and wait for it; a failure is reported, not raised, so
        the source goes on with its next element."""
        self._delivering += 1
        try:
            await wait(super().emit(x, True, metadata))
        except Exception as exc:
            await self._recover(exc, x, metadata)
        finally:
            self._delivering -= 1

    async def until_drained(self) -> None:
        """Wait, while :meth:`~streams.Stream.shutdown` runs, until the graph delivered
        what it held; return at once otherwise.

        For connectors: call it in ``run`` after the last element and before a final
        commit (Kafka offsets, acknowledgements), so that the commit covers what the
        drain delivered.
        """
        hold = self._hold
        if hold is not None:
            hold[0].set()  # this run stopped reading
            await hold[1].wait()

    # ------------------------------------------------------------------ connector helpers

    async def emit_acked(
        self, x: Any, ack: Callable[[], Any], metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Emit ``x`` and call ``ack()`` once every branch downstream has finished with it.

        For at-least-once sources (Kafka offsets, Redis ``XACK``): ``ack`` runs after
        the element and everything derived from it was accepted, including by async
        sinks and by nodes that held it (buffers, windows). A failed element is never
        acknowledged. Call it from ``run`` (errors are reported, not raised).

        ``metadata`` holds further entries for the element's metadata dict, next to its
        ``'ref'``: a ``'timestamp'`` (in seconds) that an ``EventClock()`` windows by,
        for example.
        """
        ref = RefCounter(cb=ack)
        await self.emit(x, metadata=[{**metadata, "ref": ref} if metadata else {"ref": ref}])

    def reject(self, exc: Exception, raw: Any, position: str) -> None:
        """Report input that could not be read (malformed bytes, bad JSON...).

        The error goes to the error channel (per ``on_error``) with a note naming this
        source, the raw element and where it came from; the source goes on.
        """
        annotate(exc, self, raw)
        exc.add_note(f"at {position}")
        self._report(exc, raw, ())

    def connection_failed(self, exc: Exception, target: str, retry_in: float) -> None:
        """Report a failed attempt to reach ``target``; the caller retries after
        ``retry_in`` seconds (see :class:`Backoff`)."""
        exc.add_note(f"in {self._describe()}: cannot reach {target}; retrying in {retry_in:g}s")
        if not hasattr(exc, "_streams_node"):
            exc._streams_node = self  # type: ignore[attr-defined]
        self._report(exc, None, ())


class Backoff:
    """Delays between reconnection attempts: ``initial``, doubled after every failure,
    at most ``maximum``; :meth:`reset` after a success.

    Examples
    --------
    >>> backoff = Backoff(initial=0.5, maximum=3)
    >>> [backoff.next() for _ in range(5)]
    [0.5, 1.0, 2.0, 3.0, 3.0]
    >>> backoff.reset(); backoff.next()
    0.5
    """

    def __init__(self, initial: float = 0.1, maximum: float = 10.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._next = initial

    def next(self) -> float:
        """The delay before the next attempt (and double the one after)."""
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return float(min(delay, self.maximum))

    def reset(self) -> None:
        """Start over from ``initial`` (after a successful attempt)."""
        self._next = self.initial


def decoder(node: str, decode: Any) -> Callable[[Any], Any]:
    """A function turning raw bytes into elements, from a ``decode=`` option.

    ``None`` keeps bytes, ``'utf-8'`` (or any codec name) decodes text, ``'json'`` parses
    UTF-8 JSON, a callable is used as is. It raises on malformed input; sources then
    :meth:`Source.reject` the element with its position.

    Examples
    --------
    >>> decoder("from_tcp", "json")(b'{"a": 1}')
    {'a': 1}
    >>> decoder("from_tcp", "utf-8")(b"caf\\xc3\\xa9")
    'café'
    """
    if decode is None:
        return _keep
    if callable(decode):
        return decode  # type: ignore[no-any-return]
    if decode == "json":
        return _json
    if isinstance(decode, str):
        try:
            codecs.lookup(decode)
        except LookupError:
            raise ValueError(
                f"{node}: decode must be None, 'json', a codec name or a callable, got {decode!r}"
            ) from None
        return lambda raw: raw.decode(decode) if isinstance(raw, bytes | bytearray) else raw
    raise TypeError(
        f"{node}: decode must be None, 'json', a codec name or a callable, got {decode!r}"
    )


def _keep(raw: Any) -> Any:
    return raw


def _json(raw: Any) -> Any:
    return json.loads(raw)
