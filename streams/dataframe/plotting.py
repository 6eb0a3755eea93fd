"""Live plots of streaming frames: ``sdf.plot.line(...)``, on holoviews, bokeh and hvplot.

A plot is a holoviews ``DynamicMap`` fed by a holoviews ``Buffer`` that keeps the last
``backlog`` rows (by a ``Pipe`` holding the latest result, for a running result such as
``sdf.groupby('k').x.mean()``). A sink on the frame's stream sends the chunks on, at most
``rate`` times per second (the chunks that arrive in between are sent together, so no row
is skipped). What the plot draws is hvplot's plot of the rows in the buffer, so every
hvplot option works. The plotting libraries (the ``streams[plot]`` extra) are imported
when a plot is made, never before.

Examples
--------
>>> import pandas as pd
>>> from streams.dataframe import DataFrame
>>> sdf = DataFrame(example=pd.DataFrame({"price": [0.0]}))
>>> prices = sdf.plot.line(y="price", backlog=3)
>>> for p in (1.0, 2.0, 3.0, 4.0):
...     sdf.emit(pd.DataFrame({"price": [p]}))
>>> feed = live_feed(prices)
>>> feed.flush()  # send what the throttle still holds (a notebook's loop does it)
>>> feed.buffer.data["price"].tolist()
[2.0, 3.0, 4.0]
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .core import Frame

__all__ = ["KINDS", "LiveFeed", "Plotter", "live_feed"]

#: the kinds of plot ``sdf.plot`` makes by name (``sdf.plot(kind=...)`` takes any hvplot kind)
KINDS = ("line", "scatter", "bar", "area", "hist", "table")


class Plotter:
    """``sdf.plot`` (and ``sdf.hvplot``): live plots of a streaming DataFrame or Series.

    ``sdf.plot(kind='line', x=None, y=None, backlog=1000, rate=10, **options)`` or
    ``sdf.plot.line(...)``; ``options`` go to hvplot. Returns a holoviews ``DynamicMap``
    that a notebook displays and a bokeh or panel server serves.

    Examples
    --------
    >>> import pandas as pd
    >>> from streams.dataframe import DataFrame
    >>> sdf = DataFrame(example=pd.DataFrame({"x": [0.0], "y": [0.0]}))
    >>> type(sdf.plot.scatter(x="x", y="y", backlog=100)).__name__
    'DynamicMap'
    """

    def __init__(self, frame: Frame) -> None:
        self._frame = frame

    def __call__(
        self,
        kind: str = "line",
        x: Any = None,
        y: Any = None,
        backlog: int = 1000,
        rate: float = 10.0,
        **options: Any,
    ) -> Any:
        return live_plot(self._frame, kind, x, y, backlog, rate, options)

    def line(self, x: Any = None, y: Any = None, **options: Any) -> Any:
        """A line per column (or ``y``), the last ``backlog`` rows."""
        return self("line", x, y, **options)

    def scatter(self, x: Any = None, y: Any = None, **options: Any) -> Any:
        """A scatter plot of the last ``backlog`` rows."""
        return self("scatter", x, y, **options)

    def bar(self, x: Any = None, y: Any = None, **options: Any) -> Any:
        """Bars of the last ``backlog`` rows."""
        return self("bar", x, y, **options)

    def area(self, x: Any = None, y: Any = None, **options: Any) -> Any:
        """An area plot of the last ``backlog`` rows."""
        return self("area", x, y, **options)

    def hist(self, y: Any = None, **options: Any) -> Any:
        """A histogram of the last ``backlog`` rows."""
        return self("hist", None, y, **options)

    def table(self, **options: Any) -> Any:
        """The last ``backlog`` rows as a table."""
        return self("table", **options)


class LiveFeed:
    """Sends a frame's chunks to a holoviews ``Buffer``, at most ``rate`` times a second.

    A chunk arriving sooner than ``1 / rate`` after the last send waits with the others;
    they are sent together when the interval is over (on the running event loop's
    clock), or at :meth:`flush`. The feed stops when its plot is garbage-collected or
    the stream destroyed.
    """

    def __init__(self, frame: Frame, buffer: Any, backlog: int, rate: float) -> None:
        if not rate > 0:
            raise ValueError(
                f"plot: rate must be a positive number of updates a second, not {rate!r}"
            )
        self.interval = 1.0 / rate
        self.backlog = backlog
        self.sends = 0
        self._buffer = weakref.ref(buffer)
        self._series = not isinstance(frame.example, pd.DataFrame)
        # an updating frame (a running result) replaces what the plot shows
        self.replaces = frame._stream_type == "updating"
        self._pending: list[Any] = []
        self._last = -float("inf")
        self._timer: asyncio.TimerHandle | None = None
        self.sink = frame.stream.sink(self._receive, stream_name="live plot")

    @property
    def buffer(self) -> Any:
        """The holoviews ``Buffer`` (``None`` once the plot is gone)."""
        return self._buffer()

    def _receive(self, chunk: Any) -> None:
        if self._buffer() is None:  # the plot is gone: let go of the graph
            for up in list(self.sink.upstreams):
                up.disconnect(self.sink)
            return
        self._pending.append(chunk)
        loop = _running_loop()
        now = loop.time() if loop is not None else time.monotonic()
        if now - self._last >= self.interval:
            self.flush(now)
        elif loop is not None and self._timer is None:
            self._timer = loop.call_at(self._last + self.interval, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.flush()

    def flush(self, now: float | None = None) -> None:
        """Send the chunks waiting for the throttle now."""
        buffer = self._buffer()
        pending, self._pending = self._pending, []
        if buffer is None or not pending:
            return
        if self.replaces:
            rows = pending[-1]
        else:
            rows = pending[0] if len(pending) == 1 else pd.concat(pending)
        if len(rows) > self.backlog:
            rows = rows.iloc[len(rows) - self.backlog :]
        if self._series:
            rows = rows.to_frame()
        if now is None:
            loop = _running_loop()
            now = loop.time() if loop is not None else time.monotonic()
        self._last = now
        self.sends += 1
        buffer.send(rows)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def live_plot(
    frame: Frame, kind: str, x: Any, y: Any, backlog: int, rate: float, options: dict[str, Any]
) -> Any:
    """The ``DynamicMap`` behind ``frame.plot(...)`` (see :class:`Plotter`)."""
    try:
        import holoviews as hv
        import hvplot.pandas  # noqa: F401  (registers DataFrame.hvplot)
        from holoviews.streams import Buffer, Pipe
    except ImportError as exc:
        raise ImportError(
            "live plots need holoviews, bokeh and hvplot: pip install 'streams[plot]'"
        ) from exc
    if not isinstance(backlog, int) or isinstance(backlog, bool) or backlog < 1:
        raise ValueError(f"plot: backlog must be a positive number of rows, not {backlog!r}")
    example = frame.example
    if not isinstance(example, pd.DataFrame):
        example = example.to_frame()
    if frame._stream_type == "updating":  # each result replaces the last: a Pipe
        buffer = Pipe(data=example.iloc[:0])
    else:
        buffer = Buffer(example.iloc[:0], length=backlog, index=True)
    keywords = dict(options)
    if x is not None:
        keywords["x"] = x
    if y is not None:
        keywords["y"] = y

    def draw(data: Any) -> Any:
        return data.hvplot(kind=kind, **keywords)

    plot = hv.DynamicMap(draw, streams=[buffer])
    feed = LiveFeed(frame, buffer, backlog, rate)
    _FEEDS[plot] = feed  # the feed lives as long as the plot
    return plot


_FEEDS: weakref.WeakKeyDictionary[Any, LiveFeed] = weakref.WeakKeyDictionary()


def live_feed(plot: Any) -> LiveFeed:
    """The :class:`LiveFeed` of a plot made by ``sdf.plot`` (to :meth:`~LiveFeed.flush`
    it, or look at its buffer).

    Examples
    --------
    >>> import pandas as pd
    >>> from streams.dataframe import DataFrame
    >>> sdf = DataFrame(example=pd.DataFrame({"x": [0.0]}))
    >>> live_feed(sdf.plot.line(backlog=10)).backlog
    10
    """
    return _FEEDS[plot]
