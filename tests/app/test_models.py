"""Faust-style records and codecs (streams/app/models.py)."""

# ruff: noqa: RUF012 -- mutable field defaults of a Record are copied per instance

from __future__ import annotations

import base64
import enum
import json
import pickle
import sys
import types
import typing
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import ClassVar, Optional
from uuid import UUID

import pytest

from streams.app import models
from streams.app.models import (
    FieldDescriptor,
    MissingFieldError,
    Record,
    ValidationError,
    loads,
    registry,
)


class Order(Record):
    account_id: str
    amount: int
    quantity: float = 1.0


class Point(Record, include_metadata=False):
    x: int
    y: int = 0


class Item(Record):
    sku: str
    price: float


class Basket(Record):
    owner: str
    items: list[Item] = []
    legacy: typing.List[Item] = []  # noqa: UP006 -- the typing spelling Faust programs use
    by_sku: dict[str, Item] = {}
    best: Optional[Item] = None  # noqa: UP045 -- the typing spelling Faust programs use
    tags: set[str] = set()
    pair: tuple[int, ...] = ()


class Early(Record):
    late: Late  # defined below: resolved at first use


class Late(Record):
    n: int


class Tree(Record):
    name: str
    children: list[Tree] = []


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Event(Record):
    id: UUID
    at: datetime
    day: date
    cost: Decimal
    color: Color


class Dated(Record, isodates=True):
    at: datetime
    cost: Decimal = Decimal(0)


class Coerced(Record, coerce=True):
    n: int
    x: float = 0.0
    s: str = ""
    flag: bool = False
    cost: Decimal = Decimal(0)
    at: datetime | None = None
    raw: bytes = b""
    nums: list[int] = []


class Strict(Record, validation=True):
    n: int
    item: Item | None = None


class Typed(Record):
    s: str = ""
    i: int = 0
    f: float = 0.0
    b: bool = False
    raw: bytes = b""
    items: list = []
    mapping: dict = {}
    ints: list[int] = []


class Animal(Record):
    name: str


class Dog(Animal):
    good: bool = True


class Base(Record):
    a: int
    b: str = "b"


class Derived(Base):
    c: float = 0.5
    b: str = "B"  # a new default for an inherited field keeps its position
    kind: ClassVar[str] = "derived"


# Records: fields, options, construction


def test_fields_come_from_annotations_in_mro_order():
    assert Order._options.fieldnames == ("account_id", "amount", "quantity")
    assert Derived._options.fieldnames == ("a", "b", "c")
    assert Derived._options.optionalset == {"b", "c"}
    assert Derived(1) == Derived(1, "B", 0.5)
    assert Derived.kind == "derived"  # a ClassVar is not a field
    assert Derived._options.fields["c"] is float


def test_construction_positional_and_keyword():
    assert Order("a", 3) == Order(account_id="a", amount=3) == Order("a", amount=3)
    o = Order("a", 3, 2.5)
    assert (o.account_id, o.amount, o.quantity) == ("a", 3, 2.5)
    assert Order("a", 3).quantity == 1.0


def test_missing_required_field_names_class_and_field():
    with pytest.raises(TypeError, match=r"^Order: missing required field 'amount'$"):
        Order("a")
    with pytest.raises(MissingFieldError, match="fields 'account_id', 'amount'") as info:
        Order()
    assert info.value.field == "account_id"
    assert isinstance(info.value, ValueError)


def test_unknown_keyword_multiple_values_and_too_many_positionals():
    with pytest.raises(TypeError, match="Order: unexpected field 'price'"):
        Order("a", 3, price=2)
    with pytest.raises(TypeError, match="multiple values for field 'amount'"):
        Order("a", 3, amount=4)
    with pytest.raises(TypeError, match=r"at most 3 positional field values \(4 given\)"):
        Order("a", 3, 1.0, 7)


def test_faust_metadata_keyword_is_ignored():
    assert Order(account_id="a", amount=1, __faust={"ns": "x"}) == Order("a", 1)


def test_mutable_defaults_are_copied_per_instance():
    a, b = Basket("a"), Basket("b")
    a.items.append(Item("x", 1.0))
    a.by_sku["x"] = Item("x", 1.0)
    a.tags.add("t")
    assert (b.items, b.by_sku, b.tags) == ([], {}, set())
    assert Basket.items.default == []  # the class default itself is untouched


def test_subclass_adds_fields_and_overrides_defaults():
    d = Derived(1, c=2.0)
    assert d.asdict() == {"a": 1, "b": "B", "c": 2.0}
    assert Base(1).b == "b"
    assert Dog("rex").asdict() == {"name": "rex", "good": True}


def test_unknown_class_option_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="frobnicate"):

        class Bad(Record, frobnicate=True):  # type: ignore[call-arg]
            x: int


def test_faust_options_are_accepted():
    class Accepting(
        Record,
        serializer="json",
        namespace="com.example.accepting",
        allow_blessed_key=True,
        polymorphic_fields=True,
        decimals=True,
        lazy_creation=True,
        coercions={},
        date_parser=datetime.fromisoformat,
    ):
        x: int

    assert Accepting._options.namespace == "com.example.accepting"
    assert registry["com.example.accepting"] is Accepting
    assert Accepting(1).x == 1


def test_options_are_inherited_but_namespace_is_per_class():
    class Parent(Record, coerce=True, serializer="json", namespace="parent.ns"):
        n: int

    class Child(Parent):
        m: int = 0

    assert Child._options.coerce and Child._options.serializer == "json"
    assert Child._options.namespace == f"{__name__}.{Child.__qualname__}"
    assert Child("3").n == 3


def test_default_namespace_is_module_and_qualname():
    assert Order._options.namespace == f"{__name__}.Order"
    assert registry[f"{__name__}.Order"] is Order


def test_abstract_records_cannot_be_built():
    class Shape(Record, abstract=True):
        name: str

    class Square(Shape):
        side: float

    with pytest.raises(NotImplementedError, match="Shape"):
        Shape("s")
    with pytest.raises(NotImplementedError):
        Record()
    assert Square("sq", 2.0).asdict() == {"name": "sq", "side": 2.0}
    assert Shape._options.namespace not in registry


def test_post_init_runs_after_construction_and_decoding():
    class Checked(Record):
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("n must not be negative")
            self.double = self.n * 2

    assert Checked(2).double == 4
    assert Checked.from_data({"n": 3}).double == 6
    with pytest.raises(ValueError, match="negative"):
        Checked.from_data({"n": -1})


# Records: repr, equality, hashing, representations


def test_repr():
    assert repr(Order("a", 3)) == "Order(account_id='a', amount=3, quantity=1.0)"
    assert repr(Tree("t", [Tree("c")])) == "Tree(name='t', children=[Tree(name='c', children=[])])"


def test_equality_compares_class_and_values():
    assert Order("a", 3) == Order("a", 3)
    assert Order("a", 3) != Order("a", 4)
    assert Base(1, "x") != Derived(1, "x")
    assert Animal("rex") != Dog("rex")
    assert Order("a", 3) != ("a", 3, 1.0)


def test_hash_over_field_values():
    assert hash(Order("a", 3)) == hash(Order("a", 3))
    assert len({Order("a", 3), Order("a", 3), Order("b", 3)}) == 2
    with pytest.raises(TypeError):
        hash(Basket("a"))  # a list field is unhashable


def test_asdict_is_shallow():
    item = Item("x", 1.0)
    assert Basket("o", [item]).asdict()["items"][0] is item


def test_to_representation_converts_nested_values():
    at = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    uid = UUID(int=1)
    e = Event(uid, at, date(2024, 1, 2), Decimal("1.50"), Color.RED)
    assert e.to_representation() == {
        "id": str(uid),
        "at": "2024-01-02T03:04:05+00:00",
        "day": "2024-01-02",
        "cost": "1.50",
        "color": "red",
        "__faust": {"ns": f"{__name__}.Event"},
    }
    b = Basket("o", [Item("x", 1.0)], by_sku={"x": Item("x", 1.0)}, tags={"t"})
    rep = b.to_representation()
    item_rep = {"sku": "x", "price": 1.0, "__faust": {"ns": f"{__name__}.Item"}}
    assert rep["items"] == [item_rep]
    assert rep["by_sku"] == {"x": item_rep}
    assert rep["tags"] == ["t"]
    assert json.loads(json.dumps(rep)) == rep  # JSON-ready


def test_include_metadata_false():
    assert Point(1, 2).to_representation() == {"x": 1, "y": 2}


def test_dumps_is_compact_utf8_json():
    meta = json.dumps({"ns": f"{__name__}.Order"}, separators=(",", ":"))
    expected = '{"account_id":"é","amount":3,"quantity":1.0,"__faust":' + meta + "}"
    assert Order("é", 3).dumps() == expected.encode()
    assert Point(1).dumps(serializer="json|binary") == base64.b64encode(b'{"x":1,"y":0}')
    assert loads("pickle", Point(1).dumps("pickle")) == {"x": 1, "y": 0}


def test_record_serializer_option():
    class Pickled(Record, serializer="pickle"):
        x: int

    data = Pickled(5).dumps()
    assert pickle.loads(base64.b64decode(data))["x"] == 5
    assert Pickled.loads(data) == Pickled(5)


def test_derive():
    o = Order("a", 3)
    assert o.derive(amount=4) == Order("a", 4)
    assert o.derive(Order("b", 5, 2.0), quantity=3.0) == Order("b", 5, 3.0)


# Records: decoding


def test_loads_round_trip():
    o = Order("a", 3, 2.5)
    assert Order.loads(o.dumps()) == o
    assert Order.loads(o.dumps().decode()) == o
    assert Order.loads(o.dumps(), "json") == o


def test_from_data_ignores_metadata_and_unknown_keys():
    data = {"account_id": "a", "amount": 3, "extra": 1, "__faust": {"ns": "elsewhere.X"}}
    assert Order.from_data(data) == Order("a", 3)


def test_from_data_missing_field():
    with pytest.raises(MissingFieldError, match="Order: missing required field 'amount'"):
        Order.from_data({"account_id": "a"})


def test_from_data_of_a_non_mapping():
    with pytest.raises(ValidationError, match=r"Order: expected a mapping of fields, got \[1\]"):
        Order.from_data([1])


def test_from_data_of_an_instance_returns_it():
    o = Order("a", 1)
    assert Order.from_data(o) is o


def test_nested_records_round_trip_through_json():
    b = Basket(
        "o",
        items=[Item("x", 1.0), Item("y", 2)],
        legacy=[Item("z", 3.0)],
        by_sku={"x": Item("x", 1.0)},
        best=Item("y", 2.0),
        tags={"a", "b"},
        pair=(1, 2),
    )
    back = Basket.loads(b.dumps())
    assert back == b
    assert isinstance(back.items[0], Item) and isinstance(back.legacy[0], Item)
    assert isinstance(back.by_sku["x"], Item) and isinstance(back.best, Item)
    assert back.tags == {"a", "b"} and back.pair == (1, 2)
    assert Basket.from_data({"owner": "o", "best": None}).best is None


def test_nested_records_from_plain_dicts():
    b = Basket.from_data({"owner": "o", "items": [{"sku": "x", "price": 1}]})
    assert b.items == [Item("x", 1)]


def test_recursive_and_forward_references():
    t = Tree("root", [Tree("a"), Tree("b", [Tree("c")])])
    assert Tree.loads(t.dumps()) == t
    assert Early.from_data({"late": {"n": 1}}) == Early(Late(1))


def test_local_records_resolve_each_other():
    class Outer(Record):
        inner: Inner

    class Inner(Record):
        v: int

    assert Outer.from_data({"inner": {"v": 1}}).inner == Inner(1)


def test_a_record_of_the_same_name_elsewhere_does_not_stand_in(monkeypatch):
    class Ghost(Record):  # defined elsewhere before the module below
        other: str

    module = types.ModuleType("ghost_module")
    monkeypatch.setitem(sys.modules, "ghost_module", module)
    source = "class Haunted(Record):\n    ghost: Ghost\n\nclass Ghost(Record):\n    n: int\n"
    module.Record = Record
    exec(source, vars(module))
    haunted = module.Haunted.from_data({"ghost": {"n": 1}})
    assert type(haunted.ghost) is module.Ghost and haunted.ghost.n == 1
    assert Ghost("x").other == "x"


def test_namespace_selects_a_subclass():
    dog = Animal.from_data(Dog("rex", good=False).to_representation())
    assert dog == Dog("rex", good=False)
    assert type(Animal.loads(Dog("rex").dumps())) is Dog
    assert type(Dog.from_data(Animal("cat").to_representation())) is Dog  # not a subclass


def test_dates_are_parsed_with_isodates_only():
    assert Dated.from_data({"at": "2024-01-02T03:04:05Z"}).at == datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    e = Event(UUID(int=1), datetime(2024, 1, 1), date(2024, 1, 1), Decimal(1), Color.BLUE)
    back = Event.loads(e.dumps())
    assert back.at == "2024-01-01T00:00:00"  # no isodates, no coerce: the string stays
    assert back.cost == "1" and back.color is Color.BLUE
    with pytest.raises(ValidationError, match=r"Dated.at: expected datetime, got 'soon' \(str\)"):
        Dated.from_data({"at": "soon"})


def test_date_parser_option():
    class Custom(Record, isodates=True, date_parser=lambda s: datetime(2000, 1, 1)):
        at: datetime

    assert Custom.from_data({"at": "whenever"}).at == datetime(2000, 1, 1)


def test_decimals_option():
    class Money(Record, decimals=True):
        amount: Decimal

    assert Money.from_data({"amount": "1.10"}).amount == Decimal("1.10")


# Records: validation and coercion


def test_decoded_values_are_checked():
    with pytest.raises(ValidationError) as info:
        Order.from_data({"account_id": "a", "amount": "abc"})
    assert str(info.value) == "Order.amount: expected int, got 'abc' (str)"
    assert (info.value.model, info.value.field, info.value.expected) == ("Order", "amount", "int")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("s", 1, "Typed.s: expected str, got 1 (int)"),
        ("i", True, "Typed.i: expected int, got True (bool)"),
        ("i", 1.0, "Typed.i: expected int, got 1.0 (float)"),
        ("f", "1", "Typed.f: expected float, got '1' (str)"),
        ("f", False, "Typed.f: expected float, got False (bool)"),
        ("b", 1, "Typed.b: expected bool, got 1 (int)"),
        ("raw", 1, "Typed.raw: expected bytes, got 1 (int)"),
        ("items", {}, "Typed.items: expected list, got {} (dict)"),
        ("mapping", [], "Typed.mapping: expected dict, got [] (list)"),
        ("ints", [1, "x"], "Typed.ints: expected int, got 'x' (str)"),
        ("ints", 1, "Typed.ints: expected list[int], got 1 (int)"),
    ],
)
def test_wrong_simple_types_are_rejected(field, value, message):
    with pytest.raises(ValidationError) as info:
        Typed.from_data({field: value})
    assert str(info.value) == message


def test_accepted_simple_types():
    t = Typed.from_data({"f": 1, "raw": "bytes", "s": "s", "b": True, "items": [1]})
    assert t.f == 1 and t.raw == b"bytes"  # int for float; JSON text for bytes


def test_nested_record_of_the_wrong_type():
    with pytest.raises(ValidationError, match=r"Basket.best: expected Item, got 3 \(int\)"):
        Basket.from_data({"owner": "o", "best": 3})
    with pytest.raises(ValidationError, match=r"Item\.price: expected float"):
        Basket.from_data({"owner": "o", "items": [{"sku": "x", "price": "free"}]})


def test_direct_construction_is_not_checked_by_default():
    o = Order("a", "abc")  # type: ignore[arg-type]
    assert o.amount == "abc"
    errors = o.validate()
    assert [str(e) for e in errors] == ["Order.amount: expected int, got 'abc' (str)"]
    assert not o.is_valid()
    with pytest.raises(ValidationError, match=r"Order\.amount"):
        o.validate_or_raise()
    assert Order("a", 1).validate() == [] and Order("a", 1).is_valid()


def test_validate_checks_nested_types_strictly():
    assert Basket("o", [Item("x", 1.0)]).is_valid()
    bad = Basket("o", [{"sku": "x", "price": 1.0}])  # type: ignore[list-item]
    assert [e.field for e in bad.validate()] == ["items"]


def test_validation_option_checks_construction():
    with pytest.raises(ValidationError, match=r"Strict.n: expected int, got 'abc' \(str\)"):
        Strict("abc")
    with pytest.raises(ValidationError, match=r"Strict\.item: expected Item"):
        Strict(1, item=5)
    assert Strict("3").n == 3  # as in Faust, validation implies coerce
    assert Strict(1, item={"sku": "x", "price": 1}).item == Item("x", 1)


def test_coerce_converts_simple_types():
    c = Coerced.from_data(
        {
            "n": "3",
            "x": "1.5",
            "s": 7,
            "flag": "true",
            "cost": "2.25",
            "at": "2024-01-01T00:00:00+00:00",
            "raw": "r",
            "nums": ["1", 2.0],
        }
    )
    assert (c.n, c.x, c.s, c.flag, c.cost) == (3, 1.5, "7", True, Decimal("2.25"))
    assert c.at == datetime(2024, 1, 1, tzinfo=UTC)
    assert (c.raw, c.nums) == (b"r", [1, 2])
    direct = Coerced("4", 2, flag="no", nums=(1,))
    assert (direct.n, direct.x, direct.flag, direct.nums) == (4, 2.0, False, [1])
    assert type(direct.x) is float


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("n", "abc", "int"),
        ("n", 1.5, "int"),
        ("n", True, "int"),
        ("x", "fast", "float"),
        ("flag", "maybe", "bool"),
        ("cost", "much", "Decimal"),
        ("at", "later", "datetime"),
        ("s", [1], "str"),
    ],
)
def test_failed_coercion_names_the_field(field, value, expected):
    data = {"n": 1, field: value}
    with pytest.raises(ValidationError, match=rf"^Coerced\.{field}: expected {expected}, got"):
        Coerced.from_data(data)
    with pytest.raises(ValidationError, match=rf"^Coerced\.{field}: expected {expected}"):
        Coerced(**data)


def test_custom_coercions():
    class Wrapped(Record, coerce=True, coercions={Decimal: lambda v: Decimal(v) * 2}):
        d: Decimal

    assert Wrapped.from_data({"d": "1.5"}).d == Decimal("3.0")


def test_decoding_does_no_per_call_type_resolution(monkeypatch):
    Order.from_data({"account_id": "a", "amount": 1})  # compiled already

    def fail(klass):
        raise AssertionError("resolved annotations again")

    monkeypatch.setattr(models, "_resolver", fail)
    assert Order.from_data({"account_id": "a", "amount": 1}) == Order("a", 1)
    assert Order.loads(Order("a", 2).dumps()) == Order("a", 2)
    assert Basket.loads(Basket("o", [Item("x", 1.0)]).dumps()).items == [Item("x", 1.0)]


def test_unresolvable_annotations_pass_values_through():
    class Mystery(Record):
        thing: NoSuchType  # type: ignore[name-defined]  # noqa: F821

    assert Mystery.from_data({"thing": 1}).thing == 1
    assert Mystery(2).is_valid()


# Records: fields on the class are descriptors (Faust's Order.account_id)


def test_a_field_on_the_class_is_a_field_descriptor():
    d = Order.account_id
    assert isinstance(d, FieldDescriptor)
    assert (d.field, d.model, d.type, d.required) == ("account_id", Order, str, True)
    assert d.default is FieldDescriptor.MISSING
    assert repr(d) == "<FieldDescriptor: Order.account_id: str>"
    q = Order.quantity
    assert (q.field, q.type, q.required, q.default) == ("quantity", float, False, 1.0)
    assert repr(Basket.items) == "<FieldDescriptor: Basket.items: list[Item]>"
    assert Basket.best.type == Optional[Item]  # noqa: UP045
    Early.from_data({"late": {"n": 1}})
    assert Early.late.type is Late  # resolved once the class is used


def test_instances_show_their_field_values():
    o = Order("a", 3)
    assert (o.account_id, o.amount, o.quantity) == ("a", 3, 1.0)
    assert getattr(o, Order.account_id.field) == "a"
    assert Order.amount.getattr(o) == 3
    decoded = Order.from_data({"account_id": "b", "amount": 4})
    assert (decoded.account_id, decoded.quantity) == ("b", 1.0)
    o.amount = 5
    assert o.amount == 5 and isinstance(Order.amount, FieldDescriptor)
    assert Order.loads(o.dumps()) == o and pickle.loads(pickle.dumps(o)) == o
    blank = Order.__new__(Order)  # no field values at all
    with pytest.raises(AttributeError, match="'Order' object has no attribute 'amount'"):
        _ = blank.amount
    assert not hasattr(blank, "account_id")


def test_descriptors_of_subclasses_keep_defaults_and_required_fields():
    assert Derived.a.model is Derived and Derived.a.required
    assert (Base.b.default, Derived.b.default, Derived.c.default) == ("b", "B", 0.5)

    class Deeper(Derived):
        d: int = 1

    assert Deeper(1).asdict() == {"a": 1, "b": "B", "c": 0.5, "d": 1}
    assert Deeper.a.required and not Deeper.b.required
    with pytest.raises(MissingFieldError, match="missing required field 'a'"):
        Deeper()

    class Override(Deeper):
        a: int = 7
        c: float = 9.0

    assert Override().asdict() == {"a": 7, "b": "B", "c": 9.0, "d": 1}
    assert not Override.a.required and Override.a.default == 7
    assert Deeper.a.required and Base(1).b == "b" and Derived(1).b == "B"

    class Redeclared(Base):
        a: int  # still required
        b: str  # no new default: the inherited one, as for any class attribute

    assert Redeclared(1).b == "b" and Redeclared.a.required
    with pytest.raises(MissingFieldError):
        Redeclared()


def test_field_defaults_from_a_mixin_and_a_descriptor_as_a_default():
    class Noted:
        note: str = "n"

    class WithNote(Noted, Record):
        x: int = 0

    class Sub(WithNote):
        pass

    assert Sub().asdict() == {"note": "n", "x": 0} and Noted.note == "n"
    assert Sub.note.default == "n"

    class Pointer(Record):
        target: object = Order.account_id  # another record's field as a plain default

    class SubPointer(Pointer):
        pass

    assert Pointer().target is Order.account_id
    assert SubPointer().target is Order.account_id and not SubPointer.target.required


def test_missing_sentinel_pickles_as_itself():
    assert pickle.loads(pickle.dumps(FieldDescriptor.MISSING)) is FieldDescriptor.MISSING
    assert repr(FieldDescriptor.MISSING) == "MISSING"
