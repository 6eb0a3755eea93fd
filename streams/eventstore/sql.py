"""The SQL backend (SQLAlchemy 2 Core): one row per event, one column per indexed key."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .base import Backend, Event, Query, field_values

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["SQLBackend"]

RESERVED = frozenset({"key", "data", "ts", "seq"})
"""The columns of the events table that are not indexed keys."""


class SQLBackend(Backend):
    """An event store in a SQL database through SQLAlchemy 2 (SQLite, PostgreSQL...).

    The table ``table_name`` (created if missing) has the columns ``key`` (the id),
    ``data`` (the JSON), ``ts`` (seconds, a double), ``seq`` (the tie-breaker) and one
    indexed text column per indexed key holding the value as a string. A field whose
    value is a list is indexed once per element, as on the other backends, in the
    side table ``{table_name}_values`` (``key``, ``field``, ``value``); its column is
    then ``NULL``. Queries read that side table only for fields that ever had a list.

    Parameters
    ----------
    dsn : str or sqlalchemy.URL, optional
        The database, e.g. ``postgresql+psycopg://user@host/db`` or
        ``sqlite:///stream.db`` (the default, a file in the working directory).
    keys : list of str, optional
        The fields queries may filter on (not ``key``, ``data``, ``ts`` or ``seq``).
    table_name : str, optional
        The events table.
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
        self._engine_kwargs = engine_kwargs
        self._engine: sa.Engine | None = None
        self._tables: tuple[sa.Table, sa.Table] | None = None
        self._listed: set[str] = set()  # fields known to have list values
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
                self._tables = (events, values)
        return self._tables

    def close(self) -> None:
        engine, self._engine, self._tables = self._engine, None, None
        if engine is not None:
            engine.dispose()

    # ------------------------------------------------------------------ operations

    def _store(self, event: Event, text: str) -> None:
        events, values = self._ensure()
        row: dict[str, Any] = {
            "key": event.id,
            "data": text,
            "ts": event.timestamp,
            "seq": event.order,
        }
        listed: list[dict[str, str]] = []
        for k in self.keys:
            value = event.data.get(k)
            if isinstance(value, list):
                row[k] = None
                listed.extend(
                    {"key": event.id, "field": k, "value": v} for v in field_values(event.data, k)
                )
            else:
                row[k] = None if value is None else str(value)
        with self.engine.begin() as conn:
            conn.execute(events.insert(), row)
            if listed:
                conn.execute(values.insert(), listed)
        self._listed.update(v["field"] for v in listed)

    def _where(self, conn: sa.Connection, query: Query) -> list[sa.ColumnElement[bool]]:
        import sqlalchemy as sa

        events, values = self._ensure()
        clauses: list[sa.ColumnElement[bool]] = []
        for k, wanted in query.filters:
            clause: sa.ColumnElement[bool] = events.c[k].in_(wanted)
            if k not in self._listed:
                has_lists = conn.execute(
                    sa.select(values.c.key).where(values.c.field == k).limit(1)
                ).first()
                if has_lists is not None:
                    self._listed.add(k)
            if k in self._listed:
                elements = sa.select(values.c.key).where(
                    values.c.field == k, values.c.value.in_(wanted)
                )
                clause = sa.or_(clause, events.c.key.in_(elements))
            clauses.append(clause)
        if query.since is not None:
            clauses.append(events.c.ts >= query.since)
        if query.until is not None:
            clauses.append(events.c.ts < query.until)
        return clauses

    def _events(self, query: Query, start: int, end: int) -> list[Event]:
        import sqlalchemy as sa

        events, _ = self._ensure()
        with self.engine.connect() as conn:
            select = (
                sa.select(events.c.key, events.c.ts, events.c.seq, events.c.data)
                .where(*self._where(conn, query))
                .order_by(events.c.ts.desc(), events.c.seq.desc())
                .offset(start)
                .limit(end - start)
            )
            rows = conn.execute(select).all()
        return [Event(k, ts, seq, self.deserialize(data)) for k, ts, seq, data in rows]

    def _count(self, query: Query) -> int:
        import sqlalchemy as sa

        events, _ = self._ensure()
        with self.engine.connect() as conn:
            where = self._where(conn, query)
            select = sa.select(sa.func.count()).select_from(events).where(*where)
            return int(conn.execute(select).scalar_one())
