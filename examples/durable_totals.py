"""Running totals per customer that survive ``kill -9``.

The program reads a file of orders (``customer,amount`` lines; written on the first run),
keeps a running total per customer and a count of orders, and checkpoints both, with the
file position, into ``state.db`` (SQLite) every 500 orders. Kill it at any moment
(``kill -9``, Ctrl-C, a power cut with ``synchronous="FULL"``) and start it again: it
restores the last checkpoint, reads on from there, and ends with the same totals as a run
that was never interrupted.

Run it with ``python examples/durable_totals.py [WORKDIR]`` (default: ``durable-demo``).
To watch a crash on purpose: ``STREAMS_CRASH_AT=after_commit:3 python
examples/durable_totals.py`` dies right after its third checkpoint; run it again.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from streams import Stream
from streams.state import Checkpointer, SQLiteStore

ORDERS = 20_000
CUSTOMERS = 40


def write_orders(path: Path) -> None:
    with open(path, "w") as f:
        for i in range(ORDERS):
            f.write(f"c{i % CUSTOMERS:02d},{(i * 7919) % 100 + 1}\n")


async def main(work: Path) -> None:
    work.mkdir(exist_ok=True)
    orders_file = work / "orders.txt"
    if not orders_file.exists():
        write_orders(orders_file)

    source = Stream.from_textfile(orders_file, poll_interval=0.01, stream_name="orders")
    orders = source.map(lambda line: line.strip().split(","))
    totals = orders.accumulate(
        lambda total, order: total + int(order[1]), start=0, key=0, stream_name="totals"
    )
    count = orders.accumulate(lambda n, order: n + 1, start=0, stream_name="count")
    done = asyncio.Event()
    count.sink(lambda n: n == ORDERS and done.set())

    checkpointer = Checkpointer(source, store=SQLiteStore(work / "state.db"), every=500)
    async with checkpointer:
        if checkpointer.restored:
            _, line = checkpointer.restored["orders"]
            print(f"restored checkpoint {checkpointer.last_id}: going on after order {line}")
        else:
            print("fresh start")
        if count.state < ORDERS:
            await done.wait()

    top = sorted(totals.state.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    print(
        f"{count.state} orders, {len(totals.state)} customers, total {sum(totals.state.values())}"
    )
    print("top customers: " + ", ".join(f"{c} {t}" for c, t in top))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "durable-demo")))
