"""Durable state: checkpoints of a graph's state and source positions, and recovery.

A :class:`Checkpointer` takes consistent snapshots of a running graph (a quiescent cut
between elements) into a store (:class:`SQLiteStore`, :class:`MemoryStore`), each written
in one transaction, whole or not at all (:class:`RocksDBStore`, in ``streams[rocksdb]``,
for large keyed state), and restores the latest one before the sources start again.
"""

from .checkpointer import Checkpointer, DurabilityError
from .rocksdb import RocksDBStore
from .store import Checkpoint, Full, Keyed, MemoryStore, Restored, SQLiteStore, StoreError

__all__ = [
    "Checkpoint",
    "Checkpointer",
    "DurabilityError",
    "Full",
    "Keyed",
    "MemoryStore",
    "Restored",
    "RocksDBStore",
    "SQLiteStore",
    "StoreError",
]
