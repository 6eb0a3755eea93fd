"""Error policies and the records carried by error streams.

Every node takes ``on_error=`` to say what happens when processing an element fails
there (its own function raised, or, for nodes that run on their own, the push
downstream raised):

``"raise"`` (the default)
    The exception propagates to whoever called or awaits the node: the emitter. A node
    that runs on its own (a timer, a buffer, ``map_async``, a source) has no emitter
    waiting; its error goes to the graph's error streams, or, if there is none, to the
    ``streams`` logger, and the next ``drain()`` raises it.
``"skip"``
    The element is dropped; the error is logged as a warning and the graph goes on.
``"dead_letter"``
    The element is dropped and an :class:`ErrorRecord` goes to the graph's error
    streams (see :meth:`Stream.errors <streams.Stream.errors>`); the graph goes on.
``retry(n, backoff)``
    The node tries the element again up to ``n`` times, waiting ``backoff``,
    ``2 * backoff``, ``4 * backoff``... seconds in between, then falls back to
    ``then`` (``"raise"`` by default). The emitter waits meanwhile: back pressure. Only
    the node's own work is retried (its function; for a node that runs on its own, its
    push): a failure further downstream propagates as usual.

Acknowledgement (:class:`~streams.RefCounter` metadata): an element that was skipped or
dead-lettered has been handled and is acknowledged; an element whose error was raised
(to an emitter or, for nodes that run on their own, to the error channel) is not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from ._util import label

__all__ = ["ErrorPolicy", "ErrorRecord", "Retry", "check_policy", "log", "retry"]

log = logging.getLogger("streams")
"""The logger of errors that reach no error stream."""

SIMPLE_POLICIES = ("raise", "skip", "dead_letter")


@dataclass(frozen=True)
class Retry:
    """Try a failed element again; build it with :func:`retry`."""

    attempts: int
    backoff: float = 0.1
    then: Literal["raise", "skip", "dead_letter"] = "raise"

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (counting from 0)."""
        return float(self.backoff * 2**attempt)


ErrorPolicy = Literal["raise", "skip", "dead_letter"] | Retry


def retry(
    attempts: int, backoff: float = 0.1, then: Literal["raise", "skip", "dead_letter"] = "raise"
) -> Retry:
    """An error policy: try a failed element again, ``attempts`` times at most.

    Parameters
    ----------
    attempts : int
        How many more times to try (positive).
    backoff : float, optional
        Seconds before the first retry; each further retry waits twice as long.
    then : {'raise', 'skip', 'dead_letter'}
        What to do when every attempt failed.

    Examples
    --------
    >>> from streams import Stream, retry
    >>> calls = []
    >>> def flaky(x):
    ...     calls.append(x)
    ...     if len(calls) < 3:
    ...         raise ConnectionError("try again")
    ...     return x * 10
    >>> source = Stream()
    >>> out = source.map(flaky, on_error=retry(5, backoff=0.001)).sink_to_list()
    >>> source.emit(4)  # fails twice, succeeds on the second retry
    >>> out, len(calls)
    ([40], 3)
    """
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"retry: attempts must be a positive integer, got {attempts!r}")
    if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 0:
        raise ValueError(f"retry: backoff must be a number of seconds >= 0, got {backoff!r}")
    if then not in SIMPLE_POLICIES:
        raise ValueError(f"retry: then must be one of {SIMPLE_POLICIES}, got {then!r}")
    return Retry(attempts, backoff, then)


def check_policy(node: str, policy: Any) -> ErrorPolicy:
    """Validate an ``on_error`` value at build time, naming the node in the error."""
    if isinstance(policy, Retry) or policy in SIMPLE_POLICIES:
        return policy  # type: ignore[no-any-return]
    raise ValueError(
        f"{node}: on_error must be 'raise', 'skip', 'dead_letter' or streams.retry(...), "
        f"got {policy!r}"
    )


@dataclass
class ErrorRecord:
    """What an error stream emits: which node failed on which element, and why.

    Attributes
    ----------
    node : Stream
        The node whose processing raised.
    element : object
        The element it was processing.
    error : BaseException
        The exception, with a note naming the node and the element.
    metadata : list of dict
        The element's metadata. A dead-lettered element counts as handled and is
        acknowledged; one reported because nothing could take its error is not.
    """

    node: Any
    element: Any
    error: BaseException
    metadata: Any = field(default=(), repr=False)

    def __str__(self) -> str:
        return f"{label(self.node)}: {type(self.error).__name__}: {self.error}"
