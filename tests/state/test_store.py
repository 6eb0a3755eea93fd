"""The checkpoint stores: a checkpoint is written whole or not at all, and a store that
cannot be used is refused with a clear error, the previous checkpoint intact."""

import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from streams.state import (
    Checkpoint,
    Full,
    Keyed,
    MemoryStore,
    RocksDBStore,
    SQLiteStore,
    StoreError,
)

STORES = {
    "sqlite": lambda path: SQLiteStore(path / "state.db"),
    "rocksdb": lambda path: RocksDBStore(path / "state"),
    "memory": lambda path: MemoryStore(),
}


@pytest.fixture(params=list(STORES))
def store(request, tmp_path):
    made = STORES[request.param](tmp_path)
    yield made
    made.close()


def test_checkpoints_replace_full_states_and_update_keyed_ones(store):
    assert store.load() is None
    store.commit(
        Checkpoint(
            0, "fp", {"n": Full(1), "totals": Keyed({"a": 1, ("b", 2): [1, 2]})}, {"src": 0}
        )
    )
    store.commit(
        Checkpoint(1, "fp", {"n": Full({"x": 2}), "totals": Keyed({"c": 3}, ["a"])}, {"src": 5})
    )
    restored = store.load()
    assert restored.id == 1 and restored.fingerprint == "fp"
    assert restored.state == {"n": {"x": 2}, "totals": {("b", 2): [1, 2], "c": 3}}
    assert restored.keyed == {"totals"}
    assert restored.positions == {"src": 5}


def test_a_state_that_cannot_be_stored_writes_nothing(store):
    store.commit(Checkpoint(1, "fp", {"n": Full(1)}, {"src": 1}))
    with pytest.raises(StoreError, match="cannot be stored"):
        store.commit(Checkpoint(2, "fp", {"n": Full(lambda: 0)}, {"src": 2}))
    restored = store.load()
    assert (restored.id, restored.state, restored.positions) == (1, {"n": 1}, {"src": 1})


def test_a_full_disk_during_commit_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    store.commit(Checkpoint(1, "fp", {"n": Full("small")}, {"src": 1}))
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages + 2}")  # the disk is full from here
    with pytest.raises(StoreError, match=r"checkpoint 2 was not written.*previous one is intact"):
        store.commit(Checkpoint(2, "fp", {"n": Full(b"x" * 1_000_000)}, {"src": 2}))
    assert store.load().state == {"n": "small"}
    store.close()
    again = SQLiteStore(path)
    assert again.integrity_check() == ["ok"]
    assert (again.load().id, again.load().positions) == (1, {"src": 1})
    again.close()


def test_stores_that_cannot_be_used_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(StoreError, match="not a streams store \\(not a SQLite file\\)"):
        SQLiteStore(text)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="a SQLite file of another application"):
        SQLiteStore(foreign)
    future = tmp_path / "future.db"
    SQLiteStore(future).close()
    with sqlite3.connect(future) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(StoreError, match="a store of format 99; this version of streams reads"):
        SQLiteStore(future)
    with pytest.raises(ValueError, match="synchronous must be"):
        SQLiteStore(tmp_path / "x.db", synchronous="OFF")


def test_a_corrupt_store_is_refused(tmp_path):
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    store.commit(Checkpoint(1, "fp", {"n": Keyed({i: "v" * 100 for i in range(2000)})}))
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    with open(path, "r+b") as f:  # scribble over pages in the middle of the file
        f.seek(os.path.getsize(path) // 2)
        f.write(b"\xde\xad" * 2048)
    with pytest.raises(StoreError, match=r"corrupt|cannot open"):
        SQLiteStore(path)


CHILD = textwrap.dedent(
    """
    import sys
    from streams.state import Checkpoint, Full, RocksDBStore, SQLiteStore
    store = (RocksDBStore if sys.argv[2] == "rocksdb" else SQLiteStore)(sys.argv[1])
    for i in range(1, 4):
        store.commit(Checkpoint(i, "fp", {"n": Full(i)}, {"src": i * 10}))
    """
)


@pytest.mark.parametrize("kind", ["sqlite", "rocksdb"])
@pytest.mark.parametrize(("crash", "survivor"), [("before_commit:2", 1), ("after_commit:2", 2)])
def test_killed_at_the_commit_the_store_holds_the_last_committed_checkpoint(
    tmp_path, crash, survivor, kind
):
    path = tmp_path / ("state.db" if kind == "sqlite" else "state")
    env = {**os.environ, "STREAMS_CRASH_AT": crash}
    child = subprocess.run([sys.executable, "-c", CHILD, str(path), kind], env=env, check=False)
    assert child.returncode == -9  # SIGKILL, by the hook
    store = SQLiteStore(path) if kind == "sqlite" else RocksDBStore(path)
    if kind == "sqlite":
        assert store.integrity_check() == ["ok"]
    restored = store.load()
    assert (restored.id, restored.state, restored.positions) == (
        survivor,
        {"n": survivor},
        {"src": survivor * 10},
    )
    store.close()


def test_a_rocksdb_store_refuses_what_is_not_one(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(StoreError, match="not a RocksDB directory"):
        RocksDBStore(text)
    from rocksdict import Options, Rdict

    foreign = Rdict(str(tmp_path / "foreign"), Options(raw_mode=True))
    foreign[b"k"] = b"v"
    foreign.close()
    with pytest.raises(StoreError, match="a RocksDB of another application"):
        RocksDBStore(tmp_path / "foreign")


def test_an_unknown_crash_point_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMS_CRASH_AT", "somewhere:1")
    with pytest.raises(ValueError, match="unknown point 'somewhere'"):
        SQLiteStore(tmp_path / "s.db").commit(Checkpoint(1, "fp"))


def test_a_frozen_checkpoint_keeps_the_state_of_its_cut(tmp_path):
    store = SQLiteStore(tmp_path / "state.db")
    items = [1, 2]
    checkpoint = Checkpoint(1, "fp", {"items": Full(items), "by_key": Keyed({"a": items})})
    store.freeze(checkpoint)  # at the cut, on the loop
    items.append(3)  # the graph goes on while the commit waits for its thread
    store.commit(checkpoint)
    assert store.load().state == {"items": [1, 2], "by_key": {"a": [1, 2]}}
    store.close()
