"""The fan-out graph of a :class:`~streams.feeds.Manager`: jobs in, chunk writes out.

A fan-out job is "apply this operation (add or remove activities) to the feeds of these
followers". The graph, built once per manager and event loop, is::

    jobs ──map(split into chunks)── flatten ── map_async(write, parallelism=N,
        on_error=retry(attempts, backoff, then="dead_letter")) ── sink(chunk done)
                                                  errors() ── sink(chunk failed)

A job is split into :class:`FanoutChunk` s of ``fanout_chunk_size`` followers, for each
feed class, high priority followers first. ``map_async`` writes at most
``max_inflight_chunks`` of them at a time; while it is full, the jobs wait (back
pressure). A chunk is one batch: for a Redis flat feed, one pipeline
(``transaction=False``) of an asyncio redis-py client, bounded as a whole by the
server's ``socket_timeout`` (5 s by default). A failing chunk is retried by the
policy; if it still fails its :class:`~streams.ErrorRecord` goes to the graph's error
channel, naming the chunk, and the other chunks go on. Each job carries a future that is
set once all its chunks are written or given up on.

With a Dask client (``Manager(dask_client=client)``) the chunks are written on the
cluster instead::

    ... flatten ── map(chunk -> ChunkWrite) ── scatter(client) ── map(write_chunk)
        ── buffer(max_inflight_chunks) ── gather() ── map(outcome -> chunk)
        ── map(raise the chunk's error, on_error="dead_letter") ── sink(chunk done)

:class:`ChunkWrite` is the picklable part of a chunk (feed class, operation, its
arguments, follower ids, the retry policy and the Redis/SQL settings entries the feed
class uses); :func:`write_chunk`, run by a worker, applies those settings, writes the
chunk with the synchronous feed API and retries it by the manager's policy there. It
returns a :class:`ChunkOutcome` (the error of a chunk given up on is a value, not a
failed task), so back in the graph the chunk is settled as on the local path.
"""

from __future__ import annotations

import asyncio
import enum
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import BaseFeed

__all__ = [
    "ChunkOutcome",
    "ChunkWrite",
    "FanoutChunk",
    "FanoutError",
    "FanoutJob",
    "FanoutPriority",
    "add_operation",
    "remove_operation",
    "write_chunk",
]


class FanoutPriority(enum.Enum):
    """The priority of a group of followers: ``HIGH`` chunks are written before ``LOW``.

    Examples
    --------
    >>> from streams.feeds import FanoutPriority
    >>> FanoutPriority.HIGH.value, FanoutPriority("low")
    ('high', <FanoutPriority.LOW: 'low'>)
    """

    HIGH = "high"
    LOW = "low"


def add_operation(
    feed: BaseFeed, activities: Sequence[Any], trim: bool = True, batch_interface: Any = None
) -> int:
    """The fan-out operation adding ``activities`` to one follower's feed."""
    return feed.add_many(activities, batch_interface=batch_interface, trim=trim)


def remove_operation(
    feed: BaseFeed, activities: Sequence[Any], trim: bool = True, batch_interface: Any = None
) -> int:
    """The fan-out operation removing ``activities`` from one follower's feed."""
    return feed.remove_many(activities, batch_interface=batch_interface, trim=trim)


def priority_order(key: Any) -> int:
    """Sort key of priority groups: ``HIGH``, then any other key (``None``...), then ``LOW``."""
    if key is FanoutPriority.HIGH:
        return 0
    return 2 if key is FanoutPriority.LOW else 1


class FanoutError(Exception):
    """Some chunks of a fan-out could not be written, even after the retries.

    The other chunks were written. ``failed_ids`` lists the followers of the chunks given
    up on: their feeds may miss the operation (a chunk is a batch, not a transaction:
    the writes before the failing one may have been done; operations are idempotent, so
    fanning out to ``failed_ids`` again is safe). ``chunks`` are the chunks given up on,
    ``errors`` their last exceptions (each noted with the node and the chunk).

    Examples
    --------
    >>> from streams.feeds import FanoutError
    >>> str(FanoutError([], [])).startswith("fan-out failed")
    True
    """

    def __init__(self, chunks: Sequence[FanoutChunk], errors: Sequence[BaseException]) -> None:
        self.chunks = list(chunks)
        self.errors = list(errors)
        self.failed_ids = sorted({uid for c in self.chunks for uid in c.user_ids}, key=str)
        described = "; ".join(
            f"{c!r}: {type(e).__name__}: {e}" for c, e in zip(chunks, errors, strict=True)
        )
        super().__init__(
            f"fan-out failed for {len(self.failed_ids)} followers in {len(self.chunks)} "
            f"chunks: {described}"
        )


@dataclass(eq=False)
class FanoutJob:
    """One fan-out: ``operation(feed_class(uid), **operation_kwargs)`` for every follower
    ``uid`` and feed class, split into chunks; ``done`` completes when all were handled."""

    feed_classes: dict[str, type[BaseFeed]]
    follower_ids: dict[Any, Sequence[Any]]
    operation: Callable[..., Any]
    operation_kwargs: dict[str, Any]
    chunk_size: int
    done: asyncio.Future[None]
    remaining: int = 0
    failed: list[tuple[FanoutChunk, BaseException]] = field(default_factory=list)

    def chunks(self) -> list[FanoutChunk]:
        """The chunks, high priority first; per priority, per feed class."""
        out: list[FanoutChunk] = []
        for priority in sorted(self.follower_ids, key=priority_order):
            ids = list(self.follower_ids[priority])
            for name, feed_class in self.feed_classes.items():
                for start in range(0, len(ids), self.chunk_size):
                    out.append(
                        FanoutChunk(
                            self,
                            name,
                            feed_class,
                            priority,
                            start // self.chunk_size,
                            ids[start : start + self.chunk_size],
                        )
                    )
        self.remaining = len(out)
        if not out:
            self._finish()
        return out

    def chunk_done(self, chunk: FanoutChunk, error: BaseException | None = None) -> None:
        """Count ``chunk`` as handled (``error``: given up on)."""
        if error is not None:
            self.failed.append((chunk, error))
        self.remaining -= 1
        if self.remaining == 0:
            self._finish()

    def _finish(self) -> None:
        if self.done.done():
            return
        if self.failed:
            chunks, errors = zip(*self.failed, strict=True)
            self.done.set_exception(FanoutError(chunks, errors))
        else:
            self.done.set_result(None)


@dataclass(eq=False)
class FanoutChunk:
    """Up to ``fanout_chunk_size`` followers of one job, one feed class, one priority."""

    job: FanoutJob = field(repr=False)
    feed_name: str
    feed_class: type[BaseFeed]
    priority: Any
    index: int
    user_ids: list[Any]

    @property
    def operation(self) -> Callable[..., Any]:
        """The operation applied to each follower's feed."""
        return self.job.operation

    @property
    def operation_kwargs(self) -> dict[str, Any]:
        """Its keyword arguments (``activities``, ``trim``)."""
        return self.job.operation_kwargs

    def __repr__(self) -> str:
        priority = getattr(self.priority, "name", self.priority)
        ids = self.user_ids
        span = f"{ids[0]!r}..{ids[-1]!r}" if ids else "none"
        return (
            f"FanoutChunk(feed={self.feed_name!r}, priority={priority}, chunk={self.index}, "
            f"{self.operation.__name__}, {len(ids)} followers {span})"
        )


def iter_chunks(job: FanoutJob) -> Iterator[FanoutChunk]:
    """The chunks of ``job`` (the graph's ``map`` step)."""
    return iter(job.chunks())


# ---------------------------------------------------------------------- on a Dask worker


@dataclass(frozen=True)
class ChunkWrite:
    """What a Dask worker needs to write one chunk; picklable (no job, no loop).

    ``redis_config`` and ``sql_config`` are the entries of
    :data:`~streams.feeds.settings.STREAM_REDIS_CONFIG` and
    :data:`~streams.feeds.settings.STREAM_SQL_CONFIG` that the feed class names (its
    ``redis_server`` / ``sql_server``), as set in the process that fans out.
    """

    token: int
    label: str
    feed_class: type[BaseFeed]
    operation: Callable[..., Any]
    operation_kwargs: dict[str, Any]
    user_ids: list[Any]
    retry_attempts: int = 0
    retry_backoff: float = 0.0
    redis_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    sql_config: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkOutcome:
    """The result of :func:`write_chunk`: ``error`` is None if the chunk was written."""

    token: int
    error: BaseException | None = None


def apply_settings(
    redis_config: dict[str, dict[str, Any]], sql_config: dict[str, dict[str, Any]]
) -> None:
    """Set these entries in this process's settings (where they differ): on a worker,
    the feeds then connect where the fanning-out process's feeds do."""
    from . import settings

    for name, entry in redis_config.items():
        if settings.STREAM_REDIS_CONFIG.get(name) != entry:
            settings.STREAM_REDIS_CONFIG[name] = entry
    for name, entry in sql_config.items():
        if settings.STREAM_SQL_CONFIG.get(name) != entry:
            settings.STREAM_SQL_CONFIG[name] = entry


def write_chunk(task: ChunkWrite) -> ChunkOutcome:
    """Write one chunk on a Dask worker (the graph's remote ``map`` function).

    Applies the task's settings, then ``operation(feed_class(uid), batch_interface=batch,
    **operation_kwargs)`` for every follower in one batch, as
    :meth:`Manager.fanout <streams.feeds.Manager.fanout>` does. A failing batch is tried
    again up to ``retry_attempts`` times, ``retry_backoff`` seconds later, then twice as
    long each time (the manager's policy). The last error is returned, not raised.

    Examples
    --------
    >>> from streams.feeds import MemoryFeed
    >>> from streams.feeds.fanout import ChunkWrite, add_operation, write_chunk
    >>> from streams.feeds import Activity, Add
    >>> task = ChunkWrite(7, "chunk", MemoryFeed, add_operation,
    ...                   {"activities": [Activity(1, Add, 2)]}, [10, 11])
    >>> write_chunk(task), MemoryFeed(11).count()
    (ChunkOutcome(token=7, error=None), 1)
    >>> MemoryFeed.flush()
    """
    apply_settings(task.redis_config, task.sql_config)
    feed_class, operation, kwargs = task.feed_class, task.operation, task.operation_kwargs
    error: BaseException | None = None
    for attempt in range(max(0, task.retry_attempts) + 1):
        if attempt:
            time.sleep(task.retry_backoff * 2 ** (attempt - 1))
        try:
            with feed_class.get_timeline_batch_interface() as batch:
                for user_id in task.user_ids:
                    operation(feed_class(user_id), batch_interface=batch, **kwargs)
        except Exception as exc:
            error = exc
        else:
            return ChunkOutcome(task.token)
    assert error is not None
    if task.retry_attempts > 0:
        error.add_note(f"gave up after {task.retry_attempts} retries")
    error.add_note(f"writing {task.label} on {_worker_name()}")
    return ChunkOutcome(task.token, _picklable(error))


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return f"Dask worker {get_worker().address}"
    except (ImportError, ValueError):
        return "no Dask worker"


def _picklable(error: BaseException) -> BaseException:
    """``error``, or a RuntimeError telling it, if it cannot travel back from a worker."""
    try:
        pickle.dumps(error)
    except Exception:
        plain = RuntimeError(f"{type(error).__name__}: {error}")
        for note in getattr(error, "__notes__", []):
            plain.add_note(note)
        return plain
    return error
