"""Checkpoints of the Dask nodes (:mod:`streams.dask`): what each holds at a cut.

A Dask future cannot be stored: it names a result that lives only as long as its
cluster. So the state of a distributed graph is stored as local values, and a cut is
taken only once nothing it depends on is still being computed:

- ``scatter()`` passes elements on unchanged and ``gather()`` waits for each element's
  value inside the element's own push, which its emitter awaits (back pressure) or, from
  a worker (``buffer``...), a task of the graph's runtime that the cut waits for too. At
  a cut every gather has finished: both hold nothing and need no adapter. So do the
  distributed ``filter``, ``remove``, ``flatten`` and ``buffer`` (their waits are awaited
  the same way).
- ``scatter(batch_size=k)`` first groups elements in a local :class:`~streams.dask.Batch`:
  its partial batch is stored (and, with ``timeout=``, the loop seconds left until it is
  sent). It is named after the scatter (``scatter(..., stream_name="s")`` names it
  ``"s.batch"``).
- The distributed ``unique`` computes keys on the cluster and compares them here: its
  seen keys are local values, stored as ``unique`` stores them.
- The distributed ``accumulate`` (elementwise and batched, and the batched ``unique``
  built on it) keeps its state on the cluster, as a future. Its adapter's ``settle``
  fetches that state before the cut (the node then holds the value, as after one of its
  periodic rebases) and its snapshot stores the value; a restored node sends it to the
  cluster with its next task.

Every other stateful node on a distributed stream holds futures (``zip``, windows...):
its adapter would store futures, so the checkpointer refuses it (``gather()`` first);
the adapters here say that they store local values with ``distributed = True``.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable
from typing import Any

from .._util import NO_START
from .nodes import Adapter, _Unique, register
from .store import Full

__all__: list[str] = []


def _is_future(x: Any) -> bool:
    import distributed  # a node of streams.dask exists: so does distributed

    return isinstance(x, distributed.Future)


@register("streams.dask.Batch")
class _Batch(Adapter):
    """The partial batch, oldest element first; with a timeout, also the loop seconds
    left until it would have been sent (a restore sends it that long after the restart).
    """

    def why_not(self, node: Any) -> str | None:
        if node.name is None:
            return (
                "a batched scatter() holds its partial batch, stored under the scatter's "
                "name: name the scatter (scatter(batch_size=..., stream_name=...))"
            )
        return None

    def snapshot(self, node: Any) -> Any:
        now = asyncio.get_running_loop().time() if node._timers else 0.0
        groups = []
        for k, group in node._buffers.items():
            timer = node._timers.get(k)
            left = None if timer is None else max(timer.when() - now, 0.0)
            groups.append((k, list(group), left))
        return Full(groups)

    def restore(self, node: Any, value: Any) -> None:
        for timer in node._timers.values():
            timer.cancel()
        node._buffers, node._metadata, node._timers = {}, {}, {}
        for k, group, left in value:
            node._buffers[k] = list(group)
            if node.timeout is not None:  # the clock of the group goes on where it was
                delay = node.timeout if left is None else min(left, node.timeout)
                loop = asyncio.get_running_loop()
                node._timers[k] = loop.call_later(delay, node._time_out, k)


@register("streams.dask.RemoteUnique")
class _RemoteUnique(_Unique):
    """The keys seen, as ``unique`` stores them: computed on the cluster, kept here."""

    distributed = True


@register("streams.dask.RemoteAccumulate")
class _RemoteAccumulate(Adapter):
    """The state's value, fetched from the cluster before the cut (see ``settle``)."""

    distributed = True

    def settle(self, node: Any) -> Awaitable[None] | None:
        """What to wait for before the state can be read: its fetch from the cluster,
        while it is a future (``None`` once it is a local value).

        Called with the sources waiting and no element on its way; the fetched value
        replaces the future in the node (a rebase: the next task carries the value).
        A state whose computation failed fails the checkpoint with its error.
        """
        state = node.state
        if state is NO_START or not _is_future(state):
            return None
        return _fetch_state(node, state)

    def snapshot(self, node: Any) -> Any:
        state = node.state
        if state is NO_START:
            return Full((False, None))
        if _is_future(state):
            from .checkpointer import DurabilityError

            raise DurabilityError(
                f"{node._describe()}: its state is still a Dask future at the cut; the "
                "checkpointer must await the adapter's settle() before the snapshot"
            )
        return Full((True, copy.deepcopy(state)))  # (the next task may get the object)

    def restore(self, node: Any, value: Any) -> None:
        started, state = value
        node.state = state if started else NO_START
        node._since_rebase = 0


async def _fetch_state(node: Any, future: Any) -> None:
    value = await node._context.gather(future)
    if node.state is future:  # (else an element came meanwhile: settle() asks again)
        node.state = value
        node._since_rebase = 0
