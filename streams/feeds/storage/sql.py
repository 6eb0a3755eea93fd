"""SQL storages (SQLAlchemy 2 Core): timelines, activities and marker lists in three tables.

They take the place of Stream Framework's Cassandra storage, with the contracts of the
Redis ones (normalized: a flat timeline holds activity ids, the activities live in the
activity table). SQLite and PostgreSQL are supported.

Tables (``<prefix>`` is the ``table_prefix`` of the database's entry in
:data:`streams.feeds.settings.STREAM_SQL_CONFIG`, ``'feeds_'`` by default), created on
first use:

- ``<prefix>timeline``: ``feed_key``, ``member_digest`` (md5 of ``member``), ``activity_id``,
  ``member`` (the serialized entry: an id, or an aggregate). Primary key ``(feed_key,
  member_digest)``: entries are unique by member, as in a Redis sorted set. Index
  ``(feed_key, activity_id, member_digest)`` serves the range reads, counts and trims.
- ``<prefix>activity``: ``id`` (primary key) ``-> value``.
- ``<prefix>markers``: ``feed_key``, ``name``, ``value``, ``position``; primary key
  ``(feed_key, name, value)``.

Activity ids have 26 digits (epoch milliseconds, 10 digits of object id, 3 of verb id), too
many for a 64-bit ``BIGINT``; SQLite has no exact integer wider than that (its ``NUMERIC``
turns them into doubles). They are stored as strings zero-padded to :data:`ID_WIDTH` (30)
digits, which sort as the numbers do (the column has the ``"C"`` collation on PostgreSQL),
so ids from 0 to ``10**30 - 1`` are exact, unlike the Redis scores (doubles).

Writes run in a transaction each; :meth:`~SQLTimelineStorage.get_batch_interface` yields a
connection inside one transaction (``engine.begin()``): everything written through it
commits together when the block ends, or not at all if it raises, and the other reads and
writes of the thread on that database join it meanwhile. Adds are idempotent (``INSERT ...
ON CONFLICT DO NOTHING``).

The option ``sql_server`` names the database in ``STREAM_SQL_CONFIG`` (default
``'default'``).

Examples
--------
>>> from streams.feeds import settings
>>> from streams.feeds.storage.sql import SQLTimelineStorage
>>> settings.STREAM_SQL_CONFIG["doc"] = {"url": "sqlite://"}  # in memory
>>> timeline = SQLTimelineStorage(sql_server="doc")
>>> timeline.add_many("k", [(1, "1"), (3, "3"), (2, "2"), (3, "3")])
3
>>> timeline.get_slice("k", 0, 2), timeline.count("k"), timeline.index_of("k", "1")
(['3', '2'], 3, 2)
>>> timeline.get_slice("k", 0, None, {"activity_id__gt": 1}, ["activity_id"])
['2', '3']
>>> timeline.trim("k", 1)
>>> timeline.get_slice("k", 0, None)
['3']
>>> del settings.STREAM_SQL_CONFIG["doc"]
"""

from __future__ import annotations

import fnmatch
import hashlib
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import settings
from .base import (
    BaseActivityStorage,
    BaseListsStorage,
    BaseTimelineStorage,
    check_ordering,
    score_bounds,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = [
    "ID_WIDTH",
    "SQLActivityStorage",
    "SQLListsStorage",
    "SQLTables",
    "SQLTimelineStorage",
    "decode_id",
    "encode_id",
    "get_tables",
    "reset",
    "transaction",
]

ID_WIDTH = 30
"""Digits of a stored activity id (ids are ``0 <= id < 10**ID_WIDTH``)."""

CHUNK = 500
"""Rows per statement (SQLite allows 32766 bound parameters per statement)."""


def encode_id(activity_id: int) -> str:
    """The stored form of an activity id: zero-padded to :data:`ID_WIDTH` digits.

    Examples
    --------
    >>> encode_id(17041104000000000000042003)
    '000017041104000000000000042003'
    >>> encode_id(-1)
    Traceback (most recent call last):
    ...
    ValueError: SQL storages keep activity ids in [0, 10**30), got -1 (a time before 1970?)
    """
    value = int(activity_id)
    if not 0 <= value < 10**ID_WIDTH:
        raise ValueError(
            f"SQL storages keep activity ids in [0, 10**{ID_WIDTH}), got {value}"
            " (a time before 1970?)"
        )
    return f"{value:0{ID_WIDTH}d}"


def decode_id(stored: str) -> int:
    """The activity id of its stored form.

    >>> decode_id("000000000000000000000000000042")
    42
    """
    return int(stored)


def _digest(member: str) -> str:
    return hashlib.md5(member.encode(), usedforsecurity=False).hexdigest()


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _glob_to_like(pattern: str) -> str:
    """A LIKE pattern (escape ``\\``) matching at least what the glob ``pattern`` matches.

    >>> _glob_to_like("feed_*"), _glob_to_like("a?[bc]%")
    ('feed\\\\_%', 'a__\\\\%')
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char == "[" and "]" in pattern[i + 2 :]:
            out.append("_")
            i = pattern.index("]", i + 2)
        elif char in "%_\\":
            out.append("\\" + char)
        else:
            out.append(char)
        i += 1
    return "".join(out)


# ---------------------------------------------------------------------- schema


@dataclass(frozen=True)
class SQLTables:
    """The three tables of one database and prefix."""

    metadata: sa.MetaData
    timeline: sa.Table
    activity: sa.Table
    markers: sa.Table


def build_tables(prefix: str) -> SQLTables:
    """The table definitions, named ``<prefix>timeline``, ``<prefix>activity`` and
    ``<prefix>markers`` (nothing is created)."""
    import sqlalchemy as sa

    metadata = sa.MetaData()
    # "C" collation: byte order, so that the padded ids sort as numbers whatever the
    # database's locale (SQLite compares bytes already)
    id_type = sa.String(ID_WIDTH).with_variant(sa.String(ID_WIDTH, collation="C"), "postgresql")
    timeline = sa.Table(
        f"{prefix}timeline",
        metadata,
        sa.Column("feed_key", sa.String(255), primary_key=True),
        sa.Column("member_digest", sa.String(32), primary_key=True),
        sa.Column("activity_id", id_type, nullable=False),
        sa.Column("member", sa.Text, nullable=False),
        sa.Index(f"{prefix}timeline_range", "feed_key", "activity_id", "member_digest"),
    )
    activity = sa.Table(
        f"{prefix}activity",
        metadata,
        sa.Column("id", id_type, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    markers = sa.Table(
        f"{prefix}markers",
        metadata,
        sa.Column("feed_key", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Index(f"{prefix}markers_position", "feed_key", "name", "position"),
    )
    return SQLTables(metadata, timeline, activity, markers)


_SCHEMAS: dict[tuple[str, str], tuple[sa.Engine, SQLTables]] = {}
_LOCK = threading.Lock()


def get_tables(sql_server: str = "default") -> tuple[sa.Engine, SQLTables]:
    """The engine and tables of database ``sql_server``, creating the tables the first
    time (per engine: again after its configuration changes)."""
    import sqlalchemy as sa

    engine = settings.get_sql_engine(sql_server)
    prefix = str(settings.sql_config(sql_server)["table_prefix"])
    with _LOCK:
        cached = _SCHEMAS.get((sql_server, prefix))
        if cached is None or cached[0] is not engine:
            tables = build_tables(prefix)
            try:
                tables.metadata.create_all(engine, checkfirst=True)
            except sa.exc.DBAPIError:  # another process created them meanwhile
                tables.metadata.create_all(engine, checkfirst=True)
            cached = (engine, tables)
            _SCHEMAS[(sql_server, prefix)] = cached
    return cached


def reset(sql_server: str = "default") -> None:
    """Delete every row of the tables of ``sql_server`` (for tests)."""
    engine, tables = get_tables(sql_server)
    with engine.begin() as connection:
        for table in (tables.timeline, tables.activity, tables.markers):
            connection.execute(table.delete())


def _insert(connection: sa.Connection, table: sa.Table) -> Any:
    """The dialect's ``INSERT`` construct with ``ON CONFLICT`` support."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    if connection.dialect.name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    raise NotImplementedError(
        f"SQL feed storages support SQLite and PostgreSQL, not {connection.dialect.name}"
    )


# ---------------------------------------------------------------------- storages


_OPEN = threading.local()


def _open_batches() -> dict[Any, sa.Connection]:
    batches: dict[Any, sa.Connection] | None = getattr(_OPEN, "batches", None)
    if batches is None:
        batches = _OPEN.batches = {}
    return batches


@contextmanager
def transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction on ``engine``, committed when the block ends (rolled
    back if it raises); inside another such block of this thread on the same engine, that
    block's connection (its transaction)."""
    batches = _open_batches()
    current = batches.get(engine)
    if current is not None:
        yield current
        return
    with engine.begin() as connection:
        batches[engine] = connection
        try:
            yield connection
        finally:
            del batches[engine]


class _SQLStorage:
    options: dict[str, Any]

    @property
    def sql_server(self) -> str:
        """The name of the database in ``STREAM_SQL_CONFIG``."""
        return str(self.options.get("sql_server", "default"))

    @property
    def engine(self) -> sa.Engine:
        """The engine of the configured database."""
        return get_tables(self.sql_server)[0]

    @property
    def tables(self) -> SQLTables:
        """The tables (created if needed)."""
        return get_tables(self.sql_server)[1]

    def get_batch_interface(self) -> AbstractContextManager[Any]:
        """A context yielding a connection in a transaction: the writes made through it
        commit when the block ends, or roll back if it raises.

        While it is open, every read and write of this thread on the same database joins
        it (with or without ``batch_interface``): a feed trimming itself or an aggregated
        feed reading and writing its own batches sees the batch's writes, and SQLite (one
        writer at a time) does not wait for a lock this thread holds.
        """
        return transaction(self.engine)

    @contextmanager
    def _writing(self, batch_interface: Any) -> Iterator[sa.Connection]:
        engine = self.engine
        if batch_interface is None:
            with transaction(engine) as connection:
                yield connection
            return
        if batch_interface.engine is not engine:
            raise ValueError(f"this batch belongs to another database than {self.sql_server!r}")
        yield batch_interface

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        engine = self.engine
        current = _open_batches().get(engine)
        if current is not None:
            yield current
            return
        with engine.connect() as connection:
            yield connection


def _id_conditions(column: Any, filter_kwargs: Mapping[str, int] | None) -> list[Any]:
    """WHERE clauses of the ``activity_id__*`` filters on a padded id column."""
    import sqlalchemy as sa

    low, high = score_bounds(filter_kwargs)
    conditions: list[Any] = []
    if low != "-inf":
        value = int(low.lstrip("("))
        exclusive = low.startswith("(")
        if value >= 10**ID_WIDTH:
            conditions.append(sa.false())
        elif value >= 0:
            bound = encode_id(value)
            conditions.append(column > bound if exclusive else column >= bound)
    if high != "+inf":
        value = int(high.lstrip("("))
        exclusive = high.startswith("(")
        if value < 0:
            conditions.append(sa.false())
        elif value < 10**ID_WIDTH:
            bound = encode_id(value)
            conditions.append(column < bound if exclusive else column <= bound)
    return conditions


class SQLTimelineStorage(_SQLStorage, BaseTimelineStorage):
    """Timelines as rows of the timeline table (see the module notes).

    Ties (entries with the same id) are ordered by the digest of the member.
    """

    def add_many(
        self, key: str, entries: Sequence[tuple[int, str]], batch_interface: Any = None
    ) -> int:
        rows: dict[str, dict[str, Any]] = {}
        for score, member in entries:
            digest = _digest(member)
            if digest not in rows:
                rows[digest] = {
                    "feed_key": key,
                    "member_digest": digest,
                    "activity_id": encode_id(score),
                    "member": member,
                }
        if not rows:
            return 0
        table = self.tables.timeline
        added = 0
        with self._writing(batch_interface) as connection:
            for chunk in _chunks(list(rows.values())):
                statement = _insert(connection, table).values(chunk).on_conflict_do_nothing()
                # INSERTs report a rowcount only when asked to
                statement = statement.execution_options(preserve_rowcount=True)
                added += connection.execute(statement).rowcount
        return added

    def remove_many(self, key: str, members: Sequence[str], batch_interface: Any = None) -> int:
        digests = list(dict.fromkeys(_digest(m) for m in members))
        if not digests:
            return 0
        table = self.tables.timeline
        removed = 0
        with self._writing(batch_interface) as connection:
            for chunk in _chunks(digests):
                statement = table.delete().where(
                    table.c.feed_key == key, table.c.member_digest.in_(chunk)
                )
                removed += connection.execute(statement).rowcount
        return removed

    def get_slice(
        self,
        key: str,
        start: int,
        stop: int | None,
        filter_kwargs: Mapping[str, int] | None = None,
        ordering_args: Sequence[str] | None = None,
    ) -> list[str]:
        import sqlalchemy as sa

        table = self.tables.timeline
        conditions = _id_conditions(table.c.activity_id, filter_kwargs)
        ascending = check_ordering(ordering_args)
        if stop is not None and stop <= start:
            return []
        order = (
            (table.c.activity_id.asc(), table.c.member_digest.asc())
            if ascending
            else (table.c.activity_id.desc(), table.c.member_digest.desc())
        )
        query = (
            sa.select(table.c.member)
            .where(table.c.feed_key == key, *conditions)
            .order_by(*order)
            .offset(start)
        )
        if stop is not None:
            query = query.limit(stop - start)
        with self._reading() as connection:
            return [str(member) for member in connection.execute(query).scalars()]

    def count(self, key: str) -> int:
        import sqlalchemy as sa

        table = self.tables.timeline
        query = sa.select(sa.func.count()).select_from(table).where(table.c.feed_key == key)
        with self._reading() as connection:
            return int(connection.execute(query).scalar_one())

    def delete(self, key: str) -> None:
        table = self.tables.timeline
        with self._writing(None) as connection:
            connection.execute(table.delete().where(table.c.feed_key == key))

    def trim(self, key: str, length: int) -> None:
        """Keep the newest ``length`` entries: one ``DELETE ... WHERE member_digest NOT IN
        (SELECT the newest ... LIMIT length)``."""
        import sqlalchemy as sa

        table = self.tables.timeline
        newest = (
            sa.select(table.c.member_digest)
            .where(table.c.feed_key == key)
            .order_by(table.c.activity_id.desc(), table.c.member_digest.desc())
            .limit(max(0, int(length)))
        )
        statement = table.delete().where(
            table.c.feed_key == key, table.c.member_digest.not_in(newest)
        )
        with self._writing(None) as connection:
            connection.execute(statement)

    def index_of(self, key: str, member: str) -> int:
        import sqlalchemy as sa

        table = self.tables.timeline
        digest = _digest(member)
        with self._reading() as connection:
            found = connection.execute(
                sa.select(table.c.activity_id).where(
                    table.c.feed_key == key, table.c.member_digest == digest
                )
            ).scalar_one_or_none()
            if found is None:
                raise ValueError(f"{member} is not in timeline {key!r}")
            newer = sa.or_(
                table.c.activity_id > found,
                sa.and_(table.c.activity_id == found, table.c.member_digest > digest),
            )
            query = (
                sa.select(sa.func.count()).select_from(table).where(table.c.feed_key == key, newer)
            )
            return int(connection.execute(query).scalar_one())

    def flush(self, key_pattern: str) -> None:
        import sqlalchemy as sa

        table = self.tables.timeline
        candidates = sa.select(table.c.feed_key).distinct()
        candidates = candidates.where(table.c.feed_key.like(_glob_to_like(key_pattern), "\\"))
        with self._writing(None) as connection:
            keys = [
                k
                for k in connection.execute(candidates).scalars()
                if fnmatch.fnmatchcase(k, key_pattern)
            ]
            for chunk in _chunks(keys):
                connection.execute(table.delete().where(table.c.feed_key.in_(chunk)))


class SQLActivityStorage(_SQLStorage, BaseActivityStorage):
    """Activities in the activity table (``id -> serialized activity``).

    Examples
    --------
    >>> from streams.feeds import settings
    >>> from streams.feeds.storage.sql import SQLActivityStorage
    >>> settings.STREAM_SQL_CONFIG["doc_activities"] = {"url": "sqlite://"}
    >>> store = SQLActivityStorage(sql_server="doc_activities")
    >>> store.add_many({1: "one", 2: "two"}), store.add_many({2: "TWO"})
    (2, 1)
    >>> store.get_many([2, 3]), store.remove_many([1, 3])
    ({2: 'TWO'}, 1)
    >>> del settings.STREAM_SQL_CONFIG["doc_activities"]
    """

    def add_many(self, activities: Mapping[int, str], batch_interface: Any = None) -> int:
        """Store (or overwrite) ``{id: serialized}``; returns how many were written."""
        rows = [{"id": encode_id(i), "value": value} for i, value in activities.items()]
        if not rows:
            return 0
        table = self.tables.activity
        with self._writing(batch_interface) as connection:
            for chunk in _chunks(rows):
                insert = _insert(connection, table).values(chunk)
                statement = insert.on_conflict_do_update(
                    index_elements=[table.c.id], set_={"value": insert.excluded.value}
                )
                connection.execute(statement)
        return len(rows)

    @staticmethod
    def _stored_ids(activity_ids: Iterable[int]) -> list[str]:
        ids = dict.fromkeys(int(i) for i in activity_ids)
        return [encode_id(i) for i in ids if 0 <= i < 10**ID_WIDTH]

    def get_many(self, activity_ids: Iterable[int]) -> dict[int, str]:
        import sqlalchemy as sa

        ids = self._stored_ids(activity_ids)
        if not ids:
            return {}
        table = self.tables.activity
        found: dict[int, str] = {}
        with self._reading() as connection:
            for chunk in _chunks(ids):
                query = sa.select(table.c.id, table.c.value).where(table.c.id.in_(chunk))
                found.update((decode_id(i), v) for i, v in connection.execute(query))
        return found

    def remove_many(self, activity_ids: Iterable[int], batch_interface: Any = None) -> int:
        ids = self._stored_ids(activity_ids)
        if not ids:
            return 0
        table = self.tables.activity
        removed = 0
        with self._writing(batch_interface) as connection:
            for chunk in _chunks(ids):
                statement = table.delete().where(table.c.id.in_(chunk))
                removed += connection.execute(statement).rowcount
        return removed

    def flush(self) -> None:
        with self._writing(None) as connection:
            connection.execute(self.tables.activity.delete())


class SQLListsStorage(_SQLStorage, BaseListsStorage):
    """Bounded lists as rows ``(feed_key, name, value, position)`` of the markers table.

    Examples
    --------
    >>> from streams.feeds import settings
    >>> from streams.feeds.storage.sql import SQLListsStorage
    >>> settings.STREAM_SQL_CONFIG["doc_lists"] = {"url": "sqlite://"}
    >>> lists = SQLListsStorage(sql_server="doc_lists")
    >>> lists.add("k", "unseen", ["a", "b", "c"], max_length=2)
    >>> lists.add("k", "unseen", ["b"], max_length=2)
    >>> lists.get("k", "unseen"), lists.count("k", "unseen")
    (['c', 'b'], 2)
    >>> del settings.STREAM_SQL_CONFIG["doc_lists"]
    """

    def add(self, key: str, name: str, values: Sequence[str], max_length: int) -> None:
        import sqlalchemy as sa

        # a value given twice counts at its last place, as one moved to the end
        ordered = list(dict.fromkeys(reversed(values)))[::-1]
        if not ordered:
            return
        table = self.tables.markers
        this_list = (table.c.feed_key == key, table.c.name == name)
        with self._writing(None) as connection:
            for chunk in _chunks(ordered):
                connection.execute(table.delete().where(*this_list, table.c.value.in_(chunk)))
            top = connection.execute(
                sa.select(sa.func.max(table.c.position)).where(*this_list)
            ).scalar_one_or_none()
            first = 0 if top is None else int(top) + 1
            rows = [
                {"feed_key": key, "name": name, "value": value, "position": first + n}
                for n, value in enumerate(ordered)
            ]
            connection.execute(table.insert(), rows)
            cutoff = (
                sa.select(table.c.position)
                .where(*this_list)
                .order_by(table.c.position.desc())
                .offset(max(0, int(max_length)))
                .limit(1)
                .scalar_subquery()
            )
            connection.execute(table.delete().where(*this_list, table.c.position <= cutoff))

    def remove(self, key: str, name: str, values: Sequence[str]) -> None:
        values = list(dict.fromkeys(values))
        if not values:
            return
        table = self.tables.markers
        with self._writing(None) as connection:
            for chunk in _chunks(values):
                connection.execute(
                    table.delete().where(
                        table.c.feed_key == key, table.c.name == name, table.c.value.in_(chunk)
                    )
                )

    def get(self, key: str, name: str) -> list[str]:
        import sqlalchemy as sa

        table = self.tables.markers
        query = (
            sa.select(table.c.value)
            .where(table.c.feed_key == key, table.c.name == name)
            .order_by(table.c.position)
        )
        with self._reading() as connection:
            return [str(v) for v in connection.execute(query).scalars()]

    def count(self, key: str, name: str) -> int:
        import sqlalchemy as sa

        table = self.tables.markers
        query = (
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.feed_key == key, table.c.name == name)
        )
        with self._reading() as connection:
            return int(connection.execute(query).scalar_one())

    def flush(self, key: str, names: Sequence[str]) -> None:
        if not names:
            return
        table = self.tables.markers
        with self._writing(None) as connection:
            connection.execute(
                table.delete().where(table.c.feed_key == key, table.c.name.in_(list(names)))
            )
