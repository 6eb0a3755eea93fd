#!/usr/bin/env python
"""Emits per second from several threads into one graph, in one run.

Graph: emit -> map(inc) -> accumulate(count) -> sink

Cases (the same total number of elements for 1 and 4 threads):

    no loop     a graph of synchronous nodes: each element runs inline in the emitting
                thread; threads take turns (streams/turns.py)
    loop-bound  the same graph built with ensure_io_loop=True: it runs on the shared
                background loop, and every element hops to that loop's thread

Every case checks that the graph counted every element exactly once, so a case that
loses or doubles elements fails instead of looking fast. Times are the best of
--repeat runs. A thread hop costs far more than an inline push, so the loop-bound
cases push a tenth of the elements (--n / 10); rates are per second either way.

    python benchmarks/threads.py                # N=200,000, best of 3
    python benchmarks/threads.py --n 400000 --json out.json
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import threading
import time


def inc(x: int) -> int:
    return x + 1


def count(n: int, x: int) -> int:
    return n + 1


class Last:
    """The sink: keeps the last value (the running count)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def __call__(self, x):
        self.value = x


def build(loop_bound: bool):
    from streams import Stream

    source = Stream(ensure_io_loop=loop_bound)
    last = Last()
    source.map(inc).accumulate(count, start=0).sink(last)
    return source, last


def run(threads: int, n: int, loop_bound: bool) -> float:
    """Seconds for ``threads`` threads to emit ``n`` elements in all into a fresh graph."""
    source, last = build(loop_bound)
    if loop_bound:
        source.emit(-1)  # bind the loop outside the timing
        offset = 1
    else:
        offset = 0
    per_thread = n // threads
    start = threading.Barrier(threads + 1)

    def body() -> None:
        emit = source.emit
        start.wait()
        for i in range(per_thread):
            emit(i)

    workers = [threading.Thread(target=body) for _ in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    dt = time.perf_counter() - t0
    if loop_bound:
        source.drain()
    expected = per_thread * threads + offset
    if last.value != expected:
        raise AssertionError(f"counted {last.value} elements, expected {expected}")
    return dt


def measure(threads: int, n: int, loop_bound: bool, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        best = min(best, run(threads, n, loop_bound))
    return n / best


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)

    n_inline = args.n - args.n % 4
    n_loop = max(args.n // 10, 4) // 4 * 4
    results: dict[str, dict[str, float]] = {"no loop": {}, "loop-bound": {}}
    for graph, loop_bound, n in (("no loop", False, n_inline), ("loop-bound", True, n_loop)):
        for threads in (1, 4):
            results[graph][f"{threads} thread{'s' if threads > 1 else ''}"] = measure(
                threads, n, loop_bound, args.repeat
            )

    print(
        f"# streams emits from threads: map -> accumulate -> sink, best of {args.repeat}, "
        f"Python {platform.python_version()} on {platform.machine()}\n"
    )
    print("| graph | elements | 1 thread (emits/s) | 4 threads (emits/s) | 4 / 1 |")
    print("|---|---:|---:|---:|---:|")
    for graph, n in (("no loop", n_inline), ("loop-bound", n_loop)):
        one, four = results[graph]["1 thread"], results[graph]["4 threads"]
        print(f"| {graph} | {n:,} | {one:,.0f} | {four:,.0f} | {four / one:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "n": args.n,
                    "repeat": args.repeat,
                    "python": sys.version,
                    "emits_per_second": results,
                },
                f,
                indent=2,
            )
    return results


if __name__ == "__main__":
    main()
