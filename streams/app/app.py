"""The App: topics, agents, tables, timers, and running them as one streams graph.

``await app.start()`` builds the graph: a Kafka source per topic an agent reads
(``group.id`` is the app's id), an inbox per agent, a node per table; a
:class:`~streams.state.Checkpointer` then restores the tables and the topic positions
from the store and starts the sources. Every ``broker_commit_interval`` seconds a
checkpoint is taken at a moment when every agent has handled every event it was given:
the tables and the positions are committed together, so a restarted worker goes on
exactly where its tables are. ``await app.stop()`` (or SIGINT/SIGTERM for a worker) lets
the agents finish the events in hand, then takes a last checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..core import Stream
from ..errors import ErrorRecord
from ..state.nodes import Adapter, register
from ..state.store import Full
from .agents import Agent
from .streaming import AgentStream, Inbox, StreamBase
from .tables import Table, WindowWrapper
from .topics import Channel, RecordMetadata, Topic, TopicSource

__all__ = ["App"]

log = logging.getLogger("streams.app")

DEFAULTS: dict[str, Any] = {
    "key_serializer": "raw",
    "value_serializer": "json",
    "topic_partitions": 8,
    "stream_buffer_maxsize": 4096,
    "broker_commit_interval": 2.8,
    "table_cleanup_interval": 30.0,
    "consumer_auto_offset_reset": "earliest",
    "broker_connect_timeout": None,
    "stream_wait_empty": True,
}
"""Faust's defaults for the settings the app acts on."""

IGNORED = {"web_port", "web_host", "web_bind", "web_enabled", "autodiscover", "origin", "version"}
"""Faust settings accepted and not acted on (there is no web server)."""


@register("streams.app.streaming.Inbox")
class _InboxAdapter(Adapter):
    """An inbox holds no state at a cut: the cut waits until its agents handled every
    event it accepted (they then wait for the next)."""

    def settle(self, node: Any) -> Any:
        return node.settled()

    def snapshot(self, node: Any) -> Any:
        return Full(None)

    def restore(self, node: Any, value: Any) -> None:
        return None


class App:
    """A Faust-style application: ``import streams.app as faust``.

    Parameters
    ----------
    id : str
        The app's name: the Kafka consumer group, and the prefix of its internal topics.
    broker : str
        ``"kafka://host:port"`` (several: separated by ``;`` or ``,``), or
        ``"memory://"`` to run every topic in this process (tests, notebooks).
    broker_config : dict, optional
        librdkafka settings for the app's consumers and producer.
    store : str
        Where tables and topic positions are checkpointed: ``"sqlite://"`` (the
        default: ``<datadir>/tables.db``; or ``"sqlite:///path/file.db"``),
        ``"rocksdb://"`` (``<datadir>/tables``, or a path) or ``"memory://"`` (nothing
        survives the process: tables start empty, topics resume from the group's
        committed offsets).
    datadir : str, optional
        The app's directory (default ``"<id>-data"``).
    processing_guarantee : str
        ``"at_least_once"`` (the default) or ``"exactly_once"``: messages sent to topics
        are held until the checkpoint after them and written in one Kafka transaction
        with it, and consumers read ``read_committed``.
    **settings
        Faust settings: ``key_serializer``, ``value_serializer``, ``topic_partitions``,
        ``stream_buffer_maxsize``, ``broker_commit_interval`` (seconds between
        checkpoints), ``table_cleanup_interval``, ``consumer_auto_offset_reset``,
        ``broker_connect_timeout`` (give up starting after this many seconds without a
        broker; default: retry, reporting each failure).

    Examples
    --------
    >>> import asyncio
    >>> import streams.app as faust
    >>> app = faust.App("doc-hello", broker="memory://", store="memory://")
    >>> class Greeting(faust.Record):
    ...     from_name: str
    ...     to_name: str
    >>> @app.agent(value_type=Greeting)
    ... async def hello(greetings):
    ...     async for greeting in greetings:
    ...         print(f"Hello from {greeting.from_name} to {greeting.to_name}")
    >>> async def main():
    ...     async with app:
    ...         await hello.send(value=Greeting(from_name="Faust", to_name="you"))
    >>> asyncio.run(main())
    Hello from Faust to you
    """

    def __init__(
        self,
        id: str,
        *,
        broker: str = "kafka://localhost:9092",
        broker_config: Mapping[str, Any] | None = None,
        store: str = "sqlite://",
        datadir: str | None = None,
        processing_guarantee: str = "at_least_once",
        **settings: Any,
    ) -> None:
        if not isinstance(id, str) or not id:
            raise ValueError(f"App: id must be a non-empty str, got {id!r}")
        if processing_guarantee not in ("at_least_once", "exactly_once"):
            raise ValueError(
                "App: processing_guarantee must be 'at_least_once' or 'exactly_once', "
                f"got {processing_guarantee!r}"
            )
        unknown = sorted(set(settings) - set(DEFAULTS) - IGNORED)
        if unknown:
            raise TypeError(f"App {id!r}: unknown settings {unknown}")
        for name in sorted(set(settings) & IGNORED):
            log.info("App %s: setting %s has no effect here (no web server)", id, name)
        self.id = id
        self.conf: dict[str, Any] = {**DEFAULTS, **settings}
        self.conf["id"] = id
        self.broker = broker
        self.memory = broker.startswith("memory://")
        self.servers = "" if self.memory else _servers(broker)
        self.broker_config = dict(broker_config or {})
        self.store_url = store
        self.datadir = datadir or f"{id}-data"
        self.processing_guarantee = processing_guarantee
        self.topics: dict[str, Topic] = {}
        self.channels: list[Channel] = []
        self.agents: dict[str, Agent] = {}
        self.tables: dict[str, Table] = {}
        self._windowed: list[WindowWrapper] = []
        self._timers: list[tuple[float, Callable[..., Any]]] = []
        self._startup: list[Callable[..., Any]] = []
        self._readers: list[tuple[Channel, AgentStream]] = []  # app.stream() outside agents
        self._forwarders: list[asyncio.Task[None]] = []
        self._repartitions: list[Inbox] = []  # what group_by streams read
        self._repartitioned: dict[tuple[int, str], AgentStream] = {}  # (stream, topic)
        self._running_tasks: list[asyncio.Task[Any]] = []
        self._replies: dict[str, asyncio.Future[Any]] = {}
        self._reply_topic: str | None = None
        self._reply_task: asyncio.Task[None] | None = None
        self._producer: Any = None
        self._outboxes: dict[str, Stream[Any]] = {}
        self._outputs: set[str] = set()  # topics declared as outputs (exactly_once)
        self._store: Any = None
        self.checkpointer: Any = None
        self.running = False
        self._errors: Stream[ErrorRecord] = Stream(stream_name=f"{id}.errors")
        self._offsets: dict[str, int] = {}  # memory topics: the next offset
        self._stop_requested: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"<App {self.id} broker={self.broker}>"

    # ------------------------------------------------------------ building

    def topic(self, *topics: str, pattern: str | None = None, **options: Any) -> Topic:
        """The topic named ``topics[0]`` (see :class:`~streams.app.topics.Topic`)."""
        if pattern is not None or len(topics) != 1:
            raise ValueError(
                f"app.topic: give exactly one topic name (got {topics!r}"
                f"{', pattern' if pattern else ''}); one Topic per Kafka topic"
            )
        name = topics[0]
        existing = self.topics.get(name)
        if existing is not None:
            return existing
        topic = Topic(self, name, **options)
        self.topics[name] = topic
        return topic

    def channel(
        self, *, key_type: Any = None, value_type: Any = None, maxsize: int | None = None
    ) -> Channel:
        """An in-memory channel agents can read."""
        channel = Channel(self, key_type, value_type, maxsize)
        self.channels.append(channel)
        return channel

    def agent(
        self,
        channel: Any = None,
        *,
        name: str | None = None,
        concurrency: int = 1,
        sink: Iterable[Any] | None = None,
        key_type: Any = None,
        value_type: Any = None,
        **options: Any,
    ) -> Callable[[Callable[[Any], Any]], Agent]:
        """Decorator: make ``async def f(stream)`` an agent reading ``channel`` (a
        topic, a topic name, a channel; by default its own topic ``<id>-<module>.<f>``)."""

        def decorate(fun: Callable[[Any], Any]) -> Agent:
            agent_name = name or f"{fun.__module__}.{fun.__qualname__}"
            source = channel
            if source is None:
                source = self.topic(
                    f"{self.id}-{agent_name}", key_type=key_type, value_type=value_type
                )
            elif isinstance(source, str):
                source = self.topic(source, key_type=key_type, value_type=value_type)
            if not isinstance(source, Channel):
                raise TypeError(f"app.agent: cannot read {source!r} (a topic or a channel)")
            if self.running:
                raise RuntimeError(f"app.agent {agent_name}: add agents before the app starts")
            agent = Agent(self, fun, source, agent_name, concurrency, sink)
            for target in agent._sinks:
                if isinstance(target, Topic):
                    self.output(target)
            self.agents[agent_name] = agent
            source.agents.append(agent)
            return agent

        return decorate

    def Table(
        self, name: str, *, default: Callable[[], Any] | None = None, **options: Any
    ) -> Table:
        """A durable dict (see :class:`~streams.app.tables.Table`)."""
        if name in self.tables:
            raise ValueError(f"app.Table: there is a table named {name!r} already")
        table = Table(self, name, default=default, **options)
        self.tables[name] = table
        return table

    GlobalTable = Table  # one worker holds every partition: the same table

    def page(self, *args: Any, **kwargs: Any) -> Any:
        """Faust's web views are not provided (there is no web server)."""
        raise NotImplementedError(f"App {self.id}: app.page: streams.app has no web server")

    table_route = page

    def crontab(self, *args: Any, **kwargs: Any) -> Any:
        """Faust's crontab timers are not provided: use ``app.timer(interval)``."""
        raise NotImplementedError(f"App {self.id}: app.crontab: use app.timer(seconds)")

    def timer(self, interval: float, on_leader: bool = False, **_: Any) -> Callable[..., Any]:
        """Decorator: run ``async def f()`` (or ``f(app)``) every ``interval`` seconds."""
        if not isinstance(interval, int | float) or interval <= 0:
            raise ValueError(f"app.timer: interval must be positive seconds, got {interval!r}")

        def decorate(fun: Callable[..., Any]) -> Callable[..., Any]:
            self._timers.append((float(interval), fun))
            return fun

        return decorate

    def task(self, fun: Callable[..., Any] | None = None, *, on_leader: bool = False) -> Any:
        """Decorator: run ``async def f()`` (or ``f(app)``) once the app started."""

        def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
            self._startup.append(f)
            return f

        return decorate(fun) if fun is not None else decorate

    def stream(self, channel: Any) -> StreamBase:
        """A stream over ``channel`` for a task or a timer to iterate (``async for``)."""
        if isinstance(channel, str):
            channel = self.topic(channel)
        if self.running:
            raise RuntimeError("app.stream: create streams before the app starts")
        stream = AgentStream(self, None)  # its inbox is made at start (the topic's source)
        self._readers.append((channel, stream))
        return stream

    def errors(self) -> Stream[ErrorRecord]:
        """The app's error stream: undecodable messages (naming topic, partition and
        offset), agent errors, failed timers. Errors are logged too."""
        return self._errors

    async def send(self, channel: Any, key: Any = None, value: Any = None, **options: Any) -> Any:
        """Send to ``channel`` (a topic, its name, a channel or an agent)."""
        if isinstance(channel, str):
            channel = self.topic(channel)
        return await channel.send(key=key, value=value, **options)

    # ------------------------------------------------------------ running

    async def __aenter__(self) -> App:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the app in the running loop: restore, then read, handle, checkpoint."""
        from ..state import Checkpointer

        if self.running:
            return
        self._stop_requested = asyncio.Event()
        if not self.memory:
            await self._connect()
        read = {a.channel for a in self.agents.values()} | {c for c, _ in self._readers}
        for topic in [t for t in read if isinstance(t, Topic)]:
            self._attach_source(topic)
        maxsize = self.conf["stream_buffer_maxsize"]
        for agent in self.agents.values():
            agent._attach(maxsize if agent.channel.maxsize is None else agent.channel.maxsize)
        for channel, reader in self._readers:
            reader._bind(Inbox(channel.head, maxsize, stream_name=f"stream:{channel.name}"))
        self.running = True
        try:
            for name in sorted(self._outputs):
                self._outbox(self.topics[name])
            for agent in self.agents.values():
                agent._start()
            for _ in range(5):  # agents reach their first event (group_by repartitions now)
                await asyncio.sleep(0)
            heads = [t.head for t in self.topics.values() if t.head.downstreams]
            heads += [c.head for c in self.channels if c.head.downstreams]
            heads += [t.node for t in self.tables.values()] + list(self._outboxes.values())
            self._store = self._open_store()
            if getattr(self._store, "in_memory", False) and not self.memory:
                from .changelog import recover

                for table in self.tables.values():  # nothing else survived: read them back
                    if table.changelog_topic is not None:
                        await recover(table)
            self.checkpointer = None
            if heads:
                self.checkpointer = Checkpointer(
                    *heads,
                    store=self._store,
                    interval=self.conf["broker_commit_interval"],
                    allow_missing_state=True,
                )
                await self.checkpointer.start()
        except BaseException:
            self.checkpointer = None
            await self.stop()  # (agents end, clients close)
            raise
        loop = asyncio.get_running_loop()
        for table in self.tables.values():
            for callback in table._recover_callbacks:
                await _call(callback, self)
        for interval, fun in self._timers:
            self._running_tasks.append(loop.create_task(self._every(interval, fun), name="timer"))
        if self._windowed:
            cleanup = self.conf["table_cleanup_interval"]
            expiry = self._every(cleanup, self._expire)
            self._running_tasks.append(loop.create_task(expiry, name="timer: expiry"))
        for fun in self._startup:
            self._running_tasks.append(loop.create_task(self._guarded(fun)))

    async def stop(self) -> None:
        """Stop: agents finish the events in hand, a last checkpoint commits the tables
        and positions, sends are flushed."""
        if not self.running:
            return
        self.running = False
        timers = [t for t in self._running_tasks if t.get_name().startswith("timer")]
        await _cancel(timers)  # (tasks may read streams: they go on until the cut)
        graceful = False
        try:
            if self.checkpointer is not None:
                await self.checkpointer.stop()
            graceful = True
        finally:
            for agent in self.agents.values():
                if agent.inbox is not None:
                    agent.inbox.close()
            for _, reader in self._readers:
                reader.inbox.close()
            for inbox in self._repartitions:
                inbox.close()
            self._repartitions, self._repartitioned = [], {}
            for agent in self.agents.values():  # (stopped at once: cancelled mid-event)
                await (agent._finished() if graceful else agent._stop())
            await asyncio.sleep(0)  # tasks reading a stream see it end
            await _cancel(self._running_tasks + self._forwarders)
            self._running_tasks = []
            await self._close_clients()

    async def _close_clients(self) -> None:
        if self._reply_task is not None:
            self._reply_task.cancel()
            await asyncio.gather(self._reply_task, return_exceptions=True)
            self._reply_task = None
        for outbox in self._outboxes.values():
            outbox.destroy()
        self._outboxes = {}
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await asyncio.to_thread(producer.flush)
            await asyncio.to_thread(producer.close)
        if self._store is not None and hasattr(self._store, "close"):
            self._store.close()
        self._store = None

    async def wait_idle(self) -> None:
        """Wait until every agent (and every stream of :meth:`stream`) has handled every
        event it was given so far and waits for the next."""
        while True:
            inboxes = [a.inbox for a in self.agents.values() if a.inbox is not None]
            inboxes += [r.inbox for _, r in self._readers] + self._repartitions
            pending = [f for f in (i.settled() for i in inboxes) if f is not None]
            if not pending:
                return
            await asyncio.gather(*pending)

    def request_stop(self) -> None:
        """Ask a running :meth:`serve` to stop (a signal handler calls this)."""
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def serve(self) -> None:
        """Start, run until :meth:`request_stop` (SIGINT/SIGTERM for a worker), stop."""
        await self.start()
        try:
            assert self._stop_requested is not None
            await self._stop_requested.wait()
        finally:
            await self.stop()

    def main(self, argv: list[str] | None = None) -> None:
        """Faust's command line for this app: ``python hello.py worker -l info``."""
        from .cli import main

        main(argv, app=self)

    # ------------------------------------------------------------ internals

    def _consumer_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "bootstrap.servers": self.servers,
            "group.id": self.id,
            "auto.offset.reset": self.conf["consumer_auto_offset_reset"],
        }
        if self.processing_guarantee == "exactly_once":
            params["isolation.level"] = "read_committed"
        params.update(self.broker_config)
        return params

    def _producer_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"bootstrap.servers": self.servers}
        consumer_only = ("group.", "session.", "heartbeat.", "auto.offset", "isolation.")
        config.update(
            {k: v for k, v in self.broker_config.items() if not k.startswith(consumer_only)}
        )
        return config

    def _attach_source(self, topic: Topic) -> None:
        if self.memory or topic.source is not None:
            return
        params = self._consumer_params()
        if topic.internal:  # (a repartition topic: the broker creates it when asked)
            params.setdefault("allow.auto.create.topics", True)
        source = TopicSource(topic, params, stream_name=f"topic:{topic.name}")
        source.errors().sink(self._error)
        topic.source = source
        topic.head = source

    async def _connect(self) -> None:
        """Wait until the broker answers; each failure is reported with the cause."""
        import confluent_kafka as ck  # type: ignore[import-untyped,unused-ignore]

        from ..sources.base import Backoff

        loop = asyncio.get_running_loop()
        timeout = self.conf["broker_connect_timeout"]
        deadline = None if timeout is None else loop.time() + timeout
        backoff = Backoff(0.5, 10.0)
        # (librdkafka's own log lines of the probe are off: the failures are reported here)
        consumer = ck.Consumer({**self._consumer_params(), "log_level": 0})
        try:
            while True:
                wait = 2.0 if deadline is None else min(2.0, max(deadline - loop.time(), 0.5))
                try:
                    await asyncio.to_thread(consumer.list_topics, None, wait)
                    return
                except ck.KafkaException as exc:
                    reason = exc.args[0].str() if exc.args else str(exc)
                if deadline is not None and loop.time() >= deadline:
                    raise ConnectionError(
                        f"App {self.id}: cannot reach the Kafka broker at {self.servers} "
                        f"({reason}); gave up after {timeout}s"
                    )
                delay = backoff.next()
                log.error(
                    "App %s: cannot reach the Kafka broker at %s (%s); retrying in %.1fs",
                    self.id,
                    self.servers,
                    reason,
                    delay,
                )
                await asyncio.sleep(delay)
        finally:
            await asyncio.to_thread(consumer.close)

    def _open_store(self) -> Any:
        from ..state import MemoryStore, RocksDBStore, SQLiteStore

        url = self.store_url
        scheme, _, rest = url.partition("://")
        if scheme == "memory":
            return MemoryStore()
        if scheme not in ("sqlite", "rocksdb"):
            raise ValueError(
                f"App {self.id}: store must be 'sqlite://', 'rocksdb://' or 'memory://', "
                f"got {url!r}"
            )
        if rest:
            path = rest
        else:
            os.makedirs(self.datadir, exist_ok=True)
            path = os.path.join(self.datadir, "tables.db" if scheme == "sqlite" else "tables")
        return SQLiteStore(path) if scheme == "sqlite" else RocksDBStore(path)

    def _error(self, record: ErrorRecord) -> None:
        if self._errors.downstreams:
            self._errors.emit(record)
        else:
            log.error("App %s: %s", self.id, record, exc_info=record.error)

    async def _every(self, interval: float, fun: Callable[..., Any]) -> None:
        while True:
            await asyncio.sleep(interval)
            await self._guarded(fun)

    async def _guarded(self, fun: Callable[..., Any]) -> None:
        try:
            await _call(fun, self)
        except Exception as exc:
            name = getattr(fun, "__qualname__", repr(fun))
            exc.add_note(f"in {name} of app {self.id}")
            self._error(ErrorRecord(self._errors, None, exc))

    def _expire(self) -> None:
        for wrapper in self._windowed:
            wrapper.expire()

    async def _send_raw(
        self,
        topic: Topic,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: list[tuple[str, bytes]],
        direct: bool = False,
    ) -> RecordMetadata:
        if self.memory:
            return await self._send_memory(topic, key, value, timestamp, headers)
        if self.processing_guarantee == "exactly_once" and self.running and not direct:
            return self._send_exactly_once(topic, key, value, partition, headers)
        if self._producer is None:
            from .producer import AppProducer

            self._producer = AppProducer(self._producer_config())
        future = self._producer.produce(topic.name, key, value, partition, timestamp, headers)
        result: RecordMetadata = await future
        return result

    async def _send_memory(
        self,
        topic: Topic,
        key: bytes | None,
        value: bytes | None,
        timestamp: float | None,
        headers: list[tuple[str, bytes]],
    ) -> RecordMetadata:
        from .events import Message

        offset = self._offsets.get(topic.name, 0)
        self._offsets[topic.name] = offset + 1
        if timestamp is None:
            timestamp = time.time()  # (as a Kafka producer stamps its messages)
        message = Message(topic.name, 0, offset, timestamp, headers, key, value)
        if topic.head.downstreams:
            try:
                event = topic.decode(message)
            except Exception as exc:
                exc.add_note(f"at topic {topic.name} partition 0 offset {offset}")
                self._error(ErrorRecord(topic.head, value, exc))
            else:
                await topic._emit(event)
        return RecordMetadata(topic.name, 0, offset, timestamp)

    def _send_exactly_once(
        self,
        topic: Topic,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        headers: list[tuple[str, bytes]],
    ) -> RecordMetadata:
        outbox = self._outboxes.get(topic.name)
        if outbox is None:
            raise RuntimeError(
                f"App {self.id}: topic {topic.name!r} was not declared as an output before "
                "the app started; with exactly_once, name it in an agent's sink= or call "
                "app.output(topic) first"
            )
        outbox.emit((key, value, headers, partition))
        return RecordMetadata(topic.name, -1, -1, None)

    def output(self, topic: Topic | str) -> Topic:
        """Declare that the app sends to ``topic`` (needed before start with
        ``exactly_once``, where each output topic has a transactional outbox; the topics
        of agents' ``sink=`` are declared already)."""
        if isinstance(topic, str):
            topic = self.topic(topic)
        self._outputs.add(topic.name)
        if self.running:
            if self.checkpointer is not None and topic.name not in self._outboxes:
                raise RuntimeError(
                    f"App {self.id}: declare output topic {topic.name!r} before the app "
                    "starts (its outbox is part of the checkpoints)"
                )
            self._outbox(topic)
        return topic

    def _outbox(self, topic: Topic) -> None:
        eos = self.processing_guarantee == "exactly_once" and not self.memory
        if eos and topic.name not in self._outboxes:
            head: Stream[Any] = Stream(stream_name=f"outbox-head:{topic.name}")
            head.to_kafka(
                topic.name,
                self._producer_config(),
                exactly_once=True,
                stream_name=f"{self.id}-out-{topic.name}",
            )
            self._outboxes[topic.name] = head

    # ------------------------------------------------------------ replies and repartitions

    async def _expect_reply(self, correlation: str) -> tuple[str, asyncio.Future[Any]]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._replies[correlation] = future
        if self.memory:
            return "memory://", future
        if self._reply_task is None:
            from .replies import consume_replies

            self._reply_topic = f"{self.id}-reply-{uuid.uuid4().hex[:12]}"
            self._reply_task = asyncio.ensure_future(consume_replies(self, self._reply_topic))
        assert self._reply_topic is not None
        return self._reply_topic, future

    async def _reply(self, reply_to: str | None, correlation: str, value: Any) -> None:
        from .models import encode_as

        if reply_to is None or reply_to == "memory://":
            future = self._replies.get(correlation)
            if future is not None and not future.done():
                future.set_result(value)
            return
        topic = self.topic(reply_to, value_serializer="json")
        # (a reply goes out at once, also with exactly_once: the asker waits for it)
        key, data = correlation.encode(), encode_as("json", value)
        await self._send_raw(topic, key, data, 0, None, [], direct=True)

    def _repartition(
        self, stream: StreamBase, key: Any, name: str | None, topic: Any, partitions: int | None
    ) -> StreamBase:
        from .repartition import repartition

        return repartition(self, stream, key, name, topic, partitions)


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _call(fun: Callable[..., Any], app: App) -> Any:
    import inspect

    try:
        params = inspect.signature(fun).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    result = fun(app) if params else fun()
    if inspect.isawaitable(result):
        result = await result
    return result


def _servers(broker: str) -> str:
    parts = [p for p in re.split(r"[;,]", broker) if p.strip()]
    hosts = []
    for part in parts:
        scheme, sep, rest = part.strip().partition("://")
        if not sep:
            rest = scheme
        elif scheme not in ("kafka", "aiokafka", "confluent"):
            raise ValueError(f"App: broker must be kafka://host:port or memory://, got {broker!r}")
        hosts.append(rest if ":" in rest else f"{rest}:9092")
    if not hosts:
        raise ValueError(f"App: broker must be kafka://host:port or memory://, got {broker!r}")
    return ",".join(hosts)
