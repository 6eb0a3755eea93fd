"""Real servers for the connector tests, started by the test session on loopback.

Each starts on a free port in a temporary directory and is stopped at the end of the
session. scripts/test.sh installs the Debian packages they need.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[bytes] | threading.Thread, timeout: float = 30.0
) -> None:
    """Return once something accepts connections on ``port``; fail early if the server's
    ``process`` (or thread) ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if isinstance(process, threading.Thread):
            if not process.is_alive():
                raise RuntimeError("the server thread ended before listening")
        elif process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Service:
    """A running server process and the URL to reach it."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], url: str, port: int):
        self.name, self.process, self.url, self.port = name, process, url, port
        self.cleanup: Path | None = None  # a directory to remove after stopping

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.cleanup is not None:
            shutil.rmtree(self.cleanup, ignore_errors=True)


def program(name: str, *patterns: str) -> str:
    """The path of a server program; in CI a missing one fails the test, else it skips."""
    path = shutil.which(name) or next(
        (p for pattern in patterns for p in sorted(glob.glob(pattern))), None
    )
    if path is None:
        message = f"{name!r} is not installed (scripts/test.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def start_redis(workdir: Path, port: int | None = None) -> Service:
    """A redis-server on ``port`` (default: a free one)."""
    port = port or free_port()
    exe = program("redis-server")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_port(port, proc)
    return Service("redis", proc, f"redis://127.0.0.1:{port}/0", port)


def start_mosquitto(workdir: Path, port: int | None = None) -> Service:
    """A mosquitto broker on ``port`` (default: a free one)."""
    port = port or free_port()
    exe = program("mosquitto", "/usr/sbin/mosquitto")
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen(
        [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_port(port, proc)
    return Service("mosquitto", proc, f"mqtt://127.0.0.1:{port}", port)


def start_postgres(workdir: Path) -> Service:
    initdb = program("initdb", "/usr/lib/postgresql/*/bin/initdb")
    bindir = os.path.dirname(initdb)
    port = free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use the package's user,
        runuser = program("runuser")  # in a directory that user can reach
        as_user = [runuser, "-u", "postgres", "--"]
        workdir = Path(tempfile.mkdtemp(prefix="streams-postgres-"))
        shutil.chown(workdir, "postgres")
    data, sockets = workdir / "pgdata", workdir / "pgsock"
    sockets.mkdir()
    if as_user:
        shutil.chown(sockets, "postgres")
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "streams", "--auth=trust", "-E", "UTF8",
         "--no-sync"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    proc = subprocess.Popen(
        [*as_user, os.path.join(bindir, "postgres"), "-D", str(data), "-p", str(port),
         "-k", str(sockets), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_port(port, proc)
    service = Service(
        "postgres", proc, f"postgresql+psycopg://streams@127.0.0.1:{port}/postgres", port
    )
    service.cleanup = workdir
    return service
