"""Stream.to_sql (streams/sinks/sql.py), against SQLite and a real PostgreSQL server."""

import asyncio
import datetime
import gc
import inspect
import subprocess
import sys
import uuid
import warnings

import pytest
import services
import sqlalchemy as sa

from streams import ErrorRecord, RefCounter, Sink, Stream, retry
from streams.sinks.sql import ToSQL, column_types
from streams.testing import check_sink

real_time = pytest.mark.real_time


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A database URL: an SQLite file, or the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def table():
    """A table name no other test uses."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def reader(db_url):
    """An engine of the test's own, to look into the database."""
    engine = sa.create_engine(db_url)
    yield engine
    engine.dispose()


def select_rows(engine, table, order_by=None):
    """The rows of ``table`` as dicts ([] if it does not exist)."""
    try:
        t = sa.Table(table, sa.MetaData(), autoload_with=engine)
    except sa.exc.NoSuchTableError:
        return []
    query = sa.select(t)
    if order_by is not None:
        query = query.order_by(t.c[order_by])
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


async def rows_of(engine, table, order_by=None):
    return await asyncio.to_thread(select_rows, engine, table, order_by)


def make_table(engine, table, *columns):
    """Create ``table`` with ``columns`` in the database."""
    sa.Table(table, sa.MetaData(), *columns).create(engine)


async def until(condition, what="the condition held", timeout=10.0):
    """Wait until ``condition()`` (possibly async) is true; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting until {what}")
        await asyncio.sleep(0.01)


def acking(acked, x):
    """Metadata whose ref appends ``x`` to ``acked`` once released."""
    return [{"ref": RefCounter(cb=lambda: acked.append(x))}]


def counting(engine, event):
    """A list that grows by one each time ``engine`` fires ``event`` ('commit', 'begin')."""
    seen = []
    sa.event.listen(engine, event, lambda *args: seen.append(event))
    return seen


ROWS = [{"id": i, "name": f"name {i}"} for i in range(8)]


# ---------------------------------------------------------------------------- conformance


@real_time
@pytest.mark.parametrize("batch_size", [2, 1000])
async def test_conformance(db_url, table, reader, batch_size):
    await check_sink(
        lambda s: s.to_sql(table, db_url, batch_size=batch_size, create=True),
        lambda: rows_of(reader, table),
        ROWS[:5],
        batched=True,
    )


def test_builds_a_sink_with_a_label(tmp_path):
    source = Stream()
    node = source.to_sql("events", f"sqlite:///{tmp_path / 'x.db'}")
    assert isinstance(node, ToSQL) and isinstance(node, Sink)
    assert node._describe() == "to_sql<events>"
    assert (node.batch_size, node.flush_interval) == (1000, 1.0)
    named = source.to_sql("events", "sqlite://", schema="main", flush_interval="250ms")
    assert named._describe() == "to_sql<main.events>" and named.flush_interval == 0.25
    assert source.to_sql("e", "sqlite://", stream_name="db")._describe() == "db"
    for n in source.downstreams:
        n.destroy()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 0}, ValueError, "to_sql: batch_size must be a positive integer"),
        ({"batch_size": 1.5}, TypeError, "to_sql: batch_size"),
        ({"flush_interval": -1}, ValueError, "to_sql"),
        ({"flush_interval": "soon"}, ValueError, "to_sql"),
        ({"if_missing": "ignore"}, ValueError, "to_sql: if_missing"),
        ({"con": 42}, TypeError, "to_sql: con must be a database URL"),
        ({"con": "not a url"}, ValueError, "to_sql: con is not a database URL"),
        ({"table": ""}, TypeError, "to_sql: table"),
        ({"table": 7}, TypeError, "to_sql: table"),
        ({"on_error": "ignore"}, ValueError, "on_error"),
    ],
)
def test_bad_arguments_are_refused_at_build_time(kwargs, error, match):
    args = {"table": "t", "con": "sqlite://", **kwargs}
    source = Stream()
    with pytest.raises(error, match=match):
        source.to_sql(**args)
    assert source.downstreams == ()


def test_importing_streams_does_not_import_sqlalchemy():
    code = "import sys, streams; assert 'sqlalchemy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------- batching


@real_time
async def test_writes_a_batch_when_batch_size_rows_are_held(db_url, table, reader):
    seq = sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True)
    make_table(reader, table, seq, sa.Column("id", sa.Integer), sa.Column("name", sa.Text))
    engine = sa.create_engine(db_url)
    commits = counting(engine, "commit")
    source = Stream()
    node = source.to_sql(table, engine, batch_size=3, flush_interval=None)
    acked = []
    for i, row in enumerate(ROWS[:7]):
        await source.emit(row, metadata=acking(acked, i))
        if i == 1:  # held, not written: the emitter did not wait
            assert acked == [] and await rows_of(reader, table) == []
        if i == 2:  # filled the batch: returned once it was committed
            assert acked == [0, 1, 2] and len(await rows_of(reader, table)) == 3
    written = await rows_of(reader, table, order_by="seq")
    assert [(r["id"], r["name"]) for r in written] == [(r["id"], r["name"]) for r in ROWS[:6]]
    assert len(commits) == 2 and acked == list(range(6))
    await source.drain()
    assert len(await rows_of(reader, table)) == 7 and acked == list(range(7))
    node.destroy()
    assert len(select_rows(engine, table)) == 7  # an engine passed in is not disposed
    engine.dispose()


@real_time
async def test_writes_held_rows_flush_interval_after_the_first(db_url, table, reader):
    source = Stream()
    node = source.to_sql(table, db_url, flush_interval=0.2, create=True)
    loop = asyncio.get_running_loop()
    for round_ in range(2):
        acked = []
        start = loop.time()
        for row in ROWS[2 * round_ : 2 * round_ + 2]:
            await source.emit(row, metadata=acking(acked, row["id"]))
        assert acked == []  # accepted at once, held
        await until(lambda: len(acked) == 2, "the held rows were written")  # noqa: B023
        assert loop.time() - start >= 0.15
        assert len(await rows_of(reader, table)) == 2 * round_ + 2
    node.destroy()


@real_time
async def test_a_list_is_one_element_never_split_across_transactions(db_url, table, reader):
    engine = sa.create_engine(db_url)
    commits = counting(engine, "commit")
    source = Stream()
    node = source.to_sql(table, engine, batch_size=2, create=True)
    acked = []
    await source.emit(ROWS[:5], metadata=acking(acked, "batch"))
    assert acked == ["batch"] and len(commits) == 1
    assert len(await rows_of(reader, table)) == 5
    await source.emit([])  # nothing to write
    node.destroy()
    engine.dispose()


@real_time
async def test_rows_with_different_columns_share_a_batch(db_url, table, reader):
    make_table(reader, table, sa.Column("a", sa.Integer), sa.Column("b", sa.Text))
    source = Stream()
    node = source.to_sql(table, db_url)
    for row in [{"a": 1, "b": "x"}, {"a": 2}, {"b": "z"}, {"b": "w", "a": 4}]:
        await source.emit(row)
    await source.drain()
    written = await rows_of(reader, table)
    assert sorted(written, key=lambda r: r["b"] or "") == [
        {"a": 2, "b": None}, {"a": 4, "b": "w"}, {"a": 1, "b": "x"}, {"a": None, "b": "z"},
    ]  # fmt: skip
    node.destroy()


# ---------------------------------------------------------------------------- tables


@real_time
async def test_create_makes_the_table_with_types_inferred_from_values(db_url, table, reader):
    at = datetime.datetime(2026, 1, 2, 3, 4, 5)
    rows = [
        {"n": 1, "x": 1.5, "s": "a", "b": b"\x00\xff", "flag": True, "at": at, "none": None},
        {"n": 2, "x": 2, "s": None, "b": None, "flag": False, "at": None, "none": None},
    ]
    source = Stream()
    node = source.to_sql(table, db_url, create=True)
    for row in rows:
        await source.emit(row)
    await source.drain()
    types = {c["name"]: c["type"] for c in sa.inspect(reader).get_columns(table)}
    expected = {
        "n": sa.Integer, "x": sa.Float, "s": sa.String, "b": sa.LargeBinary,
        "flag": sa.Boolean, "at": sa.DateTime, "none": sa.String,
    }  # fmt: skip
    assert list(types) == list(expected)
    for name, kind in expected.items():
        assert isinstance(types[name], kind), (name, types[name])
    assert await rows_of(reader, table, order_by="n") == [{**rows[0]}, {**rows[1], "x": 2.0}]
    node.destroy()


def test_column_types_merges_numbers_and_refuses_mixtures():
    assert isinstance(column_types([{"a": 1}, {"a": 2.5}])["a"], sa.Float)
    assert isinstance(column_types([{"a": True}, {"a": 3}])["a"], sa.BigInteger)
    assert isinstance(column_types([{"a": {"k": [1]}}])["a"], sa.JSON)
    aware = datetime.datetime.now(datetime.UTC)
    assert column_types([{"t": aware}])["t"].timezone is True
    with pytest.raises(TypeError, match="column 'a' mixes values of types"):
        column_types([{"a": 1}, {"a": "one"}])
    with pytest.raises(TypeError, match="column 'a': cannot infer a column type from object"):
        column_types([{"a": object()}])


@real_time
async def test_writes_to_a_given_table_object_and_creates_it(db_url, table, reader):
    given = sa.Table(table, sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("v", sa.Text))
    source = Stream()
    node = source.to_sql(given, db_url, create=True)
    await source.emit({"id": 1, "v": "one"})
    await source.drain()
    assert await rows_of(reader, table) == [{"id": 1, "v": "one"}]
    node.destroy()


@real_time
async def test_if_missing_raise_refuses_rows_lacking_columns(db_url, table, reader):
    key = sa.Column("key", sa.Integer, primary_key=True, autoincrement=True)
    make_table(reader, table, key, sa.Column("name", sa.Text), sa.Column("note", sa.Text))
    source = Stream()
    errors = source.errors().sink_to_list()
    strict = source.to_sql(table, db_url, if_missing="raise")
    await source.emit({"name": "a"})  # lacks note; key is generated
    await source.drain()
    assert await rows_of(reader, table) == []
    assert "lacks columns ['note']" in str(errors[0].error)
    strict.destroy()
    lenient = source.to_sql(table, db_url)  # if_missing="default"
    await source.emit({"name": "a"})
    await source.drain()
    assert [(r["name"], r["note"]) for r in await rows_of(reader, table)] == [("a", None)]
    lenient.destroy()


# ---------------------------------------------------------------------------- acknowledgement


@real_time
async def test_a_row_is_acknowledged_only_once_it_is_in_the_table(db_url, table, reader):
    make_table(reader, table, sa.Column("id", sa.Integer), sa.Column("name", sa.Text))
    source = Stream()
    node = source.to_sql(table, db_url, batch_size=3)
    seen_in_table = []

    def check(i):
        ids = [r["id"] for r in select_rows(reader, table)]
        seen_in_table.append(i in ids)

    refs = [RefCounter(cb=lambda i=i: check(i)) for i in range(4)]
    for i in range(4):
        await source.emit(ROWS[i], metadata=[{"ref": refs[i]}])
    assert seen_in_table == [True] * 3 and refs[3].count == 1  # the 4th is held
    await source.drain()
    assert seen_in_table == [True] * 4
    node.destroy()


# ---------------------------------------------------------------------------- failures


@real_time
@pytest.mark.parametrize(
    ("bad_row", "error", "message"),
    [
        ({"id": 99}, sa.exc.IntegrityError, "name"),  # violates NOT NULL
        ({"id": 99, "name": "x", "colour": "red"}, ValueError, "lacks: ['colour']"),
    ],
)
async def test_a_failing_batch_rolls_back_reaches_errors_and_is_not_acknowledged(
    db_url, table, reader, bad_row, error, message
):
    name = sa.Column("name", sa.Text, nullable=False)
    make_table(reader, table, sa.Column("id", sa.Integer), name)
    source = Stream()
    errors = source.errors().sink_to_list()
    node = source.to_sql(table, db_url, batch_size=3)
    acked = []
    batch = [ROWS[0], ROWS[1], bad_row]
    for i, row in enumerate(batch):
        await source.emit(row, metadata=acking(acked, i))  # no emitter receives the error
    assert await rows_of(reader, table) == []  # rolled back as a whole
    assert acked == []
    [record] = errors
    assert isinstance(record, ErrorRecord) and record.node is node
    assert isinstance(record.error, error) and message in str(record.error)
    assert record.element == batch
    assert f"in to_sql<{table}>" in record.error.__notes__[0]
    for row in ROWS[3:6]:  # the sink goes on
        await source.emit(row, metadata=acking(acked, row["id"]))
    assert [r["id"] for r in await rows_of(reader, table, "id")] == [3, 4, 5]
    assert acked == [3, 4, 5]
    node.destroy()


@real_time
async def test_without_an_error_stream_drain_raises_the_failure(db_url, table, reader):
    source = Stream()
    node = source.to_sql(table, db_url)  # the table does not exist, create=False
    await source.emit(ROWS[0])
    with pytest.raises(sa.exc.NoSuchTableError) as caught:
        await source.drain()
    assert "does not exist (create=True creates it)" in "\n".join(caught.value.__notes__)
    node.destroy()


@real_time
@pytest.mark.parametrize("policy", ["dead_letter", "skip"])
async def test_skipped_or_dead_lettered_batches_are_acknowledged(db_url, table, policy):
    source = Stream()
    errors = source.errors().sink_to_list()
    node = source.to_sql(table, db_url, on_error=policy)
    acked = []
    await source.emit(ROWS[0], metadata=acking(acked, 0))
    await source.drain()
    assert acked == [0]
    assert len(errors) == (1 if policy == "dead_letter" else 0)
    node.destroy()


@real_time
async def test_retry_writes_the_whole_batch_again(db_url, table, reader):
    engine = sa.create_engine(db_url)
    attempts = counting(engine, "begin")
    source = Stream()
    errors = source.errors().sink_to_list()
    node = source.to_sql(table, engine, batch_size=2, on_error=retry(10, backoff=0.02))
    acked = []
    await source.emit(ROWS[0], metadata=acking(acked, 0))
    filler = asyncio.ensure_future(source.emit(ROWS[1], metadata=acking(acked, 1)))
    await until(lambda: len(attempts) >= 2, "the batch failed and was tried again")
    assert not filler.done()  # the emitter that filled the batch waits meanwhile
    await asyncio.to_thread(
        make_table, reader, table, sa.Column("id", sa.Integer), sa.Column("name", sa.Text)
    )
    await filler
    assert len(await rows_of(reader, table)) == 2 and acked == [0, 1] and errors == []
    node.destroy()
    engine.dispose()


@real_time
async def test_retry_gives_up_after_its_attempts(db_url, table):
    engine = sa.create_engine(db_url)
    attempts = counting(engine, "begin")
    source = Stream()
    errors = source.errors().sink_to_list()
    node = source.to_sql(table, engine, batch_size=1, on_error=retry(2, backoff=0.01))
    acked = []
    await source.emit(ROWS[0], metadata=acking(acked, 0))
    assert len(attempts) == 3 and acked == []
    [record] = errors
    assert "gave up after 2 retries" in record.error.__notes__
    node.destroy()
    engine.dispose()


def test_elements_that_are_not_rows_are_refused_to_the_emitter(tmp_path):
    source = Stream()
    node = source.to_sql("t", f"sqlite:///{tmp_path / 'x.db'}")
    for bad, match in [(42, "got int"), (["a"], "a row must be a dict"), ({1: 2}, "strings")]:
        with pytest.raises(TypeError, match=match) as caught:
            source.emit(bad)
        assert caught.value.__notes__[0].startswith("in to_sql<t> (element ")
    node.destroy()


# ---------------------------------------------------------------------------- unreachable


async def forward(port, target_port):
    """A TCP server on ``port`` passing connections through to ``target_port``."""
    tasks = set()

    async def pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(reader, writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        task = asyncio.ensure_future(
            asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        )
        tasks.add(task)

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    return server, tasks


@real_time
async def test_unreachable_postgres_is_reported_and_retried_until_it_is_back(postgres_url, table):
    port = services.free_port()
    url = sa.make_url(postgres_url).set(port=port)
    source = Stream()
    errors = source.errors().sink_to_list()
    node = source.to_sql(table, url, batch_size=1, create=True)
    acked = []
    emitting = asyncio.ensure_future(source.emit(ROWS[0], metadata=acking(acked, 0)))
    await until(lambda: len(errors) >= 2, "two failed attempts were reported")
    target = url.render_as_string(hide_password=True)
    assert isinstance(errors[0].error, sa.exc.OperationalError) and errors[0].node is node
    assert f"in to_sql<{table}>: cannot reach {target}; retrying in 0.1s" in (
        errors[0].error.__notes__
    )
    assert errors[1].error.__notes__[-1].endswith("retrying in 0.2s")
    assert acked == [] and not emitting.done()

    server, pipes = await forward(port, sa.make_url(postgres_url).port)
    try:
        await emitting  # the filler waited for the commit, through the outage
        assert acked == [0]
        reader = sa.create_engine(postgres_url)
        assert await rows_of(reader, table) == [ROWS[0]]
        reader.dispose()
        node.destroy()  # closes its connection: the pipes end
        await asyncio.wait_for(asyncio.gather(*pipes), 10)
    finally:
        server.close()
        await server.wait_closed()


@real_time
async def test_unreachable_sqlite_file_is_retried_and_new_rows_gather_meanwhile(tmp_path, table):
    folder = tmp_path / "not yet"
    engine = sa.create_engine(f"sqlite:///{folder / 'db.sqlite'}")
    commits = counting(engine, "commit")
    source = Stream()
    errors = source.errors().sink_to_list()
    node = source.to_sql(table, engine, create=True, flush_interval=0.05)
    acked = []
    await source.emit(ROWS[0], metadata=acking(acked, 0))
    await until(lambda: errors, "the first batch could not be written")
    assert "cannot reach sqlite:///" in errors[0].error.__notes__[-1]
    await source.emit(ROWS[1], metadata=acking(acked, 1))
    await asyncio.sleep(0.1)  # its flush time passes while the writer is busy
    await source.emit(ROWS[2], metadata=acking(acked, 2))
    folder.mkdir()
    await until(lambda: len(acked) == 3, "every row was written")
    assert len(commits) == 2  # [row 0], then [row 1, row 2]: not one batch per timer
    node.destroy()
    assert select_rows(engine, table, "id") == ROWS[:3]
    engine.dispose()


@real_time
async def test_destroy_gives_up_on_an_unreachable_database(table):
    url = f"postgresql+psycopg://streams@127.0.0.1:{services.free_port()}/postgres"
    source = Stream()
    errors = source.errors().sink_to_list()
    node = source.to_sql(table, url, flush_interval=None)
    acked = []
    await source.emit(ROWS[0], metadata=acking(acked, 0))
    node.destroy()
    await source.drain()  # waits for the sink's last attempt
    assert errors and errors[-1].error.__notes__[-1].endswith("giving up: the sink was destroyed")
    assert acked == []


# ---------------------------------------------------------------------------- drain, destroy


@real_time
async def test_drain_writes_a_partial_batch(db_url, table, reader):
    source = Stream()
    node = source.to_sql(table, db_url, flush_interval=None, create=True)
    acked = []
    for i, row in enumerate(ROWS[:3]):
        await source.emit(row, metadata=acking(acked, i))
    assert acked == [] and await rows_of(reader, table) == []
    await source.drain()
    assert await rows_of(reader, table, "id") == ROWS[:3] and acked == [0, 1, 2]
    node.destroy()


@real_time
async def test_destroy_writes_what_is_held_then_closes(db_url, table, reader):
    source = Stream()
    node = source.to_sql(table, db_url, flush_interval=None, create=True)
    acked = []
    for i, row in enumerate(ROWS[:3]):
        await source.emit(row, metadata=acking(acked, i))
    node.destroy()
    node.destroy()
    await until(lambda: len(acked) == 3, "the held rows were written")
    await source.drain()
    assert await rows_of(reader, table, "id") == ROWS[:3]
    del node
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_destroy_in_a_plain_script_blocks_until_written(tmp_path, table):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    source = Stream()
    node = source.to_sql(table, url, create=True)
    for row in ROWS[:3]:
        source.emit(row)  # runs on the background loop
    node.destroy()
    reader = sa.create_engine(url)
    assert select_rows(reader, table, "id") == ROWS[:3]
    reader.dispose()


@real_time
async def test_dataframes_are_written_row_by_row(tmp_path, table):
    import pandas as pd  # a test dependency (pyproject.toml)

    url = f"sqlite:///{tmp_path / 'x.db'}"
    at = datetime.datetime(2026, 1, 2, 3, 4, 5)
    frame = pd.DataFrame(
        {
            "id": [1, 2],
            "x": [0.5, None],
            "s": ["a", None],
            "at": [at, None],
            "ok": [True, False],
        },
        index=["i", "j"],  # the index is not written
    )
    source = Stream()
    node = source.to_sql(table, url, create=True)
    acked = []
    await source.emit(frame, metadata=acking(acked, "frame"))
    await source.drain()
    assert acked == ["frame"]
    node.destroy()
    reader = sa.create_engine(url)
    types = {c["name"]: c["type"] for c in sa.inspect(reader).get_columns(table)}
    assert [type(t).__name__ for t in types.values()] == [
        "BIGINT", "FLOAT", "TEXT", "DATETIME", "BOOLEAN",
    ]  # fmt: skip
    assert select_rows(reader, table, "id") == [
        {"id": 1, "x": 0.5, "s": "a", "at": at, "ok": True},
        {"id": 2, "x": None, "s": None, "at": None, "ok": False},
    ]
    reader.dispose()
