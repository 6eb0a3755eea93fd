"""Storages of feeds: timelines, activities and marker lists, in memory or Redis.

The Redis classes import ``redis`` only when they first talk to a server.
"""

from .base import BaseActivityStorage, BaseListsStorage, BaseTimelineStorage
from .memory import MemoryActivityStorage, MemoryListsStorage, MemoryTimelineStorage
from .redis import RedisActivityStorage, RedisListsStorage, RedisTimelineStorage

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
]
