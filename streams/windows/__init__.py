"""Event time: windows by the data's own clock, watermarks, lateness and a late output.

``source.window(kind, clock=EventClock(...), key=...)`` followed by an aggregation
(``count()``, ``sum()``, ``collect()``...) groups elements into windows by the timestamp
each element carries, not by when it arrives. The node's clock keeps a watermark ``W``:
the largest timestamp seen less ``max_out_of_order`` (no element older than that is
expected any more). A window ``[start, end)`` is *past* when ``end <= W``: in
``emit="final"`` mode it then emits its result once, as an ``on_time`` pane. Elements
still arrive for it until it *expires* (``end + allowed_lateness <= W``): each one
updates it and emits a ``late`` pane. An element that no window accepts goes to
``.late``, unchanged, with its metadata. The rules are those of
``../shared/research/event_time.md`` §4 (C1-C4, A1-A3, L1-L4, E1, E2, E4-E7, O1-O2).

Every element, watermark and pane is handled inside the push of the element (or of
``advance_watermark``/``flush``), so back pressure and errors work as for any node;
an element's metadata refs are held until a pane with it in was accepted downstream
(``final``: its first ``on_time`` or ``late`` pane; ``update``: its first pane) or it went
to ``.late``.

Examples
--------
>>> from streams import Stream
>>> from streams.windows import EventClock, Tumbling
>>> source = Stream()
>>> clock = EventClock(timestamp=lambda t: t)  # the elements are their own timestamps
>>> counts = source.window(Tumbling(10), clock=clock).count()
>>> out = counts.sink_to_list()
>>> for t in (1, 2, 3, 10, 11):
...     source.emit(t)
>>> out
[WindowResult(key=None, start=0, end=10, value=3, timing='on_time', index=0, replaces=())]
>>> counts.flush()
>>> out[-1].start, out[-1].value
(10, 2)
"""

from __future__ import annotations

from .builder import WindowBuilder
from .clocks import EventClock, ProcessingClock
from .kinds import Hopping, Session, Sliding, Tumbling, WindowResult
from .node import EventWindow

__all__ = [
    "EventClock",
    "EventWindow",
    "Hopping",
    "ProcessingClock",
    "Session",
    "Sliding",
    "Tumbling",
    "WindowBuilder",
    "WindowResult",
]
