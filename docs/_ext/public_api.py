"""Fail the docs build when the API reference leaves out a public name.

The public names are the ``__all__`` of the package and of every public module below it (no
``_`` anywhere in its dotted path), submodules of subpackages included. Each needs an entry in
the Python domain, normally from docs/api.md. The package is named by ``public_api_package``
in conf.py.
"""

from __future__ import annotations

import inspect
import pkgutil
from importlib import import_module
from types import ModuleType
from typing import Any

from sphinx.util import logging

logger = logging.getLogger(__name__)


def public_modules(package_name: str) -> list[ModuleType]:
    """The package and every module below it with no ``_`` in its dotted path, imported."""
    package = import_module(package_name)
    names = sorted(
        info.name
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}.")
        if not any(part.startswith("_") for part in info.name.split("."))
    )
    return [package, *(import_module(name) for name in names)]


def _check_public_names_documented(app: Any, env: Any) -> None:
    """Warn (an error under ``-W``) for each public name the API reference leaves out.

    A name counts as documented under any public module that exports the same object under
    that name (``aliexpress_onboarding.App`` for ``aliexpress_onboarding.domain.app.App``) or,
    for a class or a function, under the module that defines it.
    """
    documented = set(env.get_domain("py").objects)
    modules = public_modules(app.config.public_api_package)
    reported: set[frozenset[str]] = set()  # one warning per object, however many export it
    for module in modules:
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            homes = {
                other.__name__
                for other in modules
                if name in getattr(other, "__all__", ()) and getattr(other, name) is value
            }
            if inspect.isclass(value) or inspect.isfunction(value):
                homes.add(value.__module__)
            names = frozenset(f"{home}.{name}" for home in homes)
            if documented.isdisjoint(names) and names not in reported:
                reported.add(names)
                logger.warning(
                    "%s.%s is public but not documented: add it to docs/api.md",
                    module.__name__,
                    name,
                    type="public_api",
                    subtype="undocumented",
                )


def setup(app: Any) -> dict[str, Any]:
    """Register ``public_api_package`` and the check, run once every page is read."""
    app.add_config_value("public_api_package", "", "env", types=[str])
    app.connect("env-check-consistency", _check_public_names_documented)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
