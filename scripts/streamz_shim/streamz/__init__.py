"""Import shim used by ``scripts/streamz_suite.py``: ``streamz`` names resolve to streams.

``streamz.X`` is ``streams.X`` and ``streamz.a.b.X`` is ``streams.a.b.X``, for every
submodule, through a finder placed after the ordinary ones (so this package's own
``utils_test`` and the extracted ``tests`` are real files). Nothing is translated or
emulated: a name streams lacks raises ``AttributeError`` (``ImportError`` for
``from streamz import X``), so only the tests that use it fail.

Exception: the names streamz's test files import at module level (``STUBS``) resolve,
when streams lacks them, to a :class:`Missing` stub that raises on use, so that one
missing name fails the tests that use it rather than the whole file's collection.

A logger name is a name too: ``logging.getLogger("streamz")`` is the ``streams``
logger, as ``import streamz`` gives streams.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
from types import ModuleType
from typing import Any, NoReturn

STUBS: dict[str, frozenset[str]] = {
    "streamz": frozenset(
        {"RefCounter", "Source", "Stream", "create_graph", "identity", "visualize"}
    ),
    "streamz.core": frozenset({"Stream"}),
    "streamz.sources": frozenset({"sink_to_file"}),
    "streamz.sinks": frozenset({"Sink", "_global_sinks"}),
    "streamz.graph": frozenset({"_clean_text"}),
    "streamz.dask": frozenset({"DaskStream", "scatter"}),
    "streamz.batch": frozenset({"Batch", "Streaming"}),
}
"""Per shim module, the names streamz's test files import from it at module level."""


class Missing:
    """Stands for ``streams.<name>``, which does not exist: any use of it raises."""

    def __init__(self, target: str) -> None:
        self._target = target

    def _fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(f"streams lacks {self._target} (streamz shim stub)")

    __call__ = __iter__ = __contains__ = __len__ = __getitem__ = _fail

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._fail()

    def __repr__(self) -> str:
        return f"<missing {self._target}>"


def target_of(shim_name: str) -> str:
    """The streams module a shim module stands for: ``streamz.a.b`` -> ``streams.a.b``."""
    return "streams" + shim_name.removeprefix("streamz")


def forward(shim_name: str, name: str) -> Any:
    """Module ``__getattr__``: the attribute ``name`` of the streams twin module."""
    target = target_of(shim_name)
    if name.startswith("__") and name not in ("__all__", "__version__"):
        raise AttributeError(name)  # __file__, __path__...: this module's own, not streams'
    module = sys.modules.get(target)
    if module is None and importlib.util.find_spec(target) is not None:
        module = importlib.import_module(target)
    if module is not None and hasattr(module, name):
        return getattr(module, name)
    if name in STUBS.get(shim_name, ()):
        return Missing(f"{target}.{name}")
    raise AttributeError(f"streams lacks {target}.{name} (asked for as {shim_name}.{name})")


class MirrorFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``streamz.<sub>`` a module forwarding to ``streams.<sub>``."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("streamz."):
            return None
        twin = importlib.util.find_spec(target_of(fullname))
        if twin is None and fullname not in STUBS:
            raise ModuleNotFoundError(
                f"streams lacks module {target_of(fullname)} (asked for as {fullname})",
                name=fullname,
            )
        package = twin is not None and twin.submodule_search_locations is not None
        return importlib.util.spec_from_loader(fullname, self, is_package=package)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        module.__getattr__ = functools.partial(forward, module.__name__)  # type: ignore[method-assign]


if not any(isinstance(f, MirrorFinder) for f in sys.meta_path):
    sys.meta_path.append(MirrorFinder())


# logging.getLogger("streamz") finds this entry; loggers named streamz.x get it as parent
logging.Logger.manager.loggerDict.setdefault("streamz", logging.getLogger("streams"))


def __getattr__(name: str) -> Any:
    return forward(__name__, name)
