"""The documentation builds without a warning and documents every public Stream method.

The examples in docs/*.rst run separately, as doctests (``--doctest-glob=*.rst``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams import Stream

DOCS = Path(__file__).resolve().parent.parent / "docs"
SPHINX = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q"]


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """Build the HTML docs once for this module; return the finished process and output dir."""
    out = tmp_path_factory.mktemp("html")
    done = subprocess.run(
        [*SPHINX, str(DOCS), str(out)], capture_output=True, text=True, check=False
    )
    return done, out


def public_methods() -> dict[str, str]:
    """Public methods of Stream defined in the streams package: name -> defining module.

    Methods added at run time by ``Stream.register_api`` (plugins, doctest examples)
    are not part of the library's own API and are left out.
    """
    methods = {}
    for name in dir(Stream):
        if name.startswith("_"):
            continue
        attr = getattr(Stream, name)
        if not callable(attr):
            continue
        func = getattr(attr, "__func__", attr)
        if getattr(func, "_streams_plugin", False):
            continue
        module = getattr(func, "__module__", "") or ""
        if module == "streams" or module.startswith("streams."):
            methods[name] = module
    return methods


def test_docs_build_without_warnings(html):
    done, _ = html
    assert done.returncode == 0, (
        f"sphinx-build failed with code {done.returncode}:\n{done.stderr}{done.stdout}"
    )


def test_every_public_stream_method_is_documented(html):
    _, out = html
    methods = public_methods()
    assert {"map", "emit", "destroy", "sink_to_list"} <= methods.keys()

    api = (out / "api.html").read_text(encoding="utf-8")
    missing = sorted(name for name in methods if f'id="streams.Stream.{name}"' not in api)
    assert not missing, f"no entry in the API reference (docs/api.rst) for Stream.{missing}"

    table = (DOCS / "guide" / "operators.rst").read_text(encoding="utf-8")
    operators = [name for name, module in methods.items() if module.startswith("streams.methods.")]
    unlisted = sorted(name for name in operators if f"streams.Stream.{name}`" not in table)
    assert not unlisted, f"operators missing from docs/guide/operators.rst: {unlisted}"
