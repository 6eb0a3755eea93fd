"""Sources that watch the local file system: a growing text file, new file names."""

from __future__ import annotations

import asyncio
import codecs
import glob
import io
import os
import stat
from collections import deque
from typing import IO, Any

from .._util import parse_interval
from .base import Backoff, Source

__all__ = ["Filenames", "FromTextFile"]

CHUNK = 1 << 16
"""Bytes (or characters) read from a file at a time."""


class FromTextFile(Source[str]):
    """Node behind :meth:`Stream.from_textfile`: emit each complete ``delimiter``-ended
    chunk of a file as it grows.

    A path is opened in binary mode when the source starts and closed when it stops;
    each chunk is decoded with ``encoding`` on its own, so undecodable bytes are rejected
    with the line they are on (see :meth:`Source.reject`) and the next lines still
    flow. An open file object is read where it stands and left open. The position, the
    chunks read but not yet emitted and a partial last line are kept across
    :meth:`stop` and :meth:`start`, so a restarted source goes on where it stopped.
    A file truncated in place (log rotation by ``copytruncate``) is read again from its
    start.
    """

    _label = "from_textfile"

    def __init__(
        self,
        f: str | os.PathLike[str] | IO[Any],
        poll_interval: Any = 0.1,
        delimiter: str = "\n",
        from_end: bool = False,
        encoding: str = "utf-8",
        **options: Any,
    ) -> None:
        if not isinstance(delimiter, str) or not delimiter:
            raise ValueError(
                f"from_textfile: delimiter must be a non-empty str, got {delimiter!r}"
            )
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError):
            raise ValueError(f"from_textfile: unknown encoding {encoding!r}") from None
        if "abc\n".encode(encoding) != b"abc\n":
            raise ValueError(
                f"from_textfile: encoding must be ASCII-compatible (utf-8, latin-1...), "
                f"got {encoding!r}"
            )
        self.path: str | None = None
        self.file: IO[Any] | None = None
        if isinstance(f, str | os.PathLike):
            self.path = os.fspath(f)
            if not os.path.exists(self.path):
                raise FileNotFoundError(f"from_textfile: no such file: {self.path!r}")
            if os.path.isdir(self.path):
                raise IsADirectoryError(
                    f"from_textfile: {self.path!r} is a directory (use Stream.filenames)"
                )
            _check_regular(self.path, self.path)
        elif callable(getattr(f, "read", None)):
            self.file = f
            try:
                fd = f.fileno()
            except (AttributeError, OSError, ValueError):  # in memory (StringIO...)
                pass
            else:
                _check_regular(fd, getattr(f, "name", repr(f)))
        else:
            raise TypeError(f"from_textfile: f must be a path or an open file, got {f!r}")
        self.poll_interval = parse_interval("from_textfile", poll_interval)
        self.delimiter = delimiter
        self.from_end = from_end
        self.encoding = encoding
        self._text = self.file is not None and _is_text(self.file)
        self._delim: Any = delimiter if self._text else delimiter.encode(encoding)
        self._partial: Any = "" if self._text else b""
        self._ready: deque[tuple[Any, int]] = deque()  # (raw chunk, line number)
        self._offset: int | None = None  # where to go on reading (None: not started yet)
        self._line = 0  # number of the last chunk split off
        self._done_offset: int | None = None  # durable state: the byte after the last
        self._done_line = 0  # emitted line, and its number (see streams.state)
        self._base = ""  # how line numbers are counted, for error positions
        super().__init__(**options)

    def _detail(self) -> str:
        if self.path is not None:
            return self.path
        return str(getattr(self.file, "name", type(self.file).__name__))

    # ------------------------------------------------------------------ reading

    def _open(self) -> IO[Any]:
        """The file to read, at the position to go on from."""
        if self.file is not None:
            if self._offset is None:
                self._offset = 0
                if self.from_end:
                    self.file.seek(0, io.SEEK_END)
                    self._base = " after the end at start"
            return self.file
        assert self.path is not None
        handle = open(self.path, "rb")  # noqa: SIM115 -- closed when run() ends
        if self._offset is None:
            self._offset = handle.seek(0, io.SEEK_END) if self.from_end else 0
            if self.from_end:
                self._base = f" after the end at start (byte {self._offset})"
        if self._done_offset is None:
            self._done_offset = self._offset
        handle.seek(self._offset)
        return handle

    async def run(self) -> None:
        backoff = Backoff(self.poll_interval, maximum=max(self.poll_interval, 5.0))
        while not self.stopped:
            try:
                handle = self._open()
            except OSError as exc:
                delay = backoff.next()
                self.connection_failed(exc, f"file {self._detail()}", delay)
                await self.sleep(delay)
                continue
            try:
                await self._follow(handle)
            finally:
                if handle is not self.file:
                    self._offset = handle.tell()
                    handle.close()
            return

    async def _follow(self, handle: IO[Any]) -> None:
        while True:
            while self._ready:  # chunks split off but not yet emitted go first
                cut = self._cut_wait()
                if cut is not None:
                    await cut
                if self.stopped:
                    return
                raw, line = self._ready.popleft()
                text = self._decode(raw, line)
                if text is not None:
                    await self.emit(text)
                if self._done_offset is not None:
                    self._done_offset += len(raw)
                    self._done_line = line
                due = self._element_done()
                if due is not None:
                    await due
            if self.stopped:
                return
            try:
                data = handle.read(CHUNK)
            except UnicodeDecodeError as exc:  # a text file object's own decoder
                self.reject(exc, exc.object, f"file {self._detail()}, line {self._line + 1}")
                continue
            if data:
                self._split(data)
                await asyncio.sleep(0)  # a large file must not starve the loop
            elif self.file is None and os.fstat(handle.fileno()).st_size < handle.tell():
                handle.seek(0)  # truncated in place: read it again from its start
                self._partial, self._line, self._base = b"", 0, ""
                self._done_offset, self._done_line = 0, 0
            else:
                await self.sleep(self.poll_interval)

    def _seek(self, offset: int, line: int) -> None:
        """Go on after byte ``offset`` (the end of line ``line``): a restored checkpoint."""
        if self.path is None:
            raise ValueError(
                f"{self._describe()}: only a source reading a path can be restored to a "
                "position (a file object passed in cannot be reopened)"
            )
        self._offset = self._done_offset = offset
        self._line = self._done_line = line
        self._ready.clear()
        self._partial = b""

    def _split(self, data: Any) -> None:
        """Add ``data`` to the partial line; queue every chunk it completes."""
        parts = (self._partial + data).split(self._delim)
        self._partial = parts.pop()
        for part in parts:
            self._line += 1
            self._ready.append((part + self._delim, self._line))

    def _decode(self, raw: Any, line: int) -> str | None:
        if self._text:
            return raw  # type: ignore[no-any-return]
        try:
            return raw.decode(self.encoding)  # type: ignore[no-any-return]
        except UnicodeDecodeError as exc:
            self.reject(exc, raw, f"file {self._detail()}, line {line}{self._base}")
            return None


def _check_regular(file: str | int, name: Any) -> None:
    """Refuse pipes, terminals and devices: reading them would block the event loop."""
    if not stat.S_ISREG(os.stat(file).st_mode):
        raise ValueError(
            f"from_textfile: {name!r} is not a regular file (for the output of a "
            "program, use Stream.from_process)"
        )


def _is_text(f: Any) -> bool:
    """Whether reading ``f`` gives ``str`` (else bytes)."""
    if isinstance(f, io.TextIOBase):
        return True
    if isinstance(f, io.RawIOBase | io.BufferedIOBase):
        return False
    return "b" not in getattr(f, "mode", "")


class Filenames(Source[str]):
    """Node behind :meth:`Stream.filenames`: emit the path of every file matching a
    directory or a glob pattern, once each, and of new ones as they appear.

    Every ``poll_interval`` the pattern is matched again; the paths not seen before are
    emitted in sorted order. The set of paths already emitted is kept across
    :meth:`stop` and :meth:`start`.
    """

    _label = "filenames"

    def __init__(
        self, path: str | os.PathLike[str], poll_interval: Any = 0.1, **options: Any
    ) -> None:
        self.path = _fspath(path)
        if not self.path:
            raise ValueError("filenames: path must not be empty")
        self.poll_interval = parse_interval("filenames", poll_interval)
        self.seen: set[str] = set()
        super().__init__(**options)

    def _detail(self) -> str:
        return self.path

    @property
    def pattern(self) -> str:
        """The glob pattern matched: ``path`` itself, or ``path/*`` for a directory."""
        if not any(c in self.path for c in "*?[") and os.path.isdir(self.path):
            return os.path.join(self.path, "*")
        return self.path

    async def run(self) -> None:
        while True:
            for name in sorted(set(glob.glob(self.pattern, recursive=True)) - self.seen):
                cut = self._cut_wait()
                if cut is not None:
                    await cut
                if self.stopped:  # checked before each name: a stop loses none
                    return
                self.seen.add(name)  # (durable state: the names handled at a cut)
                await self.emit(name)
                due = self._element_done()
                if due is not None:
                    await due
            if self.stopped:
                return
            await self.sleep(self.poll_interval)


def _fspath(path: Any) -> str:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"filenames: path must be a str or a path, got {path!r}")
    return os.fspath(path)
