"""A live sensor pipeline with its dashboard.

Three simulated sensors report every 20 ms. The graph drops implausible readings, keeps
a moving average of the boiler, batches all readings every 250 ms for a (slow,
asynchronous) database writer, and counts alarms. ``streams.dashboard.serve`` shows the
graph, every node's metrics and live plots of the boiler average and of the readings'
rate at http://127.0.0.1:8787/ while it runs.

Run it with ``python examples/dashboard.py`` (Ctrl-C stops it), or for a few seconds with
``python examples/dashboard.py --seconds 3 --port 0``; it needs ``pip install
'streams[plot]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import random
from collections import deque
from statistics import fmean

from streams import Stream, dashboard

SENSORS = ("boiler", "attic", "cellar")


def reading_source(rng: random.Random) -> Stream[dict[str, object]]:
    """Readings from the three sensors in turn, one every 20 ms; one in 50 is garbled."""
    ticks = itertools.count()

    def read() -> dict[str, object]:
        i = next(ticks)
        sensor = SENSORS[i % len(SENSORS)]
        base = {"boiler": 60 + 15 * math.sin(i / 200), "attic": 24.0, "cellar": 12.0}[sensor]
        celsius = base + rng.uniform(-0.5, 0.5)
        if rng.random() < 0.02:
            celsius = -999.0  # a sensor glitch
        return {"sensor": sensor, "tick": i, "celsius": round(celsius, 2)}

    return Stream.from_periodic(read, poll_interval=0.02, stream_name="sensors")


async def write_batch(batch: list[dict[str, object]]) -> None:
    """Stands in for a database insert that takes 30 ms per batch."""
    await asyncio.sleep(0.03)


async def main(seconds: float | None, port: int) -> None:
    rng = random.Random(3)
    source = reading_source(rng)
    valid = source.filter(lambda r: -50 < r["celsius"] < 150, stream_name="plausible")
    boiler = valid.filter(lambda r: r["sensor"] == "boiler", stream_name="boiler")
    window: deque[float] = deque(maxlen=10)

    def average(r: dict[str, object]) -> float:
        window.append(float(r["celsius"]))  # type: ignore[arg-type]
        return round(fmean(window), 2)

    boiler_average = boiler.map(average, stream_name="boiler average")
    alarms = boiler_average.filter(lambda c: c > 70, stream_name="too hot")
    alarm_count = alarms.accumulate(lambda n, _: n + 1, start=0, stream_name="alarms")
    alarm_count.sink(lambda n: None, stream_name="pager")
    valid.timed_window(0.25, stream_name="batches").filter(len).sink(
        write_batch, stream_name="database"
    )

    page = dashboard.serve(boiler_average, alarm_count, port=port)
    print(f"dashboard at {page.url}", flush=True)
    source.start()
    try:
        if seconds is None:
            await asyncio.Event().wait()  # until Ctrl-C
        else:
            await asyncio.sleep(seconds)
    finally:
        await source.shutdown()
        figures = page.figures()
        print(
            f"readings: {figures['sensors']['out']}, plausible: {figures['plausible']['out']}, "
            f"batches written: {figures['database']['in']}"
        )
        print(f"dashboard stopped with the graph: {page.stopped}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="run this long, then stop")
    parser.add_argument("--port", type=int, default=8787, help="0: any free port")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.seconds, args.port))
