"""Aggregators: group activities into aggregates and merge new ones into a feed.

An aggregator decides the group of an activity (:meth:`BaseAggregator.get_group`) and the
order of aggregates (:meth:`BaseAggregator.rank`). :meth:`BaseAggregator.merge` computes
what an aggregated feed must write: new aggregates, changed ones as ``(old, new)`` pairs,
and deleted ones.

Examples
--------
>>> from datetime import datetime
>>> from streams.feeds import Activity, Comment, Love, RecentVerbAggregator
>>> day = datetime(2024, 1, 1)
>>> aggregator = RecentVerbAggregator()
>>> aggregates = aggregator.aggregate(
...     [Activity(1, Love, 10, time=day), Activity(2, Love, 11, time=day.replace(hour=1)),
...      Activity(3, Comment, 12, time=day.replace(hour=2))])
>>> [(a.group, a.activity_count) for a in aggregates]
[('2-2024-01-01', 1), ('3-2024-01-01', 2)]
>>> new, changed, deleted = aggregator.merge(
...     aggregates, [Activity(4, Love, 13, time=day.replace(hour=3))])
>>> new, [(old.activity_count, now.activity_count) for old, now in changed], deleted
([], [(2, 3)], [])
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

from .activity import Activity, AggregatedActivity, DuplicateActivityException

__all__ = ["BaseAggregator", "NotificationAggregator", "RecentRankMixin", "RecentVerbAggregator"]


class BaseAggregator:
    """Group activities by :meth:`get_group` into aggregates, ordered by :meth:`rank`.

    Parameters
    ----------
    aggregated_activity_class : type, optional
        The class of the aggregates built (default :class:`AggregatedActivity`).
    activity_class : type, optional
        The class of the activities (default :class:`Activity`).

    Examples
    --------
    >>> from streams.feeds import BaseAggregator, Activity, Love
    >>> class ByActor(BaseAggregator):
    ...     def get_group(self, activity):
    ...         return str(activity.actor_id)
    ...     def rank(self, aggregated):
    ...         return sorted(aggregated, key=lambda a: a.group)
    >>> [a.group for a in ByActor().aggregate([Activity(2, Love, 1), Activity(1, Love, 2)])]
    ['1', '2']
    """

    def __init__(
        self,
        aggregated_activity_class: type[AggregatedActivity] | None = None,
        activity_class: type[Activity] | None = None,
    ) -> None:
        self.aggregated_activity_class = aggregated_activity_class or AggregatedActivity
        self.activity_class = activity_class or Activity

    def get_group(self, activity: Activity) -> str:
        """The aggregation key of ``activity`` (override this)."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_group()")

    def rank(self, aggregated: Sequence[AggregatedActivity]) -> list[AggregatedActivity]:
        """Order aggregates as the feed shows them (override this)."""
        raise NotImplementedError(f"{type(self).__name__} must implement rank()")

    def group_activities(self, activities: Iterable[Activity]) -> dict[str, AggregatedActivity]:
        """Build one aggregate per group, appending the activities oldest first.

        A repeated activity is skipped.
        """
        groups: dict[str, AggregatedActivity] = {}
        for activity in sorted(activities, key=lambda a: a.serialization_id):
            group = self.get_group(activity)
            if group not in groups:
                groups[group] = self.aggregated_activity_class(group)
            try:
                groups[group].append(activity)
            except DuplicateActivityException:
                continue
        return groups

    def aggregate(self, activities: Iterable[Activity]) -> list[AggregatedActivity]:
        """Group ``activities`` and rank the aggregates."""
        return self.rank(list(self.group_activities(activities).values()))

    def merge(
        self, aggregated: Iterable[AggregatedActivity], activities: Iterable[Activity]
    ) -> tuple[
        list[AggregatedActivity],
        list[tuple[AggregatedActivity, AggregatedActivity]],
        list[AggregatedActivity],
    ]:
        """Merge ``activities`` into the existing ``aggregated``.

        Returns
        -------
        new : list of AggregatedActivity
            Aggregates for groups not in ``aggregated``.
        changed : list of (old, new) pairs
            Existing aggregates that gained members (the old one is left untouched).
        deleted : list of AggregatedActivity
            Always empty here (subclasses may delete aggregates).
        """
        current = {a.group: a for a in aggregated}
        new: list[AggregatedActivity] = []
        changed: list[tuple[AggregatedActivity, AggregatedActivity]] = []
        for candidate in self.aggregate(activities):
            old = current.get(candidate.group)
            if old is None:
                new.append(candidate)
                continue
            updated = copy.deepcopy(old)
            for activity in candidate.activities:
                try:
                    updated.append(activity)
                except DuplicateActivityException:
                    continue
            if updated.activity_count != old.activity_count:
                changed.append((old, updated))
        return new, changed, []


class RecentRankMixin:
    """Rank aggregates by ``updated_at``, newest first."""

    def rank(self, aggregated: Sequence[AggregatedActivity]) -> list[AggregatedActivity]:
        """Sort by ``updated_at`` descending."""
        return sorted(aggregated, key=lambda a: a.serialization_id, reverse=True)


class RecentVerbAggregator(RecentRankMixin, BaseAggregator):
    """Group the same verb on the same day: ``"<verb id>-<date>"``.

    Examples
    --------
    >>> from datetime import datetime
    >>> from streams.feeds import Activity, Love, RecentVerbAggregator
    >>> RecentVerbAggregator().get_group(Activity(1, Love, 2, time=datetime(2024, 5, 6)))
    '3-2024-05-06'
    """

    def get_group(self, activity: Activity) -> str:
        """``"<verb id>-<date>"``."""
        return f"{activity.verb.id}-{activity.time.date()}"


class NotificationAggregator(RecentRankMixin, BaseAggregator):
    """Group the same verb on the same object on the same day: ``"<verb>-<object>-<date>"``.

    Examples
    --------
    >>> from datetime import datetime
    >>> from streams.feeds import Activity, Love, NotificationAggregator
    >>> NotificationAggregator().get_group(Activity(1, Love, 2, time=datetime(2024, 5, 6)))
    '3-2-2024-05-06'
    """

    def get_group(self, activity: Activity) -> str:
        """``"<verb id>-<object id>-<date>"``."""
        return f"{activity.verb.id}-{activity.object_id}-{activity.time.date()}"
