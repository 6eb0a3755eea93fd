"""Methods that end a branch of the graph in a sink."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ..sinks.basic import FuncSink, SinkList, TextFileSink
    from ..state.wal import DurableInput

T = TypeVar("T")


class SinkMethods(Generic[T]):
    """``sink``, ``sink_to_list``, ``sink_to_textfile``, ``sink_to_sqlite``,
    ``durable_input``."""

    def sink(self: Any, func: Callable[..., Any], *args: Any, **kwargs: Any) -> FuncSink[T]:
        """Call a function on every element.

        If ``func`` returns an awaitable (it is a coroutine function, say), the
        awaitable goes back to the emitter: ``await source.emit(x)`` resumes only when
        it is done. That is back pressure from a slow consumer.

        Parameters
        ----------
        func : callable
            Called as ``func(x, *args, **kwargs)``.
        *args, **kwargs
            Passed to ``func``; the node's own keywords (``stream_name``, ``loop``,
            ``asynchronous``, ``ensure_io_loop``) are taken out first.

        Returns
        -------
        FuncSink
            The sink node (``destroy()`` it to stop calling ``func``).

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> seen = []
        >>> _ = source.sink(seen.append)
        >>> source.emit("hello")
        >>> seen
        ['hello']

        An async function makes the emitter wait for it, even in a plain script:

        >>> import asyncio
        >>> written = []
        >>> async def write(x):
        ...     await asyncio.sleep(0.01)
        ...     written.append(x)
        >>> _ = source.sink(write)
        >>> source.emit("world")  # returns once write("world") finished
        >>> written
        ['world']

        See Also
        --------
        sink_to_list
        """
        from ..sinks.basic import FuncSink

        return FuncSink(self, func, *args, **kwargs)

    def pull(self: Any, maxsize: int = 1) -> AsyncIterator[T]:
        """Iterate with ``async for`` over the elements emitted from now on.

        The loop pulls: at most ``maxsize`` elements wait for it, and meanwhile the
        emitter waits (back pressure), so a slow loop slows its source down. An element
        is finished (its :class:`~streams.RefCounter` released, so a Kafka offset can be
        committed) when the loop asks for the next one. Closing the iterator
        (``aclose()``, or ``contextlib.aclosing``; else when it is garbage collected
        after the loop) finishes the element in hand and detaches it (a source that then
        feeds nothing stops). ``async for x in stream`` is ``async for x in
        stream.pull()``.

        Parameters
        ----------
        maxsize : int
            Elements kept for the loop before the emitter waits.

        Returns
        -------
        async iterator
            The elements, in the order they were emitted.

        Examples
        --------
        >>> import asyncio
        >>> from streams import Stream
        >>> source = Stream()
        >>> async def main():
        ...     async def produce():
        ...         for i in range(3):
        ...             await source.emit(i)  # waits while the loop is busy
        ...     task = asyncio.ensure_future(produce())
        ...     got = []
        ...     async for x in source:
        ...         got.append(x)
        ...         if x == 2:
        ...             break
        ...     await task
        ...     return got
        >>> asyncio.run(main())
        [0, 1, 2]
        """
        from ..sinks.pull import PullSink, iterate

        return iterate(PullSink(self, maxsize))

    def __aiter__(self: Any) -> AsyncIterator[T]:
        """``async for x in stream``: :meth:`pull` with ``maxsize=1``."""
        pulled: AsyncIterator[T] = self.pull()
        return pulled

    def sink_to_list(self: Any, **kwargs: Any) -> SinkList[T]:
        """Append every element to a list and return the list.

        Returns
        -------
        list
            A ``list`` subclass whose ``node`` attribute is the sink (to ``destroy()``).

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> out = source.map(str.upper).sink_to_list()
        >>> source.emit("a")
        >>> out
        ['A']
        >>> out.node.destroy()  # stop filling it
        >>> source.emit("b")
        >>> out
        ['A']
        """
        from ..sinks.basic import ListSink

        return ListSink(self, **kwargs).data

    def sink_to_sqlite(
        self: Any, table: str, store: Any, key: str | None = None, **kwargs: Any
    ) -> Any:
        """Write every element (a mapping of column to value) as a row of ``table`` in
        the file of a :class:`~streams.state.SQLiteStore`, exactly once.

        The rows since the last checkpoint are written in the checkpoint's own
        transaction (the store must be the :class:`~streams.state.Checkpointer`'s), so
        the table holds the output of exactly the elements before the cut: never a row
        twice after a crash. Rows appear a checkpoint at a time.

        Parameters
        ----------
        table : str
            The table, created with the first row's columns.
        store : SQLiteStore
            The checkpointer's store.
        key : str, optional
            A column that is the table's primary key: a row replaces the row with the
            same key (an upsert). Without it rows are appended.
        **kwargs
            Node options; ``stream_name`` is required.

        Returns
        -------
        streams.state.sinks.SQLiteSink

        Examples
        --------
        >>> import asyncio, os, sqlite3, tempfile
        >>> from streams import Stream
        >>> from streams.state import Checkpointer, SQLiteStore
        >>> path = os.path.join(tempfile.mkdtemp(), "app.db")
        >>> store = SQLiteStore(path)
        >>> sales = Stream.from_iterable([("ada", 3), ("bo", 1), ("ada", 2)], stream_name="sales")
        >>> totals = sales.accumulate(lambda t, s: t + s[1], start=0, key=0, stream_name="totals")
        >>> rows = totals.map(lambda kv: {"user": kv[0], "total": kv[1]})
        >>> _ = rows.sink_to_sqlite("totals", store=store, key="user", stream_name="out")
        >>> async def main():
        ...     async with Checkpointer(sales, store=store):
        ...         await sales.wait()
        >>> asyncio.run(main())
        >>> sorted(sqlite3.connect(path).execute("SELECT user, total FROM totals"))
        [('ada', 5), ('bo', 1)]
        """
        from ..state.sinks import SQLiteSink

        return SQLiteSink(self, table, store, key, **kwargs)

    def durable_input(
        self: Any, store: Any, max_backlog: int = 10_000, **kwargs: Any
    ) -> DurableInput[T]:
        """Log every element into ``store`` before anything processes it, making any
        input replayable by a :class:`~streams.state.Checkpointer`.

        For inputs that cannot go back to a position (TCP, HTTP, websockets, MQTT,
        ``from_q``, ``from_periodic``, ``emit()`` calls). The upstream's ``emit``
        resolves once the element is durable in the log; the graph after the log is
        fed from it and restored from checkpoints as any graph: a restore replays the
        logged elements after the checkpoint, in order, then new ones. A committed
        checkpoint deletes the entries it covers. The graph is cut in two at the log:
        the part before it must hold no state, and the checkpointer starts and stops
        its sources with the log.

        Parameters
        ----------
        store : SQLiteStore or MemoryStore
            The checkpointer's store; a SQLite log is a table of its file, written in a
            worker thread (elements arriving during a write go in the next one).
        max_backlog : int, optional
            How many logged elements may wait to be pushed on; beyond that the
            upstream's ``emit`` also waits for room.
        **kwargs
            Node options; ``stream_name`` is required (it names the log).

        Returns
        -------
        streams.state.wal.DurableInput
            The source heading the graph after the log.

        Examples
        --------
        >>> import asyncio
        >>> from streams import Stream
        >>> from streams.state import Checkpointer, MemoryStore
        >>> store = MemoryStore()
        >>> def run(words):
        ...     source = Stream()  # emit() calls: not replayable by themselves
        ...     logged = source.durable_input(store, stream_name="words")
        ...     count = logged.accumulate(lambda n, w: n + 1, start=0, stream_name="count")
        ...     async def main():
        ...         async with Checkpointer(logged, store=store, interval=None):
        ...             for word in words:
        ...                 await source.emit(word)  # returns once the word is logged
        ...             await logged.drain()  # until the graph caught up with the log
        ...         return count.state
        ...     return asyncio.run(main())
        >>> run(["a", "b", "c"])
        3
        >>> run(["d"])  # a new graph on the same store goes on from its checkpoint
        4
        """
        from ..state.wal import DurableInput

        return DurableInput(self, store, max_backlog, **kwargs)

    def sink_to_textfile(
        self: Any,
        file: str | os.PathLike[str] | IO[str],
        end: str = "\n",
        mode: str = "a",
        durable: bool = False,
        **kwargs: Any,
    ) -> TextFileSink:
        """Write every element (a ``str``) to a text file, followed by ``end``.

        Each element is flushed to the file as it arrives.

        Parameters
        ----------
        file : path or text file object
            A path is opened with ``mode``; the file is closed by ``destroy()``
            (a file object passed in is closed too).
        end : str, optional
            Written after each element (default: a newline).
        mode : str, optional
            Mode for opening a path (default ``'a'``, append).
        durable : bool, optional
            With a :class:`~streams.state.Checkpointer`: exactly-once output. The
            file's size is part of each checkpoint (synced to disk before it commits)
            and a restore truncates the file to it, so lines written after the last
            checkpoint are written once again, not twice. Needs a path and a
            ``stream_name``.

        Returns
        -------
        TextFileSink

        Examples
        --------
        >>> import os, pathlib, tempfile
        >>> from streams import Stream
        >>> path = os.path.join(tempfile.mkdtemp(), "out.txt")
        >>> source = Stream()
        >>> node = source.map(str).sink_to_textfile(path)
        >>> source.emit(1)
        >>> source.emit(2)
        >>> node.destroy()
        >>> print(pathlib.Path(path).read_text(), end="")
        1
        2

        See Also
        --------
        streams.sinks.basic.sink_to_file : streamz's function form, returning the file.
        """
        from ..sinks.basic import TextFileSink

        return TextFileSink(self, file, end, mode, durable, **kwargs)
