"""Activities ("actor verb object [target] at time") and aggregates of activities.

An :class:`Activity` is identified and ordered by its :attr:`~Activity.serialization_id`,
an int made of the time in epoch milliseconds, the object id on 10 digits and the verb id
on 3 digits, so that a feed sorted by id is sorted by time. An :class:`AggregatedActivity`
groups activities (at most 15 kept, the rest counted) for "Alice and 3 others loved your
photo" feeds.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from .verbs import Verb

__all__ = [
    "Activity",
    "AggregatedActivity",
    "DehydratedActivity",
    "DuplicateActivityException",
    "NotificationActivity",
    "epoch_microseconds",
    "from_epoch_microseconds",
    "utcnow",
]

_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)

MAX_OBJECT_ID = 10**10
"""Object ids must be below this: they take 10 digits of a serialization id."""


def utcnow() -> datetime:
    """The current time as a naive UTC datetime (the default time of activities)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _naive_utc(when: datetime) -> datetime:
    if when.tzinfo is not None:
        return when.astimezone(UTC).replace(tzinfo=None)
    return when


def epoch_microseconds(when: datetime) -> int:
    """Microseconds since the epoch of ``when`` (naive means UTC), computed exactly.

    Examples
    --------
    >>> from datetime import datetime
    >>> epoch_microseconds(datetime(1970, 1, 1, 0, 0, 1, 5))
    1000005
    """
    return (_naive_utc(when) - _EPOCH) // _MICROSECOND


def from_epoch_microseconds(value: int) -> datetime:
    """The naive UTC datetime ``value`` microseconds after the epoch."""
    return _EPOCH + timedelta(microseconds=value)


class DuplicateActivityException(Exception):
    """An aggregate already holds this activity."""


class _Refs:
    """The actor/object/target fields: the id always, the object only if one was given."""

    __slots__ = ()

    def _set_ref(self, field: str, value: Any) -> None:
        if value is None:
            object.__setattr__(self, f"{field}_id", None)
            object.__setattr__(self, f"_{field}", None)
        elif isinstance(value, int):
            object.__setattr__(self, f"{field}_id", value)
        else:
            object.__setattr__(self, f"{field}_id", value.id)
            object.__setattr__(self, f"_{field}", value)

    def _get_ref(self, field: str) -> Any:
        try:
            return object.__getattribute__(self, f"_{field}")
        except AttributeError:
            raise AttributeError(
                f"only the id of the {field} is stored; use .{field}_id"
            ) from None


class Activity(_Refs):
    """One thing that happened: ``actor`` did ``verb`` to ``object`` (at ``target``).

    Parameters
    ----------
    actor, object, target : int or object with an ``id``
        Who did it, to what, and where (``target`` is optional). An int is stored as the
        ``*_id`` attribute only (reading ``.actor`` then raises AttributeError); an object
        is stored as is and its ``.id`` as ``actor_id``.
    verb : type of Verb
        What was done (see :mod:`streams.feeds.verbs`).
    time : datetime, optional
        When; naive UTC (aware datetimes are converted). Default: now.
    extra_context : dict, optional
        Anything else to keep with the activity.

    Notes
    -----
    Equality, hashing and ordering use :attr:`serialization_id` only, so two actors doing
    the same verb to the same object in the same millisecond are the same activity (as in
    Stream Framework).

    Examples
    --------
    >>> from datetime import datetime
    >>> from streams.feeds import Activity, Love
    >>> a = Activity(13, Love, 42, time=datetime(2024, 1, 1, 12, 0, 0))
    >>> a.serialization_id
    17041104000000000000042003
    >>> a.actor_id, a.object_id, a.target_id
    (13, 42, None)
    >>> a.actor
    Traceback (most recent call last):
    ...
    AttributeError: only the id of the actor is stored; use .actor_id
    >>> a == Activity(99, Love, 42, time=datetime(2024, 1, 1, 12, 0, 0))
    True
    """

    dehydrated = False
    actor_id: int
    object_id: int
    target_id: int | None

    def __init__(
        self,
        actor: Any,
        verb: type[Verb],
        object: Any,  # Stream Framework's keyword
        target: Any = None,
        time: datetime | None = None,
        extra_context: Mapping[str, Any] | None = None,
    ) -> None:
        self._set_ref("actor", actor)
        self._set_ref("object", object)
        self._set_ref("target", target)
        self.verb = verb
        self.time = _naive_utc(time) if time is not None else utcnow()
        self.extra_context: dict[str, Any] = dict(extra_context or {})

    @property
    def actor(self) -> Any:
        """The actor object (AttributeError if only its id was given)."""
        return self._get_ref("actor")

    @property
    def object(self) -> Any:
        """The object (AttributeError if only its id was given)."""
        return self._get_ref("object")

    @property
    def target(self) -> Any:
        """The target object, or None (AttributeError if only its id was given)."""
        return self._get_ref("target")

    @property
    def serialization_id(self) -> int:
        """The unique sort key: epoch ms, then object id (10 digits), then verb id (3)."""
        if not 0 <= self.object_id < MAX_OBJECT_ID:
            raise ValueError(f"object_id must be in [0, 10**10), got {self.object_id}")
        if not 0 <= self.verb.id < 1000:
            raise ValueError(f"verb id must be in [0, 1000), got {self.verb.id}")
        milliseconds = epoch_microseconds(self.time) // 1000
        return (milliseconds * MAX_OBJECT_ID + self.object_id) * 1000 + self.verb.id

    def get_dehydrated(self) -> DehydratedActivity:
        """A reference to this activity holding only its id (what flat timelines store)."""
        return DehydratedActivity(self.serialization_id)

    def get_hydrated(self, activities: Mapping[int, Activity]) -> Activity:
        """Return ``self``: an activity is hydrated already."""
        return self

    def __eq__(self, other: builtins.object) -> bool:
        if not isinstance(other, Activity | DehydratedActivity):
            return NotImplemented
        return self.serialization_id == other.serialization_id

    def __lt__(self, other: Activity) -> bool:
        return self.serialization_id < other.serialization_id

    def __hash__(self) -> int:
        return hash(self.serialization_id)

    def __repr__(self) -> str:
        target = f", target_id={self.target_id}" if self.target_id is not None else ""
        return (
            f"Activity(actor_id={self.actor_id}, verb={self.verb.infinitive!r}, "
            f"object_id={self.object_id}{target}, time={self.time.isoformat()!r})"
        )


class DehydratedActivity:
    """A reference to an activity by its id, resolved with :meth:`get_hydrated`.

    Examples
    --------
    >>> from streams.feeds import Activity, DehydratedActivity, Love
    >>> a = Activity(1, Love, 2)
    >>> ref = a.get_dehydrated()
    >>> ref.get_hydrated({a.serialization_id: a}) is a
    True
    """

    dehydrated = True

    def __init__(self, serialization_id: int) -> None:
        self.serialization_id = int(serialization_id)

    def get_hydrated(self, activities: Mapping[int, Activity]) -> Activity:
        """The full activity, looked up by id in ``activities``.

        Raises
        ------
        KeyError
            If ``activities`` does not hold it (e.g. it was never inserted in the
            activity storage).
        """
        try:
            return activities[self.serialization_id]
        except KeyError:
            raise KeyError(
                f"activity {self.serialization_id} is not in the activity storage "
                "(insert it with insert_activity)"
            ) from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Activity | DehydratedActivity):
            return NotImplemented
        return self.serialization_id == other.serialization_id

    def __hash__(self) -> int:
        return hash(self.serialization_id)

    def __repr__(self) -> str:
        return f"DehydratedActivity({self.serialization_id})"


class AggregatedActivity:
    """A group of activities shown as one entry ("Alice and 3 others loved ...").

    Parameters
    ----------
    group : str
        The aggregation key (see :mod:`streams.feeds.aggregators`).
    activities : list of Activity, optional
        The members; at most :attr:`max_aggregated_activities_length` (15) are kept, the
        oldest ones beyond that are only counted in :attr:`minimized_activities`.
    created_at, updated_at : datetime, optional
        Time of the first and of the newest member (set by :meth:`append`).

    Notes
    -----
    :attr:`serialization_id` is the epoch in **microseconds** of ``updated_at`` (as the
    ``stream-framework-plus`` fork; upstream uses seconds): changing an aggregate changes
    its id and so moves it to the top of the feed.

    Examples
    --------
    >>> from datetime import datetime
    >>> from streams.feeds import Activity, AggregatedActivity, Love
    >>> day = datetime(2024, 1, 1)
    >>> agg = AggregatedActivity("3-2024-01-01")
    >>> for i in range(1, 21):
    ...     agg.append(Activity(i, Love, i, time=day.replace(minute=i)))
    >>> len(agg.activities), agg.minimized_activities, agg.activity_count
    (15, 5, 20)
    >>> agg.object_ids[:3], agg.actor_count
    ([6, 7, 8], 20)
    >>> agg.updated_at
    datetime.datetime(2024, 1, 1, 0, 20)
    """

    max_aggregated_activities_length = 15
    dehydrated = False

    def __init__(
        self,
        group: str,
        activities: Iterable[Activity] | None = None,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> None:
        self.group = group
        self.activities: list[Activity] = list(activities or [])
        self.created_at = created_at
        self.updated_at = updated_at
        self.seen_at: datetime | None = None
        self.read_at: datetime | None = None
        self.minimized_activities = 0

    # ------------------------------------------------------------------ identity

    @property
    def serialization_id(self) -> int:
        """Microseconds since the epoch of :attr:`updated_at` (the timeline's sort key)."""
        if self.updated_at is None:
            raise TypeError("an aggregate without activities has no serialization_id")
        return epoch_microseconds(self.updated_at)

    def get_dehydrated(self) -> AggregatedActivity:
        """A copy holding references (:class:`DehydratedActivity`) to its members."""
        result = copy.copy(self)
        result.activities = [a.get_dehydrated() for a in self.activities]  # type: ignore[misc]
        result.dehydrated = True
        return result

    def get_hydrated(self, activities: Mapping[int, Activity]) -> AggregatedActivity:
        """A copy whose member references are resolved from ``activities``."""
        result = copy.copy(self)
        result.activities = [a.get_hydrated(activities) for a in self.activities]
        result.dehydrated = False
        return result

    # ------------------------------------------------------------------ members

    def contains(self, activity: Activity) -> bool:
        """Whether a member has the same id as ``activity``."""
        return activity.serialization_id in {a.serialization_id for a in self.activities}

    def append(self, activity: Activity) -> None:
        """Add a member, updating the times and the 15-member cap.

        Raises
        ------
        DuplicateActivityException
            If the aggregate holds it already.
        """
        if self.contains(activity):
            raise DuplicateActivityException(f"{activity!r} is in the aggregate already")
        self.activities.append(activity)
        if self.created_at is None:
            self.created_at = activity.time
        if self.updated_at is None or activity.time > self.updated_at:
            self.updated_at = activity.time
        if len(self.activities) > self.max_aggregated_activities_length:
            self.activities.pop(0)
            self.minimized_activities += 1

    def remove(self, activity: Activity) -> None:
        """Remove a member and recompute :attr:`updated_at`.

        Raises
        ------
        ValueError
            If it is not a member, or it is the last one (delete the aggregate instead).
        """
        ids = [a.serialization_id for a in self.activities]
        if activity.serialization_id not in ids:
            raise ValueError(f"{activity!r} is not in the aggregate")
        if len(ids) == 1:
            raise ValueError("cannot remove the last activity of an aggregate")
        del self.activities[ids.index(activity.serialization_id)]
        self.updated_at = max(a.time for a in self.activities)

    def remove_many(self, activities: Iterable[Activity]) -> list[Activity]:
        """Remove those of ``activities`` that are members (but never the last one).

        Returns
        -------
        list of Activity
            The ones removed.
        """
        removed = []
        for activity in activities:
            try:
                self.remove(activity)
            except ValueError:
                continue
            removed.append(activity)
        return removed

    # ------------------------------------------------------------------ derived

    @property
    def activity_count(self) -> int:
        """Members, counting the minimized ones."""
        return len(self.activities) + self.minimized_activities

    @property
    def actor_ids(self) -> list[int]:
        """Distinct actor ids of the kept members, oldest first."""
        return list(dict.fromkeys(a.actor_id for a in self.activities))

    @property
    def object_ids(self) -> list[int]:
        """Distinct object ids of the kept members, oldest first."""
        return list(dict.fromkeys(a.object_id for a in self.activities))

    @property
    def actor_count(self) -> int:
        """Distinct actors of the kept members plus the minimized members."""
        return len(self.actor_ids) + self.minimized_activities

    @property
    def other_actor_count(self) -> int:
        """``actor_count - 2`` (for "A, B and N others")."""
        return self.actor_count - 2

    @property
    def verbs(self) -> list[type[Verb]]:
        """Distinct verbs of the members."""
        return list(dict.fromkeys(a.verb for a in self.activities))

    @property
    def verb(self) -> type[Verb]:
        """The verb of the first member."""
        return self.activities[0].verb

    @property
    def last_activity(self) -> Activity:
        """The newest member."""
        return self.activities[-1]

    @property
    def last_activities(self) -> list[Activity]:
        """The members, newest first."""
        return self.activities[::-1]

    # ------------------------------------------------------------------ seen / read

    def is_seen(self) -> bool:
        """Whether it was seen after its last change."""
        return (
            self.seen_at is not None
            and self.updated_at is not None
            and (self.seen_at >= self.updated_at)
        )

    def is_read(self) -> bool:
        """Whether it was read after its last change."""
        return (
            self.read_at is not None
            and self.updated_at is not None
            and (self.read_at >= self.updated_at)
        )

    def update_seen_at(self) -> None:
        """Mark it seen now."""
        self.seen_at = utcnow()

    def update_read_at(self) -> None:
        """Mark it read now."""
        self.read_at = utcnow()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AggregatedActivity):
            return NotImplemented
        return (
            self.group == other.group
            and [a.serialization_id for a in self.activities]
            == [a.serialization_id for a in other.activities]
            and self.minimized_activities == other.minimized_activities
            and self.created_at == other.created_at
            and self.updated_at == other.updated_at
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(group={self.group!r}, "
            f"activities={self.activity_count}, updated_at={self.updated_at})"
        )


class NotificationActivity(AggregatedActivity):
    """An aggregate in a notification feed, with ``is_seen``/``is_read`` flags.

    Reads of a notification feed set the flags from its unseen/unread markers.

    Examples
    --------
    >>> from streams.feeds import NotificationActivity
    >>> n = NotificationActivity("3-42-2024-01-01")
    >>> n.is_seen, n.is_read
    (False, False)
    """

    def __init__(
        self,
        group: str,
        activities: Iterable[Activity] | None = None,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> None:
        super().__init__(group, activities, created_at, updated_at)
        self.is_seen: bool = False  # type: ignore[assignment]
        self.is_read: bool = False  # type: ignore[assignment]
