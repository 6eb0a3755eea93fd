"""Plugins: third-party nodes added to the ``Stream`` API.

``register_api`` adds a node class by hand; entry points in the groups below add the
nodes of installed packages, registered on the first node built (never at import) and
imported on first call.
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._util import identity

if TYPE_CHECKING:
    pass

__all__ = ["PLUGIN_GROUPS", "PluginMethods", "register_plugins"]

N = TypeVar("N")

PLUGIN_GROUPS = {"streams.nodes": False, "streams.sinks": False, "streams.sources": True}
"""Entry-point groups searched for plugins, and whether their nodes are static methods."""


if TYPE_CHECKING:
    PluginMeta = type
else:

    class PluginMeta(type):
        """Finds plugins looked up on the class (``Stream.from_x``) before any node exists."""

        def __getattr__(cls, name: str) -> Any:
            if not name.startswith("_") and register_plugins():
                return getattr(cls, name)
            raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")


class PluginMethods:
    """The plugin hooks of :class:`~streams.Stream`."""

    @classmethod
    def register_api(
        cls, modifier: Callable[[Any], Any] = identity, attribute_name: str | None = None
    ) -> Callable[[N], N]:
        """Add a node class (or any callable) to the ``Stream`` API; a class decorator.

        The decorated callable becomes a method named after it (or ``attribute_name``)
        that builds it with the stream as first argument. Pass ``staticmethod`` as
        ``modifier`` for sources (``Stream.from_x(...)``). Built-in methods cannot be
        replaced.

        Examples
        --------
        >>> from streams import Stream
        >>> @Stream.register_api()
        ... class double(Stream):
        ...     def update(self, x, who=None, metadata=()):
        ...         return self._emit(2 * x, metadata)
        >>> source = Stream()
        >>> out = source.double().sink_to_list()
        >>> source.emit(21)
        >>> out
        [42]
        >>> del Stream.double  # unregister
        """

        def register(node: N) -> N:
            name = attribute_name or getattr(node, "__name__", None)
            if not name:
                raise ValueError(f"cannot tell which name to register {node!r} under")
            existing = inspect.getattr_static(cls, name, None)
            if existing is not None and not getattr(
                getattr(existing, "__func__", existing), "_streams_plugin", False
            ):
                raise ValueError(f"Stream.{name} is built in and cannot be replaced")

            @functools.wraps(node)  # type: ignore[arg-type]
            def method(*args: Any, **kwargs: Any) -> Any:
                return node(*args, **kwargs)  # type: ignore[operator]

            method._streams_plugin = True  # type: ignore[attr-defined]
            setattr(cls, name, modifier(method))
            return node

        return register

    @classmethod
    def register_plugin_entry_point(
        cls, entry_point: importlib.metadata.EntryPoint, modifier: Callable[[Any], Any] = identity
    ) -> None:
        """Make an entry point's node available as ``Stream.<name>``, loaded on first call.

        Installed plugins are found on their own (see :func:`register_plugins`); this
        registers one entry point explicitly.
        """
        if hasattr(cls, entry_point.name):
            raise ValueError(f"cannot add {entry_point.name!r} to {cls.__name__}: name taken")

        def stub(*args: Any, **kwargs: Any) -> Any:
            from .core import Stream

            node = entry_point.load()
            if not (isinstance(node, type) and issubclass(node, Stream)):
                raise TypeError(
                    f"plugin {entry_point.name!r} ({entry_point.value}) must be a subclass "
                    f"of Stream, got {node!r}"
                )
            cls.register_api(modifier, attribute_name=entry_point.name)(node)
            return node(*args, **kwargs)

        stub.__name__ = entry_point.name
        stub.__doc__ = f"Plugin {entry_point.value}; loaded on first call."
        cls.register_api(modifier, attribute_name=entry_point.name)(stub)


registered = False
"""Whether :func:`register_plugins` has run."""


def register_plugins() -> bool:
    """Register a loading stub for every plugin entry point; return whether any is new.

    Runs once, on the first node built or the first unknown ``Stream.<name>`` lookup,
    never at import. The groups are ``streams.nodes`` and ``streams.sinks`` (methods)
    and ``streams.sources`` (static methods); a plugin's module is imported only when
    its method is first called. A plugin whose name is taken is skipped with a warning.
    """
    from .core import Stream

    global registered
    if registered:
        return False
    registered = True
    added = False
    for group, static in PLUGIN_GROUPS.items():
        for ep in importlib.metadata.entry_points(group=group):
            if hasattr(Stream, ep.name):
                warnings.warn(
                    f"streams plugin {ep.name!r} from {ep.value} is ignored: Stream.{ep.name} "
                    "exists already",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            Stream.register_plugin_entry_point(ep, staticmethod if static else identity)
            added = True
    return added
