#!/usr/bin/env python
"""Throughput of streams on a Dask cluster against a hand-written client.submit loop.

All cases run in one process, one after the other, on the same LocalCluster (worker
processes), with an asynchronous Client inside asyncio:

    hand-written   keep 16 client.submit(inc, x) futures in flight, await them in order
    streams        source -> scatter() -> map(inc) -> buffer(16) -> gather() -> sink
    batched        the same with scatter(batch_size=B): one task per B elements

Every case checks that all results arrived, in order. The scheduler's speed drifts
during a run, so the cases are interleaved over --rounds rounds and each case reports
its best round.

    python benchmarks/dask_throughput.py                  # N=2,000 (unbatched), B=1,000, 3 rounds
    python benchmarks/dask_throughput.py --n 5000 --workers 2 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import deque


def inc(x: int) -> int:
    return x + 1


async def hand_written(client, n: int) -> float:
    out: list[int] = []
    pending: deque = deque()
    start = time.perf_counter()
    for i in range(n):
        pending.append(client.submit(inc, i, pure=False))
        if len(pending) >= 16:
            out.append(await pending.popleft())
    while pending:
        out.append(await pending.popleft())
    seconds = time.perf_counter() - start
    assert out == [i + 1 for i in range(n)]
    return n / seconds


async def with_streams(client, n: int, batch_size: int | None = None) -> float:
    from streams import Stream

    source = Stream()
    out = (source.scatter(client=client, batch_size=batch_size).map(inc).buffer(16).gather()
           .sink_to_list())  # fmt: skip
    start = time.perf_counter()
    for i in range(n):
        await source.emit(i)
    await source.drain()
    seconds = time.perf_counter() - start
    assert out == [i + 1 for i in range(n)]
    return n / seconds


async def run(n: int, batched_n: int, batch_size: int, workers: int, rounds: int) -> dict:
    from distributed import Client, LocalCluster

    async with (
        LocalCluster(n_workers=workers, threads_per_worker=1, asynchronous=True,
                     dashboard_address=":0") as cluster,
        Client(cluster, asynchronous=True) as client,
    ):  # fmt: skip
        await with_streams(client, 200)  # warm up: imports, connections
        await hand_written(client, 200)
        batched = f"streams batched ({batch_size})"
        results = {"hand-written": 0.0, "streams": 0.0, batched: 0.0}
        for _ in range(rounds):
            results["hand-written"] = max(results["hand-written"], await hand_written(client, n))
            results["streams"] = max(results["streams"], await with_streams(client, n))
            rate = await with_streams(client, batched_n, batch_size)
            results[batched] = max(results[batched], rate)
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000, help="elements, unbatched cases")
    parser.add_argument("--batched-n", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.n, args.batched_n, args.batch_size, args.workers, args.rounds))
    hand, ours = results["hand-written"], results["streams"]
    batched = next(v for k, v in results.items() if k.startswith("streams batched"))
    print(f"# Dask throughput ({args.workers} worker processes, async client)\n")
    print("| pipeline | elements per second | x hand-written |")
    print("|---|---:|---:|")
    for name, rate in results.items():
        print(f"| {name} | {rate:,.0f} | {rate / hand:.2f} |")
    print(f"\n- streams / hand-written = {ours / hand:.2f} (target >= 0.8)")
    print(f"- batched / unbatched streams = {batched / ours:.0f}x (target >= 20)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
