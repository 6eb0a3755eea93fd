"""destroy(): the removed part stops its sources and timers, delivers what it had
accepted, then releases what it owns; nodes fed from elsewhere stay in service."""

import asyncio
import itertools

import pytest

from streams import Stream


async def test_destroying_a_head_delivers_the_held_window_and_stops_the_timer():
    source = Stream()
    parsed = source.map(int)
    out = parsed.timed_window(1.0).sink_to_list()
    await source.emit("1")
    await source.emit("2")
    parsed.destroy()
    await parsed.drain()
    assert out == [[1, 2]]  # delivered at once, not at the next tick
    await asyncio.sleep(5.0)  # virtual seconds: a live timer would add empty windows
    assert out == [[1, 2]]


async def test_destroying_a_running_source_stops_it():
    counter = itertools.count()
    source = Stream.from_periodic(lambda: next(counter), 1.0)
    out = source.sink_to_list()
    source.start()
    await asyncio.sleep(2.5)
    seen = list(out)
    assert seen
    source.destroy()
    await asyncio.sleep(5.0)
    assert source.stopped
    assert out == seen


async def test_an_upstream_source_left_feeding_nothing_stops():
    source = Stream.from_periodic(lambda: 1, 1.0)
    head = source.map(str)
    out = head.sink_to_list()
    source.start()
    await asyncio.sleep(1.5)
    head.destroy()
    await asyncio.sleep(3.0)
    assert source.stopped
    assert out == ["1"] or out == ["1", "1"]  # what it emitted before, nothing after


async def test_a_buffer_in_the_removed_part_is_drained_into_a_file_then_closed(tmp_path):
    path = tmp_path / "out.txt"
    source = Stream()
    head = source.map(str)
    f = open(path, "w")  # noqa: SIM115 -- destroy() closes it
    head.buffer(10).sink_to_textfile(f)
    for x in range(5):
        await source.emit(x)
    head.destroy()
    await head.drain()
    assert f.closed
    assert path.read_text().splitlines() == ["0", "1", "2", "3", "4"]


def test_destroying_a_branch_head_writes_the_held_sql_batch(tmp_path):
    sa = pytest.importorskip("sqlalchemy")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    source = Stream()
    head = source.map(lambda i: {"id": i})
    head.to_sql("t", url, create=True, flush_interval=None)
    for i in range(3):
        source.emit(i)  # a plain script: runs on the background loop
    head.destroy()  # blocks until the batch is written
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert [r.id for r in conn.execute(sa.text("select id from t order by id"))] == [0, 1, 2]
    engine.dispose()


async def test_a_node_fed_from_outside_the_removed_part_stays_in_service():
    a, b = Stream(), Stream()
    head = a.map(lambda x: x * 10)
    merged = head.union(b)
    out = merged.timed_window(1.0).sink_to_list()
    await a.emit(1)
    head.destroy()
    await b.emit(2)
    await asyncio.sleep(1.5)
    assert out == [[10, 2]]  # the window kept its element and kept ticking
    await a.emit(3)  # detached: goes nowhere
    await asyncio.sleep(1.0)
    assert out == [[10, 2], []]


async def test_an_element_that_fails_while_draining_is_reported():
    source = Stream()
    head = source.map(int)
    errors = head.errors().sink_to_list()
    head.timed_window(1.0).map(lambda w: 1 / len(w[:0])).sink_to_list()
    await source.emit("1")
    head.destroy()
    await head.drain()
    assert [type(e.error) for e in errors] == [ZeroDivisionError]


async def test_a_destroyed_branch_is_freed():
    import gc
    import weakref

    source = Stream()
    head = source.map(str)
    head.timed_window(1.0).sink(len)
    await source.emit(1)
    refs = [weakref.ref(node) for node in (head, *head.downstreams)]
    head.destroy()
    await source.drain()
    await asyncio.sleep(0)  # the window's cancelled ticker task ends at this iteration
    del head
    gc.collect()  # nothing global (the graph, its tasks, its timers) keeps the branch
    assert [r() for r in refs] == [None, None]
