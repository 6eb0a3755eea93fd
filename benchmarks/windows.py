#!/usr/bin/env python
"""Event-time tumbling windows: per-element cost against hand-written Python, peers, memory.

The job (the same in every implementation): count the elements of each user in tumbling
windows of 60 s of event time,

    source.window(Tumbling(60), clock=EventClock(timestamp=itemgetter("ts"),
                  max_out_of_order=5), key=itemgetter("user")).count()

over elements ``{"ts": float seconds, "user": str}``: ~100 elements per second of event
time (element i at i/100 s) plus a random jitter in [0, 5) s, so elements come out of
order but none is late (none is older than the largest timestamp seen less 5 s).

Cost (best of --repeat runs over N prebuilt elements, emit loop and final flush timed; the
prebuilt elements are frozen out of the garbage collector's scans during a run, as a live
stream's elements are gone once handled, for every implementation alike):

    dict-of-dicts  a hand-written plain-Python counter doing the same job: counts[key][start],
                   the max timestamp, watermark = max - 5, windows grouped by end (a heap
                   of ends) so closing is O(closed), closed windows appended to a list in
                   order of end then creation, then deleted
    streams        the pipeline above, driven by source.emit(x), then counts.flush()
    bytewax        count_window + TumblingWindower + EventClock (a fixed system clock, so
                   the watermark is event time only) on bytewax.testing.run_main with a
                   TestingSource (only when bytewax is importable; best of min(repeat, 2))
    quixstreams    sdf.tumbling_window(60 s, grace 5 s).count().final("partition") on a
                   real RocksDB state store, driven without a broker through its
                   composed callables (the way its own tests drive it), storing each
                   offset and committing the checkpoint every 100,000 elements as its
                   consumer loop would (only when quixstreams is importable; best of
                   min(repeat, 2))

Peers get their timestamps in their own form (aware datetime, integer ms) computed
before the timing. Every case must produce the windows of dict-of-dicts: the same
number of windows, the same total count, the same set of (key, start, end, count)
(quixstreams: the windows its watermark closed, as it has no end-of-input flush).

Memory (a fresh subprocess per case, --memory-n elements generated lazily, 10,000 keys,
outputs counted not kept): RSS from /proc/self/statm, sys.getallocatedblocks(), the
number of gc-tracked objects and the open windows are sampled every --sample-every
elements; peak RSS is VmHWM. State lives per open window only, so the series from the
second sample on should be flat but for the open windows of the moment (reported, with
the allocated blocks per open window of each case, a least-squares slope).

    python benchmarks/windows.py              # N = 1,000,000, best of 5; memory on 10M
    python benchmarks/windows.py --quick      # a small run (~10 s)
    python benchmarks/windows.py --n 200000 --repeat 3 --memory-n 2000000 --json out.json

bytewax and quixstreams are not dependencies of streams: install them into the running
environment (or a venv made with --system-site-packages) to include them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from heapq import heappop, heappush
from itertools import islice
from operator import itemgetter
from typing import Any

SIZE = 60  # window size, seconds of event time
BOUND = 5  # max_out_of_order, seconds
RATE = 100  # elements per second of event time
JITTER_MS = 5000  # timestamps are late by [0, 5) s
SEED = 0

Window = tuple[Any, Any, Any, int]  # (key, start, end, count)


def elements(n: int, keys: int, seed: int = SEED) -> Iterator[dict[str, Any]]:
    """Element i at i/RATE s plus a jitter in [0, 5) s (whole ms), of one of `keys` users."""
    rand = random.Random(seed).random
    names = [f"user{i:05d}" for i in range(keys)]
    step = 1000 // RATE
    for i in range(n):
        ms = i * step + int(rand() * JITTER_MS)
        yield {"ts": ms / 1000, "user": names[int(rand() * keys)]}


# ----------------------------------------------------------------- hand-written


class DictTumblingCount:
    """Tumbling counts in plain Python: counts[key][start] and a heap of window ends.

    `by_end[end]` lists the keys of the open windows ending at `end` in creation order,
    so closing touches the closed windows only."""

    def __init__(self, emit: Callable[[Window], Any], size: float = SIZE, bound: float = BOUND):
        self.emit = emit
        self.size = size
        self.bound = bound
        self.counts: dict[Any, dict[float, int]] = {}
        self.by_end: dict[float, tuple[float, list[Any]]] = {}
        self.ends: list[float] = []
        self.max_ts = -math.inf

    def feed(self, xs: Iterable[dict[str, Any]]) -> None:
        size, bound = self.size, self.bound
        counts, by_end, ends = self.counts, self.by_end, self.ends
        max_ts = self.max_ts
        for x in xs:
            t = x["ts"]
            k = x["user"]
            start = t - t % size
            windows = counts.get(k)
            if windows is None:
                windows = counts[k] = {}
            c = windows.get(start)
            if c is None:
                windows[start] = 1
                end = start + size
                entry = by_end.get(end)
                if entry is None:
                    by_end[end] = (start, [k])
                    heappush(ends, end)
                else:
                    entry[1].append(k)
            else:
                windows[start] = c + 1
            if t > max_ts:
                max_ts = t
                if ends[0] <= t - bound:
                    self._close(t - bound)
        self.max_ts = max_ts

    def _close(self, w: float) -> None:
        """Emit and forget every window whose end the watermark `w` reached."""
        counts, by_end, ends, emit = self.counts, self.by_end, self.ends, self.emit
        while ends and ends[0] <= w:
            end = heappop(ends)
            start, keys = by_end.pop(end)
            for k in keys:
                windows = counts[k]
                emit((k, start, end, windows.pop(start)))
                if not windows:
                    del counts[k]

    def flush(self) -> None:
        self._close(math.inf)

    def open_windows(self) -> int:
        return sum(len(ws) for ws in self.counts.values())


def run_dict(data: list[dict[str, Any]]) -> list[Window]:
    out: list[Window] = []
    counter = DictTumblingCount(out.append)
    counter.feed(data)
    counter.flush()
    return out


# ----------------------------------------------------------------- streams


def build_streams(sink: Callable[[Any], Any]) -> tuple[Any, Any, list[int]]:
    from streams import Stream
    from streams.windows import EventClock, Tumbling

    source: Any = Stream()
    counts = source.window(
        Tumbling(SIZE),
        clock=EventClock(timestamp=itemgetter("ts"), max_out_of_order=BOUND),
        key=itemgetter("user"),
    ).count()
    counts.sink(sink)
    late = [0]

    def on_late(x: Any) -> None:
        late[0] += 1

    counts.late.sink(on_late)
    return source, counts, late


def run_streams(data: list[dict[str, Any]]) -> list[Any]:
    out: list[Any] = []
    source, counts, late = build_streams(out.append)
    emit = source.emit
    for x in data:
        emit(x)
    counts.flush()
    if late[0]:
        raise AssertionError(f"streams: {late[0]} elements went to .late")
    return out


def streams_windows(out: list[Any]) -> list[Window]:
    bad = [r for r in out if r.timing != "on_time" or r.index != 0]
    if bad:
        raise AssertionError(f"streams: {len(bad)} panes are not first on_time ones: {bad[0]}")
    return [(r.key, r.start, r.end, r.value) for r in out]


# ----------------------------------------------------------------- peers


def bytewax_case() -> tuple[Callable[[list[Any]], list[Any]], Callable[[Any], Any]]:
    """(run, prepare): `prepare` adds an aware datetime to an element (not timed)."""
    from datetime import UTC, datetime, timedelta

    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.operators.windowing import EventClock, TumblingWindower, count_window
    from bytewax.testing import TestingSink, TestingSource, run_main

    epoch = datetime(1970, 1, 1, tzinfo=UTC)

    def prepare(x: dict[str, Any]) -> dict[str, Any]:
        return {**x, "dt": epoch + timedelta(seconds=x["ts"])}

    def run(data: list[Any]) -> list[Any]:
        flow = Dataflow("windows_bench")
        up = op.input("in", flow, TestingSource(data))
        clock = EventClock(
            ts_getter=itemgetter("dt"),
            wait_for_system_duration=timedelta(seconds=BOUND),
            now_getter=lambda: epoch,  # no system time: the watermark is event time
            to_system_utc=lambda t: None,  # close windows on elements and EOF only
        )
        windower = TumblingWindower(length=timedelta(seconds=SIZE), align_to=epoch)
        counted = count_window("count", up, clock, windower, key=itemgetter("user"))
        out: list[Any] = []
        op.output("out", counted.down, TestingSink(out))
        run_main(flow)
        return out

    return run, prepare


def bytewax_windows(out: list[Any]) -> list[Window]:
    # window ids count windows from align_to (the epoch): start = id * SIZE
    return [(k, i * SIZE, (i + 1) * SIZE, c) for k, (i, c) in out]


def quix_case() -> tuple[Callable[[list[Any]], list[Any]], Callable[[Any], Any]]:
    """(run, prepare): `prepare` makes (value, key bytes, timestamp ms), as from Kafka."""
    from unittest.mock import MagicMock

    from quixstreams.context import set_message_context
    from quixstreams.dataframe.dataframe import StreamingDataFrame
    from quixstreams.dataframe.registry import DataFrameRegistry
    from quixstreams.internal_consumer import InternalConsumer
    from quixstreams.internal_producer import InternalProducer
    from quixstreams.models import MessageContext
    from quixstreams.models.topics import TopicAdmin, TopicConfig, TopicManager
    from quixstreams.processing import ProcessingContext
    from quixstreams.sinks import SinkManager
    from quixstreams.state import StateStoreManager

    def prepare(x: dict[str, Any]) -> tuple[Any, bytes, int]:
        return x, x["user"].encode(), round(x["ts"] * 1000)

    def run(data: list[Any]) -> list[Any]:
        with tempfile.TemporaryDirectory() as state_dir:
            topics = TopicManager(topic_admin=MagicMock(spec=TopicAdmin), consumer_group="b")
            topic = topics.topic("events")
            topic.broker_config = TopicConfig(
                num_partitions=1, replication_factor=1, extra_config={"retention.ms": "-1"}
            )
            state = StateStoreManager(group_id="b", state_dir=state_dir)
            registry = DataFrameRegistry()
            producer = MagicMock(spec_set=InternalProducer)
            producer.flush.return_value = 0  # nothing left unproduced
            producer.offsets = {}
            consumer = MagicMock(spec_set=InternalConsumer)
            consumer.commit.return_value = []
            context = ProcessingContext(
                producer=producer,
                consumer=consumer,
                commit_interval=0,
                state_manager=state,
                sink_manager=SinkManager(),
                dataframe_registry=registry,
            )
            context.init_checkpoint()
            sdf = StreamingDataFrame(
                topic, topic_manager=topics, registry=registry, processing_context=context
            )
            registry.register_root(sdf)
            sdf = (
                sdf.tumbling_window(duration_ms=SIZE * 1000, grace_ms=BOUND * 1000)
                .count()
                .final(closing_strategy="partition")
            )
            out: list[Any] = []
            push = sdf.compose(sink=lambda value, key, ts, headers: out.append((key, value)))[
                topic.name
            ]
            state.on_partition_assign(
                stream_id=sdf.stream_id, partition=0, committed_offsets={topic.name: -1001}
            )
            set_message_context(MessageContext(topic=topic.name, partition=0, offset=0, size=0))
            store_offset, name = context.store_offset, topic.name
            for i, (value, key, ms) in enumerate(data, 1):
                push(value, key, ms, None)
                store_offset(name, 0, i)  # as its consumer loop does: commits flush state
                if i % 100_000 == 0:
                    context.commit_checkpoint(force=True)
            context.commit_checkpoint(force=True)
            state.close()
        return out

    return run, prepare


def quix_windows(out: list[Any]) -> list[Window]:
    return [(k.decode(), v["start"] / 1000, v["end"] / 1000, v["value"]) for k, v in out]


# ----------------------------------------------------------------- harness


def measure(
    run: Callable[[list[Any]], list[Any]],
    data: list[Any],
    repeat: int,
    windows: Callable[[list[Any]], list[Window]],
) -> tuple[float, list[Window]]:
    """Best µs per element over `repeat` runs, and the windows of the last run."""
    best = math.inf
    got: list[Window] = []
    for _ in range(repeat):
        gc.collect()
        gc.freeze()  # the prebuilt input is not scanned: a live stream's elements are gone
        t0 = time.perf_counter()
        out = run(data)
        dt = time.perf_counter() - t0
        gc.unfreeze()
        got = windows(out)
        best = min(best, dt)
    return best / len(data) * 1e6, got


def check(name: str, got: list[Window], expect: list[Window], n: int | None) -> None:
    """Same number of windows, same total (n when every window closed), same set."""
    if len(got) != len(expect):
        raise AssertionError(f"{name}: {len(got):,} windows, expected {len(expect):,}")
    total, want = sum(w[3] for w in got), sum(w[3] for w in expect)
    if total != want or (n is not None and total != n):
        raise AssertionError(f"{name}: total count {total:,}, expected {want:,}")
    extra, missing = set(got) - set(expect), set(expect) - set(got)
    if extra or missing:
        raise AssertionError(
            f"{name}: {len(extra)} windows not expected (e.g. {next(iter(extra), None)}), "
            f"{len(missing)} missing (e.g. {next(iter(missing), None)})"
        )


def peer_cases() -> tuple[dict[str, Any], dict[str, str]]:
    cases: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    try:
        cases["bytewax"] = (*bytewax_case(), bytewax_windows)
    except ImportError as exc:
        skipped["bytewax"] = f"not importable ({exc}); pip install bytewax"
    try:
        with warnings.catch_warnings():  # quiet its dependencies' deprecation warnings
            with contextlib.suppress(ImportError):
                import authlib.deprecate  # noqa: F401  (it sets "always" for its own)
            warnings.simplefilter("ignore")
            cases["quixstreams"] = (*quix_case(), quix_windows)
    except ImportError as exc:
        skipped["quixstreams"] = f"not importable ({exc}); pip install quixstreams"
    return cases, skipped


# ----------------------------------------------------------------- memory


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """VmHWM: ru_maxrss would keep the parent's peak from before the exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(case: str, n: int, keys: int, every: int) -> dict[str, Any]:
    """Feed n lazily generated elements; sample every `every` elements."""
    total = [0, 0]  # windows, summed counts

    def sink(w: Any) -> None:
        total[0] += 1
        total[1] += w[3]

    if case == "streams":
        source, node, late = build_streams(sink)
        emit = source.emit

        def feed(xs: Iterable[Any]) -> None:
            for x in xs:
                emit(x)

        def open_windows() -> int:
            return sum(len(ws) for ws in node._open.values())

        def heaps() -> int:  # windows on the timelines of what closes and expires
            return sum(len(b) for t in node._due.values() for b in t.buckets.values()) + sum(
                len(b) for t in node._expiring.values() for b in t.buckets.values()
            )

        flush = node.flush
    else:
        counter = DictTumblingCount(sink)
        feed, flush, open_windows = counter.feed, counter.flush, counter.open_windows
        late = [0]

        def heaps() -> int:
            return len(counter.ends)

    gen = elements(n, keys)
    samples = []
    done = 0
    t0 = time.perf_counter()
    while done < n:
        chunk = min(every, n - done)
        feed(islice(gen, chunk))
        done += chunk
        samples.append(
            {
                "elements": done,
                "rss_mb": round(rss_mb(), 1),
                "blocks": sys.getallocatedblocks(),
                "gc_objects": len(gc.get_objects()),
                "open_windows": open_windows(),
                "timeline_entries": heaps(),
                "windows_out": total[0],
            }
        )
    flush()
    elapsed = time.perf_counter() - t0
    if total[1] != n or late[0]:
        raise AssertionError(f"{case}: counted {total[1]:,} of {n:,}, {late[0]} late")
    return {
        "case": case,
        "n": n,
        "keys": keys,
        "elapsed_s": round(elapsed, 1),
        "windows_out": total[0],
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "samples": samples,
    }


def slope(xs: list[int], ys: list[int]) -> float:
    """Least-squares slope of ys over xs (nan when xs do not vary)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    if not var:
        return math.nan
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


def run_memory(case: str, n: int, keys: int, every: int) -> dict[str, Any]:
    done = subprocess.run(
        [
            *(sys.executable, __file__, "--memory-child", case, "--memory-n", str(n)),
            *("--memory-keys", str(keys), "--sample-every", str(every)),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if done.returncode:
        raise RuntimeError(f"memory case {case} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# ----------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, help="elements timed (1,000,000; --quick 50,000)")
    parser.add_argument("--repeat", type=int, help="best of (5; --quick 2)")
    parser.add_argument("--keys", type=int, default=1_000)
    parser.add_argument("--memory-n", type=int, help="elements (10,000,000; --quick 500,000)")
    parser.add_argument("--memory-keys", type=int, default=10_000)
    parser.add_argument("--sample-every", type=int, help="(1,000,000; --quick 50,000)")
    parser.add_argument("--quick", action="store_true", help="a small run (~10 s)")
    parser.add_argument("--no-peers", action="store_true", help="skip bytewax and quixstreams")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = (50_000, 2, 500_000, 50_000) if args.quick else (10**6, 5, 10**7, 10**6)
    for name, value in zip(("n", "repeat", "memory_n", "sample_every"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.memory_child:
        result = memory_child(
            args.memory_child, args.memory_n, args.memory_keys, args.sample_every
        )
        print(json.dumps(result))
        return result

    data = list(elements(args.n, args.keys))
    running, disordered = -math.inf, 0
    for x in data:
        if x["ts"] < running:
            disordered += 1
        running = max(running, x["ts"])
    print(
        f"# streams event-time windows: Tumbling({SIZE}) count, max_out_of_order={BOUND}, "
        f"N={args.n:,}, {args.keys:,} keys, best of {args.repeat}, "
        f"Python {platform.python_version()} on {platform.machine()}\n"
    )
    print(
        f"{disordered / len(data):.1%} of the elements are older than the newest before "
        "them (none is late)\n"
    )

    results: dict[str, float] = {}
    outputs: dict[str, int] = {}
    notes: dict[str, str] = {}
    results["dict-of-dicts"], expect = measure(run_dict, data, args.repeat, lambda out: out)
    outputs["dict-of-dicts"] = len(expect)
    check("dict-of-dicts", expect, expect, args.n)
    results["streams"], got = measure(run_streams, data, args.repeat, streams_windows)
    check("streams", got, expect, args.n)
    outputs["streams"] = len(got)
    notes["streams"] = "same order" if got == expect else "same windows, another order"

    cases, skipped = peer_cases() if not args.no_peers else ({}, {"peers": "--no-peers"})
    # the windows a watermark closed before the end of the input (no flush)
    before_flush: list[Window] = []
    DictTumblingCount(before_flush.append).feed(data)
    for name, (run, prepare, windows) in cases.items():
        inputs = [prepare(x) for x in data]
        try:
            results[name], got = measure(run, inputs, min(args.repeat, 2), windows)
        except Exception as exc:  # a peer's internals moved: report, do not fail the run
            skipped[name] = f"failed: {type(exc).__name__}: {exc}"
            continue
        if name == "quixstreams":
            check(name, got, before_flush, None)
            notes[name] = f"windows closed by the watermark only ({len(got):,}): no flush"
        else:
            check(name, got, expect, args.n)
        outputs[name] = len(got)
        del inputs

    base, ours = results["dict-of-dicts"], results["streams"]
    print("## Cost per element\n")
    print("| implementation | µs per element | x dict-of-dicts | x streams | windows out | note |")
    print("|---|---:|---:|---:|---:|---|")
    for name, us in results.items():
        print(
            f"| {name} | {us:.3f} | {us / base:.2f} | {us / ours:.2f} | "
            f"{outputs[name]:,} | {notes.get(name, '')} |"
        )
    for name, why in skipped.items():
        print(f"\n{name}: skipped: {why}")
    print()
    del data

    memory = [
        run_memory(case, args.memory_n, args.memory_keys, args.sample_every)
        for case in ("dict-of-dicts", "streams")
    ]
    print(
        f"## Memory: {args.memory_n:,} elements, {args.memory_keys:,} keys, "
        f"sampled every {args.sample_every:,}\n"
    )
    growth = {}
    for r in memory:
        s = r["samples"]
        second = s[1] if len(s) > 1 else s[0]
        growth[r["case"]] = {
            "rss_mb": s[-1]["rss_mb"] - second["rss_mb"],
            "blocks": s[-1]["blocks"] - second["blocks"],
            "gc_objects": s[-1]["gc_objects"] - second["gc_objects"],
            "open_windows": s[-1]["open_windows"] - second["open_windows"],
            "from": second["elements"],
            "blocks_per_open_window": slope(
                [x["open_windows"] for x in s[1:]], [x["blocks"] for x in s[1:]]
            ),
        }
        print(
            f"### {r['case']}: peak RSS {r['peak_rss_mb']:.1f} MB, {r['elapsed_s']} s, "
            f"{r['windows_out']:,} windows out\n"
        )
        print(
            "| elements | RSS (MB) | allocated blocks | gc objects | open windows "
            "| on timelines | windows out |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for x in s:
            print(
                f"| {x['elements']:,} | {x['rss_mb']:.1f} | {x['blocks']:,} | "
                f"{x['gc_objects']:,} | {x['open_windows']:,} | {x['timeline_entries']:,} | "
                f"{x['windows_out']:,} |"
            )
        print()

    summary = {
        "streams_over_dict": ours / base,
        **{f"{p}_over_streams": results[p] / ours for p in results if p in cases},
        "memory_growth": growth,
        "memory_peak_rss_mb": {r["case"]: r["peak_rss_mb"] for r in memory},
    }
    print("## Targets\n")
    print(f"- streams / dict-of-dicts = {ours / base:.2f} (target <= 3)")
    for p in cases:
        if p in results:
            print(f"- {p} / streams = {results[p] / ours:.2f}")
    for case, g in growth.items():
        print(
            f"- {case}: from {g['from']:,} elements to the end: RSS {g['rss_mb']:+.1f} MB, "
            f"allocated blocks {g['blocks']:+,}, gc objects {g['gc_objects']:+,}, "
            f"open windows {g['open_windows']:+,} (target: flat); "
            f"{g['blocks_per_open_window']:.1f} allocated blocks per open window"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "n": args.n,
                    "repeat": args.repeat,
                    "keys": args.keys,
                    "python": sys.version,
                    "us_per_element": results,
                    "windows_out": outputs,
                    "skipped": skipped,
                    "memory": memory,
                    "summary": summary,
                },
                f,
                indent=2,
            )
    return summary


if __name__ == "__main__":
    main()
