"""Storages of feeds: timelines, activities and marker lists, in memory, Redis or SQL.

The Redis classes import ``redis`` only when they first talk to a server, the SQL ones
``sqlalchemy`` only when they first talk to a database.
"""

from .base import BaseActivityStorage, BaseListsStorage, BaseTimelineStorage
from .memory import MemoryActivityStorage, MemoryListsStorage, MemoryTimelineStorage
from .redis import RedisActivityStorage, RedisListsStorage, RedisTimelineStorage
from .sql import SQLActivityStorage, SQLListsStorage, SQLTimelineStorage

__all__ = [
    "BaseActivityStorage",
    "BaseListsStorage",
    "BaseTimelineStorage",
    "MemoryActivityStorage",
    "MemoryListsStorage",
    "MemoryTimelineStorage",
    "RedisActivityStorage",
    "RedisListsStorage",
    "RedisTimelineStorage",
    "SQLActivityStorage",
    "SQLListsStorage",
    "SQLTimelineStorage",
]
