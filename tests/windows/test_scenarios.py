"""Acceptance scenarios 1-12 of the event-time spec (research/event_time.md §5), as written.

Every scenario is played step by step, and the output *of each step* is checked: results as
``(key, start, end, value, timing, index)`` and late elements as ``("LATE", element)``, in one
list in arrival order (``node`` and ``node.late`` sink into the same list).
"""

from operator import itemgetter

import pytest

from streams.windows import Hopping, Session, Tumbling

from .scenario import FLUSH, INF, Recorder, W, identity, late, window

# -------------------------------------------------- 1. tumbling, data-driven close


def test_1_tumbling_data_driven_close_then_explicit_watermark():
    source, w = window(Tumbling(10), timestamp=identity, key=None)
    node = w.collect()
    assert node.watermark == -INF
    rec = Recorder(source, node).play(
        [
            (1, []),
            (2, []),
            (3, []),
            (10, [(None, 0, 10, [1, 2, 3], "on_time", 0)]),
            (11, []),
            (W(25), [(None, 10, 20, [10, 11], "on_time", 0)]),
        ]
    )
    assert node.watermark == 25
    assert len(rec.out) == 2


# -------------------------------------------------- 2. out-of-orderness, final/update


SCENARIO_2AB = {
    "final": [
        (("k1", 0), []),
        (("k1", 1), []),
        (("k1", 2), []),
        (("k1", 1), []),
        (("k1", 0), []),
        (("k1", 5), [("k1", 0, 2, 4, "on_time", 0), ("k1", 2, 4, 1, "on_time", 0)]),
        (("k1", 0), [late(("k1", 0))]),
        (FLUSH, [("k1", 4, 6, 1, "on_time", 0)]),
    ],
    "update": [
        (("k1", 0), [("k1", 0, 2, 1, "early", 0)]),
        (("k1", 1), [("k1", 0, 2, 2, "early", 1)]),
        (("k1", 2), [("k1", 2, 4, 1, "early", 0)]),
        (("k1", 1), [("k1", 0, 2, 3, "early", 2)]),
        (("k1", 0), [("k1", 0, 2, 4, "early", 3)]),
        (("k1", 5), [("k1", 4, 6, 1, "early", 0)]),
        (("k1", 0), [late(("k1", 0))]),
        (FLUSH, []),
    ],
}


@pytest.mark.parametrize("emit", ["final", "update"])
def test_2ab_bounded_out_of_orderness_final_and_update(emit):
    source, w = window(Tumbling(2), bound=1, emit=emit)
    Recorder(source, w.count()).play(SCENARIO_2AB[emit])


def test_2c_large_jump():
    source, w = window(Tumbling(2), bound=2)
    Recorder(source, w.count()).play(
        [
            (("k1", 0), []),
            (("k1", 1), []),
            (("k1", 2), []),
            (("k1", 0), []),
            (("k1", 3), []),
            (("k1", 0), []),
            (("k1", 4), [("k1", 0, 2, 4, "on_time", 0)]),
            (("k1", 0), [late(("k1", 0))]),
            (("k1", 30), [("k1", 2, 4, 2, "on_time", 0), ("k1", 4, 6, 1, "on_time", 0)]),
            (FLUSH, [("k1", 30, 32, 1, "on_time", 0)]),
        ]
    )


# -------------------------------------------------- 3. window-level lateness


SCENARIO_3 = {
    "final": [
        [
            (("key1", 100, 1), []),
            (("key1", 105, 3), []),
            (("key2", 102, 5), []),
            (("key2", 108, 7), []),
            (("key1", 110, 2), []),
        ],
        [
            (("key2", 109, 2), []),
            (
                ("key1", 112, 2),
                [("key1", 100, 110, 4, "on_time", 0), ("key2", 100, 110, 14, "on_time", 0)],
            ),
            (FLUSH, [("key1", 110, 120, 4, "on_time", 0)]),
        ],
    ],
    "update": [
        [
            (("key1", 100, 1), [("key1", 100, 110, 1, "early", 0)]),
            (("key1", 105, 3), [("key1", 100, 110, 4, "early", 1)]),
            (("key2", 102, 5), [("key2", 100, 110, 5, "early", 0)]),
            (("key2", 108, 7), [("key2", 100, 110, 12, "early", 1)]),
            (("key1", 110, 2), [("key1", 110, 120, 2, "early", 0)]),
        ],
        [
            (("key2", 109, 2), [("key2", 100, 110, 14, "early", 2)]),
            (("key1", 112, 2), [("key1", 110, 120, 4, "early", 1)]),
            (FLUSH, []),
        ],
    ],
}


@pytest.mark.parametrize("emit", ["final", "update"])
def test_3_window_level_lateness_operator_wide_clock(emit):
    source, w = window(Tumbling(10), bound=2, emit=emit)
    node = w.sum(itemgetter(2))
    rec = Recorder(source, node)
    before, after = SCENARIO_3[emit]
    rec.play(before)
    assert node.watermark == 108  # (key2,109,2) arrives behind W and is still accepted
    rec.play(after)
    assert not [x for x in rec.out if x[0] == "LATE"]


# -------------------------------------------------- 4. per-key vs operator-wide clock


def test_4a_per_key_clock():
    source, w = window(Tumbling(10000), per_key=True)
    node = w.sum(itemgetter(2))
    rec = Recorder(source, node).play(
        [
            (("A", 100, 1), []),
            (("B", 101, 2), []),
            (("C", 105, 3), []),
            (("B", 10100, 2), [("B", 0, 10000, 2, "on_time", 0)]),
        ]
    )
    assert node.watermark["A"] == 100
    rec.play(
        [
            (("A", 8000, 1), []),  # accepted: A's clock is at 100
            (("A", 10001, 1), [("A", 0, 10000, 2, "on_time", 0)]),
            (
                FLUSH,
                [
                    ("C", 0, 10000, 3, "on_time", 0),
                    ("B", 10000, 20000, 2, "on_time", 0),
                    ("A", 10000, 20000, 1, "on_time", 0),
                ],
            ),
        ]
    )


def test_4b_operator_wide_clock():
    source, w = window(Tumbling(10000))
    Recorder(source, w.sum(itemgetter(2))).play(
        [
            (("A", 100, 1), []),
            (("B", 101, 2), []),
            (("C", 105, 3), []),
            (
                ("B", 10100, 1),
                [
                    ("A", 0, 10000, 1, "on_time", 0),
                    ("B", 0, 10000, 2, "on_time", 0),
                    ("C", 0, 10000, 3, "on_time", 0),
                ],
            ),
            (("A", 8000, 1), [late(("A", 8000, 1))]),
            (("A", 10001, 1), []),
            (
                FLUSH,
                [("B", 10000, 20000, 1, "on_time", 0), ("A", 10000, 20000, 1, "on_time", 0)],
            ),
        ]
    )


# -------------------------------------------------- 5. explicit watermarks, side output


def test_5_explicit_watermarks_zero_lateness_side_output():
    source, w = window(Tumbling(2000), bound=INF)
    node = w.count()
    rec = Recorder(source, node).play([(("key2", 1000), [])])
    assert node.watermark == -INF  # with B = inf data never moves W
    rec.play(
        [
            (W(1986), []),
            (("key2", 1980), []),
            (W(2000), [("key2", 0, 2000, 2, "on_time", 0)]),
            (("key2", 1998), [late(("key2", 1998))]),
            (("key2", 2001), []),
            (W(3000), []),
            (W(4000), [("key2", 2000, 4000, 1, "on_time", 0)]),
        ]
    )


# -------------------------------------------------- 6. allowed lateness


@pytest.mark.parametrize(("accumulate", "late_value"), [(False, 1), (True, 3)])
def test_6_allowed_lateness_discarding_and_accumulating(accumulate, late_value):
    source, w = window(Tumbling(2000), bound=INF, allowed_lateness=500, accumulate=accumulate)
    Recorder(source, w.count()).play(
        [
            (("key2", 500), []),
            (W(1501), []),
            (("key2", 1300), []),
            (W(2301), [("key2", 0, 2000, 2, "on_time", 0)]),
            (("key2", 1997), [("key2", 0, 2000, late_value, "late", 1)]),
            (W(6001), []),
            (("key2", 1998), [late(("key2", 1998))]),
            (W(7001), []),
        ]
    )


# -------------------------------------------------- 7. unbounded lateness


def test_7_unbounded_lateness_accumulating_late_pane():
    source, w = window(Tumbling(10), timestamp=identity, key=None, bound=INF, allowed_lateness=INF)
    Recorder(source, w.collect()).play(
        [
            (1, []),
            (2, []),
            (3, []),
            (10, []),
            (11, []),
            (25, []),
            (
                W(100),
                [
                    (None, 0, 10, [1, 2, 3], "on_time", 0),
                    (None, 10, 20, [10, 11], "on_time", 0),
                    (None, 20, 30, [25], "on_time", 0),
                ],
            ),
            (7, [(None, 0, 10, [1, 2, 3, 7], "late", 1)]),
        ]
    )


# -------------------------------------------------- 8. hopping, explicit watermarks


def test_8_hopping_explicit_watermarks_partial_lateness():
    source, w = window(Hopping(3000, 1000), bound=INF)
    Recorder(source, w.count()).play(
        [
            (("key2", 1000), []),
            (W(2000), [("key2", -1000, 2000, 1, "on_time", 0)]),
            (("key2", 2000), []),
            (W(3001), [("key2", 0, 3000, 2, "on_time", 0)]),
            (("key1", 3001), []),
            (("key2", 2400), []),  # dropped from [0,3000) (expired), kept in the others: not late
            (("key2", 2400), []),
            (("key1", 3001), []),
            (("key2", 3900), []),
            (
                W(6001),
                [
                    ("key2", 1000, 4000, 5, "on_time", 0),
                    ("key1", 1000, 4000, 2, "on_time", 0),
                    ("key2", 2000, 5000, 4, "on_time", 0),
                    ("key1", 2000, 5000, 2, "on_time", 0),
                    ("key1", 3000, 6000, 2, "on_time", 0),
                    ("key2", 3000, 6000, 1, "on_time", 0),
                ],
            ),
            (("key1", 3001), [late(("key1", 3001))]),
            (W(25001), []),
        ]
    )


# -------------------------------------------------- 9. hopping, data-driven close


def test_9_hopping_data_driven_close_order():
    source, w = window(Hopping(10, 5), timestamp=itemgetter(0), key=None)
    Recorder(source, w.collect(f=itemgetter(1))).play(
        [
            ((1, "a"), []),
            ((4, "b"), []),
            ((8, "c"), [(None, -5, 5, ["a", "b"], "on_time", 0)]),
            ((12, "d"), [(None, 0, 10, ["a", "b", "c"], "on_time", 0)]),
            ((13, "e"), []),
            ((14, "f"), []),
            ((16, "g"), [(None, 5, 15, ["c", "d", "e", "f"], "on_time", 0)]),
            ((1, "h"), [late((1, "h"))]),
            (
                FLUSH,
                [
                    (None, 10, 20, ["d", "e", "f", "g"], "on_time", 0),
                    (None, 15, 25, ["g"], "on_time", 0),
                ],
            ),
        ]
    )


# -------------------------------------------------- 10. sessions, bridging merge


def test_10_sessions_bridging_merge_late_side_output():
    source, w = window(Session(3000), bound=INF)
    Recorder(source, w.count()).play(
        [
            (("key2", 1000), []),
            (W(2000), []),
            (("key2", 2000), []),
            (W(4999), []),
            (("key2", 4500), []),
            (("key2", 8500), []),
            (W(7401), []),
            (("key2", 7000), []),  # merges [1000,7500) and [8500,11500) into [1000,11500)
            (W(11502), [("key2", 1000, 11500, 5, "on_time", 0)]),
            (("key2", 11600), []),
            (W(14601), [("key2", 11600, 14600, 1, "on_time", 0)]),
            (("key2", 10000), [late(("key2", 10000))]),
            (("key2", 14500), []),
            (W(20001), [("key2", 14500, 17500, 1, "on_time", 0)]),
            (W(100001), []),
        ]
    )


# -------------------------------------------------- 11. sessions, data-driven close


def test_11a_sessions_data_driven_close():
    source, w = window(Session(5), timestamp=itemgetter(0), key=None)
    Recorder(source, w.collect(f=itemgetter(1))).play(
        [
            ((1, "a"), []),
            ((5, "b"), []),
            ((11, "c"), [(None, 1, 10, ["a", "b"], "on_time", 0)]),
            ((12, "d"), []),
            ((13, "e"), []),
            ((14, "f"), []),
            ((20, "g"), [(None, 11, 19, ["c", "d", "e", "f"], "on_time", 0)]),
            ((1, "h"), [late((1, "h"))]),
            (FLUSH, [(None, 20, 25, ["g"], "on_time", 0)]),
        ]
    )


def test_11b_sessions_exact_gap_merges():
    source, w = window(Session(10), timestamp=itemgetter(0), key=None, bound=INF)
    Recorder(source, w.collect(f=itemgetter(1))).play(
        [
            ((0, "a"), []),
            ((10, "b"), []),
            ((20, "c"), []),
            ((31, "d"), []),
            (
                FLUSH,
                [
                    (None, 0, 30, ["a", "b", "c"], "on_time", 0),
                    (None, 31, 41, ["d"], "on_time", 0),
                ],
            ),
        ]
    )


# -------------------------------------------------- 12. keyed sessions, final/update


SCENARIO_12 = {
    "final": [
        (("k1", 0), []),
        (("k1", 5), []),
        (("k1", 1), []),
        (("k2", 11), [("k1", 0, 10, 3, "on_time", 0)]),
        (("k1", 5), [late(("k1", 5))]),
        (("k1", 30), [("k2", 11, 16, 1, "on_time", 0)]),
        (FLUSH, [("k1", 30, 35, 1, "on_time", 0)]),
    ],
    "update": [
        (("k1", 0), [("k1", 0, 5, 1, "early", 0)]),
        (("k1", 5), [("k1", 0, 10, 2, "early", 1)]),
        (("k1", 1), [("k1", 0, 10, 3, "early", 2)]),
        (("k2", 11), [("k2", 11, 16, 1, "early", 0)]),
        (("k1", 5), [late(("k1", 5))]),
        (("k1", 30), [("k1", 30, 35, 1, "early", 0)]),
        (FLUSH, []),
    ],
}


@pytest.mark.parametrize("emit", ["final", "update"])
def test_12_keyed_sessions_operator_wide_clock(emit):
    source, w = window(Session(5), emit=emit)
    rec = Recorder(source, w.count()).play(SCENARIO_12[emit])
    if emit == "update":
        # only the merge of [0,5) with the new [5,10) replaces a session
        assert [r.replaces for r in rec.results] == [(), ((0, 5),), (), (), ()]
