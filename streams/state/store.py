"""Where checkpoints live: :class:`SQLiteStore` (one file, one transaction per checkpoint)
and :class:`MemoryStore` (tests, restarts inside one process).

A checkpoint is written whole or not at all: node state, source positions and the
outbox of exactly-once sinks go into one transaction, so they can never disagree (the
failure Kafka Streams and Faust guard against with separate checkpoint files and
changelog offsets cannot happen). Only the latest checkpoint is kept.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .crash import crash_point

__all__ = [
    "Checkpoint",
    "Full",
    "Keyed",
    "MemoryStore",
    "Restored",
    "SQLiteStore",
    "StoreError",
    "Table",
]

FORMAT = 1
"""The version of the stored layout; a store of another version is refused."""

APPLICATION_ID = 0x5354524D  # "STRM": marks a SQLite file as a streams store


class StoreError(RuntimeError):
    """A store that cannot be used: corrupt, foreign, of another version, or a failed
    commit (the previous checkpoint is intact)."""


class Full(NamedTuple):
    """A node's whole state, as one value (replaces what was stored)."""

    value: Any


class Keyed(NamedTuple):
    """The keys of a node's state that changed since the last checkpoint."""

    upserts: Mapping[Any, Any]
    deletes: Iterable[Any] = ()


@dataclass
class Checkpoint:
    """What one checkpoint writes."""

    id: int
    fingerprint: str
    state: dict[str, Full | Keyed] = field(default_factory=dict)
    positions: dict[str, Any] = field(default_factory=dict)  # source id -> position
    outbox: dict[str, list[Any]] = field(default_factory=dict)  # sink id -> records
    tables: list[Table] = field(default_factory=list)  # rows of co-located sinks
    frozen: Any = None  # the rows, serialized at the cut (see SQLiteStore.freeze)


class Table(NamedTuple):
    """Rows for a table in the store's own file, written in the checkpoint's
    transaction (``sink_to_sqlite``)."""

    name: str
    columns: tuple[str, ...] | None
    key: str | None
    rows: list[tuple[Any, ...]]


@dataclass
class Restored:
    """What the latest checkpoint holds, read back."""

    id: int
    fingerprint: str
    state: dict[str, Any]  # node id -> value (Full) or dict key -> value (Keyed)
    keyed: set[str]  # the node ids whose state is keyed
    positions: dict[str, Any]
    outbox: dict[str, list[Any]]


_FULL = b"\x00full"  # the key of a Full state's one row


class SQLiteStore:
    """Checkpoints in one SQLite file (WAL), one transaction each.

    Parameters
    ----------
    path : str or path
        The file; created if missing.
    synchronous : {"NORMAL", "FULL"}
        ``"NORMAL"`` survives ``kill -9`` of the process; ``"FULL"`` also a power loss
        or an OS crash, at the cost of an ``fsync`` per checkpoint.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "state.db")
    >>> store = SQLiteStore(path)
    >>> store.load() is None  # nothing committed yet
    True
    >>> store.commit(Checkpoint(1, "g", {"totals": Keyed({"ada": 3})}, {"src": 10}))
    >>> restored = store.load()
    >>> restored.id, restored.state["totals"], restored.positions
    (1, {'ada': 3}, {'src': 10})
    >>> store.close()
    """

    def __init__(self, path: str | os.PathLike[str], synchronous: str = "NORMAL") -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(
                f"SQLiteStore: synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}"
            )
        self.path = os.fspath(path)
        self.synchronous = synchronous
        self._lock = threading.Lock()  # one writer; commits may run in a worker thread
        self._db = self._open()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def _open(self) -> sqlite3.Connection:
        if os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            with open(self.path, "rb") as f:
                if f.read(16) != b"SQLite format 3\x00":
                    raise StoreError(f"{self.path}: not a streams store (not a SQLite file)")
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            app, version = (
                db.execute("PRAGMA application_id").fetchone()[0],
                db.execute("PRAGMA user_version").fetchone()[0],
            )
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables and app != APPLICATION_ID:
                db.close()
                raise StoreError(
                    f"{self.path}: not a streams store (a SQLite file of another application)"
                )
            if tables and version != FORMAT:
                db.close()
                raise StoreError(
                    f"{self.path}: a store of format {version}; this version of streams reads "
                    f"format {FORMAT}"
                )
            if tables:
                problems = db.execute("PRAGMA quick_check").fetchall()
                if problems != [("ok",)]:
                    db.close()
                    raise StoreError(f"{self.path}: the store is corrupt: {problems[:3]}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            if not tables:
                self._create(db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc
        return db

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        db.execute(f"PRAGMA user_version={FORMAT}")
        db.execute("CREATE TABLE meta (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID")
        db.execute(
            "CREATE TABLE state (node TEXT, k BLOB, v BLOB, PRIMARY KEY (node, k)) WITHOUT ROWID"
        )
        db.execute("CREATE TABLE positions (source TEXT PRIMARY KEY, pos BLOB) WITHOUT ROWID")
        db.execute(
            "CREATE TABLE outbox (sink TEXT, seq INTEGER, payload BLOB, PRIMARY KEY (sink, seq))"
            " WITHOUT ROWID"
        )
        db.execute("COMMIT")

    # -------------------------------------------------------------- reading

    def load(self) -> Restored | None:
        """The latest checkpoint, or ``None`` if none was committed."""
        with self._lock:
            db = self._db
            meta = dict(db.execute("SELECT k, v FROM meta").fetchall())
            if "checkpoint" not in meta:
                return None
            state: dict[str, Any] = {}
            keyed: set[str] = set()
            for node, k, v in db.execute("SELECT node, k, v FROM state ORDER BY node, k"):
                if k == _FULL:
                    state[node] = _decode(v)
                else:
                    keyed.add(node)
                    state.setdefault(node, {})[_decode(k)] = _decode(v)
            positions = {
                s: pickle.loads(p) for s, p in db.execute("SELECT source, pos FROM positions")
            }
            outbox: dict[str, list[Any]] = {}
            for sink, payload in db.execute("SELECT sink, payload FROM outbox ORDER BY sink, seq"):
                outbox.setdefault(sink, []).append(pickle.loads(payload))
        return Restored(
            int(meta["checkpoint"]), str(meta["fingerprint"]), state, keyed, positions, outbox
        )

    # -------------------------------------------------------------- writing

    def freeze(self, checkpoint: Checkpoint) -> None:
        """Serialize ``checkpoint`` now, at the cut: the commit runs in a worker thread
        while the graph goes on, and must not see a state changed meanwhile."""
        checkpoint.frozen = _rows(checkpoint)

    def commit(self, checkpoint: Checkpoint) -> None:
        """Write ``checkpoint`` in one transaction: all of it, or (on any failure, which
        raises :class:`StoreError`) none of it."""
        rows = checkpoint.frozen or _rows(checkpoint)  # serialized before any write
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                for node, value in checkpoint.state.items():
                    if isinstance(value, Full):
                        db.execute("DELETE FROM state WHERE node = ?", (node,))
                db.executemany("DELETE FROM state WHERE node = ? AND k = ?", rows.deletes)
                db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?, ?)", rows.upserts)
                db.executemany("INSERT OR REPLACE INTO positions VALUES (?, ?)", rows.positions)
                db.execute("DELETE FROM outbox")
                db.executemany("INSERT INTO outbox VALUES (?, ?, ?)", rows.outbox)
                for table in checkpoint.tables:
                    _write_table(db, table)
                db.executemany(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [("checkpoint", checkpoint.id), ("fingerprint", checkpoint.fingerprint)],
                )
                if checkpoint.id:
                    crash_point("before_commit")
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(
                        f"{self.path}: checkpoint {checkpoint.id} was not written ({exc}); "
                        "the previous one is intact"
                    ) from exc
                raise
        if checkpoint.id:
            crash_point("after_commit")

    def mark_delivered(self, sink: str) -> None:
        """Forget the outbox of ``sink`` (its records reached their destination)."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE sink = ?", (sink,))

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``: ``["ok"]`` for a sound file."""
        with self._lock:
            return [r[0] for r in self._db.execute("PRAGMA integrity_check")]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class MemoryStore:
    """Checkpoints in memory, with the same rules as :class:`SQLiteStore` (states are
    pickled, so what cannot be stored fails here too).

    Examples
    --------
    >>> store = MemoryStore()
    >>> store.commit(Checkpoint(1, "g", {"n": Full(42)}))
    >>> store.load().state
    {'n': 42}
    """

    in_memory = True  # no I/O: the checkpointer commits on the loop, not in a thread

    def __init__(self) -> None:
        self._latest: bytes | None = None
        self._lock = threading.Lock()

    def load(self) -> Restored | None:
        with self._lock:
            return None if self._latest is None else pickle.loads(self._latest)

    def commit(self, checkpoint: Checkpoint) -> None:
        if any(t.rows for t in checkpoint.tables):
            raise StoreError("sink_to_sqlite needs a SQLiteStore (its table lives in the file)")
        with self._lock:
            before = None if self._latest is None else pickle.loads(self._latest)
            state: dict[str, Any] = dict(before.state) if before else {}
            keyed = set(before.keyed) if before else set()
            for node, value in checkpoint.state.items():
                if isinstance(value, Full):
                    state[node] = value.value
                    keyed.discard(node)
                else:
                    rows = dict(state.get(node, {})) if node in keyed else {}
                    rows.update(value.upserts)
                    for k in value.deletes:
                        rows.pop(k, None)
                    state[node] = rows
                    keyed.add(node)
            positions = dict(before.positions) if before else {}
            positions.update(checkpoint.positions)
            restored = Restored(
                checkpoint.id,
                checkpoint.fingerprint,
                state,
                keyed,
                positions,
                dict(checkpoint.outbox),
            )
            try:
                self._latest = pickle.dumps(restored, protocol=5)
            except Exception as exc:
                raise StoreError(f"checkpoint {checkpoint.id} cannot be stored: {exc}") from exc

    def mark_delivered(self, sink: str) -> None:
        with self._lock:
            if self._latest is not None:
                restored = pickle.loads(self._latest)
                restored.outbox.pop(sink, None)
                self._latest = pickle.dumps(restored, protocol=5)

    def close(self) -> None:
        pass


def _write_table(db: sqlite3.Connection, table: Table) -> None:
    if table.columns is None:
        return  # no row yet
    if table.name in ("meta", "state", "positions", "outbox"):
        raise StoreError(f"sink_to_sqlite: {table.name!r} is a table of the store itself")
    columns = ", ".join(f'"{c}"' for c in table.columns)
    key = f', PRIMARY KEY ("{table.key}")' if table.key is not None else ""
    db.execute(f'CREATE TABLE IF NOT EXISTS "{table.name}" ({columns}{key})')
    marks = ", ".join("?" for _ in table.columns)
    verb = "INSERT OR REPLACE" if table.key is not None else "INSERT"
    db.executemany(f'{verb} INTO "{table.name}" ({columns}) VALUES ({marks})', table.rows)


class _Rows(NamedTuple):
    upserts: list[tuple[str, Any, Any]]
    deletes: list[tuple[str, Any]]
    positions: list[tuple[str, bytes]]
    outbox: list[tuple[str, int, bytes]]


def _rows(checkpoint: Checkpoint) -> _Rows:
    upserts: list[tuple[str, Any, Any]] = []
    deletes: list[tuple[str, Any]] = []
    for node, value in checkpoint.state.items():
        try:
            if isinstance(value, Full):
                upserts.append((node, _FULL, _encode(value.value)))
            else:
                upserts.extend((node, _encode(k), _encode(v)) for k, v in value.upserts.items())
                deletes.extend((node, _encode(k)) for k in value.deletes)
        except Exception as exc:
            raise StoreError(f"the state of {node!r} cannot be stored: {exc}") from exc
    positions = [(s, pickle.dumps(p, protocol=5)) for s, p in checkpoint.positions.items()]
    outbox = [
        (sink, i, pickle.dumps(r, protocol=5))
        for sink, records in checkpoint.outbox.items()
        for i, r in enumerate(records)
    ]
    return _Rows(upserts, deletes, positions, outbox)


def _encode(x: Any) -> Any:
    """A value as SQLite stores it: ints, strings and finite floats as themselves (fast
    to write and readable with the sqlite3 shell), anything else pickled into a BLOB."""
    t = type(x)
    if (t is int and -(2**63) <= x < 2**63) or t is str or (t is float and x == x):
        return x
    return pickle.dumps(x, protocol=5)


def _decode(v: Any) -> Any:
    return pickle.loads(v) if type(v) is bytes else v
