"""streams.app agents, streams, tables and timers on the in-process broker
(``broker="memory://"``), on the virtual-time loop: exact results, exact times."""

import asyncio

import pytest

import streams.app as faust
from streams.app.streaming import AgentStream


def make_app(name="t", **options):
    options.setdefault("store", "memory://")
    return faust.App(name, broker="memory://", **options)


class Order(faust.Record):
    account_id: str
    amount: int


async def test_an_agent_gets_each_value_once_in_order():
    app = make_app()
    seen = []

    @app.agent(value_type=Order)
    async def orders(stream):
        async for order in stream:
            seen.append((order.account_id, order.amount))

    async with app:
        for i in range(5):
            await orders.send(value=Order(account_id=f"a{i}", amount=i))
    assert seen == [(f"a{i}", i) for i in range(5)]
    assert orders.channel.name == f"t-{__name__}.{orders.fun.__qualname__}"


async def test_items_events_enumerate_filter_and_map():
    app = make_app()
    topic = app.topic("words", key_type=str, value_type=str)
    got = {"items": [], "events": [], "enum": [], "fm": []}

    @app.agent(topic)
    async def items(stream):
        async for key, value in stream.items():
            got["items"].append((key, value))

    @app.agent(topic)
    async def events(stream):
        async for event in stream.events():
            got["events"].append((event.message.topic, event.message.offset, event.key))

    @app.agent(topic)
    async def enum(stream):
        async for i, value in stream.enumerate(start=1):
            got["enum"].append((i, value))

    @app.agent(topic)
    async def fm(stream):
        async for value in stream.filter(lambda v: v != "b").map(str.upper):
            got["fm"].append(value)

    async with app:
        for key, word in [("k1", "a"), ("k2", "b"), ("k3", "c")]:
            await topic.send(key=key, value=word)
    assert got["items"] == [("k1", "a"), ("k2", "b"), ("k3", "c")]
    assert got["events"] == [("words", 0, "k1"), ("words", 1, "k2"), ("words", 2, "k3")]
    assert got["enum"] == [(1, "a"), (2, "b"), (3, "c")]
    assert got["fm"] == ["A", "C"]


async def test_take_batches_by_count_and_by_time():
    app = make_app()
    loop = asyncio.get_running_loop()
    batches = []

    @app.agent()
    async def batcher(stream):
        async for batch in stream.take(3, within=10):
            batches.append((loop.time(), batch))

    async with app:
        t0 = loop.time()
        for i in range(4):
            await batcher.send(value=i)
        await asyncio.sleep(20)
    assert [(t - t0, b) for t, b in batches] == [(0, [0, 1, 2]), (10, [3])]


async def test_what_an_agent_yields_goes_to_its_sinks_and_to_an_asker():
    app = make_app()
    collected = []
    out = app.channel()

    @app.agent(out)
    async def downstream(stream):
        async for value in stream:
            collected.append(("agent", value))

    async def record(value):
        collected.append(("async", value))

    @app.agent(sink=[downstream, record, lambda v: collected.append(("fn", v))])
    async def double(stream):
        async for value in stream:
            yield value * 2

    async with app:
        assert await double.ask(21) == 42
        await double.cast(5)
        assert await double.join([1, 2, 3]) == [2, 4, 6]
    assert ("fn", 42) in collected and ("async", 10) in collected
    assert sorted(v for kind, v in collected if kind == "agent") == [2, 4, 6, 10, 42]


async def test_concurrency_runs_instances_side_by_side():
    app = make_app()
    loop = asyncio.get_running_loop()
    done = []

    @app.agent(concurrency=3)
    async def slow(stream):
        async for value in stream:
            await asyncio.sleep(1)
            done.append((loop.time(), value))

    async with app:
        t0 = loop.time()
        for i in range(3):
            await slow.send(value=i)
    assert sorted(done) == [(t0 + 1, 0), (t0 + 1, 1), (t0 + 1, 2)]  # not one after another


async def test_a_slow_agent_holds_back_the_sender():
    app = make_app(stream_buffer_maxsize=2)
    loop = asyncio.get_running_loop()
    sent = []

    @app.agent()
    async def slow(stream):
        async for _ in stream:
            await asyncio.sleep(1)

    async with app:
        t0 = loop.time()
        for i in range(6):
            await slow.send(value=i)
            sent.append(loop.time() - t0)
    # two fit in the inbox; then each send waits for the agent to take one
    assert sent[:2] == [0, 0] and sent[-1] >= 3


async def test_an_agent_that_raises_is_reported_and_goes_on():
    app = make_app()
    seen, errors = [], []
    app.errors().sink(errors.append)

    @app.agent()
    async def fragile(stream):
        async for value in stream:
            if value == 2:
                raise ValueError("two is bad")
            seen.append(value)

    async with app:
        for i in range(5):
            await fragile.send(value=i)
    assert seen == [0, 1, 3, 4]
    assert len(errors) == 1 and "two is bad" in str(errors[0])
    assert any("restarts" in note for note in errors[0].error.__notes__)


async def test_a_value_that_does_not_decode_goes_to_the_error_stream():
    app = make_app()
    topic = app.topic("orders", value_type=Order)
    seen, errors = [], []
    app.errors().sink(errors.append)

    @app.agent(topic)
    async def orders(stream):
        async for order in stream:
            seen.append(order.amount)

    async with app:
        await topic.send(value=Order(account_id="a", amount=1))
        await topic.send(value={"account_id": "b", "amount": "lots"})
        await topic.send(value=Order(account_id="c", amount=3))
    assert seen == [1, 3]
    (record,) = errors
    assert "amount" in str(record.error)
    assert "topic orders partition 0 offset 1" in "".join(record.error.__notes__)


async def test_group_by_repartitions_by_a_field():
    app = make_app()
    topic = app.topic("orders", value_type=Order)
    keys = []

    @app.agent(topic)
    async def by_account(stream):
        async for event in stream.group_by(Order.account_id).events():
            keys.append((event.key, event.value.amount, event.message.topic))

    async with app:
        await topic.send(value=Order(account_id="x", amount=1))
        await topic.send(value=Order(account_id="y", amount=2))
        for _ in range(5):
            await asyncio.sleep(0)
    assert keys == [
        ("x", 1, "t-orders-account_id-repartition"),
        ("y", 2, "t-orders-account_id-repartition"),
    ]


async def test_timers_and_tasks_run_on_the_loop():
    app = make_app()
    loop = asyncio.get_running_loop()
    ticks, started = [], []

    @app.timer(interval=2.0)
    async def tick():
        ticks.append(loop.time())

    @app.task
    async def hello(app_):
        started.append(app_.id)

    async with app:
        t0 = loop.time()
        await asyncio.sleep(7)
    assert [t - t0 for t in ticks] == [2, 4, 6]
    assert started == ["t"]


async def test_app_stream_reads_a_topic_from_a_task():
    app = make_app()
    topic = app.topic("numbers", value_type=int)
    stream = app.stream(topic)
    total = []

    @app.task
    async def summer():
        async for n in stream:
            total.append(n)

    @app.agent(topic)
    async def also(s):
        async for _ in s:
            pass

    async with app:
        for n in (1, 2, 3):
            await topic.send(value=n)
        for _ in range(5):
            await asyncio.sleep(0)
    assert total == [1, 2, 3]
    assert isinstance(stream, AgentStream)


def test_bad_arguments_are_refused_with_names():
    with pytest.raises(ValueError, match="processing_guarantee"):
        faust.App("x", processing_guarantee="twice")
    with pytest.raises(TypeError, match="unknown settings"):
        faust.App("x", no_such_setting=1)
    with pytest.raises(ValueError, match="broker"):
        faust.App("x", broker="rabbit://h")
    app = make_app()
    with pytest.raises(ValueError, match="concurrency"):
        app.agent(concurrency=0)(lambda s: s)
    with pytest.raises(ValueError, match="interval"):
        app.timer(0)
    with pytest.raises(ValueError, match="store"):
        make_app(store="redis://")._open_store()
    app.Table("t")
    with pytest.raises(ValueError, match="table named 't'"):
        app.Table("t")


# ---------------------------------------------------------------------- tables


async def test_tables_survive_a_restart_with_a_sqlite_store(tmp_path):
    def build():
        app = make_app("durable", store=f"sqlite://{tmp_path}/t.db")
        counts = app.Table("counts", default=int)

        @app.agent()
        async def count(words):
            async for word in words:
                counts[word] += 1

        return app, counts, count

    app, counts, count = build()
    async with app:
        for word in "abab":
            await count.send(value=word)
    app, counts, count = build()
    async with app:
        assert dict(counts) == {"a": 2, "b": 2}
        await count.send(value="c")
        del counts["a"]
    app, counts, count = build()
    async with app:
        assert dict(counts) == {"b": 2, "c": 1}


async def test_table_defaults_are_not_stored_until_assigned():
    app = make_app()
    table = app.Table("lists", default=list)
    assert table["missing"] == [] and "missing" not in table
    table["k"] = [1]
    assert len(table) == 1 and list(table) == ["k"]
    with pytest.raises(KeyError):
        app.Table("plain")["nothing"]


async def test_tumbling_windowed_counts_with_out_of_order_events():
    app = make_app()
    closed = []
    views = app.Table(
        "views", default=int, on_window_close=lambda k, v: closed.append((k, v))
    ).tumbling(10, expires=30)
    current = []

    @app.agent()
    async def count(pages):
        async for page in pages:
            views[page] += 1
            current.append(views[page].current())

    async with app:
        for t in [100, 105, 112, 103, 119, 160, 101]:  # 103 and 101 arrive late
            await count.send(value="home", timestamp=t)
        await app.wait_idle()
        assert views.table.data == {
            ("home", (100.0, 110.0)): 3,  # 101 was dropped: 160 - 30 is past 110
            ("home", (110.0, 120.0)): 2,
            ("home", (160.0, 170.0)): 1,
        }
        app._expire()
        assert closed == [
            (("home", (100.0, 110.0)), 3),
            (("home", (110.0, 120.0)), 2),
        ]
    assert current == [1, 2, 1, 3, 2, 1, 3]  # the late 101 did not count


async def test_hopping_windows_count_an_event_in_each_window_and_read_deltas():
    app = make_app()
    views = app.Table("views", default=int).hopping(10, 5)
    reads = []

    @app.agent()
    async def count(pages):
        async for page in pages:
            views[page] += 1
            w = views[page]
            reads.append((w.current(), w.delta(5), w.value()))

    async with app:
        await count.send(value="p", timestamp=12)
        await count.send(value="p", timestamp=17)
    assert views.table.data == {
        ("p", (5.0, 15.0)): 1,
        ("p", (10.0, 20.0)): 2,
        ("p", (15.0, 25.0)): 1,
    }
    # current: the latest window holding the time; delta(5): the one 5 s before
    assert reads == [(1, 1, 1), (1, 2, 1)]


async def test_windowed_table_relative_to_a_field():
    class View(faust.Record):
        page: str
        at: float

    app = make_app()
    views = app.Table("views", default=int).tumbling(60).relative_to_field(View.at)

    @app.agent(value_type=View)
    async def count(stream):
        async for view in stream:
            views[view.page] += 1

    async with app:
        await count.send(value=View(page="a", at=30.0), timestamp=1000)
        await count.send(value=View(page="a", at=90.0), timestamp=1000)
    assert sorted(views.table.data) == [("a", (0.0, 60.0)), ("a", (60.0, 120.0))]


async def test_through_a_topic_keeps_the_keys():
    app = make_app()
    source = app.topic("raw", key_type=str, value_type=int)
    app.topic("cooked", key_type=str, value_type=int)
    got = []

    @app.agent(source)
    async def cook(stream):
        async for event in stream.through("cooked").events():
            got.append((event.message.topic, event.key, event.value))

    async with app:
        await source.send(key="k", value=1)
        await source.send(key="j", value=2)
        await app.wait_idle()
    assert got == [("cooked", "k", 1), ("cooked", "j", 2)]


def test_what_streams_app_does_not_provide_says_so():
    app = make_app()
    with pytest.raises(NotImplementedError, match="no web server"):
        app.page("/counts/")
    with pytest.raises(NotImplementedError, match=r"app\.timer"):
        app.crontab("0 20 * * *")


async def test_an_agent_is_tested_alone_with_faust_test_context():
    app = faust.App("under-test", broker="kafka://localhost:1", store="memory://")

    @app.agent()
    async def shout(stream):
        async for word in stream:
            if word == "boom":
                raise RuntimeError("boom!")
            yield word.upper() + "!"

    async with shout.test_context() as agent:
        event = await agent.put("hey")
        assert event.message.offset == 0
        assert agent.results[0] == "HEY!"
        await agent.put("you", key="k")
        assert agent.results == {0: "HEY!", 1: "YOU!"}
        with pytest.raises(RuntimeError, match="boom!"):
            await agent.put("boom")
    assert not app.running  # the app itself never started (no broker was needed)


async def test_group_by_after_the_start_is_refused_with_the_reason():
    app = make_app()
    topic = app.topic("late", value_type=int)
    errors = []
    app.errors().sink(errors.append)

    @app.agent(topic)
    async def late(stream):
        await asyncio.sleep(1)  # the graph is built meanwhile
        async for _ in stream.group_by(abs, name="abs"):
            pass

    async with app:
        await asyncio.sleep(2)
    assert "before its first await" in str(errors[0].error)


async def test_an_agent_with_group_by_restarts_on_the_same_stream():
    app = make_app()
    topic = app.topic("orders", value_type=Order)
    amounts = []
    errors = []
    app.errors().sink(errors.append)

    @app.agent(topic)
    async def by_account(stream):
        async for order in stream.group_by(Order.account_id):
            if order.amount == 2:
                raise ValueError("bad order")
            amounts.append(order.amount)

    async with app:
        for i in range(4):
            await topic.send(value=Order(account_id="x", amount=i))
        await app.wait_idle()
    assert amounts == [0, 1, 3]
    assert len(errors) == 1 and "bad order" in str(errors[0].error)
