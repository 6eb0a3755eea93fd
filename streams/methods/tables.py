"""Views of a stream as a streaming collection: ``to_batch`` and ``to_dataframe``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..collection import Batch
    from ..dataframe import DataFrame


class TableMethods:
    """``to_batch`` and ``to_dataframe``; pandas is imported only by ``to_dataframe``."""

    def to_batch(self: Any, example: Any = None, **kwargs: Any) -> Batch:
        """View a stream of lists (or tuples) as a :class:`~streams.collection.Batch`.

        Parameters
        ----------
        example : list, optional
            A batch like those the stream carries.

        Examples
        --------
        >>> from streams import Stream
        >>> source = Stream()
        >>> total = source.partition(2).to_batch(example=[0]).map(abs).sum()
        >>> out = total.stream.sink_to_list()
        >>> for x in [-1, 2, -3, 4]:
        ...     source.emit(x)
        >>> out
        [3, 10]
        """
        from ..collection import Batch

        return Batch(self, example, **kwargs)

    def to_dataframe(self: Any, example: Any, **kwargs: Any) -> DataFrame:
        """View a stream of pandas DataFrames as a streaming
        :class:`~streams.dataframe.DataFrame` (needs ``streams[dataframe]``).

        Parameters
        ----------
        example : pandas.DataFrame
            A chunk like those the stream carries (its columns and dtypes).

        Examples
        --------
        >>> import pandas as pd
        >>> from streams import Stream
        >>> source = Stream()
        >>> sdf = source.to_dataframe(example=pd.DataFrame({"x": [0]}))
        >>> out = sdf.x.sum().stream.sink_to_list()
        >>> source.emit(pd.DataFrame({"x": [1, 2]}))
        >>> source.emit(pd.DataFrame({"x": [3]}))
        >>> [int(n) for n in out]
        [3, 6]
        """
        from ..dataframe import DataFrame

        return DataFrame(self, example, **kwargs)
