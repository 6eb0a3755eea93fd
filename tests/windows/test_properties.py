"""Properties of event-time windows (research/event_time.md §4) against plain-Python oracles.

Elements are ``(key, t, v, i)`` tuples: ``i`` numbers them in timestamp order and names them
in ``collect()`` results. Every run feeds the same arrivals to three windows (``count()``,
``sum(v)`` and ``collect(i)``), flushes them and compares what came out, pane by pane as
``(key, start, end, value, timing, index)``, with a batch group-by written here directly:

1. in-order input, ``B = 0``: ``Tumbling`` (and 2. ``Hopping``) give one ``on_time`` pane per
   ``(key, window)`` of the group-by, in ``(end, start, creation)`` order (O1, O2);
3. an arrival order within the out-of-order bound (no element late) gives the same final
   panes (``Tumbling``, ``Hopping``, ``Session``);
4. ``Sliding``: one window ``[t - size, t]`` per distinct timestamp of a key, holding every
   element of the key in it (A4);
5. ``emit="update"``: the last pane of each window is the ``final`` mode's last pane (E4, E5);
6. discarding panes (``accumulate=False``) add up to the number of elements each window
   accepted (E1, E5, L1, L2);
and the group-by equality again with ``datetime`` timestamps and ``timedelta`` sizes.
"""

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from operator import itemgetter

from hypothesis import given, settings
from hypothesis import strategies as st

from streams import Stream
from streams.windows import EventClock, Hopping, Session, Sliding, Tumbling, WindowResult

from .scenario import settle

PROPERTY = settings(max_examples=200, deadline=None)

KEY = itemgetter(0)
TS = itemgetter(1)
VALUE = itemgetter(2)
NAME = itemgetter(3)
AGGS = ("count", "sum", "collect")

# -------------------------------------------------- data


@st.composite
def elements(draw, lo=-40, hi=80, max_size=25):
    """``(key, t, v, i)`` elements, sorted by ``t``; ``i`` is the position in that order."""
    raw = draw(
        st.lists(
            st.tuples(st.sampled_from("abc"), st.integers(lo, hi), st.integers(-5, 20)),
            max_size=max_size,
        )
    )
    raw.sort(key=TS)  # stable: equal timestamps keep their drawn order
    return [(k, t, v, i) for i, (k, t, v) in enumerate(raw)]


@st.composite
def hopping(draw):
    size = draw(st.integers(1, 15))
    return size, draw(st.integers(1, size)), draw(st.integers(-20, 20))


@st.composite
def within_bound(draw, elements, admissible):
    """An arrival order of ``elements`` in which each one is ``admissible(t, m)``, ``m`` the
    largest timestamp that arrived before it (``-inf`` for the first). Greedy: an element is
    picked only if every element still to come stays admissible after it (``admissible`` is
    monotone in ``m``, and the smallest remaining element can always go next)."""
    remaining = list(elements)
    order = []
    m = -math.inf
    while remaining:
        picks = [
            j
            for j, x in enumerate(remaining)
            if all(admissible(r[1], max(m, x[1])) for r in remaining if r is not x)
        ]
        j = draw(st.sampled_from(picks))
        x = remaining.pop(j)
        order.append(x)
        m = max(m, x[1])
    return order


# -------------------------------------------------- running the node


def run(kind, arrivals, *, keyed, bound=0, lateness=0, emit="final", accumulate=True):
    """Feed ``arrivals`` to a ``count()``, a ``sum(v)`` and a ``collect(i)`` window, then flush
    them. Returns ``{agg: [WindowResult...]}`` and ``{agg: [late elements...]}``."""
    source = Stream()
    nodes = {}
    for agg in AGGS:
        windowed = source.window(
            kind,
            clock=EventClock(timestamp=TS, max_out_of_order=bound),
            key=KEY if keyed else None,
            allowed_lateness=lateness,
            emit=emit,
            accumulate=accumulate,
        )
        nodes[agg] = {
            "count": windowed.count,
            "sum": lambda w=windowed: w.sum(VALUE),
            "collect": lambda w=windowed: w.collect(NAME),
        }[agg]()
    outs = {agg: node.sink_to_list() for agg, node in nodes.items()}
    lates = {agg: node.late.sink_to_list() for agg, node in nodes.items()}
    for x in arrivals:
        source.emit(x)
    for node in nodes.values():
        settle(node.flush())
    for out in outs.values():
        assert all(isinstance(r, WindowResult) for r in out)
    return outs, lates


def panes(results):
    return [(r.key, r.start, r.end, r.value, r.timing, r.index) for r in results]


# -------------------------------------------------- the batch group-by


def group(arrivals, windows_of, keyed):
    """``{(key, start, end): [(arrival position, element)...]}``, in window creation order
    (the arrival of the window's first element)."""
    groups = {}
    for pos, x in enumerate(arrivals):
        for start, end in windows_of(x[1]):
            groups.setdefault((x[0] if keyed else None, start, end), []).append((pos, x))
    return groups


def final_panes(groups, created=None):
    """What flushed final-mode windows emit: one ``on_time`` pane each, ordered by
    ``(end, start, creation)`` (O1, O2); ``collect`` in ``(timestamp, arrival)`` order (E7)."""
    rank = created or {w: n for n, w in enumerate(groups)}
    order = sorted(groups, key=lambda w: (w[2], w[1], rank[w]))
    values = {
        "count": lambda members: len(members),
        "sum": lambda members: sum(x[2] for _, x in members),
        "collect": lambda members: [
            x[3] for _, x in sorted(members, key=lambda px: (px[1][1], px[0]))
        ],
    }
    return {
        agg: [(k, s, e, value(groups[k, s, e]), "on_time", 0) for k, s, e in order]
        for agg, value in values.items()
    }


def tumbling_windows(size, offset):
    def windows_of(t):
        start = (t - offset) // size * size + offset
        return [(start, start + size)]

    return windows_of


def hopping_windows(size, step, offset):
    def windows_of(t):  # every s = offset (mod step) with s <= t < s + size
        return [(s, s + size) for s in range(t - size + 1, t + 1) if (s - offset) % step == 0]

    return windows_of


def session_groups(arrivals, gap, keyed):
    """Per key, elements in timestamp order chained while each starts at most ``gap`` after
    the previous one (touching windows merge): ``[first, last + gap)``."""
    by_key = {}
    for pos, x in enumerate(arrivals):
        by_key.setdefault(x[0] if keyed else None, []).append((pos, x))
    groups = {}
    for k, members in by_key.items():
        members.sort(key=lambda px: px[1][1])
        runs = []
        for px in members:
            if runs and px[1][1] <= runs[-1][-1][1][1] + gap:
                runs[-1].append(px)
            else:
                runs.append([px])
        for r in runs:
            groups[k, r[0][1][1], r[-1][1][1] + gap] = r
    return groups


def check_final(outs, lates, expected, *, replaces=True):
    for agg in AGGS:
        assert panes(outs[agg]) == expected[agg], agg
        assert lates[agg] == [], agg
        if replaces:
            assert all(r.replaces == () for r in outs[agg])


# -------------------------------------------------- 1, 2: in order, B = 0


@PROPERTY
@given(
    elements(),
    st.integers(1, 15),
    st.integers(-20, 20),
    st.booleans(),
)
def test_in_order_tumbling_is_a_group_by(xs, size, offset, keyed):
    outs, lates = run(Tumbling(size, offset), xs, keyed=keyed)
    check_final(outs, lates, final_panes(group(xs, tumbling_windows(size, offset), keyed)))


@PROPERTY
@given(elements(), hopping(), st.booleans())
def test_in_order_hopping_is_a_group_by(xs, window, keyed):
    size, step, offset = window
    outs, lates = run(Hopping(size, step, offset), xs, keyed=keyed)
    expected = final_panes(group(xs, hopping_windows(size, step, offset), keyed))
    check_final(outs, lates, expected)


# -------------------------------------------------- 3. any order within the bound


@PROPERTY
@given(
    st.data(),
    elements(),
    st.one_of(
        st.integers(1, 15).map(lambda size: (size, size, 0)),  # tumbling
        hopping(),
    ),
    st.integers(0, 12),
    st.booleans(),
)
def test_an_order_within_the_bound_gives_the_same_final_panes(data, xs, window, bound, keyed):
    size, step, offset = window
    kind = Tumbling(size, offset) if step == size else Hopping(size, step, offset)
    windows_of = hopping_windows(size, step, offset)

    def admissible(t, m):
        # L2 with L = 0: the element is taken by all its windows iff none is past yet
        return min(end for _, end in windows_of(t)) > m - bound

    arrivals = data.draw(within_bound(xs, admissible), label="arrivals")
    outs, lates = run(kind, arrivals, keyed=keyed, bound=bound)
    check_final(outs, lates, final_panes(group(arrivals, windows_of, keyed)))
    # and the same panes as in timestamp order: the same set (keys with the same window come
    # out in creation order, which is arrival order), the same values but for the order of
    # collect()'s ties (arrival order among equal timestamps)
    in_order, _ = run(kind, xs, keyed=keyed, bound=bound)
    for agg in ("count", "sum"):
        assert sorted(panes(outs[agg])) == sorted(panes(in_order[agg]))


@PROPERTY
@given(st.data(), elements(), st.integers(1, 12), st.integers(0, 12), st.booleans())
def test_sessions_in_an_order_within_the_bound_are_the_batch_sessions(data, xs, gap, bound, keyed):
    def admissible(t, m):
        # Stricter than L2: a session [a, b) is purged once b <= W, and an element at
        # t <= b arriving after that would start a new session where the batch merges.
        # t > W rules that out; so does t == m (the element at m merged [a, m) already).
        return t > m - bound or t == m

    arrivals = data.draw(within_bound(xs, admissible), label="arrivals")
    outs, lates = run(Session(gap), arrivals, keyed=keyed, bound=bound)
    groups = session_groups(arrivals, gap, keyed)
    expected = final_panes(groups)

    def by_window(ps):
        return sorted(ps, key=lambda p: (p[2], p[1], p[0] or ""))

    for agg in AGGS:
        got = panes(outs[agg])
        assert by_window(got) == by_window(expected[agg]), agg
        ends = [(p[2], p[1]) for p in got]
        assert ends == sorted(ends), agg  # O1, O2: panes come out by (end, start)
        assert lates[agg] == [], agg


# -------------------------------------------------- 4. sliding


@PROPERTY
@given(elements(), st.integers(1, 15), st.booleans())
def test_in_order_sliding_has_one_window_per_timestamp_with_everything_in_range(xs, size, keyed):
    by_key = {}
    for pos, x in enumerate(xs):
        by_key.setdefault(x[0] if keyed else None, []).append((pos, x))
    groups, created = {}, {}
    for k, members in by_key.items():
        for pos, x in members:
            w = (k, x[1] - size, x[1])
            if w not in groups:  # brute force: every element of the key in [t - size, t]
                groups[w] = [(p, y) for p, y in members if x[1] - size <= y[1] <= x[1]]
                created[w] = pos
    outs, lates = run(Sliding(size), xs, keyed=keyed)
    check_final(outs, lates, final_panes(groups, created))


# -------------------------------------------------- 5, 6: any order, update and discarding


def accepted(arrivals, windows_of, keyed, bound, lateness):
    """L1, L2 in plain Python: ``{(key, start, end): elements it took}`` and the elements no
    window took. ``W`` before an element is the largest earlier timestamp less ``bound``."""
    taken, late = Counter(), []
    m = -math.inf
    for x in arrivals:
        w = m - bound
        ok = [(s, e) for s, e in windows_of(x[1]) if e + lateness > w]
        for s, e in ok:
            taken[x[0] if keyed else None, s, e] += 1
        if not ok:
            late.append(x)
        m = max(m, x[1])
    return taken, late


def last_panes(results):
    """``{(key, start, end): last value}`` of the windows that still exist at the end:
    a session merged into another (``replaces``) is gone."""
    last = {}
    for r in results:
        for s, e in r.replaces:
            last.pop((r.key, s, e), None)
        last[r.key, r.start, r.end] = r.value
    return last


def pane_numbers(results):
    numbers = {}
    for r in results:
        numbers.setdefault((r.key, r.start, r.end), []).append((r.index, r.timing))
    return numbers


KINDS = st.one_of(
    st.tuples(st.just("tumbling"), st.integers(1, 15), st.integers(-20, 20)).map(
        lambda a: (Tumbling(a[1], a[2]), tumbling_windows(a[1], a[2]))
    ),
    hopping().map(lambda a: (Hopping(*a), hopping_windows(*a))),
    st.integers(1, 12).map(lambda size: (Sliding(size), None)),
    st.integers(1, 12).map(lambda gap: (Session(gap), None)),
)
ANY_ORDER = st.lists(
    st.tuples(st.sampled_from("abc"), st.integers(-40, 80), st.integers(-5, 20)), max_size=25
).map(lambda raw: [(k, t, v, i) for i, (k, t, v) in enumerate(raw)])
LATENESS = st.one_of(st.integers(0, 12), st.just(math.inf))


@PROPERTY
@given(ANY_ORDER, KINDS, st.integers(0, 12), LATENESS, st.booleans())
def test_the_last_update_pane_is_the_final_pane(arrivals, kind_oracle, bound, lateness, keyed):
    kind, windows_of = kind_oracle
    options = {"keyed": keyed, "bound": bound, "lateness": lateness}
    final, final_late = run(kind, arrivals, **options)
    update, update_late = run(kind, arrivals, emit="update", **options)
    for agg in AGGS:
        assert last_panes(update[agg]) == last_panes(final[agg]), agg
        assert update_late[agg] == final_late[agg], agg
        assert all(r.timing in ("early", "late") for r in update[agg])  # E4
        if not isinstance(kind, Session):  # E6: 0, 1, 2... per window; one on_time at most
            for numbers in pane_numbers(final[agg]).values():
                assert [n for n, _ in numbers] == list(range(len(numbers)))
                assert [t for _, t in numbers].count("on_time") <= 1
            for numbers in pane_numbers(update[agg]).values():
                assert [n for n, _ in numbers] == list(range(len(numbers)))
    if windows_of is not None:  # the count is what L1, L2 let in
        taken, late = accepted(arrivals, windows_of, keyed, bound, lateness)
        assert last_panes(final["count"]) == dict(taken)
        assert final_late["count"] == late


@PROPERTY
@given(
    ANY_ORDER,
    KINDS,
    st.integers(0, 12),
    LATENESS,
    st.booleans(),
    st.sampled_from(["final", "update"]),
)
def test_discarding_panes_add_up_to_what_each_window_took(
    arrivals, kind_oracle, bound, lateness, keyed, emit
):
    kind, windows_of = kind_oracle
    options = {"keyed": keyed, "bound": bound, "lateness": lateness, "emit": emit}
    discarding, late = run(kind, arrivals, accumulate=False, **options)
    accumulating, _ = run(kind, arrivals, **options)
    counts = discarding["count"]
    assert all(r.value >= 1 for r in counts)  # E1: no empty discarding pane
    if isinstance(kind, Session):  # sessions merge: each taken element is in one of them
        assert sum(r.value for r in counts) == len(arrivals) - len(late["count"])
        assert sum(r.value for r in discarding["sum"]) == sum(
            x[2] for x in arrivals if x not in late["count"]
        )
        return
    totals = Counter()
    for r in counts:
        totals[r.key, r.start, r.end] += r.value
    assert dict(totals) == last_panes(accumulating["count"])
    collected = {}
    for r in discarding["collect"]:
        collected.setdefault((r.key, r.start, r.end), []).extend(r.value)
    assert {w: sorted(v) for w, v in collected.items()} == {
        w: sorted(v) for w, v in last_panes(accumulating["collect"]).items()
    }
    if windows_of is not None:
        taken, late_oracle = accepted(arrivals, windows_of, keyed, bound, lateness)
        assert dict(totals) == dict(taken)
        assert late["count"] == late_oracle


# -------------------------------------------------- datetimes and timedeltas


@PROPERTY
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 3 * 3600), st.integers(-5, 20)),
        max_size=25,
    ),
    st.integers(1, 40),  # minutes
    st.integers(1, 40),
    st.integers(-90, 90),
    st.sampled_from([None, UTC]),
    st.booleans(),
)
def test_in_order_datetime_windows_are_a_group_by(raw, size, step, offset, tz, keyed):
    minute = timedelta(minutes=1)
    epoch = datetime(1970, 1, 1, tzinfo=tz)
    base = datetime(2026, 3, 29, 0, 30, tzinfo=tz)
    raw.sort(key=TS)
    xs = [(k, base + timedelta(seconds=s), v, i) for i, (k, s, v) in enumerate(raw)]
    step = min(step, size)
    if step == size:
        kind = Tumbling(size * minute, offset * minute)
    else:
        kind = Hopping(size * minute, step * minute, offset * minute)

    def windows_of(t):  # in whole seconds since the epoch, by the integer oracle
        seconds = (t - epoch) // timedelta(seconds=1)
        spans = hopping_windows(size * 60, step * 60, offset * 60)(seconds)
        return [(epoch + timedelta(seconds=s), epoch + timedelta(seconds=e)) for s, e in spans]

    outs, lates = run(kind, xs, keyed=keyed, bound=0)  # a number bound with datetimes too
    check_final(outs, lates, final_panes(group(xs, windows_of, keyed)))


def test_datetimes_with_the_default_clock_bound():
    source = Stream()
    clock = EventClock(timestamp=TS)  # max_out_of_order=0
    node = source.window(Tumbling(timedelta(minutes=1)), clock=clock).count()
    out = node.sink_to_list()
    t = datetime(2026, 1, 1, 12, 0, 30)
    source.emit(("a", t, 1, 0))
    settle(node.flush())
    assert panes(out) == [
        (None, t.replace(second=0), t.replace(minute=1, second=0), 1, "on_time", 0)
    ]
