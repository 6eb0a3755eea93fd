"""map, starmap, pluck, flatten/concat (streams/operators/transform.py)."""

import asyncio
import functools
import itertools

import pytest
import toolz
from helpers import Capture, Gate, spin
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import RefCounter, Stream

ORACLE = settings(max_examples=100, deadline=None)


def inc(x):
    return x + 1


def add(a, b):
    return a + b


def parse(s):
    return int(s)


# ------------------------------------------------------------------ behaviour


def test_map_applies_func_with_extra_args_and_kwargs():
    def scale(x, factor, offset=0):
        return x * factor + offset

    source = Stream()
    out = source.map(scale, 10, offset=1).sink_to_list()
    squares = source.map(pow, 2).sink_to_list()
    for i in range(3):
        source.emit(i)
    assert out == [1, 11, 21]
    assert squares == [0, 1, 4]


def test_map_passes_keywords_the_function_accepts():
    def f(x, **kw):
        return (x, kw)

    source = Stream()
    out = source.map(f, stream_nam="typo-but-accepted").sink_to_list()
    source.emit(1)
    assert out == [(1, {"stream_nam": "typo-but-accepted"})]


def test_map_stream_name_is_not_passed_to_func():
    source = Stream()
    node = source.map(inc, stream_name="plus one")
    out = node.sink_to_list()
    source.emit(1)
    assert out == [2]
    assert node._describe() == "plus one"


def test_starmap_unpacks_element_then_extra_args():
    def f(a, b, c, scale=1):
        return (a + b + c) * scale

    source = Stream()
    out = source.starmap(f, 100, scale=2).sink_to_list()
    divs = source.starmap(divmod).sink_to_list()
    source.emit((7, 2))
    assert out == [218]
    assert divs == [(3, 1)]


def test_pluck_single_key_list_of_keys_and_tuple_key():
    source = Stream()
    name = source.pluck("name").sink_to_list()
    pair = source.pluck(["name", "age"]).sink_to_list()
    single = source.pluck(["age"]).sink_to_list()
    source.emit({"name": "Ada", "age": 36})
    assert (name, pair, single) == (["Ada"], [("Ada", 36)], [(36,)])

    source = Stream()
    by_tuple = source.pluck((0, 1)).sink_to_list()  # a tuple is one key, not several
    source.emit({(0, 1): "v"})
    assert by_tuple == ["v"]


def test_pluck_index_on_sequences():
    source = Stream()
    out = source.pluck(-1).sink_to_list()
    source.emit([1, 2, 3])
    source.emit("xyz")
    assert out == [3, "z"]


@pytest.mark.parametrize("method", ["flatten", "concat"])
def test_flatten_emits_items_and_skips_empty_iterables(method):
    source = Stream()
    out = getattr(source, method)().sink_to_list()
    for x in [[1, 2], [], (), range(3, 5), "ab", iter([5]), [[6]]]:
        source.emit(x)
    assert out == [1, 2, 3, 4, "a", "b", 5, [6]]


@pytest.mark.parametrize(
    ("build", "label"),
    [
        (lambda s: s.map(inc), "map<inc>"),
        (lambda s: s.map(lambda x: x), "map<lambda>"),
        (lambda s: s.map(functools.partial(add, 1)), "map<add>"),
        (lambda s: s.starmap(add), "starmap<add>"),
        (lambda s: s.flatten(), "flatten"),
    ],
)
def test_unnamed_labels(build, label):
    assert build(Stream())._describe() == label


@pytest.mark.parametrize(
    "build",
    [
        lambda s: s.map(inc, stream_name="n"),
        lambda s: s.starmap(add, stream_name="n"),
        lambda s: s.pluck(0, stream_name="n"),
        lambda s: s.flatten(stream_name="n"),
        lambda s: s.concat(stream_name="n"),
    ],
)
def test_stream_name_labels_the_node(build):
    assert build(Stream())._describe() == "n"


def test_current_value_is_last_emitted():
    source = Stream()
    m, s, p, f = source.map(len), source.starmap(add), source.pluck(0), source.flatten()
    assert [n.current_value for n in (m, s, p, f)] == [None] * 4
    source.emit((5, 6))
    source.emit((1, 2))
    assert [n.current_value for n in (m, s, p, f)] == [2, 3, 1, 2]


# ------------------------------------------------------------------ oracles


@ORACLE
@given(st.lists(st.integers()))
def test_map_matches_builtin_map(xs):
    source = Stream()
    out = source.map(lambda x: x * 3 - 1).sink_to_list()
    for x in xs:
        source.emit(x)
    assert out == list(map(lambda x: x * 3 - 1, xs))


@ORACLE
@given(st.lists(st.tuples(st.integers(), st.integers())))
def test_starmap_matches_itertools_starmap(xs):
    source = Stream()
    out = source.starmap(add).sink_to_list()
    for x in xs:
        source.emit(x)
    assert out == list(itertools.starmap(add, xs))


@ORACLE
@given(st.lists(st.lists(st.integers(), max_size=5)))
def test_flatten_matches_chain_from_iterable(xss):
    source = Stream()
    out = source.flatten().sink_to_list()
    for xs in xss:
        source.emit(xs)
    assert out == list(itertools.chain.from_iterable(xss))


@ORACLE
@given(
    st.lists(st.tuples(st.integers(), st.integers(), st.integers())),
    st.one_of(st.integers(0, 2), st.lists(st.integers(-3, 2), max_size=4)),
)
def test_pluck_matches_toolz_pluck(xs, pick):
    source = Stream()
    out = source.pluck(pick).sink_to_list()
    for x in xs:
        source.emit(x)
    assert out == list(toolz.pluck(pick, xs))


# ------------------------------------------------------------------ errors


def test_error_reaches_emitter_with_note_and_graph_keeps_working():
    source = Stream()
    node = source.map(parse)
    out = node.sink_to_list()
    source.emit("1")
    with pytest.raises(ValueError, match="invalid literal") as info:
        source.emit("x1")
    assert info.value.__notes__ == ["in map<parse> (element 'x1')"]
    assert node.current_value == 1
    source.emit("2")
    assert out == [1, 2]


def test_only_the_failing_node_adds_a_note():
    source = Stream()
    source.map(str).map(parse, stream_name="second").flatten().map(inc)
    with pytest.raises(ValueError, match="invalid literal") as info:
        source.emit("a")
    assert info.value.__notes__ == ["in second (element 'a')"]
    with pytest.raises(TypeError) as info:
        source.emit(7)  # flatten: int is not iterable
    assert info.value.__notes__ == ["in flatten (element 7)"]


def test_flatten_pushes_every_item_when_one_fails_downstream():
    source = Stream()
    out = source.flatten().map(parse).sink_to_list()
    with pytest.raises(ValueError, match="invalid literal") as info:
        source.emit(["1", "x", "2"])
    assert info.value.__notes__ == ["in map<parse> (element 'x')"]
    source.emit(["3"])
    assert out == [1, 2, 3]


def test_starmap_and_pluck_errors_name_the_node():
    source = Stream()
    source.starmap(add)
    with pytest.raises(TypeError) as info:
        source.emit((1, 2, 3))
    assert info.value.__notes__ == ["in starmap<add> (element (1, 2, 3))"]

    source = Stream()
    node = source.pluck("b")
    with pytest.raises(KeyError) as info:
        source.emit({"a": 1})
    assert info.value.__notes__ == [f"in {node._describe()} (element {{'a': 1}})"]

    source = Stream()
    source.pluck(["a", "b"], stream_name="both")
    with pytest.raises(KeyError) as info:
        source.emit({"a": 1})
    assert info.value.__notes__ == ["in both (element {'a': 1})"]


@pytest.mark.parametrize(
    "call",
    [
        'map("notcallable")',
        "starmap(5)",
        'map(inc, stream_nam="x")',
        'starmap(add, stream_nam="x")',
        'pluck(0, stream_nam="x")',
        'flatten(stream_nam="x")',
        'concat(stream_nam="x")',
    ],
)
def test_bad_build_arguments_raise_type_error_at_build_time(call):
    source = Stream()
    with pytest.raises(TypeError):
        eval(f"source.{call}", {"source": source, "inc": inc, "add": add})
    assert source.downstreams == ()


# ------------------------------------------------------------------ metadata


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda s: s.map(sum), 3),
        (lambda s: s.starmap(add), 3),
        (lambda s: s.pluck(1), 2),
    ],
)
def test_metadata_passes_through_and_ref_is_released_after_emit(build, expected):
    done = []
    ref = RefCounter(cb=lambda: done.append(True))
    md = [{"ref": ref}, {"offset": 7}]
    source = Stream()
    cap = Capture(build(source))
    source.emit((1, 2), metadata=md)
    assert cap.seen == [(expected, md)]
    assert (ref.count, done) == (0, [True])


def test_flatten_passes_element_metadata_with_each_item():
    done = []
    ref = RefCounter(cb=lambda: done.append(True))
    md = [{"ref": ref}, {"offset": 7}]
    source = Stream()
    cap = Capture(source.flatten())
    source.emit([1, 2, 3], metadata=md)
    source.emit([], metadata=[{"ref": ref}])
    assert cap.seen == [(1, md), (2, md), (3, md)]
    assert (ref.count, done) == (0, [True, True])


# ------------------------------------------------------------------ back pressure


def test_map_passes_back_pressure():
    async def main():
        sink = Gate()
        ref = RefCounter()
        source = Stream()
        source.map(inc).sink(sink)
        emitting = asyncio.ensure_future(
            source.emit(1, asynchronous=True, metadata=[{"ref": ref}])
        )
        await spin()
        assert sink.started == [2]
        assert not emitting.done()
        assert ref.count == 1  # the element is still in use
        sink.gates[0].set()
        await spin()
        assert emitting.done()
        assert sink.finished == [2]
        assert ref.count == 0

    asyncio.run(main())


def test_flatten_delivers_items_one_at_a_time_to_a_slow_sink():
    async def main():
        sink = Gate()
        ref = RefCounter()
        source = Stream()
        flat = source.flatten()
        flat.sink(sink)
        emitting = asyncio.ensure_future(
            source.emit([1, 2, 3], asynchronous=True, metadata=[{"ref": ref}])
        )
        for i, item in enumerate([1, 2, 3]):
            await spin()
            assert sink.started == [1, 2, 3][: i + 1]
            assert sink.finished == [1, 2, 3][:i]
            assert flat.current_value == item
            assert not emitting.done()
            assert ref.count == 1
            sink.gates[i].set()
        await spin()
        assert emitting.done()
        assert sink.finished == [1, 2, 3]
        assert ref.count == 0

    asyncio.run(main())


def test_flatten_of_an_empty_element_does_not_wait():
    async def main():
        sink = Gate()
        source = Stream()
        source.flatten().sink(sink)
        emitting = asyncio.ensure_future(source.emit([], asynchronous=True))
        await spin()
        assert emitting.done()
        assert sink.started == []

    asyncio.run(main())
