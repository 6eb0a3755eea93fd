"""Stream.from_textfile and Stream.filenames (streams/sources/files.py)."""

import asyncio
import io
import os

import pytest
from helpers import stop, until

from streams import Source, Stream
from streams.sources.files import Filenames, FromTextFile
from streams.testing import check_source

ITEMS = [f"line {i}" for i in range(8)]


def append(path, text, mode="a"):
    with open(path, mode) as f:
        f.write(text)


# ------------------------------------------------------------------ from_textfile


@pytest.mark.real_time
async def test_from_textfile_conformance(tmp_path):
    path = tmp_path / "log.txt"
    path.touch()

    def produce(items):
        append(path, "".join(f"{x}\n" for x in items))

    await check_source(
        lambda: Stream.from_textfile(path, poll_interval=0.01),
        produce,
        ITEMS,
        expect=lambda x: x + "\n",
    )


@pytest.mark.real_time
async def test_from_textfile_conformance_with_an_open_file(tmp_path):
    path = tmp_path / "log.txt"
    path.touch()
    with open(path) as f:
        await check_source(
            lambda: Stream.from_textfile(f, poll_interval=0.01),
            lambda items: append(path, "".join(f"{x}\n" for x in items)),
            ITEMS,
            expect=lambda x: x + "\n",
        )
        assert not f.closed  # the caller's file stays open


def test_builds_a_source_that_does_not_start_by_itself(tmp_path):
    path = tmp_path / "log.txt"
    path.touch()
    source = Stream.from_textfile(path)
    assert isinstance(source, FromTextFile) and isinstance(source, Source)
    assert source._describe() == f"from_textfile<{path}>"
    assert source.poll_interval == 0.1 and source.delimiter == "\n"
    assert not source.from_end and not source.started
    assert Stream.from_textfile(str(path), poll_interval="250ms").poll_interval == 0.25


async def test_reads_what_is_there_then_what_is_appended(tmp_path):
    path = tmp_path / "log.txt"
    append(path, "a\nb\n")
    source = Stream.from_textfile(path, poll_interval=0.5)
    out = source.sink_to_list()
    await asyncio.sleep(1)
    assert out == []  # nothing before start
    source.start()
    await until(lambda: out == ["a\n", "b\n"])
    append(path, "c\n")
    await until(lambda: len(out) == 3)
    assert out == ["a\n", "b\n", "c\n"]
    await stop(source)


async def test_start_true_starts_at_once(tmp_path):
    path = tmp_path / "log.txt"
    append(path, "a\n")
    source = Stream.from_textfile(path, start=True)
    out = source.sink_to_list()
    await until(lambda: out == ["a\n"])
    await stop(source)


async def test_from_end_emits_only_what_is_appended_after_start(tmp_path):
    path = tmp_path / "log.txt"
    append(path, "old 1\nold 2\n")
    source = Stream.from_textfile(path, from_end=True, poll_interval=0.1)
    out = source.sink_to_list()
    append(path, "before start\n")  # still before start: skipped too
    source.start()
    await asyncio.sleep(0.5)
    append(path, "new\n")
    await until(lambda: out == ["new\n"])
    await stop(source)


async def test_a_partial_line_is_held_until_its_delimiter_arrives(tmp_path):
    path = tmp_path / "log.txt"
    append(path, "whole\npart")
    source = Stream.from_textfile(path, poll_interval=0.1)
    out = source.sink_to_list()
    source.start()
    await until(lambda: out == ["whole\n"])
    await asyncio.sleep(1)
    assert out == ["whole\n"]
    append(path, "ial")
    await asyncio.sleep(1)
    assert out == ["whole\n"]
    append(path, " line\nnext")
    await until(lambda: out == ["whole\n", "partial line\n"])
    await stop(source)


@pytest.mark.parametrize(
    ("delimiter", "text", "expected"),
    [
        (";", "a;b;c", ["a;", "b;"]),
        ("\r\n", "x\r\ny\nz\r\n", ["x\r\n", "y\nz\r\n"]),
        ("¶", "un¶deux¶", ["un¶", "deux¶"]),
    ],
)
async def test_custom_delimiters_stay_at_the_end_of_each_chunk(
    tmp_path, delimiter, text, expected
):
    path = tmp_path / "data.txt"
    path.write_bytes(text.encode())
    source = Stream.from_textfile(path, delimiter=delimiter, start=True)
    out = source.sink_to_list()
    await until(lambda: len(out) == len(expected))
    await asyncio.sleep(1)
    assert out == expected
    await stop(source)


async def test_undecodable_lines_are_rejected_with_their_position(tmp_path):
    path = tmp_path / "data.log"
    path.write_bytes(b"ok\n\xff\xfe bad\nnext\n")
    source = Stream.from_textfile(path, start=True)
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    await until(lambda: len(out) == 2)
    assert out == ["ok\n", "next\n"]
    [record] = errors
    assert isinstance(record.error, UnicodeDecodeError)
    assert record.element == b"\xff\xfe bad\n"
    assert record.node is source
    assert f"at file {path}, line 2" in record.error.__notes__
    await stop(source)


async def test_an_encoding_decodes_the_bytes(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("café\n".encode("latin-1"))
    source = Stream.from_textfile(path, encoding="latin-1", start=True)
    out = source.sink_to_list()
    await until(lambda: out == ["café\n"])
    await stop(source)


async def test_a_binary_file_object_is_decoded(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes("é\nz".encode())
    with open(path, "rb") as f:
        source = Stream.from_textfile(f, start=True)
        out = source.sink_to_list()
        await until(lambda: out == ["é\n"])
        await stop(source)
        assert not f.closed
        assert source._describe() == f"from_textfile<{path}>"


async def test_a_restarted_source_goes_on_where_it_stopped(tmp_path):
    path = tmp_path / "log.txt"
    append(path, "a\nb\n")
    source = Stream.from_textfile(path, poll_interval=0.1)
    out = source.sink_to_list()
    source.start()
    await until(lambda: len(out) == 2)
    await stop(source)
    append(path, "c\n")
    await asyncio.sleep(0.5)
    assert out == ["a\n", "b\n"]
    source.start()
    await until(lambda: len(out) == 3)
    await asyncio.sleep(0.5)
    assert out == ["a\n", "b\n", "c\n"]
    await stop(source)


async def test_lines_split_off_but_not_emitted_wait_for_the_next_start(tmp_path):
    path = tmp_path / "log.txt"
    append(path, "".join(f"{i}\n" for i in range(5)))
    source = Stream.from_textfile(path)
    out = source.sink_to_list()

    def stop_at_two(x):
        if x == "1\n":
            source.stop()

    source.sink(stop_at_two)
    source.start()
    await source.wait()
    assert out == ["0\n", "1\n"]
    source.start()
    await until(lambda: len(out) == 5)
    assert out == [f"{i}\n" for i in range(5)]
    await stop(source)


async def test_a_file_truncated_in_place_is_read_from_its_start(tmp_path):
    path = tmp_path / "log.txt"
    append(path, "first old line\nsecond old line\n")
    source = Stream.from_textfile(path, poll_interval=0.1, start=True)
    out = source.sink_to_list()
    await until(lambda: len(out) == 2)
    append(path, "new\n", mode="w")
    await until(lambda: len(out) == 3)
    assert out[2] == "new\n"
    await stop(source)


async def test_stop_ends_the_poll_at_once(tmp_path):
    path = tmp_path / "log.txt"
    path.touch()
    source = Stream.from_textfile(path, poll_interval=3600, start=True)
    await asyncio.sleep(1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await stop(source)
    assert loop.time() == began  # virtual clock: no time passed


async def test_an_in_memory_file_is_read_too():
    source = Stream.from_textfile(io.StringIO("a\nb\nc"), start=True)
    out = source.sink_to_list()
    await until(lambda: out == ["a\n", "b\n"])
    await stop(source)


def test_pipes_are_refused_because_reading_them_would_block(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"not a regular file .*from_process"):
        Stream.from_textfile(fifo)
    r, w = os.pipe()
    with (
        open(r) as reader,
        open(w, "w"),
        pytest.raises(ValueError, match="not a regular file"),
    ):
        Stream.from_textfile(reader)


def test_bad_arguments_are_refused_at_build_time(tmp_path):
    path = tmp_path / "log.txt"
    path.touch()
    with pytest.raises(FileNotFoundError, match="from_textfile: no such file"):
        Stream.from_textfile(tmp_path / "missing.txt")
    with pytest.raises(IsADirectoryError, match="from_textfile"):
        Stream.from_textfile(tmp_path)
    with pytest.raises(TypeError, match="from_textfile: f must be a path or an open file"):
        Stream.from_textfile(42)
    with pytest.raises(ValueError, match="from_textfile: delimiter"):
        Stream.from_textfile(path, delimiter="")
    with pytest.raises(ValueError, match="from_textfile: encoding must be ASCII-compatible"):
        Stream.from_textfile(path, encoding="utf-16")
    with pytest.raises(ValueError, match="from_textfile: unknown encoding"):
        Stream.from_textfile(path, encoding="klingon")
    with pytest.raises(ValueError, match="from_textfile"):
        Stream.from_textfile(path, poll_interval=0)


# ------------------------------------------------------------------ filenames


@pytest.mark.real_time
async def test_filenames_conformance(tmp_path):
    def produce(items):
        for name in items:
            (tmp_path / name).touch()

    await check_source(
        lambda: Stream.filenames(tmp_path, poll_interval=0.01),
        produce,
        [f"file{i}.txt" for i in range(8)],
        expect=lambda name: str(tmp_path / name),
    )


def test_filenames_builds_a_source(tmp_path):
    source = Stream.filenames(tmp_path)
    assert isinstance(source, Filenames) and isinstance(source, Source)
    assert source._describe() == f"filenames<{tmp_path}>"
    assert source.pattern == os.path.join(str(tmp_path), "*")
    assert source.poll_interval == 0.1 and not source.started
    glob = Stream.filenames(f"{tmp_path}/*.csv", poll_interval="1s")
    assert glob.pattern == f"{tmp_path}/*.csv" and glob.poll_interval == 1.0


async def test_a_directory_emits_every_entry_once_in_sorted_order(tmp_path):
    for name in ["b", "c", "a"]:
        (tmp_path / name).touch()
    source = Stream.filenames(str(tmp_path), poll_interval=0.1, start=True)
    out = source.sink_to_list()
    await until(lambda: len(out) == 3)
    assert out == [str(tmp_path / x) for x in ["a", "b", "c"]]
    (tmp_path / "d").touch()
    await until(lambda: len(out) == 4)
    await asyncio.sleep(1)  # ten more polls: nothing twice
    assert out == [str(tmp_path / x) for x in ["a", "b", "c", "d"]]
    await stop(source)


async def test_a_glob_emits_only_matching_files(tmp_path):
    for name in ["x.csv", "y.txt", "z.csv"]:
        (tmp_path / name).touch()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.csv").touch()
    source = Stream.filenames(tmp_path / "*.csv", poll_interval=0.1, start=True)
    out = source.sink_to_list()
    await until(lambda: len(out) == 2)
    (tmp_path / "w.txt").touch()
    (tmp_path / "new.csv").touch()
    await until(lambda: len(out) == 3)
    await asyncio.sleep(1)
    assert out == [str(tmp_path / x) for x in ["x.csv", "z.csv", "new.csv"]]
    await stop(source)

    deep = Stream.filenames(f"{tmp_path}/**/*.csv", start=True)
    found = deep.sink_to_list()
    await until(lambda: len(found) == 4)
    assert str(tmp_path / "sub" / "deep.csv") in found
    await stop(deep)


async def test_a_directory_created_after_build_is_listed(tmp_path):
    folder = tmp_path / "later"
    source = Stream.filenames(folder, poll_interval=0.1, start=True)
    out = source.sink_to_list()
    await asyncio.sleep(0.5)
    folder.mkdir()
    (folder / "f").touch()
    await until(lambda: out == [str(folder / "f")])
    await stop(source)


async def test_filenames_restarted_emits_only_new_names(tmp_path):
    (tmp_path / "a").touch()
    source = Stream.filenames(tmp_path, poll_interval=3600, start=True)
    out = source.sink_to_list()
    await until(lambda: len(out) == 1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await stop(source)  # the hour-long poll ends at once
    assert loop.time() == began
    (tmp_path / "b").touch()
    source.start()
    await until(lambda: len(out) == 2)
    assert out == [str(tmp_path / "a"), str(tmp_path / "b")]
    await stop(source)


def test_filenames_refuses_bad_arguments():
    with pytest.raises(TypeError, match="filenames: path"):
        Stream.filenames(3)
    with pytest.raises(ValueError, match="filenames: path must not be empty"):
        Stream.filenames("")
    with pytest.raises(ValueError, match="filenames"):
        Stream.filenames("*.txt", poll_interval=-1)
