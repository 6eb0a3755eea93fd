"""Scale out: a Monte Carlo estimate of pi, streamed through a Dask cluster.

Each element of the stream is a random seed. On the cluster, every seed becomes
20,000 random points in the unit square, and the task counts those inside the quarter
circle. Back here, a running total turns the counts into an ever better estimate of pi.

The stream is scattered in batches of 25 seeds, so each task handles a whole batch and
the scheduler's per-task cost is paid once per batch; ``buffer(8)`` keeps at most 8
batches computing at a time, so the source never runs ahead of the cluster. ``gather()``
brings the counts back in the order the seeds went in: the printed estimates are the
same on every run, however the cluster schedules the work.

Run it with ``python examples/dask_pipeline.py`` (it starts a local cluster of worker
processes; pass the number of workers as an argument, default 3).
"""

from __future__ import annotations

import random
import sys
import time

from distributed import Client, LocalCluster

from streams import Stream

POINTS = 20_000  # per seed


def count_inside(seed: int) -> int:
    """How many of POINTS random points fall inside the quarter circle (on a worker)."""
    rng = random.Random(seed)
    return sum(rng.random() ** 2 + rng.random() ** 2 <= 1.0 for _ in range(POINTS))


def add_count(total: tuple[int, int], inside: int) -> tuple[int, int]:
    return total[0] + inside, total[1] + POINTS


def main(workers: int = 3, seeds: int = 400) -> None:
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster),
    ):
        source = Stream.from_iterable(range(seeds))
        counts = source.scatter(batch_size=25).map(count_inside).buffer(8).gather()
        estimates = counts.accumulate(add_count, start=(0, 0)).map(lambda t: 4 * t[0] / t[1])
        every_100 = estimates.slice(99, None, 100).sink_to_list()

        start = time.perf_counter()
        source.start()
        source.wait()  # every seed was accepted...
        source.drain()  # ...and every batch came back
        seconds = time.perf_counter() - start

    for n, estimate in enumerate(every_100, 1):
        print(f"after {100 * n:>3} seeds ({100 * n * POINTS:>9,} points): pi ~ {estimate:.5f}")
    print(f"error {abs(every_100[-1] - 3.141592653589793):.5f} using {workers} worker processes")
    print(f"{seeds * POINTS / seconds:,.0f} points per second", file=sys.stderr)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
