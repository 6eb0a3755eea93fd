"""``durable_input()``: a write-ahead log that makes any input replayable under a
:class:`~streams.state.Checkpointer`.

A source that cannot go back to a position (TCP, HTTP, websockets, MQTT, ``from_q``,
``from_periodic``, direct ``emit()`` calls) loses, in a crash, the elements it produced
since the last checkpoint. ``upstream.durable_input(store, stream_name=...)`` logs each
element into the store before anything processes it, and the graph after it reads the
log: a restore replays the entries after the checkpoint's position, then goes on with
new ones.

The graph is cut in two at the log, as a topic divides a producer from its consumer:

- the part before ``durable_input`` ends in the log (a node that appends each element
  to it and resolves the upstream's ``emit`` once the element is durable: back pressure
  reaches the producer). It holds no state, so nothing there needs checkpointing;
- the part after it is a graph of its own, headed by the :class:`DurableInput` node, a
  replayable source whose position is the sequence number of the last entry it pushed.
  It parks between elements for a cut like every source while the log keeps taking
  elements, so a producer that never pauses never holds a checkpoint up.

SQLite logs go into a table of the store's own file (``durable_input_log``) through a
connection of their own, written in a worker thread: elements that arrive while a write
is in flight go in the next one (group commit). A :class:`~streams.state.MemoryStore`
keeps its logs in memory with the store. A committed checkpoint deletes the entries up
to its position.
"""

from __future__ import annotations

import asyncio
import bisect
import pickle
import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from .._util import annotate
from ..core import Stream
from ..loop import running_loop
from ..protocol import Metadata, release_after, wait
from ..refs import retain_refs
from ..shutdown import component
from ..sinks.base import Sink
from ..sources.base import Source
from .nodes import Adapter, adapter_of, register
from .store import MemoryStore, SQLiteStore, StoreError

__all__ = ["LOG_TABLE", "SEQUENCE_TABLE", "DurableInput", "after_durable_inputs"]

T = TypeVar("T")
R = TypeVar("R")

LOG_TABLE = "durable_input_log"
"""The table of a SQLite store's file holding the logged elements: (name, seq, entry)."""

SEQUENCE_TABLE = "durable_input_seq"
"""The table holding each log's last sequence number (the log may be empty)."""

READ_CHUNK = 1000
"""Log entries read at a time when the graph reads back what it has not in memory."""

BUSY_TIMEOUT = 60.0
"""Seconds a log write waits for the store's file while a checkpoint writes it."""

YIELD_EVERY = 256
"""Entries pushed in a row before the source lets the loop run other work."""

_READ = object()  # what _take() returns when the next entry must be read from the log
_SKIPPED = object()  # an entry that could not be read back (reported, not pushed)


class _Log(Protocol):
    """Where a durable input keeps its entries: sequence numbers 1, 2, ... in order."""

    in_memory: bool
    last: int  # the last sequence number written when it was opened
    writes: int  # transactions written (group commit puts many entries in one)

    def write(self, batch: list[tuple[int, bytes]], prune_to: int) -> None: ...

    def read(self, after: int, upto: int, limit: int) -> list[tuple[int, bytes]]: ...


class _SQLiteLog:
    """Entries in a table of a SQLite store's file, through a connection of its own."""

    in_memory = False

    def __init__(self, store: SQLiteStore, name: str) -> None:
        self.name = name
        self.path = store.path
        self.writes = 0
        self._lock = threading.Lock()  # one thread at a time uses the connection
        try:
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
            )
            db.execute(f"PRAGMA synchronous={store.synchronous}")
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} "
                "(name TEXT, seq INTEGER, entry BLOB, PRIMARY KEY (name, seq))"
            )
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {SEQUENCE_TABLE} "
                "(name TEXT PRIMARY KEY, last INTEGER) WITHOUT ROWID"
            )
            row = db.execute(f"SELECT last FROM {SEQUENCE_TABLE} WHERE name = ?", (name,))
            last = row.fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot keep the log of {name!r} ({exc})") from exc
        self._db = db
        self.last: int = last[0] if last else 0

    def write(self, batch: list[tuple[int, bytes]], prune_to: int) -> None:
        """Append ``batch`` and delete the entries up to ``prune_to``, in one transaction."""
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                if batch:
                    db.executemany(
                        f"INSERT INTO {LOG_TABLE} VALUES (?, ?, ?)",
                        [(self.name, seq, entry) for seq, entry in batch],
                    )
                    db.execute(
                        f"INSERT OR REPLACE INTO {SEQUENCE_TABLE} VALUES (?, ?)",
                        (self.name, batch[-1][0]),
                    )
                if prune_to:
                    db.execute(
                        f"DELETE FROM {LOG_TABLE} WHERE name = ? AND seq <= ?",
                        (self.name, prune_to),
                    )
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"{self.path}: the log of {self.name!r}: {exc}") from exc
                raise
            self.writes += 1

    def read(self, after: int, upto: int, limit: int) -> list[tuple[int, bytes]]:
        """The entries ``after < seq <= upto``, at most ``limit``, in order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT seq, entry FROM {LOG_TABLE} WHERE name = ? AND seq > ? AND seq <= ? "
                "ORDER BY seq LIMIT ?",
                (self.name, after, upto, limit),
            )
            return rows.fetchall()


class _MemoryLog:
    """Entries in memory, kept with a :class:`MemoryStore` (restarts in one process)."""

    in_memory = True

    def __init__(self) -> None:
        self.entries: list[tuple[int, bytes]] = []
        self.last = 0
        self.writes = 0

    def write(self, batch: list[tuple[int, bytes]], prune_to: int) -> None:
        self.entries.extend(batch)
        if batch:
            self.last = batch[-1][0]
        if prune_to:
            del self.entries[: bisect.bisect_right(self.entries, prune_to, key=_seq)]
        self.writes += 1

    def read(self, after: int, upto: int, limit: int) -> list[tuple[int, bytes]]:
        start = bisect.bisect_right(self.entries, after, key=_seq)
        end = bisect.bisect_right(self.entries, upto, key=_seq)
        return self.entries[start : min(end, start + limit)]


def _seq(entry: tuple[int, Any]) -> int:
    return entry[0]


_MEMORY_LOGS: weakref.WeakKeyDictionary[MemoryStore, dict[str, _MemoryLog]] = (
    weakref.WeakKeyDictionary()
)


def _open_log(store: Any, name: str) -> _Log:
    if isinstance(store, MemoryStore):
        return _MEMORY_LOGS.setdefault(store, {}).setdefault(name, _MemoryLog())
    if isinstance(store, SQLiteStore):
        return _SQLiteLog(store, name)
    raise TypeError(
        f"durable_input {name!r}: the log is kept in a SQLiteStore or a MemoryStore, got {store!r}"
    )


class DurableInput(Source[T]):
    """Node behind :meth:`Stream.durable_input <streams.Stream.durable_input>`: the head
    of the graph after the log, a source that pushes the logged elements in order.

    Attributes
    ----------
    store : SQLiteStore or MemoryStore
        Where the log is kept.
    intake : Stream
        The node ending the graph before the log (it logs each element it receives).
    max_backlog : int
        How many logged elements may wait to be pushed before the upstream waits.
    position : int
        The sequence number of the last entry pushed downstream (and handled).
    logged : int
        The sequence number of the last entry made durable: the number of elements
        ever logged, so a producer that resends what was not acknowledged can start
        after it.

    Examples
    --------
    >>> import asyncio
    >>> from streams import Stream
    >>> from streams.state import MemoryStore
    >>> source = Stream()
    >>> logged = source.durable_input(MemoryStore(), stream_name="events")
    >>> out = logged.sink_to_list()
    >>> async def main():
    ...     await source.emit("a")  # logged before emit returns; nothing started yet
    ...     logged.start()
    ...     await logged.drain()  # until the graph has caught up with the log
    ...     logged.stop()
    ...     return logged.logged, logged.position
    >>> asyncio.run(main())
    (1, 1)
    >>> out
    ['a']
    """

    _label = "durable_input"

    def __init__(
        self,
        upstream: Stream[Any],
        store: Any,
        max_backlog: int = 10_000,
        start: bool = False,
        **options: Any,
    ) -> None:
        name = options.get("stream_name")
        if not name:
            raise TypeError(
                "durable_input needs a stream_name: it names the log in the store and the "
                "source to the checkpointer"
            )
        if not isinstance(max_backlog, int) or max_backlog < 1:
            raise ValueError(
                f"durable_input {name!r}: max_backlog must be a positive int, got {max_backlog!r}"
            )
        self.store = store
        self.max_backlog = max_backlog
        self._log = _open_log(store, str(name))
        self.logged = self._last = self._log.last  # durable / given out sequence numbers
        self.position = 0
        self._cut_at = 0  # the position at the latest cut
        self._prune_to = self._pruned = 0
        # copies of entries accepted in this process and not pushed yet, oldest first;
        # entries not held here are read back from the log (_replay)
        self._memory: deque[tuple[int, Any, Metadata]] = deque()
        self._replay: deque[tuple[int, Any, Metadata]] = deque()
        self._line: deque[tuple[Any, Metadata, bytes, asyncio.Future[None]]] = deque()
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()  # for durability
        self._unwritten: list[tuple[int, bytes]] = []
        self._writer: asyncio.Task[None] | None = None
        self._signal: asyncio.Future[None] | None = None  # something moved
        super().__init__(**options)
        self.intake: Stream[Any] = _Intake(upstream, self)
        if start:
            self.start()

    def _detail(self) -> str:
        return type(self.store).__name__

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        """Start pushing logged elements, and start the sources upstream of the log."""
        super().start()
        for source in self._feeders():
            source.start()

    def stop(self) -> None:
        """Stop the sources upstream of the log, and stop pushing after the element in
        hand; what is logged and not pushed yet is pushed by the next run."""
        for source in self._feeders():
            source.stop()
        super().stop()
        loop = self._runtime.loop
        if loop is None or loop is running_loop():
            self._stopped_now()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._stopped_now)

    def _stopped_now(self) -> None:
        self._admit()  # nothing waits for room while nothing is pushed
        self._notify()

    def emit(self, x: Any, asynchronous: bool = False, metadata: Metadata | None = None) -> Any:
        """Log ``x`` (as if emitted upstream of the log); the graph after the log gets
        it from there. Returns what :meth:`Stream.emit` returns."""
        intake = self.intake
        md = list(metadata or ())

        def push() -> Any:
            if not md:
                return intake.update(x, None, ())
            retain_refs(md)
            return release_after(intake.update(x, None, md), md)

        return intake._enter(push, asynchronous)

    async def run(self) -> None:
        ends = self._ends()
        watchers = [asyncio.ensure_future(s.wait()) for s in ends]
        for w in watchers:
            w.add_done_callback(lambda _: self._notify())
        pushed = 0
        try:
            while not self.stopped:  # checked before taking an entry: a stop loses none
                cut = self._cut_wait()
                if cut is not None:
                    await cut
                    continue
                entry = self._take()
                if entry is _READ:
                    await self._read_log()
                    continue
                if entry is None:
                    if ends and all(s.done for s in ends) and self._caught_up():
                        break  # every source upstream ended and all it gave is pushed
                    await self._changed()  # (a checkpoint's cut wakes it too)
                    continue
                assert isinstance(entry, tuple)
                await self._deliver(*entry)
                due = self._element_done()
                if due is not None:
                    await due
                pushed += 1
                if pushed % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let timers and the upstream run
        finally:
            for w in watchers:
                w.cancel()
            self._notify()  # (a drain waiting for this run)

    def _take(self) -> Any:
        """The next entry to push: ``(seq, x, metadata)``; ``_READ`` if it must be read
        from the log first; ``None`` if there is none yet (or it is not durable yet)."""
        if self._replay:
            return self._replay.popleft()
        memory = self._memory
        while memory and memory[0][0] <= self.position:  # (a restore went past them)
            memory.popleft()
        if memory and memory[0][0] == self.position + 1:
            return memory.popleft() if memory[0][0] <= self.logged else None
        return _READ if self.position < self.logged else None

    async def _read_log(self) -> None:
        upto = self.logged
        if self._memory:
            upto = min(upto, self._memory[0][0] - 1)
        after = self.position
        rows = await self._off_loop(self._log.read, after, upto, READ_CHUNK)
        if not rows or rows[0][0] != after + 1:  # entries missing: never silently skipped
            first = rows[0][0] if rows else upto + 1
            error = StoreError(
                f"{self._describe()}: the log has no entries {after + 1} to {first - 1} "
                "(deleted by a checkpoint of another graph, or another store?)"
            )
            self._report(error, None, ())
            self._replay.append((first - 1, _SKIPPED, ()))
        for seq, blob in rows:
            try:
                x, metadata = pickle.loads(blob)
            except Exception as exc:
                self.reject(exc, blob, f"entry {seq} of the log")
                x, metadata = _SKIPPED, ()
            self._replay.append((seq, x, metadata))

    async def _deliver(self, seq: int, x: Any, metadata: Metadata) -> None:
        if x is not _SKIPPED:
            self.current_value = x
            try:
                r = self._push(x, self, metadata)
                if r is not None:
                    await wait(r)
            except Exception as exc:  # this element failed downstream; go on
                await self._recover(exc, x, metadata)
        self.position = seq
        self._admit()
        self._notify()

    def _caught_up(self) -> bool:
        return not self._line and not self._unwritten and self.position >= self._last

    def _feeders(self) -> list[Source[Any]]:
        """The sources upstream of the log."""
        intake = getattr(self, "intake", None)
        return [n for n in _ancestors(intake) if isinstance(n, Source)] if intake else []

    def _ends(self) -> list[Source[Any]]:
        """The sources the input ends with: the heads upstream of the log, if they are all
        sources (a plain ``Stream()`` takes ``emit()`` calls for ever)."""
        heads = [n for n in _ancestors(self.intake) if not n.upstreams]
        sources = [n for n in heads if isinstance(n, Source)]
        return sources if heads and len(sources) == len(heads) else []

    async def _flush(self) -> bool:
        """Wait until the graph has caught up with what was logged when asked. A stopped
        input under a checkpointer (``stop(drain=True)``: the input has ended) pushes
        the rest of the log here, so the last checkpoint holds all of it."""
        target = self._last
        if self.position >= target:
            return False
        run = self._run
        if not self._stopped:
            while self.position < target and not self._stopped:
                await self._changed()
            if self.position >= target:
                return True
        if self._checkpointer is None:
            return False  # the next run pushes them
        if run is not None and not run.finished.done:
            await run.finished.wait()
        await self._logged_all()  # (what was accepted before the stop)
        delivered = False
        while True:
            entry = self._take()
            if entry is _READ:
                await self._read_log()
            elif entry is None:
                return delivered
            else:
                assert isinstance(entry, tuple)
                await self._deliver(*entry)
                delivered = True

    def _on_loop(self) -> None:
        intake = getattr(self, "intake", None)
        if intake is not None:
            _share_loop(self._runtime, intake._runtime)

    # ------------------------------------------------------------------ the log

    def _accept(self, x: Any, metadata: Metadata) -> Any:
        """Log ``x`` (the intake's update): ``None`` if it is durable already, else a
        future that resolves once it is."""
        loop = asyncio.get_running_loop()
        home = self._runtime.loop
        if home is None:
            self._runtime.bind(loop)
        elif home is not loop:
            raise RuntimeError(
                f"{self._describe()}: the graphs before and after durable_input must run "
                f"on one event loop (elements arrive on {loop!r}, the graph runs on {home!r})"
            )
        kept = _without_refs(metadata)
        try:
            entry = pickle.dumps((x, kept), protocol=5)
        except Exception as exc:
            error = TypeError(
                f"{self._describe()}: the element cannot be logged, it cannot be pickled "
                f"({type(exc).__name__}: {exc}); durable_input replays only picklable "
                "elements (nothing was logged for it)"
            )
            annotate(error, self, x)
            raise error from exc
        if self._line or (not self._stopped and self._last - self.position >= self.max_backlog):
            room: asyncio.Future[None] = loop.create_future()
            self._line.append((x, kept, entry, room))
            return room
        return self._durable(self._append(x, kept, entry), None)

    def _append(self, x: Any, metadata: Metadata, entry: bytes) -> int:
        self._last += 1
        seq = self._last
        if not self._stopped:  # the running graph takes it from memory
            self._memory.append((seq, x, metadata))
        if self._log.in_memory:
            self._log.write([(seq, entry)], 0)
            self._logged(seq)
        else:
            self._unwritten.append((seq, entry))
            self._write_soon()
        return seq

    def _durable(self, seq: int, future: asyncio.Future[None] | None) -> Any:
        if seq <= self.logged:
            if future is not None and not future.done():
                future.set_result(None)
            return None
        if future is None:
            future = asyncio.get_running_loop().create_future()
        self._waiters.append((seq, future))
        return future

    def _admit(self) -> None:
        """Log the elements waiting for room, in order, while there is room."""
        line = self._line
        while line and (self._stopped or self._last - self.position < self.max_backlog):
            x, metadata, entry, room = line.popleft()
            if not room.cancelled():  # (an emitter that gave up: never accepted)
                self._durable(self._append(x, metadata, entry), room)

    def _logged(self, seq: int) -> None:
        """Every entry up to ``seq`` is durable."""
        self.logged = seq
        waiters = self._waiters
        while waiters and waiters[0][0] <= seq:
            future = waiters.popleft()[1]
            if not future.done():
                future.set_result(None)
        self._notify()

    def _write_soon(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_all())

    async def _write_all(self) -> None:
        """Write what is unwritten, and the deletions a commit asked for, until nothing
        is left; what arrives during a write goes in the next one."""
        while self._unwritten or self._prune_to > self._pruned:
            batch, self._unwritten = self._unwritten, []
            prune = self._prune_to
            try:
                await self._off_loop(self._log.write, batch, prune if prune > self._pruned else 0)
            except Exception as exc:
                self._write_failed(batch, prune, exc)
                continue
            self._pruned = max(self._pruned, prune)
            if batch:
                self._logged(batch[-1][0])
            else:
                self._notify()

    def _write_failed(self, batch: list[tuple[int, bytes]], prune: int, exc: Exception) -> None:
        """A failed write: its elements and those after them are not accepted (their
        emitters get the error); what was durable before stays."""
        self._pruned = max(self._pruned, prune)  # the next commit deletes them
        if not batch:
            self._report(exc, None, ())
            self._notify()
            return
        first = batch[0][0]
        self._unwritten.clear()
        self._last = first - 1
        while self._memory and self._memory[-1][0] >= first:
            self._memory.pop()
        error = StoreError(f"{self._describe()}: elements could not be logged: {exc}")
        error.__cause__ = exc
        while self._waiters and self._waiters[-1][0] >= first:
            future = self._waiters.pop()[1]
            if not future.done():
                future.set_exception(error)
        self._notify()

    async def _off_loop(self, work: Callable[..., R], *args: Any) -> R:
        if self._log.in_memory:
            return work(*args)
        return await asyncio.get_running_loop().run_in_executor(None, work, *args)

    def _notify(self) -> None:
        signal = self._signal
        if signal is not None:
            self._signal = None
            if not signal.done():
                signal.set_result(None)

    def _cut_started(self) -> None:
        self._notify()  # an idle input parks at once (see Source._cut_started)

    async def _changed(self) -> None:
        """Wait until an entry is logged or pushed, the input stops or a cut starts."""
        if self._signal is None:
            self._signal = asyncio.get_running_loop().create_future()
        # (wait() neither cancels the shared future nor stays attached to it)
        await asyncio.wait([self._signal])

    def _writing(self) -> bool:
        return (
            bool(self._line or self._unwritten or self.logged < self._last)
            or self._prune_to > self._pruned
        )

    async def _logged_all(self) -> bool:
        """Wait until every element received so far is durable, and the entries a
        committed checkpoint covers are deleted (the intake's drain)."""
        if not self._writing():
            return False
        while self._writing():
            await self._changed()
        return True

    # ------------------------------------------------------------------ checkpoints

    def _snapshot(self) -> int:
        self._cut_at = self.position
        return self.position

    def _restore(self, position: int) -> None:
        self.position = self._cut_at = position
        self._replay.clear()
        self._last = max(self._last, position)
        self.logged = max(self.logged, position)

    def _committed(self) -> asyncio.Task[None] | None:
        """The checkpoint of the latest cut committed: its entries are not needed. For
        a SQLite log, returns a task that ends once they are deleted."""
        target = self._cut_at
        if target <= self._prune_to:
            return None
        self._prune_to = target
        if self._log.in_memory:
            self._log.write([], target)
            self._pruned = target
            return None
        self._write_soon()
        return asyncio.ensure_future(self._pruned_upto(target))

    async def _pruned_upto(self, target: int) -> None:
        while self._pruned < target:
            await self._changed()

    def _why_not(self) -> str | None:
        for node in component(self.intake):
            if node is self or isinstance(node, _Intake) or adapter_of(node) is None:
                continue
            if isinstance(node, Source):
                return (
                    f"{node._describe()} feeds it and can replay its elements itself: "
                    "connect it without durable_input"
                )
            return (
                f"{node._describe()} keeps state before durable_input; elements reach it "
                "before they are logged, so a restore could not replay them into it (move "
                "it after durable_input)"
            )
        return None


class _Intake(Sink[Any]):
    """The end of the graph before a durable input: it logs each element."""

    _label = "durable_input"

    def __init__(self, upstream: Stream[Any], owner: DurableInput[Any]) -> None:
        self.owner = owner
        super().__init__(upstream)
        self._require_loop()

    def _detail(self) -> str:
        return self.owner._describe()

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        return self.owner._accept(x, metadata)

    def _held_count(self) -> int:
        owner = self.owner
        return len(owner._line) + owner._last - owner.logged

    async def _flush(self) -> bool:
        return await self.owner._logged_all()

    def _on_loop(self) -> None:
        _share_loop(self._runtime, self.owner._runtime)


def _without_refs(metadata: Metadata) -> Metadata:
    """What of an element's metadata is logged with it: all but its refs (acknowledged
    once the element is durable), e.g. an event-time ``'timestamp'``."""
    if not metadata:
        return ()
    kept = ({k: v for k, v in m.items() if k != "ref"} for m in metadata)
    return tuple(m for m in kept if m)


def _share_loop(bound: Any, other: Any) -> None:
    """The graphs before and after a log run on one loop: bind ``other`` to ``bound``'s."""
    loop = bound.loop
    if loop is not None and other.loop is None:
        other.bind(loop)


def _ancestors(node: Stream[Any]) -> list[Stream[Any]]:
    seen: set[int] = set()
    stack = list(node.upstreams)
    found = []
    while stack:
        n = stack.pop()
        if id(n) not in seen:
            seen.add(id(n))
            found.append(n)
            stack.extend(n.upstreams)
    return found


def after_durable_inputs(nodes: list[Stream[Any]], store: Any) -> list[Stream[Any]]:
    """The nodes a checkpointer given ``nodes`` checkpoints: a graph that ends in a
    ``durable_input()`` log counts as the graph after the log (the part before it only
    feeds the log; its adapter refuses state there).

    Raises :class:`~streams.state.DurabilityError` for a log kept in another store than
    the checkpointer's: its entries are deleted by the checkpoints that hold them.
    """
    before: set[int] = set()
    after: list[Stream[Any]] = []
    for node in nodes:
        if isinstance(node, _Intake) and id(node) not in before:
            before.update(id(n) for n in component(node))
            after.extend(component(node.owner))
    kept = [n for n in nodes if id(n) not in before]
    ids = {id(n) for n in kept}
    for node in after:
        if id(node) not in ids:
            ids.add(id(node))
            kept.append(node)
    for node in kept:
        if isinstance(node, DurableInput) and node.store is not store:
            from .checkpointer import DurabilityError

            raise DurabilityError(
                f"{node._describe()}: its log is not in the checkpointer's store; the "
                "checkpoints must be those that say which of its entries are done"
            )
    return kept


@register("streams.state.wal.DurableInput")
class _DurableInputAdapter(Adapter):
    """The sequence number of the last entry pushed; a restore replays the entries after
    it, and a committed checkpoint deletes those up to it."""

    def why_not(self, node: Any) -> str | None:
        why: str | None = node._why_not()
        return why

    def snapshot(self, node: Any) -> Any:
        return node._snapshot()

    def restore(self, node: Any, value: Any) -> None:
        node._restore(value)

    def committed(self, node: Any) -> Any:
        return node._committed()
