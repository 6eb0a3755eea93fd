"""The typed operator methods of :class:`streams.Stream`, grouped by family.

Each method only builds its node (from :mod:`streams.operators` or :mod:`streams.sinks`)
and carries the operator's single docstring. They are mixed into ``Stream``; ``self`` is
annotated ``Any`` because a mixin cannot name its final class without a cycle, while the
element type ``T`` is still bound from the instance (``Stream[int].filter`` returns
``Stream[int]``).
"""
