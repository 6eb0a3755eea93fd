"""filter, remove, slice, unique (streams/operators/select.py)."""

import asyncio
import itertools

import pytest
import toolz
from helpers import Capture, Gate, feed, spin
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streams import RefCounter, Stream

ORACLE = settings(max_examples=100, deadline=None)


def iseven(x):
    return x % 2 == 0


def ispositive(x):
    return x > 0


def identity(x):
    return x


def attached(node, upstream):
    return any(d is node for d in upstream.downstreams)


def lru_unique(xs, maxsize, key=identity):
    """Reference model: remember the last ``maxsize`` keys; a repeat refreshes and is dropped."""
    recent, out = [], []  # recent: least recently seen first
    for x in xs:
        k = key(x)
        if k in recent:
            recent.remove(k)
        else:
            out.append(x)
        recent.append(k)
        if maxsize is not None and len(recent) > maxsize:
            del recent[0]
    return out


# ------------------------------------------------------------------ behaviour


def test_filter_and_remove_pass_extra_args_and_kwargs():
    def above(x, limit, strict=True):
        return x > limit if strict else x >= limit

    source = Stream()
    kept = source.filter(above, 2, strict=False).sink_to_list()
    dropped = source.remove(above, 2, strict=False).sink_to_list()
    feed(source, range(5))
    assert kept == [2, 3, 4]
    assert dropped == [0, 1]


def test_filter_none_keeps_truthy_elements():
    source = Stream()
    out = source.filter(None).sink_to_list()
    feed(source, [0, 1, "", "a", None, [], [0], False, True])
    assert out == [1, "a", [0], True]


def test_slice_examples():
    cases = {
        (1, 7, 2): [1, 3, 5],
        (None, None, None): list(range(10)),
        (None, None, 3): [0, 3, 6, 9],
        (8, None, None): [8, 9],
        (None, 3, None): [0, 1, 2],
        (5, 3, None): [],
        (0, 0, None): [],
        (20, None, None): [],
    }
    for (start, end, step), expected in cases.items():
        source = Stream()
        out = source.slice(start, end, step).sink_to_list()
        feed(source, range(10))
        assert out == expected, (start, end, step)


def test_slice_detaches_from_upstream_after_end():
    source = Stream()
    node = source.slice(1, 3)
    out = node.sink_to_list()
    source.emit("a")
    source.emit("b")
    assert attached(node, source)
    source.emit("c")
    assert not attached(node, source)
    assert node.upstreams == []
    source.emit("d")
    assert out == ["b", "c"]


def test_slice_detaches_after_end_even_if_downstream_raised_on_last_element():
    source = Stream()
    node = source.slice(0, 1)
    node.map(int)
    with pytest.raises(ValueError, match="invalid literal"):
        source.emit("x")  # position 0 is the last one the slice passes
    source.emit("1")
    assert not attached(node, source)


def test_slice_with_end_zero_never_attaches_and_start_beyond_end_detaches():
    source = Stream()
    empty = source.slice(end=0)
    assert source.downstreams == ()
    beyond = source.slice(5, 2)
    out = beyond.sink_to_list()
    feed(source, range(3))
    assert not attached(beyond, source)
    assert out == []
    assert empty.current_value is None


def test_unique_maxsize_none_vs_one_vs_lru_refresh():
    source = Stream()
    first_seen = source.unique().sink_to_list()
    changes = source.unique(maxsize=1).sink_to_list()
    lru2 = source.unique(maxsize=2).sink_to_list()
    feed(source, [1, 1, 2, 1, 3, 1, 3, 3])
    assert first_seen == [1, 2, 3]
    assert changes == [1, 2, 1, 3, 1, 3]
    # the repeat of 1 refreshes it, so 3 evicts 2 (not 1) and the last 1 is still known
    assert lru2 == [1, 2, 3]


def test_unique_with_key_and_unhashable_elements():
    a, b = {"a": 1}, {"a": 2}
    source = Stream()
    every = source.unique(hashable=False).sink_to_list()
    changes = source.unique(maxsize=1, hashable=False).sink_to_list()
    by_key = source.unique(key=lambda d: d["a"] % 2).sink_to_list()
    feed(source, [a, dict(a), b, a])
    assert every == [a, b]
    assert changes == [a, b, a]
    assert by_key == [a, b]


@pytest.mark.parametrize(
    ("build", "label"),
    [
        (lambda s: s.filter(iseven), "filter<iseven>"),
        (lambda s: s.filter(lambda x: x), "filter<lambda>"),
        (lambda s: s.remove(iseven), "remove<iseven>"),
        (lambda s: s.slice(1, 7, 2), "slice<1:7:2>"),
    ],
)
def test_unnamed_labels(build, label):
    assert build(Stream())._describe() == label


@pytest.mark.parametrize(
    "build",
    [
        lambda s: s.filter(iseven, stream_name="n"),
        lambda s: s.filter(None, stream_name="n"),
        lambda s: s.remove(iseven, stream_name="n"),
        lambda s: s.slice(1, 7, 2, stream_name="n"),
        lambda s: s.unique(maxsize=3, stream_name="n"),
    ],
)
def test_stream_name_labels_the_node(build):
    assert build(Stream())._describe() == "n"


def test_current_value_is_last_emitted():
    source = Stream()
    nodes = [source.filter(iseven), source.remove(iseven), source.slice(1, 3), source.unique()]
    assert [n.current_value for n in nodes] == [None] * 4
    feed(source, [2, 1, 2, 4, 3])
    assert [n.current_value for n in nodes] == [4, 3, 2, 3]


# ------------------------------------------------------------------ oracles

ints = st.lists(st.integers(-10, 10), max_size=40)
few = st.lists(st.integers(-4, 4), max_size=30)  # many repeats, for unique
predicates = st.sampled_from([iseven, ispositive, None])
keys = st.sampled_from([identity, abs, lambda x: x % 3])


@ORACLE
@given(ints, predicates)
def test_filter_matches_builtin_filter(xs, predicate):
    source = Stream()
    out = source.filter(predicate).sink_to_list()
    feed(source, xs)
    assert out == list(filter(predicate, xs))


@ORACLE
@given(ints, st.sampled_from([iseven, ispositive]))
def test_remove_matches_filterfalse(xs, predicate):
    source = Stream()
    out = source.remove(predicate).sink_to_list()
    feed(source, xs)
    assert out == list(itertools.filterfalse(predicate, xs))


@ORACLE
@given(
    ints,
    st.integers(0, 45),
    st.none() | st.integers(0, 45),
    st.integers(1, 6),
)
def test_slice_matches_islice(xs, start, end, step):
    source = Stream()
    node = source.slice(start, end, step)
    out = node.sink_to_list()
    feed(source, xs)
    assert out == list(itertools.islice(xs, start, end, step))
    assert attached(node, source) == (end is None or len(xs) < end)


@ORACLE
@given(few, keys)
def test_unique_matches_toolz_unique(xs, key):
    source = Stream()
    out = source.unique(key=key).sink_to_list()
    feed(source, xs)
    assert out == list(toolz.unique(xs, key=key))


@ORACLE
@given(few, st.integers(1, 5), keys)
@example([1, 2, 1, 3, 1], 2, identity)  # a repeat must refresh the key
def test_unique_maxsize_matches_lru_model(xs, maxsize, key):
    source = Stream()
    out = source.unique(maxsize=maxsize, key=key).sink_to_list()
    feed(source, xs)
    assert out == lru_unique(xs, maxsize, key)


@ORACLE
@given(few, st.none() | st.integers(1, 5))
def test_unique_unhashable_matches_model(xs, maxsize):
    boxed = [[x] for x in xs]
    source = Stream()
    out = source.unique(maxsize=maxsize, hashable=False).sink_to_list()
    feed(source, boxed)
    assert out == [[x] for x in lru_unique(xs, maxsize)]


# ------------------------------------------------------------------ errors


def test_predicate_error_has_note_and_graph_keeps_working():
    def check(x):
        if x == "bad":
            raise ValueError("no")
        return True

    for method, label in [("filter", "filter<check>"), ("remove", "remove<check>")]:
        source = Stream()
        node = getattr(source, method)(check)
        out = node.sink_to_list()
        with pytest.raises(ValueError, match="no") as info:
            source.emit("bad")
        assert info.value.__notes__ == [f"in {label} (element 'bad')"]
        source.emit("ok")
        assert out == (["ok"] if method == "filter" else [])


def test_downstream_error_gets_no_note_from_upstream_filter():
    source = Stream()
    source.filter(None).slice(0, 5).unique().map(int)
    with pytest.raises(ValueError, match="invalid literal") as info:
        source.emit("x")
    assert info.value.__notes__ == ["in map<int> (element 'x')"]


def test_unique_key_error_and_unhashable_notes():
    source = Stream()
    source.unique(key=lambda d: d["k"], stream_name="u")
    with pytest.raises(KeyError) as info:
        source.emit({})
    assert info.value.__notes__ == ["in u (element {})"]

    for maxsize in (None, 2):
        source = Stream()
        out = source.unique(maxsize=maxsize).sink_to_list()
        with pytest.raises(TypeError, match="unhashable") as info:
            source.emit({"a": 1})
        assert any("hashable=False" in note for note in info.value.__notes__)
        assert any("element {'a': 1}" in note for note in info.value.__notes__)
        source.emit(1)
        assert out == [1]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("slice(-1)", ValueError),
        ("slice(0, -1)", ValueError),
        ("slice(step=0)", ValueError),
        ("slice(step=-1)", ValueError),
        ('slice("1")', TypeError),
        ("slice(0, 2.0)", TypeError),
        ("slice(step=1.5)", TypeError),
        ("unique(maxsize=0)", ValueError),
        ("unique(maxsize=-1)", ValueError),
        ('unique(maxsize="3")', TypeError),
        ("unique(key=5)", TypeError),
        ("filter(5)", TypeError),
        ('remove("x")', TypeError),
        ('filter(iseven, stream_nam="x")', TypeError),
        ('filter(None, stream_nam="x")', TypeError),
        ('remove(iseven, stream_nam="x")', TypeError),
        ('slice(1, stream_nam="x")', TypeError),
        ('unique(stream_nam="x")', TypeError),
    ],
)
def test_bad_build_arguments_raise_at_build_time(call, error):
    source = Stream()
    with pytest.raises(error):
        eval(f"source.{call}", {"source": source, "iseven": iseven})
    assert source.downstreams == ()


def test_filter_passes_keywords_the_predicate_accepts():
    def pred(x, **kw):
        return kw["stream_nam"] == x

    source = Stream()
    out = source.filter(pred, stream_nam="x").sink_to_list()
    feed(source, ["x", "y"])
    assert out == ["x"]


# ------------------------------------------------------------------ metadata


@pytest.mark.parametrize(
    ("build", "kept"),
    [
        (lambda s: s.filter(iseven), [0, 1, 3]),
        (lambda s: s.remove(iseven), [2]),
        (lambda s: s.slice(1, 3), [1, 2]),
        (lambda s: s.unique(maxsize=1), [0, 2, 3]),
    ],
)
def test_metadata_passes_through_and_ref_is_released_for_every_element(build, kept):
    released = []
    source = Stream()
    cap = Capture(build(source))
    sent = []
    for i, x in enumerate([2, 2, 3, 4]):
        ref = RefCounter(cb=lambda i=i: released.append(i))
        sent.append((x, [{"ref": ref}]))
        source.emit(x, metadata=sent[-1][1])
        assert ref.count == 0
    assert released == [0, 1, 2, 3]
    assert cap.seen == [sent[i] for i in kept]


# ------------------------------------------------------------------ back pressure


@pytest.mark.parametrize(
    ("build", "dropped"),
    [
        (lambda s: s.filter(iseven), 3),
        (lambda s: s.remove(lambda x: x % 2), 3),
        (lambda s: s.slice(0, None, 2), 3),
        (lambda s: s.unique(), 2),
    ],
)
def test_back_pressure_passes_through_for_kept_elements_only(build, dropped):
    async def main():
        sink = Gate()
        source = Stream()
        build(source).sink(sink)
        emitting = asyncio.ensure_future(source.emit(2, asynchronous=True))
        await spin()
        assert sink.started == [2]
        assert not emitting.done()
        sink.gates[0].set()
        await spin()
        assert emitting.done()
        assert sink.finished == [2]
        emitting = asyncio.ensure_future(source.emit(dropped, asynchronous=True))
        await spin()
        assert emitting.done()  # dropped: nothing to wait for
        assert sink.started == [2]

    asyncio.run(main())


def test_slice_waits_for_its_last_element_although_it_detached():
    async def main():
        sink = Gate()
        source = Stream()
        node = source.slice(0, 1)
        node.sink(sink)
        emitting = asyncio.ensure_future(source.emit("last", asynchronous=True))
        await spin()
        assert not attached(node, source)
        assert sink.started == ["last"]
        assert not emitting.done()
        sink.gates[0].set()
        await spin()
        assert emitting.done()
        assert sink.finished == ["last"]

    asyncio.run(main())
