"""Acceptance scenarios 13-20 of the event-time spec (research/event_time.md §5 keeps them
aside; rules §4 decide them): lateness with sessions, early and late firings, loop-time
early panes, sliding windows, ``collect()`` order, idle advancement, partitioned idleness,
processing time, and the graph's drain. Outputs are derived by hand from the rules, and
the rule each step exercises is named next to it.

Steps that involve loop time run on the virtual-time loop: every output is recorded with
the loop time it came out at.
"""

import asyncio
from operator import itemgetter

import pytest

from streams import Stream
from streams.testing import run_virtual
from streams.windows import EventClock, ProcessingClock, Session, Sliding, Tumbling

from .scenario import FLUSH, INF, Recorder, W, identity, late, window

# -------------------------------------------------- 13. lateness with sessions


def test_13_session_lateness_merges_into_a_past_session_and_expires():
    source, w = window(Session(5), timestamp=identity, key=None, allowed_lateness=20)
    node = w.count()
    rec = Recorder(source, node).play(
        [
            (1, []),
            (3, []),  # [1, 8)
            (20, [(None, 1, 8, 2, "on_time", 0)]),  # W = 20: past (E1), not expired (L1)
            # [6, 11) bridges into [1, 8): the merge result is past, so late (E2), and
            # continues the pane numbers of what it merged (E6)
            (6, [(None, 1, 11, 3, "late", 1)]),
            # [14, 19) touches nothing; created past: late panes only (E2)
            (14, [(None, 14, 19, 1, "late", 0)]),
            # [1, 11) and [14, 19) expire (end + 20 <= 40) without output (L4)
            (W(40), [(None, 20, 25, 1, "on_time", 0)]),
            (2, [late(2)]),  # [2, 7) would be expired: no window takes it (L2, L3)
            (FLUSH, []),  # [20, 25) fired already and nothing came since
        ]
    )
    assert rec.results[1].replaces == ((1, 8),)
    assert rec.results[2].replaces == ()


# -------------------------------------------------- 14. early and late firings


@pytest.mark.parametrize("accumulate", [True, False])
def test_14_early_count_and_late_count(accumulate):
    source, w = window(
        Tumbling(10), timestamp=identity, key=None, allowed_lateness=10, accumulate=accumulate
    )
    w.options.update(early_count=2, late_count=2)
    node = w.count()

    def v(accumulating, discarding):
        return accumulating if accumulate else discarding

    Recorder(source, node).play(
        [
            (1, []),
            (2, [(None, 0, 10, v(2, 2), "early", 0)]),  # E3: every 2nd element
            (3, []),
            (4, [(None, 0, 10, v(4, 2), "early", 1)]),
            (5, []),
            # E1: accumulating panes always fire; discarding ones since the last pane (5)
            (12, [(None, 0, 10, v(5, 1), "on_time", 2)]),
            (7, []),  # late, 1 of 2 (E2)
            (8, [(None, 0, 10, v(7, 2), "late", 3)]),
            (9, []),  # late, 1 of 2: never emitted, the window expires first (L4)
            # adding 25 fires nothing (1 of 2 early); W = 25: [10, 20) is on time; then
            # [0, 10) expires (10 + 10 <= 25) with the element 9 unreported
            (25, [(None, 10, 20, 1, "on_time", 0)]),
            (FLUSH, [(None, 20, 30, 1, "on_time", 0)]),
        ]
    )


def test_14_early_panes_do_not_settle_elements_in_final_mode():
    from streams.refs import RefCounter

    acked = []
    source = Stream()
    node = source.window(Tumbling(10), clock=EventClock(timestamp=identity), early_count=1).count()
    out = node.sink_to_list()
    for t in (1, 2):
        source.emit(t, metadata=[{"ref": RefCounter(cb=lambda t=t: acked.append(t))}])
    assert [r.timing for r in out] == ["early", "early"]
    assert acked == []  # an early pane is not the element's final result
    source.emit(10)
    assert [r.timing for r in out][-1] == "on_time"
    assert sorted(acked) == [1, 2]


# -------------------------------------------------- 15. loop-time early panes


def test_15_early_interval_panes_on_loop_time():
    async def main():
        loop = asyncio.get_running_loop()
        source = Stream()
        node = source.window(
            Tumbling(60), clock=EventClock(timestamp=identity), early_interval=5
        ).count()
        out = []
        node.sink(lambda r: out.append((loop.time(), r[1:6])))

        async def at(when, t):
            await asyncio.sleep(when - loop.time())
            await source.emit(t)

        await at(0, 1)
        await at(2, 2)
        await asyncio.sleep(10 - loop.time())
        # E3: 5 loop seconds after the first element since the previous pane
        assert out == [(5, (0, 60, 2, "early", 0))]
        await at(10, 3)  # the first since that pane: the next early pane at 15
        await at(13, 61)  # W = 61: on time at once; [60, 120) gets its own timer
        await asyncio.sleep(30 - loop.time())
        await node.flush()
        return out

    assert run_virtual(main()) == [
        (5, (0, 60, 2, "early", 0)),
        (13, (0, 60, 3, "on_time", 1)),  # the pending early pane of [0, 60) is gone
        (18, (60, 120, 1, "early", 0)),
        (30, (60, 120, 1, "on_time", 1)),
    ]


# -------------------------------------------------- 16. sliding windows


def test_16_sliding_windows():
    source, w = window(Sliding(10), timestamp=identity, key=None)
    node = w.collect()
    Recorder(source, node).play(
        [
            (1, []),  # [-9, 1] with 1 (A4); W = 1: not past (end < W is)
            (5, [(None, -9, 1, [1], "on_time", 0)]),  # [-5, 5] = {1, 5}; W = 5
            (12, [(None, -5, 5, [1, 5], "on_time", 0)]),  # [2, 12] = {5, 12}
            # 3 is behind W = 12, yet [2, 12] holds it and is not past: accepted, and its
            # own window [-7, 3] is expired so never made (L1, L2)
            (3, []),
            (20, [(None, 2, 12, [3, 5, 12], "on_time", 0)]),  # [10, 20] = {12, 20}
            (FLUSH, [(None, 10, 20, [12, 20], "on_time", 0)]),
            (4, [late(4)]),
        ]
    )


def test_16_sliding_windows_per_key_clocks_equal_timestamps_and_update_panes():
    source, w = window(Sliding(5), emit="update", per_key=True)
    node = w.count()
    Recorder(source, node).play(
        [
            (("a", 1), [("a", -4, 1, 1, "early", 0)]),
            (("b", 2), [("b", -3, 2, 1, "early", 0)]),
            # one window per distinct timestamp: a second 1 updates [-4, 1] (E4); a's
            # clock is at 1 still (C4), so [-4, 1] is not past (end < W is, L1)
            (("a", 1), [("a", -4, 1, 2, "early", 1)]),
            # 4's own [-1, 4] holds the two 1s; then W_a = 4 and [-4, 1] expires (L4)
            (("a", 4), [("a", -1, 4, 3, "early", 0)]),
            (("b", 3), [("b", -2, 3, 2, "early", 0)]),
            # 1's own window [-4, 1] is expired for b (W_b = 3), but [-2, 3] holds it
            (("b", 1), [("b", -2, 3, 3, "early", 1)]),
            (("b", -3), [late(("b", -3))]),  # no window can hold it any more (L3)
        ]
    )


# -------------------------------------------------- 17. collect() order


def test_17_collect_sorts_by_time_while_folds_follow_arrival():
    source = Stream()
    clock = EventClock(timestamp=itemgetter(0), max_out_of_order=5)
    windowed = source.window(Tumbling(10), clock=clock)
    collected = windowed.collect(itemgetter(1)).sink_to_list()
    folded = windowed.reduce(lambda a, b: (0, a[1] + b[1])).sink_to_list()
    applied = windowed.apply(lambda xs: "".join(x[1] for x in xs)).sink_to_list()
    for x in [(3, "a"), (1, "b"), (3, "c"), (2, "d"), (16, "e")]:
        source.emit(x)
    assert [r.value for r in collected] == [["b", "d", "a", "c"]]  # E7: by (time, arrival)
    assert [r.value for r in folded] == [(0, "abcd")]  # in arrival order
    assert [r.value for r in applied] == ["bdac"]


# -------------------------------------------------- 18. idle advancement


def test_18_idle_timeout_moves_the_watermark_with_the_loop():
    async def main():
        loop = asyncio.get_running_loop()
        source = Stream()
        clock = EventClock(timestamp=identity, max_out_of_order=2, idle_timeout=5)
        node = source.window(Tumbling(10), clock=clock).count()
        out = []
        node.sink(lambda r: out.append((loop.time(), r[1:6])))
        node.late.sink(lambda x: out.append((loop.time(), late(x))))

        async def at(when, t):
            await asyncio.sleep(when - loop.time())
            await source.emit(t)

        await at(0, 3)  # W = 1
        await at(1, 8)  # W = 6; idle from 6 on: W = 6 + (now - 6), 10 at loop time 10
        await at(11, 9)  # W(11) = 11: [0, 10) expired
        assert node.watermark == 11
        await at(12, 12)  # W stays 11 (C1); idle from 17 on, from 11: 20 at 26
        await asyncio.sleep(40 - loop.time())
        return out

    assert run_virtual(main()) == [
        (10, (0, 10, 2, "on_time", 0)),
        (11, late(9)),
        (26, (10, 20, 1, "on_time", 0)),
    ]


def test_18_without_idle_timeout_only_elements_move_the_watermark():
    async def main():
        source = Stream()
        node = source.window(Tumbling(10), clock=EventClock(timestamp=identity)).count()
        out = node.sink_to_list()
        await source.emit(3)
        await asyncio.sleep(1000)
        assert out == []  # C7
        await source.emit(10)
        return out

    assert [r.value for r in run_virtual(main())] == [1]


# -------------------------------------------------- 19. partitioned idleness


def test_19_partitions_hold_the_watermark_until_idle():
    async def main():
        loop = asyncio.get_running_loop()
        source = Stream()
        clock = EventClock(timestamp=itemgetter(1), partition=itemgetter(0), idle_timeout=5)
        node = source.window(Tumbling(10), clock=clock).count()
        out = []
        node.sink(lambda r: out.append((loop.time(), r[1:6])))
        node.late.sink(lambda x: out.append((loop.time(), late(x))))

        async def at(when, x):
            await asyncio.sleep(when - loop.time())
            await source.emit(x)

        await at(0, ("p0", 1))
        await at(0, ("p1", 2))  # W = min(1, 2) = 1
        await at(1, ("p0", 15))  # W = min(15, 2) = 2: p1 holds [0, 10) open (C2)
        assert node.watermark == 2 and out == []
        # p1 is idle at 5: W = 15 (C6); p0 at 6: all idle, W = 15 + (now - 6)
        await at(12, ("p1", 3))  # W(12) = 21: [0, 10) is long gone
        await asyncio.sleep(40 - loop.time())
        return out

    assert run_virtual(main()) == [
        (5, (0, 10, 2, "on_time", 0)),
        (11, (10, 20, 1, "on_time", 0)),
        (12, late(("p1", 3))),
    ]


def test_19_an_idle_partition_coming_back_never_moves_the_watermark_back():
    async def main():
        source = Stream()
        clock = EventClock(timestamp=itemgetter(1), partition=itemgetter(0), idle_timeout=5)
        node = source.window(Tumbling(10), clock=clock).count()
        await source.emit(("p0", 30))
        await source.emit(("p1", 40))
        assert node.watermark == 30
        # both idle at loop time 5, W = 30 then (the least of both, C6): at 20, W = 45
        await asyncio.sleep(20)
        await source.emit(("p0", 31))  # p0 is active again, at 31 < 45
        return node.watermark

    assert run_virtual(main()) == 45


# -------------------------------------------------- 20. processing time, and drain


def test_20_processing_clock_windows_close_on_loop_time():
    async def main():
        loop = asyncio.get_running_loop()
        source = Stream()
        node = source.window(Tumbling(10), clock=ProcessingClock()).collect()
        out = []
        node.sink(lambda r: out.append((loop.time(), r[1:6])))
        for when, x in [(1, "a"), (3, "b"), (12, "c")]:
            await asyncio.sleep(when - loop.time())
            await source.emit(x)
        await asyncio.sleep(30 - loop.time())
        return out

    assert run_virtual(main()) == [
        (10, (0, 10, ["a", "b"], "on_time", 0)),
        (20, (10, 20, ["c"], "on_time", 0)),
    ]


def test_20_drain_closes_open_windows_for_good():
    async def main():
        source = Stream()
        node = source.window(Tumbling(10), clock=EventClock(timestamp=identity)).count()
        out = node.sink_to_list()
        dead = node.late.buffer(5).sink_to_list()
        for t in (1, 2, 11):
            await source.emit(t)
        await source.drain()  # the end of input: W = +inf (C3), everything fires
        assert [(r.start, r.value) for r in out] == [(0, 2), (10, 1)]
        assert node.watermark == INF
        await source.emit(3)  # after a drain, nothing is on time any more
        await source.drain()  # and what follows .late is drained too
        return dead

    assert run_virtual(main()) == [3]


def test_20_advance_watermark_on_the_loop_is_awaitable():
    async def main():
        source = Stream()
        node = source.window(Tumbling(10), clock=EventClock(timestamp=identity)).count()
        out = node.sink_to_list()
        await source.emit(4)
        await node.advance_watermark(10)
        return [(r.start, r.value, r.timing) for r in out]

    assert run_virtual(main()) == [(0, 1, "on_time")]
