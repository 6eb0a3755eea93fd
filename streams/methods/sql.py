"""Methods for connectors. SQL databases: to_sql."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class SqlMethods(Generic[T]):
    """SQL databases: to_sql."""
