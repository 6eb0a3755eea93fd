"""Durable state: checkpoints of a graph's state and source positions, and recovery.

This first part holds the stores (:class:`SQLiteStore`, :class:`MemoryStore`): a
checkpoint is written in one transaction, whole or not at all. The checkpointer that
takes consistent snapshots of a running graph builds on them.
"""

from .store import Checkpoint, Full, Keyed, MemoryStore, Restored, SQLiteStore, StoreError

__all__ = ["Checkpoint", "Full", "Keyed", "MemoryStore", "Restored", "SQLiteStore", "StoreError"]
