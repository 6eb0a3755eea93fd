"""The metrics hooks of a :class:`~streams.feeds.Manager`: a no-op default and one that
counts in memory."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import BaseFeed

__all__ = ["CountingMetrics", "FeedMetrics"]


class FeedMetrics:
    """The metrics hooks of a manager; this one does nothing (the default).

    Subclass it and set :attr:`Manager.metrics` to an instance to count fan-outs (to
    statsd, Prometheus...). The hooks are called on the fan-out loop's thread or on a
    worker thread: keep them quick and thread-safe.
    """

    def on_activity_published(self) -> None:
        """An activity was added to its author's feed (its fan-out follows)."""

    def on_activity_removed(self) -> None:
        """An activity was removed from its author's feed (its fan-out follows)."""

    def on_fanout(
        self, feed_class: type[BaseFeed], operation: Callable[..., Any], count: int
    ) -> None:
        """``operation`` was applied to ``count`` feeds of ``feed_class`` (one chunk)."""

    @contextmanager
    def fanout_timer(self, feed_class: type[BaseFeed]) -> Iterator[None]:
        """A context timing the write of one chunk to feeds of ``feed_class``."""
        yield


class CountingMetrics(FeedMetrics):
    """Metrics kept in memory: counts and time per feed class (for tests and dashboards).

    Attributes
    ----------
    published, removed : int
        Activities published and removed.
    fanout_writes : collections.Counter
        Feeds written, by ``(feed class name, operation name)``.
    fanout_seconds : collections.defaultdict
        Time spent writing chunks, by feed class name.

    Examples
    --------
    >>> from streams.feeds import CountingMetrics, MemoryFeed
    >>> from streams.feeds.fanout import add_operation
    >>> metrics = CountingMetrics()
    >>> with metrics.fanout_timer(MemoryFeed):
    ...     metrics.on_fanout(MemoryFeed, add_operation, 100)
    >>> metrics.fanout_writes
    Counter({('MemoryFeed', 'add_operation'): 100})
    """

    def __init__(self) -> None:
        self.published = 0
        self.removed = 0
        self.fanout_writes: collections.Counter[tuple[str, str]] = collections.Counter()
        self.fanout_seconds: collections.defaultdict[str, float] = collections.defaultdict(float)

    def on_activity_published(self) -> None:
        self.published += 1

    def on_activity_removed(self) -> None:
        self.removed += 1

    def on_fanout(
        self, feed_class: type[BaseFeed], operation: Callable[..., Any], count: int
    ) -> None:
        self.fanout_writes[(feed_class.__name__, getattr(operation, "__name__", "?"))] += count

    @contextmanager
    def fanout_timer(self, feed_class: type[BaseFeed]) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.fanout_seconds[feed_class.__name__] += time.perf_counter() - start
