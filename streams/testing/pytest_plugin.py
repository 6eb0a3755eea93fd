"""A pytest plugin: ``async def`` tests run on a virtual-time loop.

Enable it in a ``conftest.py``::

    pytest_plugins = ["streams.testing.pytest_plugin"]

Every coroutine test function then runs on a fresh
:class:`~streams.testing.VirtualTimeLoop`; a test marked ``@pytest.mark.real_time``
runs on an ordinary asyncio loop instead (for real sockets, processes or threads).
Fixtures are given as usual; they must be synchronous.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from .clock import run_virtual


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_time: run this async test on a real-time asyncio loop"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    names = inspect.signature(func).parameters
    kwargs: dict[str, Any] = {n: v for n, v in pyfuncitem.funcargs.items() if n in names}
    if pyfuncitem.get_closest_marker("real_time"):
        asyncio.run(func(**kwargs))
    else:
        run_virtual(func(**kwargs))
    return True
