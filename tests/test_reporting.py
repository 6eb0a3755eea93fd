"""Where the error of work under way goes, and that it goes there once (issue 8).

The work an ``emit`` leaves pending inside a running loop (an async sink, say) is a
task (:class:`~streams.runtime.PendingEmit`) that runs whether or not it is awaited. Its
failure belongs to whoever watches the task (awaits, gathers or waits on it, asks for its
result); only if nobody does does it go to the graph's error channel: an error stream, or
the ``streams`` logger at once and the next ``drain()``.
"""

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import streams
from streams import ErrorRecord, Stream

ELEMENTS = ["pear", "apple", "plum", "fig"]
"""Elements emitted; the sink fails for ``"apple"`` only."""

SINK = "disk writer"
"""The failing sink's name: messages name a node by its name when it has one."""


async def write(x: str) -> None:
    """An async sink that fails for one element, with a message not naming it."""
    await asyncio.sleep(0)
    if x == "apple":
        raise OSError("disk full")


def streams_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "streams" and r.levelno >= logging.ERROR]


def shown(record: logging.LogRecord) -> str:
    """The record as a logging handler prints it (message, traceback and its notes)."""
    return logging.Formatter().format(record)


class Signal(logging.Handler):
    """A handler on the ``streams`` logger that keeps its records and sets ``arrived``."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.arrived.set()


# ------------------------------------------------------------------ watched work (defect 6)
#
# Each watcher receives the failure of the emits it watches the way asyncio delivers it,
# and returns it.


async def by_gather(tasks: list[Any]) -> BaseException:
    with pytest.raises(OSError, match="disk full") as info:
        await asyncio.gather(*tasks)
    return info.value


async def by_gather_returning_exceptions(tasks: list[Any]) -> BaseException:
    results = await asyncio.gather(*tasks, return_exceptions=True)
    (failure,) = [r for r in results if isinstance(r, BaseException)]
    return failure


async def by_wait_then_result(tasks: list[Any]) -> BaseException:
    _, pending = await asyncio.wait(tasks)
    assert not pending
    failed = tasks[ELEMENTS.index("apple")]
    for task in tasks:
        if task is not failed:
            assert task.result() is None
    with pytest.raises(OSError, match="disk full") as info:
        failed.result()
    return info.value


async def by_wait_first_exception(tasks: list[Any]) -> BaseException:
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    (failure,) = [t.exception() for t in done if t.exception() is not None]
    assert failure is not None
    await asyncio.wait(tasks)  # the rest, so the graph is idle for the drain below
    return failure


async def by_as_completed(tasks: list[Any]) -> BaseException:
    failures = []
    for next_done in asyncio.as_completed(tasks):
        try:
            await next_done
        except OSError as exc:
            failures.append(exc)
    (failure,) = failures
    return failure


WATCHERS: list[Callable[[list[Any]], Awaitable[BaseException]]] = [
    by_gather,
    by_gather_returning_exceptions,
    by_wait_then_result,
    by_wait_first_exception,
    by_as_completed,
]


@pytest.mark.parametrize("watch", WATCHERS, ids=lambda w: w.__name__)
async def test_a_watched_emit_failure_reaches_its_watcher_only(watch, caplog):
    source = Stream()
    source.sink(write, stream_name=SINK)
    tasks = [source.emit(x) for x in ELEMENTS]
    assert all(isinstance(t, asyncio.Future) for t in tasks)  # pending: the sink awaits

    failure = await watch(tasks)

    assert isinstance(failure, OSError)
    assert f"in {SINK} (element 'apple')" in failure.__notes__
    assert streams_errors(caplog) == []  # not also logged as work nobody watched
    await source.drain()  # and not raised a second time


@pytest.mark.parametrize("watch", WATCHERS, ids=lambda w: w.__name__)
async def test_a_watched_emit_failure_does_not_reach_the_error_stream(watch, caplog):
    source = Stream()
    source.sink(write, stream_name=SINK)
    problems = source.errors().sink_to_list()

    await watch([source.emit(x) for x in ELEMENTS])

    await source.drain()
    assert problems == []  # errors raised to an emitter are not repeated there
    assert streams_errors(caplog) == []


# ------------------------------------------------------------------ unwatched work


async def test_unwatched_background_failure_is_logged_at_once_naming_node_and_element():
    log = logging.getLogger("streams")
    signal = Signal()
    log.addHandler(signal)
    try:
        source = Stream()
        source.sink(write, stream_name=SINK)
        for x in ELEMENTS:
            source.emit(x)  # fire and forget, as a callback or a notebook cell would
        # Virtual time: if nothing is logged, the loop goes idle and the wait times out.
        await asyncio.wait_for(signal.arrived.wait(), timeout=60)

        (record,) = signal.records  # before any drain()
        assert record.levelno == logging.ERROR
        assert SINK in record.getMessage()
        assert f"in {SINK} (element 'apple')" in shown(record)
        assert "OSError: disk full" in shown(record)

        with pytest.raises(OSError, match="disk full"):
            await source.drain()  # kept for drain, which raises it once
        await source.drain()
        assert len(signal.records) == 1  # logged once
    finally:
        log.removeHandler(signal)


async def test_unwatched_background_failure_reaches_the_error_stream_once(caplog):
    source = Stream()
    sink = source.sink(write, stream_name=SINK)
    received = asyncio.Event()
    problems: list[ErrorRecord] = []
    source.errors().sink(lambda r: (problems.append(r), received.set()))

    for x in ELEMENTS:
        source.emit(x)
    await asyncio.wait_for(received.wait(), timeout=60)  # before any drain()

    (problem,) = problems
    assert problem.node is sink
    assert problem.element == "apple"
    assert isinstance(problem.error, OSError)
    await source.drain()  # an error stream took it: nothing left to raise
    assert len(problems) == 1
    assert streams_errors(caplog) == []


async def test_drain_counts_every_unwatched_failure_not_just_those_kept(caplog):
    async def always_fail(x: int) -> None:
        await asyncio.sleep(0)
        raise ValueError(f"bad {x}")

    source = Stream()
    source.sink(always_fail)
    for x in range(1000):
        source.emit(x)

    with pytest.raises(ValueError, match="bad 0") as info:
        await source.drain()

    assert "(999 more errors since the last drain)" in info.value.__notes__
    assert len(streams_errors(caplog)) == 1000  # each one was logged
    await source.drain()  # the count starts again


# ------------------------------------------------------------------ a graph outlives asyncio.run


def run_script(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a script in a fresh interpreter importing the ``streams`` under
    test."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    repo = Path(streams.__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(repo))
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )


ADVICE = "build it afresh for each asyncio.run()"


@pytest.mark.parametrize("emit_again", [True, False], ids=["emit", "drain-only"])
def test_a_module_level_graph_in_a_second_asyncio_run_works_or_says_what_to_do(
    tmp_path, emit_again
):
    done = run_script(
        tmp_path,
        f"""
        import asyncio
        from streams import Stream

        source = Stream()
        windows = source.timed_window(0.01).sink_to_list()  # a timer: binds to a loop

        async def main(n):
            if n == 1 or {emit_again}:
                for i in range(3):
                    await source.emit((n, i))
            await source.drain()

        asyncio.run(main(1))
        print("first", windows, flush=True)
        asyncio.run(main(2))
        print("second", windows, flush=True)
        """,
    )
    first = "first [[(1, 0), (1, 1), (1, 2)]]\n"
    if done.returncode == 0:
        assert done.stderr == ""
        assert done.stdout.startswith(first)
    else:
        assert done.stdout == first
        last_line = done.stderr.strip().splitlines()[-1]
        assert last_line.startswith("RuntimeError: "), done.stderr
        assert ADVICE in last_line, done.stderr
        assert "never awaited" not in done.stderr


def test_a_module_level_graph_without_timers_works_in_a_second_asyncio_run(tmp_path):
    done = run_script(
        tmp_path,
        """
        import asyncio
        from streams import Stream

        written = []

        async def write(x):
            await asyncio.sleep(0)
            written.append(x)

        source = Stream()
        source.map(str).sink(write)

        async def main(n):
            for i in range(2):
                await source.emit(n * 10 + i)
            await source.drain()

        asyncio.run(main(1))
        asyncio.run(main(2))
        print(written)
        """,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "['10', '11', '20', '21']\n"
