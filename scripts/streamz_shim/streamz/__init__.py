"""Import shim used by ``scripts/streamz_suite.py``: ``streamz`` names resolve to streams.

``streamz.X`` is ``streams.X`` and ``streamz.a.b.X`` is ``streams.a.b.X``, for every
submodule at any depth (``streamz.dataframe.core`` is ``streams.dataframe.core``),
through a finder that leaves real files to the ordinary finders (so this package's own
``utils_test`` and the extracted ``tests`` packages are real files) and mirrors every
other name, including folders without ``__init__.py`` such as the extracted
``dataframe/``, which only hold test files and would otherwise import as namespace
packages that hide ``streams.dataframe``. Nothing is translated or emulated: a name
streams lacks raises ``AttributeError`` (``ImportError`` for ``from streamz import X``),
and a module it lacks ``ModuleNotFoundError``, so only the tests that use it fail.

Exception: the names streamz's test files import at module level (``STUBS``) resolve,
when streams lacks them, to a :class:`Missing` stub that raises on use, so that one
missing name (or module) fails the tests that use it rather than the whole file's
collection.

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
    "streamz.dataframe": frozenset({"Aggregation", "DataFrame", "DataFrames", "Series"}),
    "streamz.dataframe.utils": frozenset(
        {
            "get_base_frame_type",
            "get_dataframe_package",
            "is_dataframe_like",
            "is_index_like",
            "is_series_like",
        }
    ),
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
    if module is None and twin_spec(target) is not None:
        module = importlib.import_module(target)
    if module is not None and hasattr(module, name):
        return getattr(module, name)
    if name in STUBS.get(shim_name, ()):
        return Missing(f"{target}.{name}")
    raise AttributeError(f"streams lacks {target}.{name} (asked for as {shim_name}.{name})")


def twin_spec(target: str) -> importlib.machinery.ModuleSpec | None:
    """The spec of streams module ``target``; ``None`` if it or a package above it is missing."""
    try:
        return importlib.util.find_spec(target)
    except ModuleNotFoundError as error:  # find_spec imports the parents, which may be missing
        missing = error.name or ""
        if missing.startswith("streams.") and (target + ".").startswith(missing + "."):
            return None
        raise


class MirrorFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``streamz.<sub>`` a module forwarding to ``streams.<sub>``, at any depth.

    It comes before the ordinary path finder, and declines (returns ``None``) a name that
    is a real file or package in the shim's folder, which the ordinary finders then load
    as usual (pytest's assertion rewriting included). A folder without ``__init__.py``
    there is no module of its own: it is mirrored like any other name.
    """

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("streamz."):
            return None
        own = importlib.machinery.PathFinder.find_spec(fullname, path)
        if own is not None and own.loader is not None:
            return None
        twin = twin_spec(target_of(fullname))
        if twin is None and fullname not in STUBS:
            raise ModuleNotFoundError(
                f"streams lacks module {target_of(fullname)} (asked for as {fullname})",
                name=fullname,
            )
        if twin is not None:
            package = twin.submodule_search_locations is not None
        else:  # a stub module: a package if stubs are asked for below it
            package = any(name.startswith(fullname + ".") for name in STUBS)
        return importlib.util.spec_from_loader(fullname, self, is_package=package)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        module.__getattr__ = functools.partial(forward, module.__name__)  # type: ignore[method-assign]


if not any(isinstance(f, MirrorFinder) for f in sys.meta_path):
    sys.meta_path.insert(  # just before the ordinary path finder
        next(
            (i for i, f in enumerate(sys.meta_path) if f is importlib.machinery.PathFinder),
            len(sys.meta_path),
        ),
        MirrorFinder(),
    )


# logging.getLogger("streamz") finds this entry; loggers named streamz.x get it as parent
logging.Logger.manager.loggerDict.setdefault("streamz", logging.getLogger("streams"))


def __getattr__(name: str) -> Any:
    return forward(__name__, name)
