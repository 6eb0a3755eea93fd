"""Agents: ``@app.agent(topic)`` stream processors written as ``async for``.

An agent reads its channel through an :class:`~streams.app.streaming.Inbox` of the
streams graph. ``concurrency=n`` runs ``n`` instances over the same inbox (events are
then handled out of order). What an agent ``yield``\\s goes to its sinks (callables,
topics, channels, other agents) and, for an event sent with :meth:`Agent.ask`, back to
the asker. An agent that raises is reported (the event counts as handled, as in Faust)
and restarted on the next event.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import ErrorRecord
from .events import Event, Message, _current
from .streaming import AgentStream, Inbox
from .topics import Channel

__all__ = ["Agent"]

log = logging.getLogger("streams.app")


class Agent:
    """A stream processor of an app (made by :meth:`App.agent`).

    Attributes
    ----------
    name : str
        ``module.function``.
    channel : Topic or Channel
        What it reads.
    concurrency : int
        Instances running over the same stream.
    """

    def __init__(
        self,
        app: Any,
        fun: Callable[[Any], Any],
        channel: Any,
        name: str,
        concurrency: int,
        sink: Iterable[Any] | None,
    ) -> None:
        if not callable(fun):
            raise TypeError(f"app.agent: expected an async function, got {fun!r}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(
                f"agent {name}: concurrency must be a positive int, got {concurrency!r}"
            )
        self.app = app
        self.fun = fun
        self.channel = channel
        self.name = name
        self.concurrency = concurrency
        self._sinks: list[Any] = list(sink or [])
        self.inbox: Inbox | None = None
        self.streams: list[AgentStream] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.__doc__ = getattr(fun, "__doc__", None)
        self.__wrapped__ = fun

    def __repr__(self) -> str:
        return f"<Agent {self.name} on {self.channel!r}>"

    def add_sink(self, sink: Any) -> None:
        """Send what the agent yields to ``sink`` too."""
        self._sinks.append(sink)

    # ------------------------------------------------------------ sending to it

    async def send(
        self,
        key: Any = None,
        value: Any = None,
        partition: int | None = None,
        timestamp: float | None = None,
        headers: Any = None,
        **options: Any,
    ) -> Any:
        """Send ``value`` to the agent's channel; return once it is written."""
        return await self.channel.send(
            key=key,
            value=value,
            partition=partition,
            timestamp=timestamp,
            headers=headers,
            **options,
        )

    async def cast(self, value: Any = None, *, key: Any = None, **options: Any) -> None:
        """Send ``value`` and expect no reply."""
        await self.send(key=key, value=value, **options)

    async def ask(
        self, value: Any = None, *, key: Any = None, timeout: float | None = None, **options: Any
    ) -> Any:
        """Send ``value`` and return what the agent yields for it (its reply)."""
        correlation = uuid.uuid4().hex
        reply_to, future = await self.app._expect_reply(correlation)
        headers = {"reply_to": reply_to, "correlation_id": correlation}
        try:
            await self.send(key=key, value=value, headers=headers, **options)
            return await asyncio.wait_for(future, timeout)
        finally:
            self.app._replies.pop(correlation, None)

    async def map(self, values: Iterable[Any], timeout: float | None = None) -> Any:
        """Ask the agent about each of ``values``; yield the replies as they come."""
        pending = [asyncio.ensure_future(self.ask(v, timeout=timeout)) for v in values]
        for next_done in asyncio.as_completed(pending):
            yield await next_done

    async def join(self, values: Iterable[Any], timeout: float | None = None) -> list[Any]:
        """Ask the agent about each of ``values``; return the replies in order."""
        return list(await asyncio.gather(*(self.ask(v, timeout=timeout) for v in values)))

    def test_context(self) -> AgentTestContext:
        """Faust's unit-test wrapper: ``async with agent.test_context() as a:`` runs the
        agent alone on an in-memory channel; ``event = await a.put(value)`` returns once
        the agent handled it, and ``a.results`` maps the order of each value the agent
        yielded (0, 1...) to it. An error in the agent is raised by ``put``."""
        return AgentTestContext(self)

    # ------------------------------------------------------------ running

    def _attach(self, maxsize: int) -> Inbox:
        """Connect the agent to its channel's head node (before the app starts)."""
        self.inbox = Inbox(self.channel.head, maxsize=maxsize, stream_name=f"agent:{self.name}")
        self.streams = [AgentStream(self.app, self.inbox) for _ in range(self.concurrency)]
        return self.inbox

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._supervise(stream), name=f"agent {self.name}")
            for stream in self.streams
        ]

    async def _supervise(self, stream: AgentStream) -> None:
        """Run one instance; restart it after an error, until its stream ends."""
        while not stream.ended:
            at = (stream._batch, stream._i)
            try:
                await self._run(stream)
                break  # the body returned (or its stream ended)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                event = _current.get()
                moved = at[0] is not stream._batch or at[1] != stream._i
                if moved:
                    exc.add_note(f"in agent {self.name}, on {event!r}; the agent restarts")
                else:  # it fails before taking an event: restarting would fail again
                    exc.add_note(
                        f"in agent {self.name}: it failed before taking an event, so it "
                        "is not restarted; the events sent to it are dropped"
                    )
                self.app._error(ErrorRecord(self.inbox, getattr(event, "value", None), exc))
                if not moved:
                    break
        stream.end()

    async def _run(self, stream: AgentStream) -> None:
        result = self.fun(stream)
        if inspect.isasyncgen(result):
            async for value in result:
                await self._deliver(value)
        elif inspect.isawaitable(result):
            await result
        else:
            raise TypeError(
                f"agent {self.name}: the function must be `async def` (got {result!r} back)"
            )

    async def _deliver(self, value: Any) -> None:
        event = _current.get()
        if event is not None and event.headers:
            correlation = event._header("correlation_id")
            if correlation is not None:
                await self.app._reply(event._header("reply_to"), correlation, value)
        key = event.key if event is not None else None
        for sink in self._sinks:
            if isinstance(sink, Agent | Channel):  # (a topic is a channel)
                await sink.send(key=key, value=value)
            else:
                out = sink(value)
                if inspect.isawaitable(out):
                    await out

    async def _stop(self) -> None:
        """Cancel the instances (their current event is not acknowledged)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _finished(self) -> None:
        """Wait until every instance ended (its stream was closed and drained)."""
        if self._tasks:
            await asyncio.wait(self._tasks)


class AgentTestContext:
    """What :meth:`Agent.test_context` returns (Faust's ``AgentTestWrapper``)."""

    def __init__(self, agent: Agent) -> None:
        from .app import App

        self.agent = agent
        self.app = App(f"{agent.app.id}-test", broker="memory://", store="memory://")
        self.channel = self.app.channel()
        self.results: dict[int, Any] = {}
        self.sent_offset = 0
        self.processed_offset = 0
        self._errors: list[ErrorRecord] = []
        self.app.errors().sink(self._errors.append)
        tested = Agent(self.app, agent.fun, self.channel, agent.name, 1, [self._record])
        self.app.agents[agent.name] = tested
        self.channel.agents.append(tested)

    def _record(self, value: Any) -> None:
        self.results[self.processed_offset] = value
        self.processed_offset += 1

    async def __aenter__(self) -> AgentTestContext:
        await self.app.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.stop()

    async def put(
        self,
        value: Any = None,
        key: Any = None,
        *,
        timestamp: float | None = None,
        headers: Any = None,
        **_: Any,
    ) -> Event:
        """Send ``value`` to the agent and return its event once the agent handled it."""
        from .topics import _headers

        ts = time.time() if timestamp is None else timestamp
        message = Message(
            self.channel.name, 0, self.sent_offset, ts, _headers(headers), None, None
        )
        self.sent_offset += 1
        event = Event(key, value, message)
        await self.channel._emit(event)
        await self.app.wait_idle()
        if self._errors:
            raise self._errors.pop(0).error
        return event
