"""Faust-style applications on streams: ``import streams.app as faust``.

An :class:`App` holds topics, agents (``async for`` stream processors), tables (durable
dicts, plain or windowed), timers and tasks, and runs them as a streams graph on the
running event loop: Kafka sources with back pressure, checkpoints of the tables and the
topic positions in one store transaction, and a worker command line.

See the guide page "Faust-style apps" for what differs from Faust.
"""

from .agents import Agent
from .app import App
from .events import Event, Message, current_event
from .models import Record, ValidationError
from .streaming import AgentStream as Stream
from .tables import Table, WindowSet, WindowWrapper
from .topics import Channel, RecordMetadata, Topic

__all__ = [
    "Agent",
    "App",
    "Channel",
    "Event",
    "Message",
    "Record",
    "RecordMetadata",
    "Stream",
    "Table",
    "Topic",
    "ValidationError",
    "WindowSet",
    "WindowWrapper",
    "current_event",
]
