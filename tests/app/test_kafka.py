"""streams.app on Kafka: Faust's README programs, unchanged but for the import, on
librdkafka's mock cluster (a real Kafka-protocol broker on loopback); decoding errors,
back pressure, a broker that is down."""

import asyncio
import itertools
import json

import pytest
from confluent_kafka import Consumer, Producer
from helpers import committed, until

import streams.app as faust

pytestmark = pytest.mark.real_time

APPS = itertools.count()


def kafka_app(cluster, name, **options):
    """An app with its own consumer group (the app id)."""
    options.setdefault("store", "memory://")
    return faust.App(
        f"{name}-{next(APPS)}",
        broker=f"kafka://{cluster.bootstrap_servers}",
        broker_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 500},
        **options,
    )


def produce(cluster, topic, messages):
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    for key, value in messages:
        producer.produce(topic, value, key=key)
    assert producer.flush(10) == 0


class Printed:
    """What a test printed so far (``capsys`` hands out each output once)."""

    def __init__(self, capsys):
        self.capsys, self.text = capsys, ""

    def lines(self):
        self.text += self.capsys.readouterr().out
        return self.text.splitlines()


async def test_readme_order_agent_prints_each_order(kafka_cluster, capsys):
    app = kafka_app(kafka_cluster, "myapp")

    # Models describe how messages are serialized:
    # {"account_id": "3fae-...", amount": 3}
    class Order(faust.Record):
        account_id: str
        amount: int

    @app.agent(value_type=Order)
    async def order(orders):
        async for order in orders:
            # process infinite stream of orders.
            print(f"Order for {order.account_id}: {order.amount}")

    printed = Printed(capsys)
    async with app:
        await order.send(value=Order(account_id="3fae", amount=3))
        await until(lambda: printed.lines() == ["Order for 3fae: 3"], 20)
        # another producer writes plain JSON
        produce(kafka_cluster, order.channel.name, [(None, b'{"account_id": "b1", "amount": 4}')])
        await until(lambda: len(printed.lines()) == 2, 20)
    assert printed.lines() == ["Order for 3fae: 3", "Order for b1: 4"]


async def test_readme_click_counter_counts_into_a_table(kafka_cluster):
    kafka_cluster.create_topic("clicks", partitions=2)
    app = kafka_app(kafka_cluster, "clicks")

    # data sent to 'clicks' topic sharded by URL key.
    # e.g. key="http://example.com" value="1"
    click_topic = app.topic("clicks", key_type=str, value_type=int)

    # default value for missing URL will be 0 with `default=int`
    counts = app.Table("click_counts", default=int)

    @app.agent(click_topic)
    async def count_click(clicks):
        async for url, count in clicks.items():
            counts[url] += count

    async with app:
        produce(kafka_cluster, "clicks", [(b"http://example.com", b"1")] * 3)
        await click_topic.send(key="http://other.org", value=5)
        await until(lambda: sum(counts.values()) == 8, 20)
    assert dict(counts) == {"http://example.com": 3, "http://other.org": 5}


async def test_readme_hello_world_with_a_timer_sender(kafka_cluster, capsys):
    app = kafka_app(kafka_cluster, "hello-app")

    class Greeting(faust.Record):
        from_name: str
        to_name: str

    topic = app.topic("hello-topic", value_type=Greeting)

    @app.agent(topic)
    async def hello(greetings):
        async for greeting in greetings:
            print(f"Hello from {greeting.from_name} to {greeting.to_name}")

    @app.timer(interval=0.2)
    async def example_sender(app):
        await hello.send(
            value=Greeting(from_name="Faust", to_name="you"),
        )

    printed = Printed(capsys)
    async with app:
        await until(lambda: len(printed.lines()) >= 2, 20)
    assert printed.lines()[:2] == ["Hello from Faust to you"] * 2


async def test_undecodable_messages_go_to_the_error_stream_and_the_agent_goes_on(
    kafka_cluster,
):
    kafka_cluster.create_topic("orders-in", partitions=1)
    app = kafka_app(kafka_cluster, "bad")

    class Order(faust.Record):
        account_id: str
        amount: int

    topic = app.topic("orders-in", value_type=Order)
    amounts, errors = [], []
    app.errors().sink(errors.append)

    @app.agent(topic)
    async def orders(stream):
        async for order in stream:
            amounts.append(order.amount)

    async with app:
        produce(
            kafka_cluster,
            "orders-in",
            [
                (None, b'{"account_id": "a", "amount": 1}'),
                (None, b"not json"),
                (None, b'{"account_id": "c", "amount": "three"}'),
                (None, b'{"account_id": "d", "amount": 4}'),
            ],
        )
        await until(lambda: amounts == [1, 4], 20)
        await until(lambda: committed(kafka_cluster, app.id, "orders-in") == [4], 20)
    notes = ["\n".join(e.error.__notes__) for e in errors]
    assert len(errors) == 2
    assert "topic orders-in partition 0 offset 1" in notes[0]
    assert "topic orders-in partition 0 offset 2" in notes[1]
    assert "amount" in str(errors[1].error)


async def test_a_slow_agent_slows_the_consumer_and_offsets_follow_handling(kafka_cluster):
    kafka_cluster.create_topic("work", partitions=1)
    app = kafka_app(kafka_cluster, "slow", stream_buffer_maxsize=10)
    topic = app.topic("work", value_type=int)
    handled = []
    gate = asyncio.Event()

    @app.agent(topic)
    async def worker(stream):
        async for n in stream:
            if n == 5:
                await gate.wait()  # stuck on the sixth message
            handled.append(n)

    produce(kafka_cluster, "work", [(None, str(i).encode()) for i in range(200)])
    async with app:
        await until(lambda: handled == [0, 1, 2, 3, 4], 20)
        await asyncio.sleep(0.5)
        inbox = worker.inbox
        assert inbox.queued <= 2 * app.conf["stream_buffer_maxsize"]  # not all 200
        assert committed(kafka_cluster, app.id, "work")[0] in (-1001, 0, 5)  # never past 5
        gate.set()
        await until(lambda: len(handled) == 200, 20)
    assert handled == list(range(200))
    assert committed(kafka_cluster, app.id, "work") == [200]


async def test_a_broker_that_is_down_gives_a_clear_error(caplog):
    app = faust.App(
        "nobroker",
        broker="kafka://127.0.0.1:1",
        store="memory://",
        broker_connect_timeout=3,
    )

    @app.agent()
    async def idle(stream):
        async for _ in stream:
            pass

    with pytest.raises(ConnectionError, match=r"cannot reach the Kafka broker at 127.0.0.1:1"):
        await app.start()
    assert "retrying in" in caplog.text
    assert not app.running


async def test_ask_gets_the_reply_over_kafka(kafka_cluster):
    app = kafka_app(kafka_cluster, "asker")

    @app.agent()
    async def double(stream):
        async for n in stream:
            yield n * 2

    async with app:
        assert await double.ask(21, timeout=20) == 42
        assert await double.join([1, 2, 3], timeout=20) == [2, 4, 6]


def test_records_read_what_faust_writes():
    class Order(faust.Record):
        account_id: str
        amount: int

    faust_json = b'{"account_id": "x", "amount": 2, "__faust": {"ns": "somewhere.Order"}}'
    assert Order.loads(faust_json) == Order(account_id="x", amount=2)
    assert json.loads(Order("x", 2).dumps())["__faust"]["ns"].endswith("Order")


async def test_group_by_repartitions_through_kafka_by_the_new_key(kafka_cluster):
    kafka_cluster.create_topic("orders-gb", partitions=2)
    app = kafka_app(kafka_cluster, "gb")

    class Order(faust.Record):
        account_id: str
        amount: int

    topic = app.topic("orders-gb", value_type=Order)
    seen = []

    @app.agent(topic)
    async def by_account(stream):
        async for event in stream.group_by(Order.account_id).events():
            seen.append((event.key, event.message.partition, event.value.amount))

    async with app:
        for i in range(12):
            await topic.send(value=Order(account_id=f"acct{i % 3}", amount=i))
        await until(lambda: len(seen) == 12, 20)
    name = f"{app.id}-orders-gb-account_id-repartition"
    assert by_account.app.topics[name].source is not None
    partitions = {}
    for key, partition, _ in seen:
        assert partitions.setdefault(key, partition) == partition  # one key, one partition
    for n, account in enumerate(("acct0", "acct1", "acct2")):
        assert sorted(a for k, _, a in seen if k == account) == list(range(n, 12, 3))


async def test_a_rebalance_does_not_count_events_twice(kafka_cluster, caplog):
    kafka_cluster.create_topic("visits", partitions=2)
    app = kafka_app(kafka_cluster, "rebalance", broker_commit_interval=100)
    visits = app.topic("visits", value_type=int)
    counts = app.Table("counts", default=int)

    @app.agent(visits)
    async def count(stream):
        async for n in stream:
            counts[n % 2] += 1

    async with app:
        produce(kafka_cluster, "visits", [(str(i).encode(), str(i).encode()) for i in range(40)])
        await until(lambda: sum(counts.values()) == 40, 20)
        # another member joins the group, takes partitions, and leaves again: both
        # partitions come back to the app, whose checkpointed offsets are still at 0
        other = Consumer(
            {
                "bootstrap.servers": kafka_cluster.bootstrap_servers,
                "group.id": app.id,
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 500,
            }
        )
        try:
            other.subscribe(["visits"])
            for _ in range(300):
                await asyncio.to_thread(other.poll, 0.1)
                if other.assignment():
                    break
            assert other.assignment()
        finally:
            await asyncio.to_thread(other.close)
        produce(kafka_cluster, "visits", [(str(i).encode(), str(i).encode()) for i in range(40)])
        await until(lambda: sum(counts.values()) >= 80, 30)
        await asyncio.sleep(1)
    assert dict(counts) == {0: 40, 1: 40}
    assert "is another worker of app" in caplog.text  # (one worker per app id)


async def test_a_table_changelog_follows_the_checkpoints_and_restores_a_memory_app(
    kafka_cluster,
):
    kafka_cluster.create_topic("words", partitions=1)
    name = f"changelog-{next(APPS)}"

    def build():
        app = faust.App(
            name,
            broker=f"kafka://{kafka_cluster.bootstrap_servers}",
            store="memory://",
            broker_config={"session.timeout.ms": 1200, "heartbeat.interval.ms": 100},
        )
        words = app.topic("words", value_type=str, value_serializer="raw")
        counts = app.Table("counts", default=int, changelog=True)

        @app.agent(words)
        async def count(stream):
            async for word in stream:
                if word == "forget-a":
                    del counts["a"]
                else:
                    counts[word] += 1

        return app, counts

    app, counts = build()
    async with app:
        produce(kafka_cluster, "words", [(None, w.encode()) for w in "abcab"])
        await until(lambda: sum(counts.values()) == 5, 20)
    # the changelog holds each key's latest value
    latest = {}
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_cluster.bootstrap_servers,
            "group.id": "changelog-reader",
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([f"{name}-counts-changelog"])
    at_end = set()  # partitions read to their end
    while not consumer.assignment() or at_end != {tp.partition for tp in consumer.assignment()}:
        msg = consumer.poll(10)
        assert msg is not None
        if msg.error():
            if msg.error().code() == -191:
                at_end.add(msg.partition())
            continue
        at_end.discard(msg.partition())
        latest[json.loads(msg.key())] = json.loads(msg.value())
    consumer.close()
    assert latest == {"a": 2, "b": 2, "c": 1}
    # a new process (nothing in memory) reads the table back, then goes on
    app, counts = build()
    async with app:
        assert dict(counts) == {"a": 2, "b": 2, "c": 1}
        produce(kafka_cluster, "words", [(None, b"c"), (None, b"forget-a")])
        await until(lambda: "a" not in counts and counts["c"] == 2, 20)
    app, counts = build()
    async with app:
        assert dict(counts) == {"b": 2, "c": 2}  # the tombstone deleted "a"
