"""Scale out to a Dask cluster: ``scatter()``, ``gather()`` and the distributed variants
of operators. Imported only when a graph calls ``scatter()``.

After ``scatter()``, a stream is *distributed*: its nodes share a :class:`DaskContext`
(the client, and whether elements are batches). Each operator method asks that context
for its variant (:meth:`DaskContext.variant`): ``map``, ``starmap``, ``accumulate`` and
``pluck`` submit their function to the cluster and emit futures; ``filter``,
``remove``, ``flatten`` and ``unique`` compute on the cluster what they need to decide
(a predicate, a length, a key) and wait for that small result; ``buffer(n)`` holds at
most ``n`` futures and waits for each to finish before passing it on, so it bounds the
work in flight. Joins, windows and the time operators handle futures like any other
element. ``gather()`` waits for each element's value, in input order, and makes the
stream local again.

Elements are sent to the cluster inside the task that first uses them (not with
``client.scatter``), so every future can be recomputed from its task graph: if a worker
dies, the scheduler recomputes what was lost and every element still arrives, once and
in order.

With ``scatter(batch_size=k)`` elements travel in lists of ``k`` and every task handles
a whole list, so the scheduler's per-task cost is paid once per batch.
"""

from __future__ import annotations

import asyncio
import operator
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ._util import NO_START, bind, check_arguments, funcname, identity
from .core import Stream
from .errors import Retry
from .loop import Completion
from .operators.aggregate import Accumulate, Partition
from .operators.combine import Union
from .operators.select import Unique
from .operators.time import Buffer
from .operators.transform import Map
from .protocol import Metadata, push_each, wait
from .runtime import RETRYING
from .sinks.base import Sink

__all__ = ["DaskContext", "Gather", "RemoteBuffer", "RemoteFilter", "RemoteFlatten",
           "RemoteUnique", "Scatter"]  # fmt: skip


def default_client() -> Any:
    """The current Dask client, or a clear error if there is none."""
    import distributed

    try:
        return distributed.default_client()  # type: ignore[no-untyped-call]
    except ValueError:
        raise ValueError(
            "scatter: no Dask client; create one (distributed.Client(...)) or pass "
            "scatter(client=...)"
        ) from None


class DaskContext:
    """What the distributed part of a graph shares: its client, and the batch size.

    Attributes
    ----------
    client : distributed.Client
        Synchronous, or asynchronous on the loop the graph runs on.
    batch_size : int or None
        With a batch size, every element is a future of a list of that many elements.
    """

    def __init__(self, client: Any, batch_size: int | None) -> None:
        self.client = client
        self.batch_size = batch_size

    @property
    def batched(self) -> bool:
        return self.batch_size is not None

    def submit(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``func(*args, **kwargs)`` on the cluster; a future (never deduplicated)."""
        return self.client.submit(func, *args, pure=False, **kwargs)

    def remote(self, func: Callable[..., Any], name: str | None = None) -> Callable[..., Any]:
        """A local function that submits ``func`` and returns the future."""
        submit = self.client.submit

        def call(*args: Any, **kwargs: Any) -> Any:
            return submit(func, *args, pure=False, **kwargs)

        call.__name__ = name or funcname(func)
        return call

    async def gather(self, x: Any) -> Any:
        """The local value of ``x``: a future, a container of futures, or a plain value."""
        import distributed

        if not distributed.client.futures_of(x):  # type: ignore[no-untyped-call]
            return x  # nothing on the cluster (an empty window, a plain value)
        client = self.client
        if not client.asynchronous:  # its own thread runs it: do not block our loop
            return await asyncio.to_thread(client.gather, x)
        home = client.loop.asyncio_loop
        if home is asyncio.get_running_loop():
            return await client.gather(x)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(client.gather(x), home))

    async def wait_done(self, x: Any) -> None:
        """Wait until every future in ``x`` finished, successfully or not; the values
        stay on the cluster (nothing is fetched, the scheduler is not asked)."""
        import distributed

        pending = [
            f
            for f in distributed.client.futures_of(x)  # type: ignore[no-untyped-call]
            if not f.done()
        ]
        if not pending:
            return
        client = self.client
        if client.asynchronous and client.loop.asyncio_loop is asyncio.get_running_loop():
            await distributed.wait(pending)  # type: ignore[no-untyped-call]
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        left = [len(pending)]

        def one_more() -> None:  # on our loop: no race between the callbacks
            left[0] -= 1
            if left[0] == 0 and not waiter.done():
                waiter.set_result(None)

        for future in pending:  # a client calls these back in threads of its own
            future.add_done_callback(lambda _: loop.call_soon_threadsafe(one_more))
        await waiter

    def admit(self, node_type: type, label: str) -> None:
        """Refuse, before it is wired, a node that cannot handle batches of elements."""
        if self.batched and not issubclass(node_type, BATCH_SAFE):
            raise TypeError(
                f"{label} cannot run on a batched distributed stream "
                f"(scatter(batch_size={self.batch_size})): its elements are batches. "
                "gather() first, or scatter without batch_size."
            )

    def variant(self, name: str, upstream: Stream[Any], *args: Any, **kwargs: Any) -> Any:
        """Build the distributed node of operator ``name`` (see the module docstring)."""
        build = (BATCHED if self.batched else ELEMENTWISE)[name]
        return build(self, upstream, *args, **kwargs)


# ---------------------------------------------------------------------- run on workers


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _star(func: Callable[..., Any], x: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*x, *args, **kwargs)


def _pick(x: Any, pick: Any) -> Any:
    return tuple(x[p] for p in pick) if isinstance(pick, list) else x[pick]


def _map_batch(func: Callable[..., Any], batch: list[Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> list[Any]:  # fmt: skip
    return [func(x, *args, **kwargs) for x in batch]


def _starmap_batch(func: Callable[..., Any], batch: list[Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> list[Any]:  # fmt: skip
    return [func(*x, *args, **kwargs) for x in batch]


def _filter_batch(pred: Callable[..., Any], batch: list[Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any], keep: bool) -> list[Any]:  # fmt: skip
    return [x for x in batch if bool(pred(x, *args, **kwargs)) is keep]


def _pluck_batch(batch: list[Any], pick: Any) -> list[Any]:
    return [_pick(x, pick) for x in batch]


def _flatten_batch(batch: list[Any]) -> list[Any]:
    return [item for x in batch for item in x]


class BatchStart:
    """Marks the state of a batched ``accumulate`` before its first element (picklable)."""

    def __repr__(self) -> str:
        return "<first element>"


def _accumulate_batch(func: Callable[..., Any], state: Any, batch: list[Any],
                      kwargs: dict[str, Any], returns_state: bool,
                      with_state: bool) -> tuple[Any, list[Any]]:  # fmt: skip
    out = []
    for x in batch:
        if isinstance(state, BatchStart):
            state = result = x
        elif returns_state:
            state, result = func(state, x, **kwargs)
        else:
            state = result = func(state, x, **kwargs)
        out.append((state, result) if with_state else result)
    return state, out


def _unique_batch(seen: Any, batch: list[Any], key: Callable[[Any], Any],
                  maxsize: int | None) -> tuple[Any, list[Any]]:  # fmt: skip
    history: OrderedDict[Any, None] = OrderedDict() if seen is None else seen
    kept = []
    for x in batch:
        k = key(x)
        if k in history:
            history.move_to_end(k)
            continue
        history[k] = None
        if maxsize is not None and len(history) > maxsize:
            history.popitem(last=False)
        kept.append(x)
    return history, kept


# ---------------------------------------------------------------------- nodes


class InOrder:
    """Keeps a node's outputs in the order its inputs arrived, although the waits for
    the cluster overlap: each element pushes only after the one before it pushed."""

    _last_turn: Completion | None = None

    def _take_turn(self) -> tuple[Completion | None, Completion]:
        """(the previous element's turn, this element's turn).

        A retry of this node's work (``on_error=retry(...)``) runs inside the failed
        element's turn, which ends once the retry has: it must not queue behind it.
        """
        if RETRYING.get() is self:
            return None, Completion()
        previous, mine = self._last_turn, Completion()
        self._last_turn = mine
        return previous, mine


async def _after(previous: Completion | None) -> None:
    if previous is not None:
        await previous.wait()


class Batch(Partition):
    """Groups elements into lists of ``batch_size`` for :meth:`Stream.scatter`; unlike
    ``partition``, ``drain()`` sends a partial batch (it is in transit, not a group)."""

    _label = "batch"

    def _take(self, k: Any) -> tuple[Any, list[dict[str, Any]] | None]:
        group, metadata = super()._take(k)
        return list(group), metadata

    async def _flush(self) -> bool:
        if not self._buffers:
            return False
        for k in list(self._buffers):
            out, md = self._take(k)
            await self._push_async(out, md or ())
        return True


class Scatter(Stream[Any]):
    """Node behind :meth:`Stream.scatter`: from here on the stream is distributed.

    Elements pass unchanged; the first operator that computes sends each one to the
    cluster inside its task (so lost results can be recomputed).
    """

    _label = "scatter"
    _graphviz_shape = "invtriangle"

    def __init__(self, upstream: Stream[Any], context: DaskContext, **options: Any) -> None:
        super().__init__(upstream, **options)
        self._dask = context


class Gather(InOrder, Stream[Any]):
    """Node behind :meth:`Stream.gather`: emit the value of every distributed element,
    in input order (a batch's elements one by one); the stream is local again."""

    _label = "gather"
    _graphviz_shape = "triangle"

    def __init__(self, upstream: Stream[Any], **options: Any) -> None:
        super().__init__(upstream, **options)
        self._context: DaskContext | None = upstream._dask
        self._dask = None

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        if self._context is None:  # gather() on a local stream: nothing to do (streamz)
            self.current_value = x
            return self._push(x, self, metadata)
        return self._gather(x, who, metadata, *self._take_turn())

    async def _gather(self, x: Any, who: Stream[Any] | None, metadata: Metadata,
                      previous: Completion | None, mine: Completion) -> None:  # fmt: skip
        try:
            await self._gather_in_turn(x, who, metadata, previous)
        finally:
            mine.set()

    async def _gather_in_turn(self, x: Any, who: Stream[Any] | None, metadata: Metadata,
                              previous: Completion | None) -> None:  # fmt: skip
        context = self._context
        assert context is not None
        try:
            value = await context.gather(x)
        except Exception as exc:
            await _after(previous)
            import distributed

            failed = [f for f in distributed.client.futures_of(x) if f.status == "error"]  # type: ignore[no-untyped-call]
            if failed:
                keys = ", ".join(str(f.key) for f in failed)
                exc.add_note(f"raised on the cluster by task {keys}")
                if isinstance(self.on_error, Retry):  # run the failed tasks again
                    context.client.retry(failed)
            await wait(self._failed(exc, x, who, metadata))
            return
        await _after(previous)
        if context.batched:
            await wait(push_each(self, ((v, metadata) for v in value)))
        else:
            self.current_value = value
            await wait(self._push(value, self, metadata))


class RemoteFilter(InOrder, Stream[Any]):
    """Distributed ``filter``/``remove``: the predicate runs on the cluster; its result
    decides whether the element (a future) goes on."""

    _graphviz_shape = "box"

    def __init__(self, upstream: Stream[Any], predicate: Callable[..., Any] | None,
                 *args: Any, keep: bool = True, stream_name: str | None = None,
                 on_error: Any = "raise", **kwargs: Any) -> None:  # fmt: skip
        self._label = "filter" if keep else "remove"  # type: ignore[misc]
        predicate = bool if predicate is None else predicate
        check_arguments(f"{self._label}<{funcname(predicate)}>", predicate, args, kwargs)
        self.predicate = predicate
        self.keep = keep
        self._context: DaskContext = upstream._dask
        self._call = self._context.remote(bind(predicate, args, kwargs))
        super().__init__(upstream, stream_name=stream_name, on_error=on_error)

    def _detail(self) -> str:
        return funcname(self.predicate)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        return self._decide(x, who, metadata, *self._take_turn())

    async def _decide(self, x: Any, who: Stream[Any] | None, metadata: Metadata,
                      previous: Completion | None, mine: Completion) -> None:  # fmt: skip
        try:
            try:
                verdict = await self._context.gather(self._call(x))
            except Exception as exc:
                await _after(previous)
                await wait(self._failed(exc, x, who, metadata))
                return
            await _after(previous)
            if bool(verdict) is self.keep:
                self.current_value = x
                await wait(self._push(x, self, metadata))
        finally:
            mine.set()


class RemoteFlatten(InOrder, Stream[Any]):
    """Distributed ``flatten``: an element's items become futures of their own."""

    _label = "flatten"

    def __init__(self, upstream: Stream[Any], **options: Any) -> None:
        self._context: DaskContext = upstream._dask
        super().__init__(upstream, **options)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        return self._split(x, who, metadata, *self._take_turn())

    async def _split(self, x: Any, who: Stream[Any] | None, metadata: Metadata,
                     previous: Completion | None, mine: Completion) -> None:  # fmt: skip
        context = self._context
        items = context.submit(list, x)
        try:
            try:
                n = await context.gather(context.submit(len, items))
            except Exception as exc:
                await _after(previous)
                await wait(self._failed(exc, x, who, metadata))
                return
            await _after(previous)
            parts = ((context.submit(operator.getitem, items, i), metadata) for i in range(n))
            await wait(push_each(self, parts))
        finally:
            mine.set()


class RemoteUnique(InOrder, Unique[Any]):
    """Distributed ``unique``: keys are computed on the cluster and compared here."""

    def __init__(self, upstream: Stream[Any], *args: Any, **kwargs: Any) -> None:
        self._context: DaskContext = upstream._dask
        super().__init__(upstream, *args, **kwargs)
        self._remote_key = self._context.remote(self.key)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        return self._check(x, who, metadata, *self._take_turn())

    async def _check(self, x: Any, who: Stream[Any] | None, metadata: Metadata,
                     previous: Completion | None, mine: Completion) -> None:  # fmt: skip
        try:
            try:
                k = await self._context.gather(self._remote_key(x))
                await _after(previous)
                new = self._remember(k)
            except Exception as exc:
                await _after(previous)
                await wait(self._failed(exc, x, who, metadata))
                return
            if new:
                self.current_value = x
                await wait(self._push(x, self, metadata))
        finally:
            mine.set()


class RemoteAccumulate(Accumulate):
    """Distributed ``accumulate``: the state is a future on the cluster.

    Each new state depends on the previous one, so the scheduler would keep the whole
    history (every task, with its embedded element) to be able to recompute the latest
    state. Every ``rebase_every`` elements the state's value is therefore fetched once
    and embedded in the next task instead: the history before it can be forgotten, and
    a lost state is still recomputable from at most ``rebase_every`` tasks.
    """

    rebase_every = 100

    def __init__(self, upstream: Stream[Any], *args: Any, **options: Any) -> None:
        self._context: DaskContext = upstream._dask
        self._since_rebase = 0
        super().__init__(upstream, *args, **options)

    def update(self, x: Any, who: Stream[Any] | None = None, metadata: Metadata = ()) -> Any:
        self._since_rebase += 1
        if self._since_rebase >= self.rebase_every and _is_future(self.state):
            self._since_rebase = 0
            return self._rebase_then_update(x, who, metadata)
        return super().update(x, who, metadata)

    async def _rebase_then_update(self, x: Any, who: Any, metadata: Metadata) -> None:
        try:
            self.state = await self._context.gather(self.state)
        except Exception as exc:
            await wait(self._failed(exc, x, who, metadata))
            return
        await wait(super().update(x, who, metadata))


def _is_future(x: Any) -> bool:
    import distributed

    return isinstance(x, distributed.Future)


class RemoteBuffer(Buffer[Any]):
    """Distributed ``buffer(n)``: at most ``n`` elements are held, and each goes on only
    once its computation finished, so at most ``n`` are computed at a time."""

    def __init__(self, upstream: Stream[Any], n: int, **options: Any) -> None:
        self._context: DaskContext = upstream._dask
        super().__init__(upstream, n, **options)

    async def _work(self) -> None:
        while self._queue:
            x, md = self._queue[0]
            await self._context.wait_done(x)
            self._queue.popleft()
            self._made_room()
            await self._push_async(x, md)


# ---------------------------------------------------------------------- variants


def _labelled(node: Stream[Any], label: str) -> Stream[Any]:
    """Show a generic node under its operator's name (``pluck`` rather than ``map``)."""
    node._label = label  # type: ignore[misc]
    return node


def _named(func: Callable[..., Any], name: str) -> Callable[..., Any]:
    func.__name__ = name
    return func


def _options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The node options among an operator's keyword arguments (the rest is the user's)."""
    return {k: kwargs.pop(k) for k in ("stream_name", "on_error") if k in kwargs}


def _map(ctx: DaskContext, up: Stream[Any], func: Callable[..., Any], *args: Any,
         **kwargs: Any) -> Stream[Any]:  # fmt: skip
    options = _options(kwargs)
    check_arguments(f"map<{funcname(func)}>", func, args, kwargs)
    return Map(up, ctx.remote(func), *args, **kwargs, **options)


def _starmap(ctx: DaskContext, up: Stream[Any], func: Callable[..., Any], *args: Any,
             **kwargs: Any) -> Stream[Any]:  # fmt: skip
    options = _options(kwargs)
    remote = ctx.remote(_star)
    call = _named(lambda x: remote(func, x, *args, **kwargs), funcname(func))
    return _labelled(Map(up, call, **options), "starmap")


def _accumulate(ctx: DaskContext, up: Stream[Any], func: Callable[..., Any],
                start: Any = NO_START, returns_state: bool = False, with_state: bool = False,
                **kwargs: Any) -> Stream[Any]:  # fmt: skip
    options = _options(kwargs)
    check_arguments(f"accumulate<{funcname(func)}>", func, (), kwargs, leading=2)
    getitem = ctx.remote(operator.getitem)

    def step(state: Any, x: Any) -> Any:
        if returns_state:
            pair = ctx.submit(func, state, x, **kwargs)
            return getitem(pair, 0), getitem(pair, 1)
        return ctx.submit(func, state, x, **kwargs)

    step.__name__ = funcname(func)
    return RemoteAccumulate(up, step, start, returns_state, with_state, **options)


def _pluck(ctx: DaskContext, up: Stream[Any], pick: Any, **options: Any) -> Stream[Any]:
    remote = ctx.remote(_pick)
    return _labelled(Map(up, _named(lambda x: remote(x, pick), repr(pick)), **options), "pluck")


def _filter(keep: bool) -> Callable[..., Stream[Any]]:
    def build(ctx: DaskContext, up: Stream[Any], predicate: Any, *args: Any,
              **kwargs: Any) -> Stream[Any]:  # fmt: skip
        return RemoteFilter(up, predicate, *args, keep=keep, **kwargs)

    return build


def _flatten(ctx: DaskContext, up: Stream[Any], **options: Any) -> Stream[Any]:
    return RemoteFlatten(up, **options)


def _unique(ctx: DaskContext, up: Stream[Any], maxsize: int | None = None,
            key: Callable[[Any], Any] = identity, hashable: bool = True,
            **options: Any) -> Stream[Any]:  # fmt: skip
    return RemoteUnique(up, maxsize, key, hashable, **options)


def _buffer(ctx: DaskContext, up: Stream[Any], n: int, **options: Any) -> Stream[Any]:
    return RemoteBuffer(up, n, **options)


ELEMENTWISE: dict[str, Callable[..., Stream[Any]]] = {
    "map": _map, "starmap": _starmap, "accumulate": _accumulate, "pluck": _pluck,
    "filter": _filter(True), "remove": _filter(False), "flatten": _flatten,
    "unique": _unique, "buffer": _buffer,
}  # fmt: skip


def _batch_map(worker: Callable[..., Any], name: str) -> Callable[..., Stream[Any]]:
    """A batched variant: one task applies ``worker(func, batch, args, kwargs)``."""

    def build(ctx: DaskContext, up: Stream[Any], func: Callable[..., Any] | None, *args: Any,
              **kwargs: Any) -> Stream[Any]:  # fmt: skip
        options = _options(kwargs)
        if func is None:  # filter(None): keep truthy elements
            func = bool
        remote = ctx.remote(worker)
        extra = (True,) if name == "filter" else (False,) if name == "remove" else ()
        call = _named(lambda batch: remote(func, batch, args, kwargs, *extra), funcname(func))
        return _labelled(Map(up, call, **options), name)

    return build


def _batch_pluck(ctx: DaskContext, up: Stream[Any], pick: Any, **options: Any) -> Stream[Any]:
    remote = ctx.remote(_pluck_batch)
    call = _named(lambda batch: remote(batch, pick), repr(pick))
    return _labelled(Map(up, call, **options), "pluck")


def _batch_flatten(ctx: DaskContext, up: Stream[Any], **options: Any) -> Stream[Any]:
    return _labelled(Map(up, ctx.remote(_flatten_batch), **options), "flatten")


def _batch_accumulate(ctx: DaskContext, up: Stream[Any], func: Callable[..., Any],
                      start: Any = NO_START, returns_state: bool = False,
                      with_state: bool = False, **kwargs: Any) -> Stream[Any]:  # fmt: skip
    options = _options(kwargs)
    remote = ctx.remote(_accumulate_batch, funcname(func))
    getitem = ctx.remote(operator.getitem)

    def step(state: Any, batch: Any) -> Any:
        pair = remote(func, state, batch, kwargs, returns_state, with_state)
        return getitem(pair, 0), getitem(pair, 1)

    step.__name__ = funcname(func)
    first = BatchStart() if start is NO_START else start
    return RemoteAccumulate(up, step, first, returns_state=True, **options)


def _batch_unique(ctx: DaskContext, up: Stream[Any], maxsize: int | None = None,
                  key: Callable[[Any], Any] = identity, hashable: bool = True,
                  **options: Any) -> Stream[Any]:  # fmt: skip
    remote = ctx.remote(_unique_batch, "unique")
    getitem = ctx.remote(operator.getitem)

    def step(seen: Any, batch: Any) -> Any:
        pair = remote(seen, batch, key, maxsize)
        return getitem(pair, 0), getitem(pair, 1)

    step.__name__ = funcname(key) if key is not identity else "identity"
    return _labelled(RemoteAccumulate(up, step, None, returns_state=True, **options), "unique")


BATCHED: dict[str, Callable[..., Stream[Any]]] = {
    "map": _batch_map(_map_batch, "map"), "starmap": _batch_map(_starmap_batch, "starmap"),
    "filter": _batch_map(_filter_batch, "filter"),
    "remove": _batch_map(_filter_batch, "remove"), "pluck": _batch_pluck,
    "flatten": _batch_flatten, "accumulate": _batch_accumulate, "unique": _batch_unique,
    "buffer": _buffer,
}  # fmt: skip

BATCH_SAFE: tuple[type, ...] = (Map, Accumulate, Scatter, Gather, RemoteBuffer, Sink, Union)
"""Node types that may run on a batched distributed stream."""


def scatter(upstream: Stream[Any], client: Any = None, batch_size: int | None = None,
            timeout: Any = None, **options: Any) -> Stream[Any]:  # fmt: skip
    """Build the scatter node(s) for :meth:`Stream.scatter`."""
    from ._util import positive_int

    client = default_client() if client is None else client
    if batch_size is not None:
        positive_int("scatter", "batch_size", batch_size)
        name = options.get("stream_name")  # a named scatter names its batch (checkpoints)
        upstream = Batch(upstream, batch_size, timeout, stream_name=name and f"{name}.batch")
    elif timeout is not None:
        raise ValueError("scatter: timeout= only applies with batch_size=")
    return Scatter(upstream, DaskContext(client, batch_size), **options)
