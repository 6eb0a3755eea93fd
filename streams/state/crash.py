"""Crash hooks for recovery tests (test-only): ``STREAMS_CRASH_AT="<point>:<n>"`` makes the
process kill itself (``SIGKILL``) at the ``n``-th time it reaches ``point``.

Points: ``cut_taken``, ``before_commit`` (every row written inside the transaction, the
COMMIT not run), ``after_commit``, ``after_sink_commit``, ``restore_loaded``. Checkpoint 0
(the one a fresh start commits) does not count. Never set it in production: the process
dies on purpose.
"""

from __future__ import annotations

import os
import signal

__all__ = ["POINTS", "crash_point"]

POINTS = ("cut_taken", "before_commit", "after_commit", "after_sink_commit", "restore_loaded")

_seen: dict[str, int] = {}


def crash_point(point: str) -> None:
    """Count one occurrence of ``point``; kill the process if it is the one asked for."""
    wanted = os.environ.get("STREAMS_CRASH_AT")
    if not wanted:
        return
    name, _, count = wanted.partition(":")
    if name not in POINTS:
        raise ValueError(f"STREAMS_CRASH_AT: unknown point {name!r} (one of {', '.join(POINTS)})")
    if name != point:
        return
    _seen[point] = _seen.get(point, 0) + 1
    if _seen[point] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
