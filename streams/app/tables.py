"""Tables: dicts that survive restarts, and windowed tables.

A :class:`Table` is a dict whose changes are recorded in the app's checkpoint store:
each checkpoint writes the keys changed since the last one, in the same transaction as
the positions of the topics the agents read, so after a crash (even ``kill -9``) the
table holds exactly what the replayed events make it hold. ``table.tumbling(...)`` and
``table.hopping(...)`` make windowed tables: ``table[key] += 1`` adds to every window
that contains the event's time, and ``.current()``, ``.now()``, ``.delta()``,
``.value()`` read one of them.
"""

from __future__ import annotations

import logging
import math
import operator
import time
from collections.abc import Callable, Iterator, MutableMapping
from datetime import datetime
from typing import Any

from ..core import Stream
from ..state.nodes import Adapter, register
from ..state.store import Keyed
from ..windows.kinds import Hopping, Tumbling
from .events import current_event

__all__ = ["Table", "WindowSet", "WindowWrapper"]

log = logging.getLogger("streams.app")


class TableNode(Stream[Any]):
    """The node that stands for a table in the graph the checkpointer runs."""

    _label = "table"

    def __init__(self, table: Table, **options: Any) -> None:
        self.table = table
        super().__init__(**options)


@register("streams.app.tables.TableNode")
class _TableAdapter(Adapter):
    """The keys changed since the last checkpoint; a restore puts the whole dict back."""

    def snapshot(self, node: Any) -> Any:
        table = node.table
        dirty, table._dirty = table._dirty, set()
        deleted, table._deleted = table._deleted, set()
        data = table.data
        upserts = {k: data[k] for k in dirty}
        if table.changelog_topic is not None:  # published once the checkpoint commits
            table._cut = (upserts, list(deleted))
        return Keyed(upserts, list(deleted))

    def committed(self, node: Any) -> Any:
        table = node.table
        if table.changelog_topic is None or table.app.memory or not any(table._cut):
            return None
        from .changelog import publish

        cut, table._cut = table._cut, ({}, [])
        return publish(table, *cut)

    def restore(self, node: Any, value: Any) -> None:
        table = node.table
        table.data = dict(value)
        table._dirty, table._deleted = set(), set()


class Table(MutableMapping[Any, Any]):
    """A durable dict of an app (``app.Table(name, default=int)``).

    ``default`` makes a missing key read as ``default()`` (Faust's rule: reading does
    not store it; ``table[k] += 1`` does). As in Faust, change a value by assigning
    it: ``table[k].append(x)`` changes the value in memory but is not recorded.
    ``changelog=True`` (or ``changelog_topic=``) also writes the changed keys of each
    checkpoint to the topic ``<app id>-<name>-changelog`` (see
    :mod:`streams.app.changelog`).

    Examples
    --------
    >>> import asyncio
    >>> import streams.app as faust
    >>> app = faust.App("doc-table", broker="memory://", store="memory://")
    >>> counts = app.Table("counts", default=int)
    >>> @app.agent()
    ... async def count(words):
    ...     async for word in words:
    ...         counts[word] += 1
    >>> async def main():
    ...     async with app:
    ...         for word in ["a", "b", "a"]:
    ...             await count.send(value=word)
    ...     return dict(counts)
    >>> asyncio.run(main())
    {'a': 2, 'b': 1}
    """

    def __init__(
        self,
        app: Any,
        name: str,
        default: Callable[[], Any] | None = None,
        key_type: Any = None,
        value_type: Any = None,
        partitions: int | None = None,
        on_window_close: Callable[[Any, Any], Any] | None = None,
        help: str | None = None,
        changelog: bool = False,
        changelog_topic: Any = None,
        **options: Any,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"app.Table: the name must be a non-empty str, got {name!r}")
        if default is not None and not callable(default):
            raise TypeError(
                f"Table {name!r}: default must be callable (e.g. int), got {default!r}"
            )
        self.app = app
        self.name = name
        self.default = default
        self.key_type = key_type
        self.value_type = value_type
        self.partitions = partitions
        self.on_window_close = on_window_close
        self.help = help
        self.options = options
        self.data: dict[Any, Any] = {}
        self._dirty: set[Any] = set()
        self._deleted: set[Any] = set()
        self._recover_callbacks: list[Callable[[], Any]] = []
        self.node = TableNode(self, stream_name=f"table:{name}")
        if changelog_topic is not None:
            self.changelog_topic: str | None = getattr(changelog_topic, "name", changelog_topic)
        else:
            self.changelog_topic = f"{app.id}-{name}-changelog" if changelog else None
        self._cut: tuple[dict[Any, Any], list[Any]] = ({}, [])  # for the changelog

    def __repr__(self) -> str:
        return f"<Table {self.name}: {len(self.data)} keys>"

    # ------------------------------------------------------------ the dict

    def __getitem__(self, key: Any) -> Any:
        try:
            return self.data[key]
        except KeyError:
            if self.default is None:
                raise
            return self.default()

    def __setitem__(self, key: Any, value: Any) -> None:
        self.data[key] = value
        self._dirty.add(key)
        self._deleted.discard(key)

    def __delitem__(self, key: Any) -> None:
        del self.data[key]
        self._deleted.add(key)
        self._dirty.discard(key)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator[Any]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def on_recover(self, fun: Callable[[], Any]) -> Callable[[], Any]:
        """Decorator: call ``fun`` once the table was restored (the app started)."""
        self._recover_callbacks.append(fun)
        return fun

    # ------------------------------------------------------------ windows

    def tumbling(self, size: Any, expires: Any = None, key_index: bool = False) -> WindowWrapper:
        """Windows of ``size`` seconds one after the other, kept ``expires`` seconds
        (of event time) after they end."""
        return WindowWrapper(self, Tumbling(_seconds(size)), expires)

    def hopping(
        self, size: Any, step: Any, expires: Any = None, key_index: bool = False
    ) -> WindowWrapper:
        """Windows of ``size`` seconds starting every ``step`` seconds."""
        return WindowWrapper(self, Hopping(_seconds(size), _seconds(step)), expires)


def _seconds(x: Any) -> float:
    seconds = x.total_seconds() if hasattr(x, "total_seconds") else x
    if not isinstance(seconds, int | float) or not seconds > 0:
        raise ValueError(f"windowed table: sizes are positive seconds, got {x!r}")
    return float(seconds)


def _event_time() -> float:
    event = current_event()
    if event is None or event.message.timestamp is None:
        return time.time()
    return event.message.timestamp


class WindowWrapper:
    """A windowed view of a table: ``wrapper[key]`` is a :class:`WindowSet`.

    The table's keys are ``(key, (start, end))``: windows are ``[start, end)``. A window
    is expired (deleted, and given to the table's ``on_window_close``) once the latest
    event time the table saw is ``expires`` past its end; an event that arrives for an
    expired window is dropped. Without ``expires`` windows are kept.

    Examples
    --------
    >>> import asyncio
    >>> import streams.app as faust
    >>> app = faust.App("doc-windows", broker="memory://", store="memory://")
    >>> views = app.Table("views", default=int).tumbling(10, expires=60)
    >>> @app.agent()
    ... async def count(pages):
    ...     async for page in pages:
    ...         views[page] += 1
    ...         print(page, views[page].current())
    >>> async def main():
    ...     async with app:
    ...         for t, page in [(100, "home"), (105, "home"), (112, "home")]:
    ...             await count.send(value=page, timestamp=t)
    >>> asyncio.run(main())
    home 1
    home 2
    home 1
    """

    def __init__(self, table: Table, kind: Any, expires: Any = None) -> None:
        self.table = table
        self.kind = kind
        self.expires = None if expires is None else _seconds(expires)
        self._time: Callable[[], float] = _event_time
        self.latest = -math.inf  # the latest event time seen
        table.app._windowed.append(self)

    # ------------------------------------------------------------ time

    def relative_to_stream(self) -> WindowWrapper:
        """Windows by the event's (Kafka message's) timestamp: the default."""
        self._time = _event_time
        return self

    def relative_to_now(self) -> WindowWrapper:
        """Windows by the wall clock when the event is handled."""
        self._time = time.time
        return self

    def relative_to_field(self, field: Any) -> WindowWrapper:
        """Windows by a field of the value (a number of seconds or a ``datetime``)."""
        name = getattr(field, "field", None) or getattr(field, "name", None) or field
        if not isinstance(name, str):
            raise TypeError(f"relative_to_field: expected a field of a Record, got {field!r}")

        def from_field() -> float:
            event = current_event()
            value = getattr(event.value, name) if event is not None else None
            if isinstance(value, datetime):
                return value.timestamp()
            if not isinstance(value, int | float):
                raise TypeError(f"relative_to_field: {name} is {value!r}, not a time")
            return float(value)

        self._time = from_field
        return self

    def relative_to(self, ts: Any) -> WindowWrapper:
        """Windows by ``ts()`` (a callable), or a fixed time."""
        self._time = ts if callable(ts) else (lambda: float(ts))
        return self

    def ranges(self, t: float) -> list[tuple[float, float]]:
        """The windows that contain time ``t``, oldest first."""
        ranges: list[tuple[float, float]] = sorted(self.kind.assign(t))
        return ranges

    # ------------------------------------------------------------ the dict

    def __getitem__(self, key: Any) -> WindowSet:
        return WindowSet(key, self)

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, WindowSet):
            return  # ``wrapper[k] += 1``: the WindowSet applied it already
        WindowSet(key, self).apply(lambda _old, new: new, value)

    def __delitem__(self, key: Any) -> None:
        for window in self.ranges(self._time()):
            self.table.pop((key, window), None)

    def keys(self) -> list[Any]:
        """The keys that have a window."""
        return list(dict.fromkeys(k for k, _ in self.table.data))

    def _view(self, t: float, which: int) -> dict[Any, Any]:
        window = self.ranges(t)[which]
        return {k: v for (k, w), v in self.table.data.items() if w == window}

    def current(self) -> dict[Any, Any]:
        """Every key's value in the event-time window (``{key: value}``)."""
        return self._view(self._time(), -1)

    def now(self) -> dict[Any, Any]:
        """Every key's value in the window of the wall clock."""
        return self._view(time.time(), -1)

    def delta(self, d: Any) -> dict[Any, Any]:
        """Every key's value in the window ``d`` seconds before the event's."""
        return self._view(self._time() - _seconds(d), -1)

    def expire(self) -> int:
        """Delete the expired windows (calling ``on_window_close``); return how many."""
        if self.expires is None or self.latest == -math.inf:
            return 0
        horizon = self.latest - self.expires
        table = self.table
        stale = [
            k for k in table.data if isinstance(k, tuple) and len(k) == 2 and _ended(k, horizon)
        ]
        for k in stale:
            value = table.data[k]
            del table[k]
            if table.on_window_close is not None:
                table.on_window_close(k, value)
        return len(stale)


def _ended(key: Any, horizon: float) -> bool:
    if not (isinstance(key, tuple) and len(key) == 2):
        return False
    window = key[1]
    return isinstance(window, tuple) and len(window) == 2 and window[1] <= horizon


class WindowSet:
    """A key's windows at the event's time: ``+=`` and friends apply to each of them,
    ``value()``/``current()``, ``now()`` and ``delta(seconds)`` read one."""

    def __init__(self, key: Any, wrapper: WindowWrapper) -> None:
        self.key = key
        self.wrapper = wrapper

    def apply(self, op: Callable[[Any, Any], Any], value: Any) -> WindowSet:
        wrapper = self.wrapper
        t = wrapper._time()
        if t > wrapper.latest:
            wrapper.latest = t
        table = wrapper.table
        horizon = None if wrapper.expires is None else wrapper.latest - wrapper.expires
        for window in wrapper.ranges(t):
            if horizon is not None and window[1] <= horizon:
                log.debug(
                    "table %s: dropped a late event for expired window %s", table.name, window
                )
                continue
            k = (self.key, window)
            table[k] = op(table[k], value)
        return self

    def _get(self, t: float) -> Any:
        return self.wrapper.table[(self.key, self.wrapper.ranges(t)[-1])]

    def current(self) -> Any:
        """The value in the latest window containing the event's time."""
        return self._get(self.wrapper._time())

    value = current  # (Faust: relative to the table's time, which is the event's here)

    def now(self) -> Any:
        """The value in the window of the wall clock."""
        return self._get(time.time())

    def delta(self, d: Any) -> Any:
        """The value in the window ``d`` seconds before the event's time."""
        return self._get(self.wrapper._time() - _seconds(d))

    def __iadd__(self, other: Any) -> WindowSet:
        return self.apply(operator.add, other)

    def __isub__(self, other: Any) -> WindowSet:
        return self.apply(operator.sub, other)

    def __imul__(self, other: Any) -> WindowSet:
        return self.apply(operator.mul, other)

    def __itruediv__(self, other: Any) -> WindowSet:
        return self.apply(operator.truediv, other)

    def __ifloordiv__(self, other: Any) -> WindowSet:
        return self.apply(operator.floordiv, other)

    def __imod__(self, other: Any) -> WindowSet:
        return self.apply(operator.mod, other)

    def __ior__(self, other: Any) -> WindowSet:
        return self.apply(operator.or_, other)

    def __iand__(self, other: Any) -> WindowSet:
        return self.apply(operator.and_, other)

    def __repr__(self) -> str:
        return f"<WindowSet {self.key!r} of {self.wrapper.table.name}>"
