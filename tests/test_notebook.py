"""Errors of a graph used from a real Jupyter kernel (issue 8).

Top-level code of an ipykernel cell runs inside the kernel's running event loop, so a
notebook user's ``source.emit(x)`` into a graph with an async sink leaves a task behind
that nobody awaits. If it fails, the user must see it in the notebook without calling
``drain()`` and without configuring logging; and an error the cell already raised (it
awaited the emits) must not be shown a second time.
"""

import importlib.util
import json
import os
import queue
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import streams

REPO = Path(streams.__file__).resolve().parent.parent
"""The checkout whose ``streams`` is under test; the kernel imports the same one."""

MESSAGE_TIMEOUT = 10.0  # seconds to wait for the kernel's next message

GRAPH = """
import asyncio
import streams
from streams import Stream

async def write(x):
    await asyncio.sleep(0)
    if x == "apple":
        raise OSError("disk full")

source = Stream()
source.sink(write, stream_name="disk writer")
print(streams.__file__)
"""


class Kernel:
    """A client of a running kernel that collects every IOPub message in order."""

    def __init__(self, client: Any, log: Path) -> None:
        self.client = client
        self.log = log
        self.messages: list[dict[str, Any]] = []  # every IOPub message so far

    def execute(self, code: str) -> tuple[str, dict[str, Any]]:
        """Run a cell; return its message id and execute reply once the kernel is idle
        again. IOPub messages meanwhile (of this cell or an earlier one) are kept."""
        msg_id: str = self.client.execute(code)
        while True:
            msg = self.next(self.client.get_iopub_msg, f"output of {code!r}")
            self.messages.append(msg)
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                break
        while True:
            reply = self.next(self.client.get_shell_msg, f"the reply to {code!r}")
            if reply["parent_header"].get("msg_id") == msg_id:
                return msg_id, reply["content"]

    def next(self, get: Any, what: str) -> dict[str, Any]:
        try:
            msg: dict[str, Any] = get(timeout=MESSAGE_TIMEOUT)
        except queue.Empty:
            pytest.fail(
                f"the kernel sent no {what} within {MESSAGE_TIMEOUT} s; its log:\n"
                + self.log.read_text()
            )
        return msg

    def stream(self, name: str, *cells: str) -> str:
        """The text of stream ``name`` (stdout, stderr) shown in the given cells."""
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["msg_type"] == "stream"
            and m["content"]["name"] == name
            and m["parent_header"].get("msg_id") in cells
        )

    def errors(self, *cells: str) -> list[dict[str, Any]]:
        """The exceptions shown in the given cells (``error`` messages)."""
        return [
            m["content"]
            for m in self.messages
            if m["msg_type"] == "error" and m["parent_header"].get("msg_id") in cells
        ]


def kernel_setup(tmp_path: Path) -> tuple[Any, dict[str, str]]:
    """A kernel spec manager knowing one kernel, ``streams-test`` (this Python), and the
    environment to start it in: the checkout under test, IPython and Jupyter files in
    ``tmp_path``."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = tmp_path / "kernels" / "streams-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "streams test", "language": "python"})
    )
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False)
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        IPYTHONDIR=str(tmp_path / "ipython"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
    )
    return specs, env


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    """A real ipykernel running the current Python and importing the ``streams`` under
    test, with its own IPython profile; shut down afterwards."""
    try:
        from jupyter_client import KernelManager
    except ImportError as exc:
        pytest.fail(f"jupyter_client is a test dependency (pip install -e '.[test]'): {exc}")
    if importlib.util.find_spec("ipykernel") is None:
        pytest.fail("ipykernel is a test dependency (pip install -e '.[test]')")

    specs, env = kernel_setup(tmp_path)
    manager = KernelManager(
        kernel_name="streams-test",
        kernel_spec_manager=specs,
        connection_file=str(tmp_path / "connection.json"),
    )
    log = tmp_path / "kernel.log"
    with log.open("w") as out:
        manager.start_kernel(env=env, cwd=str(tmp_path), stdout=out, stderr=subprocess.STDOUT)
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=30)
        yield Kernel(client, log)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_an_unawaited_failure_shows_in_the_notebook_without_configuring_anything(kernel):
    graph, reply = kernel.execute(GRAPH)
    assert reply["status"] == "ok", reply
    assert kernel.stream("stdout", graph) == f"{REPO / 'streams' / '__init__.py'}\n"

    emitting, reply = kernel.execute(
        'for x in ["pear", "apple", "plum"]:\n    source.emit(x)  # as a notebook user would'
    )
    assert reply["status"] == "ok", reply  # the failure comes later, in the sink's task
    following, reply = kernel.execute("pass")  # the next cell the user runs

    shown = kernel.stream("stderr", emitting, following)  # no drain(), no logging setup
    assert "disk writer: OSError: disk full" in shown, kernel.messages
    assert shown.count("in disk writer (element 'apple')") == 1  # once, naming the element
    assert kernel.errors(emitting, following) == []


def test_a_failure_the_cell_awaited_is_shown_once_as_the_cells_error(kernel):
    _, reply = kernel.execute(GRAPH)
    assert reply["status"] == "ok", reply

    gathering, reply = kernel.execute(
        'await asyncio.gather(*(source.emit(x) for x in ["pear", "apple", "plum"]))'
    )
    following, _ = kernel.execute("await source.drain()")

    assert (reply["status"], reply["ename"]) == ("error", "OSError")
    (error,) = kernel.errors(gathering, following)  # the cell's exception, not drain's
    assert (error["ename"], error["evalue"]) == ("OSError", "disk full")
    assert kernel.stream("stderr", gathering, following) == ""  # not logged as well
