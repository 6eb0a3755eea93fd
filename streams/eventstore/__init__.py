"""An event store with an AwesomeStream-compatible API: store JSON events, query them
newest first by equality filters on indexed keys, over HTTP (JSON-RPC) if wanted.

Backends: :class:`MemoryBackend`, :class:`RedisBackend` (redis-py) and
:class:`SQLBackend` (SQLAlchemy 2); the server (:func:`create_app`,
:func:`run_server`, :func:`start_server`) and the clients (:class:`Client`,
:class:`AsyncClient`) use tornado and the standard library. Client libraries are
imported on first use, so importing this package does no work.

Examples
--------
>>> from streams.eventstore import MemoryBackend
>>> store = MemoryBackend(keys=["kind", "user"])
>>> _ = store.insert({"kind": "friend", "user": 23})
>>> store.items(kind="friend")
[{'kind': 'friend', 'user': 23}]
"""

from __future__ import annotations

from .base import Backend, Event, to_timestamp
from .client import AsyncClient, Client
from .memory import MemoryBackend
from .redis import RedisBackend
from .server import EventServer, create_app, run_server, start_server
from .sql import SQLBackend

__all__ = [
    "AsyncClient",
    "Backend",
    "Client",
    "Event",
    "EventServer",
    "MemoryBackend",
    "RedisBackend",
    "SQLBackend",
    "create_app",
    "run_server",
    "start_server",
    "to_timestamp",
]
