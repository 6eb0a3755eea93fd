"""A source that emits the items of an iterable."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, TypeVar

from ..protocol import wait
from .base import Source

__all__ = ["FromIterable"]

T = TypeVar("T")

YIELD_EVERY = 256
"""Elements pushed synchronously before the source lets the loop run other work."""


class FromIterable(Source[T]):
    """Node behind :meth:`Stream.from_iterable`: emit every item, waiting for back
    pressure; done after the last one."""

    _label = "from_iterable"

    def __init__(self, iterable: Iterable[T], **options: Any) -> None:
        self.iterable = iterable
        self._position = 0  # items handled (durable state: where a restore goes on)
        self._restored: int | None = None  # a checkpoint's position, to skip to
        super().__init__(**options)

    async def run(self) -> None:
        items = iter(self.iterable)
        if self._restored is not None:  # a restored checkpoint: these are done already
            self._position, self._restored = self._restored, None
            for _ in range(self._position):
                next(items, None)
        pushed = 0
        while not self.stopped:  # checked before taking an item: a stop loses none
            cut = self._cut_wait()
            if cut is not None:
                await cut
                continue  # (stopped meanwhile?)
            try:
                x = next(items)
            except StopIteration:
                break
            pushed += 1
            self.current_value = x
            try:
                r = self._push(x, self, ())
                if r is not None:
                    await wait(r)
            except Exception as exc:  # this element failed downstream; go on
                await self._recover(exc, x, ())
            self._position += 1
            due = self._element_done()
            if due is not None:
                await due
            if pushed % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let timers and other tasks run
