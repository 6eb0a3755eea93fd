"""Duck-typing helpers for DataFrame-like libraries (pandas, or cuDF with the same
API), with streamz's names."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = [
    "get_base_frame_type",
    "get_dataframe_package",
    "is_dataframe_like",
    "is_frame_like",
    "is_index_like",
    "is_series_like",
]


def is_frame_like(obj: Any, *attributes: str) -> bool:
    """Whether ``obj``'s type has all ``attributes``."""
    kind = type(obj)
    return all(hasattr(kind, name) for name in attributes)


def is_dataframe_like(obj: Any) -> bool:
    """Looks like a pandas DataFrame (``columns``, ``dtypes``, ``groupby``, ``merge``).

    Examples
    --------
    >>> import pandas as pd
    >>> is_dataframe_like(pd.DataFrame({"x": [1]})), is_dataframe_like(pd.Series([1]))
    (True, False)
    """
    return is_frame_like(obj, "dtypes", "columns", "groupby", "merge", "iloc")


def is_series_like(obj: Any) -> bool:
    """Looks like a pandas Series (``name``, ``dtype``, no ``columns``)."""
    return is_frame_like(obj, "name", "dtype", "groupby", "iloc") and not hasattr(
        type(obj), "columns"
    )


def is_index_like(obj: Any) -> bool:
    """Looks like a pandas Index (``name``, ``dtype``, ``get_loc``...)."""
    return is_frame_like(obj, "name", "dtype", "get_loc", "is_monotonic_increasing")


def get_dataframe_package(obj: Any) -> ModuleType:
    """The top-level package of ``obj``'s type (``pandas`` for pandas objects)."""
    return sys.modules[type(obj).__module__.partition(".")[0]]


def get_base_frame_type(
    frame_name: str, is_frame_like: Callable[[Any], bool], example: Any = None
) -> type:
    """The ``frame_name`` class (``'DataFrame'``, ``'Series'``, ``'Index'``) of the
    library ``example`` comes from; ``TypeError`` unless ``example`` passes
    ``is_frame_like`` (a Series or Index example may ask for ``'DataFrame'``)."""
    if example is None:
        raise TypeError(f"an example {frame_name} is needed")
    if not is_frame_like(example) and frame_name != "DataFrame":
        raise TypeError(f"{frame_name}: the example is a {type(example).__name__}: {example!r}")
    package = get_dataframe_package(example)
    return getattr(package, frame_name)  # type: ignore[no-any-return]
