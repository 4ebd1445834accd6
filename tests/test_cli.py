"""The command line: the demo walk-through and usage errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aliexpress_onboarding import App
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository
from aliexpress_onboarding.cli import main


def test_demo_walks_through_five_applicants(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo checks each realistic applicant and says what to do next."""
    assert 0 == main(["demo", "--memory"])
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


def test_module_entry_point_runs_the_demo(tmp_path: Path) -> None:
    """`python -m aliexpress_onboarding demo` works as the README says."""
    result = subprocess.run(
        [sys.executable, "-m", "aliexpress_onboarding", "demo", "--db", str(tmp_path / "d.db")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (0, "") == (result.returncode, result.stderr)


def test_demo_runs_the_whole_onboarding_and_redacts_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Activate, apply, escalate, approve, create an app, reset, authorize; e-mails shown."""
    main(["demo", "--db", str(tmp_path / "d.db")])
    out = capsys.readouterr().out
    for text in (
        "account active",
        "ticket ticket-",
        "a reviewer approves",
        "appSecret ********",
        "authorizes the app",
        "Subject: AliExpress Open Platform: your developer application was approved",
        "StoreAuthorized",
    ):
        assert text in out
    app = SQLiteRepository(tmp_path / "d.db").get(App, "app-sunrise-sync")
    assert app.secret.reveal() not in out
    assert app.secret.reveal()[:8] not in out


def test_second_demo_run_continues_where_the_first_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """State survives in the SQLite file: the second run skips done steps and goes on."""
    main(["demo", "--db", str(tmp_path / "d.db")])
    capsys.readouterr()
    main(["demo", "--db", str(tmp_path / "d.db")])
    out = capsys.readouterr().out
    assert "already active: skipped" in out
    assert "already approved: skipped" in out
    assert 2 == out.count("SecretReset")
    assert 4 == SQLiteRepository(tmp_path / "d.db").get(App, "app-sunrise-sync").version


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad command exits with code 2 and a message on stderr."""
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert 2 == caught.value.code
    assert "invalid choice" in capsys.readouterr().err
