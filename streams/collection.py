"""Streaming collections: a stream whose elements are batches (lists, DataFrames) of rows.

A :class:`Streaming` collection pairs a :class:`~streams.Stream` of batches with an
``example``, an empty batch of the same kind, so operations know the shape of what they
produce before any data arrives. :class:`Batch` is the collection of plain Python lists;
:mod:`streams.dataframe` adds pandas DataFrames and Series.

Working per batch rather than per element pays the graph's per-element cost once for many
rows, which is how a Python pipeline reaches the speed of the libraries it calls.

Examples
--------
>>> from streams.collection import Batch
>>> batches = Batch()
>>> total = batches.filter(lambda x: x % 2 == 0).sum()
>>> results = total.stream.sink_to_list()
>>> batches.emit([1, 2, 3, 4])
>>> batches.emit([6])
>>> results
[6, 12]
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from .core import Stream

__all__ = ["Batch", "Streaming", "elementwise", "map_partitions"]

_NO_START = object()

# (test, class) pairs: the collection type wrapping a stream whose example passes test;
# streams.dataframe adds its own when imported. Checked last registered first.
_WRAPPERS: list[tuple[Callable[[Any], bool], type[Streaming]]] = []


def register_wrapper(test: Callable[[Any], bool], cls: type[Streaming]) -> None:
    """Make ``cls`` the collection type of streams whose example passes ``test``."""
    _WRAPPERS.insert(0, (test, cls))


def wrap(stream: Stream[Any], example: Any, stream_type: str | None = None) -> Streaming:
    """The collection of the right type around ``stream``, judged by its ``example``."""
    for test, cls in _WRAPPERS:
        if test(example):
            return cls(stream, example, stream_type=stream_type)
    return Streaming(stream, example, stream_type=stream_type)


def _example(arg: Any) -> Any:
    return arg.example if isinstance(arg, Streaming) else arg


def map_partitions(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Streaming:
    """Apply ``func`` batch by batch to several collections (and constants) at once.

    The streams of the collections among ``args`` are zipped, so their batches are paired
    in order; the other arguments are passed through unchanged. The result's example is
    ``func`` applied to the examples.

    Examples
    --------
    >>> import operator
    >>> from streams.collection import Batch, map_partitions
    >>> a = Batch()
    >>> pairs = map_partitions(lambda xs, n: [x * n for x in xs], a, 10)
    >>> out = pairs.stream.sink_to_list()
    >>> a.emit([1, 2])
    >>> out
    [[10, 20]]
    """
    collections = [a for a in args if isinstance(a, Streaming)]
    if not collections:
        raise TypeError("map_partitions: no streaming collection among the arguments")
    example = func(*map(_example, args), **kwargs)
    if len(collections) == 1:
        index = next(i for i, a in enumerate(args) if isinstance(a, Streaming))
        before, after = args[:index], args[index + 1 :]
        if not before and not kwargs:
            stream = collections[0].stream.map(func, *after)
        else:
            stream = collections[0].stream.map(lambda b: func(*before, b, *after, **kwargs))
    else:
        slots = [i for i, a in enumerate(args) if isinstance(a, Streaming)]
        template = list(args)

        def apply(batches: tuple[Any, ...]) -> Any:
            filled = list(template)
            for slot, batch in zip(slots, batches, strict=True):
                filled[slot] = batch
            return func(*filled, **kwargs)

        first, *rest = (c.stream for c in collections)
        stream = first.zip(*rest).map(apply)
    kind = next((c._stream_type for c in collections if c._stream_type == "updating"), None)
    return wrap(stream, example, stream_type=kind)


def elementwise(func: Callable[..., Any], *args: Any) -> Streaming:
    """:func:`map_partitions` for cheap elementwise steps (column selection, operators),
    fused instead of connected.

    The result is lazy: it records "``func`` of what the collections among ``args`` make
    of a batch of their common upstream" and adds its node only when its ``stream`` is
    first used. Steps on one upstream so compose into a single node, so
    ``sdf.y[sdf.x > 0.5]`` runs as one function of each chunk instead of three nodes and
    a zip. A step used twice is computed twice, which is why only cheap steps fuse; a
    collection whose node exists already is used as it is (``map_partitions`` then zips
    collections of different upstreams).
    """
    root: Stream[Any] | None = None
    getters: list[tuple[int, Callable[[Any], Any] | None]] = []
    for i, arg in enumerate(args):
        if isinstance(arg, Streaming):
            upstream, get = arg._recipe()
            if root is None:
                root = upstream
            elif upstream is not root:
                return map_partitions(func, *args)
            getters.append((i, get))
    if root is None:
        raise TypeError("map_partitions: no streaming collection among the arguments")
    example = func(*map(_example, args))
    kind = next((a._stream_type for a in args if _updating(a)), None)
    result = wrap(root, example, stream_type=kind)
    result._lazy = (root, _fuse(func, args, getters))
    result._stream = None
    return result


def _updating(arg: Any) -> bool:
    return isinstance(arg, Streaming) and arg._stream_type == "updating"


def _fuse(
    func: Callable[..., Any], args: tuple[Any, ...], getters: list[tuple[int, Any]]
) -> Callable[[Any], Any]:
    """One function of a batch: ``func`` with each collection argument replaced by what
    its getter makes of the batch (the batch itself for ``None``), named after ``func``
    so the node's label says what it does."""
    fused = _compose(func, args, getters)
    fused.__name__ = fused.__qualname__ = getattr(func, "__name__", "elementwise")
    return fused


def _compose(
    func: Callable[..., Any], args: tuple[Any, ...], getters: list[tuple[int, Any]]
) -> Callable[[Any], Any]:
    if len(getters) == 1 and getters[0][0] == 0:
        get = getters[0][1]
        rest = args[1:]
        if get is None:
            return lambda batch: func(batch, *rest)
        return lambda batch: func(get(batch), *rest)
    if len(args) == 2 and len(getters) == 2:
        first = getters[0][1] or _same
        second = getters[1][1] or _same
        return lambda batch: func(first(batch), second(batch))
    template = list(args)

    def fused(batch: Any) -> Any:
        filled = list(template)
        for i, get in getters:
            filled[i] = batch if get is None else get(batch)
        return func(*filled)

    return fused


def _same(batch: Any) -> Any:
    return batch


def _binary(op: Callable[[Any, Any], Any], reflected: bool = False) -> Any:
    def method(self: Streaming, other: Any) -> Streaming:
        if reflected:
            return elementwise(op, other, self)
        return elementwise(op, self, other)

    method.__name__ = op.__name__
    return method


def _unary(op: Callable[[Any], Any]) -> Any:
    def method(self: Streaming) -> Streaming:
        return elementwise(op, self)

    method.__name__ = op.__name__
    return method


class OperatorMixin:
    """Python operators on a collection apply batch by batch (``sdf.x + 1``)."""

    __add__ = _binary(operator.add)
    __radd__ = _binary(operator.add, reflected=True)
    __sub__ = _binary(operator.sub)
    __rsub__ = _binary(operator.sub, reflected=True)
    __mul__ = _binary(operator.mul)
    __rmul__ = _binary(operator.mul, reflected=True)
    __truediv__ = _binary(operator.truediv)
    __rtruediv__ = _binary(operator.truediv, reflected=True)
    __floordiv__ = _binary(operator.floordiv)
    __rfloordiv__ = _binary(operator.floordiv, reflected=True)
    __mod__ = _binary(operator.mod)
    __rmod__ = _binary(operator.mod, reflected=True)
    __pow__ = _binary(operator.pow)
    __rpow__ = _binary(operator.pow, reflected=True)
    __and__ = _binary(operator.and_)
    __rand__ = _binary(operator.and_, reflected=True)
    __or__ = _binary(operator.or_)
    __ror__ = _binary(operator.or_, reflected=True)
    __xor__ = _binary(operator.xor)
    __rxor__ = _binary(operator.xor, reflected=True)
    __lshift__ = _binary(operator.lshift)
    __rlshift__ = _binary(operator.lshift, reflected=True)
    __rshift__ = _binary(operator.rshift)
    __rrshift__ = _binary(operator.rshift, reflected=True)
    __lt__ = _binary(operator.lt)
    __le__ = _binary(operator.le)
    __gt__ = _binary(operator.gt)
    __ge__ = _binary(operator.ge)
    __eq__ = _binary(operator.eq)
    __ne__ = _binary(operator.ne)
    __neg__ = _unary(operator.neg)
    __pos__ = _unary(operator.pos)
    __abs__ = _unary(operator.abs)
    __invert__ = _unary(operator.invert)
    __hash__ = object.__hash__


class Streaming(OperatorMixin):
    """A stream of batches together with an ``example`` batch that describes them.

    Parameters
    ----------
    stream : Stream, optional
        The stream of batches; a new source ``Stream()`` by default.
    example : object, optional
        An (empty) batch like those the stream carries.
    stream_type : {'streaming', 'updating'}, optional
        ``'updating'``: each batch replaces the previous one (a running aggregate);
        ``'streaming'`` (default): each batch holds new rows.

    Examples
    --------
    >>> from streams.collection import Streaming
    >>> s = Streaming(example=0)
    >>> doubled = s.map_partitions(lambda n: 2 * n)
    >>> out = doubled.stream.sink_to_list()
    >>> s.emit(21)
    >>> out
    [42]
    """

    _subtype: type | tuple[type, ...] = object
    _stream_type = "streaming"

    def __init__(
        self,
        stream: Stream[Any] | None = None,
        example: Any = None,
        stream_type: str | None = None,
    ) -> None:
        if stream_type is not None:
            if stream_type not in ("streaming", "updating"):
                raise ValueError(
                    f"{type(self).__name__}: stream_type must be 'streaming' or 'updating', "
                    f"not {stream_type!r}"
                )
            self._stream_type = stream_type
        self._stream: Stream[Any] | None = Stream() if stream is None else stream
        self._lazy: tuple[Stream[Any], Callable[[Any], Any]] | None = None
        self.example = example

    @property
    def stream(self) -> Stream[Any]:
        """The stream of batches (a fused collection's node is added on first use, see
        :func:`elementwise`)."""
        if self._stream is None:
            assert self._lazy is not None
            upstream, func = self._lazy
            self._stream = upstream.map(func)
        return self._stream

    @stream.setter
    def stream(self, value: Stream[Any]) -> None:
        self._stream = value

    def _recipe(self) -> tuple[Stream[Any], Callable[[Any], Any] | None]:
        """``(upstream, get)``: the batches of this collection are ``get(batch)`` of
        ``upstream``'s (``get`` is ``None`` when they are ``upstream``'s own)."""
        if self._stream is None and self._lazy is not None:
            return self._lazy
        return self.stream, None

    def map_partitions(
        self, func: Callable[..., Any], *args: Any, stream_type: str | None = None, **kwargs: Any
    ) -> Streaming:
        """Apply ``func(batch, *args, **kwargs)`` to every batch.

        Collections among ``args`` are zipped with this one (see :func:`map_partitions`).
        """
        result = map_partitions(func, self, *args, **kwargs)
        if stream_type is not None:
            result._stream_type = stream_type
        return result

    def accumulate_partitions(
        self,
        func: Callable[..., Any],
        *args: Any,
        start: Any = _NO_START,
        returns_state: bool = False,
        stream_type: str | None = None,
        stream_name: str | None = None,
        **kwargs: Any,
    ) -> Streaming:
        """Fold ``func(state, batch, *args, **kwargs)`` over the batches.

        As :meth:`Stream.accumulate`: with ``returns_state`` the function returns
        ``(new_state, output)``. The example of the result is ``func`` applied to
        ``start`` and this collection's example (when ``start`` is given).

        Parameters
        ----------
        stream_name : str, optional
            Names the node holding the state (needed to checkpoint it, see
            :mod:`streams.state`).

        Examples
        --------
        >>> from streams.collection import Batch
        >>> b = Batch()
        >>> sizes = b.accumulate_partitions(lambda n, batch: n + len(batch), start=0)
        >>> out = sizes.stream.sink_to_list()
        >>> b.emit([1, 2, 3])
        >>> b.emit([4])
        >>> out
        [3, 4]
        """
        step = func if not args else _with_args(func, args)
        if start is not _NO_START:
            example = step(start, self.example, **kwargs)
            if returns_state:
                example = example[1]
            stream = self.stream.accumulate(
                step, start=start, returns_state=returns_state, stream_name=stream_name, **kwargs
            )
        else:
            example = self.example
            stream = self.stream.accumulate(
                step, returns_state=returns_state, stream_name=stream_name, **kwargs
            )
        return wrap(stream, example, stream_type=stream_type)

    def scatter(self, **kwargs: Any) -> Streaming:
        """Move the batches onto a Dask cluster (one task per batch); operations after it
        run there until :meth:`gather`. Keyword arguments go to :meth:`Stream.scatter`."""
        return wrap(self.stream.scatter(**kwargs), self.example, self._stream_type)

    def gather(self) -> Streaming:
        """Bring the batches back from the cluster, in input order."""
        return wrap(self.stream.gather(), self.example, self._stream_type)

    def emit(self, x: Any) -> Any:
        """Check ``x`` with :meth:`verify`, then push it into the stream."""
        self.verify(x)
        return self.stream.emit(x)

    def verify(self, x: Any) -> None:
        """Raise ``TypeError`` if ``x`` is not a batch of this collection's kind."""
        if not isinstance(x, self._subtype):
            raise TypeError(
                f"{type(self).__name__}.emit: expected {_names(self._subtype)}, "
                f"got {type(x).__name__}"
            )

    @property
    def current_value(self) -> Any:
        """The latest batch the stream carried (``None`` before any)."""
        return getattr(self.stream, "current_value", None)

    def start(self) -> None:
        """Start the sources upstream of this collection."""
        self.stream.start()

    def stop(self) -> None:
        """Stop the sources upstream of this collection."""
        self.stream.stop()

    def live(self, rate: float | None = None) -> Any:
        """A live view of the latest batch for a notebook (see :meth:`Stream.live`).

        Examples
        --------
        >>> from streams.collection import Batch
        >>> b = Batch()
        >>> view = b.live(rate=5)
        >>> b.emit([1, 2])
        >>> view.shown["text/plain"]
        '[1, 2]'
        """
        return self.stream.live(rate)

    def _ipython_display_(self, **kwargs: Any) -> None:
        """In a notebook: the stream's live view of its latest element."""
        self.stream._ipython_display_(**kwargs)

    def _repr_html_(self) -> str:
        html = getattr(self.example, "_repr_html_", None)
        body = html() if html else f"<pre>{_escape(repr(self.example))}</pre>"
        return f"<h5>{type(self).__name__} - elements like</h5>\n{body}"

    def __repr__(self) -> str:
        example = repr(self.example)
        if "\n" in example:
            return f"{type(self).__name__} - elements like:\n{example}"
        return f"{type(self).__name__} - elements like: {example}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _names(types: type | tuple[type, ...]) -> str:
    if isinstance(types, tuple):
        return " or ".join(t.__name__ for t in types)
    return types.__name__


class Batch(Streaming):
    """A stream of Python lists (or tuples), each a batch of elements.

    Parameters
    ----------
    stream : Stream, optional
        The stream of batches; a new source by default.
    example : list, optional
        A batch like those the stream carries (used by :meth:`to_dataframe`).

    Examples
    --------
    >>> from streams.collection import Batch
    >>> b = Batch()
    >>> names = b.pluck("name").map(str.upper).to_stream()
    >>> out = names.sink_to_list()
    >>> b.emit([{"name": "ada"}, {"name": "bob"}])
    >>> out
    ['ADA', 'BOB']
    """

    _subtype = (list, tuple)

    def __init__(
        self,
        stream: Stream[Any] | None = None,
        example: Any = None,
        stream_type: str | None = None,
    ) -> None:
        super().__init__(stream, [] if example is None else example, stream_type)

    def map(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Batch:
        """Apply ``func(x, *args, **kwargs)`` to every element of every batch."""
        return Batch(
            self.stream.map(lambda b: [func(x, *args, **kwargs) for x in b]),
            [func(x, *args, **kwargs) for x in self.example],
        )

    def filter(self, predicate: Callable[..., Any], *args: Any, **kwargs: Any) -> Batch:
        """Keep the elements for which ``predicate(x, *args, **kwargs)`` is true."""
        return Batch(
            self.stream.map(lambda b: [x for x in b if predicate(x, *args, **kwargs)]),
            self.example,
        )

    def pluck(self, index: Any) -> Batch:
        """Pick ``x[index]`` of every element (``index`` a list: a tuple of picks)."""
        if isinstance(index, list):
            picks = tuple(index)
            return Batch(
                self.stream.map(lambda b: [tuple(x[i] for i in picks) for x in b]),
                [tuple(x[i] for i in picks) for x in self.example],
            )
        return Batch(
            self.stream.map(lambda b: [x[index] for x in b]), [x[index] for x in self.example]
        )

    def sum(self, *, stream_name: str | None = None) -> Streaming:
        """The running total of all elements so far, one value per batch.

        Parameters
        ----------
        stream_name : str, optional
            Names the node holding the total (needed to checkpoint it, see
            :mod:`streams.state`).
        """
        return self.accumulate_partitions(
            _add_sum, start=0, stream_type="updating", stream_name=stream_name
        )

    def to_stream(self) -> Stream[Any]:
        """The elements one by one, as a plain :class:`~streams.Stream`."""
        return self.stream.flatten()

    def to_dataframe(self) -> Any:
        """A streaming :class:`~streams.dataframe.DataFrame` of the batches (rows are the
        elements: dicts or tuples); needs pandas and an ``example`` batch with one row."""
        import pandas as pd

        from .dataframe import DataFrame

        example = pd.DataFrame(list(self.example)).iloc[:0]
        return DataFrame(self.stream.map(lambda b: pd.DataFrame(list(b))), example)


def _with_args(func: Callable[..., Any], args: tuple[Any, ...]) -> Callable[..., Any]:
    def step(state: Any, batch: Any, **kwargs: Any) -> Any:
        return func(state, batch, *args, **kwargs)

    return step


def _add_sum(total: Any, batch: Any) -> Any:
    return total + sum(batch)


_add_sum.__name__ = "sum"  # the node's label: accumulate<sum>


def _is_batch(example: Any) -> bool:
    return isinstance(example, list | tuple)


_WRAPPERS.append((_is_batch, Batch))
