"""Small helpers shared by the node modules; they import nothing from the package, so
any module can use them without an import cycle."""

from __future__ import annotations

import datetime
import functools
import inspect
import math
import operator
import re
import reprlib
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


def identity(x: T) -> T:
    """Return ``x`` unchanged (the default ``key`` of several operators)."""
    return x


class NoStart:
    """The type of :data:`NO_START`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<first element>"

    def __reduce__(self) -> str:
        return "NO_START"  # the one instance survives pickling (a stored state)


NO_START = NoStart()
"""Default ``start`` of ``accumulate``: the first element becomes the state."""


_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80


def label(node: object) -> str:
    """How messages name ``node``: a stream node's label (``map<add>``, or its name),
    anything else as ``str``."""
    describe = getattr(node, "_describe", None)
    return str(describe()) if callable(describe) else str(node)


def annotate(exc: BaseException, node: object, x: Any) -> None:
    """Add a note naming ``node`` and the element ``x`` to an exception from user code.

    The node and element are also kept on the exception (``_streams_node``,
    ``_streams_element``) for error records made further up.
    """
    exc.add_note(f"in {label(node)} (element {_short.repr(x)})")
    if not hasattr(exc, "_streams_node"):
        try:
            exc._streams_node = node  # type: ignore[attr-defined]
            exc._streams_element = x  # type: ignore[attr-defined]
        except AttributeError:  # exceptions with __slots__ and no __dict__
            pass


def funcname(func: Any) -> str:
    """A short readable name for a callable (used in node labels)."""
    if isinstance(func, functools.partial):
        return funcname(func.func)
    name = getattr(func, "__name__", None)
    if name == "<lambda>":
        return "lambda"
    if isinstance(name, str):
        return name
    return type(func).__name__


def check_arguments(
    node: str,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    leading: int = 1,
) -> None:
    """Raise ``TypeError`` now if ``func`` could never be called with these extras.

    Extra arguments of an operator go to the user function after the element. A
    misspelt node keyword (``stream_nam=``) or a surplus argument would otherwise only
    fail at the first element, so they are checked at build time against ``func``'s
    signature (when it has one; some builtins do not).
    """
    if not args and not kwargs:
        return
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without a signature: cannot tell
        return
    try:
        sig.bind_partial(*([None] * leading), *args, **kwargs)
    except TypeError as exc:
        given = ", ".join([*map(repr, args), *(f"{k}=..." for k in kwargs)])
        raise TypeError(
            f"{node}: cannot pass ({given}) to {funcname(func)}{sig}: {exc}; keywords that "
            "are not options of the node go to the function"
        ) from None


def bind(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Callable[..., Any]:
    """``func`` with extra arguments appended after the element, prepared once at build time."""
    if not args and not kwargs:
        return func

    def call(*xs: Any) -> Any:
        return func(*xs, *args, **kwargs)

    return call


def positive_int(node: str, name: str, value: Any, *, allow_none: bool = False) -> Any:
    """Validate an operator's size argument, naming the operator in the error."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{node}: {name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{node}: {name} must be a positive integer, got {value!r}")
    return value


def key_function(node: str, key: Any) -> Callable[[Any], Any] | None:
    """A callable ``key`` as is; any other non-None key ``k`` as ``x[k]``."""
    if key is None or callable(key):
        return key  # type: ignore[no-any-return]
    if not isinstance(key, Hashable):
        raise TypeError(f"{node}: key must be callable or an index/key, got {key!r}")
    return operator.itemgetter(key)


def flat(metadatas: Any) -> list[dict[str, Any]]:
    """Concatenate several elements' metadata into the metadata of their combination."""
    return [m for md in metadatas for m in md]


_UNITS = {
    "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}  # fmt: skip
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:e([-+]?\d+))?\s*([a-zµ]*)\s*$")


def parse_interval(node: str, interval: Any) -> float:
    """Seconds as a positive float, from a number, a ``timedelta`` or a string.

    Strings are a number and a unit: ``'250ms'``, ``'1.5s'``, ``'2 min'``, ``'1h'``
    (``us``, ``ms``, ``s``, ``m``/``min``, ``h``, ``d``; seconds without a unit).

    Examples
    --------
    >>> [parse_interval("delay", i) for i in ("250ms", 2, "1 min")]
    [0.25, 2.0, 60.0]
    """
    if isinstance(interval, datetime.timedelta):
        seconds = interval.total_seconds()
    elif isinstance(interval, int | float) and not isinstance(interval, bool):
        seconds = float(interval)
    elif isinstance(interval, str):
        match = _INTERVAL.match(interval.lower())
        if match is None or match.group(3) not in {"", *_UNITS}:
            units = ", ".join(sorted(_UNITS))
            raise ValueError(
                f"{node}: cannot read {interval!r} as a time interval; use a number of "
                f"seconds or a number and a unit ({units}), e.g. '250ms'"
            )
        number, exponent, unit = match.groups()
        seconds = float(number) * 10 ** int(exponent or 0) * _UNITS.get(unit, 1.0)
    else:
        raise TypeError(
            f"{node}: interval must be seconds, a timedelta or a string, got {interval!r}"
        )
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError(f"{node}: interval must be a positive, finite time, got {interval!r}")
    return seconds
