"""Methods for connectors. SQL databases: to_sql."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

if TYPE_CHECKING:
    import sqlalchemy as sa

    from ..sinks.sql import ToSQL

T = TypeVar("T")


class SqlMethods(Generic[T]):
    """SQL databases: to_sql."""

    def to_sql(
        self: Any,
        table: str | sa.Table,
        con: str | sa.URL | sa.Engine,
        batch_size: int = 1000,
        flush_interval: float | str | datetime.timedelta | None = 1.0,
        create: bool = False,
        if_missing: Literal["default", "raise"] = "default",
        schema: str | None = None,
        **kwargs: Any,
    ) -> ToSQL:
        """Insert rows into a database table, in batched transactions (SQLAlchemy).

        Each element is a row (a ``dict`` of column name to value), a list of rows, or a
        pandas ``DataFrame`` (its rows; the index is not written). Rows are held until
        ``batch_size`` of them are there, or ``flush_interval`` seconds after the first
        one arrived, then written in one transaction by a worker thread, one batch at a
        time and in order; the event loop never waits for the database. An element is
        never split: all its rows go into the same transaction.

        Back pressure and acknowledgement: the emitter of the row that fills a batch
        waits until that batch is committed; the others are accepted at once. A row's
        refs (:class:`~streams.RefCounter` metadata) are released only after its
        transaction committed, so a source acknowledging on release (Kafka offsets) is
        at-least-once. :meth:`~streams.Stream.drain` writes a partial batch now;
        ``destroy()`` writes what is held, then closes the engine if the sink made it.

        Errors: a failed batch (a constraint violated, a column the table lacks...) is
        rolled back as a whole and goes through ``on_error``: ``retry(n, backoff)`` writes
        the whole batch again; ``"raise"`` sends an :class:`~streams.ErrorRecord` of the
        batch's rows to the error channel (:meth:`~streams.Stream.errors`), since most of
        its emitters no longer wait, and its rows are not acknowledged; ``"skip"`` and
        ``"dead_letter"`` drop the batch (acknowledged as handled). A database that
        cannot be reached is reported to the error channel and tried again, waiting
        0.1 s, 0.2 s, ... up to 10 s in between, without losing the batch.

        Parameters
        ----------
        table : str or sqlalchemy.Table
            The table to insert into. A name is looked up in the database (reflected)
            when the first batch is written.
        con : str, sqlalchemy.URL or sqlalchemy.Engine
            The database: a URL such as ``'sqlite:///path/to/file.db'`` (SQLite, built
            into Python) or ``'postgresql+psycopg://user@host/db'``, or an engine. An
            engine made from a URL belongs to the sink; one passed in is not disposed.
        batch_size : int, optional
            Rows per transaction (a batch is written once it holds at least this many).
        flush_interval : float, str, timedelta or None, optional
            Write held rows this long after the first of them arrived (``0.5``,
            ``'250ms'``...); ``None``: only full batches, ``drain`` and ``destroy`` write.
        create : bool, optional
            Create the table if it does not exist, with the columns of the first batch
            and types inferred from their values (``int`` -> BIGINT, ``float`` -> FLOAT,
            ``str`` -> TEXT, ``bytes`` -> binary, ``bool`` -> BOOLEAN, ``datetime`` ->
            TIMESTAMP, ``None`` only -> TEXT...; see :func:`streams.sinks.sql.column_types`).
            With a ``Table``, create that table if it does not exist.
        if_missing : {'default', 'raise'}, optional
            A row lacking some of the table's columns: ``'default'`` lets the database
            fill them (their default, else NULL); ``'raise'`` fails the batch unless
            they have a default or are generated (an auto-increment key). A row with a
            column the table lacks always fails its batch.
        schema : str, optional
            The schema (PostgreSQL) of ``table``, if not the default one.
        **kwargs
            Node options: ``stream_name``, ``on_error``...

        Returns
        -------
        ToSQL
            The sink node (``destroy()`` it to write what it holds and close).

        Examples
        --------
        >>> import os, sqlite3, tempfile
        >>> from streams import Stream
        >>> path = os.path.join(tempfile.mkdtemp(), "events.db")
        >>> source = Stream()
        >>> node = source.to_sql("events", f"sqlite:///{path}", batch_size=2, create=True)
        >>> for i, name in enumerate(["start", "tick", "stop"]):
        ...     source.emit({"id": i, "name": name})  # the 2nd returns once committed
        >>> source.drain()  # write the partial batch now
        >>> node.destroy()
        >>> db = sqlite3.connect(path)
        >>> db.execute("SELECT id, name FROM events ORDER BY id").fetchall()
        [(0, 'start'), (1, 'tick'), (2, 'stop')]
        >>> db.close()

        See Also
        --------
        sink, errors, drain
        """
        from ..sinks.sql import ToSQL

        return ToSQL(
            self, table, con, batch_size, flush_interval, create, if_missing, schema, **kwargs
        )
