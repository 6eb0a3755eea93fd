"""A source that polls a callback at a fixed rate."""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Callable
from typing import Any, TypeVar

from .._util import annotate, funcname, parse_interval
from .base import Source

__all__ = ["FromPeriodic"]

T = TypeVar("T")


class FromPeriodic(Source[T]):
    """Node behind :meth:`Stream.from_periodic`: call ``callback`` every
    ``poll_interval`` seconds and emit what it returns (``None`` means nothing new)."""

    _label = "from_periodic"

    def __init__(
        self, callback: Callable[[], Any], poll_interval: Any = 0.1, **options: Any
    ) -> None:
        if not callable(callback):
            raise TypeError(f"from_periodic: callback must be callable, got {callback!r}")
        self.callback = callback
        self.poll_interval = parse_interval("from_periodic", poll_interval)
        super().__init__(**options)

    def _detail(self) -> str:
        return f"{funcname(self.callback)}, {self.poll_interval:g}s"

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start, k = loop.time(), 0
        while not self.stopped:
            try:
                x = self.callback()
                if inspect.isawaitable(x):
                    x = await x
            except Exception as exc:
                annotate(exc, self, None)
                self._report(exc, None, ())
            else:
                if x is not None:
                    await self._send(x)
            # the next tick not in the past (ticks missed by a slow callback are skipped)
            k = max(k + 1, math.ceil((loop.time() - start) / self.poll_interval))
            await self.sleep(start + k * self.poll_interval - loop.time())
