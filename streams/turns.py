"""Threads taking turns at pushing into a graph that has no event loop.

A graph bound to a loop runs every element on that loop's thread: other threads hand
their elements over (see ``Stream._elsewhere``), so it needs nothing more. A graph
without a loop runs each element inline, in whichever thread calls ``emit``. Its
:class:`Turn` makes those threads take turns, so that an element goes all the way
through the graph before another thread's element enters it.

Taking the turn is paid by every ``emit``, so the uncontended case is kept to two C
calls that the GIL makes atomic: the turn is a one-item list, ``free.pop()`` takes it
and ``free.append(token)`` gives it back (a ``threading.RLock`` costs about four times
as much, which shows in the per-element benchmarks). A thread that finds the list empty
calls :meth:`Turn.take`, which tells the two reasons apart:

* this thread holds the turn already, further up its own stack (a sink emitting into
  its own graph): the push goes ahead, it is part of the element being pushed;
* another thread holds it: wait until it is given back.

A holder gives the turn back as soon as the synchronous part of its element is done,
before it waits for pending work (a coroutine sink finishing on the background loop),
so that work may itself emit into the graph from the loop's thread without deadlock.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Turn"]

R = TypeVar("R")

_HOLDERS: set[types.CodeType] = set()
"""Code objects whose frames take a turn, in a local named ``held`` (see held_here)."""


class Turn:
    """Whose turn it is to push into one graph without a loop (see the module docstring).

    The token in :attr:`free` is the turn itself. Code that takes it keeps it in a local
    variable named ``held`` until it gives it back, which is how :meth:`held_here`
    recognises a re-entrant push.
    """

    __slots__ = ("_gate", "_given_back", "free", "waiting")

    def __init__(self) -> None:
        self.free: list[Turn] = [self]
        self.waiting = False  # a thread waits in take(): whoever gives back must wake it
        self._gate = threading.Lock()  # one waiting thread at a time watches for the turn
        self._given_back: threading.Event | None = None  # made by the first wait

    def run(self, push: Callable[[], R]) -> R:
        """Call ``push`` while holding the turn and return its result."""
        free = self.free
        held: Turn | None
        try:
            held = free.pop()
        except IndexError:
            held = self.take()
        try:
            return push()
        finally:
            if held is not None:
                free.append(held)
                if self.waiting:
                    self.wake()

    def take(self) -> Turn | None:
        """Take the turn, which the fast path found taken.

        Returns ``None`` if this thread holds it already (a re-entrant push: nothing to
        give back afterwards); otherwise blocks until the holder gives it back, takes
        it and returns the token to give back.
        """
        if self.held_here():
            return None
        with self._gate:
            given_back = self._given_back
            if given_back is None:
                given_back = self._given_back = threading.Event()
            try:
                while True:
                    # Cleared, flagged, then tried: a holder gives back and then looks
                    # at the flag, so either the pop succeeds or the event gets set.
                    given_back.clear()
                    self.waiting = True
                    try:
                        return self.free.pop()
                    except IndexError:
                        given_back.wait()
            finally:
                self.waiting = False

    def wake(self) -> None:
        """The turn was given back while a thread waited for it: let it look again."""
        given_back = self._given_back
        if given_back is not None:  # made before ``waiting`` was first set
            given_back.set()

    def held_here(self) -> bool:
        """Whether a frame further up this thread's stack holds this turn."""
        if not _HOLDERS:
            from ._emit import emit_code

            _HOLDERS.add(emit_code())
            _HOLDERS.add(Turn.run.__code__)
        frame: types.FrameType | None = sys._getframe(1)
        while frame is not None:
            if frame.f_code in _HOLDERS and _held_in(frame) is self:
                return True
            frame = frame.f_back
        return False

    def __repr__(self) -> str:
        return f"<turn: {'free' if self.free else 'taken'}>"


def _held_in(frame: types.FrameType) -> Any:
    """The ``held`` local of a holder's frame (``None`` if it holds nothing now)."""
    return frame.f_locals.get("held")
