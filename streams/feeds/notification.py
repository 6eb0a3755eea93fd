"""Notification feeds: aggregated feeds with unseen/unread markers and counts.

Aggregates are stored with their activities inline (no activity storage). Two lists per
feed, ``unseen`` and ``unread``, hold the ids of the aggregates not yet seen/read (the
newest :attr:`NotificationFeed.markers_max_length` = 100 of them). A new or changed
aggregate is unseen and unread; reads set ``is_seen``/``is_read`` on each aggregate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .activity import AggregatedActivity, NotificationActivity
from .aggregated import AggregatedFeed
from .aggregators import BaseAggregator, NotificationAggregator
from .base import OnRedis
from .serializers import BaseSerializer, NotificationSerializer
from .storage.base import BaseActivityStorage, BaseListsStorage, BaseTimelineStorage
from .storage.memory import MemoryListsStorage
from .storage.redis import RedisListsStorage, RedisTimelineStorage
from .updates import listening, publish

if TYPE_CHECKING:
    from ..core import Stream

__all__ = ["NotificationFeed", "RedisNotificationFeed"]


class NotificationFeed(AggregatedFeed):
    """A notification feed in this process's memory (see :class:`RedisNotificationFeed`).

    Attributes
    ----------
    markers_storage_class : type
        Where the unseen/unread lists live.
    markers_max_length : int
        How many aggregate ids each list keeps (100).
    track_unseen, track_unread : bool
        Whether to keep each list (True).

    Examples
    --------
    >>> from datetime import datetime
    >>> from streams.feeds import Activity, Comment, Love, NotificationFeed
    >>> feed = NotificationFeed(1)
    >>> day = datetime(2024, 1, 1)
    >>> feed.add_many([Activity(2, Love, 10, time=day), Activity(3, Love, 10, time=day),
    ...                Activity(4, Comment, 10, time=day.replace(hour=1))])
    2
    >>> feed.get_notification_data()
    {'unseen_count': 2, 'unread_count': 2}
    >>> newest = feed[0]
    >>> newest.verb.infinitive, newest.is_seen, newest.is_read
    ('comment', False, False)
    >>> feed.mark_activity(newest.serialization_id, seen=True, read=True)
    >>> feed[0].is_seen, feed.count_unseen(), feed.count_unread()
    (True, 1, 1)
    >>> feed.mark_all(seen=True)
    >>> feed.get_notification_data()
    {'unseen_count': 0, 'unread_count': 1}
    >>> feed.delete()
    """

    key_format: ClassVar[str] = "notification_feed:%(user_id)s"
    aggregator_class: ClassVar[type[BaseAggregator]] = NotificationAggregator
    aggregated_activity_class: ClassVar[type[AggregatedActivity]] = NotificationActivity
    activity_storage_class: ClassVar[type[BaseActivityStorage] | None] = None
    timeline_serializer: ClassVar[type[BaseSerializer[Any]]] = NotificationSerializer
    markers_storage_class: ClassVar[type[BaseListsStorage]] = MemoryListsStorage
    markers_max_length: ClassVar[int] = 100
    track_unseen: ClassVar[bool] = True
    track_unread: ClassVar[bool] = True

    def __init__(self, user_id: Any) -> None:
        super().__init__(user_id)
        self.markers_storage = self.markers_storage_class(**self.get_storage_options())

    def _markers(self, seen: bool = True, read: bool = True) -> list[str]:
        names = []
        if seen and self.track_unseen:
            names.append("unseen")
        if read and self.track_unread:
            names.append("unread")
        return names

    # ------------------------------------------------------------------ counts

    def count_unseen(self) -> int:
        """The number of unseen aggregates (at most :attr:`markers_max_length`)."""
        return self.markers_storage.count(self.key, "unseen") if self.track_unseen else 0

    def count_unread(self) -> int:
        """The number of unread aggregates (at most :attr:`markers_max_length`)."""
        return self.markers_storage.count(self.key, "unread") if self.track_unread else 0

    def get_notification_data(self) -> dict[str, int]:
        """``{'unseen_count': n, 'unread_count': m}``."""
        return {"unseen_count": self.count_unseen(), "unread_count": self.count_unread()}

    # ------------------------------------------------------------------ marking

    def mark_activity(self, activity_id: int, seen: bool = True, read: bool = False) -> None:
        """Mark the aggregate with id ``activity_id`` seen and/or read."""
        self.mark_activities([activity_id], seen=seen, read=read)

    def mark_activities(
        self, activity_ids: Iterable[int], seen: bool = True, read: bool = False
    ) -> None:
        """Mark aggregates (by id) seen and/or read."""
        values = [str(int(i)) for i in activity_ids]
        for name in self._markers(seen, read):
            self.markers_storage.remove(self.key, name, values)
        self._publish_counts()

    def mark_all(self, seen: bool = True, read: bool = False) -> None:
        """Mark every aggregate seen and/or read."""
        self.markers_storage.flush(self.key, self._markers(seen, read))
        self._publish_counts()

    # ------------------------------------------------------------------ reads and writes

    def get_activity_slice(
        self, start: int = 0, stop: int | None = None, rehydrate: bool = True
    ) -> list[Any]:
        """Entries ``start:stop``, each with ``is_seen`` and ``is_read`` set."""
        entries = super().get_activity_slice(start, stop, rehydrate)
        unseen = set(self.markers_storage.get(self.key, "unseen")) if self.track_unseen else set()
        unread = set(self.markers_storage.get(self.key, "unread")) if self.track_unread else set()
        for entry in entries:
            marker = str(entry.serialization_id)
            entry.is_seen = marker not in unseen
            entry.is_read = marker not in unread
        return entries

    def _update_from_diff(
        self,
        new: Sequence[AggregatedActivity],
        changed: Sequence[tuple[AggregatedActivity, AggregatedActivity]],
        deleted: Sequence[AggregatedActivity],
    ) -> None:
        super()._update_from_diff(new, changed, deleted)
        gone = [str(old.serialization_id) for old, _ in changed]
        gone += [str(a.serialization_id) for a in deleted]
        # oldest first, so that the cap keeps the newest
        fresh = [
            str(i)
            for i in sorted(
                {a.serialization_id for a in new} | {now.serialization_id for _, now in changed}
            )
        ]
        for name in self._markers():
            if gone:
                self.markers_storage.remove(self.key, name, gone)
            if fresh:
                self.markers_storage.add(self.key, name, fresh, self.markers_max_length)
        if gone or fresh:
            self._publish_counts()

    def delete(self) -> None:
        """Drop the timeline and the markers."""
        super().delete()
        self.markers_storage.flush(self.key, ["unseen", "unread"])
        self._publish_counts()

    # ------------------------------------------------------------------ real time

    @property
    def counts_channel(self) -> str:
        """The channel of :meth:`updates`."""
        return f"{self.channel}:counts"

    def _publish_counts(self) -> None:
        if listening(self.counts_channel):
            publish(self.counts_channel, [self.get_notification_data()])

    def updates(self, **options: Any) -> Stream[Any]:
        """A source emitting ``{'unseen_count': n, 'unread_count': m}`` whenever a write
        or a mark by this process changes the counts of this feed.

        Examples
        --------
        >>> from streams.feeds import Activity, Love, NotificationFeed
        >>> feed = NotificationFeed(5)
        >>> updates = feed.updates()
        >>> out = updates.sink_to_list()
        >>> updates.start()
        >>> feed.add(Activity(1, Love, 2))
        1
        >>> feed.mark_all(seen=True)
        >>> feed.mark_all(seen=True)  # no change: nothing emitted
        >>> updates.stop()
        >>> updates.wait()
        >>> out
        [{'unseen_count': 1, 'unread_count': 1}, {'unseen_count': 0, 'unread_count': 1}]
        >>> feed.delete()
        """
        from .updates import FeedUpdates

        return FeedUpdates(self.counts_channel, distinct=True, **options)


class RedisNotificationFeed(OnRedis, NotificationFeed):
    """A notification feed in Redis: a sorted set of aggregates (activities inline) and
    two Redis lists of markers per user.

    Examples
    --------
    >>> from streams.feeds import RedisNotificationFeed
    >>> RedisNotificationFeed(1).key
    'notification_feed:1'
    """

    timeline_storage_class: ClassVar[type[BaseTimelineStorage]] = RedisTimelineStorage
    markers_storage_class: ClassVar[type[BaseListsStorage]] = RedisListsStorage
