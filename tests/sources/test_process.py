"""Stream.from_process (streams/sources/process.py): real child processes."""

import asyncio
import os
import signal
import subprocess
import sys
import threading

import pytest
from helpers import until

import streams.sources.process as process_module
from streams import Source, Stream
from streams.sources.process import FromProcess
from streams.testing import check_source

PY = sys.executable

# A child that prints every line appended to the file named by argv[1], like `tail -f`.
TAIL = """
import sys, time

buffered = ""
with open(sys.argv[1]) as f:
    while True:
        buffered += f.read()
        *lines, buffered = buffered.split("\\n")
        for line in lines:
            print(line, flush=True)
        time.sleep(0.01)
"""

pytestmark = pytest.mark.real_time


def python(code, *args):
    return [PY, "-c", code, *args]


async def run_to_end(source):
    """Start ``source`` and wait until the process exited; return (lines, error records)."""
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await asyncio.wait_for(source.wait(), 10)
    return out, errors


async def test_from_process_conformance(tmp_path):
    feed = tmp_path / "feed.txt"
    feed.touch()

    def produce(items):
        with open(feed, "a") as f:
            f.write("".join(f"{x}\n" for x in items))

    await check_source(
        lambda: Stream.from_process(python(TAIL, str(feed))),
        produce,
        [f"item {i}" for i in range(8)],
        expect=lambda x: f"{x}\n".encode(),
    )


def test_builds_a_source_that_does_not_start_by_itself():
    source = Stream.from_process(["echo", "hi"])
    assert isinstance(source, FromProcess) and isinstance(source, Source)
    assert source._describe() == "from_process<echo hi>"
    assert Stream.from_process("ls -l 'my dir'")._describe() == "from_process<ls -l 'my dir'>"
    assert not source.started and source.process is None
    assert source.with_end and not source.with_stderr and source.open_kwargs == {}


async def test_emits_each_line_as_bytes_with_its_newline():
    out, errors = await run_to_end(
        Stream.from_process(python("for i in range(3): print(i)\nprint('last', end='')"))
    )
    assert out == [b"0\n", b"1\n", b"2\n", b"last"]
    assert errors == []


async def test_with_end_false_emits_complete_lines_only():
    source = Stream.from_process(python("print('a'); print('tail', end='')"), with_end=False)
    out, _ = await run_to_end(source)
    assert out == [b"a\n"]


async def test_a_string_command_is_split_like_streamz_does():
    out, _ = await run_to_end(Stream.from_process(f"{PY} -c \"print('x y')\""))
    assert out == [b"x y\n"]


async def test_shell_true_runs_the_command_through_the_shell():
    source = Stream.from_process("echo one; echo two | tr a-z A-Z", open_kwargs={"shell": True})
    out, _ = await run_to_end(source)
    assert out == [b"one\n", b"TWO\n"]


async def test_stderr_is_left_out_unless_merged():
    code = "import sys\nprint('out', flush=True)\nprint('err', file=sys.stderr, flush=True)"
    quiet = Stream.from_process(python(code), open_kwargs={"stderr": subprocess.DEVNULL})
    out, _ = await run_to_end(quiet)
    assert out == [b"out\n"]
    merged = Stream.from_process(python(code), with_stderr=True)
    out, _ = await run_to_end(merged)
    assert out == [b"out\n", b"err\n"]


async def test_open_kwargs_reach_the_process(tmp_path):
    env = {"GREETING": "hello"}
    code = "import os; print(os.getcwd()); print(os.environ['GREETING'])"
    source = Stream.from_process(python(code), open_kwargs={"cwd": tmp_path, "env": env})
    out, _ = await run_to_end(source)
    assert out == [f"{tmp_path}\n".encode(), b"hello\n"]


async def test_lines_longer_than_the_read_limit_arrive_whole():
    code = "print('x' * 100); print('y' * 50, end='')"
    out, _ = await run_to_end(Stream.from_process(python(code), open_kwargs={"limit": 16}))
    assert out == [b"x" * 100 + b"\n", b"y" * 50]


async def test_a_process_that_exits_by_itself_makes_the_source_done():
    source = Stream.from_process(python("print('bye')"))
    out, errors = await run_to_end(source)
    assert out == [b"bye\n"] and errors == []
    assert source.done and source.stopped
    assert source.process.returncode == 0


async def test_a_nonzero_exit_status_goes_to_the_error_channel():
    cmd = python("import sys; print('partial work'); sys.exit(3)")
    source = Stream.from_process(cmd)
    out, errors = await run_to_end(source)
    assert out == [b"partial work\n"]
    [record] = errors
    assert isinstance(record.error, subprocess.CalledProcessError)
    assert record.error.returncode == 3 and record.error.cmd == cmd
    assert "returned non-zero exit status 3" in str(record.error)
    assert record.node is source
    assert any(source._describe() in note for note in record.error.__notes__)


async def test_a_missing_program_goes_to_the_error_channel():
    source = Stream.from_process(["no-such-program-for-streams-tests"])
    out, errors = await run_to_end(source)
    assert out == []
    [record] = errors
    assert isinstance(record.error, FileNotFoundError)
    assert any("cannot run no-such-program" in note for note in record.error.__notes__)


async def test_stop_terminates_the_process_quickly_and_reports_nothing():
    code = "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.01)"
    source = Stream.from_process(python(code))
    out = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await until(lambda: len(out) >= 3)
    source.stop()
    await asyncio.wait_for(source.wait(), 2)
    assert source.process.returncode == -signal.SIGTERM
    assert errors == []
    seen = len(out)
    await asyncio.sleep(0.2)
    assert len(out) == seen


async def test_stop_while_the_consumer_is_busy_ends_the_process_too():
    gate = asyncio.Event()

    async def slow(x):
        await gate.wait()

    source = Stream.from_process(python("for i in range(100000): print(i)"))
    source.sink(slow)
    source.start()
    await until(lambda: source.process is not None)
    await asyncio.sleep(0.2)
    source.stop()
    gate.set()
    await asyncio.wait_for(source.wait(), 2)
    assert source.process.returncode is not None


async def test_stop_from_another_thread():
    source = Stream.from_process(python("import time; time.sleep(60)"))
    source.start()
    await until(lambda: source.process is not None)
    thread = threading.Thread(target=source.stop)
    thread.start()
    thread.join()
    await asyncio.wait_for(source.wait(), 2)
    assert source.process.returncode == -signal.SIGTERM


async def test_a_process_that_ignores_sigterm_is_killed(monkeypatch):
    monkeypatch.setattr(process_module, "TERMINATE_GRACE", 0.2)
    code = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\ntime.sleep(60)"
    )
    source = Stream.from_process(python(code))
    out = source.sink_to_list()
    source.start()
    await until(lambda: out == [b"ready\n"])
    source.stop()
    await asyncio.wait_for(source.wait(), 5)
    assert source.process.returncode == -signal.SIGKILL


async def test_a_process_that_closes_its_output_is_waited_for_until_stop():
    code = "import os, time\nprint('only', flush=True)\nos.close(1)\ntime.sleep(60)"
    source = Stream.from_process(python(code))
    out = source.sink_to_list()
    source.start()
    await until(lambda: out == [b"only\n"])
    await asyncio.sleep(0.3)
    assert not source.done  # the program still runs
    source.stop()
    await asyncio.wait_for(source.wait(), 2)
    assert source.done


async def test_stop_ends_a_source_whose_output_a_left_over_child_holds(monkeypatch):
    monkeypatch.setattr(process_module, "PIPE_GRACE", 0.1)
    source = Stream.from_process("sleep 30 & echo $!", open_kwargs={"shell": True})
    out = source.sink_to_list()
    source.start()
    await until(lambda: len(out) == 1)
    orphan = int(out[0])
    try:
        await until(lambda: source.process.returncode == 0)
        await asyncio.sleep(0.3)
        assert not source.done  # the shell exited, but `sleep` may still print
        source.stop()
        await asyncio.wait_for(source.wait(), 2)
    finally:
        os.kill(orphan, signal.SIGKILL)


async def test_a_restart_runs_the_program_again():
    source = Stream.from_process(python("print('run')"))
    out, _ = await run_to_end(source)
    source.start()
    await asyncio.wait_for(source.wait(), 10)
    assert out == [b"run\n", b"run\n"]


def test_bad_arguments_are_refused_at_build_time():
    with pytest.raises(ValueError, match="from_process: cmd is empty"):
        Stream.from_process([])
    with pytest.raises(ValueError, match="from_process: cmd is empty"):
        Stream.from_process("   ")
    with pytest.raises(TypeError, match="from_process: cmd must be"):
        Stream.from_process(42)
    with pytest.raises(TypeError, match="from_process: cmd must be"):
        Stream.from_process(["echo", 1])
    with pytest.raises(ValueError, match="open_kwargs cannot set 'stdout'"):
        Stream.from_process(["echo"], open_kwargs={"stdout": None})
    with pytest.raises(ValueError, match="open_kwargs cannot set 'stderr'"):
        Stream.from_process(["echo"], open_kwargs={"stderr": None}, with_stderr=True)
