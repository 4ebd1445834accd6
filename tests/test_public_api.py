"""The public surface: one sorted, complete __all__, every name documented."""

from __future__ import annotations

import inspect
import subprocess
import sys

import aliexpress_onboarding
from aliexpress_onboarding import errors


def test_all_is_sorted() -> None:
    """__all__ is kept in sorted order, so diffs and readers find names fast."""
    assert sorted(aliexpress_onboarding.__all__) == aliexpress_onboarding.__all__


def test_all_is_complete() -> None:
    """Every public (non-module, non-dunder) name of the package is in __all__ and vice versa."""
    public = {
        name
        for name, value in vars(aliexpress_onboarding).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public == set(aliexpress_onboarding.__all__)


def test_every_error_is_exported_from_the_top_level() -> None:
    """The whole error tree is importable from the package."""
    assert set(errors.__all__) <= set(aliexpress_onboarding.__all__)


def test_every_public_name_has_a_docstring() -> None:
    """Each exported class or function states its promise."""
    undocumented = [
        name
        for name in aliexpress_onboarding.__all__
        if not inspect.getdoc(getattr(aliexpress_onboarding, name))
    ]
    assert [] == undocumented


def test_every_error_descends_from_onboarding_error() -> None:
    """One root: catching OnboardingError catches everything the library raises."""
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.OnboardingError)


def test_error_names_end_in_error() -> None:
    """PEP 8: exception names end in 'Error'."""
    assert all(name.endswith("Error") for name in errors.__all__)


def test_import_does_not_load_costly_optional_modules() -> None:
    """Importing the package leaves email-validator, dateutil and cattrs unloaded."""
    code = (
        "import sys, aliexpress_onboarding; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'email_validator', 'dateutil', 'cattrs'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "[]" == result.stdout.strip()
