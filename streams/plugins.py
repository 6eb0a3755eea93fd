"""Plugins: third-party nodes added to the ``Stream`` API.

``register_api`` adds a node class by hand; entry points in the groups below add the
nodes of installed packages, registered when plugins are first looked for (never at
import: ``importlib.metadata`` is imported then) and imported on first call.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ._util import identity

__all__ = ["PLUGIN_GROUPS", "EntryPointLike", "PluginMethods", "register_plugins"]

N = TypeVar("N")

PLUGIN_GROUPS = {
    "streams.nodes": False,
    "streams.sinks": False,
    "streams.sources": True,
    "streamz.nodes": False,
    "streamz.sinks": False,
    "streamz.sources": True,
}
"""Entry-point groups searched for plugins, in this order, and whether their nodes are
static methods. streamz's groups are searched too, so installed streamz plugins load; a
name registered from a ``streams`` group wins over the same name from a ``streamz`` one."""


class EntryPointLike(Protocol):
    """What a plugin entry point needs: a ``name`` and a ``load()`` giving the node class
    (an :class:`importlib.metadata.EntryPoint`, or any object like it)."""

    @property
    def name(self) -> str: ...

    def load(self) -> Any: ...


def _origin(entry_point: Any) -> str:
    """Where an entry point points, for messages: ``module:attr`` when it says."""
    value = getattr(entry_point, "value", None) or getattr(entry_point, "module_name", None)
    return str(value) if value else repr(entry_point)


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
        cls, entry_point: EntryPointLike, modifier: Callable[[Any], Any] = identity
    ) -> None:
        """Make an entry point's node available as ``Stream.<name>``, loaded on first call.

        Installed plugins are found on their own (see :func:`register_plugins`); this
        registers one entry point explicitly. Until its first call, ``Stream.<name>`` is
        a stub named ``stub``; the call imports the node class (which must subclass
        :class:`~streams.Stream`), registers it in the stub's place and builds it.

        Parameters
        ----------
        entry_point : importlib.metadata.EntryPoint or alike
            Anything with a ``name`` and a ``load()`` returning the node class.
        modifier : callable, optional
            ``staticmethod`` for sources (``Stream.from_x(...)``).

        Raises
        ------
        ValueError
            If ``Stream`` has an attribute of that name already.

        Examples
        --------
        >>> from streams import Stream
        >>> class Negate(Stream):
        ...     def update(self, x, who=None, metadata=()):
        ...         return self._emit(-x, metadata)
        >>> class EntryPoint:  # what importlib.metadata would give for "negate = mod:Negate"
        ...     name = "negate"
        ...     def load(self):
        ...         return Negate
        >>> Stream.register_plugin_entry_point(EntryPoint())
        >>> Stream.negate.__name__
        'stub'
        >>> source = Stream()
        >>> out = source.negate().sink_to_list()
        >>> source.emit(3)
        >>> out, Stream.negate.__name__
        ([-3], 'Negate')
        >>> del Stream.negate  # unregister
        """
        name = entry_point.name
        if hasattr(cls, name):
            raise ValueError(f"cannot add {name!r} to {cls.__name__}: name taken")

        def stub(*args: Any, **kwargs: Any) -> Any:
            from .core import Stream

            node = entry_point.load()
            if not (isinstance(node, type) and issubclass(node, Stream)):
                raise TypeError(
                    f"plugin {name!r} ({_origin(entry_point)}) must be a subclass of "
                    f"Stream (streams.Stream), got {node!r}"
                )
            cls.register_api(modifier, attribute_name=name)(node)
            return node(*args, **kwargs)

        stub.__doc__ = f"Plugin {name!r} ({_origin(entry_point)}); loaded on first call."
        cls.register_api(modifier, attribute_name=name)(stub)


registered = False
"""Whether :func:`register_plugins` has run."""


def register_plugins() -> bool:
    """Register a loading stub for every plugin entry point; return whether any is new.

    Runs once, when plugins are first looked for (the first node built, or the first
    unknown ``Stream.<name>`` lookup), never at import. The groups are ``streams.nodes``
    and ``streams.sinks`` (methods) and ``streams.sources`` (static methods), then
    streamz's groups of the same names; a plugin's module is imported only when its
    method is first called. A plugin whose name is taken is skipped with a warning,
    unless a plugin took it (a package registering a node under both projects' groups).
    """
    import importlib.metadata  # here, not at import: it costs more than the rest of streams

    from .core import Stream

    global registered
    if registered:
        return False
    registered = True
    added = False
    plugins: set[str] = set()
    everything = importlib.metadata.entry_points()  # one scan of the installed packages
    for group, static in PLUGIN_GROUPS.items():
        for ep in everything.select(group=group):
            if ep.name in plugins:
                continue
            if hasattr(Stream, ep.name):
                warnings.warn(
                    f"streams plugin {ep.name!r} from {_origin(ep)} is ignored: Stream.{ep.name} "
                    "exists already",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            Stream.register_plugin_entry_point(ep, staticmethod if static else identity)
            plugins.add(ep.name)
            added = True
    return added
