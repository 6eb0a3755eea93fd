"""How each kind of node is checkpointed: an adapter per node class.

An adapter reads a node's state at the cut (``snapshot``, returning
:class:`~streams.state.Full` or :class:`~streams.state.Keyed`), puts it back before the
sources start (``restore``) and may make it durable before the commit
(``before_commit``). A source's "state" is its position: the next element to emit.
Nodes that hold state no adapter covers yet are refused by name (``unsupported``), never
silently checkpointed without it.
"""

from __future__ import annotations

import os
from typing import Any

from ..core import Stream
from .store import Full, Keyed

__all__ = ["Adapter", "adapter_of", "register"]


class Adapter:
    """How one kind of node is checkpointed (the default: it holds nothing)."""

    unsupported: str | None = None  # why this stateful kind cannot be checkpointed yet

    def snapshot(self, node: Any) -> Any:
        raise NotImplementedError

    def restore(self, node: Any, value: Any) -> None:
        raise NotImplementedError

    def before_commit(self, node: Any) -> None:
        """Make what the node wrote durable before the checkpoint commits."""


_ADAPTERS: dict[str, Adapter] = {}  # "module.Class" -> adapter (classes imported lazily)


def register(qualified: str) -> Any:
    """Class decorator: the adapter of the node class named ``qualified``."""

    def decorate(cls: type[Adapter]) -> type[Adapter]:
        _ADAPTERS[qualified] = cls()
        return cls

    return decorate


def adapter_of(node: Stream[Any]) -> Adapter | None:
    """The adapter of ``node``'s class (or of a base class); ``None``: stateless."""
    for cls in type(node).__mro__:
        adapter = _ADAPTERS.get(f"{cls.__module__}.{cls.__qualname__}")
        if adapter is not None:
            if isinstance(adapter, _WhenDurable) and not getattr(node, "durable", False):
                return None
            return adapter
    return None


# ------------------------------------------------------------------ stateful nodes


@register("streams.operators.aggregate.Accumulate")
class _Accumulate(Adapter):
    def snapshot(self, node: Any) -> Any:
        return Full(node.state)

    def restore(self, node: Any, value: Any) -> None:
        node.state = value


@register("streams.operators.aggregate.KeyedAccumulate")
class _KeyedAccumulate(Adapter):
    """One row per key; a checkpoint writes the keys changed since the last one."""

    def snapshot(self, node: Any) -> Any:
        dirty, node.dirty = node.dirty, set()
        return Keyed({k: node.state[k] for k in dirty})

    def restore(self, node: Any, value: Any) -> None:
        node.state = dict(value)
        node.dirty = set()


class _WhenDurable(Adapter):
    """An adapter for nodes that are stateful only with ``durable=True``."""


@register("streams.sinks.basic.TextFileSink")
class _TextFile(_WhenDurable):
    """``sink_to_textfile(..., durable=True)``: the file's size at the cut; a restore
    truncates the file to it, so what was written after the cut is written once again,
    not twice."""

    def snapshot(self, node: Any) -> Any:
        node.file.flush()
        return Full(node.file.tell())

    def before_commit(self, node: Any) -> None:
        os.fsync(node.file.fileno())

    def restore(self, node: Any, value: Any) -> None:
        node.file.flush()
        os.ftruncate(node.file.fileno(), value)
        node.file.seek(0, os.SEEK_END)


@register("streams.state.sinks.SQLiteSink")
class _SQLiteSink(Adapter):
    """Its rows since the last checkpoint go into the checkpoint's transaction (see
    ``table_rows``); it holds nothing else."""

    def snapshot(self, node: Any) -> Any:
        return Full(None)

    def restore(self, node: Any, value: Any) -> None:
        node.take()  # rows after the checkpoint come again with the replay

    def table_rows(self, node: Any) -> Any:
        from .store import Table

        return Table(*node.take())


# ------------------------------------------------------------------ sources


@register("streams.sources.iterable.FromIterable")
class _FromIterable(Adapter):
    """The number of items emitted; a restore skips them (deterministic iterables)."""

    def snapshot(self, node: Any) -> Any:
        return node._position

    def restore(self, node: Any, value: Any) -> None:
        node._restored = value


@register("streams.sources.files.FromTextFile")
class _FromTextFile(Adapter):
    """The byte offset after the last emitted line (and the line number); a restore
    reopens the file there."""

    def snapshot(self, node: Any) -> Any:
        return (node._done_offset, node._done_line)

    def restore(self, node: Any, value: Any) -> None:
        node._seek(*value)


# ------------------------------------------------------------------ not yet


def _not_yet(kind: str) -> None:
    class _NotYet(Adapter):
        unsupported = (
            f"the state of {kind} cannot be checkpointed yet; durable mode supports "
            "accumulate, from_iterable, from_textfile and sink_to_textfile(durable=True) "
            "so far"
        )

    _ADAPTERS[kind] = _NotYet()


for _kind in (
    "streams.operators.aggregate.Partition",
    "streams.operators.aggregate.PartitionUnique",
    "streams.operators.aggregate.SlidingWindow",
    "streams.operators.aggregate.Collect",
    "streams.operators.aggregate.Frequencies",
    "streams.operators.combine.Zip",
    "streams.operators.combine.CombineLatest",
    "streams.operators.combine.ZipLatest",
    "streams.operators.select.Slice",
    "streams.operators.select.Unique",
    "streams.operators.time.Buffer",
    "streams.operators.time.Latest",
    "streams.operators.time.Delay",
    "streams.operators.time.RateLimit",
    "streams.operators.time.TimedWindow",
    "streams.operators.time.TimedWindowUnique",
    "streams.operators.transform.MapAsync",
    "streams.dask.Scatter",
    "streams.dask.Gather",
    "streams.windows.node.EventWindow",
    "streams.dataframe.event_time.FrameWindows",
):
    _not_yet(_kind)
