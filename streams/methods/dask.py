"""Methods that move a stream onto a Dask cluster and back: ``scatter``, ``gather``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ..core import Stream

T = TypeVar("T")


class DaskMethods(Generic[T]):
    """``scatter``, ``gather``."""

    def scatter(
        self: Any,
        client: Any = None,
        batch_size: int | None = None,
        timeout: float | str | None = None,
        **kwargs: Any,
    ) -> Stream[Any]:
        """Move the stream onto a Dask cluster: from here on, operators run there.

        Downstream of ``scatter``, ``map``, ``starmap``, ``accumulate`` (whose state
        stays on the cluster) and ``pluck`` submit their work and emit futures;
        ``filter``, ``remove``, ``flatten`` and ``unique`` run their function on the
        cluster too; ``buffer(n)`` keeps at most ``n`` elements computing at a time;
        joins, windows and the time operators carry futures like any element.
        :meth:`gather` brings values back, in input order. A worker lost mid-stream
        costs no data: each element travels inside the task that first uses it, so
        the scheduler can recompute whatever was lost.

        Parameters
        ----------
        client : distributed.Client, optional
            The client to use (synchronous, or asynchronous on the graph's loop); by
            default the current one (``distributed.default_client()``).
        batch_size : int, optional
            Send elements in lists of this many; every task then handles a whole
            list, so the scheduler's per-task cost is paid once per batch. ``map``,
            ``starmap``, ``filter``, ``remove``, ``pluck``, ``flatten``,
            ``accumulate``, ``unique``, ``buffer`` and ``gather`` work on batched
            streams (``gather`` emits the elements one by one again).
        timeout : float or str, optional
            With ``batch_size``: send a partial batch this long after its first
            element arrived (else it waits to be full, or for ``drain()``).

        Returns
        -------
        Stream

        Examples
        --------
        >>> from distributed import Client
        >>> from streams import Stream
        >>> client = Client(processes=False, n_workers=1, dashboard_address=":0")
        >>> source = Stream()
        >>> squares = source.scatter().map(lambda x: x * x).buffer(4).gather().sink_to_list()
        >>> for i in range(5):
        ...     source.emit(i)
        >>> source.drain()
        >>> squares
        [0, 1, 4, 9, 16]
        >>> client.close()

        See Also
        --------
        gather
        """
        from ..dask import scatter

        return scatter(self, client, batch_size, timeout, **kwargs)

    def gather(self: Any, **kwargs: Any) -> Stream[Any]:
        """Bring a distributed stream back: emit each element's value, in input order.

        The emitter waits for the value (back pressure). On a stream that is not
        distributed, ``gather`` does nothing and returns the stream itself (as in
        streamz), so the same pipeline code runs with or without Dask.

        Returns
        -------
        Stream

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> source.gather() is source  # not distributed: nothing to gather
        True

        See Also
        --------
        scatter
        """
        if self._dask is None:
            return self  # type: ignore[no-any-return]
        from ..dask import Gather

        return Gather(self, **kwargs)
