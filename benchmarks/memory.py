#!/usr/bin/env python
"""Memory under back pressure: a fast producer, a slow async consumer, a bounded buffer.

Cases, each run in a fresh subprocess so its peak RSS is its own:

    buffered    Stream.from_iterable(range(N)) -> buffer(100) -> async sink
                (the sink awaits asyncio.sleep(0) per element: slower than the producer)
    baseline    the same source into a plain synchronous sink (what the interpreter and
                the library cost anyway)
    unbounded   for contrast: the same slow sink fed by emits nobody awaits, so every
                element becomes a pending task (run on N/10 elements)

RSS is sampled at every tenth of the run. A flat series for `buffered` means memory does
not grow with the number of elements.

    python benchmarks/memory.py                # N = 1,000,000
    python benchmarks/memory.py --n 200000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CASE = r"""
import asyncio, json, resource, sys
from streams import Stream

N, CASE = int(sys.argv[1]), sys.argv[2]
PAGE = __import__("os").sysconf("SC_PAGE_SIZE")

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20

samples = []
count = [0]

def sample(x):
    count[0] += 1
    if count[0] % max(N // 10, 1) == 0:
        samples.append(round(rss_mb(), 1))
    return x

async def slow(x):
    await asyncio.sleep(0)

async def main():
    if CASE == "unbounded":
        source = Stream()
        source.map(sample).sink(slow)
        for i in range(N):
            source.emit(i)  # not awaited: each pending element becomes a task
        await source.drain()
        return
    source = Stream.from_iterable(range(N))
    tail = source.map(sample)
    if CASE == "buffered":
        tail.buffer(100).sink(slow)
    else:
        tail.sink(lambda x: None)
    source.start()
    await source.wait()
    await source.drain()

asyncio.run(main())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"case": CASE, "n": N, "peak_rss_mb": round(peak, 1), "samples_mb": samples}))
"""


def run_case(case: str, n: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CASE, str(n), case],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    results = [
        run_case("baseline", args.n),
        run_case("buffered", args.n),
        run_case("unbounded", max(args.n // 10, 1000)),
    ]
    print(f"# streams memory under back pressure (N={args.n:,})\n")
    print("| case | elements | peak RSS (MB) | RSS at each tenth (MB) |")
    print("|---|---:|---:|---|")
    for r in results:
        samples = ", ".join(f"{s:.0f}" for s in r["samples_mb"])
        print(f"| {r['case']} | {r['n']:,} | {r['peak_rss_mb']:.1f} | {samples} |")
    base, buffered = results[0], results[1]
    growth = buffered["samples_mb"][-1] - buffered["samples_mb"][0]
    print(
        f"\nbuffered: peak {buffered['peak_rss_mb'] - base['peak_rss_mb']:+.1f} MB over the "
        f"baseline; RSS grew {growth:+.1f} MB between the first and last tenth"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
