"""Activity feeds: timelines of "who did what", flat, aggregated and notifications.

The surface of Stream Framework (activities, verbs, feeds on memory and Redis,
aggregators, notification feeds) plus :meth:`BaseFeed.updates`, a stream of the changes
of a feed. Importing this package does no work; ``redis`` is imported only when a Redis
feed first talks to its server. See ``docs/guide/feeds.rst``.
"""

from .activity import (
    Activity,
    AggregatedActivity,
    DehydratedActivity,
    DuplicateActivityException,
    NotificationActivity,
)
from .aggregated import AggregatedFeed, RedisAggregatedFeed
from .aggregators import (
    BaseAggregator,
    NotificationAggregator,
    RecentRankMixin,
    RecentVerbAggregator,
)
from .base import BaseFeed, MemoryFeed, RedisFeed, UserBaseFeed
from .notification import NotificationFeed, RedisNotificationFeed
from .updates import FeedUpdate, FeedUpdates
from .verbs import Add, Comment, Follow, Love, Verb, get_verb_by_id, register

__all__ = [
    "Activity",
    "Add",
    "AggregatedActivity",
    "AggregatedFeed",
    "BaseAggregator",
    "BaseFeed",
    "Comment",
    "DehydratedActivity",
    "DuplicateActivityException",
    "FeedUpdate",
    "FeedUpdates",
    "Follow",
    "Love",
    "MemoryFeed",
    "NotificationActivity",
    "NotificationAggregator",
    "NotificationFeed",
    "RecentRankMixin",
    "RecentVerbAggregator",
    "RedisAggregatedFeed",
    "RedisFeed",
    "RedisNotificationFeed",
    "UserBaseFeed",
    "Verb",
    "get_verb_by_id",
    "register",
]
