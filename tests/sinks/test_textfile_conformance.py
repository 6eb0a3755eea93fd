"""Stream.sink_to_textfile passes the sink conformance check (streams/sinks/basic.py)."""

import pytest

from streams.testing import check_sink


def lines_of(path):
    def read_back():
        return path.read_text().splitlines() if path.exists() else []

    return read_back


@pytest.mark.real_time
async def test_sink_to_textfile_conformance(tmp_path):
    path = tmp_path / "out.txt"
    await check_sink(lambda s: s.sink_to_textfile(path), lines_of(path), ["a", "b", "c", "d"])


@pytest.mark.real_time
async def test_sink_to_textfile_conformance_with_an_open_file(tmp_path):
    path = tmp_path / "out.txt"
    f = open(path, "w")  # noqa: SIM115 -- the sink closes it on destroy()
    await check_sink(lambda s: s.sink_to_textfile(f), lines_of(path), ["x", "y", "z"])
    assert f.closed


@pytest.mark.real_time
async def test_sink_to_textfile_conformance_with_a_custom_end(tmp_path):
    path = tmp_path / "out.csv"

    def read_back():
        return path.read_text().split(";") if path.exists() else []

    await check_sink(
        lambda s: s.map(str).sink_to_textfile(path, end=";", mode="w"),
        read_back,
        [1, 2, 3],
        expect=str,
    )
