"""Activity feeds: timelines of "who did what", flat, aggregated and notifications.

The surface of Stream Framework (activities, verbs, feeds on memory, Redis and SQL,
aggregators, notification feeds, the fan-out Manager) plus :meth:`BaseFeed.updates`, a
stream of the changes of a feed. Importing this package does no work; ``redis`` is
imported only when a Redis feed first talks to its server. See ``docs/guide/feeds.rst``.
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
from .fanout import FanoutError, FanoutPriority
from .manager import Manager
from .metrics import CountingMetrics, FeedMetrics
from .notification import NotificationFeed, RedisNotificationFeed
from .sql import SQLAggregatedFeed, SQLFeed, SQLNotificationFeed
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
    "CountingMetrics",
    "DehydratedActivity",
    "DuplicateActivityException",
    "FanoutError",
    "FanoutPriority",
    "FeedMetrics",
    "FeedUpdate",
    "FeedUpdates",
    "Follow",
    "Love",
    "Manager",
    "MemoryFeed",
    "NotificationActivity",
    "NotificationAggregator",
    "NotificationFeed",
    "RecentRankMixin",
    "RecentVerbAggregator",
    "RedisAggregatedFeed",
    "RedisFeed",
    "RedisNotificationFeed",
    "SQLAggregatedFeed",
    "SQLFeed",
    "SQLNotificationFeed",
    "UserBaseFeed",
    "Verb",
    "get_verb_by_id",
    "register",
]
