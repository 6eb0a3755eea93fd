"""Streaming DataFrames: a stream of pandas chunks used with pandas syntax.

Needs pandas (``pip install 'streams[dataframe]'``); ``import streams`` never loads it.

Examples
--------
>>> import pandas as pd
>>> from streams import Stream
>>> source = Stream()
>>> sdf = source.to_dataframe(example=pd.DataFrame({"k": ["a"], "x": [0.0]}).iloc[:0])
>>> totals = sdf.groupby("k").x.sum().stream.sink_to_list()
>>> source.emit(pd.DataFrame({"k": ["a", "b", "a"], "x": [1.0, 2.0, 3.0]}))
>>> totals[-1].to_dict()
{'a': 4.0, 'b': 2.0}
"""

from __future__ import annotations

from .aggregations import Additive, Aggregation
from .core import DataFrame, DataFrames, Frame, Index, SchemaError, Series, Seriess, _register
from .sources import PeriodicDataFrame, Random

__all__ = [
    "Additive",
    "Aggregation",
    "DataFrame",
    "DataFrames",
    "Frame",
    "Index",
    "PeriodicDataFrame",
    "Random",
    "SchemaError",
    "Series",
    "Seriess",
]

_register()
