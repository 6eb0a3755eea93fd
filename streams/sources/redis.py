"""A source that reads Redis Streams, alone or as a member of a consumer group."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .._util import positive_int
from ..errors import Retry
from ..loop import running_loop
from .base import Backoff, Source, decoder

__all__ = ["FromRedisStream", "check_redis_url", "key_name", "redis_client", "redis_target"]

R = TypeVar("R")

StreamKey = str | bytes
Entry = tuple[StreamKey, str, dict[bytes, bytes]]


class _Stopped:
    """What :meth:`FromRedisStream._until_stopped` returns when ``stop()`` came first."""


STOPPED = _Stopped()


class FromRedisStream(Source[dict[str, Any]]):
    """Node behind :meth:`Stream.from_redis_stream`: emit the entries of Redis streams.

    Each entry is emitted as ``{'key': key, 'id': entry_id, 'fields': fields}``: the
    stream key as given, the entry id as a ``str`` (``'1700000000000-0'``) and the
    entry's field/value dict (``bytes``, or decoded per ``decode``).

    Without ``group`` it reads with ``XREAD``; with ``group`` it reads as consumer
    ``consumer`` of that group with ``XREADGROUP`` and acknowledges (``XACK``) an entry
    once every branch downstream has finished with it.
    """

    _label = "from_redis_stream"

    def __init__(
        self,
        keys: StreamKey | Sequence[StreamKey],
        redis_url: str = "redis://localhost:6379/0",
        group: str | None = None,
        consumer: str | None = None,
        batch_size: int = 100,
        block: int = 1000,
        from_start: bool = False,
        decode: Any = None,
        **options: Any,
    ) -> None:
        label = self._label
        self.keys: list[StreamKey] = _stream_keys(label, keys)
        self.redis_url = check_redis_url(label, redis_url)
        if group is not None and not (isinstance(group, str) and group):
            raise TypeError(f"{label}: group must be a non-empty str or None, got {group!r}")
        if consumer is not None:
            if group is None:
                raise ValueError(f"{label}: consumer={consumer!r} needs a group")
            if not (isinstance(consumer, str) and consumer):
                raise TypeError(f"{label}: consumer must be a non-empty str, got {consumer!r}")
        self.group = group
        self.consumer = consumer or _unique_consumer()
        self.batch_size = positive_int(label, "batch_size", batch_size)
        self.block = positive_int(label, "block", block)
        self.from_start = bool(from_start)
        self.decode = decode
        self._decode_value = decoder(label, decode)
        self._key_codec = decode if isinstance(decode, str) and decode != "json" else "utf-8"
        self._by_name = {_as_bytes(k): k for k in self.keys}
        self._cursors: dict[StreamKey, str] = {}  # XREAD: last id read, per key
        self._pending: dict[StreamKey, str] = {}  # XREADGROUP: pending entries to re-read
        self._ready = False  # group created / cursors set on the current connection
        self._inflight: set[tuple[StreamKey, str]] = set()  # emitted, not yet acked
        self._acks: list[tuple[StreamKey, str]] = []  # released, XACK not yet sent
        self._acking: asyncio.Task[None] | None = None
        self._client: Any = None
        # durable state (streams.state): the last entry handled per key; after a restore,
        # entries up to it are skipped (and acknowledged: the checkpoint holds them)
        self._done: dict[StreamKey, str] = {}
        self._skip: dict[StreamKey, str] = {}
        self._held_acks: list[tuple[StreamKey, str]] = []  # acknowledged since the cut
        self._cut_acks: list[tuple[StreamKey, str]] = []  # to XACK once it commits
        super().__init__(**options)

    def _detail(self) -> str:
        names = ",".join(key_name(k) for k in self.keys)
        return f"{names}, group={self.group}" if self.group else names

    # ------------------------------------------------------------------ reading

    async def run(self) -> None:
        from redis import exceptions as rx

        target = redis_target(self.redis_url)
        backoff = Backoff()
        client = self._client = redis_client(self.redis_url, self.block / 1000 + 10)
        self._ready = False
        self._inflight = set(self._acks)  # released earlier, XACK still to send
        try:
            while not self.stopped:
                try:
                    entries = await self._until_stopped(self._fetch(client))
                except (rx.ConnectionError, rx.TimeoutError, OSError) as exc:
                    self._ready = False
                    delay = backoff.next()
                    self.connection_failed(exc, target, delay)
                    await self.sleep(delay)
                    continue
                except rx.ResponseError as exc:
                    self._ready = False  # NOGROUP: the stream or group was deleted
                    if "NOGROUP" not in str(exc):
                        delay = backoff.next()
                        exc.add_note(f"retrying in {delay:g}s")
                        self._report(exc, None, ())
                        await self.sleep(delay)
                    continue
                if isinstance(entries, _Stopped):
                    break
                backoff.reset()
                await self._deliver_all(entries)
        finally:
            if self._acking is not None:  # its failures are reported by the runtime
                await asyncio.wait((self._acking,))
            self._client = None
            await client.aclose()

    async def _until_stopped(self, work: Awaitable[R]) -> R | _Stopped:
        """Await ``work`` unless :meth:`stop` comes first (then cancel it)."""
        task = asyncio.ensure_future(work)
        try:
            while not task.done() and not self.stopped:
                alarm = asyncio.ensure_future(self.sleep(3600.0))
                try:
                    await asyncio.wait((task, alarm), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    alarm.cancel()
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait((task,))
        if task.cancelled():
            return STOPPED
        return task.result()

    async def _fetch(self, client: Any) -> list[Entry]:
        """The next entries to emit (empty after ``block`` ms without any)."""
        if not self._ready:
            await self._prepare(client)
        if self.group is None:
            reply = await client.xread(self._cursors, count=self.batch_size, block=self.block)
            return self._entries(reply)
        if self._pending:  # this consumer's entries delivered before but never acked
            reply = await client.xreadgroup(
                self.group, self.consumer, dict(self._pending), count=self.batch_size
            )
            return self._pending_entries(self._entries(reply))
        streams = dict.fromkeys(self.keys, ">")
        reply = await client.xreadgroup(
            self.group, self.consumer, streams, count=self.batch_size, block=self.block
        )
        return self._entries(reply)

    async def _prepare(self, client: Any) -> None:
        """After (re)connecting: create the group, or find where reading starts."""
        from redis import exceptions as rx

        if self.group is not None:
            for key in self.keys:
                try:
                    start = "0" if self.from_start else "$"
                    await client.xgroup_create(key, self.group, id=start, mkstream=True)
                except rx.ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
            self._pending = dict.fromkeys(self.keys, "0")
        else:
            for key in self.keys:
                if key not in self._cursors:  # a restart goes on where it stopped
                    last = [] if self.from_start else await client.xrevrange(key, count=1)
                    self._cursors[key] = _text(last[0][0]) if last else "0-0"
        self._ready = True
        if self._acks and self._acking is None:
            self._acking = self._spawn(self._send_acks())

    def _entries(self, reply: Any) -> list[Entry]:
        if isinstance(reply, dict):  # RESP3
            pairs = [(k, v[0] if v and isinstance(v[0], list) else v) for k, v in reply.items()]
        else:
            pairs = [(k, v) for k, v in reply or ()]
        out: list[Entry] = []
        for name, entries in pairs:
            key: StreamKey = self._by_name.get(_as_bytes(name)) or name
            out.extend((key, _text(entry_id), fields) for entry_id, fields in entries or ())
        return out

    def _pending_entries(self, entries: list[Entry]) -> list[Entry]:
        """Advance the pending cursors; drop what is in flight or was deleted."""
        seen: set[StreamKey] = set()
        keep: list[Entry] = []
        for key, entry_id, fields in entries:
            seen.add(key)
            self._pending[key] = entry_id
            if (key, entry_id) in self._inflight:
                continue  # still downstream (or failed) in this run
            if not fields:  # deleted or trimmed since it was delivered
                self._ack(key, entry_id)
                continue
            keep.append((key, entry_id, fields))
        for key in [k for k in self._pending if k not in seen]:
            del self._pending[key]  # no more pending entries for this key
        return keep

    async def _deliver_all(self, entries: list[Entry]) -> None:
        for key, entry_id, raw in entries:
            cut = self._cut_wait()
            if cut is not None:
                await cut
            if self.stopped:  # the rest stays pending (group) or unread (cursor)
                return
            skip = self._skip.get(key)
            if skip is not None and _id(entry_id) <= _id(skip):
                if self.group is not None:  # handled before the restored checkpoint
                    self._ack(key, entry_id)
                continue
            await self._deliver(key, entry_id, raw)
            self._done[key] = entry_id
            due = self._element_done()
            if due is not None:
                await due

    def _restore(self, positions: dict[StreamKey, str]) -> None:
        """Go on after the entries of a restored checkpoint."""
        self._done = dict(positions)
        self._skip = dict(positions)
        if self.group is None:
            self._cursors.update(positions)

    async def _deliver(self, key: StreamKey, entry_id: str, raw: dict[bytes, bytes]) -> None:
        try:
            fields = self._fields(raw)
        except Exception as exc:
            self.reject(exc, raw, f"stream {_show(key)}, entry {entry_id}")
            if self.group is not None and _handled(self.on_error):
                self._ack(key, entry_id)
            return
        x = {"key": key, "id": entry_id, "fields": fields}
        if self.group is None:
            await self.emit(x)
            self._cursors[key] = entry_id
            return
        self._inflight.add((key, entry_id))
        await self.emit_acked(x, _acker(self._ack, key, entry_id))

    def _fields(self, raw: dict[bytes, bytes]) -> dict[Any, Any]:
        if self.decode is None:
            return raw
        codec, value = self._key_codec, self._decode_value
        return {k.decode(codec): value(v) for k, v in raw.items()}

    # ------------------------------------------------------------------ acknowledging

    def _ack(self, key: StreamKey, entry_id: str) -> None:
        """Every branch is done with this entry: XACK it (batched, in a task). With a
        checkpointer, only once a checkpoint holding its effects has committed."""
        if self._checkpointer is not None:
            self._held_acks.append((key, entry_id))
            return
        self._send_ack(key, entry_id)

    def _acks_at_cut(self) -> None:
        """The cut: what was acknowledged so far goes with this checkpoint."""
        self._cut_acks, self._held_acks = self._cut_acks + self._held_acks, []

    def _checkpoint_committed(self) -> None:
        acks, self._cut_acks = self._cut_acks, []
        for key, entry_id in acks:
            self._send_ack(key, entry_id)

    def _send_ack(self, key: StreamKey, entry_id: str) -> None:
        self._acks.append((key, entry_id))
        if self._acking is not None:
            return
        loop = self._runtime.loop
        if loop is running_loop():
            self._acking = self._spawn(self._send_acks())
        elif loop is not None:
            loop.call_soon_threadsafe(self._ack_soon)

    def _ack_soon(self) -> None:
        if self._acking is None and self._acks:
            self._acking = self._spawn(self._send_acks())

    async def _send_acks(self) -> None:
        from redis.exceptions import RedisError

        assert self.group is not None
        client = own = None
        try:
            while self._acks:
                client = self._client
                if client is None:  # the source stopped: acknowledge on a connection of our own
                    own = own or redis_client(self.redis_url, 10.0)
                    client = own
                batch, self._acks = self._acks, []
                ids: dict[StreamKey, list[str]] = {}
                for key, entry_id in batch:
                    ids.setdefault(key, []).append(entry_id)
                try:
                    for key, some in ids.items():
                        await client.xack(key, self.group, *some)
                        self._inflight.difference_update((key, i) for i in some)
                except (RedisError, OSError):
                    # Redis is away: the entries stay pending; sent after reconnecting
                    self._acks[:0] = batch
                    return
        finally:
            self._acking = None
            if own is not None:
                await own.aclose()


# ---------------------------------------------------------------------- helpers


def redis_client(url: str, socket_timeout: float) -> Any:
    """A ``redis.asyncio`` client for ``url`` (options in the URL take precedence)."""
    import redis.asyncio

    return redis.asyncio.Redis.from_url(
        url, socket_connect_timeout=5.0, socket_timeout=socket_timeout
    )


def redis_target(url: str) -> str:
    """``url`` without its password, for error notes."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def check_redis_url(node: str, url: Any) -> str:
    """Validate a Redis URL at build time, naming the node in errors."""
    if not isinstance(url, str):
        raise TypeError(f"{node}: redis_url must be a str, got {url!r}")
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ValueError(
            f"{node}: redis_url must start with redis://, rediss:// or unix://, got {url!r}"
        )
    return url


def _id(entry_id: str) -> tuple[int, int]:
    """An entry id as a comparable pair (``'1700000000000-3'`` -> ``(1700000000000, 3)``)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _stream_keys(node: str, keys: Any) -> list[StreamKey]:
    names = [keys] if isinstance(keys, str | bytes) else keys
    try:
        names = list(names)
    except TypeError:
        raise TypeError(
            f"{node}: keys must be a stream key or a list of them, got {keys!r}"
        ) from None
    bad = [k for k in names if not (isinstance(k, str | bytes) and k)]
    if not names or bad:
        raise ValueError(f"{node}: keys must be non-empty str or bytes, got {keys!r}")
    return list(dict.fromkeys(names))


def _unique_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _as_bytes(key: Any) -> bytes:
    return key.encode() if isinstance(key, str) else bytes(key)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


def key_name(key: StreamKey) -> str:
    """A stream key as text (for labels and notes)."""
    return key if isinstance(key, str) else key.decode(errors="replace")


def _show(key: StreamKey) -> str:
    return repr(key_name(key))


def _handled(policy: Any) -> bool:
    """Whether a rejected entry counts as handled (acknowledged) under ``policy``."""
    if isinstance(policy, Retry):
        policy = policy.then
    return policy in ("skip", "dead_letter")


def _acker(
    ack: Callable[[StreamKey, str], None], key: StreamKey, entry_id: str
) -> Callable[[], None]:
    def acknowledge() -> None:
        ack(key, entry_id)

    return acknowledge
