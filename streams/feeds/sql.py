"""Feeds in an SQL database (SQLAlchemy: SQLite by default, PostgreSQL): the flat,
aggregated and notification feeds on the storages of :mod:`streams.feeds.storage.sql`.

:attr:`sql_server` names the database in
:data:`streams.feeds.settings.STREAM_SQL_CONFIG` (``{'default': {'url':
'sqlite:///feeds.db'}}`` unless configured); the tables are created on first use.

Examples
--------
>>> from datetime import datetime
>>> from streams.feeds import Activity, Love, settings
>>> from streams.feeds.sql import SQLFeed
>>> settings.STREAM_SQL_CONFIG["doc_feeds"] = {"url": "sqlite://"}  # in memory
>>> class Feed(SQLFeed):
...     sql_server = "doc_feeds"
>>> a = Activity(1, Love, 2, time=datetime(2024, 1, 1))
>>> Feed.insert_activity(a)
1
>>> feed = Feed(1)
>>> feed.add(a), feed.add(a), feed.count(), feed[0] == a
(1, 0, 1, True)
>>> Feed.flush()
>>> del settings.STREAM_SQL_CONFIG["doc_feeds"]
"""

from __future__ import annotations

from typing import ClassVar

from .aggregated import AggregatedFeed
from .base import BaseFeed, OnServer
from .notification import NotificationFeed
from .storage.base import BaseActivityStorage, BaseListsStorage, BaseTimelineStorage
from .storage.sql import SQLActivityStorage, SQLListsStorage, SQLTimelineStorage

__all__ = ["SQLAggregatedFeed", "SQLFeed", "SQLNotificationFeed"]


class OnSQL(OnServer):
    """Storages on the database named ``sql_server`` in
    :data:`streams.feeds.settings.STREAM_SQL_CONFIG`."""

    server_setting = "sql_server"
    sql_server: ClassVar[str] = "default"


class SQLFeed(OnSQL, BaseFeed):
    """A flat feed in SQL: timeline rows per user, activities in the shared table.

    Examples
    --------
    >>> from streams.feeds.sql import SQLFeed
    >>> SQLFeed(13).key, SQLFeed.sql_server
    ('feed_13', 'default')
    """

    timeline_storage_class: ClassVar[type[BaseTimelineStorage]] = SQLTimelineStorage
    activity_storage_class: ClassVar[type[BaseActivityStorage] | None] = SQLActivityStorage


class SQLAggregatedFeed(OnSQL, AggregatedFeed):
    """An aggregated feed in SQL: aggregates (member ids) as timeline rows, activities in
    the shared table.

    Examples
    --------
    >>> from streams.feeds.sql import SQLAggregatedFeed
    >>> SQLAggregatedFeed(1).key
    'aggregated_feed_1'
    """

    timeline_storage_class: ClassVar[type[BaseTimelineStorage]] = SQLTimelineStorage
    activity_storage_class: ClassVar[type[BaseActivityStorage] | None] = SQLActivityStorage


class SQLNotificationFeed(OnSQL, NotificationFeed):
    """A notification feed in SQL: aggregates (activities inline) as timeline rows, the
    unseen/unread markers as rows of the markers table.

    Examples
    --------
    >>> from streams.feeds.sql import SQLNotificationFeed
    >>> SQLNotificationFeed(1).key
    'notification_feed:1'
    """

    timeline_storage_class: ClassVar[type[BaseTimelineStorage]] = SQLTimelineStorage
    markers_storage_class: ClassVar[type[BaseListsStorage]] = SQLListsStorage
