"""A DataFrame stream on a real Dask LocalCluster: one task per chunk, results in order."""

import pandas as pd
import pytest
from distributed import Client, LocalCluster
from pandas.testing import assert_frame_equal

from streams import Stream
from streams.dataframe import DataFrame


@pytest.fixture(scope="module")
def client():
    options = {"processes": False, "n_workers": 2, "threads_per_worker": 2}
    with (
        LocalCluster(
            dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"}, **options
        ) as cluster,
        Client(cluster, set_as_default=False) as c,
    ):
        yield c


def expensive(df):
    return df.assign(z=df.x * df.y)


def test_scattered_frames_come_back_in_order(client):
    source = Stream()
    example = pd.DataFrame({"x": [0], "y": [0.0]})
    sdf = DataFrame(source, example=example)
    remote = sdf.scatter(client=client)
    done = remote.map_partitions(expensive).gather()
    assert isinstance(done, DataFrame)
    assert list(done.columns) == ["x", "y", "z"]
    out = done.stream.sink_to_list()
    totals = done.z.sum().stream.sink_to_list()
    chunks = [pd.DataFrame({"x": range(i, i + 5), "y": [0.5] * 5}) for i in range(0, 100, 5)]
    for chunk in chunks:
        sdf.emit(chunk)
    source.drain()
    assert len(out) == len(chunks)
    assert_frame_equal(pd.concat(out), expensive(pd.concat(chunks)))
    assert totals[-1] == pytest.approx(expensive(pd.concat(chunks)).z.sum())
