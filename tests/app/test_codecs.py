"""Codecs and topic keys and values (streams/app/codecs.py)."""

from __future__ import annotations

import base64
import itertools
import pickle
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from streams.app import codecs, models
from streams.app.codecs import (
    Codec,
    decode_as,
    decoder_for,
    dumps,
    encode_as,
    encoder_for,
    get_codec,
    loads,
    register_codec,
)
from streams.app.models import Record, ValidationError

from .test_models import Item, Order, Point  # (the same records)


class Basket(Record):
    owner: str
    items: list[Item] = []  # noqa: RUF012 -- copied per instance


class Animal(Record):
    name: str


class Dog(Animal):
    good: bool = True


class Pickled(Record, serializer="pickle"):
    x: int


class RawSerialized(Record, serializer="raw"):  # bytes are no mapping: always an error
    x: int


class Positive(Record):
    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("n must not be negative")


def test_models_reexports_the_codec_names():
    for name in codecs.__all__:
        assert getattr(models, name) is getattr(codecs, name), name
        assert name in models.__all__


# Codecs


def test_raw_codec():
    assert dumps("raw", b"\x00x") == b"\x00x"
    assert dumps("raw", "é") == "é".encode()
    assert loads("raw", b"abc") == b"abc"
    assert loads("raw", "abc") == b"abc"
    assert dumps(None, "x") == b"x" and loads(None, b"x") == b"x"
    with pytest.raises(TypeError, match="raw codec: cannot encode int"):
        dumps("raw", 1)


def test_json_codec():
    payload = {"order": Order("a", 3), "at": datetime(2024, 1, 1), "n": [1, 2.5, None]}
    data = dumps("json", payload)
    assert data.startswith(b'{"order":{"account_id":"a"')
    back = loads("json", data)
    assert back["order"]["amount"] == 3 and back["at"] == "2024-01-01T00:00:00"
    assert loads("json", '{"a": 1}') == {"a": 1}
    with pytest.raises(TypeError, match="object is not JSON serializable"):
        dumps("json", object())


def test_pickle_codec_round_trips_python_objects():
    value = {"a": {1, 2}, "b": Order("a", 1), "c": (1, "x")}
    data = dumps("pickle", value)
    assert loads("pickle", data) == value
    assert pickle.loads(base64.b64decode(data)) == value  # base64 text, as Faust's codec


def test_binary_codec():
    assert dumps("binary", b"\x00\xff") == base64.b64encode(b"\x00\xff")
    assert dumps("binary", "hi") == base64.b64encode(b"hi")
    assert loads("binary", base64.b64encode(b"\x00\xff")) == b"\x00\xff"


def test_codec_chains_apply_left_to_right_and_back():
    value = {"a": [1, 2]}
    data = dumps("json|binary", value)
    assert data == base64.b64encode(b'{"a":[1,2]}')
    assert loads("json|binary", data) == value
    twice = dumps("json|binary|binary", value)
    assert base64.b64decode(base64.b64decode(twice)) == b'{"a":[1,2]}'
    assert loads("json|binary|binary", twice) == value
    assert Order.loads(Order("a", 1).dumps("json|binary"), serializer="json|binary") == Order(
        "a", 1
    )


def test_unknown_codec_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="unknown codec 'yaml2'"):
        dumps("yaml2", 1)
    with pytest.raises(ValueError, match="unknown codec 'nope'"):
        loads("json|nope", b"1")


def test_loads_of_none_is_none():
    assert loads("json", None) is None


def test_register_codec_with_functions():
    register_codec("upper-test", lambda s: s.upper().encode(), lambda b: b.decode().lower())
    assert dumps("upper-test", "abc") == b"ABC"
    assert loads("upper-test", b"ABC") == "abc"
    assert loads("upper-test|binary", dumps("upper-test|binary", "abc")) == "abc"
    with pytest.raises(ValueError, match="must not contain"):
        register_codec("a|b", bytes, bytes)
    with pytest.raises(TypeError, match="needs a loads function"):
        register_codec("half", bytes)


def test_register_a_codec_subclass_faust_style():
    class Reverse(Codec):
        def _dumps(self, obj):
            return obj[::-1]

        def _loads(self, data):
            return data[::-1]

    register_codec("reverse-test", Reverse())
    assert dumps("json|reverse-test", [1]) == b"]1["
    assert loads("json|reverse-test", b"]1[") == [1]
    chain = get_codec("json") | Reverse()
    assert chain.dumps({"a": 1}) == b'}1:"a"{' and chain.loads(b'}1:"a"{') == {"a": 1}
    assert get_codec(chain) is chain
    with pytest.raises(NotImplementedError):
        Codec().dumps(1)


# decode_as / encode_as: topic keys and values


def test_decode_str_key_and_int_value_from_raw_bytes():
    assert decode_as(str, "raw", b"key") == "key"
    assert decode_as(str, None, b"key") == "key"
    assert decode_as(int, "raw", b"1") == 1
    assert decode_as(int, None, b"42") == 42
    assert decode_as(int, "json", b"1") == 1
    assert decode_as(float, "raw", b"1.5") == 1.5
    assert decode_as(float, "json", b"2") == 2.0
    assert decode_as(bytes, "raw", b"\x00") == b"\x00"
    assert decode_as(bytes, "json", b'"text"') == b"text"
    assert decode_as(Decimal, "raw", b"1.10") == Decimal("1.10")
    assert decode_as(str, "json", b'"k"') == "k"


def test_decode_as_record():
    data = Order("a", 3).dumps()
    assert decode_as(Order, "json", data) == Order("a", 3)
    assert decode_as(Order, None, data) == Order("a", 3)
    assert decode_as(Order, "raw", data) == Order("a", 3)  # raw cannot give a mapping
    assert decode_as(Order, "pickle", Order("a", 3).dumps("pickle")) == Order("a", 3)
    assert decode_as(Order, "json", b'{"account_id":"a","amount":3}') == Order("a", 3)


def test_decode_as_none_gives_the_codec_result_or_a_blessed_record():
    assert decode_as(None, "json", b'{"a":1}') == {"a": 1}
    assert decode_as(None, "raw", b"x") == b"x"
    assert decode_as(None, "json", Order("a", 1).dumps()) == Order("a", 1)


def test_decode_as_of_no_data_is_none():
    assert decode_as(Order, "json", None) is None
    assert decode_as(int, "raw", None) is None


def test_decode_as_errors_name_what_failed():
    with pytest.raises(ValueError, match=r"cannot decode b'abc' as int"):
        decode_as(int, "raw", b"abc")
    with pytest.raises(ValueError, match=r"cannot decode b'\{' as Order with codec 'json'"):
        decode_as(Order, "json", b"{")
    with pytest.raises(ValidationError, match=r"Order\.amount: expected int"):
        decode_as(Order, "json", b'{"account_id":"a","amount":"x"}')
    with pytest.raises(ValueError, match="as Order"):
        decode_as(Order, "nope", b"{}")
    with pytest.raises(ValueError, match="as str"):
        decode_as(str, "raw", b"\xff")
    with pytest.raises(ValueError, match="as int"):
        decode_as(int, "json", b"true")


def test_encode_as():
    assert encode_as("raw", None) is None
    assert encode_as("json", Order("a", 1)) == Order("a", 1).dumps()
    assert encode_as("raw", Order("a", 1)) == Order("a", 1).dumps()
    assert encode_as("json|binary", Point(1)) == base64.b64encode(b'{"x":1,"y":0}')
    assert encode_as("raw", "é") == "é".encode()
    assert encode_as(None, "k") == b"k"
    assert encode_as("raw", 1) == b"1"
    assert encode_as("raw", 1.5) == b"1.5"
    assert encode_as("json", 1) == b"1"
    assert encode_as("json", "k") == b'"k"'
    assert encode_as("json", b"already") == b"already"
    with pytest.raises(TypeError, match="raw codec"):
        encode_as("raw", {"a": 1})


def test_encode_as_uses_the_record_serializer():
    class AsPickle(Record, serializer="pickle"):
        x: int

    data = encode_as("json", AsPickle(1))
    assert decode_as(AsPickle, None, data) == AsPickle(1)


@pytest.mark.parametrize(
    ("value_type", "codec", "value"),
    [
        (str, "raw", "key"),
        (int, "raw", 7),
        (int, "json", 7),
        (float, "raw", 0.25),
        (bytes, "raw", b"\x01"),
        (Order, "json", Order("a", 3)),
        (Basket, "json", Basket("o", [Item("x", 1.0)])),
        (None, "json", {"a": [1]}),
        (None, "pickle", {"a": {1}}),
    ],
)
def test_encode_decode_round_trip(value_type, codec, value):
    assert decode_as(value_type, codec, encode_as(codec, value)) == value


# decoder_for / encoder_for: decode_as / encode_as made once per topic


def _outcome(fn, *args):
    """What a call gives: its value, or its error (type, message and cause)."""
    try:
        value = fn(*args)
    except Exception as exc:
        return ("error", type(exc), str(exc), type(exc.__cause__))
    return ("value", type(value), value)


TYPES: list[Any] = [
    None, str, bytes, int, float, Decimal, bool, dict, list[int],
    Order, Point, Animal, Pickled, RawSerialized, Positive,
]  # fmt: skip
CODECS: list[Any] = [
    None, "raw", "json", "binary", "json|binary", "", get_codec("json"), get_codec("raw"),
    get_codec("json") | get_codec("binary"), "nope", "json|nope",
]  # fmt: skip
DATA: list[Any] = [
    None, b"", b"1", b" 42 ", b"1.5", b"-0", b"1e3", b"1_000", b"abc", b"true", b"null",
    b'"k"', b'"\\u00e9"', "é".encode(), b"\xff", b"{", b"[1, 2]", b'{"a": [1]}',
    Order("a", 3).dumps(), Dog("rex").dumps(), Point(1).dumps(), Positive(1).dumps(),
    b'{"n": -1}', b'{"account_id":"a","amount":"x"}', b'{"account_id":"a"}',
    b'{"__faust": 1}', b'{"__faust": {"ns": "nowhere"}}', b'{"__faust": {"ns": ["x"]}}',
    b'{"__faust": {"ns": "' + Positive._options.namespace.encode() + b'"}, "n": -2}',
    Order("a", 3).dumps("json|binary"), base64.b64encode(b'"k"'), base64.b64encode(b"7"),
    "text", '{"x": 1}', "\ufeff1", "\ud800", bytearray(b"1"), memoryview(b"2"),
]  # fmt: skip
# unpickling runs code: the pickle codec only gets pickles (and a few broken ones)
PICKLES: list[Any] = [
    None, b"", b"abc", b"!!", Pickled(5).dumps(), Order("a", 1).dumps("pickle"),
    dumps("pickle", {"x": 2}), dumps("pickle", 7), dumps("pickle", "s"), dumps("pickle", b"b"),
    dumps("pickle", [1]), dumps("pickle", 1.5),
]  # fmt: skip
CASES = [
    *itertools.product(CODECS, DATA),
    *itertools.product(["pickle", "json|pickle"], PICKLES),
]


@pytest.mark.parametrize("value_type", TYPES, ids=repr)
def test_decoder_for_gives_what_decode_as_gives(value_type):
    decoders = {}
    for codec, data in CASES:
        key = codec if isinstance(codec, str | None) else id(codec)
        decode = decoders.setdefault(key, decoder_for(value_type, codec))
        expected = _outcome(decode_as, value_type, codec, data)
        assert _outcome(decode, data) == expected, (value_type, codec, data)


def test_decoder_for_matrix_has_values_and_errors():
    outcomes = [_outcome(decode_as, t, c, d) for t in TYPES for c, d in CASES]
    kinds = {o[1] for o in outcomes if o[0] == "error"}
    assert {ValueError, ValidationError, TypeError} <= kinds
    assert sum(o[0] == "value" and o[1] is not type(None) for o in outcomes) > 500


def test_decoder_for_errors_match_decode_as():
    as_int = decoder_for(int, "raw")
    with pytest.raises(ValueError, match=r"^cannot decode b'abc' as int: got b'abc' \(bytes\)$"):
        as_int(b"abc")
    with pytest.raises(ValueError, match=r"cannot decode b'\{' as Order with codec 'json'"):
        decoder_for(Order, None)(b"{")
    with pytest.raises(ValidationError, match=r"^Order\.amount: expected int, got 'x' \(str\)$"):
        decoder_for(Order, "json")(b'{"account_id":"a","amount":"x"}')
    with pytest.raises(ValueError, match=r"as str: got b'\\xff' \(bytes\)"):
        decoder_for(str, "raw")(b"\xff")
    with pytest.raises(ValueError, match=r"as data with codec 'nope': unknown codec 'nope'"):
        decoder_for(None, "nope")(b"1")


def test_decoder_for_specializations():
    assert decoder_for(None, "raw")(b"x") == b"x"
    assert decoder_for(None, None)(b"x") == b"x"
    assert decoder_for(None, "json")(b'{"a":1}') == {"a": 1}
    assert decoder_for(None, "json")(Dog("rex").dumps()) == Dog("rex")
    assert decoder_for(Order, None)(Order("a", 3).dumps()) == Order("a", 3)
    assert decoder_for(Animal, "raw")(Dog("rex").dumps()) == Dog("rex")  # the namespace
    assert decoder_for(Pickled, None)(Pickled(5).dumps()) == Pickled(5)  # its serializer
    assert decoder_for(str, "raw")(b"k") == "k"
    assert decoder_for(int, None)(b"42") == 42
    assert decoder_for(float, "raw")(b"1.5") == 1.5
    assert decoder_for(int, "json")(b"1") == 1 and decoder_for(float, "json")(b"2") == 2.0
    assert decoder_for(Decimal, "raw")(b"1.10") == Decimal("1.10")
    for value_type, codec in itertools.product([None, str, int, Order], [None, "raw", "json"]):
        assert decoder_for(value_type, codec)(None) is None


def test_decoders_look_the_codec_up_once(monkeypatch):
    cases = [
        (None, "raw", b"x", b"x"),
        (None, "json", b'{"a":1}', {"a": 1}),
        (Order, "json", Order("a", 3).dumps(), Order("a", 3)),
        (Order, None, Order("a", 3).dumps(), Order("a", 3)),
        (Pickled, None, Pickled(5).dumps(), Pickled(5)),
        (str, "raw", b"k", "k"),
        (int, "raw", b"7", 7),
        (float, "json", b"2.5", 2.5),
        (Decimal, "raw", b"1.5", Decimal("1.5")),
        (dict, "json|binary", base64.b64encode(b'{"a":1}'), {"a": 1}),
    ]
    decoders = [(decoder_for(t, c), data, expected) for t, c, data, expected in cases]
    encode = encoder_for("json|binary")

    def fail(*args):
        raise AssertionError("a per-message codec lookup")

    monkeypatch.setattr(codecs, "get_codec", fail)
    monkeypatch.setattr(codecs, "loads", fail)
    monkeypatch.setattr(codecs, "dumps", fail)
    for decode, data, expected in decoders:
        assert decode(data) == expected
    assert encode({"a": 1}) == base64.b64encode(b'{"a":1}')


def test_decoder_for_an_unknown_codec_finds_it_once_registered():
    decode, encode = decoder_for(str, "later-test"), encoder_for("later-test")
    with pytest.raises(ValueError, match="unknown codec 'later-test'"):
        decode(b"x")
    with pytest.raises(ValueError, match="unknown codec 'later-test'"):
        encode("x")
    register_codec("later-test", lambda s: s.encode()[::-1], lambda b: b[::-1].decode())
    assert decode(b"yx") == "xy" and encode("xy") == b"yx"


VALUES: list[Any] = [
    None, "k", "é", "", b"b", bytearray(b"x"), memoryview(b"m"), 1, -2, 1.5, True,
    Decimal("1.10"), Order("a", 3), Point(1), Pickled(1), Dog("rex"), {"a": 1}, [1, "x"],
    {"o": Order("a", 1), "at": datetime(2024, 1, 1)}, datetime(2024, 1, 2), object(),
    type("Text", (str,), {})("sub"),
]  # fmt: skip


@pytest.mark.parametrize("codec", [*CODECS, "pickle"], ids=repr)
def test_encoder_for_gives_what_encode_as_gives(codec):
    encode = encoder_for(codec)
    for value in VALUES:
        expected = _outcome(encode_as, codec, value)
        assert _outcome(encode, value) == expected, (codec, value)
