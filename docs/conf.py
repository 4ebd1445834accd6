"""Sphinx configuration for the aliexpress-onboarding documentation.

Build: ``sphinx-build -E -W --keep-going -b html docs docs/_build/html`` (``make docs``).

The pages are MyST Markdown, and pytest runs their ``>>>`` examples as doctests. The package
is imported from the environment (installed editable); only ``docs/_ext``, this site's own
extensions, is added to ``sys.path``. The build needs no network: no extension fetches
anything (no intersphinx inventories, no Mermaid script: the state diagrams are drawn as SVG
by ``docs/_ext/state_svg.py``).
"""

from __future__ import annotations

import sys
from importlib.metadata import version as _version
from pathlib import Path
from typing import Any

from pygments.lexers.special import TextLexer

project = "aliexpress-onboarding"
author = "aliexpress-onboarding maintainers"
copyright = "aliexpress-onboarding maintainers"
release = _version("aliexpress-onboarding")
version = release

# This site's own extensions, in docs/_ext: the API reference must list every public name
# (public_api), and the state diagrams are drawn as SVG at build time (state_diagrams).
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))
public_api_package = "aliexpress_onboarding"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "public_api",
    "state_diagrams",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# MyST: ::: fences for directives, definition lists, anchors on headings for links.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Docstrings are Google style; `single backticks` in them are Python cross-references.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
default_role = "py:obj"
autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "furo"
html_title = f"aliexpress-onboarding {release}"


def _show_attrs_factories(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: str | None, annotation: Any
) -> tuple[str, Any] | None:
    """An attrs field with a ``factory`` has the default ``NOTHING`` in ``__init__``: say so."""
    if signature and "= NOTHING" in signature:
        return signature.replace("= NOTHING", "= <factory>"), annotation
    return None


def setup(app: Any) -> None:
    """Highlight ```mermaid fences (kept as text outside HTML) as plain text; show factories."""
    app.add_lexer("mermaid", TextLexer)
    app.connect("autodoc-process-signature", _show_attrs_factories)
