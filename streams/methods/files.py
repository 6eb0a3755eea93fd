"""Methods for sources of local files, processes and in-process queues.

``from_textfile``, ``filenames``, ``from_process``, ``from_q``.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class FileMethods(Generic[T]):
    """``from_textfile``, ``filenames``, ``from_process``, ``from_q``."""
