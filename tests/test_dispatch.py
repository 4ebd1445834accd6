"""The `dispatch` command: the outbox delivered to a real local SMTP server, and stopped cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from aliexpress_onboarding import (
    Actor,
    Applicant,
    DeveloperProfile,
    DeveloperType,
    EmailAddress,
    LicenseDocument,
    OnboardingService,
    StorageError,
)
from aliexpress_onboarding.adapters.memory import SystemClock
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository
from aliexpress_onboarding.cli import main
from aliexpress_onboarding.sealing import Keyring

HOST = "127.0.0.1"
PASSWORD = "pw-Zq81-never-shown"
SUBJECTS = [
    "AliExpress Open Platform: your developer application was approved",
    "AliExpress Open Platform: your app sunrise_sync was created",
]
_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)


class Inbox:
    """An aiosmtpd handler that keeps the subject of every message it receives."""

    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        for line in content.decode().splitlines():
            if line.startswith("Subject: "):
                self.subjects.append(line.removeprefix("Subject: "))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def smtp_port() -> int:
    """A port on 127.0.0.1 where no mail server listens yet (see `serving`)."""
    return _free_port()


class _Serving:
    """Starts a real SMTP server (aiosmtpd) on a port, and stops it at the test's end."""

    def __init__(self) -> None:
        self.controllers: list[Controller] = []

    def __call__(self, port: int) -> Inbox:
        inbox = Inbox()
        controller = Controller(inbox, hostname=HOST, port=port, server_hostname="localhost")
        controller.start()
        self.controllers.append(controller)
        return inbox


@pytest.fixture
def serving() -> Iterator[_Serving]:
    servers = _Serving()
    yield servers
    for controller in servers.controllers:
        controller.stop()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A SQLite store whose outbox holds an approval and a new (sealed) app, none delivered."""
    keys = tmp_path / "o.keys"
    Keyring.generate().save(keys)
    service = OnboardingService.from_url(
        f"sqlite:///{tmp_path / 'o.db'}", keyring=Keyring.load(keys), auto_dispatch=False
    )
    seller, reviewer = Actor.seller("cn1234567890"), Actor.reviewer("amy")
    account = service.register_account(seller_id=seller.id, enterprise_id="ent-1", actor=seller)
    service.accept_agreement(account.id, "2021-03", actor=seller)
    profile = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise.example.com"))
    service.submit_profile(account.id, profile, actor=seller)
    applicant = Applicant(
        name="Sunrise Trading", country="CN", is_enterprise=True, is_aliexpress_seller=True
    )
    licence = LicenseDocument.from_bytes(_JPEG, filename="licence.jpg")
    application = service.apply(account.id, DeveloperType.SELF, applicant, licence, actor=seller)
    service.approve(application.id, actor=reviewer)
    service.create_app(account.id, DeveloperType.SELF, "sunrise_sync", actor=seller)
    return tmp_path / "o.db"


@pytest.fixture(autouse=True)
def _no_settings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ONBOARDING_"):
            monkeypatch.delenv(name)


def _flags(store: Path, port: int, *more: str) -> list[str]:
    return [
        *("dispatch", "--db", str(store), "--keys", str(store.with_suffix(".keys"))),
        *("--smtp-host", HOST, "--smtp-port", str(port), "--smtp-security", "none"),
        *("--smtp-from", "onboarding@platform.example.com", "--smtp-deadline", "5", *more),
    ]


def _pending(store: Path) -> list[tuple[str, int]]:
    """The undelivered events' types and attempt counts."""
    repository = SQLiteRepository(store)
    try:
        return [(entry.event.type, entry.attempts) for entry in repository.pending_events()]
    finally:
        repository.close()


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------- one pass


def test_one_pass_emails_the_developer_and_empties_the_outbox(
    store: Path, smtp_port: int, serving: _Serving, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dispatch --once`: the approval and the new app are e-mailed; nothing stays pending."""
    inbox = serving(smtp_port)
    code, out, err = _run(capsys, _flags(store, smtp_port, "--once"))
    assert (0, SUBJECTS, [], "") == (code, inbox.subjects, _pending(store), err)
    assert out.endswith(": delivered 7, failed 0, deferred 0\n")


def test_one_pass_in_json_is_one_object_on_one_line(
    store: Path, smtp_port: int, serving: _Serving, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--json`: the pass is one JSON object with the counts and the last error."""
    serving(smtp_port)
    code, out, _ = _run(capsys, _flags(store, smtp_port, "--once", "--json"))
    (line,) = out.splitlines()
    record = json.loads(line)
    assert (0, {"delivered": 7, "failed": 0, "deferred": 0, "last_error": None}) == (
        code,
        {key: record[key] for key in ("delivered", "failed", "deferred", "last_error")},
    )
    assert datetime.fromisoformat(record["finished_at"]).tzinfo is not None


def test_a_mail_server_that_is_down_loses_nothing_and_a_later_pass_delivers(
    store: Path,
    smtp_port: int,
    serving: _Serving,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Server down: exit 1, one line saying why, e-mails kept; an hour later they go out."""
    code, out, _ = _run(capsys, _flags(store, smtp_port, "--once"))
    assert (1, [("ApplicationApproved", 1), ("AppCreated", 1)]) == (code, _pending(store))
    (line,) = out.splitlines()
    assert (
        ": delivered 5, failed 2, deferred 0 (kept in the outbox for a later pass); last error:"
        f" could not send e-mail to dev@sunrise.example.com via {HOST}:{smtp_port}:"
        " ConnectionRefusedError:"
    ) in line
    inbox = serving(smtp_port)
    later = datetime.now(UTC) + timedelta(hours=1)  # past the retry delay (30 s)
    monkeypatch.setattr(SystemClock, "now", lambda self: later)
    assert (0, SUBJECTS, []) == (
        _run(capsys, _flags(store, smtp_port, "--once"))[0],
        inbox.subjects,
        _pending(store),
    )


def test_without_the_key_file_the_app_email_waits_in_the_outbox(
    store: Path, smtp_port: int, serving: _Serving, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sealed app cannot be read without its key: that e-mail fails and stays, the rest go."""
    inbox = serving(smtp_port)
    flags = _flags(store, smtp_port, "--once")
    del flags[3:5]  # --keys PATH
    code, out, _ = _run(capsys, flags)
    assert (1, SUBJECTS[:1], [("AppCreated", 1)]) == (code, inbox.subjects, _pending(store))
    assert "has no keyring" in out


# --------------------------------------------------------------------------- the settings


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--smtp-host", ""], "no mail server: give --smtp-host or set ONBOARDING_SMTP_HOST"),
        (["--smtp-from", "nobody"], "the From address (--smtp-from): email: not a valid"),
        (["--keys", "/no/such.keys"], "/no/such.keys: no such key file"),
    ],
)
def test_a_bad_setting_is_a_usage_error_in_one_line(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing mail server, a bad From, a missing key file: exit 2, one line naming it."""
    argv = _flags(Path("o.db"), 25)
    for flag, value in zip(flags[::2], flags[1::2], strict=True):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    code, out, err = _run(capsys, argv)
    assert (2, "", 1) == (code, out, len(err.splitlines()))
    assert message in err


def test_a_bad_setting_from_the_environment_is_a_usage_error_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """$ONBOARDING_SMTP_SECURITY is checked as the flag is: exit 2, one line naming it."""
    monkeypatch.setenv("ONBOARDING_SMTP_SECURITY", "bogus")
    argv = _flags(Path("o.db"), 25)
    del argv[argv.index("--smtp-security") : argv.index("--smtp-security") + 2]
    code, out, err = _run(capsys, argv)
    assert (2, "", 1) == (code, out, len(err.splitlines()))
    assert "the mail server settings: security: must be 'none', 'starttls' or 'ssl'" in err


def test_a_password_never_crosses_in_clear_text_and_is_never_printed(
    store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """$ONBOARDING_SMTP_PASSWORD with `--smtp-security none`: refused, and not shown."""
    monkeypatch.setenv("ONBOARDING_SMTP_PASSWORD", PASSWORD)
    code, out, err = _run(capsys, [*_flags(store, 25, "--once"), "--smtp-user", "onboarding"])
    assert (2, "", False) == (code, out, PASSWORD in err)
    assert "must be 'starttls' or 'ssl' when a password is given" in err


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--interval", "0"), ("--interval", "soon"), ("--batch", "0"), ("--smtp-port", "99999")],
)
def test_a_bad_number_is_refused_by_the_parser(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An interval, batch size or port out of range: argparse's usage error, exit 2."""
    with pytest.raises(SystemExit) as caught:
        main([*_flags(Path("o.db"), 25), flag, value])
    assert 2 == caught.value.code
    assert f"argument {flag}" in capsys.readouterr().err


def test_the_settings_come_from_the_environment(
    store: Path,
    smtp_port: int,
    serving: _Serving,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ONBOARDING_URL, _KEYS and _SMTP_*: `dispatch --once` needs no other flag."""
    inbox = serving(smtp_port)
    for name, value in {
        "URL": f"sqlite:///{store}",
        "KEYS": str(store.with_suffix(".keys")),
        "SMTP_HOST": HOST,
        "SMTP_PORT": str(smtp_port),
        "SMTP_SECURITY": "none",
        "SMTP_FROM": "onboarding@platform.example.com",
    }.items():
        monkeypatch.setenv(f"ONBOARDING_{name}", value)
    assert (0, SUBJECTS) == (main(["dispatch", "--once"]), inbox.subjects)


# --------------------------------------------------------------------------- the long run


def test_a_pass_the_store_fails_is_reported_and_the_next_pass_runs(
    smtp_port: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store failure mid-run is one warning line, not the end of the dispatcher."""
    calls: list[int] = []

    def dispatch_pending(self: OnboardingService, limit: int = 1000) -> Any:
        calls.append(limit)
        if len(calls) == 1:
            raise StorageError("the write failed on 'o.db': the disk is full")
        os.kill(os.getpid(), signal.SIGTERM)  # the handler only asks the loop to stop
        return original(self, limit)

    original = OnboardingService.dispatch_pending
    monkeypatch.setattr(OnboardingService, "dispatch_pending", dispatch_pending)
    argv = _flags(Path("o.db"), smtp_port, "--interval", "0.01")
    del argv[1:5]  # --db o.db --keys o.keys
    code, _, err = _run(capsys, [*argv, "--db", "memory://"])
    assert (0, 2) == (code, len(calls))
    assert [
        "aliexpress-onboarding: warning: a pass failed: the write failed on 'o.db': the disk is"
        " full",
        "aliexpress-onboarding: stopped after 2 passes: 0 events delivered, 0 failed",
    ] == err.splitlines()[1:]


def _start(argv: list[str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "aliexpress_onboarding", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    assert process.stderr.readline().startswith("aliexpress-onboarding: dispatching the outbox")
    return process


def test_sigterm_stops_the_dispatcher_at_once_after_its_pass(
    store: Path, smtp_port: int, serving: _Serving
) -> None:
    """A real process: it delivers, waits, and on SIGTERM closes and exits 0 within a second."""
    inbox = serving(smtp_port)
    process = _start(_flags(store, smtp_port, "--interval", "60"))
    assert process.stdout is not None
    assert process.stdout.readline().endswith(": delivered 7, failed 0, deferred 0\n")
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    assert (
        0,
        "",
        "aliexpress-onboarding: stopped after 1 pass: 7 events delivered, 0 failed\n",
    ) == (
        process.returncode,
        out,
        err,
    )
    assert time.monotonic() - started < 1.0
    assert (SUBJECTS, []) == (inbox.subjects, _pending(store))


def test_sigterm_during_a_hung_send_waits_the_smtp_deadline_at_most_and_loses_nothing(
    store: Path,
) -> None:
    """A mail server that never answers: the stop comes at the e-mail's deadline, and both
    e-mails are still in the outbox."""
    with socket.create_server((HOST, 0)) as black_hole:
        port = black_hole.getsockname()[1]
        flags = _flags(store, port, "--interval", "60")
        flags[flags.index("--smtp-deadline") + 1] = "1"
        process = _start(flags)
        time.sleep(0.3)  # the first e-mail is being sent
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
        stopped_in = time.monotonic() - started
    assert (0, [("ApplicationApproved", 1), ("AppCreated", 0)]) == (
        process.returncode,
        _pending(store),
    )
    assert stopped_in < 2.0
    assert err.endswith("stopped after 1 pass: 5 events delivered, 1 failed\n")
