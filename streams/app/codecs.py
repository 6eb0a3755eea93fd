"""Codecs: message bytes from values and back, and the keys and values of topics.

Codecs (``raw``, ``json``, ``pickle``, ``binary`` and chains such as ``"json|binary"``)
turn values into message bytes: :func:`dumps` and :func:`loads`; :func:`register_codec`
adds one. For topics with a key or value type, :func:`encode_as` and :func:`decode_as`
encode and decode one message, and :func:`encoder_for` and :func:`decoder_for` work out
the codec and the conversions once per topic for the per-message path.

The records of :mod:`streams.app.models` use these codecs, and this module reaches them
only when called (models imports this module, not the other way round).
"""

from __future__ import annotations

import base64
import json
import pickle
import reprlib
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Record

__all__ = [
    "Codec",
    "decode_as",
    "decoder_for",
    "dumps",
    "encode_as",
    "encoder_for",
    "get_codec",
    "loads",
    "register_codec",
]

_models_module: ModuleType | None = None


def _models() -> ModuleType:
    """Return :mod:`streams.app.models`, imported on first use (it imports this module)."""
    global _models_module
    if _models_module is None:
        from . import models

        _models_module = models
    return _models_module


class Codec:
    """A bytes encoding; ``a | b`` chains codecs (dumps a then b, loads b then a).

    Subclasses override ``_dumps`` and ``_loads`` (as in Faust), or pass functions.
    """

    def __init__(
        self,
        dumps: Callable[[Any], bytes] | None = None,
        loads: Callable[[bytes], Any] | None = None,
    ) -> None:
        self._dumps_fn, self._loads_fn = dumps, loads
        self.nodes: tuple[Codec, ...] = (self,)

    def _dumps(self, obj: Any) -> bytes:
        if self._dumps_fn is None:
            raise NotImplementedError(f"{type(self).__name__} does not implement _dumps")
        return self._dumps_fn(obj)

    def _loads(self, data: bytes) -> Any:
        if self._loads_fn is None:
            raise NotImplementedError(f"{type(self).__name__} does not implement _loads")
        return self._loads_fn(data)

    def dumps(self, obj: Any) -> bytes:
        """Encode ``obj`` with every codec of the chain, left to right."""
        for node in self.nodes:
            obj = node._dumps(obj)
        return obj  # type: ignore[no-any-return]

    def loads(self, data: bytes) -> Any:
        """Decode ``data`` with every codec of the chain, right to left."""
        value: Any = data
        for node in reversed(self.nodes):
            value = node._loads(value)
        return value

    def __or__(self, other: Codec) -> Codec:
        chained = Codec()
        chained.nodes = (*self.nodes, *other.nodes)
        return chained


def _raw_dumps(obj: Any) -> bytes:
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, str):
        return obj.encode()
    if isinstance(obj, bytearray | memoryview):
        return bytes(obj)
    raise TypeError(f"raw codec: cannot encode {type(obj).__name__} (expected bytes or str)")


def _json_default(obj: Any) -> Any:
    value = (_models_module or _models())._jsonable(obj)
    if value is obj:
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
    return value


_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"), ensure_ascii=False)


def _json_dumps(obj: Any) -> bytes:
    return _ENCODER.encode(obj).encode()


_RAW = Codec(_raw_dumps, _raw_dumps)
_JSON = Codec(_json_dumps, json.loads)
_binary = Codec(lambda obj: base64.b64encode(_raw_dumps(obj)), base64.b64decode)
_CODECS: dict[str, Codec] = {
    "raw": _RAW,
    "json": _JSON,
    "binary": _binary,
    # as in Faust, base64 text: unpickling runs code, so only read from trusted producers
    "pickle": Codec(pickle.dumps, pickle.loads) | _binary,
}


def register_codec(
    name: str,
    dumps_fn: Callable[[Any], bytes] | Codec,
    loads_fn: Callable[[bytes], Any] | None = None,
) -> Codec:
    """Register a codec under ``name``, usable alone and in chains (``"json|name"``).

    Parameters
    ----------
    name
        The codec name (without ``|``).
    dumps_fn
        A :class:`Codec`, or the function encoding a value to bytes.
    loads_fn
        The function decoding bytes (required with a function ``dumps_fn``).

    Returns
    -------
    Codec
        The registered codec.

    Examples
    --------
    >>> _ = register_codec("upper", lambda s: s.upper().encode(), bytes.decode)
    >>> dumps("upper|binary", "hi"), loads("upper|binary", b"SEk=")
    (b'SEk=', 'HI')
    """
    if "|" in name:
        raise ValueError(f"codec name {name!r} must not contain '|'")
    if isinstance(dumps_fn, Codec):
        codec = dumps_fn
    elif loads_fn is None:
        raise TypeError(f"register_codec({name!r}): a dumps function needs a loads function")
    else:
        codec = Codec(dumps_fn, loads_fn)
    _CODECS[name] = codec
    return codec


def get_codec(codec: str | Codec) -> Codec:
    """Return the codec of a name such as ``"json"`` or a chain ``"json|binary"``."""
    if isinstance(codec, Codec):
        return codec
    found = _CODECS.get(codec)
    if found is not None:
        return found
    if "|" in codec:
        first, *rest = map(get_codec, codec.split("|"))
        for node in rest:
            first = first | node
        return first
    raise ValueError(f"unknown codec {codec!r} (known: {', '.join(sorted(_CODECS))})")


def dumps(codec: str | Codec | None, obj: Any) -> bytes:
    """Encode ``obj`` to bytes with ``codec`` (``None`` means ``"raw"``)."""
    return get_codec(codec or "raw").dumps(obj)


def loads(codec: str | Codec | None, data: bytes | str | None) -> Any:
    """Decode ``data`` with ``codec`` (``None`` means ``"raw"``); ``None`` stays ``None``."""
    if data is None:
        return None
    if not isinstance(data, bytes):
        data = data.encode() if isinstance(data, str) else bytes(data)
    return get_codec(codec or "raw").loads(data)


# Topic keys and values


def decode_as(value_type: Any, codec: str | Codec | None, data: bytes | str | None) -> Any:
    """Decode a message key or value as a topic's ``key_type`` or ``value_type``.

    Parameters
    ----------
    value_type
        A record class, ``str``, ``bytes``, ``int``, ``float``, ``Decimal``, or ``None``
        for what the codec gives (data carrying the ``"__faust"`` namespace of a record
        become that record). Other types also get what the codec gives.
    codec
        A codec name or :class:`Codec`; ``None`` means ``"raw"``, except for a record,
        which then (and with ``"raw"``) decodes with its serializer, or JSON.
    data
        The message bytes; ``None`` (no key, a tombstone) gives ``None``.

    Returns
    -------
    Any
        The decoded value.

    Raises
    ------
    ValueError
        The codec or the conversion to ``value_type`` failed (the message names the
        data and the type); :class:`ValidationError` if a record field is invalid.

    See Also
    --------
    decoder_for : the same decoding, worked out once per topic.

    Examples
    --------
    >>> decode_as(str, "raw", b"key"), decode_as(int, "raw", b"1"), decode_as(int, "json", b"1")
    ('key', 1, 1)
    """
    if data is None:
        return None
    models = _models_module or _models()
    is_record = isinstance(value_type, type) and issubclass(value_type, models.Record)
    if is_record and (codec is None or codec == "raw"):
        codec = value_type._options.serializer or "json"
    try:
        value = loads(codec, data)
    except Exception as exc:
        what = _what(value_type)
        raise ValueError(f"cannot decode {reprlib.repr(data)} as {what} with codec "
                         f"{codec!r}: {exc}") from exc  # fmt: skip
    if is_record:
        return value_type.from_data(value)
    if value_type is None:
        target = models._by_namespace(value.get("__faust")) if isinstance(value, dict) else None
        return value if target is None else target.from_data(value)
    convert = models._SCALARS.get(value_type)
    if convert is None:
        return value
    try:
        return convert(value)
    except models._Mismatch:
        got = f"{reprlib.repr(value)} ({type(value).__name__})"
        raise ValueError(
            f"cannot decode {reprlib.repr(data)} as {_what(value_type)}: got {got}"
        ) from None


def _what(value_type: Any) -> str:
    return "data" if value_type is None else str(_models()._type_name(value_type))


def encode_as(codec: str | Codec | None, value: Any) -> bytes | None:
    """Encode a message key or value for a topic.

    Parameters
    ----------
    codec
        A codec name or :class:`Codec`; ``None`` means ``"raw"``.
    value
        A record (encoded with its ``serializer`` option, else ``codec``, else JSON),
        bytes (unchanged), or a value for ``codec``; with ``"raw"``, str is encoded as
        UTF-8 and numbers as their decimal text.

    Returns
    -------
    bytes or None
        The message bytes; ``None`` for ``None``.

    See Also
    --------
    encoder_for : the same encoding, worked out once per topic.

    Examples
    --------
    >>> encode_as("raw", "k"), encode_as("raw", 1), encode_as("json", [1]), encode_as("raw", None)
    (b'k', b'1', b'[1]', None)
    """
    if value is None:
        return None
    record: type[Record] = (_models_module or _models()).Record
    if isinstance(value, record):
        raw = codec is None or codec == "raw"
        return value.dumps(value._options.serializer or ("json" if raw else codec))
    if isinstance(value, bytes):
        return value
    if (codec is None or codec == "raw") and isinstance(value, int | float | Decimal):
        return str(value).encode()
    return dumps(codec, value)


def _same(data: bytes) -> bytes:
    return data


def _then(load: Callable[[bytes], Any], convert: Callable[[Any], Any]) -> Callable[[bytes], Any]:
    return lambda data: convert(load(data))


def decoder_for(value_type: Any, codec: str | Codec | None) -> Callable[[bytes | None], Any]:
    """Return the decoder of a topic's keys or values: :func:`decode_as`, made once.

    The codec, the record serializer rule and the conversion to ``value_type`` are worked
    out here, once per topic, not once per message; a codec name is looked up now (an
    unknown one is looked up at each call, as by :func:`decode_as`, so that a codec
    registered later works).

    Parameters
    ----------
    value_type
        As for :func:`decode_as`: a record class, ``str``, ``bytes``, ``int``,
        ``float``, ``Decimal``, ``None``...
    codec
        A codec name or :class:`Codec`, as for :func:`decode_as`.

    Returns
    -------
    Callable[[bytes | None], Any]
        ``decoder(data)`` gives what ``decode_as(value_type, codec, data)`` gives, and
        raises the same errors (the failing data goes through :func:`decode_as`).

    Examples
    --------
    >>> as_int = decoder_for(int, "raw")
    >>> as_int(b"42"), as_int(None)
    (42, None)
    >>> as_int(b"x")
    Traceback (most recent call last):
    ...
    ValueError: cannot decode b'x' as int: got b'x' (bytes)
    >>> decoder_for(None, "json")(b'{"a": [1]}')
    {'a': [1]}
    """
    models = _models()
    is_record = isinstance(value_type, type) and issubclass(value_type, models.Record)
    chosen = codec
    if is_record and (codec is None or codec == "raw"):
        chosen = value_type._options.serializer or "json"
    slow: Callable[[bytes | None], Any] = partial(decode_as, value_type, codec)
    try:
        found = get_codec(chosen or "raw")
        convert = None if is_record or value_type is None else models._SCALARS.get(value_type)
    except Exception:  # an unknown codec, an unhashable type: decode_as says what is wrong
        return slow
    load: Callable[[bytes], Any] = (
        _same if found is _RAW else json.loads if found is _JSON else found.loads
    )
    raw = load is _same

    if is_record:
        from_data = value_type.from_data

        def decode_record(data: bytes | None) -> Any:
            if type(data) is not bytes:
                return slow(data)
            try:
                value = load(data)
            except Exception:
                return slow(data)
            return from_data(value)

        return decode_record

    if raw and (convert is None or value_type is bytes):  # the bytes as they are
        return lambda data: data if type(data) is bytes else slow(data)

    if value_type is None:
        by_namespace = models._by_namespace

        def decode_any(data: bytes | None) -> Any:
            if type(data) is not bytes:
                return slow(data)
            try:
                value = load(data)
            except Exception:
                return slow(data)
            if isinstance(value, dict) and "__faust" in value:
                target = by_namespace(value.get("__faust"))
                if target is not None:
                    return target.from_data(value)
            return value

        return decode_any

    parse: Callable[[bytes], Any] = load if convert is None else _then(load, convert)
    if raw and (value_type is str or value_type is int or value_type is float):
        parse = bytes.decode if value_type is str else value_type  # what convert does

    def decode(data: bytes | None) -> Any:
        if type(data) is bytes:
            try:
                return parse(data)
            except Exception:
                pass
        return slow(data)

    return decode


def encoder_for(codec: str | Codec | None) -> Callable[[Any], bytes | None]:
    """Return the encoder of a topic's keys or values: :func:`encode_as`, made once.

    Parameters
    ----------
    codec
        A codec name or :class:`Codec`, as for :func:`encode_as`; a name is looked up
        now (an unknown one at each call, as by :func:`encode_as`).

    Returns
    -------
    Callable[[Any], bytes | None]
        ``encoder(value)`` gives what ``encode_as(codec, value)`` gives, and raises the
        same errors.

    Examples
    --------
    >>> to_raw = encoder_for("raw")
    >>> to_raw("k"), to_raw(1.5), to_raw(b"b"), to_raw(None)
    (b'k', b'1.5', b'b', None)
    >>> encoder_for("json")({"a": 1})
    b'{"a":1}'
    """
    record: type[Record] = _models().Record
    raw = codec is None or codec == "raw"
    record_codec = "json" if codec is None or codec == "raw" else codec
    try:
        found = get_codec(codec or "raw")
    except Exception:  # an unknown codec: encode_as says what is wrong, or passes bytes
        return partial(encode_as, codec)
    dump: Callable[[Any], bytes] = (
        _raw_dumps if found is _RAW else _json_dumps if found is _JSON else found.dumps
    )

    if raw and dump is _raw_dumps:

        def encode_raw(value: Any) -> bytes | None:
            if type(value) is str:
                return value.encode()
            if type(value) is bytes:
                return value
            if type(value) is int or type(value) is float:
                return str(value).encode()
            if value is None:
                return None
            if isinstance(value, record):
                return value.dumps(value._options.serializer or "json")
            if isinstance(value, bytes):
                return value
            if isinstance(value, int | float | Decimal):
                return str(value).encode()
            return _raw_dumps(value)

        return encode_raw

    def encode(value: Any) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, record):
            return value.dumps(value._options.serializer or record_codec)
        if isinstance(value, bytes):
            return value
        if raw and isinstance(value, int | float | Decimal):
            return str(value).encode()
        return dump(value)

    return encode
