"""The typed operator methods of :class:`streams.Stream`, grouped by family.

Each method only builds its node (from :mod:`streams.operators` or :mod:`streams.sinks`)
and carries the operator's single docstring. They are mixed into ``Stream``; ``self`` is
annotated ``Any`` because a mixin cannot name its final class without a cycle, while the
element type ``T`` is still bound from the instance (``Stream[int].filter`` returns
``Stream[int]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core import Stream


def distributed(node: Any, name: str, *args: Any, **kwargs: Any) -> Stream[Any]:
    """The distributed variant of operator ``name`` on ``node``, a stream downstream of
    ``scatter()`` (see :mod:`streams.dask`)."""
    variant: Stream[Any] = node._dask.variant(name, node, *args, **kwargs)
    return variant
