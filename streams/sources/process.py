"""A source that runs an external program and emits the lines it prints."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from .base import Source

__all__ = ["FromProcess"]

TERMINATE_GRACE = 5.0
"""Seconds a terminated process has to exit before it is killed."""

PIPE_GRACE = 1.0
"""Seconds the output of an ended process may stay open before it is closed."""


class FromProcess(Source[bytes]):
    """Node behind :meth:`Stream.from_process`: run a command and emit each line of its
    standard output, as ``bytes``.

    The process starts with the source and is read one line at a time: the next line is
    read only once the last one was accepted, so a slow consumer pauses the program once
    the pipe is full (back pressure). When the program exits by itself the source is
    done; a nonzero exit status goes to the error channel as a
    :class:`subprocess.CalledProcessError`. :meth:`stop` terminates the program
    (``SIGTERM``, then ``SIGKILL`` after a few seconds) and the source waits for it.
    """

    _label = "from_process"

    def __init__(
        self,
        cmd: str | Sequence[str | os.PathLike[str]],
        open_kwargs: Mapping[str, Any] | None = None,
        with_stderr: bool = False,
        with_end: bool = True,
        **options: Any,
    ) -> None:
        if isinstance(cmd, str):
            argv = shlex.split(cmd)
        elif isinstance(cmd, Sequence) and all(isinstance(a, str | os.PathLike) for a in cmd):
            argv = [os.fspath(a) for a in cmd]
        else:
            raise TypeError(f"from_process: cmd must be a str or a list of str, got {cmd!r}")
        if not argv:
            raise ValueError("from_process: cmd is empty")
        kwargs = dict(open_kwargs or {})
        for taken in ("stdout", *(("stderr",) if with_stderr else ())):
            if taken in kwargs:
                raise ValueError(f"from_process: open_kwargs cannot set {taken!r} (it is read)")
        self.shell = bool(kwargs.pop("shell", False))
        self._stderr = subprocess.STDOUT if with_stderr else kwargs.pop("stderr", None)
        self.cmd = cmd
        self.argv = argv
        self.open_kwargs = kwargs
        self.with_stderr = with_stderr
        self.with_end = with_end
        self.process: asyncio.subprocess.Process | None = None
        self._terminated_at: float | None = None  # when stop() sent SIGTERM
        self._deadline: asyncio.TimerHandle | None = None  # when to force the end
        super().__init__(**options)

    def _detail(self) -> str:
        text = self.cmd if isinstance(self.cmd, str) else shlex.join(self.argv)
        return text if len(text) <= 60 else text[:57] + "..."

    def stop(self) -> None:
        """Stop reading and terminate the process; :meth:`wait` returns once it exited."""
        running = not self.stopped
        super().stop()
        loop = self._runtime.loop
        if running and loop is not None:
            loop.call_soon_threadsafe(self._terminate)

    def _terminate(self) -> None:
        """End the process: ``SIGTERM`` now, ``SIGKILL`` if it still runs a few seconds
        later (see :meth:`_force_end`)."""
        process = self.process
        if process is None or self._deadline is not None:
            return  # not started yet, or already ending
        loop = asyncio.get_running_loop()
        if process.returncode is None:
            self._terminated_at = loop.time()
            _signal(process, signal.SIGTERM)
            self._deadline = loop.call_later(TERMINATE_GRACE, self._force_end, process)
        else:  # it exited: only its output may still be open
            self._deadline = loop.call_later(PIPE_GRACE, self._force_end, process)

    def _force_end(self, process: asyncio.subprocess.Process) -> None:
        loop = asyncio.get_running_loop()
        if process.returncode is None:  # it ignored SIGTERM
            _signal(process, getattr(signal, "SIGKILL", signal.SIGTERM))
            self._deadline = loop.call_later(PIPE_GRACE, self._force_end, process)
            return
        # It exited, but a child it left behind holds its output open: stop reading it.
        transport = getattr(process, "_transport", None)
        if transport is not None:
            transport.close()

    async def _start_process(self) -> asyncio.subprocess.Process:
        stderr = self._stderr
        if self.shell:
            command = self.cmd if isinstance(self.cmd, str) else shlex.join(self.argv)
            return await asyncio.create_subprocess_shell(
                command, stdout=subprocess.PIPE, stderr=stderr, **self.open_kwargs
            )
        return await asyncio.create_subprocess_exec(
            *self.argv, stdout=subprocess.PIPE, stderr=stderr, **self.open_kwargs
        )

    async def run(self) -> None:
        self._terminated_at = None
        if self._deadline is not None:  # left from a stop() just as the last run ended
            self._deadline.cancel()
            self._deadline = None
        try:
            process = await self._start_process()
        except OSError as exc:
            exc.add_note(f"in {self._describe()}: cannot run {self._detail()}")
            self._report(exc, None, ())
            return
        self.process = process
        try:
            if self.stopped:  # stop() came while the process was being created
                self._terminate()
            await self._read(process)
        finally:
            await self._reap(process)
        code = process.returncode
        if code and self._terminated_at is None:
            self._report(subprocess.CalledProcessError(code, self.cmd), None, ())

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        stdout = process.stdout
        assert stdout is not None
        long_line = bytearray()  # a line longer than the reader's limit, so far
        while not self.stopped:
            try:
                line = await stdout.readuntil(b"\n")
            except asyncio.LimitOverrunError as exc:
                long_line += await stdout.readexactly(exc.consumed)
                continue
            except asyncio.IncompleteReadError as exc:  # end of output
                rest = bytes(long_line) + exc.partial
                if rest and self.with_end and not self.stopped:
                    await self.emit(rest)
                return
            if long_line:
                line, long_line = bytes(long_line) + line, bytearray()
            if not self.stopped:
                await self.emit(line)

    async def _reap(self, process: asyncio.subprocess.Process) -> None:
        """Wait until the process exited and its output pipe is closed."""
        if self.stopped:
            self._terminate()
        stdout = process.stdout
        # what is left in the pipe is not wanted: read it, so that the pipe can end
        rest = asyncio.ensure_future(_discard(stdout)) if stdout is not None else None
        try:
            await process.wait()
        finally:
            if rest is not None:
                rest.cancel()
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(1 << 16):
        pass


def _signal(process: asyncio.subprocess.Process, signum: int) -> None:
    """Send ``signum`` to the process.

    ``os.kill`` rather than ``Process.send_signal``: that one polls the child first and,
    if it has just exited, reaps it behind the event loop's child watcher (which then
    reports exit status 255 instead of the real one).
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signum)
