"""The Manager: publish a user's activities into the feeds of their followers (fan-out).

Subclass :class:`Manager`, set :attr:`~Manager.feed_classes` and
:attr:`~Manager.user_feed_class` and implement :meth:`~Manager.get_user_follower_ids`.
Fan-out runs through a streams graph (:mod:`streams.feeds.fanout`): follower ids in
chunks, a bounded number of chunks written at a time, high priority first, one Redis
pipeline per chunk and feed class, failing chunks retried.

Every write method has two forms: ``add_user_activity(...)`` as in Stream Framework,
which blocks until done when called from plain synchronous code (the work runs on the
library's background loop), and ``aadd_user_activity(...)``, a coroutine. Called from
inside a running event loop, the plain form does not block the loop: it returns an
:class:`asyncio.Task`, so ``await manager.add_user_activity(...)`` works there too (as
``Stream.emit`` does).

Examples
--------
>>> from streams.feeds import FanoutError, FanoutPriority, Manager, MemoryFeed, UserBaseFeed
>>> from streams.feeds import Activity, Add
>>> class UserFeed(UserBaseFeed, MemoryFeed):
...     pass
>>> class PinManager(Manager):
...     feed_classes = {"normal": MemoryFeed}
...     user_feed_class = UserFeed
...     def get_user_follower_ids(self, user_id):
...         return {FanoutPriority.HIGH: [2, 3], FanoutPriority.LOW: [4]}
>>> manager = PinManager()
>>> pin = Activity(1, Add, 100)
>>> manager.add_user_activity(1, pin)
>>> [MemoryFeed(uid).count() for uid in (2, 3, 4, 5)], manager.get_user_feed(1)[0] == pin
([1, 1, 1, 0], True)
>>> manager.remove_user_activity(1, pin)
>>> MemoryFeed(2).count()
0
>>> manager.close()
>>> MemoryFeed.flush()
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import random
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from ..errors import retry
from ..loop import run_sync, running_loop
from .activity import DehydratedActivity
from .aggregated import AggregatedFeed
from .base import BaseFeed, RedisFeed, UserBaseFeed, _activity_id
from .fanout import (
    ChunkOutcome,
    ChunkWrite,
    FanoutChunk,
    FanoutJob,
    add_operation,
    iter_chunks,
    remove_operation,
    write_chunk,
)
from .metrics import FeedMetrics
from .storage.memory import MemoryTimelineStorage
from .storage.redis import RedisTimelineStorage
from .updates import anyone_listening, listening

if TYPE_CHECKING:
    from ..core import Stream
    from ..errors import ErrorRecord

__all__ = ["Manager"]

R = TypeVar("R")

_SOCKET_TIMEOUT = 5.0
"""redis-py's default ``socket_timeout``: the timeout of a chunk write by default."""


def _is_memory(feed_class: type[BaseFeed]) -> bool:
    """Whether every storage of ``feed_class`` lives in this process (writes are quick
    and do no I/O: the fan-out runs them on the loop itself)."""
    from .storage.memory import MemoryActivityStorage, MemoryListsStorage

    if not issubclass(feed_class.timeline_storage_class, MemoryTimelineStorage):
        return False
    activities = feed_class.activity_storage_class
    if activities is not None and not issubclass(activities, MemoryActivityStorage):
        return False
    markers = getattr(feed_class, "markers_storage_class", None)
    return markers is None or issubclass(markers, MemoryListsStorage)


def _memory_storages(feed_class: type[BaseFeed]) -> list[str]:
    """The storages of ``feed_class`` that live in this process's memory (by name)."""
    from .storage.memory import MemoryActivityStorage, MemoryListsStorage

    found = []
    for attribute, memory in (
        ("timeline_storage_class", MemoryTimelineStorage),
        ("activity_storage_class", MemoryActivityStorage),
        ("markers_storage_class", MemoryListsStorage),
    ):
        storage = getattr(feed_class, attribute, None)
        if isinstance(storage, type) and issubclass(storage, memory):
            found.append(storage.__name__)
    return found


def _pipelined(feed_class: type[BaseFeed], operation: Callable[..., Any]) -> bool:
    """Whether a chunk can be one asyncio Redis pipeline: a flat Redis feed whose writes
    only queue commands on the batch (no read, no override)."""
    storage = feed_class.timeline_storage_class
    return (
        operation in (add_operation, remove_operation)
        and issubclass(storage, RedisTimelineStorage)
        and storage.add_many is RedisTimelineStorage.add_many
        and storage.remove_many is RedisTimelineStorage.remove_many
        and feed_class.add_many is BaseFeed.add_many
        and feed_class.remove_many is BaseFeed.remove_many
    )


class _FanoutGraph:
    """The fan-out graph of one manager on one event loop (see :mod:`.fanout`)."""

    def __init__(self, manager: Manager, loop: asyncio.AbstractEventLoop) -> None:
        from ..core import Stream

        self.manager = manager
        self.loop = loop
        self.clients: dict[str, tuple[Any, float | None]] = {}
        policy = retry(manager.retry_attempts, manager.retry_backoff, then="dead_letter")
        self.source: Stream[FanoutJob] = Stream(loop=loop, stream_name="fanout_jobs")
        chunks = self.source.map(iter_chunks, stream_name="chunks").flatten()
        self.inflight: dict[int, FanoutChunk] = {}  # Dask: chunks sent, by token
        self.remote_errors: dict[FanoutChunk, BaseException] = {}
        self.remote_nodes: tuple[Stream[Any], ...] = ()
        if manager.dask_client is None:
            self.writes = chunks.map_async(
                self.write,
                parallelism=manager.max_inflight_chunks,
                on_error=policy,
                stream_name="write_chunk",
            )
        else:
            self.writes = self._remote_writes(chunks, manager.dask_client)
        self.writes.sink(self._written)
        self.errors: Stream[ErrorRecord] = self.source.errors()
        self.errors.sink(self._failed)

    def client(self, server: str) -> tuple[Any, float | None]:
        """The asyncio Redis client of ``server`` on this loop, and the timeout of a chunk
        write: the server's ``socket_timeout`` (redis-py's default, 5 s, if not set).

        The client itself has no ``socket_timeout``: redis-py's asyncio client would
        start an asyncio timer for each reply (100 per chunk), which costs about as much
        as reading the reply; the fan-out bounds the whole chunk instead (a stricter
        bound: the timeout covers the connect, the send and every reply of the chunk)."""
        found = self.clients.get(server)
        if found is None:
            from . import settings

            timeout = settings.server_config(server).get("socket_timeout", _SOCKET_TIMEOUT)
            client = settings.get_async_redis(server, socket_timeout=None)
            found = self.clients[server] = (client, timeout)
        return found

    async def write(self, chunk: FanoutChunk) -> FanoutChunk:
        """Write one chunk (the graph's ``map_async`` function)."""
        manager = self.manager
        feed_class, operation = chunk.feed_class, chunk.operation
        if manager.async_redis_writes and _pipelined(feed_class, operation):
            await self._pipeline(chunk)
        elif _is_memory(feed_class):
            manager.fanout(chunk.user_ids, feed_class, operation, chunk.operation_kwargs)
        else:
            call = functools.partial(
                manager.fanout, chunk.user_ids, feed_class, operation, chunk.operation_kwargs
            )
            await self.loop.run_in_executor(manager._executor(), call)
        return chunk

    async def _pipeline(self, chunk: FanoutChunk) -> None:
        """One pipeline (``transaction=False``) for the chunk. The commands (``ZADD NX``,
        ``ZREM``, ``ZREMRANGEBYRANK``) are idempotent, so a retry can send it again."""
        feed_class = chunk.feed_class
        metrics = self.manager.metrics
        kwargs = dict(chunk.operation_kwargs)
        trim = kwargs.pop("trim", True)
        client, timeout = self.client(getattr(feed_class, "redis_server", "default"))
        with metrics.fanout_timer(feed_class):
            pipe = client.pipeline(transaction=False)
            if feed_class.on_update_feed is BaseFeed.on_update_feed:
                _queue_flat(chunk, pipe, kwargs["activities"], trim)
            else:
                for user_id in chunk.user_ids:
                    feed = feed_class(user_id)
                    chunk.operation(feed, batch_interface=pipe, trim=False, **kwargs)
                    if trim and random.random() < feed.trim_chance:  # as the feed's trim
                        pipe.zremrangebyrank(feed.key, 0, -feed.max_length - 1)
            async with asyncio.timeout(timeout):
                await pipe.execute()
        metrics.on_fanout(feed_class, chunk.operation, len(chunk.user_ids))

    # ------------------------------------------------------------------ on Dask

    def _remote_writes(self, chunks: Stream[FanoutChunk], client: Any) -> Stream[FanoutChunk]:
        """The Dask part of the graph (see :mod:`.fanout`): chunks out as
        :class:`ChunkWrite` tasks, at most ``max_inflight_chunks`` waited for at a time
        (``buffer``), outcomes back in order, each turned back into its chunk."""
        self.tokens = itertools.count()
        tasks = chunks.map(self.task, stream_name="chunk_task", on_error="dead_letter")
        scattered = tasks.scatter(client=client, stream_name="scatter_chunks")
        remote = scattered.map(write_chunk, stream_name="write_chunk", on_error="dead_letter")
        held = remote.buffer(int(self.manager.max_inflight_chunks))
        outcomes = held.gather(stream_name="gather_chunks", on_error="dead_letter")
        self.remote_nodes = (remote, held, outcomes)
        back = outcomes.map(self.outcome, stream_name="chunk_outcome")
        return back.map(self.settle, stream_name="chunk_written", on_error="dead_letter")

    def task(self, chunk: FanoutChunk) -> ChunkWrite:
        """The picklable task of ``chunk``, with the settings entries its feeds use."""
        from . import settings

        feed_class, manager = chunk.feed_class, self.manager
        options = feed_class.get_storage_options()
        redis_config, sql_config = {}, {}
        if isinstance(name := options.get("redis_server"), str):
            settings.server_config(name)  # a missing entry: a KeyError naming it, here
            redis_config[name] = settings.STREAM_REDIS_CONFIG[name]
        if isinstance(name := options.get("sql_server"), str):
            settings.sql_config(name)
            sql_config[name] = settings.STREAM_SQL_CONFIG[name]
        token = next(self.tokens)
        task = ChunkWrite(
            token,
            repr(chunk),
            feed_class,
            chunk.operation,
            chunk.operation_kwargs,
            chunk.user_ids,
            int(manager.retry_attempts),
            float(manager.retry_backoff),
            redis_config,
            sql_config,
        )
        self.inflight[token] = chunk
        return task

    def outcome(self, outcome: ChunkOutcome) -> FanoutChunk:
        """The chunk of a task's outcome (its error kept for :meth:`settle`)."""
        chunk = self.inflight.pop(outcome.token)
        if outcome.error is not None:
            self.remote_errors[chunk] = outcome.error
        return chunk

    def settle(self, chunk: FanoutChunk) -> FanoutChunk:
        """Raise the error of a chunk given up on by the worker (dead-lettered: the
        graph's error channel gets the chunk), count a written one."""
        error = self.remote_errors.pop(chunk, None)
        if error is not None:
            raise error
        self.manager.metrics.on_fanout(chunk.feed_class, chunk.operation, len(chunk.user_ids))
        return chunk

    def _lost(self, record: ErrorRecord) -> FanoutChunk | None:
        """The chunk of a failure inside the Dask part: a task that could not be submitted
        (the element is its :class:`ChunkWrite`), or whose future failed (a worker died
        too often, the result could not travel...). Futures reach ``gather`` in the order
        the chunks were sent and one at a time, so that chunk is the oldest one sent."""
        element = record.element
        if isinstance(element, ChunkWrite):
            return self.inflight.pop(element.token, None)
        if record.node in self.remote_nodes and self.inflight:
            return self.inflight.pop(next(iter(self.inflight)))
        return None

    # ------------------------------------------------------------------ settling

    @staticmethod
    def _written(chunk: FanoutChunk) -> None:
        chunk.job.chunk_done(chunk)

    def _failed(self, record: ErrorRecord) -> None:
        chunk = record.element
        if not isinstance(chunk, FanoutChunk):
            chunk = self._lost(record)
        if chunk is not None:
            from ..errors import log

            log.warning("fan-out chunk given up: %s: %s", chunk, record.error)
            chunk.job.chunk_done(chunk, record.error)

    async def aclose(self) -> None:
        for client, _ in self.clients.values():
            await client.aclose()
        self.clients.clear()


class Manager:
    """Publishes activities to the feeds of the author's followers.

    Attributes
    ----------
    feed_classes : dict
        The feeds every user reads, by name: ``{'normal': RedisFeed}`` by default; add
        e.g. ``'aggregated': RedisAggregatedFeed``.
    user_feed_class : type
        The author's own feed (:class:`~streams.feeds.UserBaseFeed`: set a concrete one,
        e.g. ``class UserFeed(UserBaseFeed, RedisFeed)``).
    follow_activity_limit : int
        How many of a followed user's newest activities a follow copies (5000).
    fanout_chunk_size : int
        Followers per chunk: per batch write (100).
    max_inflight_chunks : int
        Chunks written at the same time, at most (4); more wait (back pressure).
    retry_attempts, retry_backoff : int, float
        A failing chunk is tried again up to ``retry_attempts`` times (2), after
        ``retry_backoff`` seconds (0.1), then twice as long each time.
    async_redis_writes : bool
        Write a chunk of a flat Redis feed as one asyncio redis-py pipeline (True);
        False sends the synchronous pipeline from a worker thread.
    metrics : FeedMetrics
        The metrics hooks (no-op by default; see :class:`~streams.feeds.CountingMetrics`).
    dask_client : distributed.Client or None
        Write the chunks on this Dask cluster (None: in this process, the default).
        The feed classes must keep their feeds outside the process (Redis, SQL): memory
        feeds are refused with ``ValueError``. See "On a Dask cluster" in the feeds guide.

    Any of these can also be given as a keyword: ``Manager(fanout_chunk_size=50)``.
    """

    feed_classes: ClassVar[dict[str, type[BaseFeed]]] = {"normal": RedisFeed}
    user_feed_class: ClassVar[type[BaseFeed]] = UserBaseFeed
    follow_activity_limit: ClassVar[int] = 5000
    fanout_chunk_size: ClassVar[int] = 100
    max_inflight_chunks: ClassVar[int] = 4
    retry_attempts: ClassVar[int] = 2
    retry_backoff: ClassVar[float] = 0.1
    async_redis_writes: ClassVar[bool] = True
    metrics: FeedMetrics = FeedMetrics()
    dask_client: ClassVar[Any] = None

    _OPTIONS = (
        "feed_classes",
        "user_feed_class",
        "follow_activity_limit",
        "fanout_chunk_size",
        "max_inflight_chunks",
        "retry_attempts",
        "retry_backoff",
        "async_redis_writes",
        "metrics",
        "dask_client",
    )

    def __init__(self, **options: Any) -> None:
        for name, value in options.items():
            if name not in self._OPTIONS:
                raise TypeError(f"Manager() got an unexpected keyword argument {name!r}")
            setattr(self, name, value)
        if int(self.fanout_chunk_size) < 1 or int(self.max_inflight_chunks) < 1:
            raise ValueError("fanout_chunk_size and max_inflight_chunks must be positive")
        self._check_dask(self.feed_classes)
        self._graphs: dict[asyncio.AbstractEventLoop, _FanoutGraph] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ to implement

    def get_user_follower_ids(self, user_id: Any) -> dict[Any, Sequence[Any]] | Awaitable[Any]:
        """The followers of ``user_id`` by priority:
        ``{FanoutPriority.HIGH: [...], FanoutPriority.LOW: [...]}``.

        Override it (a plain method or a coroutine function). Any other key (``None``)
        is a group written after ``HIGH`` and before ``LOW``.
        """
        raise NotImplementedError("implement get_user_follower_ids(user_id) in your Manager")

    # ------------------------------------------------------------------ feeds

    def get_user_feed(self, user_id: Any) -> BaseFeed:
        """The author feed of ``user_id``."""
        return self.user_feed_class(user_id)

    def get_feeds(self, user_id: Any) -> dict[str, BaseFeed]:
        """The feeds ``user_id`` reads: ``{name: feed}``, one per :attr:`feed_classes`."""
        return {name: feed_class(user_id) for name, feed_class in self.feed_classes.items()}

    # ------------------------------------------------------------------ running

    def _run(self, coro: Coroutine[Any, Any, R]) -> Any:
        """Block on ``coro`` (plain code) or hand back a task (inside a running loop)."""
        loop = running_loop()
        if loop is None:
            return run_sync(coro)
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=int(self.max_inflight_chunks) + 2,
                thread_name_prefix="feeds-fanout",
            )
        return self._pool

    async def _blocking(
        self, feed_classes: Iterable[type[BaseFeed]], func: Callable[..., R], *args: Any
    ) -> R:
        """Run synchronous feed work: here if every feed is in memory, else in a thread."""
        if all(_is_memory(c) for c in feed_classes):
            return func(*args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), functools.partial(func, *args))

    def _graph(self) -> _FanoutGraph:
        """The fan-out graph on the running loop, built on first use."""
        loop = asyncio.get_running_loop()
        graph = self._graphs.get(loop)
        if graph is None:
            for old in [lp for lp in self._graphs if lp.is_closed()]:
                del self._graphs[old]
            graph = self._graphs[loop] = _FanoutGraph(self, loop)
        return graph

    @property
    def fanout_graph(self) -> Stream[FanoutJob] | None:
        """The source node of the fan-out graph on the running loop (or, outside a loop,
        of the one last built), ``None`` before the first fan-out. Use it to watch the
        graph: ``manager.fanout_graph.errors()``, ``.enable_metrics()``, ``.visualize()``.
        """
        loop = running_loop()
        graph = self._graphs.get(loop) if loop is not None else None
        if graph is None and self._graphs:
            graph = list(self._graphs.values())[-1]
        return None if graph is None else graph.source

    async def aclose(self) -> None:
        """Close the asyncio Redis clients of the fan-out on the running loop."""
        graph = self._graphs.pop(asyncio.get_running_loop(), None)
        if graph is not None:
            await graph.aclose()

    def close(self) -> None:
        """Close the Redis clients of the fan-outs run from plain code, and the worker
        threads (within a running loop, use ``await manager.aclose()``)."""
        if running_loop() is None:
            for loop, graph in list(self._graphs.items()):
                if loop.is_running():
                    run_sync(graph.aclose(), loop)
                    del self._graphs[loop]
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _check_dask(self, feed_classes: dict[str, type[BaseFeed]]) -> None:
        """Refuse memory feeds when the chunks are written on a Dask cluster."""
        if self.dask_client is None:
            return
        for name, feed_class in feed_classes.items():
            memory = _memory_storages(feed_class)
            if memory:
                raise ValueError(
                    f"dask_client: feed class {name!r} ({feed_class.__qualname__}) keeps "
                    f"its feeds in this process's memory ({', '.join(memory)}); a Dask "
                    "worker cannot write them. Use Redis or SQL feeds with dask_client, "
                    "or leave dask_client unset."
                )

    # ------------------------------------------------------------------ fan-out

    def fanout(
        self,
        user_ids: Sequence[Any],
        feed_class: type[BaseFeed],
        operation: Callable[..., Any],
        operation_kwargs: dict[str, Any],
    ) -> None:
        """Apply ``operation`` to the ``feed_class`` feed of each of ``user_ids`` in one
        batch (synchronously: the write of one chunk when it is not an asyncio pipeline).
        """
        timer = self.metrics.fanout_timer(feed_class)
        with timer, feed_class.get_timeline_batch_interface() as batch:
            for user_id in user_ids:
                operation(feed_class(user_id), batch_interface=batch, **operation_kwargs)
        self.metrics.on_fanout(feed_class, operation, len(user_ids))

    async def _follower_ids(self, user_id: Any) -> dict[Any, Sequence[Any]]:
        found = self.get_user_follower_ids(user_id)
        if inspect.isawaitable(found):
            found = await found
        if not isinstance(found, dict):
            raise TypeError(
                "get_user_follower_ids must return {FanoutPriority.HIGH: ids, "
                f"FanoutPriority.LOW: ids}}, got {type(found).__name__}"
            )
        return found

    async def afanout(
        self,
        follower_ids: dict[Any, Sequence[Any]],
        operation: Callable[..., Any],
        operation_kwargs: dict[str, Any],
        feed_classes: dict[str, type[BaseFeed]] | None = None,
    ) -> None:
        """Run one fan-out job through the graph; return once every chunk is handled.

        Raises
        ------
        FanoutError
            If chunks still failed after the retries (the others were written); its
            ``failed_ids`` are the followers whose feeds miss the operation.
        """
        loop = asyncio.get_running_loop()
        classes = dict(self.feed_classes if feed_classes is None else feed_classes)
        self._check_dask(classes)
        job = FanoutJob(
            classes,
            follower_ids,
            operation,
            operation_kwargs,
            int(self.fanout_chunk_size),
            loop.create_future(),
        )
        await self._graph().source.emit(job)
        await job.done

    # ------------------------------------------------------------------ activities

    def add_user_activity(self, user_id: Any, activity: Any) -> Any:
        """Store ``activity``, add it to ``user_id``'s feed and to every follower feed.

        Blocks until every follower feed has it (a task to await inside a running loop).

        Raises
        ------
        FanoutError
            If some chunks could not be written (the other followers have it).
        """
        return self._run(self.aadd_user_activity(user_id, activity))

    async def aadd_user_activity(self, user_id: Any, activity: Any) -> None:
        """The coroutine form of :meth:`add_user_activity`."""
        user_feed = self.get_user_feed(user_id)
        await self._blocking([type(user_feed)], _publish, user_feed, activity)
        self.metrics.on_activity_published()
        follower_ids = await self._follower_ids(user_id)
        await self.afanout(follower_ids, add_operation, {"activities": [activity], "trim": True})

    def remove_user_activity(self, user_id: Any, activity: Any) -> Any:
        """Remove ``activity`` from ``user_id``'s feed and every follower feed. It stays
        in the activity storage (a feed may still show it while the removal runs)."""
        return self._run(self.aremove_user_activity(user_id, activity))

    async def aremove_user_activity(self, user_id: Any, activity: Any) -> None:
        """The coroutine form of :meth:`remove_user_activity`."""
        user_feed = self.get_user_feed(user_id)
        await self._blocking([type(user_feed)], user_feed.remove, activity)
        self.metrics.on_activity_removed()
        follower_ids = await self._follower_ids(user_id)
        await self.afanout(
            follower_ids, remove_operation, {"activities": [activity], "trim": False}
        )

    def update_user_activity(self, activity: Any) -> Any:
        """Store a changed ``activity`` again (same id, new ``extra_context``)."""
        return self.update_user_activities([activity])

    def update_user_activities(self, activities: Iterable[Any]) -> Any:
        """Store changed activities again in every activity storage the feeds read
        (notification feeds keep their copies inline: they are not changed)."""
        return self._run(self.aupdate_user_activities(activities))

    async def aupdate_user_activities(self, activities: Iterable[Any]) -> None:
        """The coroutine form of :meth:`update_user_activities`."""
        activities = list(activities)
        classes = [self.user_feed_class, *self.feed_classes.values()]
        await self._blocking(classes, _insert_everywhere, classes, activities)

    def batch_import(
        self, user_id: Any, activities: Iterable[Any], fanout: bool = True, chunk_size: int = 500
    ) -> Any:
        """Import many activities of ``user_id`` (all of them by that actor): chunk by
        chunk, store them, add them to the user feed (no trim) and, with ``fanout``, to
        the follower feeds (no trim)."""
        return self._run(self.abatch_import(user_id, activities, fanout, chunk_size))

    async def abatch_import(
        self, user_id: Any, activities: Iterable[Any], fanout: bool = True, chunk_size: int = 500
    ) -> None:
        """The coroutine form of :meth:`batch_import`."""
        activities = list(activities)
        actors = {a.actor_id for a in activities}
        if len(actors) > 1:
            raise ValueError(f"batch_import takes the activities of one actor, got {actors}")
        if actors and actors != {user_id}:
            raise ValueError(f"the activities are by {actors.pop()!r}, not by {user_id!r}")
        if not activities:
            return
        user_feed = self.get_user_feed(user_id)
        follower_ids = await self._follower_ids(user_id) if fanout else {}
        for start in range(0, len(activities), chunk_size):
            chunk = activities[start : start + chunk_size]
            await self._blocking([type(user_feed)], _import, user_feed, chunk)
            if fanout:
                await self.afanout(
                    follower_ids, add_operation, {"activities": chunk, "trim": False}
                )

    # ------------------------------------------------------------------ follows

    def follow_user(self, user_id: Any, target_user_id: Any, async_: bool = True) -> Any:
        """``user_id`` follows ``target_user_id``; see :meth:`follow_many_users`."""
        return self.follow_many_users(user_id, [target_user_id], async_=async_)

    def follow_many_users(
        self, user_id: Any, target_ids: Iterable[Any], async_: bool = True
    ) -> Any:
        """Backfill: copy the newest :attr:`follow_activity_limit` activities of each
        target's user feed into every feed of ``user_id``. (Recording who follows whom is
        yours, as in Stream Framework.) ``async_`` is accepted for compatibility: there
        is no task queue, the call returns when the feeds are filled."""
        return self._run(self.afollow_many_users(user_id, target_ids))

    async def afollow_many_users(self, user_id: Any, target_ids: Iterable[Any]) -> None:
        """The coroutine form of :meth:`follow_many_users`."""
        classes = [self.user_feed_class, *self.feed_classes.values()]
        await self._blocking(classes, self._follow_many, user_id, list(target_ids))

    def _follow_many(self, user_id: Any, target_ids: Sequence[Any]) -> None:
        activities: list[Any] = []
        for target_id in target_ids:
            activities += self.get_user_feed(target_id)[: self.follow_activity_limit]
        if activities:
            for feed in self.get_feeds(user_id).values():
                self.follow_feed(feed, activities)

    def unfollow_user(self, user_id: Any, target_user_id: Any, async_: bool = True) -> Any:
        """``user_id`` unfollows ``target_user_id``; see :meth:`unfollow_many_users`."""
        return self.unfollow_many_users(user_id, [target_user_id], async_=async_)

    def unfollow_many_users(
        self, user_id: Any, target_ids: Iterable[Any], async_: bool = True
    ) -> Any:
        """Purge: remove from every feed of ``user_id`` the activities (in aggregated
        feeds, the aggregated members) whose actor is one of ``target_ids``, among the
        newest ``max_length`` of each feed (trimmed first)."""
        return self._run(self.aunfollow_many_users(user_id, target_ids))

    async def aunfollow_many_users(self, user_id: Any, target_ids: Iterable[Any]) -> None:
        """The coroutine form of :meth:`unfollow_many_users`."""
        classes = list(self.feed_classes.values())
        await self._blocking(classes, self._unfollow_many, user_id, set(target_ids))

    def _unfollow_many(self, user_id: Any, target_ids: set[Any]) -> None:
        for feed in self.get_feeds(user_id).values():
            feed.trim()
            entries = feed[: feed.max_length]
            if isinstance(feed, AggregatedFeed):
                gone = [a for agg in entries for a in agg.activities if a.actor_id in target_ids]
            else:
                gone = [a for a in entries if a.actor_id in target_ids]
            if gone:
                feed.remove_many(gone)

    def follow_feed(self, feed: BaseFeed, activities: BaseFeed | Iterable[Any]) -> int:
        """Add ``activities`` (or the newest :attr:`follow_activity_limit` of a source
        feed) to ``feed`` in one batch; synchronous."""
        if isinstance(activities, BaseFeed):
            activities = activities[: self.follow_activity_limit]
        activities = list(activities)
        if not activities:
            return 0
        with feed.get_timeline_batch_interface() as batch:
            return feed.add_many(activities, batch_interface=batch)

    def unfollow_feed(self, feed: BaseFeed, source: BaseFeed | Iterable[Any]) -> int:
        """Remove from ``feed`` the activities of ``source`` (a feed: its newest
        ``max_length``; or activities); synchronous."""
        if isinstance(source, BaseFeed):
            source = source[: source.max_length]
        activities = list(source)
        return feed.remove_many(activities) if activities else 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(feeds={sorted(self.feed_classes)})"


def _queue_flat(chunk: FanoutChunk, pipe: Any, activities: Sequence[Any], trim: bool) -> None:
    """Queue a chunk of a plain flat Redis feed: the same commands as ``operation(feed,
    batch_interface=pipe)`` per follower (each feed's ``ZADD NX`` or ``ZREM``, then its
    trim with probability ``trim_chance``), the activities serialized and encoded once."""
    feed = chunk.feed_class(chunk.user_ids[0])  # reused: only its key changes
    storage = cast(RedisTimelineStorage, feed.timeline_storage)  # see _pipelined
    key_format, serializer = feed.key_format, feed._timeline_serializer()
    adding = chunk.operation is add_operation
    keys = [key_format % {"user_id": user_id} for user_id in chunk.user_ids]
    if adding:
        entries = [(a.serialization_id, serializer.dumps(a)) for a in activities]
        storage.add_to_keys(keys, entries, pipe)
    else:
        members = [serializer.dumps(DehydratedActivity(_activity_id(a))) for a in activities]
        storage.remove_from_keys(keys, members, pipe)
    if trim:
        chance, stop = feed.trim_chance, -feed.max_length - 1
        for key in keys:
            if random.random() < chance:  # as the feed's own trim
                pipe.zremrangebyrank(key, 0, stop)
    if not anyone_listening():  # no FeedUpdates started: skip the 100 channel look-ups
        return
    for user_id, key in zip(chunk.user_ids, keys, strict=True):
        feed.user_id, feed.key = user_id, key
        if listening(feed.channel):
            feed.on_update_feed(
                new=activities if adding else [], deleted=[] if adding else activities
            )


def _publish(user_feed: BaseFeed, activity: Any) -> None:
    type(user_feed).insert_activity(activity)
    user_feed.add(activity)


def _import(user_feed: BaseFeed, activities: Sequence[Any]) -> None:
    type(user_feed).insert_activities(activities)
    user_feed.add_many(activities, trim=False)


def _insert_everywhere(classes: Sequence[type[BaseFeed]], activities: Sequence[Any]) -> None:
    for feed_class in classes:
        if feed_class.activity_storage_class is not None:
            feed_class.insert_activities(activities)
