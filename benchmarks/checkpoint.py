#!/usr/bin/env python
"""What checkpoints cost: throughput with and without them, the pause of each cut, and
the time to recover.

A keyed running total (``accumulate(..., key=)``) over N elements with K keys, fed by
``from_iterable``, run

    plain       without a checkpointer
    durable     with ``Checkpointer(interval=1.0)`` into a SQLiteStore (the default
                ``synchronous="NORMAL"``; survives kill -9)

in the same process, alternately, best of ``--repeat``. For ``durable`` it reports every
checkpoint's pause (how long the sources waited for the cut) and duration (from asking to
the commit), as p50 and p99, and the time to restore the latest checkpoint of K keys into
a new graph (``recovery``).

    python benchmarks/checkpoint.py                 # N = 5,000,000, K = 100,000
    python benchmarks/checkpoint.py --n 200000 --keys 20000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any

from streams import Stream
from streams.state import Checkpointer, SQLiteStore


def elements(n: int, keys: int) -> list[tuple[int, int]]:
    return [((i * 7919) % keys, i % 13) for i in range(n)]


def graph(data: list[tuple[int, int]]) -> tuple[Any, Any]:
    source = Stream.from_iterable(data, stream_name="orders")
    totals = source.accumulate(lambda t, o: t + o[1], start=0, key=0, stream_name="totals")
    return source, totals


async def plain(data: list[tuple[int, int]]) -> float:
    source, _ = graph(data)
    started = time.perf_counter()
    source.start()
    await source.wait()
    return time.perf_counter() - started


async def durable(
    data: list[tuple[int, int]], path: str, interval: float, figures: dict[str, list[float]]
) -> float:
    source, _ = graph(data)
    store = SQLiteStore(path)
    checkpointer = Checkpointer(source, store=store, interval=interval)
    original = checkpointer.checkpoint

    async def measured() -> int:
        done = await original()
        figures["pause"].append(checkpointer.last_pause)
        figures["duration"].append(checkpointer.last_duration)
        return done

    checkpointer.checkpoint = measured  # type: ignore[method-assign]
    async with checkpointer:  # restored (or checkpoint 0 committed); the source starts
        started = time.perf_counter()
        await source.wait()
        elapsed = time.perf_counter() - started  # the final checkpoint is not throughput
        checkpointer.checkpoint = original  # type: ignore[method-assign]
    store.close()
    return elapsed


async def recovery(data: list[tuple[int, int]], path: str) -> tuple[float, int]:
    source, totals = graph(data)
    store = SQLiteStore(path)
    started = time.perf_counter()
    checkpointer = Checkpointer(source, store=store, interval=None)
    await checkpointer.start()
    elapsed = time.perf_counter() - started
    await checkpointer.stop()
    store.close()
    return elapsed, len(totals.state)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--n", type=int, default=5_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--intervals", type=float, nargs="+", default=[1.0, 0.1])
    args = parser.parse_args()
    data = elements(args.n, args.keys)
    work = tempfile.mkdtemp()
    best = {"plain": float("inf")} | {f"every {i:g} s": float("inf") for i in args.intervals}
    figures = {i: {"pause": [], "duration": []} for i in args.intervals}
    path = ""
    for r in range(args.repeat):
        best["plain"] = min(best["plain"], asyncio.run(plain(data)))
        for interval in args.intervals:
            path = os.path.join(work, f"state-{r}-{interval}.db")
            seconds = asyncio.run(durable(data, path, interval, figures[interval]))
            best[f"every {interval:g} s"] = min(best[f"every {interval:g} s"], seconds)
    restore, restored_keys = asyncio.run(recovery(data, path))
    print(f"{args.n:,} elements, {args.keys:,} keys, keyed accumulate, best of {args.repeat}")
    for case, seconds in best.items():
        ratio = best["plain"] / seconds
        print(f"  {case:12s} {seconds:7.3f} s  {args.n / seconds / 1e6:5.2f} M/s  {ratio:.2f}x")
    for interval, f in figures.items():
        pauses, durations = f["pause"], f["duration"]
        print(
            f"  every {interval:g} s: {len(pauses)} periodic checkpoints in {args.repeat} runs;"
            f" pause p50 {percentile(pauses, 0.5) * 1e3:.1f} ms,"
            f" p99 {percentile(pauses, 0.99) * 1e3:.1f} ms;"
            f" duration p50 {percentile(durations, 0.5) * 1e3:.1f} ms,"
            f" p99 {percentile(durations, 0.99) * 1e3:.1f} ms"
        )
    print(f"  recovery of {restored_keys:,} keys: {restore:.3f} s")


if __name__ == "__main__":
    main()
