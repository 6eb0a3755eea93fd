"""Flat feeds: a bounded, sorted timeline of activities per user.

A feed object is cheap: it holds a key (``key_format % {'user_id': user_id}``) and talks to
a timeline storage (one sorted timeline per key, holding activity ids) and an activity
storage (shared by all feeds, ``id -> activity``). Reads slice the timeline and hydrate the
ids from the activity storage, so activities must be inserted there first
(:meth:`BaseFeed.insert_activity`); the Manager of the next slice does that when it fans
activities out.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar

from .activity import Activity, DehydratedActivity
from .serializers import ActivitySerializer, BaseSerializer, SimpleTimelineSerializer
from .storage.base import BaseActivityStorage, BaseTimelineStorage, check_ordering, score_bounds
from .storage.memory import MemoryActivityStorage, MemoryTimelineStorage
from .storage.redis import RedisActivityStorage, RedisTimelineStorage
from .updates import FeedUpdate, listening, publish

if TYPE_CHECKING:
    from ..core import Stream

__all__ = ["BaseFeed", "MemoryFeed", "RedisFeed", "UserBaseFeed"]


def _activity_id(activity: Any) -> int:
    return int(getattr(activity, "serialization_id", activity))


class BaseFeed:
    """A user's feed: add, remove, count, slice and filter activities.

    Subclass it (or :class:`MemoryFeed` / :class:`RedisFeed`) and set the class
    attributes below to configure a feed.

    Parameters
    ----------
    user_id : int or str
        Whose feed; formatted into :attr:`key_format`.

    Attributes
    ----------
    key_format : str
        The storage key, ``'feed_%(user_id)s'`` by default.
    max_length : int
        The length :meth:`trim` keeps (100).
    trim_chance : float
        Probability that a write trims the feed (0.01).
    activity_class : type
        The class of activities read back (:class:`Activity`).
    timeline_storage_class, activity_storage_class : type
        Where the timeline and the activities live.
    timeline_serializer, activity_serializer : type
        How timeline entries and activities are written.
    filtering_supported, ordering_supported : bool
        Whether :meth:`filter` and :meth:`order_by` work (True for memory and Redis).

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from streams.feeds import Activity, Love, MemoryFeed
    >>> start = datetime(2024, 1, 1)
    >>> activities = [Activity(1, Love, i, time=start + timedelta(minutes=i)) for i in range(5)]
    >>> MemoryFeed.insert_activities(activities)
    5
    >>> feed = MemoryFeed(13)
    >>> feed.add_many(activities)
    5
    >>> feed.count(), [a.object_id for a in feed[:3]]
    (5, [4, 3, 2])
    >>> older = feed.filter(activity_id__lt=activities[2].serialization_id)
    >>> [a.object_id for a in older[:10]]
    [1, 0]
    >>> feed.remove(activities[4]), feed[0].object_id
    (1, 3)
    >>> feed.delete()
    >>> MemoryFeed.flush()
    """

    key_format: ClassVar[str] = "feed_%(user_id)s"
    max_length: ClassVar[int] = 100
    trim_chance: ClassVar[float] = 0.01
    activity_class: ClassVar[type[Activity]] = Activity
    timeline_storage_class: ClassVar[type[BaseTimelineStorage]] = BaseTimelineStorage
    activity_storage_class: ClassVar[type[BaseActivityStorage] | None] = BaseActivityStorage
    timeline_serializer: ClassVar[type[BaseSerializer[Any]]] = SimpleTimelineSerializer
    activity_serializer: ClassVar[type[ActivitySerializer]] = ActivitySerializer
    filtering_supported: ClassVar[bool] = True
    ordering_supported: ClassVar[bool] = True
    updates_namespace: ClassVar[str] = "feed"

    def __init__(self, user_id: Any) -> None:
        self.user_id = user_id
        self.key = self.key_format % {"user_id": user_id}
        self.timeline_storage = self.get_timeline_storage()
        self.activity_storage = self.get_activity_storage()
        self._filter_kwargs: dict[str, int] = {}
        self._ordering_args: list[str] = []

    # ------------------------------------------------------------------ configuration

    @classmethod
    def get_storage_options(cls) -> dict[str, Any]:
        """Options passed to the storages (Redis feeds: the server name)."""
        return {}

    @classmethod
    def get_timeline_storage(cls) -> BaseTimelineStorage:
        """A timeline storage for this feed class."""
        return cls.timeline_storage_class(**cls.get_storage_options())

    @classmethod
    def get_activity_storage(cls) -> BaseActivityStorage | None:
        """The activity storage of this feed class (None: activities are inline)."""
        if cls.activity_storage_class is None:
            return None
        return cls.activity_storage_class(**cls.get_storage_options())

    @classmethod
    def get_timeline_batch_interface(cls) -> AbstractContextManager[Any]:
        """A context yielding a batch for ``batch_interface=`` (a Redis pipeline with
        ``transaction=False``, executed on exit; a no-op for memory).

        Examples
        --------
        >>> from streams.feeds import Activity, Love, MemoryFeed
        >>> with MemoryFeed.get_timeline_batch_interface() as batch:
        ...     MemoryFeed(1).add(Activity(1, Love, 1), batch_interface=batch)
        1
        >>> MemoryFeed.flush()
        """
        return cls.get_timeline_storage().get_batch_interface()

    def _activity_serializer(self) -> ActivitySerializer:
        return self.activity_serializer(activity_class=self.activity_class)

    def _timeline_serializer(self) -> BaseSerializer[Any]:
        return self.timeline_serializer(activity_class=self.activity_class)

    @property
    def channel(self) -> str:
        """The name :meth:`updates` listens to: the backend and the key."""
        return f"{self.updates_namespace}:{self.key}"

    # ------------------------------------------------------------------ activity storage

    @classmethod
    def insert_activity(cls, activity: Activity, batch_interface: Any = None) -> int:
        """Store ``activity`` in the shared activity storage (needed before reads)."""
        return cls.insert_activities([activity], batch_interface=batch_interface)

    @classmethod
    def insert_activities(cls, activities: Iterable[Activity], batch_interface: Any = None) -> int:
        """Store ``activities`` in the shared activity storage; returns how many."""
        storage = cls.get_activity_storage()
        if storage is None:
            return 0
        serializer = cls.activity_serializer(activity_class=cls.activity_class)
        data = {a.serialization_id: serializer.dumps(a) for a in activities}
        return storage.add_many(data, batch_interface=batch_interface)

    @classmethod
    def remove_activity(cls, activity: Any, batch_interface: Any = None) -> int:
        """Delete ``activity`` (or its id) from the shared activity storage."""
        storage = cls.get_activity_storage()
        if storage is None:
            return 0
        return storage.remove_many([_activity_id(activity)], batch_interface=batch_interface)

    # ------------------------------------------------------------------ writes

    def add(self, activity: Activity, **kwargs: Any) -> int:
        """Add one activity; see :meth:`add_many`."""
        return self.add_many([activity], **kwargs)

    def add_many(
        self, activities: Iterable[Activity], batch_interface: Any = None, trim: bool = True
    ) -> int:
        """Add activities to the timeline (the ids already there are left alone).

        Parameters
        ----------
        activities : iterable of Activity
        batch_interface : optional
            A batch from :meth:`get_timeline_batch_interface`: the writes run when it
            closes.
        trim : bool, optional
            Let the write trim the feed to :attr:`max_length`, with probability
            :attr:`trim_chance`.

        Returns
        -------
        int
            The number added (with a batch: the number written).
        """
        activities = list(activities)
        serializer = self._timeline_serializer()
        entries = [(a.serialization_id, serializer.dumps(a)) for a in activities]
        added = self.timeline_storage.add_many(self.key, entries, batch_interface)
        if trim and random.random() < self.trim_chance:
            self.trim()
        self.on_update_feed(new=activities, deleted=[])
        return added

    def remove(self, activity_or_id: Any, **kwargs: Any) -> int:
        """Remove one activity (or id); see :meth:`remove_many`."""
        return self.remove_many([activity_or_id], **kwargs)

    def remove_many(
        self, activities_or_ids: Iterable[Any], batch_interface: Any = None, trim: bool = True
    ) -> int:
        """Remove activities (or their ids) from the timeline; returns how many were there.

        The activities stay in the activity storage (other feeds may show them).
        """
        items = list(activities_or_ids)
        serializer = self._timeline_serializer()
        members = [serializer.dumps(DehydratedActivity(_activity_id(a))) for a in items]
        removed = self.timeline_storage.remove_many(self.key, members, batch_interface)
        if trim and random.random() < self.trim_chance:
            self.trim()
        self.on_update_feed(new=[], deleted=items)
        return removed

    def on_update_feed(self, new: Sequence[Any], deleted: Sequence[Any]) -> None:
        """Called after every write with what was added and removed.

        Override it to react to writes (call ``super()`` to keep :meth:`updates`
        working).
        """
        if listening(self.channel):
            publish(
                self.channel,
                [FeedUpdate("add", a) for a in new] + [FeedUpdate("remove", a) for a in deleted],
            )

    def trim(self, length: int | None = None) -> None:
        """Keep the newest ``length`` (default :attr:`max_length`) entries."""
        self.timeline_storage.trim(self.key, self.max_length if length is None else length)

    def delete(self) -> None:
        """Drop this feed's timeline (the activities stay in the activity storage)."""
        self.timeline_storage.delete(self.key)

    @classmethod
    def flush(cls) -> None:
        """Drop every timeline of this feed class and the whole activity storage."""
        cls.get_timeline_storage().flush(cls.key_format % {"user_id": "*"})
        storage = cls.get_activity_storage()
        if storage is not None:
            storage.flush()

    # ------------------------------------------------------------------ reads

    def count(self) -> int:
        """The number of entries in the timeline."""
        return self.timeline_storage.count(self.key)

    def __len__(self) -> int:
        return self.count()

    def index_of(self, activity_id: int) -> int:
        """The position of ``activity_id``, newest first (ValueError if absent)."""
        member = self._timeline_serializer().dumps(DehydratedActivity(activity_id))
        return self.timeline_storage.index_of(self.key, member)

    def __iter__(self) -> Any:
        raise TypeError("a feed is not iterable: slice it, e.g. feed[:25]")

    def __getitem__(self, k: int | slice) -> Any:
        """``feed[start:stop]`` (a list) or ``feed[i]`` (one entry); no negative indexes."""
        if isinstance(k, slice):
            if k.step not in (None, 1):
                raise ValueError("feeds do not support a slice step")
            start = k.start or 0
            if start < 0 or (k.stop is not None and k.stop < 0):
                raise ValueError("feeds do not support negative indexing")
            return self.get_activity_slice(start, k.stop)
        if not isinstance(k, int):
            raise TypeError(f"feed indices must be int or slice, not {type(k).__name__}")
        if k < 0:
            raise ValueError("feeds do not support negative indexing")
        found = self.get_activity_slice(k, k + 1)
        if not found:
            raise IndexError(f"feed index {k} out of range")
        return found[0]

    def get_activity_slice(
        self, start: int = 0, stop: int | None = None, rehydrate: bool = True
    ) -> list[Any]:
        """Entries ``start:stop`` of the filtered, ordered timeline.

        Parameters
        ----------
        rehydrate : bool, optional
            Resolve ids into activities from the activity storage (KeyError if one is
            missing there); False returns :class:`DehydratedActivity` references.
        """
        members = self.timeline_storage.get_slice(
            self.key, start, stop, self._filter_kwargs, self._ordering_args
        )
        serializer = self._timeline_serializer()
        entries = [serializer.loads(m) for m in members]
        return self.hydrate_activities(entries) if rehydrate else entries

    def hydrate_activities(self, entries: Sequence[Any]) -> list[Any]:
        """Replace :class:`DehydratedActivity` references by the stored activities."""
        ids = [e.serialization_id for e in entries if e.dehydrated]
        if not ids or self.activity_storage is None:
            return list(entries)
        serializer = self._activity_serializer()
        found = {
            i: serializer.loads(text) for i, text in self.activity_storage.get_many(ids).items()
        }
        return [e.get_hydrated(found) for e in entries]

    # ------------------------------------------------------------------ queries

    def _clone(self) -> Any:
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._filter_kwargs = dict(self._filter_kwargs)
        clone._ordering_args = list(self._ordering_args)
        return clone

    def filter(self, **kwargs: int) -> Any:
        """A copy reading only ids in a range: ``activity_id__lt``, ``__lte``, ``__gt``,
        ``__gte`` (e.g. ``feed.filter(activity_id__lt=last_id)[:25]`` for the next page).
        """
        if not self.filtering_supported:
            raise ValueError(f"{type(self).__name__} does not support filtering")
        score_bounds(kwargs)  # validate
        clone = self._clone()
        clone._filter_kwargs.update(kwargs)
        return clone

    def order_by(self, *ordering_args: str) -> Any:
        """A copy reading oldest first (``'activity_id'``) or newest first
        (``'-activity_id'``, the default)."""
        if not self.ordering_supported:
            raise ValueError(f"{type(self).__name__} does not support ordering")
        check_ordering(ordering_args)  # validate
        clone = self._clone()
        clone._ordering_args = list(ordering_args)
        return clone

    # ------------------------------------------------------------------ real time

    def updates(self, **options: Any) -> Stream[Any]:
        """A source emitting a :class:`~streams.feeds.FeedUpdate` per activity added to
        or removed from this feed (its key) by this process, from its ``start()`` on.

        Writes by other processes are not seen (Redis pub/sub comes in a later slice).
        ``options`` go to the source (``start=True``, ``stream_name``...).

        Examples
        --------
        >>> from streams.feeds import Activity, Love, MemoryFeed
        >>> feed = MemoryFeed(7)
        >>> updates = feed.updates()
        >>> out = updates.sink_to_list()
        >>> updates.start()
        >>> a = Activity(1, Love, 2)
        >>> feed.add(a), feed.remove(a)
        (1, 1)
        >>> updates.stop()
        >>> updates.wait()
        >>> [kind for kind, activity in out], out[0].activity == a
        (['add', 'remove'], True)
        """
        from .updates import FeedUpdates

        return FeedUpdates(self.channel, **options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.user_id!r})"


class UserBaseFeed(BaseFeed):
    """The author's own activities (``'user_feed:%(user_id)s'``, up to a million)."""

    key_format: ClassVar[str] = "user_feed:%(user_id)s"
    max_length: ClassVar[int] = 10**6


class MemoryFeed(BaseFeed):
    """A feed kept in this process's memory (tests, single-process apps).

    Examples
    --------
    >>> from streams.feeds import Activity, Love, MemoryFeed
    >>> a = Activity(1, Love, 2)
    >>> MemoryFeed.insert_activity(a)
    1
    >>> feed = MemoryFeed(1)
    >>> feed.add(a), feed.add(a), feed.count(), feed[0] == a
    (1, 0, 1, True)
    >>> MemoryFeed.flush()
    """

    timeline_storage_class: ClassVar[type[BaseTimelineStorage]] = MemoryTimelineStorage
    activity_storage_class: ClassVar[type[BaseActivityStorage] | None] = MemoryActivityStorage
    updates_namespace: ClassVar[str] = "memory"


class OnServer:
    """A feed class whose storages live on a named server of a settings dict: Redis
    (``redis_server``) or SQL (``sql_server``) feeds derive from a subclass of this."""

    server_setting: ClassVar[str]  # "redis_server" or "sql_server": the attribute's name
    key: str

    @classmethod
    def get_storage_options(cls) -> dict[str, Any]:
        return {cls.server_setting: getattr(cls, cls.server_setting)}

    @property
    def channel(self) -> str:
        """The name :meth:`BaseFeed.updates` listens to: the backend, server and key."""
        backend = self.server_setting.split("_")[0]
        return f"{backend}:{getattr(self, self.server_setting)}:{self.key}"


class OnRedis(OnServer):
    """Storages on the Redis server named ``redis_server`` in
    :data:`streams.feeds.settings.STREAM_REDIS_CONFIG`."""

    server_setting = "redis_server"
    redis_server: ClassVar[str] = "default"


class RedisFeed(OnRedis, BaseFeed):
    """A feed in Redis: a sorted set per user, activities in sharded hashes.

    :attr:`redis_server` names the server in
    :data:`streams.feeds.settings.STREAM_REDIS_CONFIG`.

    Examples
    --------
    >>> from streams.feeds import RedisFeed
    >>> RedisFeed(13).key, RedisFeed.redis_server
    ('feed_13', 'default')
    """

    timeline_storage_class: ClassVar[type[BaseTimelineStorage]] = RedisTimelineStorage
    activity_storage_class: ClassVar[type[BaseActivityStorage] | None] = RedisActivityStorage
