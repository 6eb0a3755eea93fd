"""Click counting, Faust style: an agent over a Kafka topic, a table, a windowed table.

This is a Faust program with ``import faust`` changed to ``import streams.app as
faust``. Clicks (a :class:`~streams.app.Record`) arrive on the ``clicks`` topic, some of
them late (out of order); the ``count_clicks`` agent counts them per page in a table
that survives restarts, and per page and minute (by the click's own time) in a
tumbling windowed table. Both tables are checkpointed with the topic's position.

Run it with ``python examples/faust_clicks.py``: with no ``--broker`` it starts
librdkafka's built-in mock Kafka cluster (a real Kafka-protocol broker on loopback), so
nothing has to be installed. With a broker of your own:
``python examples/faust_clicks.py --broker kafka://localhost:9092``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile

import streams.app as faust

START = 1_699_999_980.0  # the clicks' event time starts here: a whole minute (epoch s)


class Click(faust.Record):
    user: str
    page: str
    at: float  # when the user clicked


def build(
    broker: str, store: str
) -> tuple[faust.App, faust.Topic, faust.Table, faust.WindowWrapper]:
    app = faust.App("faust-clicks", broker=broker, store=store)
    clicks = app.topic("clicks", value_type=Click)
    page_views = app.Table("page_views", default=int)
    per_minute = (
        app.Table("page_views_per_minute", default=int)
        .tumbling(60, expires=3600)
        .relative_to_field(Click.at)
    )

    @app.agent(clicks)
    async def count_clicks(stream: faust.Stream) -> None:
        async for click in stream:
            page_views[click.page] += 1
            per_minute[click.page] += 1

    return app, clicks, page_views, per_minute


def the_clicks() -> list[Click]:
    """300 clicks over 5 minutes on 3 pages; every 10th arrives 90 seconds late."""
    pages = ["/home", "/pricing", "/docs"]
    clicks = []
    for i in range(300):
        at = START + i
        if i % 10 == 9:
            at -= 90  # sent now, clicked a minute and a half ago
        clicks.append(Click(user=f"user{i % 17}", page=pages[(i // 7) % 3], at=at))
    return clicks


async def main(broker: str | None) -> None:
    cluster = None
    if broker is None:
        from streams.testing.kafka import MockKafkaCluster

        cluster = MockKafkaCluster()
        cluster.create_topic("clicks", partitions=1)
        broker = f"kafka://{cluster.bootstrap_servers}"
    with tempfile.TemporaryDirectory() as data:
        app, topic, page_views, per_minute = build(broker, f"sqlite://{data}/tables.db")
        clicks = the_clicks()
        async with app:
            for click in clicks:
                await topic.send(key=click.user, value=click)
            while sum(page_views.values()) < len(clicks):
                await asyncio.sleep(0.05)
        print(f"page views: {dict(sorted(page_views.items()))}")
        windows = per_minute.table.data
        for start in sorted({s for _, (s, _) in windows}):
            row = {page: n for (page, (s, _)), n in sorted(windows.items()) if s == start}
            print(f"minute {int(start - START) // 60:+d}: {row}")
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", help="kafka://host:port (default: a mock cluster)")
    asyncio.run(main(parser.parse_args().broker))
