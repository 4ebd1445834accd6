"""The command line: the demo walk-through and usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aliexpress_onboarding.cli import main


def test_demo_walks_through_five_applicants(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo checks each realistic applicant and says what to do next."""
    assert 0 == main(["demo"])
    out = capsys.readouterr().out
    for name in (
        "Hangzhou Sunrise Trading",
        "Distribuciones Iberia",
        "Nordic Home AB",
        "Connector Works GmbH",
        "Li Wei",
    ):
        assert name in out
    assert 4 == out.count("next: activate the developer account")
    assert "not_an_enterprise" in out
    assert "own_store_third_party_module" in out


def test_module_entry_point_runs_the_demo() -> None:
    """`python -m aliexpress_onboarding demo` works as the README says."""
    result = subprocess.run(
        [sys.executable, "-m", "aliexpress_onboarding", "demo"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (0, "") == (result.returncode, result.stderr)


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad command exits with code 2 and a message on stderr."""
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert 2 == caught.value.code
    assert "invalid choice" in capsys.readouterr().err
