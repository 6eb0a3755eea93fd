"""``emit`` compiled for one node of a graph without a loop (the hot path of a script).

:meth:`Stream.emit` reads the node's graph state (its loop, its turn, its push, whether
it is asynchronous) from attributes on every call. For a node of a graph without a loop,
:func:`compile_emit` builds a closure doing exactly what ``emit`` does with that state
bound in, and the node keeps it as its ``emit`` attribute, which shadows the method.
Whenever the state changes (the graph gets a loop, graphs merge, the node's downstreams
change) the node calls :func:`compile_emit` again (``Stream._refresh_emit``). A graph
with a loop, or a subclass with its own ``emit``, uses the method.

The closure holds the turn in a local named ``held`` like ``Stream.emit``, so that
:meth:`streams.turns.Turn.held_here` recognises its frames (see :func:`emit_code`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from types import CodeType
from typing import TYPE_CHECKING, Any

from .protocol import DONE, DONE_CACHE, Metadata, done_on, release_after
from .refs import retain_refs

if TYPE_CHECKING:
    from .core import Stream
    from .turns import Turn

__all__ = ["compile_emit", "emit_code"]

_get_running_loop = asyncio._get_running_loop

Emit = Callable[..., Any]


def compile_emit(node: Stream[Any]) -> Emit:
    """``node.emit`` for a graph without a loop, with the node's state bound in."""
    push, free, node_async = node._push, node._turn_free, node.asynchronous

    def emit(x: Any, asynchronous: bool = False, metadata: Metadata | None = None) -> Any:
        held: Turn | None
        try:
            held = free.pop()
        except IndexError:  # another thread pushes, or this one further up its stack
            return node._enter(functools.partial(node._push_in, x, metadata), asynchronous)
        try:
            node.current_value = x
            if metadata:
                retain_refs(metadata)  # a push that raises leaves them retained
                r = release_after(push(x, node, metadata), metadata)
            else:
                r = push(x, node, ())
        finally:  # given back before waiting for pending work
            free.append(held)
            if held.waiting:
                held.wake()
            held = None
        if r is None:
            loop = _get_running_loop()
            if loop is None:
                return DONE if asynchronous or node_async else None
            # inside a loop: something to await, so `await source.emit(x)` works
            return DONE_CACHE[1] if DONE_CACHE[0] is loop else done_on(loop)
        return node._settle(r, asynchronous or bool(node_async))

    emit.__doc__ = type(node).emit.__doc__
    return emit


def emit_code() -> CodeType:
    """The code object of every emit :func:`compile_emit` makes."""
    for const in compile_emit.__code__.co_consts:
        if isinstance(const, CodeType) and const.co_name == "emit":
            return const
    raise AssertionError("compile_emit defines no emit")  # pragma: no cover
