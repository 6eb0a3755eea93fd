#!/usr/bin/env python
"""Cost of emitters waiting for room in a full ``buffer(10)``.

Two producer styles feed ``buffer(10)`` into a sink that yields to the loop once per
element, so the buffer is full and emitters wait for room:

    unawaited  a callback-style producer: ``source.emit(x)`` N times without awaiting,
               then ``drain()``; N = 1,000 ... 8,000
    awaited    P concurrent producers each awaiting ``source.emit(x)`` for their share
               of N elements

Waiting must cost O(1) per element: the time per element stays flat as N grows. Every
case checks that each element arrives exactly once (and, for the unawaited producer,
in emit order), so a case that drops or reorders elements fails instead of looking fast.

    python benchmarks/waiters.py
    python benchmarks/waiters.py --sizes 1000 2000 4000 8000 16000 --producers 1000
"""

from __future__ import annotations

import argparse
import asyncio
import time

from streams import Stream


async def _consume(x: int, out: list[int]) -> None:
    await asyncio.sleep(0)
    out.append(x)


def _graph() -> tuple[Stream[int], list[int]]:
    source: Stream[int] = Stream(asynchronous=True)
    out: list[int] = []
    source.buffer(10).sink(_consume, out)
    return source, out


async def unawaited(n: int) -> float:
    source, out = _graph()
    t0 = time.perf_counter()
    pending = [source.emit(i) for i in range(n)]  # all emitted before any is awaited
    await source.drain()
    elapsed = time.perf_counter() - t0
    for p in pending:
        await p
    if out != list(range(n)):
        raise AssertionError(f"unawaited n={n}: elements lost, doubled or reordered")
    return elapsed


async def awaited(n: int, producers: int) -> float:
    source, out = _graph()
    share = n // producers

    async def produce(k: int) -> None:
        for i in range(k * share, (k + 1) * share):
            await source.emit(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(produce(k) for k in range(producers)))
    await source.drain()
    elapsed = time.perf_counter() - t0
    if sorted(out) != list(range(share * producers)):
        raise AssertionError(f"awaited n={n}: elements lost or doubled")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000])
    parser.add_argument("--producers", type=int, default=1000)
    parser.add_argument("--awaited-n", type=int, default=10_000)
    args = parser.parse_args()

    print("| producers | elements | seconds | us per element |")
    print("|---|---:|---:|---:|")
    for n in args.sizes:
        s = asyncio.run(unawaited(n))
        print(f"| 1 unawaited | {n:,} | {s:.3f} | {s / n * 1e6:.1f} |")
    n = args.awaited_n
    s = asyncio.run(awaited(n, args.producers))
    print(f"| {args.producers:,} awaited | {n:,} | {s:.3f} | {s / n * 1e6:.1f} |")


if __name__ == "__main__":
    main()
