"""Quick start: a live sensor pipeline.

Temperature readings arrive as JSON text, the way a device callback or a socket would
deliver them. The graph parses each reading, keeps a 5-reading moving average per
sensor, raises an alert whenever a sensor's average crosses a threshold (and clears it
when it falls back), counts readings per sensor, and stores the readings in batches:
every 250 ms a ``timed_window`` hands what arrived to an ``async`` batch writer. A
slow writer holds the producer back (back pressure). A malformed reading raises its
usual exception, with a note naming the node and the element, and the pipeline
carries on with the next one. At the end, ``drain()`` pushes out the last, partial
batch, so no accepted reading is lost when the script exits.

Run it with ``python examples/quickstart.py``.
"""

from __future__ import annotations

import asyncio
import json
import random
from statistics import fmean

from streams import Stream

THRESHOLD = 30.0
SENSORS = ("boiler", "attic", "cellar")


def feed(n: int, seed: int = 7) -> list[str]:
    """``n`` JSON readings: a boiler warming up, two steady rooms, one garbled line."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        sensor = SENSORS[i % len(SENSORS)]
        base = {"boiler": 22.0 + 0.4 * i, "attic": 26.0, "cellar": 12.0}[sensor]
        if sensor == "boiler" and i > 45:
            base = 22.0 + 0.4 * (90 - i)  # cooling down again
        reading = {"sensor": sensor, "tick": i, "celsius": round(base + rng.uniform(-1, 1), 1)}
        lines.append(json.dumps(reading))
    lines[20] = '{"sensor": "attic", "tick": 20, "celsius": '  # a truncated message
    return lines


def parse(line: str) -> dict[str, object]:
    return json.loads(line)


class Store:
    """Stands in for a database client with an async batch insert."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    async def insert(self, rows: list[dict[str, object]]) -> None:
        await asyncio.sleep(0.001)  # the round trip to the database
        self.rows.extend(rows)


def transition(was_hot: bool, event: tuple[str, float, int]) -> tuple[bool, tuple | None]:
    """accumulate step: remember whether the sensor is hot, report only the changes."""
    sensor, average, tick = event
    hot = average > THRESHOLD
    return hot, ((sensor, hot, average, tick) if hot != was_hot else None)


def alert_text(change: tuple[str, bool, float, int]) -> str:
    sensor, hot, average, tick = change
    state, direction = ("ALERT", "above") if hot else ("clear", "back below")
    return f"{state} tick {tick:>2}: {sensor} average {average:.1f} C is {direction} {THRESHOLD} C"


def build(store: Store) -> tuple[Stream[str], list[str], list[dict[str, int]]]:
    source: Stream[str] = Stream(stream_name="readings")
    readings = source.map(parse)
    readings.timed_window(0.25).filter(None).sink(store.insert)  # batches, by time

    alerts = []
    for sensor in SENSORS:
        averages = (
            readings.filter(lambda r, s=sensor: r["sensor"] == s)
            .sliding_window(5, return_partial=False)
            .map(lambda w, s=sensor: (s, fmean(r["celsius"] for r in w), w[-1]["tick"]))
        )
        changes = averages.accumulate(transition, start=False, returns_state=True)
        alerts.append(changes.filter(None).map(alert_text))
    messages = alerts[0].union(*alerts[1:]).sink_to_list()
    counts = readings.pluck("sensor").frequencies().sink_to_list()
    return source, messages, counts


def main() -> None:
    store = Store()
    source, messages, counts = build(store)
    rejected = 0
    for line in feed(90):
        try:
            source.emit(line)  # returns once every branch has accepted the reading
        except ValueError as exc:
            rejected += 1
            print(f"rejected: {exc.__class__.__name__}: {exc} [{'; '.join(exc.__notes__)}]")
    source.drain()  # the last batch goes to the store now, not lost at exit
    for message in messages:
        print(message)
    print(f"stored {len(store.rows)} readings, rejected {rejected}; per sensor: {counts[-1]}")


if __name__ == "__main__":
    main()
