"""Sources: nodes that produce elements on their own once started."""

from ..sinks.basic import sink_to_file  # where streamz has it (streamz.sources)
from .base import Source
from .iterable import FromIterable
from .periodic import FromPeriodic

__all__ = ["FromIterable", "FromPeriodic", "Source", "sink_to_file"]
