#!/usr/bin/env python
"""What a live view, a live plot or a dashboard costs the stream it watches.

Graph A of overhead.py (``map(inc) -> filter(iseven) -> accumulate(add) -> sink``) is
driven with ``emit`` on a running asyncio loop, as in a notebook, as fast as it goes
(well over 100,000 elements per second), with:

    bare        nothing attached
    view        a live view of the accumulate node (``node.live()``, 10 updates/s)
    dashboard   a dashboard showing the accumulate node (streams.dashboard.serve)
    metrics     per-node metrics on (``source.enable_metrics()``)

and a streaming DataFrame of 100-row chunks with and without a live plot
(``sdf.plot.line(backlog=1000)``). The figure is the best of --repeat runs, in ns per
element (per row for the frames); ratios compare figures of one run. Each case checks
that the graph's result is the bare one and that the view/plot shows the last value.

    python benchmarks/display.py            # N=200,000, best of 5
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import operator
import platform
import time
from collections.abc import Callable
from typing import Any


def build(attach: str) -> tuple[Any, Any, Callable[[], Any]]:
    from streams import Stream

    source = Stream()
    total = source.map(lambda x: x + 1).filter(lambda x: x % 2 == 0).accumulate(operator.add)
    out = total.sink_to_list()
    cleanup: Callable[[], Any] = lambda: None  # noqa: E731
    shown: Callable[[], Any] = lambda: None  # noqa: E731
    if attach == "view":
        view = total.live()
        shown = lambda: view.shown and view.shown["text/plain"]  # noqa: E731
        cleanup = view.stop
    elif attach == "dashboard":
        from streams import dashboard

        page = dashboard.serve(total, port=0)
        shown = lambda: page.collectors[0].kept[-1][1]  # noqa: E731
        cleanup = page.stop
    elif attach == "metrics":
        source.enable_metrics()
        shown = lambda: total.metrics()["in"]  # noqa: E731
    return source, out, lambda: (shown(), cleanup())


def run_graph(attach: str, n: int) -> tuple[float, Any, Any]:
    async def main() -> tuple[float, Any, Any]:
        source, out, finish = build(attach)
        emit = source.emit
        gc.collect()
        t0 = time.perf_counter()
        for i in range(n):
            emit(i)
        dt = time.perf_counter() - t0
        await asyncio.sleep(0.15)  # the views' trailing update
        shown, _ = finish()
        return dt, out[-1], shown

    return asyncio.run(main())


def run_frames(plot: bool, chunks: list[Any]) -> tuple[float, Any]:
    async def main() -> tuple[float, Any]:
        from streams.dataframe import DataFrame
        from streams.dataframe.plotting import live_feed

        sdf = DataFrame(example=chunks[0].iloc[:0])
        total = sdf.x.sum().stream.sink_to_list()
        shown = sdf.plot.line(y="x", backlog=1000) if plot else None  # kept: it lives
        feed = live_feed(shown) if shown is not None else None
        emit = sdf.emit
        gc.collect()
        t0 = time.perf_counter()
        for chunk in chunks:
            emit(chunk)
        dt = time.perf_counter() - t0
        await asyncio.sleep(0.15)
        last = feed.buffer.data["x"].iloc[-1] if feed is not None else None
        assert feed is None or last == chunks[-1]["x"].iloc[-1]
        return dt, total[-1]

    return asyncio.run(main())


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    import numpy as np
    import pandas as pd

    print(
        f"# display overhead: N={args.n:,}, best of {args.repeat}, "
        f"Python {platform.python_version()}\n"
    )
    cases = ["bare", "view", "dashboard", "metrics"]
    best = {c: float("inf") for c in cases}
    expected = None
    for _ in range(args.repeat):
        for case in cases:
            dt, last, shown = run_graph(case, args.n)
            expected = last if expected is None else expected
            assert last == expected, (case, last, expected)
            if case == "view":
                assert shown == str(expected), (shown, expected)
            if case == "dashboard":
                assert shown == expected, (shown, expected)
            best[case] = min(best[case], dt / args.n * 1e9)
    rng = np.random.default_rng(0)
    rows = 100
    chunks = [
        pd.DataFrame({"x": rng.random(rows)}, index=pd.RangeIndex(i * rows, (i + 1) * rows))
        for i in range(max(args.n // rows // 10, 100))
    ]
    frame_best = {"frames": float("inf"), "frames+plot": float("inf")}
    for _ in range(args.repeat):
        for case, plot in (("frames", False), ("frames+plot", True)):
            dt, _ = run_frames(plot, chunks)
            frame_best[case] = min(frame_best[case], dt / (len(chunks) * rows) * 1e9)

    print("| case | ns per element | x bare |")
    print("|---|---:|---:|")
    for case in cases:
        print(f"| graph A, {case} | {best[case]:,.0f} | {best[case] / best['bare']:.2f} |")
    for case, ns in frame_best.items():
        print(
            f"| 100-row chunks, {case} (per row) | {ns:,.1f} | {ns / frame_best['frames']:.2f} |"
        )
    ratios = {
        "view": best["view"] / best["bare"],
        "dashboard": best["dashboard"] / best["bare"],
        "metrics": best["metrics"] / best["bare"],
        "plot": frame_best["frames+plot"] / frame_best["frames"],
    }
    print(
        f"\n- view / bare = {ratios['view']:.2f}, dashboard / bare = "
        f"{ratios['dashboard']:.2f}, plot / no plot = {ratios['plot']:.2f} (targets <= 1.2)"
    )
    print(f"- metrics on / off = {ratios['metrics']:.2f} (target <= 1.3)")
    return ratios


if __name__ == "__main__":
    main()
