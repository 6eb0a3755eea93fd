"""Jupyter display of a stream: a live view of its latest element.

Displaying a node in a notebook (the last expression of a cell, or
``IPython.display.display(node)``) shows an ``ipywidgets.Output`` that keeps showing
the node's latest element after the cell has finished, rendered the way Jupyter renders
that element (a DataFrame as a table, an image as an image). Without ``ipywidgets`` the
node is shown as text. :meth:`DisplayMethods.live` makes such a view explicitly, with
its own update rate.

Updates are throttled: at most ``rate`` per second (:data:`options`, 10 by default).
An element arriving sooner after the previous update is only kept (no formatting); a
timer on the graph's loop (in a notebook, the kernel's) then shows the latest one, so
the final element is always shown, at most ``1 / rate`` seconds late. Time is read
from that loop, so the throttle runs on a virtual clock in tests.

A view stops when its node is destroyed (:meth:`~streams.Stream.destroy`), when
:meth:`LiveOutput.stop` is called, or once its widget was closed and
garbage-collected; its sink then lets go of the graph.
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .loop import background_loop, running_loop

if TYPE_CHECKING:
    from .core import Stream
    from .protocol import Metadata

__all__ = ["DisplayMethods", "DisplayOptions", "LiveOutput", "options"]


def _check_rate(rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
        raise ValueError(
            f"display: the rate must be a positive number of updates per second (math.inf "
            f"for every element), got {rate!r}"
        )
    return float(rate)


class DisplayOptions:
    """Settings of the live display of streams in notebooks; :data:`options` holds the
    ones in force.

    Parameters
    ----------
    max_updates_per_second : float, optional
        How often a live view may update at most (default 10); ``math.inf`` shows every
        element. Views made without a rate of their own follow changes at once.

    Examples
    --------
    >>> from streams.display import options
    >>> options.max_updates_per_second
    10.0
    >>> options.max_updates_per_second = 2  # every view: at most 2 updates a second
    >>> options.max_updates_per_second = 10
    """

    __slots__ = ("_rate",)

    def __init__(self, max_updates_per_second: float = 10.0) -> None:
        self._rate = _check_rate(max_updates_per_second)

    @property
    def max_updates_per_second(self) -> float:
        """How often a live view may update at most (updates per second)."""
        return self._rate

    @max_updates_per_second.setter
    def max_updates_per_second(self, rate: float) -> None:
        self._rate = _check_rate(rate)

    def __repr__(self) -> str:
        return f"DisplayOptions(max_updates_per_second={self._rate:g})"


options = DisplayOptions()
"""The display settings in force (see :class:`DisplayOptions`)."""


class DisplayMethods:
    """The :class:`~streams.Stream` methods that show a node in a notebook."""

    def live(self, rate: float | None = None) -> LiveOutput:
        """Return a live view of this node's latest element, for a notebook.

        The view is an ``ipywidgets.Output`` (``.output``) that shows each element as
        Jupyter renders it (a DataFrame as a table), replacing the previous one. It
        updates at most ``rate`` times a second; the latest element is always shown in
        the end. Displaying a node does the same with the default rate; ``live`` is for
        a rate of its own, or for putting the widget in a layout.

        Parameters
        ----------
        rate : float, optional
            Most updates per second (``math.inf``: every element). By default
            ``streams.display.options.max_updates_per_second`` (10), read at each update.

        Returns
        -------
        LiveOutput
            The view: display it (last expression of a cell), or place ``view.output``
            in a layout. ``view.stop()`` ends the updates.

        Raises
        ------
        ImportError
            If ``ipywidgets`` is not installed.

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> view = source.map(lambda x: 2 * x).live(rate=5)
        >>> source.emit(21)
        >>> view.shown["text/plain"]
        '42'
        >>> view.stop()

        See Also
        --------
        streams.display.options
        """
        try:
            import ipywidgets  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ImportError(
                f"live(): showing a stream live needs ipywidgets (pip install ipywidgets): {exc}"
            ) from exc
        node: Stream[Any] = self  # type: ignore[assignment]
        return LiveOutput(node, ipywidgets.Output(), rate)

    def _ipython_display_(self, **kwargs: Any) -> None:
        """Show a live view of this node (called by Jupyter); text without ipywidgets."""
        from IPython.display import display

        try:
            view = self.live()
        except ImportError:  # no widgets: the node as text
            display(_Text(repr(self)))  # type: ignore[no-untyped-call]
            return
        view._ipython_display_()


class LiveOutput:
    """A live view of a node: an ``ipywidgets.Output`` that a sink on the node keeps
    showing the latest element in, at most ``rate`` times a second.

    Made by :meth:`~streams.Stream.live` (and when a node is displayed). The view holds
    its widget weakly: once the widget was closed and garbage-collected, the view stops.

    Parameters
    ----------
    node : Stream
        The node to follow.
    output : ipywidgets.Output
        The widget to show elements in.
    rate : float, optional
        Most updates per second; by default ``options.max_updates_per_second``.

    Examples
    --------
    >>> import ipywidgets
    >>> from streams import Stream
    >>> from streams.display import LiveOutput
    >>> source = Stream()
    >>> view = LiveOutput(source, ipywidgets.Output(), rate=1)
    >>> source.emit("hello")
    >>> view.shown
    {'text/plain': "'hello'"}
    >>> view.stop()
    >>> source.downstreams
    ()
    """

    def __init__(self, node: Stream[Any], output: Any, rate: float | None = None) -> None:
        self._rate = None if rate is None else _check_rate(rate)
        self._output = weakref.ref(output)
        # the loop for timers when the graph has none: the one running here (a kernel's)
        self._home = running_loop()
        self._lock = threading.RLock()  # one update at a time (timer, emitting threads)
        self._latest: Any = None
        self._pending = False  # an update is scheduled, or the view stopped: only keep
        self._stopped = False
        self._next_at = -math.inf  # the loop time from which the next update may run
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self.updates = 0
        """How many times the view was updated."""
        self._name = str(node)
        self.sink: Stream[Any] = _sink_class()(node, self)
        """The node feeding the view (``destroy()`` it to stop the view too)."""
        if node.current_value is not None:  # something to show already
            self._receive(node.current_value)

    @property
    def output(self) -> Any:
        """The ``ipywidgets.Output`` showing the elements (``None`` once collected)."""
        return self._output()

    @property
    def rate(self) -> float:
        """Most updates per second (the view's own rate, or the one of :data:`options`)."""
        return options.max_updates_per_second if self._rate is None else self._rate

    @property
    def shown(self) -> dict[str, Any] | None:
        """The MIME bundle the view shows (``{'text/html': ..., 'text/plain': ...}``), or
        ``None`` before the first update."""
        output = self._output()
        if output is None or not output.outputs:
            return None
        return dict(output.outputs[-1]["data"])

    @property
    def stopped(self) -> bool:
        """Whether the view stopped following its node."""
        return self._stopped

    def show(self, x: Any) -> None:
        """Show ``x`` now, rendered as Jupyter renders it (no throttling)."""
        output = self._output()
        if output is None:
            return
        data, metadata = _formats(x)
        output.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)
        self.updates += 1

    def stop(self) -> None:
        """Stop updating: detach the view's sink from the graph, drop a pending update."""
        with self._lock:
            self._halt()

    def _ipython_display_(self, **kwargs: Any) -> None:
        from IPython.display import display

        output = self._output()
        display(_Text(repr(self)) if output is None else output)  # type: ignore[no-untyped-call]

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else f"at most {self.rate:g} updates/s"
        return f"<live view of {self._name}: {state}>"

    # ------------------------------------------------------------------ throttling

    def _receive(self, x: Any) -> None:
        """An element arrived (the sink's ``update``): keep it; update unless too soon."""
        self._latest = x
        if not self._pending:  # else a timer shows the latest soon (or the view stopped)
            self._arrive()

    def _arrive(self) -> None:
        """Update now, or schedule the update if the last one was too recent."""
        with self._lock:
            if self._pending:  # another thread scheduled it meanwhile
                return
            if self._output() is None:  # the widget is gone
                self._halt()
                return
            loop = self._loop()
            now = time.monotonic() if loop is None else loop.time()
            if now >= self._next_at:
                self._update(now)
            else:  # too soon: show the latest once the interval is over
                self._pending = True
                self._schedule(loop, self._next_at)

    def _flush(self) -> None:
        """The timer: show the latest element (called on the timer's loop)."""
        with self._lock:
            self._timer = None
            if self._stopped:
                return
            if self._output() is None:
                self._halt()
                return
            self._pending = False  # from here on an element arriving schedules again
            loop = self._timer_loop
            self._update(time.monotonic() if loop is None else loop.time())

    def _update(self, now: float) -> None:
        self._next_at = now + 1.0 / self.rate
        self.show(self._latest)

    def _loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop timing the view: the graph's, or the one running where the view was
        made; ``None`` when neither runs (then the background loop keeps the time)."""
        loop = self.sink._runtime.loop or self._home
        if loop is None or loop.is_closed() or not loop.is_running():
            return None
        return loop

    def _schedule(self, loop: asyncio.AbstractEventLoop | None, when: float) -> None:
        """Call :meth:`_flush` at ``when`` (time of ``loop``, or ``time.monotonic()``,
        the clock of asyncio's loops, for the background loop)."""
        if loop is None:
            loop = background_loop()
        self._timer_loop = loop
        if running_loop() is loop:
            self._timer = loop.call_at(when, self._flush)
        else:
            loop.call_soon_threadsafe(self._schedule_here, loop, when)

    def _schedule_here(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        with self._lock:
            if not self._stopped:
                self._timer = loop.call_at(when, self._flush)

    def _halt(self) -> None:
        """Stop the view (holding the lock): no more updates, no pending timer, and the
        sink taken off the graph."""
        self._stopped = self._pending = True
        self._latest = None
        timer, self._timer = self._timer, None
        if timer is not None:
            loop = self._timer_loop
            if running_loop() is loop:
                timer.cancel()
            elif loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(timer.cancel)
        for up in list(self.sink.upstreams):
            up.disconnect(self.sink)

    def _retired(self) -> None:
        """The sink was retired (its graph destroyed): show what is pending, then stop."""
        with self._lock:
            if self._pending and not self._stopped and self._output() is not None:
                self.show(self._latest)
            self._halt()


@functools.cache
def _sink_class() -> Callable[[Stream[Any], LiveOutput], Stream[Any]]:
    """The node class feeding a :class:`LiveOutput`, made on first use: it derives from
    :class:`~streams.Sink`, whose module imports the core, which imports this module."""
    from .sinks.base import Sink

    class LiveSink(Sink[Any]):
        """Hands each element to its view; retiring it (``destroy``) stops the view."""

        def __init__(self, upstream: Stream[Any], view: LiveOutput) -> None:
            self.view = view
            super().__init__(upstream, stream_name=f"display of {upstream._describe()}")

        def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> None:
            self.view._receive(x)

        def _compiled(self) -> Any:
            # what update does, without two method calls per element (the view's fast
            # path: keep the element; only the first one of an interval goes further)
            view = self.view

            def update(x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> None:
                view._latest = x
                if not view._pending:
                    view._arrive()

            return update

        def _close(self) -> None:
            self.view._retired()

    return LiveSink


class _Text:
    """Text shown as is, in a notebook as outside one."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _formats(x: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The MIME bundle of ``x``: the notebook's formatters, or plain text outside one."""
    from IPython.core.getipython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call]
    if shell is None:
        return {"text/plain": repr(x)}, {}
    data, metadata = shell.display_formatter.format(x)
    return dict(data), dict(metadata)
