"""Sinks: nodes at the end of a graph that hand elements to the outside world."""

from .base import Sink
from .basic import FuncSink, ListSink, SinkList, TextFileSink, sink_to_file

__all__ = ["FuncSink", "ListSink", "Sink", "SinkList", "TextFileSink", "sink_to_file"]
