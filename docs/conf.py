"""Sphinx configuration for the aliexpress-onboarding documentation.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (``make docs``).

The pages are MyST Markdown, and pytest runs their ``>>>`` examples as doctests. The package
is imported from the environment (installed editable), so nothing is added to ``sys.path``.
The build needs no network: no extension fetches anything (no intersphinx inventories).
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import version as _version
from typing import Any

from pygments.lexers.special import TextLexer
from sphinx.util import logging

project = "aliexpress-onboarding"
author = "aliexpress-onboarding maintainers"
copyright = "aliexpress-onboarding maintainers"
release = _version("aliexpress-onboarding")
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
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

PACKAGE = "aliexpress_onboarding"
logger = logging.getLogger(__name__)


def _check_public_names_documented(app: Any, env: Any) -> None:
    """Warn (an error under ``-W``) for each public name the API reference leaves out.

    A name counts as documented under the package (``aliexpress_onboarding.App``) or under
    the module that defines it (``aliexpress_onboarding.errors.NotFoundError``).
    """
    package = import_module(PACKAGE)
    documented = set(env.get_domain("py").objects)
    for name in package.__all__:
        home = getattr(getattr(package, name), "__module__", PACKAGE)
        if documented.isdisjoint({f"{PACKAGE}.{name}", f"{home}.{name}"}):
            logger.warning(
                "%s.%s is public but not documented: add it to docs/api.md",
                PACKAGE,
                name,
                type="aliexpress_onboarding",
                subtype="undocumented",
            )


def _show_attrs_factories(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: str | None, annotation: Any
) -> tuple[str, Any] | None:
    """An attrs field with a ``factory`` has the default ``NOTHING`` in ``__init__``: say so."""
    if signature and "= NOTHING" in signature:
        return signature.replace("= NOTHING", "= <factory>"), annotation
    return None


def setup(app: Any) -> None:
    """Highlight ```mermaid fences as plain text; check the API reference is complete."""
    app.add_lexer("mermaid", TextLexer)
    app.connect("autodoc-process-signature", _show_attrs_factories)
    app.connect("env-check-consistency", _check_public_names_documented)
