"""Aggregations of windows, and the builder ``stream.window(...)`` returns."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any, NamedTuple

_NO_VALUE = object()


class _Agg(NamedTuple):
    name: str
    init: Callable[[], Any]
    add: Callable[[Any, Any, Any, int], Any]  # (state, value, timestamp, arrival)
    merge: Callable[[Any, Any], Any] | None
    result: Callable[[Any], Any]


def _count() -> _Agg:
    return _Agg("count", lambda: 0, lambda s, v, t, i: s + 1, lambda a, b: a + b, _same)


def _sum(f: Callable[[Any], Any] | None) -> _Agg:
    get = f or _same
    return _Agg("sum", lambda: 0, lambda s, v, t, i: s + get(v), lambda a, b: a + b, _same)


def _mean(f: Callable[[Any], Any] | None) -> _Agg:
    get = f or _same

    def add(s: Any, v: Any, t: Any, i: int) -> Any:
        return (s[0] + get(v), s[1] + 1)

    return _Agg(
        "mean",
        lambda: (0, 0),
        add,
        lambda a, b: (a[0] + b[0], a[1] + b[1]),
        lambda s: s[0] / s[1] if s[1] else math.nan,
    )


def _extreme(name: str, pick: Callable[..., Any], f: Callable[[Any], Any] | None) -> _Agg:
    get = f or _same

    def add(s: Any, v: Any, t: Any, i: int) -> Any:
        value = get(v)
        return value if s is _NO_VALUE else pick(s, value)

    def merge(a: Any, b: Any) -> Any:
        return b if a is _NO_VALUE else a if b is _NO_VALUE else pick(a, b)

    return _Agg(name, lambda: _NO_VALUE, add, merge, lambda s: None if s is _NO_VALUE else s)


def _reduce(f: Callable[[Any, Any], Any]) -> _Agg:
    def add(s: Any, v: Any, t: Any, i: int) -> Any:
        return v if s is _NO_VALUE else f(s, v)

    def merge(a: Any, b: Any) -> Any:
        return b if a is _NO_VALUE else a if b is _NO_VALUE else f(a, b)

    return _Agg("reduce", lambda: _NO_VALUE, add, merge, lambda s: None if s is _NO_VALUE else s)


def _collect(f: Callable[[Any], Any] | None, then: Callable[[list[Any]], Any] | None) -> _Agg:
    get = f or _same
    finish = then or _same

    def add(s: list[Any], v: Any, t: Any, i: int) -> list[Any]:
        s.append((t, i, get(v)))
        return s

    def result(s: list[Any]) -> Any:
        return finish([v for _, _, v in sorted(s, key=lambda e: (e[0], e[1]))])

    return _Agg("collect" if then is None else "apply", list, add, lambda a, b: a + b, result)


def _aggregate(init: Any, add: Callable[[Any, Any], Any], merge: Any, result: Any) -> _Agg:
    def start() -> Any:
        return init() if callable(init) else copy.deepcopy(init)

    return _Agg(
        "aggregate",
        start,
        lambda s, v, t, i: add(s, v),
        merge,
        result or _same,
    )


def _same(x: Any) -> Any:
    return x
