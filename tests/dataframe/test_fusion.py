"""Cheap elementwise steps fuse into one node per chunk; the results and errors are those
of the unfused graph, and the checked emit stays exact on every path."""

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_series_equal

from streams import Stream
from streams.dataframe import DataFrame, SchemaError
from streams.dataframe import core as frame_core

CHUNKS = [
    pd.DataFrame({"x": [0.1, 0.7, 0.9], "y": [1.0, 2.0, 3.0]}),
    pd.DataFrame({"x": [0.6], "y": [10.0]}),
    pd.DataFrame({"x": [0.2, 0.3], "y": [5.0, 6.0]}),
]


def frame() -> DataFrame:
    return DataFrame(example=CHUNKS[0].iloc[:0])


def test_a_filtered_column_runs_as_one_node_after_the_source():
    sdf = frame()
    picked = sdf[sdf.x > 0.5].y
    out = picked.stream.sink_to_list()
    totals = picked.sum().stream.sink_to_list()
    for chunk in CHUNKS:
        sdf.emit(chunk)
    # one map node computes mask and selection; sink and sum hang off it
    assert len(sdf.stream.downstreams) == 1
    (node,) = sdf.stream.downstreams
    assert "getitem" in str(node)
    for got, chunk in zip(out, CHUNKS, strict=True):
        assert_series_equal(got, chunk.y[chunk.x > 0.5])
    assert totals == [5.0, 15.0, 15.0]


def test_an_unused_expression_adds_no_node():
    sdf = frame()
    unused = (sdf.x + 1) * sdf.y
    assert list(sdf.stream.downstreams) == []
    assert unused.example.dtype == np.float64


def test_a_used_intermediate_keeps_its_own_node_and_both_results_are_right():
    sdf = frame()
    mask = sdf.x > 0.5
    masks = mask.stream.sink_to_list()
    ys = sdf.y[mask].stream.sink_to_list()
    for chunk in CHUNKS:
        sdf.emit(chunk)
    for got, chunk in zip(masks, CHUNKS, strict=True):
        assert_series_equal(got, chunk.x > 0.5)
    for got, chunk in zip(ys, CHUNKS, strict=True):
        assert_series_equal(got, chunk.y[chunk.x > 0.5])


def test_frames_of_different_sources_are_zipped_chunk_by_chunk():
    a, b = frame(), frame()
    sums = (a.x + b.y).stream.sink_to_list()
    a.emit(CHUNKS[0])
    assert sums == []  # waits for the other source's chunk
    b.emit(CHUNKS[0])
    assert_series_equal(sums[0], CHUNKS[0].x + CHUNKS[0].y)


def test_an_error_in_a_fused_step_names_the_node_and_loses_no_accepted_state():
    example = pd.DataFrame({"x": [1.0], "d": pd.Series([1.0], dtype=object)})
    sdf = DataFrame(example=example.iloc[:0])
    totals = (sdf.x / sdf.d).sum().stream.sink_to_list()
    sdf.emit(example.assign(x=2.0, d=[4.0]))
    with pytest.raises(TypeError) as info:
        sdf.emit(example.assign(d=["text"]))  # an object column accepts any values
    assert "truediv" in str(info.value) + " ".join(getattr(info.value, "__notes__", []))
    sdf.emit(example.assign(x=3.0, d=[2.0]))
    assert totals == [0.5, 2.0]


@pytest.mark.parametrize(
    "columns",
    [
        pd.Index(["x", "x", "y"]),  # a duplicated label selects two columns
        pd.MultiIndex.from_tuples([("x", "a"), ("x", "b"), ("y", "a")]),
    ],
)
def test_column_selection_matches_pandas_for_duplicate_and_multi_level_labels(columns):
    chunk = pd.DataFrame(np.arange(6.0).reshape(2, 3), columns=columns)
    sdf = DataFrame(example=chunk.iloc[:0])
    out = sdf["x"].stream.sink_to_list()
    sdf.emit(chunk)
    pd.testing.assert_frame_equal(out[0], chunk["x"])


def test_unchecked_chunks_with_reordered_columns_still_select_by_label():
    sdf = frame()
    ys = sdf.y.stream.sink_to_list()
    sdf.stream.emit(CHUNKS[0][["y", "x"]])  # bypasses the check
    assert_series_equal(ys[0], CHUNKS[0].y)


def test_the_check_is_exact_without_the_fast_label_path(monkeypatch):
    monkeypatch.setattr(frame_core, "_labels", lambda columns: None)
    sdf = frame()
    totals = sdf.y.sum().stream.sink_to_list()
    sdf.emit(CHUNKS[0])
    with pytest.raises(SchemaError, match="another order"):
        sdf.emit(CHUNKS[0][["y", "x"]])
    with pytest.raises(TypeError, match="column 'y' has dtype int64"):
        sdf.emit(CHUNKS[0].astype({"y": "int64"}))
    assert totals == [6.0]


def test_same_labels_of_another_index_type_are_accepted():
    sdf = frame()
    out = sdf.y.sum().stream.sink_to_list()
    chunk = CHUNKS[1].copy()
    chunk.columns = pd.Index(["x", "y"], dtype=object)
    sdf.emit(chunk)
    assert out == [10.0]


def test_a_lazy_frame_can_be_emitted_into_and_used_as_a_stream():
    source = Stream()
    sdf = DataFrame(example=CHUNKS[0].iloc[:0], stream=source)
    doubled = sdf.x * 2
    got = doubled.stream.sink_to_list()
    doubled.emit(pd.Series([1.0], name="x"))  # into the fused node itself
    source.emit(CHUNKS[1])
    assert [s.tolist() for s in got] == [[1.0], [1.2]]
