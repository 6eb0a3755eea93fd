"""Sphinx configuration for the streams documentation.

Build with ``python -m sphinx -b html -W docs docs/_build/html``. The build needs no
network: the API reference is generated from the installed package's docstrings.
"""

from __future__ import annotations

import streams

project = "streams"
author = "the streams developers"
copyright = "2026, the streams developers"
release = streams.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

exclude_patterns = ["_build"]
root_doc = "index"

# -- autodoc / napoleon ----------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True  # show `start=NO_START`, not the default's repr
autodoc_inherit_docstrings = False  # a node's update() has no docstring of its own
add_module_names = False
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

# -- HTML ------------------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"streams {release}"
html_theme_options = {
    "description": "Push-based reactive streams on an event loop",
    "fixed_sidebar": True,
}


# -- short cross-references in docstrings ------------------------------------------------


def resolve_short_name(app, env, node, contnode):
    """Resolve ``Stream.map``-style references written inside the library's docstrings.

    Docstrings of node classes say ``:meth:`Stream.accumulate``` while the reference
    documents ``streams.Stream.accumulate``. When exactly one documented Python object
    ends with the written name, link to it; otherwise leave the text unlinked.
    """
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target or target.startswith("."):
        return None
    from sphinx.util.nodes import make_refnode

    domain = env.get_domain("py")
    suffix = "." + target
    found = [
        (name, obj)
        for name, obj in domain.objects.items()
        if name.endswith(suffix) and not obj.aliased
    ]
    if len(found) != 1:
        return None
    name, obj = found[0]
    return make_refnode(app.builder, node["refdoc"], obj.docname, obj.node_id, contnode, name)


def setup(app):
    app.connect("missing-reference", resolve_short_name)
