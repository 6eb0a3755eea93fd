"""Periodic DataFrame sources: :class:`PeriodicDataFrame` and the demo :class:`Random`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..core import Stream
from .core import DataFrame

__all__ = ["PeriodicDataFrame", "Random", "random_datapoint"]


def random_datapoint(now: pd.Timestamp, **kwargs: Any) -> pd.DataFrame:
    """One row of random data at ``now``: ``x`` uniform in [0, 1), ``y`` a Poisson
    count, ``z`` standard normal."""
    return _random_rows(pd.DatetimeIndex([now]))


def random_datablock(
    last: pd.Timestamp, now: pd.Timestamp, freq: str = "100ms", **kwargs: Any
) -> pd.DataFrame:
    """Random rows (as :func:`random_datapoint`) every ``freq`` in ``(last, now]``."""
    index = pd.date_range(last, now, freq=freq, inclusive="right")
    return _random_rows(index)


def _random_rows(index: pd.DatetimeIndex) -> pd.DataFrame:
    rng = np.random.default_rng()
    n = len(index)
    return pd.DataFrame(
        {"x": rng.random(n), "y": rng.poisson(size=n), "z": rng.normal(size=n)}, index=index
    )


class PeriodicDataFrame(DataFrame):
    """A DataFrame stream made by calling ``datafn(last=, now=, **kwargs)`` every
    ``interval`` (wall-clock timestamps of the previous and this call).

    Parameters
    ----------
    datafn : callable, optional
        Returns the chunk for the interval (default: :func:`random_datapoint`).
    interval : str or float, optional
        Time between calls (``'500ms'`` or seconds).
    start : bool, optional
        Start at once (default); otherwise call :meth:`start`.

    Examples
    --------
    >>> import asyncio
    >>> import pandas as pd
    >>> from streams.dataframe import PeriodicDataFrame
    >>> from streams.testing import run_virtual
    >>> def ones(last, now, **kwargs):
    ...     return pd.DataFrame({"x": [1]}, index=[now])
    >>> async def main():
    ...     sdf = PeriodicDataFrame(ones, interval="100ms", start=False)
    ...     total = sdf.x.sum().stream.sink_to_list()
    ...     sdf.start()
    ...     await asyncio.sleep(0.35)
    ...     sdf.stop()
    ...     return [int(n) for n in total]
    >>> run_virtual(main())  # chunks at 0.1, 0.2 and 0.3 s
    [1, 2, 3]
    """

    def __init__(
        self,
        datafn: Callable[..., pd.DataFrame] = random_datapoint,
        interval: str | float = "500ms",
        dask: bool = False,
        start: bool = True,
        **kwargs: Any,
    ) -> None:
        if dask:
            raise NotImplementedError("PeriodicDataFrame: use .stream.scatter() for Dask")
        seconds = (
            pd.Timedelta(interval).total_seconds()
            if isinstance(interval, str)
            else float(interval)
        )
        self.interval = seconds
        self.datafn = datafn
        self.kwargs = kwargs
        self._last = pd.Timestamp.now()
        self._started = False
        example = datafn(last=self._last, now=self._last, **kwargs).iloc[:0]
        source = Stream.from_periodic(self._tick, poll_interval=seconds)
        super().__init__(source, example)
        self._source = source
        if start:
            source.start()

    def _tick(self) -> pd.DataFrame | None:
        now = pd.Timestamp.now()
        last, self._last = self._last, now
        if not self._started:  # the call at start() only marks the time: the first
            self._started = True  # chunk covers one whole interval
            return None
        return self.datafn(last=last, now=now, **self.kwargs)

    def start(self) -> None:
        self._started = False
        self._source.start()

    def stop(self) -> None:
        self._source.stop()


class Random(PeriodicDataFrame):
    """A demo source of random data: rows every ``freq``, emitted every ``interval``,
    columns ``x`` (uniform), ``y`` (Poisson count) and ``z`` (normal) on a
    DatetimeIndex.

    Examples
    --------
    >>> from streams.dataframe import Random
    >>> sdf = Random(freq="10ms", interval="100ms", start=False)
    >>> list(sdf.columns)
    ['x', 'y', 'z']
    """

    def __init__(
        self,
        freq: str = "100ms",
        interval: str | float = "500ms",
        dask: bool = False,
        start: bool = True,
        datafn: Callable[..., pd.DataFrame] = random_datablock,
    ) -> None:
        super().__init__(datafn, interval, dask, start, freq=freq)
