"""The helpers streamz's test files import from ``streamz.utils_test``, written for streams.

Same names and the same meaning as streamz 0.6's helpers: polling waits, temporary
paths, a tornado-coroutine test decorator, a log capture and a node that emits metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tornado import gen
from tornado.ioloop import IOLoop

from streamz import Stream


def inc(x: Any) -> Any:
    return x + 1


def double(x: Any) -> Any:
    return 2 * x


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("localhost", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def tmpfile(extension: str = "") -> Iterator[str]:
    """A path that does not exist yet (file or folder to be), removed afterwards."""
    folder = tempfile.mkdtemp(prefix="streamz-suite-")
    suffix = "." + extension.lstrip(".") if extension else ""
    try:
        yield os.path.join(folder, "tmp" + suffix)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def gen_test(timeout: float = 10) -> Callable[[Callable[..., Any]], Callable[[], None]]:
    """Run a test written as a tornado coroutine (it may ``yield`` futures) on a new IOLoop."""

    def decorate(func: Callable[..., Any]) -> Callable[[], None]:
        def test() -> None:
            loop = IOLoop(make_current=False)
            try:
                loop.run_sync(gen.coroutine(func), timeout=timeout)
            finally:
                loop.close(all_fds=True)

        return test

    return decorate


@contextlib.contextmanager
def captured_logger(
    logger: logging.Logger | str, level: int = logging.INFO, propagate: bool | None = None
) -> Iterator[io.StringIO]:
    """Send what ``logger`` logs at ``level`` and above to the yielded buffer only."""
    log = logging.getLogger(logger) if isinstance(logger, str) else logger
    saved = (log.level, log.handlers[:], log.propagate)
    buffer = io.StringIO()
    log.handlers[:] = [logging.StreamHandler(buffer)]
    log.setLevel(level)
    if propagate is not None:
        log.propagate = propagate
    try:
        yield buffer
    finally:
        log.level, log.handlers[:], log.propagate = saved


@pytest.fixture
def clean() -> None:
    """streamz stops its background IOLoops here; streams has no public reset, so none."""


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    fail_func: Callable[[], Any] | None = None,
    period: float = 0.001,
) -> None:
    """Block until ``predicate()`` is true; fail the test after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while not predicate():
        time.sleep(period)
        if time.time() > deadline:
            if fail_func is not None:
                fail_func()
            pytest.fail(f"condition not reached within {timeout} seconds")


async def await_for(
    predicate: Callable[[], Any],
    timeout: float,
    fail_func: Callable[[], Any] | None = None,
    period: float = 0.001,
) -> None:
    """As :func:`wait_for`, sleeping on the running event loop."""
    deadline = time.time() + timeout
    while not predicate():
        await asyncio.sleep(period)
        if time.time() > deadline:
            if fail_func is not None:
                fail_func()
            pytest.fail(f"condition not reached within {timeout} seconds")


class metadata(Stream):
    """Emit, for each element that carries metadata, that metadata instead of the element."""

    def update(self, x: Any, who: Any = None, metadata: Any = None) -> Any:
        if metadata:
            return self._emit(metadata)
        return None
