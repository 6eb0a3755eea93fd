"""durable_input(): a write-ahead log that makes an input nothing can replay (emit()
calls, from_q...) replayable under a checkpointer. Crashes are real: a child process
(durable_input_app.py) is killed with SIGKILL and restarted, and its keyed totals must
equal those of one uninterrupted run."""

import asyncio
import contextlib
import json
import os
import pickle
import queue
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import streams.state.wal  # (registers the durable input's adapter)
from streams import RefCounter, Stream
from streams.state import Checkpointer, DurabilityError, MemoryStore, SQLiteStore, StoreError
from streams.state.wal import LOG_TABLE, SEQUENCE_TABLE

APP = Path(__file__).with_name("durable_input_app.py")
LINES = 3000


def run_app(work, *args, crash=None, killed=False):
    env = {k: v for k, v in os.environ.items() if k != "STREAMS_CRASH_AT"}
    if crash:
        env["STREAMS_CRASH_AT"] = crash
    done = subprocess.run(
        [sys.executable, str(APP), str(work), "--lines", str(LINES), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if killed:
        assert done.returncode == -9, done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""


def expected_totals():
    totals = {}
    for i in range(LINES):
        totals[f"u{i % 50}"] = totals.get(f"u{i % 50}", 0) + i % 7 + 1
    return totals


def log_of(path, name="orders"):
    """The entries of a log as ``{seq: element}``, and its last sequence number."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(f"SELECT seq, entry FROM {LOG_TABLE} WHERE name = ?", (name,))
        entries = {seq: pickle.loads(blob)[0] for seq, blob in rows}
        last = db.execute(f"SELECT last FROM {SEQUENCE_TABLE} WHERE name = ?", (name,))
        return entries, last.fetchone()[0]


def check_result(work):
    result = json.loads((work / "result.json").read_text())
    assert result["n"] == LINES
    assert result["totals"] == expected_totals()
    entries, last = log_of(work / "state.db")
    assert (entries, last) == ({}, LINES)  # all done: the last checkpoint deleted all
    return result


def restores(work):
    return [json.loads(line) for line in (work / "restored.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------ killed and restarted


def test_elements_accepted_after_the_checkpoint_are_replayed_after_a_kill(tmp_path):
    run_app(tmp_path, "--checkpoint-after", "999", "--kill-after", "1999", killed=True)
    store = SQLiteStore(tmp_path / "state.db")
    position = store.load().positions["orders"]
    store.close()
    assert position <= 1000  # what the graph had taken when the checkpoint cut
    entries, last = log_of(tmp_path / "state.db")
    assert last == 2000  # every element whose emit returned is in the log...
    assert sorted(entries) == list(range(position + 1, 2001))  # ...after the position
    assert entries[2000] == "u49,5"  # (element 1999)
    run_app(tmp_path)
    assert restores(tmp_path)[-1] == {"id": 1, "positions": {"orders": position}, "first": 2000}
    check_result(tmp_path)


@pytest.mark.parametrize("crash", ["cut_taken:7", "before_commit:7", "after_commit:7"])
def test_killed_at_a_checkpoints_commit(tmp_path, crash):
    run_app(tmp_path, "--every", "100", crash=crash, killed=True)
    run_app(tmp_path, "--every", "100")
    restored = restores(tmp_path)[-1]
    position = 700 if crash == "after_commit:7" else 600  # the 7th commit is done or not
    assert restored["positions"] == {"orders": position}
    assert restored["first"] >= position  # (entries <= position still logged: skipped)
    check_result(tmp_path)


def test_killed_while_the_graph_processes(tmp_path):
    run_app(tmp_path, "--every", "100", "--backlog", "50", "--kill-at", "1234", killed=True)
    run_app(tmp_path, "--every", "100")
    assert restores(tmp_path)[-1]["positions"] == {"orders": 1200}
    check_result(tmp_path)


def test_an_uninterrupted_run_gives_the_same_totals(tmp_path):
    run_app(tmp_path, "--every", "100")
    assert check_result(tmp_path)["last_id"] >= LINES // 100


# ------------------------------------------------------------------ order and replay


def counting_graph(store, seen, max_backlog=100):
    """emit() -> durable_input -> a sink taking 1 s per element, and a count."""
    source = Stream()
    logged = source.durable_input(store, max_backlog=max_backlog, stream_name="input")
    count = logged.accumulate(lambda n, x: n + 1, start=0, stream_name="count")

    async def slow(x):
        await asyncio.sleep(1)
        seen.append(x)

    logged.sink(slow)
    return source, logged, count


async def test_a_restart_replays_the_logged_elements_before_new_ones_in_order():
    store = MemoryStore()
    first, second = [], []
    source, logged, _ = counting_graph(store, first)
    async with Checkpointer(logged, store=store, interval=None):
        for i in range(10):
            await source.emit(i)  # logged at once; the graph takes 1 s for each
        await asyncio.sleep(3.5)
    assert first == [0, 1, 2, 3]  # the cut waited for the element in hand
    assert (logged.logged, logged.position) == (10, 4)

    source, logged, count = counting_graph(store, second)
    async with Checkpointer(logged, store=store, interval=None) as ck:
        assert ck.restored == {"input": 4}
        for i in range(10, 15):
            await source.emit(i)  # new elements arrive before the replay is done
        await logged.drain()
    assert second == list(range(4, 15))
    assert count.state == 15
    assert streams.state.wal._MEMORY_LOGS[store]["input"].entries == []  # all done


async def test_concurrent_emitters_keep_their_order():
    store = MemoryStore()
    source = Stream()
    logged = source.durable_input(store, max_backlog=3, stream_name="input")
    out = logged.sink_to_list()
    async with Checkpointer(logged, store=store, interval=None, every=2):
        await asyncio.gather(*(source.emit(i) for i in range(50)))
        await logged.drain()
    assert out == list(range(50))


async def test_the_input_ends_when_its_sources_end():
    source = Stream.from_iterable(range(5))  # (a replayable source needs no log)
    logged = source.durable_input(MemoryStore(), stream_name="input")
    out = logged.sink_to_list()
    logged.start()  # starts the source too
    await logged.wait()
    assert out == [0, 1, 2, 3, 4]
    assert source.done and logged.done


# ------------------------------------------------------------------ back pressure


async def test_emit_waits_for_room_once_max_backlog_elements_wait():
    loop = asyncio.get_running_loop()
    seen, accepted = [], []
    source, logged, _ = counting_graph(MemoryStore(), seen, max_backlog=2)
    logged.start()
    for i in range(6):
        await source.emit(i)
        accepted.append(loop.time())
    assert accepted == [0, 0, 1, 2, 3, 4]  # the third waits for the first to be done
    await logged.drain()
    logged.stop()
    assert seen == list(range(6))


@pytest.mark.real_time
async def test_emit_returns_once_the_element_is_durable(tmp_path):
    store = SQLiteStore(tmp_path / "state.db")
    source = Stream()
    logged = source.durable_input(store, stream_name="orders")
    out = logged.sink_to_list()
    logged.start()
    for i in range(20):
        await source.emit(i)
        entries, last = log_of(tmp_path / "state.db")  # read through another connection
        assert (entries[i + 1], last) == (i, i + 1)

    blocker = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the file is locked: no write can commit
    writes = logged._log.writes
    emits = [source.emit(i) for i in range(20, 30)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert not any(e.done() for e in emits)  # none is durable, so none is accepted
    assert out == list(range(20))  # and the graph got none of them
    blocker.execute("ROLLBACK")
    await asyncio.gather(*emits)
    assert logged._log.writes - writes <= 2  # group commit: 10 elements, 1 or 2 writes
    await logged.drain()
    assert out == list(range(30))
    logged.stop()
    await logged.wait()
    blocker.close()
    store.close()


async def test_checkpoints_go_on_while_the_producer_never_pauses():
    store = MemoryStore()
    seen = []
    source = Stream()
    logged = source.durable_input(store, max_backlog=5, stream_name="input")

    async def slow(x):
        await asyncio.sleep(0.25)
        seen.append(x)

    logged.sink(slow)

    async def produce():
        i = 0
        while True:
            await source.emit(i)  # always one element waiting for room
            i += 1

    loop = asyncio.get_running_loop()
    positions = []
    async with Checkpointer(logged, store=store, interval=None) as ck:
        producer = asyncio.ensure_future(produce())
        try:
            for _ in range(3):
                await asyncio.sleep(1)
                asked = loop.time()
                await ck.checkpoint()
                assert loop.time() - asked < 0.3  # the cut waits for the element in hand only
                positions.append(store.load().positions["input"])
        finally:
            producer.cancel()
    assert positions == sorted(set(positions)) and positions[0] > 0
    assert len(seen) == logged.position


# ------------------------------------------------------------------ pruning


@pytest.mark.real_time
async def test_a_committed_checkpoint_deletes_the_entries_it_holds(tmp_path):
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    source = Stream()
    logged = source.durable_input(store, stream_name="orders")
    out = logged.sink_to_list()
    async with Checkpointer(logged, store=store, interval=None) as ck:
        for i in range(5):
            await source.emit(i)
        await logged.drain()
        logged.stop()  # the graph stops taking elements; the log goes on
        await logged.wait()
        for i in range(5, 10):
            await source.emit(i)
        assert log_of(path) == ({n + 1: n for n in range(10)}, 10)
        await ck.checkpoint()
        assert log_of(path) == ({n + 1: n for n in range(5, 10)}, 10)  # 1-5 are done
        logged.start()
        await logged.drain()
        await ck.checkpoint()
        assert log_of(path) == ({}, 10)
    assert out == list(range(10))
    store.close()


async def test_stop_with_drain_pushes_the_rest_of_the_log():
    store = MemoryStore()
    seen = []
    source, logged, count = counting_graph(store, seen)
    ck = Checkpointer(logged, store=store, interval=None)
    await ck.start()
    for i in range(6):
        await source.emit(i)
    await ck.stop(drain=True)  # the input has ended: its log too
    assert (seen, count.state) == (list(range(6)), 6)
    assert store.load().positions == {"input": 6}


# ------------------------------------------------------------------ refusals and errors


@pytest.mark.parametrize(
    "before",
    [
        lambda s: s.accumulate(lambda a, x: a + x, start=0, stream_name="running"),
        lambda s: s.map(abs).unique(stream_name="running"),
        lambda s: s.partition(2, stream_name="running").flatten(),
    ],
)
def test_a_stateful_node_before_the_log_is_refused(before):
    store = MemoryStore()
    source = Stream()
    logged = before(source).durable_input(store, stream_name="input")
    logged.sink_to_list()
    for given in (logged, source):  # the graph after the log, or the one before it
        with pytest.raises(DurabilityError, match=r"^input: running keeps state before"):
            Checkpointer(given, store=store)


def test_a_replayable_source_before_the_log_is_refused():
    store = MemoryStore()
    logged = Stream.from_iterable([1], stream_name="numbers").durable_input(
        store, stream_name="input"
    )
    with pytest.raises(DurabilityError, match="numbers feeds it and can replay"):
        Checkpointer(logged, store=store)


async def test_a_source_that_cannot_replay_is_accepted_behind_the_log():
    store = MemoryStore()
    q = queue.Queue()
    source = Stream.from_q(q, sleep_time=0.01)
    with pytest.raises(DurabilityError, match=r"durable_input\(store"):
        Checkpointer(source, store=store)  # without the log
    logged = source.durable_input(store, stream_name="input")
    out = logged.sink_to_list()
    for given in (source, logged):
        assert set(Checkpointer(given, store=store).sources) == {"input"}
    async with Checkpointer(source, store=store, interval=None) as ck:
        assert not source.stopped  # started with the log
        for i in range(3):
            q.put(i)
        while len(out) < 3:
            await asyncio.sleep(0.01)
    assert source.stopped and logged.stopped  # stopped with it
    assert out == [0, 1, 2]
    assert ck.last_id == 1 and store.load().positions == {"input": 3}


def test_the_log_must_be_in_the_checkpointers_store():
    logged = Stream().durable_input(MemoryStore(), stream_name="input")
    with pytest.raises(DurabilityError, match="not in the checkpointer's store"):
        Checkpointer(logged, store=MemoryStore())


def test_a_log_needs_a_name_and_a_store_it_can_live_in():
    with pytest.raises(TypeError, match="needs a stream_name"):
        Stream().durable_input(MemoryStore())
    with pytest.raises(TypeError, match="SQLiteStore or a MemoryStore"):
        Stream().durable_input(object(), stream_name="input")
    with pytest.raises(ValueError, match="max_backlog"):
        Stream().durable_input(MemoryStore(), max_backlog=0, stream_name="input")


@pytest.mark.real_time
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_an_element_that_cannot_be_pickled_is_refused_by_name(tmp_path, kind):
    store = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "state.db")
    source = Stream()
    logged = source.durable_input(store, stream_name="input")
    out = logged.sink_to_list()
    async with Checkpointer(logged, store=store, interval=None):
        await source.emit(1)
        await source.emit(2)
        with pytest.raises(TypeError, match=r"^input: the element cannot be logged") as info:
            await source.emit(lambda: 3)
        assert "in input (element <function" in info.value.__notes__[0]
        await source.emit(4)
        await logged.drain()
    assert out == [1, 2, 4]  # nothing before it lost, nothing after it held up
    assert logged.logged == 3
    if kind == "sqlite":
        store.close()


async def test_emit_on_the_durable_input_itself_logs_the_element():
    store = MemoryStore()
    logged = Stream().durable_input(store, stream_name="input")
    out = logged.sink_to_list()
    await logged.emit("a")  # not straight downstream: into the log first
    assert (out, logged.logged) == ([], 1)
    logged.start()
    await logged.drain()
    logged.stop()
    assert out == ["a"]


@pytest.mark.real_time
async def test_a_failed_write_fails_its_emitters_and_loses_nothing_before(tmp_path, monkeypatch):
    store = SQLiteStore(tmp_path / "state.db")
    source = Stream()
    logged = source.durable_input(store, stream_name="orders")
    out = logged.sink_to_list()
    logged.start()
    await source.emit("a")
    write = logged._log.write

    def disk_full(batch, prune_to):
        monkeypatch.setattr(logged._log, "write", write)  # the next write succeeds
        raise StoreError("database or disk is full")

    monkeypatch.setattr(logged._log, "write", disk_full)
    with pytest.raises(StoreError, match=r"^orders: elements could not be logged: database"):
        await source.emit("b")
    await source.emit("c")
    await logged.drain()
    assert out == ["a", "c"]
    assert log_of(tmp_path / "state.db") == ({1: "a", 2: "c"}, 2)  # no gap for "b"
    logged.stop()
    await logged.wait()
    store.close()


async def test_metadata_is_logged_without_refs_which_are_acknowledged_once_durable():
    acked = []
    source = Stream()
    logged = source.durable_input(MemoryStore(), stream_name="input")
    seen = []

    class Metadata(Stream):
        def update(self, x, who=None, metadata=()):
            seen.append((x, list(metadata)))

    Metadata(logged)
    ref = RefCounter(cb=lambda: acked.append("x"))
    await source.emit("x", metadata=[{"ref": ref, "timestamp": 5.0}])
    assert acked == ["x"]  # logged: the producer may forget it
    logged.start()
    await logged.drain()
    logged.stop()
    assert seen == [("x", [{"timestamp": 5.0}])]


async def test_an_entry_that_cannot_be_read_back_is_reported_not_dropped_silently():
    store = MemoryStore()
    source = Stream()
    logged = source.durable_input(store, stream_name="input")
    out = logged.sink_to_list()
    errors = logged.errors().map(lambda record: record.error).sink_to_list()
    for x in "abc":
        await source.emit(x)  # logged while the graph is not running: read back later
    log = streams.state.wal._MEMORY_LOGS[store]["input"]
    log.entries[1] = (2, b"not a pickle")
    logged.start()
    await logged.drain()
    logged.stop()
    assert out == ["a", "c"]
    assert [type(e) for e in errors] == [pickle.UnpicklingError]
    assert "at entry 2 of the log" in errors[0].__notes__
    assert logged.position == 3
