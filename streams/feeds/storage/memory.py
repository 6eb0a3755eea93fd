"""In-process storages: per-process dicts, for tests and single-process apps.

Every feed class using these shares the same module-level tables (as Stream Framework's
memory feed): two feeds with the same key see the same timeline.
"""

from __future__ import annotations

import bisect
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .base import (
    BaseActivityStorage,
    BaseListsStorage,
    BaseTimelineStorage,
    check_ordering,
    score_bounds,
)

__all__ = ["MemoryActivityStorage", "MemoryListsStorage", "MemoryTimelineStorage", "reset"]

# key -> entries sorted ascending by (score, member); key -> members
_TIMELINES: dict[str, list[tuple[int, str]]] = {}
_MEMBERS: dict[str, dict[str, int]] = {}
_ACTIVITIES: dict[str, dict[int, str]] = {}
_LISTS: dict[tuple[str, str], list[str]] = {}


def reset() -> None:
    """Forget every memory timeline, activity and list (for tests).

    Examples
    --------
    >>> from streams.feeds.storage.memory import reset
    >>> reset()
    """
    _TIMELINES.clear()
    _MEMBERS.clear()
    _ACTIVITIES.clear()
    _LISTS.clear()


def _in_bounds(score: int, low: str, high: str) -> bool:
    if low != "-inf":
        bound = int(low.lstrip("("))
        if score < bound or (low.startswith("(") and score == bound):
            return False
    if high != "+inf":
        bound = int(high.lstrip("("))
        if score > bound or (high.startswith("(") and score == bound):
            return False
    return True


class MemoryTimelineStorage(BaseTimelineStorage):
    """Timelines as sorted lists in this process; adding an existing member is a no-op.

    Examples
    --------
    >>> from streams.feeds.storage.memory import MemoryTimelineStorage, reset
    >>> reset()
    >>> timeline = MemoryTimelineStorage()
    >>> timeline.add_many("k", [(1, "1"), (3, "3"), (2, "2"), (3, "3")])
    3
    >>> timeline.get_slice("k", 0, 2)
    ['3', '2']
    >>> timeline.get_slice("k", 0, None, ordering_args=["activity_id"])
    ['1', '2', '3']
    """

    def get_batch_interface(self) -> AbstractContextManager[Any]:
        """A no-op context: memory writes happen at once."""
        return nullcontext(None)

    def add_many(
        self, key: str, entries: Sequence[tuple[int, str]], batch_interface: Any = None
    ) -> int:
        timeline = _TIMELINES.setdefault(key, [])
        members = _MEMBERS.setdefault(key, {})
        added = 0
        for score, member in entries:
            if member in members:
                continue
            members[member] = int(score)
            bisect.insort(timeline, (int(score), member))
            added += 1
        return added

    def remove_many(self, key: str, members: Sequence[str], batch_interface: Any = None) -> int:
        known = _MEMBERS.get(key, {})
        timeline = _TIMELINES.get(key, [])
        removed = 0
        for member in members:
            score = known.pop(member, None)
            if score is None:
                continue
            del timeline[bisect.bisect_left(timeline, (score, member))]
            removed += 1
        return removed

    def get_slice(
        self,
        key: str,
        start: int,
        stop: int | None,
        filter_kwargs: Mapping[str, int] | None = None,
        ordering_args: Sequence[str] | None = None,
    ) -> list[str]:
        low, high = score_bounds(filter_kwargs)
        entries = _TIMELINES.get(key, [])
        if filter_kwargs:
            entries = [e for e in entries if _in_bounds(e[0], low, high)]
        ordered = entries if check_ordering(ordering_args) else entries[::-1]
        return [member for _, member in ordered[start:stop]]

    def count(self, key: str) -> int:
        return len(_TIMELINES.get(key, ()))

    def delete(self, key: str) -> None:
        _TIMELINES.pop(key, None)
        _MEMBERS.pop(key, None)

    def trim(self, key: str, length: int) -> None:
        timeline = _TIMELINES.get(key)
        if timeline is None or len(timeline) <= length:
            return
        cut = len(timeline) - length
        members = _MEMBERS[key]
        for _, member in timeline[:cut]:
            del members[member]
        del timeline[:cut]

    def index_of(self, key: str, member: str) -> int:
        score = _MEMBERS.get(key, {}).get(member)
        if score is None:
            raise ValueError(f"{member} is not in timeline {key!r}")
        timeline = _TIMELINES[key]
        return len(timeline) - 1 - bisect.bisect_left(timeline, (score, member))

    def flush(self, key_pattern: str) -> None:
        for key in [k for k in _TIMELINES if fnmatch.fnmatchcase(k, key_pattern)]:
            self.delete(key)


class MemoryActivityStorage(BaseActivityStorage):
    """Activities in a dict of this process (``namespace`` option: which dict).

    Examples
    --------
    >>> from streams.feeds.storage.memory import MemoryActivityStorage, reset
    >>> reset()
    >>> store = MemoryActivityStorage()
    >>> store.add_many({1: "one", 2: "two"})
    2
    >>> store.get_many([2, 3])
    {2: 'two'}
    """

    @property
    def _table(self) -> dict[int, str]:
        return _ACTIVITIES.setdefault(self.options.get("namespace", "global"), {})

    def add_many(self, activities: Mapping[int, str], batch_interface: Any = None) -> int:
        self._table.update(activities)
        return len(activities)

    def get_many(self, activity_ids: Iterable[int]) -> dict[int, str]:
        table = self._table
        return {i: table[i] for i in activity_ids if i in table}

    def remove_many(self, activity_ids: Iterable[int], batch_interface: Any = None) -> int:
        table = self._table
        return sum(table.pop(i, None) is not None for i in activity_ids)

    def flush(self) -> None:
        self._table.clear()


class MemoryListsStorage(BaseListsStorage):
    """Bounded lists in this process.

    Examples
    --------
    >>> from streams.feeds.storage.memory import MemoryListsStorage, reset
    >>> reset()
    >>> lists = MemoryListsStorage()
    >>> lists.add("k", "unseen", ["a", "b", "c"], max_length=2)
    >>> lists.get("k", "unseen"), lists.count("k", "unseen")
    (['b', 'c'], 2)
    """

    def add(self, key: str, name: str, values: Sequence[str], max_length: int) -> None:
        values_list = _LISTS.setdefault((key, name), [])
        for value in values:  # a value added again moves to the end
            if value in values_list:
                values_list.remove(value)
            values_list.append(value)
        del values_list[: max(0, len(values_list) - max_length)]

    def remove(self, key: str, name: str, values: Sequence[str]) -> None:
        drop = set(values)
        values_list = _LISTS.get((key, name), [])
        values_list[:] = [v for v in values_list if v not in drop]

    def get(self, key: str, name: str) -> list[str]:
        return list(_LISTS.get((key, name), ()))

    def count(self, key: str, name: str) -> int:
        return len(_LISTS.get((key, name), ()))

    def flush(self, key: str, names: Sequence[str]) -> None:
        for name in names:
            _LISTS.pop((key, name), None)
