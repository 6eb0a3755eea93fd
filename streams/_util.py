"""Tiny shared values with no imports, usable by every module without import cycles."""

from __future__ import annotations

import functools
import inspect
import reprlib
from collections.abc import Callable
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


NO_START = NoStart()
"""Default ``start`` of ``accumulate``: the first element becomes the state."""


_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80


def annotate(exc: BaseException, node: object, x: Any) -> None:
    """Add a note naming ``node`` and the element ``x`` to an exception from user code."""
    exc.add_note(f"in {node} (element {_short.repr(x)})")


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
