"""Graph nodes over an event store: a sink that inserts every element, and a source
that emits stored and newly inserted events."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from ..core import Stream
from ..protocol import Metadata, wait
from ..sinks.base import Sink
from ..sources.base import Source
from .base import Backend, DateLike, Event
from .live import Follower

__all__ = ["FromEventStore", "ToEventStore"]

PAGE = 500
"""Events read per query while replaying stored events."""


def _check_backend(label: str, backend: Any) -> Backend:
    if not isinstance(backend, Backend):
        raise TypeError(f"{label}: expected an event-store backend, got {backend!r}")
    return backend


class ToEventStore(Sink[Mapping[str, Any]]):
    """Node behind :meth:`Stream.sink_to_event_store`: insert every element (a dict)
    into ``backend``; the emitter waits until it is stored."""

    _label = "sink_to_event_store"

    def __init__(
        self,
        upstream: Stream[Any],
        backend: Backend,
        date: str | Callable[[Any], DateLike] | None = None,
        **options: Any,
    ) -> None:
        self.backend = _check_backend(self._label, backend)
        if not (date is None or callable(date) or isinstance(date, str)):
            raise TypeError(
                f"{self._label}: date must be a field name or a callable, got {date!r}"
            )
        self.date = date
        super().__init__(upstream, **options)
        if backend.blocking:
            self._require_loop()

    def _detail(self) -> str:
        return type(self.backend).__name__

    def _date_of(self, x: Mapping[str, Any]) -> DateLike:
        date = self.date
        if date is None:
            return None
        if isinstance(date, str):
            value: DateLike = x.get(date)
            return value
        return date(x)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if not isinstance(x, Mapping):
            error = TypeError(
                f"{self._describe()}: expected a dict, got {type(x).__name__} {x!r}; "
                "map elements to dicts first"
            )
            return self._failed(error, x, who, metadata)
        if not self.backend.blocking:
            try:
                self.backend.insert(x, self._date_of(x))
            except Exception as exc:
                return self._failed(exc, x, who, metadata)
            self.current_value = x
            return None
        return self._insert(x, who, metadata)

    async def _insert(
        self, x: Mapping[str, Any], who: Stream[Any] | None, metadata: Metadata
    ) -> None:
        try:
            await self.backend.ainsert(x, self._date_of(x))
        except Exception as exc:
            await wait(self._failed(exc, x, who, metadata))
        else:
            self.current_value = x


class FromEventStore(Source[dict[str, Any]]):
    """Node behind :meth:`Stream.from_event_store`: emit the data of matching events,
    the stored ones first (oldest first) if ``replay``, then those inserted while it
    runs if ``follow``: through ``backend`` itself and, on Redis, by other processes
    (see :class:`~streams.eventstore.live.Follower`)."""

    _label = "from_event_store"

    def __init__(
        self,
        backend: Backend,
        follow: bool = True,
        replay: bool | None = None,
        since: DateLike = None,
        until: DateLike = None,
        filters: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        self.backend = _check_backend(self._label, backend)
        self.follow = bool(follow)
        self.replay = not self.follow if replay is None else bool(replay)
        self.filters = dict(filters or {})
        self.query = self.backend.query(self.filters, since, until)  # checks the keys now
        self._new: deque[Event] = deque()
        self._failure: BaseException | None = None
        super().__init__(**options)

    def _detail(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.filters.items())

    def _arrived(self, event: Event) -> None:
        """The follower's callback: on the loop."""
        self._new.append(event)
        self._alarm.ring()

    def _lost(self, exc: BaseException) -> None:
        self._failure = exc
        self._alarm.ring()

    async def run(self) -> None:
        follower = Follower(self.backend, self.query, self._arrived, self._lost)
        self._failure = None
        if self.follow:
            await follower.start()  # before the replay: nothing falls between the two
        try:
            seen: set[str] = set()
            if self.replay:
                for event in await self._stored():
                    if self.stopped:
                        return
                    seen.add(event.id)
                    await self.emit(event.data)
            while self.follow and not self.stopped:
                if self._failure is not None:
                    raise self._failure
                if not self._new:
                    loop = asyncio.get_running_loop()
                    await self._alarm.sleep_until(loop.time() + 3600.0)
                    continue
                event = self._new.popleft()
                if event.id in seen:  # inserted during the replay, emitted by it
                    seen.discard(event.id)
                    continue
                await self.emit(event.data)
        finally:
            follower.stop()
            self._new.clear()

    async def _stored(self) -> list[Event]:
        """The stored matching events, oldest first."""
        found: list[Event] = []
        ids: set[str] = set()
        start = 0
        while not self.stopped:
            page = await self.backend.aevents(
                start, start + PAGE, since=self.query.since, until=self.query.until, **self.filters
            )
            found.extend(e for e in page if e.id not in ids)
            ids.update(e.id for e in page)
            if len(page) < PAGE:
                break
            start += PAGE
        found.sort(key=lambda e: (e.timestamp, e.order))
        return found
