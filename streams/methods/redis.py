"""Methods for connectors. Redis Streams: from_redis_stream, to_redis_stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ..sinks.redis import ToRedisStream
    from ..sources.redis import FromRedisStream

T = TypeVar("T")


class RedisMethods(Generic[T]):
    """Redis Streams: from_redis_stream, to_redis_stream."""

    @staticmethod
    def from_redis_stream(
        keys: str | bytes | Sequence[str | bytes],
        redis_url: str = "redis://localhost:6379/0",
        group: str | None = None,
        consumer: str | None = None,
        batch_size: int = 100,
        block: int = 1000,
        start: bool = False,
        from_start: bool = False,
        decode: Any = None,
        **kwargs: Any,
    ) -> FromRedisStream:
        """Read the entries of one or more Redis streams.

        Each entry is emitted as a dict ``{'key': key, 'id': entry_id, 'fields':
        fields}``: the stream key as given, the entry id as a ``str`` such as
        ``'1718000000000-0'``, and the entry's fields (``{b'name': b'value'}``, or
        decoded per ``decode``). ``pluck('fields')`` keeps only the fields.

        Without ``group``, the source reads with ``XREAD``: new entries only (or the
        whole stream with ``from_start=True``); a stopped and restarted source goes on
        after the last entry it emitted.

        With ``group``, it reads as member ``consumer`` of that consumer group with
        ``XREADGROUP`` (the group is created if missing) and acknowledges each entry
        with ``XACK`` only once every branch downstream has finished with it
        (at-least-once). On every start it first re-reads the entries this consumer
        was given before but never acknowledged (a crash, a failure downstream), then
        reads new ones. An element that failed downstream is not acknowledged: it
        stays pending and comes again at the next start.

        Each entry waits for back pressure; an unreachable server is reported to
        :meth:`~streams.Stream.errors` and retried with a growing delay.

        Parameters
        ----------
        keys : str, bytes or list of them
            The stream key(s) to read.
        redis_url : str, optional
            ``redis://[[user]:password@]host:port/db``, ``rediss://...`` or
            ``unix://...``; client options may go in the query string.
        group : str, optional
            Consumer group to read in.
        consumer : str, optional
            This reader's name in the group. The default is unique to the source, so
            only the same source object re-reads its pending entries; give a fixed
            name to re-read them after a restart of the program.
        batch_size : int, optional
            Entries fetched per read (``COUNT``).
        block : int, optional
            Milliseconds a read waits for new entries (``BLOCK``); ``stop()`` cuts
            the wait short.
        start : bool, optional
            Start at once.
        from_start : bool, optional
            Begin at the start of the stream (``'0'``) instead of with new entries
            (``'$'``); with a group, this applies when the group is created.
        decode : None, str or callable, optional
            ``None`` keeps ``bytes``; a codec name such as ``'utf-8'`` decodes field
            names and values; ``'json'`` decodes names as UTF-8 and parses each
            value as JSON; a callable decodes values (names as UTF-8). An entry that
            cannot be decoded goes to the error channel with its stream and id; with
            a group it is acknowledged if the source's ``on_error`` is ``'skip'`` or
            ``'dead_letter'``.
        **kwargs
            Node options: ``stream_name``, ``on_error``...

        Returns
        -------
        FromRedisStream

        Examples
        --------
        Entries written with :meth:`to_redis_stream` come back with their id:

        >>> import asyncio
        >>> from streams import Stream
        >>> url = "redis://localhost:6379/0"
        >>> async def main():
        ...     writer = Stream()
        ...     sink = writer.to_redis_stream("example-events", redis_url=url)
        ...     for i in range(3):
        ...         await writer.emit({"n": i})
        ...     sink.destroy()
        ...     await writer.drain()  # the connection is closed
        ...     source = Stream.from_redis_stream(
        ...         "example-events", redis_url=url, group="workers",
        ...         from_start=True, decode="utf-8")
        ...     got = source.pluck("fields").sink_to_list()
        ...     source.start()
        ...     while len(got) < 3:
        ...         await asyncio.sleep(0.01)
        ...     source.stop()
        ...     await source.wait()
        ...     return got
        >>> asyncio.run(main())  # doctest: +SKIP
        [{'n': '0'}, {'n': '1'}, {'n': '2'}]

        See Also
        --------
        to_redis_stream
        """
        from ..sources.redis import FromRedisStream

        return FromRedisStream(
            keys,
            redis_url,
            group=group,
            consumer=consumer,
            batch_size=batch_size,
            block=block,
            from_start=from_start,
            decode=decode,
            start=start,
            **kwargs,
        )

    def to_redis_stream(
        self: Any,
        key: str | bytes,
        redis_url: str = "redis://localhost:6379/0",
        maxlen: int | None = None,
        approximate: bool = True,
        **kwargs: Any,
    ) -> ToRedisStream:
        """Append every element, a dict of fields, to a Redis stream with ``XADD``.

        The emitter waits until Redis has stored the entry (back pressure). Field
        values must be ``str``, ``bytes``, ``int`` or ``float`` (``map(json.dumps)``
        nested data first); an element that is not a dict, or a failed write, goes
        through the node's ``on_error`` policy with a ``TypeError`` or the Redis
        error (``on_error=streams.retry(...)`` retries writes). Writes happen one
        at a time, in order, on one connection. The sink emits nothing downstream.
        ``destroy()`` closes its connection: inside a running loop it does so in a
        task that ``drain()`` waits for.

        Parameters
        ----------
        key : str or bytes
            The stream to append to (created by the first write).
        redis_url : str, optional
            ``redis://[[user]:password@]host:port/db``, ``rediss://...`` or
            ``unix://...``.
        maxlen : int, optional
            Trim the stream to about (see ``approximate``) this many entries on
            every write (``XADD MAXLEN``).
        approximate : bool, optional
            Trim with ``~`` (efficient, may keep a few more) rather than exactly.
        **kwargs
            Node options: ``stream_name``, ``on_error``...

        Returns
        -------
        ToRedisStream

        Examples
        --------
        >>> import asyncio
        >>> from streams import Stream
        >>> source = Stream()
        >>> sink = source.map(lambda n: {"n": n}).to_redis_stream(
        ...     "example-numbers", redis_url="redis://localhost:6379/0", maxlen=100)
        >>> async def main():
        ...     for n in range(3):
        ...         await source.emit(n)  # returns once Redis stored the entry
        ...     sink.destroy()
        ...     await source.drain()  # the connection is closed
        >>> asyncio.run(main())  # doctest: +SKIP

        See Also
        --------
        from_redis_stream
        """
        from ..sinks.redis import ToRedisStream

        return ToRedisStream(self, key, redis_url, maxlen, approximate, **kwargs)
