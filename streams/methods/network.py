"""Methods for network sources and sinks.

``from_tcp``, ``from_http_server``, ``from_websocket``, ``to_websocket``.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class NetworkMethods(Generic[T]):
    """``from_tcp``, ``from_http_server``, ``from_websocket``, ``to_websocket``."""
