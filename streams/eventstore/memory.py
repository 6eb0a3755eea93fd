"""The in-memory backend: sorted index lists in a dict, for tests and small programs."""

from __future__ import annotations

import bisect
import heapq
import threading
from collections.abc import Iterable

from .base import Backend, Event, Query

__all__ = ["MemoryBackend"]

ALL = ""
"""The name of the index holding every event."""

Entry = tuple[float, int, str]
"""An index entry: (timestamp, order, id), kept sorted oldest first."""


class MemoryBackend(Backend):
    """An event store in this process's memory.

    Every event is indexed under each non-empty combination of the indexed keys it
    has (a list value once per element), so any query is answered by reading the
    newest entries of one index, or by merging a few for a list-valued filter.

    Parameters
    ----------
    keys : list of str, optional
        The fields queries may filter on.

    Examples
    --------
    >>> from streams.eventstore import MemoryBackend
    >>> store = MemoryBackend(keys=["kind", "user"])
    >>> _ = store.insert({"kind": "create-repo", "repo": 17, "user": 291}, date=1)
    >>> _ = store.insert({"kind": "friend", "user": 23, "friend": 291}, date=2)
    >>> _ = store.insert({"kind": "friend", "user": 291, "friend": 23}, date=3)
    >>> store.items(kind="friend", user=23)
    [{'kind': 'friend', 'user': 23, 'friend': 291}]
    >>> [e["kind"] for e in store.items(user=[23, 291], start=1, end=3)]
    ['friend', 'create-repo']
    >>> store.count(user=291), store.count(since=2)
    (2, 2)
    """

    blocking = False

    def __init__(self, keys: Iterable[str] | None = None) -> None:
        super().__init__(keys)
        self._data: dict[str, str] = {}
        self._indices: dict[str, list[Entry]] = {ALL: []}
        self._guard = threading.Lock()

    def _store(self, event: Event, text: str) -> None:
        entry = (event.timestamp, event.order, event.id)
        indices = self._indices
        with self._guard:
            self._data[event.id] = text
            for name in (ALL, *self.index_names(event.data)):
                index = indices.get(name)
                if not index:
                    indices[name] = [entry]
                elif entry > index[-1]:
                    index.append(entry)  # the common case: the newest event
                else:
                    bisect.insort(index, entry)

    def _ranges(self, query: Query) -> list[tuple[list[Entry], int, int]]:
        """Each index the query reads, with the bounds of its time range."""
        names = self.query_index_names(query) if query.filters else [ALL]
        found = []
        for name in names:
            index = self._indices.get(name)
            if not index:
                continue
            lo = 0 if query.since is None else bisect.bisect_left(index, (query.since,))
            hi = len(index) if query.until is None else bisect.bisect_left(index, (query.until,))
            if lo < hi:
                found.append((index, lo, hi))
        return found

    def _events(self, query: Query, start: int, end: int) -> list[Event]:
        with self._guard:
            ranges = self._ranges(query)
            if len(ranges) == 1:
                index, lo, hi = ranges[0]
                entries = index[max(lo, hi - end) : max(lo, hi - start)][::-1]
            else:
                # each index holds at least the `end` newest events of the union it is in
                newest = (reversed(index[max(lo, hi - end) : hi]) for index, lo, hi in ranges)
                seen: set[str] = set()
                entries = []
                for entry in heapq.merge(*newest, reverse=True):
                    if entry[2] not in seen:
                        seen.add(entry[2])
                        entries.append(entry)
                        if len(entries) == end:
                            break
                entries = entries[start:end]
            texts = [self._data[entry[2]] for entry in entries]
        return [
            Event(i, ts, order, self.deserialize(text))
            for (ts, order, i), text in zip(entries, texts, strict=True)
        ]

    def _count(self, query: Query) -> int:
        with self._guard:
            ranges = self._ranges(query)
            if len(ranges) == 1:
                _, lo, hi = ranges[0]
                return hi - lo
            return len({entry[2] for index, lo, hi in ranges for entry in index[lo:hi]})
