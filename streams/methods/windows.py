"""The method of event-time windows (the machinery is :mod:`streams.windows`)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from .._util import key_function

if TYPE_CHECKING:
    from ..windows import EventClock, WindowBuilder


class WindowMethods:
    """``window``: windows by the elements' own timestamps."""

    def window(
        self: Any,
        kind: Any,
        clock: EventClock | None = None,
        key: Hashable | Callable[[Any], Hashable] | None = None,
        allowed_lateness: Any = 0,
        emit: str = "final",
        early_count: int | None = None,
        early_interval: float | None = None,
        late_count: int = 1,
        accumulate: bool = True,
        stream_name: str | None = None,
    ) -> WindowBuilder:
        """Group elements into windows by event time, then aggregate each window.

        Parameters
        ----------
        kind : Tumbling, Hopping, Session or Sliding
            The windows (see :mod:`streams.windows`).
        clock : EventClock or ProcessingClock, optional
            Where the timestamps come from and how late an element may be;
            ``EventClock()`` by default (the ``"timestamp"`` of the metadata).
        key : callable or index, optional
            Windows per key (``x[key]`` for an index); ``None``: one set of windows.
        allowed_lateness : number or timedelta
            How long after the watermark passed a window it still takes late elements
            (each emits a ``late`` pane).
        emit : {"final", "update"}
            ``"final"``: one ``on_time`` pane when the watermark passes the window (then
            ``late`` ones); ``"update"``: a pane after every element.
        early_count : int, optional
            ``emit="final"``: also an ``early`` pane every this many elements while the
            window is open.
        early_interval : float, optional
            ``emit="final"``: also an ``early`` pane this many loop seconds after the
            first element since the window's previous pane.
        late_count : int
            A late pane every this many late elements.
        accumulate : bool
            Panes over all the window's elements (``True``) or over those since its
            previous pane.

        Returns
        -------
        WindowBuilder
            Call an aggregation on it: ``count()``, ``sum(f)``, ``mean(f)``, ``min(f)``,
            ``max(f)``, ``reduce(f)``, ``collect(f)``, ``apply(func)``,
            ``aggregate(init, add, merge, result)``. Its node emits
            :class:`~streams.windows.WindowResult`; ``node.late`` has the elements no
            window took.

        Examples
        --------
        >>> from streams import Stream
        >>> from streams.windows import EventClock, Tumbling
        >>> source = Stream()
        >>> clock = EventClock(timestamp=lambda r: r["t"], max_out_of_order=2)
        >>> windows = source.window(Tumbling(10), clock=clock, key="user", allowed_lateness=5)
        >>> sums = windows.sum(lambda r: r["n"])
        >>> out = sums.sink_to_list()
        >>> for t, n in [(1, 5), (4, 1), (12, 2), (3, 9)]:
        ...     source.emit({"t": t, "user": "ada", "n": n})
        >>> [(r.key, r.start, r.value, r.timing) for r in out]
        [('ada', 0, 6, 'on_time'), ('ada', 0, 15, 'late')]
        """
        from ..windows import WindowBuilder

        return WindowBuilder(
            self,
            kind,
            clock=clock,
            key=key_function("window", key),
            allowed_lateness=allowed_lateness,
            emit=emit,
            early_count=early_count,
            early_interval=early_interval,
            late_count=late_count,
            accumulate=accumulate,
            stream_name=stream_name,
        )
