"""Secrets audit: an appSecret never shows where it must not, whole or by its first 8 characters.

The whole onboarding runs through `OnboardingService` (on memory and on SQLite, with e-mail and
logging notifiers and DEBUG logging), and the CLI demo runs on a SQLite file. Then every text the
library produced is searched: reprs and strs of aggregates and events, default serialisation,
records and HTML, log records, e-mails, error messages (and the errors' attributes) and the CLI
output. Sanity checks make sure the secrets do exist where they must (`reveal`, storage), so the
audit cannot pass by looking at nothing.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from aliexpress_onboarding import (
    Actor,
    App,
    Applicant,
    AppSecret,
    DeveloperAccount,
    DeveloperApplication,
    DeveloperProfile,
    DeveloperType,
    EmailAddress,
    Event,
    InMemoryNotifier,
    InMemoryRepository,
    LicenseDocument,
    LoggingNotifier,
    OnboardingError,
    OnboardingService,
    Repository,
    ResetSecret,
    SecretReset,
    Store,
    to_records,
)
from aliexpress_onboarding._demo import key_file_for as demo_key_file
from aliexpress_onboarding.adapters.email import (
    EmailNotifier,
    InMemoryEmailSender,
    account_email_lookup,
)
from aliexpress_onboarding.adapters.memory import FanOutNotifier
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository
from aliexpress_onboarding.cli import main
from aliexpress_onboarding.sealing import SEALED_PREFIX, Keyring
from aliexpress_onboarding.serialization import from_json, to_dict, to_json
from aliexpress_onboarding.testing import T0

VERIFIER = Actor.reviewer("verifier-1")  # records the verified enterprise
SELLER = Actor.seller("seller-1")
STRANGER = Actor.seller("seller-2")
REVIEWER = Actor.reviewer("rev-1")
PROFILE = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise.example.com"))
APPLICANT = Applicant(
    name="Hangzhou Sunrise Trading", country="CN", is_enterprise=True, is_aliexpress_seller=True
)
LICENCE = LicenseDocument.from_bytes(
    b"\xff\xd8\xff\xe0" + bytes(16),
    filename="licence.jpg",
    country="CN",
    registration_number="91350100M000100Y43",
)
OWN_STORE = Store("st-1", "seller-1", "ent-1")
OTHER_STORE = Store("st-2", "seller-2", "ent-2")


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.current = T0

    def now(self) -> datetime:
        return self.current


class FlakyNotifier:
    """Fails on the first SecretReset it sees: the outbox retries it and logs a warning."""

    def __init__(self) -> None:
        self.failed = False

    def notify(self, event: Event) -> None:
        if isinstance(event, SecretReset) and not self.failed:
            self.failed = True
            raise RuntimeError(f"notifier down while delivering {event.event_id}")


@attrs.define
class Audit:
    """Every text the library showed, with where it showed it, and every secret it issued."""

    secrets: list[str] = attrs.Factory(list)
    texts: list[tuple[str, str]] = attrs.Factory(list)

    def show(self, where: str, *texts: str) -> None:
        self.texts.extend((where, text) for text in texts)

    def aggregate(self, aggregate: Any) -> None:
        self.show(
            f"aggregate {aggregate.id} v{aggregate.version}",
            repr(aggregate),
            str(aggregate),
            f"{aggregate}",
            to_json(aggregate),
            json.dumps(to_dict(aggregate)),
            repr(to_records([aggregate])),
            aggregate._repr_html_(),
            repr(attrs.asdict(aggregate)),  # attrs' own generic serialisation
            repr(attrs.astuple(aggregate)),
        )

    def event(self, event: Event) -> None:
        self.show(
            f"event {event.event_id}",
            repr(event),
            str(event),
            to_json(event),
            json.dumps(to_dict(event)),
            repr(to_records([event])),
            repr(attrs.asdict(event)),
        )

    def error(self, error: BaseException) -> None:
        self.show(
            f"error {type(error).__name__}",
            str(error),
            repr(error),
            repr(error.args),
            repr(vars(error)),  # the context attributes: .value, .actor, .problems, ...
            "".join(traceback.format_exception_only(error)),
        )

    def log(self, record: logging.LogRecord) -> None:
        self.show(
            f"log {record.name}",
            record.getMessage(),
            str(record.msg),
            repr(record.args),
            logging.Formatter().format(record),
        )

    def refused(self, call: Callable[[], object]) -> None:
        """Run ``call``, which must fail with an OnboardingError, and keep what it says."""
        with pytest.raises(OnboardingError) as caught:
            call()
        self.error(caught.value)

    def leaks(self) -> list[tuple[str, str]]:
        """Where a secret, or its first 8 characters, was shown."""
        needles = {n for secret in self.secrets for n in (secret, secret[:8])}
        return sorted({(where, n) for where, text in self.texts for n in needles if n in text})


def test_the_audit_finds_a_leaked_prefix() -> None:
    """The audit itself works: a secret's first 8 characters anywhere are a leak."""
    audit = Audit(secrets=["0123456789abcdefXYZ"])
    audit.show("probe", "the key is 01234567...")
    assert [("probe", "01234567")] == audit.leaks()


@pytest.fixture(params=["memory", "sqlite"])
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Repository]:
    if request.param == "memory":
        yield InMemoryRepository()
        return
    sqlite_repository = SQLiteRepository(tmp_path / "audit.db", keyring=Keyring.generate())
    yield sqlite_repository
    sqlite_repository.close()


def onboard(service: OnboardingService, clock: ManualClock, audit: Audit) -> list[Any]:
    """The whole onboarding of one seller, with refused attempts; every aggregate it returned."""
    seen: list[Any] = []
    account = service.register_account(seller_id=SELLER.id, enterprise_id="ent-1", actor=SELLER)
    service.verify_enterprise(account.id, "ent-1", 2, actor=VERIFIER)
    seen += [account, service.accept_agreement(account.id, "2024-01", actor=SELLER)]
    seen.append(service.submit_profile(account.id, PROFILE, actor=SELLER))
    application = service.apply(account.id, DeveloperType.SELF, APPLICANT, LICENCE, actor=SELLER)
    clock.current += timedelta(hours=49)
    seen += [application, *service.escalate_overdue()]
    seen.append(service.approve(application.id, actor=REVIEWER))

    app = service.create_app(account.id, DeveloperType.SELF, "sunrise_sync", actor=SELLER)
    first = app.secret.reveal()
    audit.secrets.append(first)
    assert first in to_json(app, include_secrets=True)
    audit.refused(lambda: service.reset_secret(app.id, actor=STRANGER))
    audit.refused(lambda: service.reset_secret(app.id, actor=REVIEWER))
    audit.refused(lambda: service.reset_secret(app.id, actor=SELLER, overlap=timedelta(days=31)))
    renewed = service.reset_secret(app.id, actor=SELLER, overlap=timedelta(hours=24))
    second = renewed.secret.reveal()
    audit.secrets.append(second)
    assert first != second
    assert renewed.secret_matches(first, clock.now())  # the old one, within the overlap
    stored = to_dict(renewed, include_secrets=True)["data"]
    assert (second, first) == (stored["secret"], stored["previous_secret"])
    audit.refused(lambda: service.authorize_store(app.id, OTHER_STORE, actor=SELLER))
    audit.refused(lambda: service.authorize_store(app.id, OWN_STORE, actor=STRANGER))
    authorized = service.authorize_store(app.id, OWN_STORE, actor=SELLER)
    audit.refused(lambda: service.revoke_store(app.id, OWN_STORE.store_id, actor=STRANGER))
    revoked = service.revoke_store(app.id, OWN_STORE.store_id, actor=SELLER)
    seen += [app, renewed, authorized, revoked]
    renewed = service.repository.get(App, app.id)

    clock.current += timedelta(hours=2)  # past the retry delay of the failed notification
    assert 0 == service.dispatch_pending().failed

    for value in (first + " ", first + "\n", first[:15], first * 9, "\u00e9" + second):
        audit.refused(lambda value=value: AppSecret(value))
    audit.refused(lambda: ResetSecret(first))  # type: ignore[arg-type]
    tampered = to_dict(renewed, include_secrets=True)
    tampered["data"]["secret"] = first + " "
    audit.refused(lambda: from_json(json.dumps(tampered), App))
    audit.refused(lambda: renewed.secret_matches(first, clock.now().replace(tzinfo=None)))
    audit.refused(lambda: service.repository.save(renewed, (), expected_version=1))
    return seen


def test_no_secret_shows_anywhere_in_a_whole_onboarding(
    repository: Repository, caplog: pytest.LogCaptureFixture
) -> None:
    """Register, activate, apply, escalate, approve, create, reset, authorize, revoke: no leak."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="aliexpress_onboarding")
    clock = ManualClock()
    sender = InMemoryEmailSender()
    told = InMemoryNotifier()
    notifier = FanOutNotifier(
        EmailNotifier(sender, account_email_lookup(repository)),
        LoggingNotifier(),
        told,
        FlakyNotifier(),
    )
    service = OnboardingService(repository=repository, notifier=notifier, clock=clock)
    audit = Audit()

    seen = onboard(service, clock, audit)

    account = seen[0]
    seen += [
        repository.get(DeveloperAccount, account.id),
        *repository.list_by_account(DeveloperApplication, account.id),
        *repository.list_by_account(App, account.id),
    ]
    for aggregate in seen:
        audit.aggregate(aggregate)
    events = repository.events()
    for event in [*events, *told.events]:
        audit.event(event)
    timeline = service.timeline()
    audit.show("timeline", str(timeline), timeline._repr_html_(), repr(timeline.to_records()))
    audit.show("outbox", *(repr(entry) for entry in repository.pending_events()))
    for email in sender.sent:
        audit.show(f"e-mail {email.subject}", str(email.to), email.subject, email.body, repr(email))
    for record in caplog.records:
        audit.log(record)
    if isinstance(repository, SQLiteRepository):
        audit_database(repository, audit)

    assert 2 == len(audit.secrets)
    assert any(isinstance(event, SecretReset) for event in events)
    assert len(events) + 1 == len(told.events)  # each event told once, the failed one twice
    assert {"AppCreated", "SecretReset"} <= {type(e).__name__ for e in told.events}
    subjects = " ".join(email.subject for email in sender.sent)
    assert "app sunrise_sync was created" in subjects
    assert "appSecret of your app was reset" in subjects
    assert any(r.name == "aliexpress_onboarding.events" for r in caplog.records)
    assert any(r.levelno == logging.WARNING for r in caplog.records)  # the failed delivery
    assert [] == audit.leaks()


def query(path: str | Path, sql: str, parameters: Sequence[object] = ()) -> list[Any]:
    """Run one statement on the database file, behind the repository's back."""
    with closing(sqlite3.connect(path)) as connection, connection:
        return connection.execute(sql, parameters).fetchall()


def audit_database(repository: SQLiteRepository, audit: Audit) -> None:
    """No row holds a secret in the clear (the app's is sealed); a tampered seal says so."""
    outbox = query(repository.path, "SELECT document, last_error FROM outbox")
    [(app_id, document)] = query(
        repository.path, "SELECT id, document FROM aggregates WHERE kind = 'app'"
    )
    audit.show("outbox rows", *(repr(r) for r in outbox))
    audit.show("app row", document)  # sealed: the audit finds no secret in it
    assert any(last_error for _, last_error in outbox)  # the failed delivery's error is kept
    current = repository.get(App, app_id)
    assert current.secret.reveal() == audit.secrets[-1]
    assert SEALED_PREFIX in document
    sealed = json.loads(document)["data"]["secret"]
    tampered = sealed[:-6] + ("AAAA==" if not sealed.endswith("AAAA==") else "BBBB==")
    corrupt = document.replace(sealed, tampered)
    query(repository.path, "UPDATE aggregates SET document = ? WHERE id = ?", (corrupt, app_id))
    audit.refused(lambda: repository.get(App, app_id))


def stored_secrets(path: Path) -> list[str]:
    """The demo app's secrets, read back from its database (current and previous)."""
    repository = SQLiteRepository(path, keyring=Keyring.load(demo_key_file(path)))
    try:
        app = repository.get(App, "app-sunrise-sync")
    finally:
        repository.close()
    assert app.previous_secret is not None  # the demo resets with a 24-hour overlap
    [(document,)] = query(path, "SELECT document FROM aggregates WHERE kind = 'app'")
    assert app.secret.reveal() not in document  # sealed at rest
    return [app.secret.reveal(), app.previous_secret.reveal()]


def test_cli_demo_never_prints_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Two demo runs on one file (create, reset, reset again): no secret in output or logs."""
    caplog.set_level(logging.DEBUG)
    database = tmp_path / "d.db"
    audit = Audit()
    for run in ("first", "second"):
        assert 0 == main(["demo", "--db", str(database)])
        output = capsys.readouterr()
        audit.show(f"{run} run", output.out, output.err)
        assert "appSecret reset" in output.out
        audit.secrets += stored_secrets(database)
    for record in caplog.records:
        audit.log(record)

    assert 3 == len(set(audit.secrets))  # created, reset by the first run, reset by the second
    assert [] == audit.leaks()
