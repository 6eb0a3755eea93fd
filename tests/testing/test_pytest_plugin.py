"""The pytest plugin (streams/testing/pytest_plugin.py), run in a pytest subprocess."""

import json
import re
import subprocess
import sys
import textwrap

import pytest

PLUGIN = "streams.testing.pytest_plugin"

TESTS = """
import asyncio
import json
import pathlib

import pytest

from streams import Stream
from streams.testing import VirtualTimeLoop, timeline

REPORT = pathlib.Path(__file__).with_name("report.jsonl")


def report(**fields):
    with REPORT.open("a") as f:
        f.write(json.dumps(fields) + "\\n")


@pytest.fixture
def answer():
    return 42


@pytest.fixture
def events():
    return [(0.5, "a"), (2.0, "b")]


async def test_virtual(answer):
    loop = asyncio.get_running_loop()
    before = loop.time()
    await asyncio.sleep(3600)
    report(
        test="virtual",
        loop=type(loop).__name__,
        virtual=isinstance(loop, VirtualTimeLoop),
        before=before,
        after=loop.time(),
        answer=answer,
    )


async def test_graph_on_virtual_time(events):
    source = Stream()
    out = timeline(source.delay(1.0))
    for when, x in events:
        await asyncio.sleep(when - asyncio.get_running_loop().time())
        await source.emit(x)
    await asyncio.sleep(5)
    report(test="graph", out=out)


@pytest.mark.parametrize("n", [1, 2])
async def test_parametrized(n, answer, tmp_path):
    report(test="parametrized", n=n, answer=answer, tmp=tmp_path.is_dir())


@pytest.mark.real_time
async def test_real():
    loop = asyncio.get_running_loop()
    before = loop.time()
    await asyncio.sleep(0.01)
    report(
        test="real",
        loop=type(loop).__name__,
        virtual=isinstance(loop, VirtualTimeLoop),
        advanced=loop.time() - before >= 0.01,
    )


async def test_fails():
    await asyncio.sleep(1)
    assert 1 == 2, "async failure seen"


async def test_raises():
    await asyncio.sleep(1)
    raise KeyError("async error seen")


@pytest.mark.real_time
async def test_real_fails():
    await asyncio.sleep(0)
    assert False, "real-time failure seen"


def test_sync(answer):
    report(test="sync", answer=answer)
"""


def run_pytest(directory, *args):
    """Run pytest on ``directory`` in a subprocess; return (exit code, {test: outcome}, output)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(directory),
            "-v",
            "-p",
            "no:cacheprovider",
            "--strict-markers",
            "-W",
            "error",
            f"--rootdir={directory}",
            "-c",
            str(directory / "pytest.ini"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=directory,
    )
    outcomes = dict(re.findall(r"::(\S+) (PASSED|FAILED|SKIPPED|ERROR)", proc.stdout))
    return proc.returncode, outcomes, proc.stdout + proc.stderr


def read_report(directory):
    path = directory / "report.jsonl"
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {(row.pop("test"), row.get("n")): row for row in rows}


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("plugin")
    (directory / "pytest.ini").write_text("[pytest]\n")
    (directory / "test_sample.py").write_text(textwrap.dedent(TESTS))
    code, outcomes, output = run_pytest(directory, "-p", PLUGIN)
    return code, outcomes, output, read_report(directory)


def test_async_tests_run_on_virtual_time(plugin_run):
    _, outcomes, output, report = plugin_run
    assert outcomes["test_virtual"] == "PASSED", output
    assert report[("virtual", None)] == {
        "loop": "VirtualTimeLoop",
        "virtual": True,
        "before": 0.0,
        "after": 3600.0,
        "answer": 42,
    }


def test_a_graph_runs_on_the_virtual_clock(plugin_run):
    _, outcomes, output, report = plugin_run
    assert outcomes["test_graph_on_virtual_time"] == "PASSED", output
    assert report[("graph", None)] == {"out": [[1.5, "a"], [3.0, "b"]]}


def test_fixtures_and_parameters_are_passed(plugin_run):
    _, outcomes, output, report = plugin_run
    assert outcomes["test_parametrized[1]"] == "PASSED", output
    assert outcomes["test_parametrized[2]"] == "PASSED", output
    assert report[("parametrized", 1)] == {"n": 1, "answer": 42, "tmp": True}
    assert report[("parametrized", 2)] == {"n": 2, "answer": 42, "tmp": True}


def test_real_time_marker_uses_a_real_loop(plugin_run):
    _, outcomes, output, report = plugin_run
    assert outcomes["test_real"] == "PASSED", output
    row = report[("real", None)]
    assert row["virtual"] is False
    assert row["loop"] != "VirtualTimeLoop"
    assert row["advanced"] is True


def test_failing_async_tests_fail(plugin_run):
    code, outcomes, output, _ = plugin_run
    assert outcomes["test_fails"] == "FAILED"
    assert outcomes["test_raises"] == "FAILED"
    assert outcomes["test_real_fails"] == "FAILED"
    assert "async failure seen" in output
    assert "async error seen" in output
    assert "real-time failure seen" in output
    assert code == 1  # some tests failed


def test_sync_tests_are_left_alone(plugin_run):
    _, outcomes, output, report = plugin_run
    assert outcomes["test_sync"] == "PASSED", output
    assert report[("sync", None)] == {"answer": 42}


def test_nothing_else_is_reported(plugin_run):
    _, outcomes, output, _ = plugin_run
    assert len(outcomes) == 9, output
    # no warnings (un-awaited coroutines, pending tasks...): the summary line says so
    assert re.search(r"=+ 3 failed, 6 passed in [\d.]+s =+", output), output


def test_without_the_plugin_async_tests_do_not_run(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    real_time: real loop\n")
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(TESTS))
    code, outcomes, output = run_pytest(tmp_path, "-k", "virtual")
    assert code != 0
    assert outcomes.get("test_virtual") != "PASSED", output
    assert read_report(tmp_path) == {}
