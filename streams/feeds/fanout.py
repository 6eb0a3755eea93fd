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
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import BaseFeed

__all__ = [
    "FanoutChunk",
    "FanoutError",
    "FanoutJob",
    "FanoutPriority",
    "add_operation",
    "remove_operation",
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
