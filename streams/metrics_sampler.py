"""Where the time goes: a sampling profiler attributing time to graph nodes.

While any graph has metrics on, a daemon thread looks at every thread's stack about a
thousand times a second (in practice as often as the interpreter lets it take the GIL,
every few milliseconds while a graph keeps it busy). The innermost frame that belongs to
a measured node (its compiled push, or its ``update``) is where that thread was working,
and the wall time since the previous look is added to that node's ``busy_ns``. The
elements themselves pay nothing for it; the figures are statistical, good on streams
that run for a second or more.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import Stream

__all__ = ["INTERVAL", "unwatch", "watch"]

INTERVAL = 0.001  # seconds between looks (the GIL may make it longer)

_lock = threading.Lock()
_codes: dict[CodeType, int] = {}  # code objects of measured entries -> nodes using them
_nodes: weakref.WeakSet[Any] = weakref.WeakSet()
_thread: threading.Thread | None = None


def watch(node: Stream[Any], *codes: CodeType) -> None:
    """Start attributing time to ``node``, whose pushes run the given code objects."""
    global _thread
    with _lock:
        _nodes.add(node)
        for code in codes:
            _codes[code] = _codes.get(code, 0) + 1
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="streams-metrics", daemon=True)
            _thread.start()


def unwatch(node: Stream[Any], *codes: CodeType) -> None:
    """Stop attributing time to ``node`` (the thread ends when no node is left)."""
    with _lock:
        _nodes.discard(node)
        for code in codes:
            left = _codes.get(code, 0) - 1
            if left > 0:
                _codes[code] = left
            else:
                _codes.pop(code, None)


def _run() -> None:
    me = threading.get_ident()
    last = time.perf_counter_ns()
    while True:
        time.sleep(INTERVAL)
        with _lock:
            if not _nodes:
                global _thread
                _thread = None
                return
            codes = dict(_codes)
        now = time.perf_counter_ns()
        elapsed, last = now - last, now
        for ident, frame in sys._current_frames().items():
            if ident != me:
                _attribute(frame, codes, elapsed)


def _attribute(frame: FrameType | None, codes: dict[CodeType, int], elapsed: int) -> None:
    while frame is not None:
        if frame.f_code in codes:
            local = frame.f_locals  # a snapshot; the node is `node` (a closure) or `self`
            node = local.get("node", local.get("self"))
            metrics = getattr(node, "_metrics", None)
            if metrics is not None:
                metrics.busy_ns += elapsed
                return
        frame = frame.f_back
