"""Fixtures of the durable-state tests."""

import pytest

from streams.state import MemoryStore, SQLiteStore


@pytest.fixture(params=["memory", "sqlite"])
def open_store(request, tmp_path):
    """Opens the test's store: the same MemoryStore each time, or the SQLite file again
    (as a new process would)."""
    memory = MemoryStore()
    opened = []

    def open_it():
        if request.param == "memory":
            return memory
        store = SQLiteStore(tmp_path / "state.db")
        opened.append(store)
        return store

    yield open_it
    for store in opened:
        store.close()
