"""Sinks whose output is part of the checkpoint: exactly-once output.

:class:`SQLiteSink` (``sink_to_sqlite``) keeps the rows it received since the last
checkpoint and writes them into a table of the checkpoint's own SQLite file, in the
checkpoint's transaction: the table holds exactly the output of the elements before
the cut, never a row twice, whatever crashes. Rows become visible a checkpoint at a
time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core import Stream
from ..protocol import Metadata
from ..sinks.base import Sink

__all__ = ["SQLiteSink"]


class SQLiteSink(Sink[Mapping[str, Any]]):
    """Node behind :meth:`Stream.sink_to_sqlite`: rows (mappings) into ``table`` of a
    :class:`~streams.state.SQLiteStore`, at each checkpoint."""

    _label = "sink_to_sqlite"

    def __init__(
        self,
        upstream: Stream[Any],
        table: str,
        store: Any,
        key: str | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(table, str) or not table.isidentifier():
            raise ValueError(f"sink_to_sqlite: table must be a plain name, got {table!r}")
        from .store import SQLiteStore

        if not isinstance(store, SQLiteStore):
            raise TypeError(
                f"sink_to_sqlite: store must be a SQLiteStore (the table lives in its file), "
                f"got {store!r}"
            )
        if options.get("stream_name") is None:
            raise ValueError(
                "sink_to_sqlite: give it a stream_name (it names the sink's part of the "
                "checkpoints)"
            )
        self.table = table
        self.store = store
        self.key = key
        self.columns: tuple[str, ...] | None = None  # fixed by the first row
        self.pending: dict[Any, tuple[Any, ...]] | list[tuple[Any, ...]] = (
            {} if key is not None else []
        )
        super().__init__(upstream, **options)

    def _detail(self) -> str:
        return self.table

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        try:
            row = self._row(x)
        except Exception as exc:
            return self._failed(exc, x, who, metadata)
        if isinstance(self.pending, dict):
            self.pending[x[self.key]] = row
        else:
            self.pending.append(row)
        self.current_value = x
        return None

    def _row(self, x: Any) -> tuple[Any, ...]:
        if not isinstance(x, Mapping):
            raise TypeError(f"{self._describe()}: a row must be a mapping, got {type(x).__name__}")
        if self.columns is None:
            columns = tuple(str(c) for c in x)
            bad = [c for c in columns if not c.isidentifier()]
            if bad:
                raise ValueError(f"{self._describe()}: column names must be plain names: {bad}")
            if self.key is not None and self.key not in columns:
                raise KeyError(f"{self._describe()}: the row has no key column {self.key!r}")
            self.columns = columns
        if tuple(x) != self.columns and set(x) != set(self.columns):
            raise ValueError(
                f"{self._describe()}: the row's columns {sorted(x)} are not the table's "
                f"{sorted(self.columns)}"
            )
        row = tuple(x[c] for c in self.columns)
        for column, value in zip(self.columns, row, strict=True):
            if value is not None and type(value) not in (int, float, str, bytes, bool):
                raise TypeError(
                    f"{self._describe()}: column {column!r} holds a {type(value).__name__}; "
                    "SQLite stores int, float, str, bytes and None"
                )
        return row

    def take(self) -> tuple[str, tuple[str, ...] | None, str | None, list[tuple[Any, ...]]]:
        """The rows since the last checkpoint (the sink forgets them: the checkpoint
        writes them)."""
        rows = list(self.pending.values()) if isinstance(self.pending, dict) else self.pending
        self.pending = {} if self.key is not None else []
        return self.table, self.columns, self.key, rows
