"""The SQL sink: insert rows into a database table with SQLAlchemy, in batched
transactions run in a worker thread; a row is acknowledged once its batch committed."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import importlib
import itertools
import uuid
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from .._util import annotate, parse_interval, positive_int
from ..core import Stream
from ..errors import Retry, log
from ..loop import Alarm, Completion, running_loop
from ..protocol import Metadata
from ..refs import release_refs, retain_refs
from ..sources.base import Backoff
from .base import Sink

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.types import TypeEngine

__all__ = ["ToSQL", "column_types"]

Row = dict[str, Any]


class _Batch:
    """Rows written in one transaction, their metadata, and who waits for them."""

    __slots__ = ("done", "metadata", "rows")

    def __init__(self, rows: list[Row], metadata: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.metadata = metadata
        self.done = Completion()


class ToSQL(Sink[Any]):
    """Node behind :meth:`Stream.to_sql`: insert dict rows into a table, in batches.

    Attributes
    ----------
    engine : sqlalchemy.Engine
        The engine the rows are written with (disposed by ``destroy()`` if the sink
        created it from a URL).
    table_name : str
        The table written to.
    """

    _label = "to_sql"

    def __init__(
        self,
        upstream: Stream[Any],
        table: str | sa.Table,
        con: str | sa.URL | sa.Engine,
        batch_size: int = 1000,
        flush_interval: float | str | datetime.timedelta | None = 1.0,
        create: bool = False,
        if_missing: Literal["default", "raise"] = "default",
        schema: str | None = None,
        **options: Any,
    ) -> None:
        import sqlalchemy as sa

        self.batch_size: int = positive_int("to_sql", "batch_size", batch_size)
        self.flush_interval = (
            None if flush_interval is None else parse_interval("to_sql", flush_interval)
        )
        if if_missing not in ("default", "raise"):
            raise ValueError(
                f"to_sql: if_missing must be 'default' or 'raise', got {if_missing!r}"
            )
        self.if_missing = if_missing
        self.create = bool(create)
        self._given: sa.Table | None = None
        if isinstance(table, sa.Table):
            self._given = table
            self.table_name: str = table.name
            schema = table.schema if schema is None else schema
        elif isinstance(table, str) and table:
            self.table_name = table
        else:
            raise TypeError(
                f"to_sql: table must be a table name or an sqlalchemy Table, got {table!r}"
            )
        self.schema = schema
        self.engine, self._owns_engine = _engine("to_sql", con)
        self._table: sa.Table | None = None  # known to exist, once a batch committed
        self._held: list[Row] = []
        self._held_metadata: list[dict[str, Any]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._due = False  # the flush timer fired while the writer was busy
        self._queue: deque[_Batch] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._alarm = Alarm()  # the writer's pauses, cut short by destroy()
        self._backoff = Backoff()
        self._closed = False
        super().__init__(upstream, **options)
        self._require_loop()

    def _detail(self) -> str:
        return f"{self.schema}.{self.table_name}" if self.schema else self.table_name

    # ------------------------------------------------------------------ accepting rows

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            rows = self._rows_of(x)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        if not rows:
            return None
        self.current_value = x
        if metadata:
            retain_refs(metadata)  # released once the batch committed
            self._held_metadata.extend(metadata)
        if not self._held and self.flush_interval is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.flush_interval, self._time_out)
        self._held.extend(rows)
        if len(self._held) < self.batch_size:
            return None
        return self._cut().done.wait()  # the row that fills a batch waits for its commit

    def _rows_of(self, x: Any) -> list[Row]:
        if isinstance(x, Mapping):
            items: Any = (x,)
        elif isinstance(x, list | tuple):
            items = x
        elif type(x).__module__.startswith("pandas"):
            items = _frame_rows(x)
        else:
            raise TypeError(
                f"expected a dict row, a list of dict rows or a pandas DataFrame, "
                f"got {type(x).__name__}"
            )
        rows = []
        for item in items:
            if not isinstance(item, Mapping):
                raise TypeError(f"a row must be a dict, got {type(item).__name__}: {item!r}")
            row = dict(item)
            if not all(isinstance(k, str) for k in row):
                raise TypeError(f"column names must be strings, got {list(row)!r}")
            rows.append(row)
        return rows

    def _cut(self) -> _Batch:
        """Turn the held rows into a batch for the writer."""
        batch = _Batch(self._held, self._held_metadata)
        self._held, self._held_metadata = [], []
        self._due = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.append(batch)
        if self._writer is None:
            self._writer = self._spawn(self._write_all())
        return batch

    def _time_out(self) -> None:
        """Timer callback: ``flush_interval`` passed since the first held row."""
        self._timer = None
        if not self._held:
            return
        if self._queue:
            self._due = True  # writing: cut once the writer is free (bounded memory)
        else:
            self._cut()

    # ------------------------------------------------------------------ writing batches

    async def _write_all(self) -> None:
        """The writer task: write the queued batches one at a time, in order."""
        try:
            while self._queue:
                batch = self._queue[0]
                try:
                    await self._write(batch)
                finally:
                    self._queue.popleft()
                    batch.done.set()
                if not self._queue and self._due and self._held:
                    self._cut()
        finally:
            self._writer = None

    async def _write(self, batch: _Batch) -> None:
        """Write one batch: retry per the error policy, reconnect with backoff."""
        policy = self.on_error if isinstance(self.on_error, Retry) else None
        failures = 0
        while True:
            try:
                unreachable = await asyncio.to_thread(self._transaction, batch.rows)
            except Exception as exc:
                if policy is not None and failures < policy.attempts:
                    await self._pause(policy.delay(failures))
                    failures += 1
                    continue
                if policy is not None:
                    exc.add_note(f"gave up after {policy.attempts} retries")
                self._batch_failed(exc, batch)
                return
            if unreachable is None:
                self._backoff.reset()
                release_refs(batch.metadata)  # committed: acknowledged
                return
            delay = None if self._closed else self._backoff.next()
            self._cannot_reach(unreachable, batch, delay)
            if delay is None:
                return  # destroyed: give up; the rows are not acknowledged
            await self._pause(delay)

    async def _pause(self, seconds: float) -> None:
        await self._alarm.sleep_until(asyncio.get_running_loop().time() + seconds)

    def _batch_failed(self, exc: Exception, batch: _Batch) -> None:
        """The batch failed: report it per the node's policy; it was rolled back."""
        annotate(exc, self, batch.rows)
        self._report(exc, batch.rows, batch.metadata)
        policy = self.on_error.then if isinstance(self.on_error, Retry) else self.on_error
        if policy != "raise":
            release_refs(batch.metadata)  # skipped or dead-lettered: handled

    def _cannot_reach(self, exc: Exception, batch: _Batch, delay: float | None) -> None:
        then = "giving up: the sink was destroyed" if delay is None else f"retrying in {delay:g}s"
        target = self.engine.url.render_as_string(hide_password=True)
        exc.add_note(f"in {self._describe()}: cannot reach {target}; {then}")
        if not hasattr(exc, "_streams_node"):
            exc._streams_node = self  # type: ignore[attr-defined]
        self._report(exc, batch.rows, ())

    def _transaction(self, rows: list[Row]) -> Exception | None:
        """Insert ``rows`` in one transaction (in a worker thread).

        Returns ``None`` once committed, or the error if the database could not be
        reached; raises (after rolling back) if the batch itself failed.
        """
        from sqlalchemy.exc import DBAPIError

        try:
            conn = self.engine.connect()
        except Exception as exc:
            return exc
        with conn:
            try:
                with conn.begin():
                    table = self._table if self._table is not None else self._resolve(conn, rows)
                    self._insert(conn, table, rows)
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    return exc
                raise
        self._table = table
        return None

    def _resolve(self, conn: sa.Connection, rows: list[Row]) -> sa.Table:
        """The table to write to: given, reflected, or created from the rows."""
        import sqlalchemy as sa

        if self._given is not None:
            if self.create:
                self._given.create(conn, checkfirst=True)
            return self._given
        try:
            return sa.Table(self.table_name, sa.MetaData(), schema=self.schema, autoload_with=conn)
        except sa.exc.NoSuchTableError as exc:
            if not self.create:
                exc.add_note(f"table {self._detail()!r} does not exist (create=True creates it)")
                raise
        columns = [sa.Column(name, kind) for name, kind in column_types(rows).items()]
        table = sa.Table(self.table_name, sa.MetaData(), *columns, schema=self.schema)
        table.create(conn, checkfirst=True)
        return table

    def _insert(self, conn: sa.Connection, table: sa.Table, rows: list[Row]) -> None:
        names = set(table.columns.keys())
        generated = (c for c in table.columns if _filled_by_database(table, c))
        required = names - {c.key for c in generated} if self.if_missing == "raise" else set()
        for i, row in enumerate(rows):
            if unknown := row.keys() - names:
                raise ValueError(
                    f"row {i} of the batch has columns that table {self._detail()!r} lacks: "
                    f"{sorted(unknown)} (it has {sorted(names)})"
                )
            if missing := required - row.keys():
                raise ValueError(f"row {i} of the batch lacks columns {sorted(missing)}")
        statement = table.insert()
        for _, run in itertools.groupby(rows, key=frozenset):  # one executemany per key set
            conn.execute(statement, list(run))

    # ------------------------------------------------------------------ drain and close

    def _held_count(self) -> int:
        """Rows accepted and not committed yet."""
        return len(self._held) + sum(len(batch.rows) for batch in self._queue)

    async def _flush(self) -> bool:
        busy = bool(self._held)
        if busy:
            self._cut()
        while self._writer is not None:
            busy = True
            await self._writer
        return busy

    def _close(self) -> None:
        """Write what is held, then dispose of the engine (if the sink created it)."""
        if self._closed:
            return
        self._closed = True
        loop = self._runtime.loop
        if loop is None or loop.is_closed() or not loop.is_running():
            if self._held or self._queue:  # nothing can write them now; never acknowledged
                log.warning(
                    "%s: destroyed with rows it could not write (no running loop)",
                    self._describe(),
                )
            self._dispose()
        elif loop is running_loop():
            if self._held or self._writer is not None:
                self._spawn(self._shut_down())  # drain() waits for it
            else:
                self._dispose()
        else:  # another thread (a plain script): block until written
            asyncio.run_coroutine_threadsafe(self._shut_down(), loop).result()

    async def _aclose(self) -> None:
        """Close on the loop: write what is held, giving up if the database is unreachable
        (destroy() leaves the last write to this; see :mod:`streams.teardown`)."""
        if not self._closed:
            self._closed = True
            await self._shut_down()

    async def _shut_down(self) -> None:
        if self._held:
            self._cut()
        self._alarm.ring()  # a reconnection pause ends now; the writer gives up
        while self._writer is not None:
            await self._writer
        self._dispose()

    def _dispose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._owns_engine:
            self.engine.dispose()


def _filled_by_database(table: sa.Table, column: sa.Column[Any]) -> bool:
    """Whether a row may leave ``column`` out with ``if_missing='raise'``."""
    defaults = (column.default, column.server_default, column.identity)
    return column is table.autoincrement_column or any(d is not None for d in defaults)


def _engine(node: str, con: Any) -> tuple[sa.Engine, bool]:
    """The engine for ``con`` and whether the sink created it (and must dispose it)."""
    import sqlalchemy as sa

    if isinstance(con, sa.Engine):
        return con, False
    if not isinstance(con, str | sa.URL):
        raise TypeError(
            f"{node}: con must be a database URL or an sqlalchemy Engine (for an AsyncEngine, "
            f"pass its .sync_engine), got {con!r}"
        )
    try:
        url = sa.make_url(con)
    except sa.exc.ArgumentError:
        raise ValueError(f"{node}: con is not a database URL: {con!r}") from None
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # One in-memory database shared by the worker threads, not one per thread.
        shared = {"poolclass": sa.pool.StaticPool, "connect_args": {"check_same_thread": False}}
        return sa.create_engine(url, **shared), True
    return sa.create_engine(url), True


def _frame_rows(frame: Any) -> list[Row]:
    """The rows of a pandas DataFrame as dicts of Python values (NaN and NaT as None)."""
    pandas = importlib.import_module("pandas")
    if not isinstance(frame, pandas.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    rows: list[Row] = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return rows


# The column type for a Python value, looked up in order (bool is an int, datetime a date).
_TYPES: list[tuple[type | tuple[type, ...], str]] = [
    (bool, "Boolean"), (int, "BigInteger"), (float, "Float"), (str, "Text"),
    ((bytes, bytearray, memoryview), "LargeBinary"), (datetime.datetime, "DateTime"),
    (datetime.date, "Date"), (datetime.time, "Time"), (datetime.timedelta, "Interval"),
    (decimal.Decimal, "Numeric"), (uuid.UUID, "Uuid"), ((dict, list), "JSON"),
]  # fmt: skip
_MERGED = {  # columns mixing these take the second type
    frozenset({"Boolean", "BigInteger"}): "BigInteger",
    frozenset({"BigInteger", "Float"}): "Float",
    frozenset({"BigInteger", "Numeric"}): "Numeric",
}


def _type_name(value: Any) -> str:
    for types, name in _TYPES:
        if isinstance(value, types):
            return name
    raise TypeError(f"cannot infer a column type from {type(value).__name__} value {value!r}")


def column_types(rows: list[Row]) -> dict[str, TypeEngine[Any]]:
    """SQL column types for the columns of ``rows``, inferred from their Python values.

    ``bool`` -> Boolean, ``int`` -> BigInteger, ``float`` -> Float, ``str`` -> Text,
    ``bytes`` -> LargeBinary, ``datetime`` -> DateTime (with time zone if aware),
    ``date``, ``time``, ``timedelta`` -> Date, Time, Interval, ``Decimal`` -> Numeric,
    ``UUID`` -> Uuid, ``dict``/``list`` -> JSON; a column of only ``None`` -> Text. Ints
    mixed with floats make a Float column; other mixtures raise ``TypeError``.

    Examples
    --------
    >>> column_types([{"id": 1, "price": 2, "name": None}, {"id": 2, "price": 2.5}])
    {'id': BigInteger(), 'price': Float(), 'name': Text()}
    """
    import sqlalchemy as sa

    seen: dict[str, set[str]] = {}
    aware: set[str] = set()  # DateTime columns with time zones
    for row in rows:
        for column, value in row.items():
            names = seen.setdefault(column, set())
            if value is None:
                continue
            try:
                names.add(_type_name(value))
            except TypeError as exc:
                raise TypeError(f"column {column!r}: {exc}") from None
            if isinstance(value, datetime.datetime) and value.tzinfo is not None:
                aware.add(column)
    out: dict[str, TypeEngine[Any]] = {}
    for column, names in seen.items():
        if len(names) > 1:
            name = _MERGED.get(frozenset(names))
        else:
            name = names.pop() if names else "Text"  # only None so far: Text
        if name is None:
            raise TypeError(f"column {column!r} mixes values of types {sorted(names)}")
        out[column] = sa.DateTime(timezone=True) if column in aware else getattr(sa, name)()
    return out
