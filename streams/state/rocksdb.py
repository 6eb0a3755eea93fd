"""Checkpoints in RocksDB (``streams[rocksdb]``, through ``rocksdict``): one write batch
per checkpoint, for large keyed state where SQLite's B-tree upserts become the limit.

Keys: ``m\\0<name>`` (meta), ``s\\0<node>\\0<pickled key>`` (state; a whole state under
one marker key), ``p\\0<source>`` (positions), ``o\\0<sink>\\0<seq>`` (outbox). Values are
pickled. A batch is atomic: a crash leaves the previous checkpoint.
"""

from __future__ import annotations

import os
import pickle
import threading
from typing import Any

from .crash import crash_point
from .store import FORMAT, Checkpoint, Full, Restored, StoreError

__all__ = ["RocksDBStore"]

_FULL = b"\x00full"


class RocksDBStore:
    """Checkpoints in a RocksDB directory, one atomic write batch each.

    Parameters
    ----------
    path : str or path
        The database directory; created if missing.

    Examples
    --------
    >>> import os, tempfile
    >>> from streams.state import Checkpoint, Keyed
    >>> store = RocksDBStore(os.path.join(tempfile.mkdtemp(), "state"))
    >>> store.commit(Checkpoint(1, "g", {"totals": Keyed({"ada": 3})}, {"src": 10}))
    >>> restored = store.load()
    >>> restored.id, restored.state["totals"], restored.positions
    (1, {'ada': 3}, {'src': 10})
    >>> store.close()
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            from rocksdict import Options, Rdict, WriteBatch
        except ImportError:
            raise ImportError(
                "RocksDBStore needs rocksdict: pip install 'streams[rocksdb]'"
            ) from None
        self.path = os.fspath(path)
        self._batch = WriteBatch
        self._lock = threading.Lock()
        if os.path.isfile(self.path):
            raise StoreError(f"{self.path}: not a streams store (a file, not a RocksDB directory)")
        try:
            self._db = Rdict(self.path, Options(raw_mode=True))
        except Exception as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc
        stored = self._db.get(b"m\0format")
        if stored is None and self._any():
            self._db.close()
            raise StoreError(
                f"{self.path}: not a streams store (a RocksDB of another application)"
            )
        if stored is not None and int(stored) != FORMAT:
            self._db.close()
            raise StoreError(
                f"{self.path}: a store of format {int(stored)}; this version of streams reads "
                f"format {FORMAT}"
            )

    def __repr__(self) -> str:
        return f"RocksDBStore({self.path!r})"

    def _any(self) -> bool:
        it = self._db.iter()
        it.seek_to_first()
        return bool(it.valid())

    def _prefix(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        it = self._db.iter()
        it.seek(prefix)
        rows = []
        while it.valid() and it.key().startswith(prefix):
            rows.append((it.key(), it.value()))
            it.next()
        return rows

    def load(self) -> Restored | None:
        """The latest checkpoint, or ``None`` if none was committed."""
        with self._lock:
            checkpoint = self._db.get(b"m\0checkpoint")
            if checkpoint is None:
                return None
            state: dict[str, Any] = {}
            keyed: set[str] = set()
            for key, value in self._prefix(b"s\0"):
                node, _, k = key[2:].partition(b"\0")
                name = node.decode()
                if k == _FULL:
                    state[name] = pickle.loads(value)
                else:
                    keyed.add(name)
                    state.setdefault(name, {})[pickle.loads(k)] = pickle.loads(value)
            positions = {k[2:].decode(): pickle.loads(v) for k, v in self._prefix(b"p\0")}
            outbox: dict[str, list[Any]] = {}
            for key, value in self._prefix(b"o\0"):
                sink = key[2:].rpartition(b"\0")[0].decode()
                outbox.setdefault(sink, []).append(pickle.loads(value))
            fingerprint = self._db.get(b"m\0fingerprint") or b""
        return Restored(int(checkpoint), fingerprint.decode(), state, keyed, positions, outbox)

    def freeze(self, checkpoint: Checkpoint) -> None:
        """Serialize ``checkpoint`` now, at the cut (the commit runs in a thread)."""
        checkpoint.frozen = self._rows(checkpoint)

    def _rows(self, checkpoint: Checkpoint) -> list[tuple[str, bytes, bytes | None]]:
        if any(t.rows for t in checkpoint.tables):
            raise StoreError("sink_to_sqlite needs a SQLiteStore (its table lives in the file)")
        rows: list[tuple[str, bytes, bytes | None]] = []  # ("put" | "drop", key, value)
        for node, value in checkpoint.state.items():
            if "\0" in node:
                raise StoreError(f"a node name cannot hold a NUL character: {node!r}")
            prefix = b"s\0" + node.encode() + b"\0"
            try:
                if isinstance(value, Full):
                    rows.append(("clear", prefix, None))
                    rows.append(("put", prefix + _FULL, pickle.dumps(value.value, protocol=5)))
                else:
                    for k, v in value.upserts.items():
                        key = prefix + pickle.dumps(k, protocol=5)
                        rows.append(("put", key, pickle.dumps(v, protocol=5)))
                    for k in value.deletes:
                        rows.append(("drop", prefix + pickle.dumps(k, protocol=5), None))
            except Exception as exc:
                raise StoreError(f"the state of {node!r} cannot be stored: {exc}") from exc
        for source, position in checkpoint.positions.items():
            rows.append(("put", b"p\0" + source.encode(), pickle.dumps(position, protocol=5)))
        rows.append(("clear", b"o\0", None))
        for sink, records in checkpoint.outbox.items():
            for seq, record in enumerate(records):
                key = b"o\0" + sink.encode() + b"\0" + seq.to_bytes(8, "big")
                rows.append(("put", key, pickle.dumps(record, protocol=5)))
        rows.append(("put", b"m\0fingerprint", checkpoint.fingerprint.encode()))
        rows.append(("put", b"m\0format", str(FORMAT).encode()))
        rows.append(("put", b"m\0checkpoint", str(checkpoint.id).encode()))
        return rows

    def commit(self, checkpoint: Checkpoint) -> None:
        """Write ``checkpoint`` in one atomic batch (all of it, or none of it)."""
        rows = checkpoint.frozen or self._rows(checkpoint)
        with self._lock:
            batch = self._batch(raw_mode=True)
            for op, key, value in rows:
                if op == "put":
                    batch.put(key, value)
                elif op == "drop":
                    batch.delete(key)
                else:  # clear a prefix: the rows there now
                    for old, _ in self._prefix(key):
                        batch.delete(old)
            if checkpoint.id:
                crash_point("before_commit")
            try:
                self._db.write(batch)
            except Exception as exc:
                raise StoreError(
                    f"{self.path}: checkpoint {checkpoint.id} was not written ({exc}); "
                    "the previous one is intact"
                ) from exc
        if checkpoint.id:
            crash_point("after_commit")

    def mark_delivered(self, sink: str) -> None:
        """Forget the outbox of ``sink``."""
        with self._lock:
            batch = self._batch(raw_mode=True)
            for key, _ in self._prefix(b"o\0" + sink.encode() + b"\0"):
                batch.delete(key)
            self._db.write(batch)

    def close(self) -> None:
        with self._lock:
            self._db.close()
