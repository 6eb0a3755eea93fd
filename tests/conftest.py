"""Shared test helpers."""

import os
import shutil

import pytest

pytest_plugins = ["streams.testing.pytest_plugin"]


def require_program(name: str) -> str:
    """Path of a system program a test needs; in CI its absence fails, elsewhere skips."""
    path = shutil.which(name)
    if path is None:
        message = f"{name!r} is not installed (scripts/test.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
