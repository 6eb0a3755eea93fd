"""Faust-style records: typed message values, their fields and their bytes.

A :class:`Record` declares its fields as class annotations, like a dataclass. It turns
into JSON-ready data with :meth:`Record.to_representation` and back with
:meth:`Record.from_data`, which builds nested records and checks simple field types.
On the class, a field is a :class:`FieldDescriptor` (``stream.group_by(Order.account_id)``).
Field conversions are worked out once per class, not once per message.

The codecs (:func:`dumps`, :func:`loads`, :func:`register_codec`...) and the topic key
and value functions (:func:`encode_as`, :func:`decode_as`, :func:`encoder_for`,
:func:`decoder_for`) are in :mod:`streams.app.codecs`; they are importable from here too.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import re
import reprlib
import sys
import types
from collections import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from itertools import repeat
from typing import Annotated, Any, ClassVar, ForwardRef, Self, Union, get_args, get_origin
from uuid import UUID

from .codecs import (
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

__all__ = [
    "Codec",
    "FieldDescriptor",
    "MissingFieldError",
    "Record",
    "RecordOptions",
    "ValidationError",
    "decode_as",
    "decoder_for",
    "dumps",
    "encode_as",
    "encoder_for",
    "get_codec",
    "loads",
    "register_codec",
    "registry",
]

_Conv = Callable[[Any], Any]
_Resolver = Callable[[Any], Any]
_PlanEntry = tuple[str, _Conv | None, Callable[[], Any] | None]


class ValidationError(ValueError):
    """A field value of a record has the wrong type or cannot be converted."""

    def __init__(
        self, message: str, *, model: str = "", field: str = "", expected: str = ""
    ) -> None:
        super().__init__(message)
        self.model, self.field, self.expected = model, field, expected

    @classmethod
    def mismatch(cls, model: str, field: str, expected: str, value: Any) -> ValidationError:
        """Build the error for ``value`` in ``model.field`` where ``expected`` was wanted."""
        got = f"{reprlib.repr(value)} ({type(value).__name__})"
        return cls(f"{model}.{field}: expected {expected}, got {got}", model=model,
                   field=field, expected=expected)  # fmt: skip


class MissingFieldError(ValidationError, TypeError):
    """A required field was not given (also a TypeError, like a missing argument)."""


class _Mismatch(Exception):
    """Raised by a field converter; the record turns it into a ValidationError."""

    def __init__(self, expected: str, value: Any) -> None:
        self.expected, self.value = expected, value


@dataclass
class RecordOptions:
    """The class options of a record (``class X(Record, coerce=True)``), as ``X._options``."""

    namespace: str = ""
    serializer: str | Codec | None = None
    include_metadata: bool = True
    isodates: bool = False
    decimals: bool = False
    coerce: bool = False
    validation: bool = False
    abstract: bool = False
    allow_blessed_key: bool = False
    polymorphic_fields: bool = False
    date_parser: Callable[[Any], datetime] | None = None
    coercions: dict[Any, Callable[[Any], Any]] = field(default_factory=dict)
    fieldnames: tuple[str, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    optionalset: frozenset[str] = frozenset()


class _Spec:
    """Per-class precomputed field machinery."""

    __slots__ = ("annotations", "checks", "factories", "fieldset", "plan", "post_init")

    def __init__(self, annotations: dict[str, tuple[Any, type]], defaults: dict[str, Any]) -> None:
        self.annotations = annotations
        self.fieldset = frozenset(annotations)
        self.factories: dict[str, Callable[[], Any] | None] = {
            name: _factory(defaults[name]) if name in defaults else None for name in annotations
        }
        self.plan: tuple[_PlanEntry, ...] | None = None
        self.checks: tuple[tuple[str, _Conv | None], ...] | None = None
        self.post_init = False


def _factory(default: Any) -> Callable[[], Any]:
    if type(default) in (list, dict, set):
        return default.copy  # type: ignore[no-any-return]
    return repeat(default).__next__


class _Missing:
    """The ``default`` of a required field."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "_MISSING"  # unpickles as the one instance


_MISSING = _Missing()


class FieldDescriptor:
    """A field of a record, as its class shows it: ``Order.account_id``.

    Faust programs name fields this way: ``stream.group_by(Order.account_id)``,
    ``table.relative_to_field(Order.date)``; ``getattr(value, descriptor.field)`` reads
    the field of a record. Instances show their field values instead.

    Attributes
    ----------
    field : str
        The field name.
    model : type[Record]
        The record class.
    type : Any
        The field annotation; resolved once known (a name of a record defined later is
        resolved at the first use of the class).
    required : bool
        Whether the field has no default.
    default : Any
        The default value; ``FieldDescriptor.MISSING`` for a required field.

    Examples
    --------
    >>> class Trade(Record):
    ...     account_id: str
    ...     amount: int = 0
    >>> Trade.account_id
    <FieldDescriptor: Trade.account_id: str>
    >>> Trade.account_id.required, Trade.amount.required, Trade.amount.default
    (True, False, 0)
    >>> trade = Trade("a", 5)
    >>> trade.amount, getattr(trade, Trade.account_id.field), Trade.amount.getattr(trade)
    (5, 'a', 5)
    """

    MISSING: ClassVar[Any] = _MISSING

    def __init__(self, field: str, model: type[Record], required: bool, default: Any) -> None:
        self.field, self.model, self.required, self.default = field, model, required, default

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        # an instance has its field values in __dict__, which this descriptor leaves alone
        raise AttributeError(f"{type(obj).__name__!r} object has no attribute {self.field!r}")

    def getattr(self, obj: Any) -> Any:
        """Return the value of this field in ``obj`` (as Faust's ``getattr``)."""
        return getattr(obj, self.field)

    def __repr__(self) -> str:
        return f"<FieldDescriptor: {self.model.__name__}.{self.field}: {_type_name(self.type)}>"

    @property
    def type(self) -> Any:
        """The field annotation, resolved once known."""
        return self.model._options.fields.get(self.field)


registry: dict[str, type[Record]] = {}
"""Concrete records by namespace (the ``"__faust": {"ns": ...}`` key of their data)."""
_BY_NAME: dict[str, type[Record]] = {}  # resolves names of records defined in functions
_CLASSVAR = re.compile(r"\s*(typing\.|t\.)?ClassVar\b")


class Record:
    """A typed message value whose fields are the class annotations.

    Options go in the class line: ``serializer`` (codec name, JSON if unset),
    ``namespace``, ``include_metadata=True``, ``isodates``, ``decimals``, ``coerce``,
    ``validation`` (implies ``coerce``, as in Faust), ``abstract``, ``date_parser``,
    ``coercions``; ``allow_blessed_key``, ``polymorphic_fields`` and
    ``lazy_creation`` are accepted and ignored. Values decoded from data are checked
    against simple field types (``str``, ``int``, ``float``, ``bool``, ``bytes``,
    ``list``, ``dict``, records); with ``coerce`` they are converted instead, also on
    direct construction.

    Examples
    --------
    >>> class Point(Record, include_metadata=False):
    ...     x: int
    ...     y: int = 0
    >>> p = Point(1, y=2)
    >>> p, p.dumps()
    (Point(x=1, y=2), b'{"x":1,"y":2}')
    >>> Point.loads(b'{"x":3}') == Point(3)
    True
    >>> Point.from_data({"x": "a"})
    Traceback (most recent call last):
    ...
    streams.app.models.ValidationError: Point.x: expected int, got 'a' (str)
    """

    _options: ClassVar[RecordOptions]
    _spec: ClassVar[_Spec]

    def __init_subclass__(
        cls,
        serializer: str | Codec | None = None,
        namespace: str | None = None,
        include_metadata: bool | None = None,
        isodates: bool | None = None,
        abstract: bool = False,
        allow_blessed_key: bool | None = None,
        decimals: bool | None = None,
        coerce: bool | None = None,
        coercions: Mapping[Any, Callable[[Any], Any]] | None = None,
        polymorphic_fields: bool | None = None,
        validation: bool | None = None,
        date_parser: Callable[[Any], datetime] | None = None,
        lazy_creation: bool = False,
    ) -> None:
        super().__init_subclass__()
        given: dict[str, Any] = dict(
            serializer=serializer, include_metadata=include_metadata, isodates=isodates,
            allow_blessed_key=allow_blessed_key, decimals=decimals, coerce=coerce,
            polymorphic_fields=polymorphic_fields, validation=validation,
            date_parser=date_parser,
        )  # fmt: skip
        opts = replace(cls._options, coercions=dict(cls._options.coercions), abstract=abstract)
        for key, value in given.items():
            if value is not None:
                setattr(opts, key, value)
        opts.coercions.update(coercions or {})
        opts.coerce = opts.coerce or opts.validation
        opts.namespace = namespace or f"{cls.__module__}.{cls.__qualname__}"

        annotations: dict[str, tuple[Any, type]] = {}
        for klass in reversed(cls.__mro__[:-1]):
            if klass is not Record:
                for name, ann in _own_annotations(klass).items():
                    if not _is_classvar(ann):
                        annotations[name] = (ann, klass)
        defaults = {}
        for name in annotations:
            for klass in cls.__mro__:
                if name in klass.__dict__ and klass is not Record:
                    value = klass.__dict__[name]
                    own = isinstance(value, FieldDescriptor) and value.model is klass
                    if own and value.field == name:  # a record class above: its default
                        if value.required:
                            break
                        value = value.default
                    defaults[name] = value
                    break
        opts.fieldnames = tuple(annotations)
        opts.fields = {name: ann for name, (ann, _) in annotations.items()}
        opts.defaults, opts.optionalset = defaults, frozenset(defaults)
        cls._options, cls._spec = opts, _Spec(annotations, defaults)
        for name in annotations:
            required = name not in defaults
            setattr(cls, name, FieldDescriptor(name, cls, required, defaults.get(name, _MISSING)))
        _BY_NAME[cls.__name__] = cls
        if not abstract:
            registry[opts.namespace] = cls
            cls._compile(strict=True)  # deferred to first use if a name is not defined yet

    @classmethod
    def _compile(cls, *, strict: bool = False) -> tuple[_PlanEntry, ...]:
        opts, spec = cls._options, cls._spec
        if opts.abstract:
            raise NotImplementedError(f"{cls.__name__} is an abstract record")
        plan, checks = [], []
        # at class creation only the class itself (and module names) may be named: a
        # record of the same name elsewhere must not stand in for a later definition
        names = {cls.__name__: cls} if strict else {**_BY_NAME, cls.__name__: cls}
        resolvers = {k: _resolver(k, names) for _, k in spec.annotations.values()}
        for name, (ann, klass) in spec.annotations.items():
            resolve = resolvers[klass]
            try:
                tp = resolve(ann)
                conv = _converter(tp, opts, resolve, check=False)
                check = _converter(tp, opts, resolve, check=True)
            except Exception:
                if strict:
                    return ()
                tp, conv, check = ann, None, None  # an unresolvable annotation: no checks
            opts.fields[name] = tp
            plan.append((name, conv, spec.factories[name]))
            checks.append((name, check))
        spec.checks = tuple(checks)
        spec.post_init = cls.__post_init__ is not Record.__post_init__
        spec.plan = tuple(plan)
        return spec.plan

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        spec = cls._spec
        plan = spec.plan if spec.plan is not None else cls._compile()
        d = self.__dict__
        if args:
            if len(args) > len(plan):
                raise TypeError(f"{cls.__name__} takes at most {len(plan)} positional "
                                f"field values ({len(args)} given)")  # fmt: skip
            d.update(zip(cls._options.fieldnames, args, strict=False))
            for name in d.keys() & kwargs if kwargs else ():
                raise TypeError(f"{cls.__name__}: got multiple values for field {name!r}")
        if kwargs:
            if not spec.fieldset.issuperset(kwargs):
                kwargs.pop("__faust", None)
                for name in kwargs.keys() - spec.fieldset:
                    raise TypeError(f"{cls.__name__}: unexpected field {name!r}")
            d.update(kwargs)
        if len(d) < len(plan):
            for name, _, factory in plan:
                if name not in d and factory is not None:
                    d[name] = factory()
            _check_missing(cls, d, plan)
        if cls._options.coerce:
            try:
                for name, conv, _ in plan:
                    if conv is not None:
                        d[name] = conv(d[name])
            except _Mismatch as exc:
                raise ValidationError.mismatch(
                    cls.__name__, name, exc.expected, exc.value
                ) from None
        if spec.post_init:
            self.__post_init__()

    def __post_init__(self) -> None:
        """Hook run after construction and decoding; override it to check invariants."""

    @classmethod
    def from_data(cls, data: Any, *, preferred_type: Any = None) -> Self:
        """Build a record from a mapping of field values (decoded JSON, for instance).

        Parameters
        ----------
        data
            Field values by name. Keys that are not fields are ignored; a ``"__faust"``
            key naming the namespace of a subclass builds that subclass.
        preferred_type
            Accepted for Faust compatibility; unused.

        Returns
        -------
        Self
            The record; nested records are built from nested mappings.

        Raises
        ------
        ValidationError
            A value does not match a simple field type (and cannot be converted, with
            ``coerce``); :class:`MissingFieldError` if a required field is absent.
        """
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            got = f"{reprlib.repr(data)} ({type(data).__name__})"
            raise ValidationError(f"{cls.__name__}: expected a mapping of fields, got {got}",
                                  model=cls.__name__, expected="mapping")  # fmt: skip
        meta = data.get("__faust")
        if meta is not None:
            target = _by_namespace(meta)
            if target is not None and target is not cls and issubclass(target, cls):
                return target.from_data(data)
        spec = cls._spec
        plan = spec.plan if spec.plan is not None else cls._compile()
        self = cls.__new__(cls)
        d = self.__dict__
        try:
            for name, conv, factory in plan:
                if name in data:
                    value = data[name]
                    d[name] = value if conv is None else conv(value)
                elif factory is not None:
                    d[name] = factory()
        except _Mismatch as exc:
            raise ValidationError.mismatch(cls.__name__, name, exc.expected, exc.value) from None
        if len(d) < len(plan):
            _check_missing(cls, d, plan)
        if spec.post_init:
            self.__post_init__()
        return self

    @classmethod
    def loads(
        cls, s: bytes | str, default_serializer: str | Codec | None = None, *,
        serializer: str | Codec | None = None,
    ) -> Self:  # fmt: skip
        """Decode a record from bytes.

        Parameters
        ----------
        s
            The encoded record.
        default_serializer, serializer
            The codec to use if the record class sets no ``serializer`` (JSON if none).

        Returns
        -------
        Self
            The record, as :meth:`from_data` builds it.
        """
        codec = cls._options.serializer or serializer or default_serializer or "json"
        return cls.from_data(loads(codec, s))

    def dumps(self, serializer: str | Codec | None = None) -> bytes:
        """Encode to bytes: :meth:`to_representation` through a codec.

        Parameters
        ----------
        serializer
            The codec; by default the class's ``serializer`` option, or JSON.

        Returns
        -------
        bytes
            The encoded record (compact UTF-8 JSON by default).
        """
        return dumps(serializer or self._options.serializer or "json", self.to_representation())

    def asdict(self) -> dict[str, Any]:
        """Return the field values by name (nested values are not converted)."""
        d = self.__dict__
        return {name: d[name] for name in self._options.fieldnames}

    def to_representation(self) -> dict[str, Any]:
        """Return JSON-ready data: nested records, dates, decimals... converted."""
        d = self.__dict__
        out = {name: _jsonable(d[name]) for name in self._options.fieldnames}
        if self._options.include_metadata:
            out["__faust"] = {"ns": self._options.namespace}
        return out

    def __json__(self) -> dict[str, Any]:
        return self.to_representation()

    def derive(self, *objects: Record, **fields: Any) -> Self:
        """Return a copy with the fields of ``objects``, then ``fields``, replaced."""
        data = self.asdict()
        for obj in objects:
            data.update(obj.asdict())
        return type(self)(**{**data, **fields})

    def validate(self) -> list[ValidationError]:
        """Return the errors of field values whose type does not match the annotation."""
        cls = type(self)
        if cls._spec.checks is None:
            cls._compile()
        errors, d = [], self.__dict__
        for name, check in cls._spec.checks or ():
            try:
                if check is not None:
                    check(d[name])
            except _Mismatch as exc:
                errors.append(
                    ValidationError.mismatch(cls.__name__, name, exc.expected, exc.value)
                )
        return errors

    def is_valid(self) -> bool:
        """Return whether :meth:`validate` finds no error."""
        return not self.validate()

    def validate_or_raise(self) -> None:
        """Raise the first error :meth:`validate` finds."""
        for error in self.validate():
            raise error

    def _values(self) -> tuple[Any, ...]:
        return tuple(map(self.__dict__.__getitem__, self._options.fieldnames))

    def __repr__(self) -> str:
        d = self.__dict__
        inner = ", ".join(f"{name}={d[name]!r}" for name in self._options.fieldnames)
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), *self._values()))


Record._options = RecordOptions(namespace=f"{__name__}.Record", abstract=True)
Record._spec = _Spec({}, {})


def _check_missing(cls: type[Record], d: dict[str, Any], plan: tuple[_PlanEntry, ...]) -> None:
    missing = [name for name, _, _ in plan if name not in d]
    if missing:
        names = ", ".join(map(repr, missing))
        plural = "s" if len(missing) > 1 else ""
        raise MissingFieldError(f"{cls.__name__}: missing required field{plural} {names}",
                                model=cls.__name__, field=missing[0])  # fmt: skip


def _by_namespace(meta: Any) -> type[Record] | None:
    return registry.get(meta.get("ns", "")) if isinstance(meta, dict) else None


def _own_annotations(klass: type) -> dict[str, Any]:
    try:
        return dict(inspect.get_annotations(klass))
    except NameError:  # Python 3.14+: lazily evaluated annotations naming later classes
        lib = importlib.import_module("annotationlib")
        return dict(lib.get_annotations(klass, format=lib.Format.FORWARDREF))


def _is_classvar(ann: Any) -> bool:
    if isinstance(ann, ForwardRef):
        ann = ann.__forward_arg__
    if isinstance(ann, str):
        return _CLASSVAR.match(ann) is not None
    return ann is ClassVar or get_origin(ann) is ClassVar


def _resolver(klass: type, records: dict[str, type[Record]]) -> _Resolver:
    """Evaluate string annotations in the module of ``klass``, then among records."""
    module = sys.modules.get(klass.__module__)
    globalns = vars(module) if module is not None else {}
    localns = {name: rec for name, rec in records.items() if name not in globalns}

    def resolve(tp: Any) -> Any:
        if isinstance(tp, ForwardRef):
            tp = tp.__forward_arg__
        return eval(tp, globalns, localns) if isinstance(tp, str) else tp

    return resolve


def _type_name(tp: Any) -> str:
    origin, args = get_origin(tp), get_args(tp)
    if tp is Ellipsis or tp is type(None):
        return "..." if tp is Ellipsis else "None"
    if origin is None or not args:
        return getattr(tp, "__name__", repr(tp))
    if origin is Union or origin is types.UnionType:
        return " | ".join(map(_type_name, args))
    return f"{_type_name(origin)}[{', '.join(map(_type_name, args))}]"


def _conv(
    name: str, ok: tuple[type, ...], fn: _Conv | None = None, src: tuple[type, ...] = ()
) -> _Conv:
    """Pass values of the ``ok`` types, convert ``src`` ones with ``fn``, reject the rest.

    Bools are ints to Python but not here: they pass or convert only if ``bool`` is
    listed.
    """

    def convert(v: Any) -> Any:
        if isinstance(v, ok) and (bool in ok or not isinstance(v, bool)):
            return v
        if fn is not None and isinstance(v, src) and not isinstance(v, bool):
            try:
                return fn(v)
            except (ValueError, TypeError, ArithmeticError):
                pass
        raise _Mismatch(name, v)

    return convert


def _to_int(v: Any) -> int:
    if isinstance(v, float | Decimal) and v != int(v):
        raise ValueError(v)
    return int(v)


def _to_bool(v: Any) -> bool:
    word = v.strip().lower() if isinstance(v, str) else v
    if word in ("true", "yes", "on", "1", 1):
        return True
    if word in ("false", "no", "off", "0", 0):
        return False
    raise ValueError(v)


def _to_str(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


_NUMBERS = (int, float, Decimal, str, bytes)
_SEQ_TYPES = (list, tuple, set, frozenset)
_BYTES = _conv("bytes", (bytes,), lambda v: v.encode() if isinstance(v, str) else bytes(v),
               (str, bytearray, memoryview))  # fmt: skip
_CHECKS: dict[Any, _Conv] = {
    int: _conv("int", (int,)), float: _conv("float", (float, int)), str: _conv("str", (str,)),
    bool: _conv("bool", (bool,)), bytes: _BYTES, list: _conv("list", (list,)),
    dict: _conv("dict", (Mapping,)),
}  # fmt: skip
_COERCIONS: dict[Any, _Conv] = {
    **_CHECKS,
    int: _conv("int", (int,), _to_int, _NUMBERS), float: _conv("float", (float,), float, _NUMBERS),
    str: _conv("str", (str,), _to_str, (*_NUMBERS, UUID)),
    bool: _conv("bool", (bool,), _to_bool, (str, int)),
    list: _conv("list", (list,), list, _SEQ_TYPES),
}  # fmt: skip
_PARSERS: dict[Any, tuple[_Conv, tuple[type, ...]]] = {
    datetime: (datetime.fromisoformat, (str,)), date: (date.fromisoformat, (str,)),
    time: (time.fromisoformat, (str,)), UUID: (UUID, (str,)),
    Decimal: (lambda v: Decimal(str(v)), (str, int, float)),
}  # fmt: skip
_SEQUENCES: dict[Any, type[Any]] = {
    list: list, abc.Sequence: list, abc.MutableSequence: list, abc.Collection: list,
    abc.Iterable: list, set: set, abc.Set: set, abc.MutableSet: set,
    frozenset: frozenset, tuple: tuple,
}  # fmt: skip
_MAPPINGS = (dict, abc.Mapping, abc.MutableMapping)


def _converter(tp: Any, opts: RecordOptions, resolve: _Resolver, *, check: bool) -> _Conv | None:
    """Build the converter of a field type: ``None`` means values pass unchanged.

    With ``check``, a pure type check (for :meth:`Record.validate`); otherwise a decoder
    of data: records from mappings, sets and tuples from lists, and with ``coerce``,
    conversions of simple types.
    """
    tp = resolve(tp)
    coerce, name = opts.coerce and not check, _type_name(tp)
    if coerce and tp in opts.coercions:
        return _conv(name, (), opts.coercions[tp], (object,))
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return _converter(args[0], opts, resolve, check=check)
    if origin is Union or origin is types.UnionType:
        rest = [arg for arg in args if arg is not type(None)]
        inner = _converter(rest[0], opts, resolve, check=check) if len(rest) == 1 else None
        return None if inner is None else (lambda v: v if v is None else inner(v))
    if origin in _MAPPINGS:
        values = _converter(args[1], opts, resolve, check=check) if len(args) == 2 else None

        def convert_mapping(v: Any) -> Any:
            if not isinstance(v, Mapping):
                raise _Mismatch(name, v)
            return v if values is None else {k: values(x) for k, x in v.items()}

        return convert_mapping
    if origin in _SEQUENCES:
        target = _SEQUENCES[origin]
        same = len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis)
        items = _converter(args[0], opts, resolve, check=check) if same else None
        # data has lists only: they become sets or tuples; other mismatches need coerce
        lenient = not check and (coerce or target is not list)

        def convert_sequence(v: Any) -> Any:
            if not isinstance(v, target) and not (lenient and isinstance(v, _SEQ_TYPES)):
                raise _Mismatch(name, v)
            if items is None:
                return v if check or type(v) is target else target(v)
            return target([items(x) for x in v])

        return convert_sequence
    if origin is not None or not isinstance(tp, type):
        return None
    if issubclass(tp, Record):
        record: type[Record] = tp

        def convert_record(v: Any) -> Any:
            if isinstance(v, record):
                return v
            if not check and isinstance(v, Mapping):
                return record.from_data(v)
            raise _Mismatch(name, v)

        return convert_record
    if issubclass(tp, enum.Enum):
        return _conv(name, (tp,), None if check else tp, (object,))
    if tp in _PARSERS:
        parse, src = _PARSERS[tp]
        parse = opts.date_parser if tp is datetime and opts.date_parser else parse
        flag = opts.decimals if tp is Decimal else opts.isodates and tp is not UUID
        if check or coerce or flag:
            return _conv(name, (tp,), None if check else parse, src)
        return None
    if tp is bytes and check:
        return _conv(name, (bytes,))
    return (_COERCIONS if coerce else _CHECKS).get(tp)


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _jsonable(value: Any) -> Any:
    """Convert ``value`` to JSON-ready data (records, containers, dates, decimals...)."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Record):
        return value.to_representation()
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(x) for x in value]
    if isinstance(value, Mapping):
        return {k if type(k) in _PLAIN else str(_jsonable(k)): _jsonable(x)
                for k, x in value.items()}  # fmt: skip
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode()
    to_json = getattr(value, "__json__", None)
    return to_json() if callable(to_json) else value


# the conversions of topic keys and values (codecs.decode_as)
_SCALARS: dict[Any, _Conv] = {
    str: _conv("str", (str,), bytes.decode, (bytes,)), bytes: _BYTES, int: _COERCIONS[int],
    float: _COERCIONS[float],
    Decimal: _conv("Decimal", (Decimal,), lambda v: Decimal(_to_str(v)), _NUMBERS),
}  # fmt: skip
