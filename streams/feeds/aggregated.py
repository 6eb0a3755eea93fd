"""Aggregated feeds: activities grouped ("Alice and 3 others loved your photo").

Each write reads the newest :attr:`AggregatedFeed.merge_max_length` aggregates, merges the
new activities into them with the feed's aggregator and writes the difference: old
versions of changed aggregates are removed, new aggregates and new versions added. Since
an aggregate's id is its ``updated_at``, a changed aggregate moves to the top.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from .activity import Activity, AggregatedActivity
from .aggregators import BaseAggregator, RecentVerbAggregator
from .base import BaseFeed, OnRedis, _activity_id
from .serializers import AggregatedActivitySerializer, BaseSerializer
from .storage.base import BaseActivityStorage, BaseTimelineStorage
from .storage.memory import MemoryActivityStorage, MemoryTimelineStorage
from .storage.redis import RedisActivityStorage, RedisTimelineStorage

__all__ = ["AggregatedFeed", "RedisAggregatedFeed"]


class AggregatedFeed(BaseFeed):
    """A feed of aggregates, kept in this process's memory (see :class:`RedisAggregatedFeed`).

    Attributes
    ----------
    aggregator_class : type
        Groups and ranks (:class:`RecentVerbAggregator`: same verb, same day).
    aggregated_activity_class : type
        The aggregates' class (:class:`AggregatedActivity`).
    merge_max_length : int
        How many of the newest aggregates new activities can merge into (20).

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from streams.feeds import Activity, AggregatedFeed, Comment, Love
    >>> day = datetime(2024, 1, 1)
    >>> loves = [Activity(i, Love, i, time=day + timedelta(minutes=i)) for i in range(1, 4)]
    >>> AggregatedFeed.insert_activities(loves)
    3
    >>> feed = AggregatedFeed(1)
    >>> feed.add_many(loves[:2]), feed.add(loves[2])
    (1, 1)
    >>> feed.count(), feed[0].activity_count, feed[0].actor_ids
    (1, 3, [1, 2, 3])
    >>> comment = Activity(9, Comment, 9, time=day + timedelta(hours=1))
    >>> AggregatedFeed.insert_activity(comment)
    1
    >>> feed.add(comment), [a.group for a in feed[:2]]
    (1, ['2-2024-01-01', '3-2024-01-01'])
    >>> feed.remove_many(loves[:2]), feed[1].activity_count
    (1, 1)
    >>> AggregatedFeed.flush()
    """

    key_format: ClassVar[str] = "aggregated_feed_%(user_id)s"
    aggregator_class: ClassVar[type[BaseAggregator]] = RecentVerbAggregator
    aggregated_activity_class: ClassVar[type[AggregatedActivity]] = AggregatedActivity
    merge_max_length: ClassVar[int] = 20
    timeline_serializer: ClassVar[type[BaseSerializer[Any]]] = AggregatedActivitySerializer
    timeline_storage_class: ClassVar[type[BaseTimelineStorage]] = MemoryTimelineStorage
    activity_storage_class: ClassVar[type[BaseActivityStorage] | None] = MemoryActivityStorage
    updates_namespace: ClassVar[str] = "memory"

    def get_aggregator(self) -> BaseAggregator:
        """An aggregator of :attr:`aggregator_class`."""
        return self.aggregator_class(self.aggregated_activity_class, self.activity_class)

    def _timeline_serializer(self) -> BaseSerializer[Any]:
        return self.timeline_serializer(
            activity_class=self.activity_class,
            aggregated_activity_class=self.aggregated_activity_class,
        )

    # ------------------------------------------------------------------ reads

    def hydrate_activities(self, entries: Sequence[Any]) -> list[Any]:
        """Resolve the member references of dehydrated aggregates."""
        ids = [a.serialization_id for e in entries if e.dehydrated for a in e.activities]
        if not ids or self.activity_storage is None:
            return list(entries)
        serializer = self._activity_serializer()
        found = {
            i: serializer.loads(text) for i, text in self.activity_storage.get_many(ids).items()
        }
        return [e.get_hydrated(found) if e.dehydrated else e for e in entries]

    def _current(self, length: int) -> list[AggregatedActivity]:
        """The newest ``length`` aggregates, hydrated, whatever the filters."""
        members = self.timeline_storage.get_slice(self.key, 0, length)
        serializer = self._timeline_serializer()
        return self.hydrate_activities([serializer.loads(m) for m in members])

    def index_of(self, activity_id: int) -> int:
        """The position of the aggregate with id ``activity_id`` (ValueError if absent)."""
        for position, aggregated in enumerate(self._current(self.count())):
            if aggregated.serialization_id == activity_id:
                return position
        raise ValueError(f"no aggregate {activity_id} in {self!r}")

    def contains(self, activity: Activity) -> bool:
        """Whether an aggregate (among the newest :attr:`max_length`) holds an activity
        with the same verb, actor, object and target."""
        wanted = (activity.verb.id, activity.actor_id, activity.object_id, activity.target_id)
        return any(
            (a.verb.id, a.actor_id, a.object_id, a.target_id) == wanted
            for aggregated in self._current(self.max_length)
            for a in aggregated.activities
        )

    # ------------------------------------------------------------------ writes

    def add_many(
        self,
        activities: Iterable[Activity],
        batch_interface: Any = None,
        trim: bool = True,
        current_activities: Sequence[AggregatedActivity] | None = None,
    ) -> int:
        """Merge ``activities`` into the newest :attr:`merge_max_length` aggregates.

        Reads before it writes, so ``batch_interface`` is not used: the diff is written
        in two batches of its own (removals, then additions).

        Returns
        -------
        int
            The number of aggregates written (new ones plus changed ones).
        """
        current = (
            self._current(self.merge_max_length)
            if current_activities is None
            else list(current_activities)
        )
        new, changed, deleted = self.get_aggregator().merge(current, activities)
        self._update_from_diff(new, changed, deleted)
        if trim and random.random() < self.trim_chance:
            self.trim()
        return len(new) + len(changed)

    def remove_many(
        self,
        activities_or_ids: Iterable[Any],
        batch_interface: Any = None,
        trim: bool = True,
        current_activities: Sequence[AggregatedActivity] | None = None,
    ) -> int:
        """Remove activities (or ids) from the aggregates holding them.

        The feed is trimmed first; the newest :attr:`max_length` aggregates (or
        ``current_activities``) are scanned. An aggregate losing all its kept members is
        deleted, any other one replaced by a new version.

        Returns
        -------
        int
            The number of aggregates changed or deleted.
        """
        self.trim()
        wanted = {_activity_id(a) for a in activities_or_ids}
        current = (
            self._current(self.max_length) if current_activities is None else current_activities
        )
        changed: list[tuple[AggregatedActivity, AggregatedActivity]] = []
        deleted: list[AggregatedActivity] = []
        for aggregated in current:
            members = {a.serialization_id for a in aggregated.activities}
            hit = members & wanted
            if not hit:
                continue
            if hit == members:
                deleted.append(aggregated)
                continue
            updated = copy.deepcopy(aggregated)
            updated.remove_many([a for a in updated.activities if a.serialization_id in hit])
            changed.append((aggregated, updated))
        self._update_from_diff([], changed, deleted)
        return len(changed) + len(deleted)

    def add_many_aggregated(
        self, aggregated: Iterable[AggregatedActivity], batch_interface: Any = None
    ) -> int:
        """Write aggregates as they are (no merge)."""
        aggregated = list(aggregated)
        serializer = self._timeline_serializer()
        entries = [(a.serialization_id, serializer.dumps(a)) for a in aggregated]
        added = self.timeline_storage.add_many(self.key, entries, batch_interface)
        self.on_update_feed(new=aggregated, deleted=[])
        return added

    def remove_many_aggregated(
        self, aggregated: Iterable[AggregatedActivity], batch_interface: Any = None
    ) -> int:
        """Remove aggregates as they are stored."""
        aggregated = list(aggregated)
        serializer = self._timeline_serializer()
        members = [serializer.dumps(a) for a in aggregated]
        removed = self.timeline_storage.remove_many(self.key, members, batch_interface)
        self.on_update_feed(new=[], deleted=aggregated)
        return removed

    def _update_from_diff(
        self,
        new: Sequence[AggregatedActivity],
        changed: Sequence[tuple[AggregatedActivity, AggregatedActivity]],
        deleted: Sequence[AggregatedActivity],
    ) -> None:
        """Write a merge's result: drop old versions and deleted ones, add the rest."""
        to_remove = [old for old, _ in changed] + list(deleted)
        to_add = list(new) + [now for _, now in changed]
        serializer = self._timeline_serializer()
        if to_remove:
            with self.get_timeline_batch_interface() as batch:
                members = [serializer.dumps(a) for a in to_remove]
                self.timeline_storage.remove_many(self.key, members, batch)
        if to_add:
            with self.get_timeline_batch_interface() as batch:
                entries = [(a.serialization_id, serializer.dumps(a)) for a in to_add]
                self.timeline_storage.add_many(self.key, entries, batch)
        if to_add or to_remove:
            self.on_update_feed(new=to_add, deleted=to_remove)


class RedisAggregatedFeed(OnRedis, AggregatedFeed):
    """An aggregated feed in Redis: aggregates (member ids) in a sorted set per user,
    activities in the shared sharded hashes.

    Examples
    --------
    >>> from streams.feeds import RedisAggregatedFeed
    >>> RedisAggregatedFeed(1).key
    'aggregated_feed_1'
    """

    timeline_storage_class: ClassVar[type[BaseTimelineStorage]] = RedisTimelineStorage
    activity_storage_class: ClassVar[type[BaseActivityStorage] | None] = RedisActivityStorage
