"""A Faust-style click counter the Kafka tests run as a worker in a child process
(``python -m streams worker -A clicks_app:app``), configured by environment variables:

CLICKS_BROKER      the mock cluster's bootstrap servers
CLICKS_STORE       the app's store (default memory://)
CLICKS_GUARANTEE   at_least_once (default) or exactly_once
CLICKS_TOTAL       print the table (one JSON line) once it counts this many clicks
CLICKS_KILL_AT     SIGKILL this process after handling this many clicks (0: never)
CLICKS_HANG_AT     get stuck after handling this many clicks (0: never)
"""

import asyncio
import json
import os
import signal

import streams.app as faust

app = faust.App(
    "clicks-test",
    broker=f"kafka://{os.environ.get('CLICKS_BROKER', 'localhost:9092')}",
    store=os.environ.get("CLICKS_STORE", "memory://"),
    processing_guarantee=os.environ.get("CLICKS_GUARANTEE", "at_least_once"),
    broker_commit_interval=0.3,
    broker_config={"session.timeout.ms": 1200, "heartbeat.interval.ms": 100},
)


class Click(faust.Record):
    user: str
    page: str


clicks = app.topic("clicks", value_type=Click)
page_counts = app.topic("page-counts", value_type=str)
counts = app.Table("counts", default=int)
TOTAL = int(os.environ.get("CLICKS_TOTAL", "0"))
KILL_AT = int(os.environ.get("CLICKS_KILL_AT", "0"))
HANG_AT = int(os.environ.get("CLICKS_HANG_AT", "0"))
handled = 0


@app.agent(clicks, sink=[page_counts])
async def count(stream):
    global handled
    async for click in stream:
        counts[click.page] += 1
        handled += 1
        if handled == KILL_AT:
            os.kill(os.getpid(), signal.SIGKILL)
        if handled == HANG_AT:
            print("hanging", flush=True)
            await asyncio.Event().wait()  # an agent stuck on an event
        if TOTAL and sum(counts.values()) == TOTAL:
            print(json.dumps(dict(counts), sort_keys=True), flush=True)
        yield f"{click.page}:{counts[click.page]}"


if __name__ == "__main__":
    app.main()
