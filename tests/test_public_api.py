"""The public surface: one sorted, complete __all__, every name documented."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

import aliexpress_onboarding
from aliexpress_onboarding import errors


def test_all_is_sorted() -> None:
    """__all__ is kept in sorted order, so diffs and readers find names fast."""
    assert sorted(aliexpress_onboarding.__all__) == aliexpress_onboarding.__all__


def test_all_is_complete() -> None:
    """Every name in __all__ resolves, and every lazily exported name is in __all__."""
    exported = aliexpress_onboarding._WHERE
    assert set(exported) == set(aliexpress_onboarding.__all__)
    for name in aliexpress_onboarding.__all__:
        value = getattr(aliexpress_onboarding, name)
        assert name == value.__name__
        assert value is getattr(
            importlib.import_module(exported[name], "aliexpress_onboarding"), name
        )


def test_unknown_attribute_is_an_attribute_error() -> None:
    """A misspelt name fails like on any module, with the name in the message."""
    with pytest.raises(AttributeError, match="OnboardingServise"):
        aliexpress_onboarding.OnboardingServise  # noqa: B018


def test_dir_lists_the_public_names() -> None:
    """dir() shows the lazily loaded names before they are loaded."""
    assert set(aliexpress_onboarding.__all__) <= set(dir(aliexpress_onboarding))


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
    """Importing the package leaves email-validator, dateutil, cattrs, sqlite3, psycopg unloaded."""
    code = (
        "import sys, aliexpress_onboarding; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'email_validator', 'dateutil', 'cattrs', 'sqlite3', 'psycopg', 'smtplib'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "[]" == result.stdout.strip()


def test_first_use_of_the_service_loads_no_storage_or_mail_modules() -> None:
    """Using the service in memory does not drag in cattrs, sqlite3, psycopg or smtplib."""
    code = (
        "import sys; from aliexpress_onboarding import OnboardingService, Actor; "
        "s = OnboardingService(); "
        "s.register_account(seller_id='s', enterprise_id='e', actor=Actor.seller('s')); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'cattrs', 'sqlite3', 'psycopg', 'smtplib', 'email_validator'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "[]" == result.stdout.strip()
