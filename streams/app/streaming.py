"""An agent's stream: ``async for`` over a streams graph, with back pressure and acks.

A topic's events reach an agent through an :class:`Inbox`, a sink node of the graph: it
keeps up to ``maxsize`` events (Faust's ``stream_buffer_maxsize``) and then makes the
source wait, so a slow agent slows the consumer down. Events come in batches (one per
partition and poll); an :class:`AgentStream` hands them out one by one, and releases a
batch (the source then commits its offsets) only once the agent asks for the event after
its last one: an offset is committed after the agent handled the event, never before.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..core import Stream
from ..protocol import Metadata
from ..refs import release_refs
from ..sinks.pull import PullSink
from .events import Event, _current

__all__ = ["AgentStream", "Inbox", "StreamBase"]


class Inbox(PullSink[Any]):
    """The sink node an agent reads from: a bounded queue of event batches.

    ``update`` accepts a list of :class:`~streams.app.Event` and returns an awaitable
    (the source waits) while ``maxsize`` events or more are queued.
    """

    _label = "agent"

    def __init__(self, upstream: Stream[Any], maxsize: int = 4096, **options: Any) -> None:
        self.closed = False
        self.readers: list[AgentStream] = []
        self._idle: list[asyncio.Future[None]] = []  # settle(): wait until every reader waits
        super().__init__(upstream, maxsize, **options)

    def _weight(self, x: Any) -> int:
        return len(x)  # (a batch of events)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if self.readers and all(r.ended for r in self.readers):
            return None  # its agent failed for good (reported): nobody will read it
        return super().update(x, who, metadata)

    def close(self) -> None:
        """No more events: readers end once the queue is empty."""
        self.closed = True
        self._wake()
        self._check_idle()

    # ------------------------------------------------------------ checkpoints

    def is_idle(self) -> bool:
        """Nothing queued and every reader waits for input holding no event: everything
        this inbox accepted was handled completely."""
        if self.queue:
            return False
        return all(r.waiting and not r._held for r in self.readers if not r.ended)

    def settled(self) -> asyncio.Future[None] | None:
        """``None`` if idle, else a future done once it is."""
        if self.is_idle():
            return None
        future = asyncio.get_running_loop().create_future()
        self._idle.append(future)
        return future

    def _check_idle(self) -> None:
        if self._idle and self.is_idle():
            waiting, self._idle = self._idle, []
            for future in waiting:
                if not future.done():
                    future.set_result(None)


class StreamBase:
    """What every agent stream offers: iteration and Faust's stream operators."""

    app: Any

    async def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event; ``None`` if ``timeout`` loop seconds pass first; raises
        ``StopAsyncIteration`` at the end of the stream."""
        raise NotImplementedError

    def _root(self) -> AgentStream:
        raise NotImplementedError

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._values()

    async def _values(self) -> AsyncIterator[Any]:
        async for event in self.events():
            yield event.value

    async def events(self) -> AsyncIterator[Event]:
        """Iterate over the :class:`~streams.app.Event` objects (key, value, message)."""
        while True:
            try:
                event = await self.next_event()
            except StopAsyncIteration:
                return
            assert event is not None
            yield event

    async def items(self) -> AsyncIterator[tuple[Any, Any]]:
        """Iterate over ``(key, value)`` pairs."""
        async for event in self.events():
            yield event.key, event.value

    async def enumerate(self, start: int = 0) -> AsyncIterator[tuple[int, Any]]:
        """Iterate over ``(i, value)`` pairs, counting from ``start``."""
        i = start
        async for event in self.events():
            yield i, event.value
            i += 1

    def filter(self, fun: Callable[[Any], Any]) -> StreamBase:
        """The events whose value ``fun`` (sync or async) accepts."""
        return _Derived(self, fun, keep=True)

    def map(self, fun: Callable[[Any], Any]) -> StreamBase:
        """Each value replaced by ``fun(value)`` (sync or async)."""
        return _Derived(self, fun, keep=False)

    def noack(self) -> StreamBase:
        """Faust's manual acknowledgement is not needed: events are acknowledged when
        the stream moves past them. Returns the stream itself."""
        return self

    async def take(self, max_: int, within: float | None = None) -> AsyncIterator[list[Any]]:
        """Lists of up to ``max_`` values: a list goes out when full, or ``within`` loop
        seconds after its first value. Its events are acknowledged after the agent
        handled the whole list."""
        if not isinstance(max_, int) or max_ < 1:
            raise ValueError(f"take: max_ must be a positive int, got {max_!r}")
        root = self._root()
        loop = asyncio.get_running_loop()
        while True:
            root._hold()
            values: list[Any] = []
            deadline = None
            try:
                while len(values) < max_:
                    left: float | None = None
                    if deadline is not None:
                        left = max(deadline - loop.time(), 0.0)
                    try:
                        event = await self.next_event(left)
                    except StopAsyncIteration:
                        if values:
                            yield values
                        return
                    if event is None:
                        break  # within passed
                    values.append(event.value)
                    if deadline is None and within is not None:
                        deadline = loop.time() + within
                yield values
            finally:
                root._unhold()

    def group_by(
        self,
        key: Any,
        *,
        name: str | None = None,
        topic: Any = None,
        partitions: int | None = None,
    ) -> StreamBase:
        """Repartition by ``key`` (a callable of the value, or a field descriptor such
        as ``Order.account_id``): each event is sent on, with the new key, to a
        repartition topic, and the stream returned reads that topic."""
        stream: StreamBase = self.app._repartition(self, key, name, topic, partitions)
        return stream

    def through(self, channel: Any) -> StreamBase:
        """Send each event on to ``channel`` (a topic or its name) and return the stream
        that reads it (to change the partition count, say)."""
        stream: StreamBase = self.app._repartition(self, None, None, channel, None)
        return stream

    def echo(self, *channels: Any) -> StreamBase:
        """Send a copy of each value to ``channels`` (topics, channels or agents)."""
        return _Derived(self, _Echo(channels), keep=True)


class _Echo:
    def __init__(self, channels: tuple[Any, ...]) -> None:
        self.channels = channels

    async def __call__(self, value: Any) -> bool:
        event = _current.get()
        key = event.key if event is not None else None
        for channel in self.channels:
            await channel.send(key=key, value=value)
        return True


class AgentStream(StreamBase):
    """The stream an agent iterates: events from an :class:`Inbox`, one at a time."""

    def __init__(self, app: Any, inbox: Inbox | None) -> None:
        self.app = app
        self._batch: list[Event] = []
        self._i = 0
        self._meta: Metadata = ()
        self._held: list[Metadata] = []  # released later (take)
        self._holding = 0
        self.waiting = False
        self.ended = False
        if inbox is not None:
            self._bind(inbox)

    def _bind(self, inbox: Inbox) -> None:
        """Read ``inbox`` (made when the app starts)."""
        self.inbox = inbox
        inbox.readers.append(self)

    def _root(self) -> AgentStream:
        return self

    def __aiter__(self) -> AgentStream:
        return self

    async def __anext__(self) -> Any:
        i = self._i
        batch = self._batch
        if i < len(batch):  # the fast path: no await, no allocation
            self._i = i + 1
            event = batch[i]
            _current.set(event)
            return event.value
        waited = await self._advance(None)
        assert waited is not None
        return waited.value

    async def next_event(self, timeout: float | None = None) -> Event | None:
        i = self._i
        batch = self._batch
        if i < len(batch):
            self._i = i + 1
            event = batch[i]
            _current.set(event)
            return event
        return await self._advance(timeout)

    def _release(self) -> None:
        meta = self._meta
        if meta:
            self._meta = ()
            if self._holding:
                self._held.append(meta)
            else:
                release_refs(meta)

    def _hold(self) -> None:
        self._holding += 1

    def _unhold(self) -> None:
        self._holding -= 1
        if not self._holding and self._held:
            held, self._held = self._held, []
            for meta in held:
                release_refs(meta)

    async def _advance(self, timeout: float | None) -> Event | None:
        self._release()  # the agent is done with the last batch
        self._batch, self._i = [], 0
        inbox = self.inbox
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            item = inbox.take_nowait()
            if item is not None:
                batch, meta = item
                if not batch:
                    if meta:
                        release_refs(meta)
                    continue
                self._batch, self._meta, self._i = batch, meta, 1
                event: Event = batch[0]
                _current.set(event)
                return event
            if inbox.closed:
                self.ended = True
                inbox._check_idle()
                raise StopAsyncIteration
            arrived = inbox.arrival()
            self.waiting = True
            inbox._check_idle()
            try:
                if deadline is None:
                    await asyncio.shield(arrived)
                else:
                    left = deadline - loop.time()
                    if left <= 0:
                        return None
                    done, _ = await asyncio.wait([arrived], timeout=left)
                    if not done:
                        return None
            finally:
                self.waiting = False

    def end(self) -> None:
        """The agent stopped reading (returned or was cancelled): release what it held."""
        self._holding = 0
        self._release()
        self._unhold()
        self.ended = True
        inbox = self.inbox
        if all(r.ended for r in inbox.readers):
            inbox.drop_all()  # nobody reads them any more
        inbox._check_idle()


class _Derived(StreamBase):
    """``filter``/``map``/``echo`` of a stream: the same events, kept or changed."""

    def __init__(self, parent: StreamBase, fun: Callable[[Any], Any], keep: bool) -> None:
        if not callable(fun):
            raise TypeError(f"stream operator: expected a function, got {fun!r}")
        self.app = parent.app
        self.parent = parent
        self.fun = fun
        self.keep = keep

    def _root(self) -> AgentStream:
        return self.parent._root()

    async def next_event(self, timeout: float | None = None) -> Event | None:
        while True:
            event = await self.parent.next_event(timeout)
            if event is None:
                return None
            result = self.fun(event.value)
            if inspect.isawaitable(result):
                result = await result
            if self.keep:
                if result:
                    return event
                continue
            changed = Event(event.key, result, event.message)  # (a new event)
            _current.set(changed)
            return changed
