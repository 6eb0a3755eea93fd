"""How each kind of node is checkpointed: an adapter per node class.

An adapter reads a node's state at the cut (``snapshot``, returning
:class:`~streams.state.Full` or :class:`~streams.state.Keyed`), puts it back before the
sources start (``restore``) and may make it durable before the commit
(``before_commit``). A source's "state" is its position: the next element to emit.
Nodes that hold state no adapter covers yet are refused by name (``unsupported``, or
``why_not`` for a node whose options decide), never silently checkpointed without it.

A snapshot is read at the cut but pickled later, in a worker thread, while the sources
go on: it holds copies of the node's containers, never the containers themselves.
Elements are stored without their metadata (refs): a restored element carries none.
"""

from __future__ import annotations

import os
from collections import OrderedDict, deque
from typing import Any

from ..core import Stream
from .store import Full, Keyed

__all__ = ["Adapter", "adapter_of", "register"]


class Adapter:
    """How one kind of node is checkpointed (the default: it holds nothing)."""

    distributed = False  # its state is local values even on a distributed stream

    unsupported: str | None = None  # why this stateful kind cannot be checkpointed yet

    def why_not(self, node: Any) -> str | None:
        """Why ``node`` cannot be checkpointed (``None``: it can); by default the same for
        every node of the kind, but an option of the node may decide."""
        return self.unsupported

    def snapshot(self, node: Any) -> Any:
        raise NotImplementedError

    def restore(self, node: Any, value: Any) -> None:
        raise NotImplementedError

    def attached(self, node: Any, checkpointer: Any) -> None:
        """``checkpointer`` runs the node's graph (called before any restore)."""

    def settle(self, node: Any) -> Any:
        """What to await, with the sources waiting and nothing on its way, before the
        node's state can be read (``None``: nothing; e.g. a Dask state's fetch)."""
        return None

    def before_commit(self, node: Any) -> None:
        """Make what the node wrote durable before the checkpoint commits."""

    def committed(self, node: Any) -> Any:
        """The checkpoint holding the node's state at the cut has committed; may return
        an awaitable the checkpoint waits for (e.g. the output it releases)."""
        return None


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


# ------------------------------------------------------------------ operators


@register("streams.operators.select.Slice")
class _Slice(Adapter):
    """The number of elements seen (the position the slice counts)."""

    def snapshot(self, node: Any) -> Any:
        return Full(node._position)

    def restore(self, node: Any, value: Any) -> None:
        node._position = value
        node._detach_if_done()  # past ``end``: detached from its upstream, as it was


@register("streams.operators.select.Unique")
class _Unique(Adapter):
    """The keys seen, least recently seen first (in no order without ``maxsize``)."""

    def snapshot(self, node: Any) -> Any:
        seen = node.seen
        if isinstance(seen, list):  # hashable=False: most recent first
            return Full(seen[::-1])
        return Full(list(seen))  # a set, or an OrderedDict in LRU order

    def restore(self, node: Any, value: Any) -> None:
        keys = list(value)
        if node.maxsize is not None:
            keys = keys[-node.maxsize :]
        if isinstance(node.seen, list):
            node.seen = keys[::-1]
        elif isinstance(node.seen, OrderedDict):
            node.seen = OrderedDict.fromkeys(keys)
        else:
            node.seen = set(keys)


@register("streams.operators.aggregate.SlidingWindow")
class _SlidingWindow(Adapter):
    """The last ``n`` elements, oldest first."""

    def snapshot(self, node: Any) -> Any:
        return Full(list(node._buffer))

    def restore(self, node: Any, value: Any) -> None:
        node._buffer = deque(value, maxlen=node.n)
        held = len(node._buffer)
        # one metadata entry per element that will be in a later window: in a full
        # window the oldest is in none
        refs = held if held < node.n else node.n - 1
        node._metadata = deque([()] * refs, maxlen=node.n)


@register("streams.operators.aggregate.Frequencies")
class _Frequencies(Adapter):
    """The counts, as one dict (the node does not track which counts changed)."""

    def snapshot(self, node: Any) -> Any:
        return Full(dict(node.counts))

    def restore(self, node: Any, value: Any) -> None:
        node.counts = dict(value)


@register("streams.operators.aggregate.Collect")
class _Collect(Adapter):
    """The elements held until the next flush, in order."""

    def snapshot(self, node: Any) -> Any:
        return Full(list(node.cache))

    def restore(self, node: Any, value: Any) -> None:
        node.cache.clear()  # in place: the cache may be the caller's own
        node.cache.extend(value)
        node.metadata_cache.clear()


@register("streams.operators.aggregate.Partition")
class _Partition(Adapter):
    """The partial group of each key, in the order the groups started."""

    def why_not(self, node: Any) -> str | None:
        if node.timeout is None:
            return None
        return (
            "partition(timeout=...) cannot be checkpointed yet (its timers are not "
            "stored); without a timeout it can"
        )

    def snapshot(self, node: Any) -> Any:
        return Full({k: list(group) for k, group in node._buffers.items()})

    def restore(self, node: Any, value: Any) -> None:
        node._buffers = {k: list(group) for k, group in value.items()}
        node._metadata = {}


@register("streams.operators.aggregate.PartitionUnique")
class _PartitionUnique(Adapter):
    """The partial group, as ``(key, element)`` pairs in order."""

    def snapshot(self, node: Any) -> Any:
        return Full([(k, x) for k, (x, _) in node._buffer.items()])

    def restore(self, node: Any, value: Any) -> None:
        node._buffer = {k: (x, ()) for k, x in value}


@register("streams.operators.combine.Zip")
class _Zip(Adapter):
    """The elements waiting for a partner, per input (by position in ``upstreams``)."""

    def snapshot(self, node: Any) -> Any:
        return Full([[x for x, _ in waiting] for waiting in node.buffers])

    def restore(self, node: Any, value: Any) -> None:
        _same_inputs(node, len(value))
        node.buffers = [deque((x, ()) for x in waiting) for waiting in value]
        node._room = None


@register("streams.operators.combine.CombineLatest")
class _CombineLatest(Adapter):
    """The latest element of each input (by position in ``upstreams``) and the inputs
    that have delivered none yet."""

    def snapshot(self, node: Any) -> Any:
        return Full((list(node.last), sorted(node._missing)))

    def restore(self, node: Any, value: Any) -> None:
        last, missing = value
        _same_inputs(node, len(last))
        node.last = list(last)
        node._metadata = [()] * len(last)
        node._missing = set(missing)


@register("streams.operators.combine.ZipLatest")
class _ZipLatest(_CombineLatest):
    """As combine_latest, and the elements of the first (lossless) input waiting for
    every other input to deliver."""

    def snapshot(self, node: Any) -> Any:
        pending = [x for x, _ in node._pending]
        return Full((list(node.last), sorted(node._missing), pending))

    def restore(self, node: Any, value: Any) -> None:
        last, missing, pending = value
        super().restore(node, (last, missing))
        node._pending = deque((x, ()) for x in pending)


def _same_inputs(node: Any, stored: int) -> None:
    """Refuse state of a join with another number of inputs (they are told apart by
    position)."""
    if stored != len(node.upstreams):
        from .checkpointer import DurabilityError

        raise DurabilityError(
            f"{node._describe()}: the store holds the state of {stored} inputs, the graph "
            f"gives this node {len(node.upstreams)}; its state cannot be restored"
        )


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


@register("streams.sources.files.Filenames")
class _Filenames(Adapter):
    """The paths emitted so far; a restore emits only the others."""

    def snapshot(self, node: Any) -> Any:
        return sorted(node.seen)

    def restore(self, node: Any, value: Any) -> None:
        node.seen = set(value)


@register("streams.sources.kafka._KafkaSource")
class _Kafka(Adapter):
    """The next offset of each partition after the last element handled; a restore
    reads those partitions on from there (others: the group's committed offsets)."""

    def snapshot(self, node: Any) -> Any:
        return node._cut()

    def restore(self, node: Any, value: Any) -> None:
        node._restore(value)

    def committed(self, node: Any) -> None:
        node._checkpoint_committed()


@register("streams.sources.redis.FromRedisStream")
class _RedisStream(Adapter):
    """The last entry handled per stream; a restore reads on after it (a group's pending
    entries up to it are acknowledged, not emitted again)."""

    def snapshot(self, node: Any) -> Any:
        node._acks_at_cut()  # their XACK waits for this checkpoint's commit
        return dict(node._done)

    def restore(self, node: Any, value: Any) -> None:
        node._restore(value)

    def committed(self, node: Any) -> None:
        node._checkpoint_committed()


# buffer and map_async hold elements only while their worker runs: the cut waits until no
# worker runs (see Checkpointer._quiet_within), so they are empty at every cut and need no
# adapter. The processing-time nodes, Dask's and the DataFrame windows have their adapters
# in the modules imported below.


from . import distributed as _distributed  # noqa: E402, F401
from . import event_time as _event_time  # noqa: E402, F401  (registers its adapter)
from . import frames as _frames  # noqa: E402, F401
from . import kafka as _kafka  # noqa: E402, F401
from . import timed as _timed  # noqa: E402, F401
