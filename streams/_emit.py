"""``emit`` compiled for a node that heads a graph (the hot path of a script).

:meth:`Stream.emit` reads the graph's state (its loop, its turn, the node's push,
whether it is asynchronous) from attributes on every call. A node built without
upstreams, where elements usually enter, gets instead a closure doing exactly what
``emit`` does with that state held in its free variables, kept as the node's ``emit``
attribute (it shadows the method). The closure never goes stale, even held by a
caller that took ``source.emit`` before the graph was built: whenever the state
changes (the node's downstreams, graphs merging, the graph getting a loop), the node
updates those variables in place (:func:`refresh_emit`). Once the graph has a loop the
closure hands every call to the method.

The closure holds the turn in a local named ``held`` like ``Stream.emit``, so that
:meth:`streams.turns.Turn.held_here` recognises its frames (see :func:`emit_code`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from types import CellType, CodeType
from typing import TYPE_CHECKING, Any

from .protocol import DONE, DONE_CACHE, Metadata, Push, done_on, drop, release_after
from .refs import retain_refs

if TYPE_CHECKING:
    from .core import Stream
    from .turns import Turn

__all__ = ["compile_emit", "emit_code", "refresh_emit"]

_get_running_loop = asyncio._get_running_loop

Emit = Callable[..., Any]


def compile_emit(node: Stream[Any]) -> tuple[Emit, dict[str, CellType]]:
    """``node.emit`` compiled, and the cells of the state it reads (for
    :func:`refresh_emit`)."""
    method = type(node).emit
    # the graph state, set by refresh_emit (below and whenever it changes)
    push: Push = drop
    free: list[Turn] = []
    node_async: bool | None = None
    home: Any = None

    def emit(x: Any, asynchronous: bool = False, metadata: Metadata | None = None) -> Any:
        if home is not None:  # the graph has a loop: the method hands x over to it
            return method(node, x, asynchronous, metadata)
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

    emit.__doc__ = method.__doc__
    code, closure = emit.__code__, emit.__closure__
    assert closure is not None
    cells = {name: closure[code.co_freevars.index(name)] for name in _STATE}
    refresh_emit(node, cells)
    return emit, cells


_STATE = ("push", "free", "node_async", "home")


def refresh_emit(node: Stream[Any], cells: dict[str, CellType]) -> None:
    """Point a compiled emit at the node's current graph state."""
    cells["push"].cell_contents = node._push
    cells["free"].cell_contents = node._graph_turn.free if hasattr(node, "_graph_turn") else []
    cells["node_async"].cell_contents = getattr(node, "asynchronous", None)
    cells["home"].cell_contents = getattr(node, "_home", None)


def emit_code() -> CodeType:
    """The code object of every emit :func:`compile_emit` makes."""
    for const in compile_emit.__code__.co_consts:
        if isinstance(const, CodeType) and const.co_name == "emit":
            return const
    raise AssertionError("compile_emit defines no emit")  # pragma: no cover
