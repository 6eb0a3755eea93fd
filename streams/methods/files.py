"""Methods for sources of local files, processes and in-process queues.

``from_textfile``, ``filenames``, ``from_process``, ``from_q``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ..sources.files import Filenames, FromTextFile
    from ..sources.process import FromProcess
    from ..sources.queue import FromQ

T = TypeVar("T")


class FileMethods(Generic[T]):
    """``from_textfile``, ``filenames``, ``from_process``, ``from_q``."""

    @staticmethod
    def from_textfile(
        f: str | os.PathLike[str] | IO[Any],
        poll_interval: float | str = 0.1,
        delimiter: str = "\n",
        from_end: bool = False,
        start: bool = False,
        encoding: str = "utf-8",
        **kwargs: Any,
    ) -> FromTextFile:
        """Emit the lines of a text file as it grows (``tail -f``).

        Each complete chunk ending with ``delimiter`` is emitted as a ``str`` that keeps
        the delimiter at its end (as in streamz). What the file already holds is read
        first, unless ``from_end=True``; then the file is polled for new data every
        ``poll_interval``. A partial last line is held until its delimiter arrives. The
        next chunk is read only once the last one was accepted (back pressure). A line
        that is not valid ``encoding`` goes to the error channel (see
        :meth:`~streams.Stream.errors`) with its position, ``file <path>, line N``, and
        the source goes on. A file truncated in place is read again from its start.

        Parameters
        ----------
        f : path or file object
            A regular file: a path (opened when the source starts, closed when it
            stops; it must exist when the source is built), or an open file object,
            read where it stands and left open. A binary file is decoded line by line
            with ``encoding``; a text file decodes itself (an undecodable read is then
            rejected whole). Pipes and terminals are refused, as reading them would
            block the event loop: for a program's output use :meth:`from_process`.
        poll_interval : float or str, optional
            Seconds between checks for new data once the end is reached, or a string
            such as ``'250ms'``.
        delimiter : str, optional
            What ends a chunk (default: a newline).
        from_end : bool, optional
            Skip what the file holds at the first ``start()``; emit only what is
            appended after it.
        start : bool, optional
            Start at once instead of on ``start()``.
        encoding : str, optional
            How the bytes of a path (or binary file) are decoded; it must be
            ASCII-compatible (``utf-8``, ``latin-1``...).
        **kwargs
            ``stream_name``, ``on_error``... as for every node.

        Returns
        -------
        FromTextFile
            The source; ``stop()`` it to stop following the file.

        Examples
        --------
        >>> import os, tempfile, time
        >>> from streams import Stream
        >>> path = os.path.join(tempfile.mkdtemp(), "app.log")
        >>> with open(path, "w") as log:
        ...     _ = log.write("started\\nready\\npart")
        >>> source = Stream.from_textfile(path, poll_interval="10ms")
        >>> lines = source.map(str.rstrip).sink_to_list()
        >>> source.start()
        >>> with open(path, "a") as log:
        ...     _ = log.write("ial line\\n")
        >>> deadline = time.monotonic() + 10
        >>> while len(lines) < 3 and time.monotonic() < deadline:
        ...     time.sleep(0.01)
        >>> source.stop()
        >>> lines
        ['started', 'ready', 'partial line']

        See Also
        --------
        filenames, sink_to_textfile
        """
        from ..sources.files import FromTextFile

        return FromTextFile(
            f, poll_interval, delimiter, from_end, encoding=encoding, start=start, **kwargs
        )

    @staticmethod
    def filenames(
        path: str | os.PathLike[str],
        poll_interval: float | str = 0.1,
        start: bool = False,
        **kwargs: Any,
    ) -> Filenames:
        """Emit the path of every file in a directory or matching a glob pattern, and of
        each new one as it appears.

        Every ``poll_interval`` the directory is listed (or the pattern matched again);
        the paths not emitted before are emitted in sorted order, each once.

        Parameters
        ----------
        path : str or path
            A directory (its entries are emitted, as ``path/*`` would match them) or a
            glob pattern such as ``'data/*.csv'`` (``**`` matches subdirectories).
        poll_interval : float or str, optional
            Seconds between checks, or a string such as ``'1s'``.
        start : bool, optional
            Start at once instead of on ``start()``.
        **kwargs
            ``stream_name``, ``on_error``... as for every node.

        Returns
        -------
        Filenames
            The source; ``stop()`` it to stop watching.

        Examples
        --------
        >>> import os, pathlib, tempfile, time
        >>> from streams import Stream
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> (folder / "b.csv").touch()
        >>> (folder / "a.csv").touch()
        >>> (folder / "notes.txt").touch()
        >>> source = Stream.filenames(folder / "*.csv", poll_interval="10ms")
        >>> names = source.map(os.path.basename).sink_to_list()
        >>> source.start()
        >>> deadline = time.monotonic() + 10
        >>> while len(names) < 2 and time.monotonic() < deadline:
        ...     time.sleep(0.01)
        >>> (folder / "c.csv").touch()
        >>> while len(names) < 3 and time.monotonic() < deadline:
        ...     time.sleep(0.01)
        >>> source.stop()
        >>> names
        ['a.csv', 'b.csv', 'c.csv']

        See Also
        --------
        from_textfile
        """
        from ..sources.files import Filenames

        return Filenames(path, poll_interval, start=start, **kwargs)

    @staticmethod
    def from_process(
        cmd: str | Sequence[str | os.PathLike[str]],
        open_kwargs: Mapping[str, Any] | None = None,
        with_stderr: bool = False,
        with_end: bool = True,
        start: bool = False,
        **kwargs: Any,
    ) -> FromProcess:
        """Run a program and emit each line it prints, as ``bytes``.

        The program starts with the source. Each line of its standard output is emitted
        with its ``b'\\n'`` (as in streamz); the next line is read only once the last
        one was accepted, so a slow consumer pauses the program once the pipe is full.
        When the program exits by itself the source is done; a nonzero exit status
        goes to the error channel as a :class:`subprocess.CalledProcessError` naming
        the command and the status. ``stop()`` terminates the program (``SIGTERM``,
        then ``SIGKILL`` if it is still running a few seconds later) and ``wait()``
        returns once it has exited.

        Parameters
        ----------
        cmd : list of str, or str
            The program and its arguments. A string is split like a shell would
            (:func:`shlex.split`) but run without a shell, as in streamz; pass
            ``open_kwargs={'shell': True}`` to run it with ``/bin/sh``.
        open_kwargs : dict, optional
            Passed to :func:`asyncio.create_subprocess_exec` (``cwd``, ``env``,
            ``stdin``, ``limit``...), as to :class:`subprocess.Popen`; ``shell=True``
            runs the command through the shell instead.
        with_stderr : bool, optional
            Merge the program's standard error into the emitted lines (otherwise it
            goes where this process's standard error goes).
        with_end : bool, optional
            Also emit the output after the last newline (a last line without one) when
            the program exits, as in streamz; ``False`` emits complete lines only.
        start : bool, optional
            Start at once instead of on ``start()``.
        **kwargs
            ``stream_name``, ``on_error``... as for every node.

        Returns
        -------
        FromProcess
            The source; its ``process`` attribute is the running
            :class:`asyncio.subprocess.Process`.

        Examples
        --------
        >>> import sys
        >>> from streams import Stream
        >>> program = "for word in ['spam', 'eggs']: print(word)"
        >>> source = Stream.from_process([sys.executable, "-c", program])
        >>> lines = source.sink_to_list()
        >>> source.start()
        >>> source.wait()  # until the program exited and its lines were accepted
        >>> lines
        [b'spam\\n', b'eggs\\n']

        See Also
        --------
        from_textfile
        """
        from ..sources.process import FromProcess

        return FromProcess(cmd, open_kwargs, with_stderr, with_end, start=start, **kwargs)

    @staticmethod
    def from_q(
        q: Any, sleep_time: float | str = 0.01, start: bool = False, **kwargs: Any
    ) -> FromQ[Any]:
        """Emit the items other threads put into a :class:`queue.Queue`, in order.

        The bridge from code that is not on the graph's event loop (a GUI toolkit's
        callbacks, worker threads): they ``q.put(x)``, the source takes the items with
        ``get_nowait`` on the loop and emits them, each waiting for back pressure. When
        the queue is empty the source checks again ``sleep_time`` later, a pause that
        ``stop()`` cuts short. Items are taken only while the source runs: after
        ``stop()`` the rest stay in the queue.

        Parameters
        ----------
        q : queue.Queue
            Any object with a ``get_nowait()`` that raises :class:`queue.Empty` when
            empty (``queue.Queue``, ``queue.SimpleQueue``, ``multiprocessing.Queue``).
        sleep_time : float or str, optional
            Seconds between checks of an empty queue: the latency traded for less
            polling.
        start : bool, optional
            Start at once instead of on ``start()``.
        **kwargs
            ``stream_name``, ``on_error``... as for every node.

        Returns
        -------
        FromQ
            The source.

        Examples
        --------
        >>> import queue, threading, time
        >>> from streams import Stream
        >>> q = queue.Queue()
        >>> source = Stream.from_q(q)
        >>> out = source.sink_to_list()
        >>> source.start()
        >>> worker = threading.Thread(target=lambda: [q.put(i) for i in range(3)])
        >>> worker.start(); worker.join()
        >>> deadline = time.monotonic() + 10
        >>> while len(out) < 3 and time.monotonic() < deadline:
        ...     time.sleep(0.01)
        >>> source.stop()
        >>> out
        [0, 1, 2]

        See Also
        --------
        from_iterable
        """
        from ..sources.queue import FromQ

        return FromQ(q, sleep_time, start=start, **kwargs)
