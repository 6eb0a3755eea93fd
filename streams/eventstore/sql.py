"""The SQL backend (SQLAlchemy 2 Core): one row per event, one column per indexed key."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .base import Backend, Event, Query, field_values

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["SQLBackend"]

RESERVED = frozenset({"key", "data", "ts", "seq"})
"""The columns of the events table that are not indexed keys."""

_clock = time.monotonic  # the clock of ``list_check_interval`` (tests replace it)


class SQLBackend(Backend):
    """An event store in a SQL database through SQLAlchemy 2 (SQLite, PostgreSQL...).

    The table ``table_name`` (created if missing) has the columns ``key`` (the id),
    ``data`` (the JSON), ``ts`` (seconds, a double), ``seq`` (the tie-breaker) and one
    indexed text column per indexed key holding the value as a string. A field whose
    value is a list is indexed once per element, as on the other backends, in the
    side table ``{table_name}_values`` (``key``, ``field``, ``value``); its column is
    then ``NULL``. Queries read that side table only for fields that ever had a list.

    Which fields have list values is read when the table is opened and kept: an
    insert through this object updates it at once, and a query on a field without
    lists re-checks the side table (one small statement) at most once every
    ``list_check_interval`` seconds, so list values that *another* process (or
    backend object) stores in a field that had none before are found by element
    within that delay. Otherwise a query is one SQL statement.

    Parameters
    ----------
    dsn : str or sqlalchemy.URL, optional
        The database, e.g. ``postgresql+psycopg://user@host/db`` or
        ``sqlite:///stream.db`` (the default, a file in the working directory).
    keys : list of str, optional
        The fields queries may filter on (not ``key``, ``data``, ``ts`` or ``seq``).
    table_name : str, optional
        The events table.
    list_check_interval : float, optional
        Seconds between re-checks of the side table for fields with new list values
        stored by other processes (default 1); ``0`` re-checks on every query on a
        field without known lists.
    **engine_kwargs
        Passed to ``sqlalchemy.create_engine``.

    Examples
    --------
    >>> from streams.eventstore import SQLBackend
    >>> store = SQLBackend("sqlite://", keys=["kind", "user"])
    >>> _ = store.insert({"kind": "play", "user": 1}, date=1)
    >>> _ = store.insert({"kind": "play", "user": [1, 2]}, date=2)
    >>> store.items(user=2)
    [{'kind': 'play', 'user': [1, 2]}]
    >>> store.count(kind="play", user="1")
    2
    >>> store.close()
    """

    def __init__(
        self,
        dsn: str | sa.URL | None = None,
        keys: Iterable[str] | None = None,
        table_name: str = "stream_items",
        list_check_interval: float = 1.0,
        **engine_kwargs: Any,
    ) -> None:
        super().__init__(keys)
        clash = sorted(RESERVED & set(self.keys))
        if clash:
            raise ValueError(
                f"keys {clash!r} clash with the table's own columns {sorted(RESERVED)}"
            )
        if not isinstance(table_name, str) or not table_name:
            raise TypeError(f"table_name must be a non-empty str, got {table_name!r}")
        self.dsn = "sqlite:///stream.db" if dsn is None else dsn
        self.table_name = table_name
        if (
            isinstance(list_check_interval, bool)
            or not isinstance(list_check_interval, int | float)
            or list_check_interval < 0
        ):
            raise ValueError(
                f"list_check_interval must be seconds >= 0, got {list_check_interval!r}"
            )
        self.list_check_interval = float(list_check_interval)
        self._engine_kwargs = engine_kwargs
        self._engine: sa.Engine | None = None
        self._tables: tuple[sa.Table, sa.Table] | None = None
        self._listed: set[str] = set()  # fields known to have list values
        self._checked_at = float("-inf")  # when _listed was last read from the database
        self._inserts: tuple[sa.Insert, sa.Insert] | None = None  # events, values
        self._statements: dict[tuple[Any, ...], Any] = {}  # per query shape
        self._setup = threading.Lock()

    def __repr__(self) -> str:
        return f"SQLBackend({str(self.dsn)!r}, keys={self.keys!r}, table_name={self.table_name!r})"

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (created, with the tables, on first use)."""
        self._ensure()
        assert self._engine is not None
        return self._engine

    @property
    def table(self) -> sa.Table:
        """The events table."""
        return self._ensure()[0]

    def _ensure(self) -> tuple[sa.Table, sa.Table]:
        if self._tables is not None:
            return self._tables
        with self._setup:
            if self._tables is None:
                import sqlalchemy as sa

                kwargs = dict(self._engine_kwargs)
                url = sa.make_url(self.dsn)
                if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
                    # one in-memory database shared by every thread
                    kwargs.setdefault("poolclass", sa.StaticPool)
                    kwargs.setdefault("connect_args", {"check_same_thread": False})
                engine = sa.create_engine(url, **kwargs)
                meta = sa.MetaData()
                name = self.table_name
                events = sa.Table(
                    name,
                    meta,
                    sa.Column("key", sa.String(36), primary_key=True),
                    sa.Column("data", sa.Text, nullable=False),
                    sa.Column("ts", sa.Double, nullable=False),
                    sa.Column("seq", sa.BigInteger, nullable=False),
                    *(sa.Column(k, sa.Text, index=True) for k in self.keys),
                    sa.Index(f"ix_{name}_ts_seq", "ts", "seq"),
                )
                values = sa.Table(
                    f"{name}_values",
                    meta,
                    sa.Column("key", sa.String(36), nullable=False),
                    sa.Column("field", sa.String(255), nullable=False),
                    sa.Column("value", sa.Text, nullable=False),
                    sa.Index(f"ix_{name}_values_field_value", "field", "value", "key"),
                )
                meta.create_all(engine)
                self._engine = engine
                self._inserts = (events.insert(), values.insert())
                self._statements = {}
                self._tables = (events, values)
                with engine.connect() as conn:
                    self._refresh_listed(conn)
        return self._tables

    def close(self) -> None:
        engine, self._engine, self._tables = self._engine, None, None
        self._statements = {}
        if engine is not None:
            engine.dispose()

    # ------------------------------------------------------------------ operations

    def _store(self, event: Event, text: str) -> None:
        self._ensure()
        row: dict[str, Any] = {
            "key": event.id,
            "data": text,
            "ts": event.timestamp,
            "seq": event.order,
        }
        listed: list[dict[str, str]] = []
        data = event.data
        for k in self.keys:
            value = data.get(k)
            if isinstance(value, list):
                row[k] = None
                listed.extend(
                    {"key": event.id, "field": k, "value": v} for v in field_values(data, k)
                )
            else:
                row[k] = None if value is None else str(value)
        assert self._engine is not None
        assert self._inserts is not None
        with self._engine.begin() as conn:
            conn.execute(self._inserts[0], row)
            if listed:
                conn.execute(self._inserts[1], listed)
        if listed:
            self._listed.update(v["field"] for v in listed)

    def _refresh_listed(self, conn: sa.Connection, query: Query | None = None) -> None:
        """Learn which indexed keys have list values (rows in the side table), in one
        statement: at once without ``query``, else if one of its filters is on a field
        without known lists and ``list_check_interval`` has passed since the last time."""
        import sqlalchemy as sa

        now = _clock()
        if query is not None and (
            now - self._checked_at < self.list_check_interval
            or all(k in self._listed for k, _ in query.filters)
        ):
            return
        unknown = [k for k in self.keys if k not in self._listed]
        if not unknown:
            return
        _, values = self._ensure()
        probe = sa.select(
            *(sa.exists().where(values.c.field == k).label(f"k{i}") for i, k in enumerate(unknown))
        )
        found = conn.execute(probe).one()
        self._listed.update(k for k, has in zip(unknown, found, strict=True) if has)
        self._checked_at = now

    def _statement(self, query: Query, what: str, offset: bool) -> tuple[Any, dict[str, Any]]:
        """The prepared statement for the shape of ``query`` (built once per shape, so
        SQLAlchemy's compiled cache is hit without rebuilding or re-keying it) and its
        parameters."""
        import sqlalchemy as sa

        listed = self._listed
        shape = (
            what,
            tuple((k, k in listed) for k, _ in query.filters),
            query.since is not None,
            query.until is not None,
            offset,
        )
        params: dict[str, Any] = {}
        for i, (k, wanted) in enumerate(query.filters):
            params[f"f{i}"] = wanted
            if k in listed:
                params[f"e{i}"] = wanted
        if query.since is not None:
            params["since"] = query.since
        if query.until is not None:
            params["until"] = query.until
        statement = self._statements.get(shape)
        if statement is not None:
            return statement, params
        events, values = self._ensure()
        clauses: list[sa.ColumnElement[bool]] = []
        for i, (k, is_listed) in enumerate(shape[1]):
            clause: sa.ColumnElement[bool] = events.c[k].in_(sa.bindparam(f"f{i}", expanding=True))
            if is_listed:
                elements = sa.select(values.c.key).where(
                    values.c.field == k, values.c.value.in_(sa.bindparam(f"e{i}", expanding=True))
                )
                clause = sa.or_(clause, events.c.key.in_(elements))
            clauses.append(clause)
        if query.since is not None:
            clauses.append(events.c.ts >= sa.bindparam("since", type_=sa.Double))
        if query.until is not None:
            clauses.append(events.c.ts < sa.bindparam("until", type_=sa.Double))
        if what == "count":
            statement = sa.select(sa.func.count()).select_from(events).where(*clauses)
        else:
            columns = (
                [events.c.data]
                if what == "data"
                else [events.c.key, events.c.ts, events.c.seq, events.c.data]
            )
            statement = (
                sa.select(*columns)
                .where(*clauses)
                .order_by(events.c.ts.desc(), events.c.seq.desc())
                .limit(sa.bindparam("limit", type_=sa.Integer))
            )
            if offset:
                statement = statement.offset(sa.bindparam("offset", type_=sa.Integer))
        if len(self._statements) >= 256:
            self._statements.clear()
        self._statements[shape] = statement
        return statement, params

    def _connect(self) -> sa.Connection:
        self._ensure()
        assert self._engine is not None
        return self._engine.connect()

    def _rows(self, query: Query, what: str, start: int, end: int) -> Any:
        with self._connect() as conn:
            if query.filters:
                self._refresh_listed(conn, query)
            statement, params = self._statement(query, what, start > 0)
            params["limit"] = end - start
            if start:
                params["offset"] = start
            return conn.execute(statement, params).all()

    def _events(self, query: Query, start: int, end: int) -> list[Event]:
        loads = self.deserialize
        rows = self._rows(query, "events", start, end)
        return [Event(k, ts, seq, loads(data)) for k, ts, seq, data in rows]

    def _items(self, query: Query, start: int, end: int) -> list[dict[str, Any]]:
        loads = self.deserialize
        return [loads(data) for (data,) in self._rows(query, "data", start, end)]

    def _count(self, query: Query) -> int:
        with self._connect() as conn:
            if query.filters:
                self._refresh_listed(conn, query)
            statement, params = self._statement(query, "count", False)
            return int(conn.execute(statement, params).scalar_one())
