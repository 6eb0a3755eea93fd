"""Serializers: activities and aggregates to compact strings and back.

Storages hold strings. The formats are JSON (not Stream Framework's ad-hoc string
format), so any client can read them:

- an activity is ``[actor_id, verb_id, object_id, target_id, time_us, extra_context]``,
  ``time_us`` being microseconds since the epoch (naive UTC);
- an aggregate is ``{"g": group, "c": created_us, "u": updated_us, "s": seen_us,
  "r": read_us, "m": minimized, "a": members}``, the members being activity ids
  (dehydrated, the default) or serialized activities (``dehydrate=False``, for
  notification feeds that have no activity storage);
- a flat timeline entry is the activity id as a decimal string.

``extra_context`` is stored as JSON by :class:`ActivitySerializer`: it must hold JSON
values (str, int, float, bool, None, lists, dicts with str keys); a tuple comes back as a
list and anything else raises TypeError when written. :class:`PickleActivitySerializer`
stores it with pickle instead, for arbitrary Python values: opt in only if every writer of
the storage is trusted, since unpickling runs code chosen by whoever wrote the data.

Examples
--------
>>> from datetime import datetime
>>> from streams.feeds import Activity, Love
>>> from streams.feeds.serializers import ActivitySerializer
>>> s = ActivitySerializer()
>>> a = Activity(1, Love, 2, time=datetime(2024, 1, 1), extra_context={"n": [1, 2]})
>>> text = s.dumps(a)
>>> text
'[1,3,2,null,1704067200000000,{"n":[1,2]}]'
>>> s.loads(text) == a, s.loads(text).extra_context
(True, {'n': [1, 2]})
"""

from __future__ import annotations

import base64
import json
import pickle
from typing import Any, Generic, TypeVar

from .activity import (
    Activity,
    AggregatedActivity,
    DehydratedActivity,
    epoch_microseconds,
    from_epoch_microseconds,
)
from .verbs import get_verb_by_id

__all__ = [
    "ActivitySerializer",
    "AggregatedActivitySerializer",
    "BaseSerializer",
    "NotificationSerializer",
    "PickleActivitySerializer",
    "SimpleTimelineSerializer",
]

T = TypeVar("T")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _time_or_none(value: int | None) -> Any:
    return None if value is None else from_epoch_microseconds(value)


class BaseSerializer(Generic[T]):
    """Turn ``T`` into a string and back (override :meth:`dumps` and :meth:`loads`).

    Parameters
    ----------
    activity_class : type, optional
        The class of the activities loaded (default :class:`Activity`).
    aggregated_activity_class : type, optional
        The class of the aggregates loaded (default :class:`AggregatedActivity`).

    Examples
    --------
    >>> from streams.feeds.serializers import SimpleTimelineSerializer
    >>> SimpleTimelineSerializer().loads("123")
    DehydratedActivity(123)
    """

    def __init__(
        self,
        activity_class: type[Activity] | None = None,
        aggregated_activity_class: type[AggregatedActivity] | None = None,
    ) -> None:
        self.activity_class = activity_class or Activity
        self.aggregated_activity_class = aggregated_activity_class or AggregatedActivity

    def dumps(self, obj: T) -> str:
        """Serialize ``obj``."""
        raise NotImplementedError

    def loads(self, text: str) -> T:
        """Deserialize ``text``."""
        raise NotImplementedError


class ActivitySerializer(BaseSerializer[Activity]):
    """An activity as a JSON array, ``extra_context`` as JSON (see the module notes)."""

    def _dump_extra(self, extra: dict[str, Any]) -> Any:
        return extra

    def _load_extra(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValueError(
                "extra_context is not JSON: was it written by PickleActivitySerializer?"
            )
        return value

    def to_list(self, activity: Activity) -> list[Any]:
        """The JSON-ready list form of ``activity``."""
        return [
            activity.actor_id,
            activity.verb.id,
            activity.object_id,
            activity.target_id,
            epoch_microseconds(activity.time),
            self._dump_extra(activity.extra_context),
        ]

    def from_list(self, value: list[Any]) -> Activity:
        """The activity of a list made by :meth:`to_list`."""
        actor, verb, obj, target, time_us, extra = value
        return self.activity_class(
            actor,
            get_verb_by_id(verb),
            obj,
            target,
            time=from_epoch_microseconds(time_us),
            extra_context=self._load_extra(extra),
        )

    def dumps(self, obj: Activity) -> str:
        """Serialize an activity."""
        return _compact(self.to_list(obj))

    def loads(self, text: str) -> Activity:
        """Deserialize an activity."""
        return self.from_list(json.loads(text))


class PickleActivitySerializer(ActivitySerializer):
    """Like :class:`ActivitySerializer`, but ``extra_context`` is pickled (any value).

    Only for storages that no untrusted party can write: loading unpickles.

    Examples
    --------
    >>> from datetime import datetime
    >>> from streams.feeds import Activity, Love
    >>> from streams.feeds.serializers import PickleActivitySerializer
    >>> s = PickleActivitySerializer()
    >>> a = Activity(1, Love, 2, extra_context={"when": datetime(2024, 1, 1), "t": (1, 2)})
    >>> s.loads(s.dumps(a)).extra_context
    {'when': datetime.datetime(2024, 1, 1, 0, 0), 't': (1, 2)}
    """

    def _dump_extra(self, extra: dict[str, Any]) -> Any:
        return base64.b64encode(pickle.dumps(extra)).decode("ascii")

    def _load_extra(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):  # written by ActivitySerializer
            return value
        loaded = pickle.loads(base64.b64decode(value))  # the user opted in
        if not isinstance(loaded, dict):
            raise ValueError(f"extra_context must unpickle to a dict, got {type(loaded)}")
        return loaded


class SimpleTimelineSerializer(BaseSerializer[Activity | DehydratedActivity]):
    """A flat timeline entry: the activity id only; loads a :class:`DehydratedActivity`."""

    def dumps(self, obj: Activity | DehydratedActivity) -> str:
        """The id as a decimal string."""
        return str(obj.serialization_id)

    def loads(self, text: str) -> Activity | DehydratedActivity:
        """A reference to the activity."""
        return DehydratedActivity(int(text))


class AggregatedActivitySerializer(BaseSerializer[AggregatedActivity]):
    """An aggregate as a JSON object; members as ids (``dehydrate=True``) or inline.

    Parameters
    ----------
    dehydrate : bool, optional
        Store member ids only (default), resolved later from an activity storage.
    activity_serializer : ActivitySerializer, optional
        How inline members are written (``dehydrate=False``).

    Examples
    --------
    >>> from datetime import datetime
    >>> from streams.feeds import Activity, AggregatedActivity, Love
    >>> from streams.feeds.serializers import AggregatedActivitySerializer
    >>> agg = AggregatedActivity("3-2024-01-01")
    >>> agg.append(Activity(1, Love, 2, time=datetime(2024, 1, 1)))
    >>> s = AggregatedActivitySerializer(dehydrate=False)
    >>> s.loads(s.dumps(agg)) == agg
    True
    """

    def __init__(
        self,
        activity_class: type[Activity] | None = None,
        aggregated_activity_class: type[AggregatedActivity] | None = None,
        dehydrate: bool = True,
        activity_serializer: ActivitySerializer | None = None,
    ) -> None:
        super().__init__(activity_class, aggregated_activity_class)
        self.dehydrate = dehydrate
        self.activity_serializer = activity_serializer or ActivitySerializer(self.activity_class)

    def dumps(self, obj: AggregatedActivity) -> str:
        """Serialize an aggregate."""

        def when(value: Any) -> int | None:
            return None if value is None else epoch_microseconds(value)

        members: list[Any] = (
            [a.serialization_id for a in obj.activities]
            if self.dehydrate
            else [self.activity_serializer.to_list(a) for a in obj.activities]
        )
        return _compact(
            {
                "g": obj.group,
                "c": when(obj.created_at),
                "u": when(obj.updated_at),
                "s": when(obj.seen_at),
                "r": when(obj.read_at),
                "m": obj.minimized_activities,
                "a": members,
            }
        )

    def loads(self, text: str) -> AggregatedActivity:
        """Deserialize an aggregate (members dehydrated if stored as ids)."""
        data = json.loads(text)
        agg = self.aggregated_activity_class(
            data["g"], created_at=_time_or_none(data["c"]), updated_at=_time_or_none(data["u"])
        )
        agg.seen_at = _time_or_none(data["s"])
        agg.read_at = _time_or_none(data["r"])
        agg.minimized_activities = data["m"]
        members = data["a"]
        if members and not isinstance(members[0], list):
            agg.activities = [DehydratedActivity(i) for i in members]  # type: ignore[misc]
            agg.dehydrated = True
        else:
            agg.activities = [self.activity_serializer.from_list(m) for m in members]
        return agg


class NotificationSerializer(AggregatedActivitySerializer):
    """An aggregate with its members inline (``dehydrate=False``)."""

    def __init__(
        self,
        activity_class: type[Activity] | None = None,
        aggregated_activity_class: type[AggregatedActivity] | None = None,
        dehydrate: bool = False,
        activity_serializer: ActivitySerializer | None = None,
    ) -> None:
        super().__init__(activity_class, aggregated_activity_class, dehydrate, activity_serializer)
