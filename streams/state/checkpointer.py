"""The checkpointer: consistent snapshots of a running graph, and its restore.

A checkpoint is a *quiescent cut*. The graph runs on one event loop, so once every
source waits between two elements and no pushed element is still on its way (no pending
emit, no worker busy), every element before each source's position has been handled
completely and none after it has touched anything. The cut is taken at that instant,
synchronously: each stateful node's state and each source's position are read, then the
sources go on while the store writes the checkpoint in a worker thread, in one
transaction. Restoring that state and replaying each source from its position repeats
every later element exactly once: exactly-once state, for replayable sources and
deterministic functions.

Sources pause only between elements and only for the cut, so back pressure always
resolves; a graph that holds elements in an asynchronous node (``buffer``...) is let
run until they have gone through (those nodes' queues are not stored yet).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from ..core import Stream
from ..runtime import settled
from ..shutdown import component
from ..sources.base import Source
from .crash import crash_point
from .nodes import adapter_of
from .store import Checkpoint, Restored

__all__ = ["Checkpointer", "DurabilityError"]

RETRY = 0.05  # loop seconds a cut waits for the sources before letting them go on a moment


class DurabilityError(ValueError):
    """A graph that cannot be checkpointed as it is (an unnamed stateful node, a source
    that cannot be replayed, a cycle), or a store written by another graph."""


class Checkpointer:
    """Checkpoint a graph's state and source positions into ``store``, and restore the
    latest checkpoint before the sources start.

    Use it as an async (or plain) context manager around the running graph: entering
    restores (or, for a fresh store, commits checkpoint 0) and starts the sources;
    leaving stops them at an element boundary and takes a last checkpoint.

    Parameters
    ----------
    *graph : Stream
        A node of each graph to checkpoint (the whole connected graph is taken).
    store : SQLiteStore or MemoryStore
        Where checkpoints go.
    interval : float, optional
        Loop seconds between checkpoints (default 5; ``None``: no timer).
    every : int, optional
        Also a checkpoint every this many source elements.
    wait_for_commit : bool
        Keep the sources waiting until the checkpoint is durable, not only cut: a
        restore then resumes exactly after the last cut before a crash.
    allow_missing_state : bool
        Start a node the store knows nothing of empty, instead of refusing.
    drop_unknown_state : bool
        Ignore stored state of nodes no longer in the graph, instead of refusing.

    Attributes
    ----------
    last_id : int
        The id of the latest committed checkpoint (0: the one of a fresh start).
    last_pause, last_duration : float
        Seconds the sources waited for the latest cut, and from asking for the latest
        checkpoint to its commit.
    restored : dict
        The position each source was restored to (empty after a fresh start).

    Examples
    --------
    >>> import asyncio
    >>> from streams import Stream
    >>> from streams.state import Checkpointer, MemoryStore
    >>> store = MemoryStore()
    >>> def run(items):
    ...     source = Stream.from_iterable(items, stream_name="numbers")
    ...     total = source.accumulate(lambda a, x: a + x, start=0, stream_name="total")
    ...     async def main():
    ...         async with Checkpointer(source, store=store, every=1):
    ...             await source.wait()
    ...         return total.state
    ...     return asyncio.run(main())
    >>> run(range(5))
    10
    >>> run(range(8))  # the same source, restarted: 0-4 were done already
    28
    """

    def __init__(
        self,
        *graph: Stream[Any],
        store: Any,
        interval: float | None = 5.0,
        every: int | None = None,
        wait_for_commit: bool = False,
        allow_missing_state: bool = False,
        drop_unknown_state: bool = False,
    ) -> None:
        if not graph:
            raise TypeError("Checkpointer: give a node of the graph to checkpoint")
        if interval is not None and not (isinstance(interval, int | float) and interval > 0):
            raise ValueError(f"Checkpointer: interval must be positive seconds, got {interval!r}")
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"Checkpointer: every must be a positive int, got {every!r}")
        self.store = store
        self.interval = interval
        self.every = every
        self.wait_for_commit = wait_for_commit
        self.allow_missing_state = allow_missing_state
        self.drop_unknown_state = drop_unknown_state
        self.last_id = 0
        self.restored: dict[str, Any] = {}
        self.last_pause = 0.0  # seconds the sources waited for the latest cut
        self.last_duration = 0.0  # seconds from asking for the latest checkpoint to its commit
        nodes: list[Stream[Any]] = []
        for node in graph:
            nodes.extend(n for n in component(node) if n not in nodes)
        self.sources, self.stateful = self._examine(nodes)
        for node, _ in self.stateful.values():
            other = getattr(node, "store", store)
            if getattr(node, "table", None) is not None and other is not store:
                raise DurabilityError(
                    f"{node._describe()}: its store is not the checkpointer's; the rows "
                    "must be written in the checkpoint's own transaction"
                )
        self.fingerprint = _fingerprint(self.sources, self.stateful)
        self._pending: asyncio.Future[None] | None = None  # the cut is being taken
        # whether sources must call between() and handled(): a cut is being taken, or
        # elements are counted for ``every``
        self.attention = every is not None
        self._resume: asyncio.Future[None] | None = None  # sources wait for it
        self._parked: set[Source[Any]] = set()
        self._elements = 0
        self._lock: asyncio.Lock | None = None
        self._timer: asyncio.Task[None] | None = None
        self._periodic: asyncio.Future[int] | None = None  # a timer's checkpoint under way
        self._spawned: asyncio.Future[None] | None = None  # one every= asked for
        self._armed = 0  # how many times the sources were asked to wait
        self._stopping = False  # stop(): the sources end at the next cut
        self._failure: Exception | None = None  # a periodic checkpoint that failed
        self.taking = 0  # the id of the checkpoint being cut
        self._last: asyncio.Future[None] | None = None  # stop()'s last checkpoint is done

    # -------------------------------------------------------------- the graph

    def _examine(self, nodes: list[Stream[Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        from .wal import after_durable_inputs

        nodes = after_durable_inputs(nodes, self.store)  # a logged input: the graph after it
        looped = _in_a_cycle(nodes)
        if looped is not None:
            raise DurabilityError(
                f"{looped._describe()}: this node is in a cycle of the graph; a cut needs "
                "every element to leave the graph, so a graph with a cycle cannot be "
                "checkpointed"
            )
        sources: dict[str, Any] = {}
        stateful: dict[str, Any] = {}
        for node in nodes:
            adapter = adapter_of(node)
            if adapter is None:
                continue
            why = adapter.why_not(node)
            if why:
                raise DurabilityError(f"{node._describe()}: {why}")
            if node._dask is not None and not adapter.distributed:
                raise DurabilityError(
                    f"{node._describe()}: on a distributed stream this node holds Dask "
                    "futures, which cannot be stored (they live only as long as the "
                    "cluster): gather() first"
                )
            if node.name is None:
                kind = "source" if isinstance(node, Source) else "stateful node"
                raise DurabilityError(
                    f"{node._describe()}: a {kind} needs a stream_name to be checkpointed "
                    "(the name identifies its state in the store across restarts)"
                )
            name = str(node.name)
            table = sources if isinstance(node, Source) else stateful
            if name in sources or name in stateful:
                raise DurabilityError(f"two nodes are named {name!r}: names must be unique")
            table[name] = (node, adapter)
        for node in nodes:
            if isinstance(node, Source) and str(node.name) not in sources:
                raise DurabilityError(
                    f"{node._describe()}: this source cannot be restored to a position, "
                    "so a restore would lose its elements since the last checkpoint; log "
                    "them with .durable_input(store, stream_name=...) to make them "
                    "replayable"
                )
        return sources, stateful

    # -------------------------------------------------------------- entering

    async def __aenter__(self) -> Checkpointer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __enter__(self) -> Checkpointer:
        from ..loop import background_loop, run_sync

        self._loop = background_loop()
        run_sync(self.start(), self._loop)
        return self

    def __exit__(self, *exc: object) -> None:
        from ..loop import run_sync

        run_sync(self.stop(), self._loop)

    async def start(self) -> None:
        """Restore the latest checkpoint (or commit checkpoint 0), then start the
        sources and the checkpoint timer."""
        loop = asyncio.get_running_loop()
        self._lock = asyncio.Lock()
        for node, adapter in (self.sources | self.stateful).values():
            adapter.attached(node, self)
        restored = await self._off_loop(self.store.load)
        if restored is not None:
            crash_point("restore_loaded")
            self._restore(restored)
        else:
            await self._commit_now(0)
        for node, _ in self.sources.values():
            node._checkpointer = self
            node.start()
        if self.interval is not None:
            self._timer = loop.create_task(self._tick(self.interval))

    def _restore(self, restored: Restored) -> None:
        names = set(self.sources) | set(self.stateful)
        stored = set(restored.state) | set(restored.positions)
        if restored.fingerprint != self.fingerprint:
            missing = sorted(names - stored)
            unknown = sorted(stored - names)
            if missing and not self.allow_missing_state:
                raise DurabilityError(
                    f"the store has no state for {missing} (new nodes?); pass "
                    "allow_missing_state=True to start them empty"
                )
            if unknown and not self.drop_unknown_state:
                raise DurabilityError(
                    f"the store has state for {unknown}, which the graph does not have "
                    "(renamed or removed nodes?); pass drop_unknown_state=True to drop it"
                )
        for name, (node, adapter) in self.stateful.items():
            if name in restored.state:
                adapter.restore(node, restored.state[name])
        for name, (node, adapter) in self.sources.items():
            if name in restored.positions:
                adapter.restore(node, restored.positions[name])
                self.restored[name] = restored.positions[name]
        self.last_id = restored.id

    # -------------------------------------------------------------- the cut

    @property
    def cutting(self) -> bool:
        """Whether a cut is being taken (sources wait at their next element)."""
        return self._pending is not None

    async def between(self, source: Source[Any]) -> None:
        """Called by a source before it takes its next element: wait while a cut is
        being taken."""
        try:
            while self._pending is not None:
                self._parked.add(source)
                resume = self._resume
                assert resume is not None
                self._poke()
                await asyncio.shield(resume)
        finally:  # (also if the wait is cancelled: the source is not parked any more)
            self._parked.discard(source)

    def handled(self, source: Source[Any]) -> Any:
        """Called by a source after each element was handled: counts for ``every``;
        returns an awaitable (for the source to await) when it must wait for a cut."""
        if self.every is not None:
            self._elements += 1
            if self._elements >= self.every:
                self._elements = 0
                if self._pending is None:  # a checkpoint right here, at this element
                    self._arm()
                    self._spawned = asyncio.ensure_future(self._checkpoint_quietly())
        return self.between(source) if self._pending is not None else None

    async def _checkpoint_quietly(self) -> None:
        try:
            await self.checkpoint()
        except Exception as exc:  # kept for stop(), which raises it
            self._failure = exc

    def _arm(self) -> None:
        """Ask the sources to wait at their next element."""
        loop = asyncio.get_running_loop()
        self._pending = loop.create_future()
        self._resume = loop.create_future()
        self.attention = True
        self._armed += 1
        for node, _ in self.sources.values():
            node._cut_started()  # an idle source parks now, not at its next element

    def _poke(self) -> None:
        pending = self._pending
        if pending is not None and not pending.done() and self._quiet():
            pending.set_result(None)

    def _quiet(self) -> bool:
        for node, _ in self.sources.values():
            if node not in self._parked and not node.stopped:
                return False
        return True

    async def checkpoint(self) -> int:
        """Take a checkpoint now; return its id once it is committed."""
        assert self._lock is not None, "Checkpointer: start() it first"
        async with self._lock:
            if self._pending is None:
                self._arm()
            mine = None  # the arming this checkpoint's cut was taken with
            asked = time.perf_counter()
            try:
                await self._cut_point()
                mine = self._armed
                checkpoint = self._take(self.last_id + 1)
                if self._stopping:  # the last one: the sources end at this cut
                    for node, _ in self.sources.values():
                        node.stop()
                freeze = getattr(self.store, "freeze", None)
                if freeze is not None:
                    freeze(checkpoint)  # serialized at the cut, before the graph goes on
                crash_point("cut_taken")
                if not self.wait_for_commit:
                    self._release()
                    self.last_pause = time.perf_counter() - asked
                await self._off_loop(self.store.commit, checkpoint)
                self.last_id = checkpoint.id
                # (the nodes' outputs first: a source's acknowledgement comes after them)
                for node, adapter in (self.stateful | self.sources).values():
                    after = adapter.committed(node)  # e.g. acknowledge what it holds
                    if after is not None:  # e.g. send its outbox to Kafka
                        await after
            finally:  # (not a later arming: every= may ask during the commit)
                if self._pending is not None and mine in (None, self._armed):
                    self._release()
                    self.last_pause = time.perf_counter() - asked
            self.last_duration = time.perf_counter() - asked
            return self.last_id

    async def _cut_point(self) -> None:
        """Wait until every source waits between elements and nothing is on its way.

        A source stuck inside an element (its push waits for room that only another,
        waiting source would make: a bounded ``zip``) cannot reach the cut; after
        ``RETRY`` loop seconds every source goes on for a moment, then the cut is tried
        again, waiting twice as long each time (so elements queued for a slow consumer
        get through): the graph never deadlocks on a checkpoint."""
        timeout = RETRY
        while not await self._quiet_within(timeout):
            self._release()
            await asyncio.sleep(RETRY)
            if self._pending is None:  # (every= may have asked again meanwhile)
                self._arm()
            timeout = min(timeout * 2, 30.0)  # a slow consumer gets longer to catch up

    async def _quiet_within(self, timeout: float) -> bool:
        """Wait at most ``timeout`` loop seconds for the quiescent instant; return whether
        it came (the caller then takes the cut at once, before its next ``await``).

        Quiescent: every source waits between two elements and nothing is on its way.
        A node whose held elements go into the snapshot (its adapter's
        ``queue_in_snapshot``: ``delay``, ``latest``, ``timed_window``) is not waited
        for to empty, only for the element it may be pushing; once the sources wait, it
        is asked to start no new push until the cut is taken (or given up), so a busy
        ``delay`` does not hold the cut until it runs dry.
        """
        runtimes = list({id(n._runtime): n._runtime for n, _ in self.sources.values()}.values())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pending = self._pending
        assert pending is not None
        holding = [
            (node, adapter)
            for node, adapter in self.stateful.values()
            if getattr(adapter, "queue_in_snapshot", False)
        ]
        resume: asyncio.Future[None] = loop.create_future()  # they push on once it is done
        try:
            while True:
                self._poke()
                try:
                    left = max(deadline - loop.time(), 0)
                    await asyncio.wait_for(asyncio.shield(pending), left)
                except TimeoutError:
                    return False
                busy: list[asyncio.Future[Any]] = []
                resting: set[asyncio.Future[Any]] = set()  # their own tasks (worker)
                for node, adapter in holding:
                    pushing, own = adapter.pause(node, resume)
                    if pushing is not None:
                        busy.append(pushing)  # the element it is pushing is on its way
                    if own is not None:
                        resting.add(own)  # (asleep or paused: its queue is in the snapshot)
                tasks = [t for runtime in runtimes for t in runtime.tasks]
                busy += [t for t in tasks if not t.done() and t not in resting]
                if not busy:
                    fetching = [
                        asyncio.ensure_future(f)
                        for node, adapter in self.stateful.values()
                        if (f := adapter.settle(node)) is not None
                    ]
                    if not fetching:
                        return True
                    try:  # e.g. a Dask state's value, fetched from the cluster
                        left = max(deadline - loop.time(), 0)
                        await asyncio.wait_for(asyncio.gather(*fetching), left)
                    except TimeoutError:
                        return False
                    continue  # (a fetch that failed fails the checkpoint with its error)
                try:  # elements still on their way (async sinks, buffers)
                    left = max(deadline - loop.time(), 0)
                    await asyncio.wait_for(asyncio.shield(settled(busy)), left)
                except TimeoutError:
                    return False
                if not self._quiet():  # a source started a new element meanwhile: wait again
                    self._pending = pending = loop.create_future()
        finally:  # (the paused nodes go on after the cut is taken)
            if not resume.done():
                resume.set_result(None)

    def _take(self, checkpoint_id: int) -> Checkpoint:
        self.taking = checkpoint_id  # the id adapters' snapshots belong to
        state = {name: a.snapshot(node) for name, (node, a) in self.stateful.items()}
        positions = {name: a.snapshot(node) for name, (node, a) in self.sources.items()}
        tables = [
            a.table_rows(node) for node, a in self.stateful.values() if hasattr(a, "table_rows")
        ]
        for node, adapter in self.stateful.values():
            adapter.before_commit(node)  # e.g. fsync a durable file
        return Checkpoint(checkpoint_id, self.fingerprint, state, positions, tables=tables)

    def _release(self) -> None:
        self._pending = None
        self.attention = self.every is not None
        resume = self._resume
        if resume is not None and not resume.done():
            resume.set_result(None)

    async def _off_loop(self, work: Any, *args: Any) -> Any:
        """Run store I/O in a worker thread (a store in memory does it here: no I/O,
        and the virtual-time loop of tests stays deterministic)."""
        if getattr(self.store, "in_memory", False):
            return work(*args)
        return await asyncio.get_running_loop().run_in_executor(None, work, *args)

    async def _commit_now(self, checkpoint_id: int) -> None:
        checkpoint = self._take(checkpoint_id)
        await self._off_loop(self.store.commit, checkpoint)
        self.last_id = checkpoint_id

    async def _tick(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            # a checkpoint is never cancelled halfway (stop() waits for it): its cut
            # took the changed keys, which only its commit writes
            self._periodic = asyncio.ensure_future(self.checkpoint())
            try:
                await asyncio.shield(self._periodic)
            except Exception as exc:  # kept for stop(), which raises it
                self._failure = exc
                return

    # -------------------------------------------------------------- leaving

    async def stop(self, drain: bool = False) -> None:
        """Stop the sources between elements, optionally drain the graph (``drain``:
        the input has ended, so windows close), and take a last checkpoint."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        periodic = self._periodic
        if periodic is not None and not periodic.done():
            try:
                await periodic
            except Exception as exc:
                self._failure = exc
        try:
            if self._failure is not None:
                raise self._failure
            if drain:  # the input has ended: deliver what the graph holds, then the cut
                await self._stop_sources()
                for node, _ in self.sources.values():
                    await node.drain()
                await self.checkpoint()
            else:  # the sources stop at the cut, while still connected (acks go out)
                self._stopping = True
                self._last = asyncio.get_running_loop().create_future()
                await self.checkpoint()
        finally:
            if self._last is not None and not self._last.done():
                self._last.set_result(None)
            await self._stop_sources()
            for node, _ in self.sources.values():
                node._checkpointer = None

    async def last_committed(self) -> None:
        """For a source winding down: wait until the last checkpoint of :meth:`stop` (if
        stopping) has committed or failed, so the source can still acknowledge its
        positions before it disconnects."""
        if self._last is not None:
            await asyncio.shield(self._last)

    async def _stop_sources(self) -> None:
        for node, _ in self.sources.values():
            node.stop()
        for node, _ in self.sources.values():
            await node.wait()


def _fingerprint(sources: dict[str, Any], stateful: dict[str, Any]) -> str:
    """Which named nodes of which kinds the graph has: a store of another graph differs."""
    parts = sorted(
        f"{name}:{type(node).__name__}" for name, (node, _) in (sources | stateful).items()
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _in_a_cycle(nodes: list[Stream[Any]]) -> Stream[Any] | None:
    """A node of ``nodes`` that can reach itself through downstream edges, if any."""
    done: set[int] = set()
    for start in nodes:
        if id(start) in done:
            continue
        path: set[int] = {id(start)}
        stack = [(start, iter(start.downstreams))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.discard(id(node))
                done.add(id(node))
            elif id(child) in path:
                return child
            elif id(child) not in done:
                path.add(id(child))
                stack.append((child, iter(child.downstreams)))
    return None
