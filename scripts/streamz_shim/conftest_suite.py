"""pytest hooks for the streamz suite; copied as ``conftest.py`` into its work directory.

Checks that ``streamz`` is the shim, runs ``@pytest.mark.asyncio`` coroutine tests with
``asyncio.run`` (what pytest-asyncio does for them; the plugin itself is not needed),
fails a test that runs longer than ``STREAMZ_SUITE_TEST_TIMEOUT`` seconds, and appends
one JSON line per event to ``STREAMZ_SUITE_RESULTS`` as it happens, so that a run
killed for hanging still tells what ran.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import sys
from collections.abc import Generator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import streamz

SHIM = Path(__file__).resolve().parent / "streamz"
if Path(streamz.__file__).resolve().parent != SHIM:
    raise RuntimeError(f"streamz is {streamz.__file__}, not the package in {SHIM}")

RESULTS = os.environ.get("STREAMZ_SUITE_RESULTS")
TEST_TIMEOUT = float(os.environ.get("STREAMZ_SUITE_TEST_TIMEOUT", "60"))


def record(**event: Any) -> None:
    if RESULTS:
        with open(RESULTS, "a") as out:
            out.write(json.dumps(event) + "\n")


def one_line(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The error (or skip reason) of a report, on one line."""
    longrepr = report.longrepr
    if report.passed or longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        return str(longrepr[2])
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(longrepr)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line.removeprefix("E").strip() for line in lines if line.startswith("E ")]
    return (errors or lines or [""])[0][:300]


def pytest_configure(config: pytest.Config) -> None:
    record(event="shim", file=streamz.__file__)


def pytest_sessionfinish(session: pytest.Session) -> None:
    files = {name: getattr(module, "__dict__", {}).get("__file__")  # None: an import blocker
             for name, module in list(sys.modules.items())}  # fmt: skip
    real = [name for name, file in files.items() if name.partition(".")[0] == "streamz"
            and file and not Path(file).resolve().is_relative_to(SHIM.parent)]  # fmt: skip
    if real:
        record(event="leak", modules=real)


def pytest_report_header() -> str:
    return f"streamz shim: {streamz.__file__}"


def pytest_deselected(items: list[pytest.Item]) -> None:
    record(event="deselected", ids=[item.nodeid for item in items])


def pytest_collection_finish(session: pytest.Session) -> None:
    record(event="collected", ids=[item.nodeid for item in session.items])


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if not report.passed:
        record(event="collect", id=report.nodeid, outcome=report.outcome, message=one_line(report))


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    record(event="start", id=nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    record(
        event="report",
        id=report.nodeid,
        when=report.when,
        outcome=report.outcome,
        xfail=hasattr(report, "wasxfail"),
        message=one_line(report),
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    func = pyfuncitem.obj
    if pyfuncitem.get_closest_marker("asyncio") and inspect.iscoroutinefunction(func):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(func(**{name: pyfuncitem.funcargs[name] for name in names}))
        return True
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"test ran over the suite's {TEST_TIMEOUT:g}s limit")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
