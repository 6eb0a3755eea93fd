"""The storage interfaces feeds write through (all values are strings).

- :class:`BaseTimelineStorage`: one sorted collection per feed key; entries are
  ``(score, member)``, newest (highest score) first.
- :class:`BaseActivityStorage`: one shared key/value table ``activity id -> activity``.
- :class:`BaseListsStorage`: small named lists per feed key (notification markers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

__all__ = [
    "ORDERINGS",
    "BaseActivityStorage",
    "BaseListsStorage",
    "BaseTimelineStorage",
    "score_bounds",
]

FILTERS = ("activity_id__gte", "activity_id__gt", "activity_id__lte", "activity_id__lt")
ORDERINGS = ("activity_id", "-activity_id")


def score_bounds(filter_kwargs: Mapping[str, int] | None) -> tuple[str, str]:
    """Redis-style ``(min, max)`` score bounds of filter keywords (``(`` = exclusive).

    Examples
    --------
    >>> score_bounds({"activity_id__lt": 10})
    ('-inf', '(10')
    >>> score_bounds({"activity_id__gte": 3, "activity_id__lte": 7})
    ('3', '7')
    """
    low, high = "-inf", "+inf"
    for name, value in (filter_kwargs or {}).items():
        if name not in FILTERS:
            raise TypeError(f"unsupported filter {name!r}; use one of {', '.join(FILTERS)}")
        value = int(value)
        if name == "activity_id__gte":
            low = str(value)
        elif name == "activity_id__gt":
            low = f"({value}"
        elif name == "activity_id__lte":
            high = str(value)
        else:
            high = f"({value}"
    return low, high


def check_ordering(ordering_args: Sequence[str] | None) -> bool:
    """Whether ``ordering_args`` asks for ascending order (default: newest first)."""
    ascending = False
    for arg in ordering_args or ():
        if arg not in ORDERINGS:
            raise TypeError(f"unsupported ordering {arg!r}; use one of {ORDERINGS}")
        ascending = arg == "activity_id"
    return ascending


class BaseTimelineStorage:
    """Sorted timelines, one per key: ``(score, member)`` entries, unique by member."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def get_batch_interface(self) -> AbstractContextManager[Any]:
        """A context yielding a batch to pass as ``batch_interface`` to writes."""
        raise NotImplementedError

    def add_many(
        self, key: str, entries: Sequence[tuple[int, str]], batch_interface: Any = None
    ) -> int:
        """Add ``(score, member)`` entries; an existing member is left alone. Returns the
        number added (all of them when a batch defers the writes)."""
        raise NotImplementedError

    def remove_many(self, key: str, members: Sequence[str], batch_interface: Any = None) -> int:
        """Remove members; returns how many were there (all, when batched)."""
        raise NotImplementedError

    def get_slice(
        self,
        key: str,
        start: int,
        stop: int | None,
        filter_kwargs: Mapping[str, int] | None = None,
        ordering_args: Sequence[str] | None = None,
    ) -> list[str]:
        """Members ``start:stop`` of the (filtered, ordered) timeline."""
        raise NotImplementedError

    def count(self, key: str) -> int:
        """Number of entries."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Drop the timeline."""
        raise NotImplementedError

    def trim(self, key: str, length: int) -> None:
        """Keep the newest ``length`` entries."""
        raise NotImplementedError

    def index_of(self, key: str, member: str) -> int:
        """Position of ``member``, newest first (ValueError if absent)."""
        raise NotImplementedError

    def flush(self, key_pattern: str) -> None:
        """Drop every timeline whose key matches the glob ``key_pattern``."""
        raise NotImplementedError


class BaseActivityStorage:
    """One key/value table of serialized activities, shared by feeds."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def add_many(self, activities: Mapping[int, str], batch_interface: Any = None) -> int:
        """Store ``{id: serialized}``; returns how many were written."""
        raise NotImplementedError

    def get_many(self, activity_ids: Iterable[int]) -> dict[int, str]:
        """The stored ones of ``activity_ids``."""
        raise NotImplementedError

    def remove_many(self, activity_ids: Iterable[int], batch_interface: Any = None) -> int:
        """Delete; returns how many were written."""
        raise NotImplementedError

    def flush(self) -> None:
        """Delete everything."""
        raise NotImplementedError


class BaseListsStorage:
    """Named bounded lists of strings per key (the newest ``max_length`` kept)."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def add(self, key: str, name: str, values: Sequence[str], max_length: int) -> None:
        """Append ``values`` (moving those there to the end); keep the last ``max_length``."""
        raise NotImplementedError

    def remove(self, key: str, name: str, values: Sequence[str]) -> None:
        """Remove ``values``."""
        raise NotImplementedError

    def get(self, key: str, name: str) -> list[str]:
        """The values, oldest first."""
        raise NotImplementedError

    def count(self, key: str, name: str) -> int:
        """The number of values."""
        raise NotImplementedError

    def flush(self, key: str, names: Sequence[str]) -> None:
        """Empty the lists ``names``."""
        raise NotImplementedError
