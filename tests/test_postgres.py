"""PostgresRepository on a real server: the contract, sharing, bad rows, concurrent dispatch."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from aliexpress_onboarding import (
    Actor,
    App,
    Approve,
    DeveloperAccount,
    DeveloperProfile,
    EmailAddress,
    InvalidRecordError,
    OnboardingService,
    StorageError,
)
from aliexpress_onboarding.adapters.memory import InMemoryNotifier
from aliexpress_onboarding.errors import ConcurrencyConflictError, ValidationError
from aliexpress_onboarding.outbox import DispatchReport, dispatch_due
from aliexpress_onboarding.ports import Repository
from aliexpress_onboarding.sealing import Keyring
from aliexpress_onboarding.service import open_repository as open_url
from aliexpress_onboarding.testing import (
    T0,
    RepositoryContract,
    sample_account,
    sample_app,
    sample_application,
)
from conftest import POSTGRES_TEST_PASSWORD

psycopg = pytest.importorskip("psycopg")
from aliexpress_onboarding.adapters.postgres import PostgresRepository  # noqa: E402

RepositoryFactory = Callable[..., PostgresRepository]
KEYRING = Keyring.generate()
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # after every sample event: all of them are due


@pytest.fixture
def schema(postgres_url: str) -> Iterator[str]:
    """A schema name of this test's own, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def open_repository(postgres_url: str, schema: str) -> Iterator[RepositoryFactory]:
    """Opens repositories on this test's schema; closes them all at the end."""
    opened: list[PostgresRepository] = []

    def factory(**options: object) -> PostgresRepository:
        options.setdefault("keyring", KEYRING)
        repository = PostgresRepository(postgres_url, schema=schema, max_size=4, **options)  # type: ignore[arg-type]
        opened.append(repository)
        return repository

    yield factory
    for repository in opened:
        repository.close()


def raw_execute(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


def many_events(repository: PostgresRepository, accounts: int) -> int:
    """Store ``accounts`` accounts with their timelines; the number of events stored."""
    total = 0
    for n in range(accounts):
        account, timeline = sample_account(f"acc-{n}", f"seller-{n}")
        repository.add(account, timeline)
        total += len(timeline)
    return total


class TestPostgresRepository(RepositoryContract):
    @pytest.fixture
    def repository(self, open_repository: RepositoryFactory) -> Repository:
        return open_repository()

    @pytest.fixture
    def second_repository(self, open_repository: RepositoryFactory) -> Repository:
        return open_repository()  # the same schema


def test_second_repository_on_the_same_database_sees_the_data(
    open_repository: RepositoryFactory,
) -> None:
    """What one repository (one service host) stored, another one reads."""
    account, timeline = sample_account()
    open_repository().add(account, timeline)
    other = open_repository()
    assert (account, timeline) == (
        other.get(DeveloperAccount, account.id),
        [entry.event for entry in other.pending_events()],
    )


def test_corrupt_json_row_names_the_record(
    open_repository: RepositoryFactory, postgres_url: str, schema: str
) -> None:
    """A row whose JSON was damaged raises InvalidRecordError naming kind and id."""
    repository = open_repository()
    account, _ = sample_account()
    repository.add(account, [])
    raw_execute(
        postgres_url,
        f'UPDATE "{schema}".aggregates SET document = \'{{"schema_version": 1, "type"\'',
    )
    with pytest.raises(InvalidRecordError) as caught:
        repository.get(DeveloperAccount, account.id)
    assert "account:acc-1" == caught.value.field


def test_database_from_a_newer_library_is_refused(
    open_repository: RepositoryFactory, postgres_url: str, schema: str
) -> None:
    """A schema migrated by a newer release raises StorageError asking for an upgrade."""
    open_repository()
    raw_execute(postgres_url, f'INSERT INTO "{schema}".schema_version VALUES (99)')
    with pytest.raises(StorageError, match="upgrade"):
        open_repository()


def test_unreachable_server_is_a_storage_error() -> None:
    """No server behind the URL: StorageError, without the password in the message."""
    with pytest.raises(StorageError, match="cannot connect") as caught:
        PostgresRepository(
            "postgresql://user:hunter2@127.0.0.1:1/db?connect_timeout=1", connect_timeout=0.5
        )
    assert "hunter2" not in str(caught.value)


def test_concurrent_adds_of_one_unique_key_conflict(open_repository: RepositoryFactory) -> None:
    """Two hosts registering the same seller at once: exactly one wins."""
    repositories = [open_repository(), open_repository()]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def register(repository: PostgresRepository, account_id: str) -> None:
        barrier.wait()
        try:
            repository.add(sample_account(account_id, "seller-same")[0], [])
            outcomes.append("stored")
        except ConcurrencyConflictError:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=register, args=(repository, f"acc-{n}"))
        for n, repository in enumerate(repositories)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ["conflict", "stored"] == sorted(outcomes)


def test_concurrent_dispatchers_never_get_the_same_entry(
    open_repository: RepositoryFactory,
) -> None:
    """Two repositories in two threads draining one outbox: each entry is handed out once."""
    total = many_events(open_repository(), 12)
    dispatchers = [open_repository(), open_repository()]
    barrier = threading.Barrier(2)
    handed_out: list[list[int]] = [[], []]

    def drain(n: int) -> None:
        barrier.wait()
        while batch := dispatchers[n].due_events(NOW, 5):
            for entry in batch:
                handed_out[n].append(entry.sequence)
                dispatchers[n].mark_delivered(entry.sequence)

    threads = [threading.Thread(target=drain, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = handed_out[0] + handed_out[1]
    assert (total, total, []) == (
        len(every),
        len(set(every)),
        dispatchers[0].pending_events(),
    )


def test_claimed_entries_are_skipped_by_other_dispatchers(
    open_repository: RepositoryFactory,
) -> None:
    """While one dispatcher holds entries, another gets different ones, never later events of
    the same aggregate (so each aggregate's events stay in order)."""
    many_events(open_repository(), 2)
    first, second = open_repository(), open_repository()
    held = first.due_events(NOW, 1)
    rest = second.due_events(NOW, 1000)
    held_aggregate = held[0].event.aggregate_id
    assert ([], ["acc-1"]) == (
        sorted({e.sequence for e in held} & {e.sequence for e in rest}),
        sorted({e.event.aggregate_id for e in rest}),
    )
    assert "acc-0" == held_aggregate


def test_entries_come_back_when_the_lease_ends(open_repository: RepositoryFactory) -> None:
    """A dispatcher that never reports back loses its claim when the lease runs out."""
    total = many_events(open_repository(), 1)
    forgetful = open_repository(lease=timedelta(0))
    assert total == len(forgetful.due_events(NOW, 1000))
    assert total == len(open_repository().due_events(NOW, 1000))


def test_marking_ends_the_lease(open_repository: RepositoryFactory) -> None:
    """A failed entry is free for any dispatcher again (with its attempt count)."""
    many_events(open_repository(), 1)
    first, second = open_repository(), open_repository()
    entry = first.due_events(NOW, 1)[0]
    first.mark_failed(entry.sequence, next_attempt_at=entry.event.occurred_at, error="down")
    again = second.due_events(NOW, 1)
    assert [(entry.sequence, 1, "down")] == [(e.sequence, e.attempts, e.last_error) for e in again]


def test_entries_a_dispatcher_did_not_attempt_are_released_at_once(
    open_repository: RepositoryFactory,
) -> None:
    """A failed head holds its aggregate; the entries behind it go back, not leased for
    minutes, and nothing is hidden from pending_events meanwhile."""

    class Down:
        def notify(self, event: object) -> None:
            raise ConnectionError("relay down")

    total = many_events(open_repository(), 1)
    first, second = open_repository(), open_repository()
    report = dispatch_due(
        first,
        Down(),
        now=NOW,
        limit=100,
        retry_base=timedelta(seconds=30),
        retry_max=timedelta(hours=1),
    )
    visible = len(second.pending_events())
    [retried] = second.due_events(NOW + timedelta(seconds=30), 100)  # the failed one alone
    second.mark_delivered(retried.sequence)
    rest = second.due_events(NOW + timedelta(seconds=30), 100)  # not leased to the first
    assert (DispatchReport(failed=1, deferred=total - 1), total, total - 1) == (
        report,
        visible,
        len(rest),
    )


def test_service_runs_on_postgres(open_repository: RepositoryFactory) -> None:
    """OnboardingService over PostgreSQL: commands land, events are delivered in order."""
    notifier = InMemoryNotifier()
    repository = open_repository()
    service = OnboardingService(repository=repository, notifier=notifier)
    owner = Actor.seller("seller-1")
    account = service.register_account(seller_id="seller-1", enterprise_id="e-1", actor=owner)
    service.accept_agreement(account.id, "2024-01", actor=owner)
    profile = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise.example.com"))
    service.submit_profile(account.id, profile, actor=owner)
    with pytest.raises(ConcurrencyConflictError):
        service.register_account(seller_id="seller-1", enterprise_id="e-1", actor=owner)
    assert (
        ["AccountRegistered", "AgreementAccepted", "ProfileSubmitted", "AccountActivated"],
        [],
        True,
    ) == (
        [e.type for e in notifier.events],
        repository.pending_events(),
        open_repository().get(DeveloperAccount, account.id).is_active,
    )


# ---------------------------------------------------------------------- real deployments


def test_a_repository_built_before_fork_works_in_every_child(
    open_repository: RepositoryFactory,
) -> None:
    """gunicorn --preload: 8 children of a process that used the pool each read their own
    account, none hangs and none reads another's result."""
    repository = open_repository()
    accounts = [sample_account(f"acc-{n}", f"seller-{n}")[0] for n in range(8)]
    for account in accounts:
        repository.add(account, [])
    children = []
    for account in accounts:
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only if it read its own account
            code = 1
            try:
                signal.alarm(20)  # a hang fails the test instead of blocking it
                code = 0 if repository.get(DeveloperAccount, account.id) == account else 3
            finally:
                os._exit(code)
        children.append(pid)
    assert [0] * 8 == [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]


def test_a_wrong_password_fails_at_once_with_the_servers_reason(postgres_url: str) -> None:
    """No 30-second pool timeout: the server's refusal, and never the password tried."""
    wrong = postgres_url.replace(POSTGRES_TEST_PASSWORD, "not-the-password-42")
    started = time.monotonic()
    with pytest.raises(StorageError) as caught:
        PostgresRepository(wrong, schema="never_created", connect_timeout=30)
    waited = time.monotonic() - started
    message = str(caught.value)
    # 30 s is what a pool waits; a refused login takes milliseconds, 10 s is generous.
    assert (True, True, False) == (
        waited < 10,
        "password authentication failed" in message,
        "not-the-password-42" in message,
    )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:s3cr3t-pw@127.0.0.1:notaport/db",
        "postgresql://user:s3cr3t-pw@127.0.0.1:1/db?sslmode=bogus",
        "mysql://user:s3cr3t-pw@127.0.0.1/db",
    ],
)
def test_passwords_never_appear_in_errors(url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A malformed, unreachable or unsupported URL: the error and the logs hide the password."""
    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises((StorageError, ValidationError)) as caught,
    ):
        open_url(url)
    shown = [str(caught.value), repr(caught.value), str(getattr(caught.value, "value", ""))]
    assert [] == [text for text in [*shown, caplog.text] if "s3cr3t-pw" in text]


def test_the_repository_repr_shows_where_not_the_password(
    open_repository: RepositoryFactory,
) -> None:
    """repr() names host, port, database and schema only."""
    assert POSTGRES_TEST_PASSWORD not in repr(open_repository())


@pytest.mark.parametrize("schema", ["", 7, "x" * 64, "a\x00b"])
def test_a_schema_that_is_not_a_name_is_a_validation_error(
    postgres_url: str, schema: object
) -> None:
    """schema='' (and other non-names) are refused before anything connects."""
    with pytest.raises(ValidationError) as caught:
        PostgresRepository(postgres_url, schema=schema)  # type: ignore[arg-type]
    assert "schema" == caught.value.field


# ---------------------------------------------------------------------- secrets at rest


def _an_app() -> App:
    account, _ = sample_account()
    application, _ = sample_application(account)
    decided, _ = application.handle(Approve(), Actor.reviewer("rev-1"), T0)
    return sample_app(account, decided)[0]


def test_without_a_keyring_an_app_secret_is_not_stored(open_repository: RepositoryFactory) -> None:
    """No keyring and plain text not allowed: StorageError, nothing stored."""
    repository = open_repository(keyring=None)
    app = _an_app()
    with pytest.raises(StorageError, match="plain text"):
        repository.add(app, [])
    assert [] == repository.list_by_account(App, app.account_id)


def test_secrets_are_sealed_in_the_database_and_reseal_after_a_rotation(
    open_repository: RepositoryFactory, postgres_url: str, schema: str
) -> None:
    """The row holds no secret in the clear; after a rotation reseal moves it to the new key."""
    app = _an_app()
    open_repository().add(app, [])
    rotated = open_repository(keyring=KEYRING.rotated())
    resealed = rotated.reseal_secrets()
    with psycopg.connect(postgres_url) as connection:
        [(document,)] = connection.execute(
            f'SELECT document FROM "{schema}".aggregates WHERE kind = %s', ("app",)
        ).fetchall()
    assert (False, 1, app, True) == (
        app.secret.reveal() in document,
        resealed,
        rotated.get(App, app.id),
        f"sealed:v1:{rotated_current(rotated)}:" in document,
    )


def rotated_current(repository: PostgresRepository) -> str:
    keyring = repository._secrets.keyring
    assert keyring is not None
    return keyring.current
