"""SQLiteRepository: the contract, bad files and rows, and the service on a file."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from aliexpress_onboarding import (
    Actor,
    DeveloperAccount,
    InvalidRecordError,
    OnboardingService,
    StorageError,
)
from aliexpress_onboarding.adapters import sqlite as sqlite_adapter
from aliexpress_onboarding.adapters.memory import InMemoryNotifier
from aliexpress_onboarding.adapters.sqlite import RECEIPT_DELAY, SQLiteRepository
from aliexpress_onboarding.domain.events import Event
from aliexpress_onboarding.errors import ConcurrencyConflictError, ValidationError
from aliexpress_onboarding.ports import FailedDelivery, OutboxEntry, Repository
from aliexpress_onboarding.samples import T0
from aliexpress_onboarding.sealing import Keyring
from aliexpress_onboarding.testing import RepositoryContract, sample_account

KEYRING = Keyring.generate()


class TestSQLiteRepository(RepositoryContract):
    @pytest.fixture
    def repository(self, tmp_path: Path) -> Repository:
        return SQLiteRepository(tmp_path / "onboarding.db", keyring=KEYRING)

    @pytest.fixture
    def second_repository(self, repository: SQLiteRepository) -> Repository:
        return SQLiteRepository(repository.path, keyring=KEYRING)


def test_state_survives_reopening_the_file(tmp_path: Path) -> None:
    """A second repository on the same file sees what the first stored."""
    account, timeline = sample_account()
    SQLiteRepository(tmp_path / "o.db").add(account, timeline)
    reopened = SQLiteRepository(tmp_path / "o.db")
    assert (account, len(timeline)) == (
        reopened.get(DeveloperAccount, account.id),
        len(reopened.pending_events()),
    )


def test_corrupt_json_row_names_the_record(tmp_path: Path) -> None:
    """A row whose JSON was damaged raises InvalidRecordError naming kind and id."""
    path = tmp_path / "o.db"
    repository = SQLiteRepository(path)
    account, _ = sample_account()
    repository.add(account, [])
    with sqlite3.connect(path) as raw:
        raw.execute('UPDATE aggregates SET document = \'{"schema_version": 1, "type"\'')
    with pytest.raises(InvalidRecordError) as caught:
        SQLiteRepository(path).get(DeveloperAccount, account.id)
    assert "account:acc-1" == caught.value.field


def test_row_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """A document with a newer schema_version is refused, not silently defaulted."""
    path = tmp_path / "o.db"
    repository = SQLiteRepository(path)
    account, _ = sample_account()
    repository.add(account, [])
    with sqlite3.connect(path) as raw:
        raw.execute(
            "UPDATE aggregates SET document = replace(document, '\"schema_version\":1',"
            " '\"schema_version\":2')"
        )
    with pytest.raises(InvalidRecordError, match="schema_version: 2 is not supported"):
        SQLiteRepository(path).get(DeveloperAccount, account.id)


def test_database_from_a_newer_library_is_refused(tmp_path: Path) -> None:
    """A file migrated by a newer release raises StorageError asking for an upgrade."""
    path = tmp_path / "o.db"
    SQLiteRepository(path)
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO schema_version VALUES (99)")
    with pytest.raises(StorageError, match="upgrade"):
        SQLiteRepository(path)


def test_truncated_database_file_is_a_storage_error(tmp_path: Path) -> None:
    """A file cut short (or not a database at all) raises StorageError."""
    path = tmp_path / "o.db"
    repository = SQLiteRepository(path)
    repository.add(sample_account()[0], [])
    repository.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3] if len(data) > 300 else b"garbage" * 50)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(StorageError):
        SQLiteRepository(path).get(DeveloperAccount, "acc-1")


def test_service_runs_on_sqlite_across_threads(tmp_path: Path) -> None:
    """Eight threads each registering a seller through one service all land, once each."""
    service = OnboardingService(repository=SQLiteRepository(tmp_path / "o.db"))
    errors: list[Exception] = []

    def register(n: int) -> None:
        try:
            service.register_account(
                seller_id=f"seller-{n}", enterprise_id=f"e-{n}", actor=Actor.seller(f"seller-{n}")
            )
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=register, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [] == errors
    with pytest.raises(ConcurrencyConflictError):
        service.register_account(seller_id="seller-1", enterprise_id="e", actor=Actor.system())


def test_many_openers_of_a_new_file_all_get_a_repository(tmp_path: Path) -> None:
    """Several threads opening the same new file at once all succeed (the WAL switch waits)."""
    failures: list[BaseException] = []

    def open_and_read(path: Path, start: threading.Barrier) -> None:
        start.wait()
        try:
            SQLiteRepository(path).pending_events()
        except BaseException as error:  # collected, shown by the assert
            failures.append(error)

    for round_number in range(100):
        start = threading.Barrier(4)
        path = tmp_path / f"new-{round_number}.db"
        threads = [threading.Thread(target=open_and_read, args=(path, start)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [] == failures


# ---------------------------------------------------------------------- storage faults


def test_a_full_disk_is_a_storage_error_that_says_so(tmp_path: Path) -> None:
    """SQLITE_FULL (here: the file may not grow) names the cause and stores nothing half."""
    repository = SQLiteRepository(tmp_path / "full.db")
    connection = repository._connection()
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count = {pages}")
    stored, refusal = _fill(repository)
    assert (True, stored) == ("the disk is full" in str(refusal), _accounts(repository))


def _fill(repository: SQLiteRepository) -> tuple[int, StorageError]:
    """Add accounts until the store refuses one: how many it took, and its refusal."""
    for n in range(10_000):
        account, timeline = sample_account(f"acc-{n}", f"seller-{n}")
        try:
            repository.add(account, timeline)
        except StorageError as refusal:
            return n, refusal
    raise AssertionError("the file never filled up")


def _accounts(repository: SQLiteRepository) -> int:
    return int(repository._read("SELECT count(*) FROM aggregates")[0][0])


def test_a_read_only_database_is_a_storage_error_that_says_so(tmp_path: Path) -> None:
    """Writing to a database that refuses writes names the cause, not a raw sqlite3 error."""
    repository = SQLiteRepository(tmp_path / "ro.db")
    repository._connection().execute("PRAGMA query_only = ON")  # SQLITE_READONLY on writes
    account, timeline = sample_account()
    with pytest.raises(StorageError) as caught:
        repository.add(account, timeline)
    assert "the database is read-only" in str(caught.value)


def test_an_in_memory_database_is_shared_by_every_thread() -> None:
    """':memory:' is one database for all threads (the dispatcher's included)."""
    notifier = InMemoryNotifier()
    service = OnboardingService.from_url("sqlite:///:memory:", notifier=notifier)
    seller = Actor.seller("seller-1")
    account = service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller)
    found: list[DeveloperAccount] = []
    reader = threading.Thread(
        target=lambda: found.append(service.repository.get(DeveloperAccount, account.id))
    )
    reader.start()
    reader.join()
    assert ([account], ["AccountRegistered"], []) == (
        found,
        [event.type for event in notifier.events],
        service.repository.pending_events(),
    )


@pytest.mark.parametrize(
    ("field", "path", "options"),
    [
        ("path", "a\x00b.db", {}),
        ("path", "", {}),
        ("path", 0, {}),
        ("path", b"onboarding.db", {}),
        ("timeout", "onboarding.db", {"timeout": 0}),
        ("synchronous", "onboarding.db", {"synchronous": "OFF"}),
    ],
)
def test_unusable_paths_and_settings_are_validation_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, path: object, options: dict
) -> None:
    """A NUL in the path, an empty path, a file descriptor or bytes: refused, nothing opened."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError) as caught:
        SQLiteRepository(path, **options)  # type: ignore[arg-type]
    assert (field, []) == (caught.value.field, list(tmp_path.iterdir()))


def test_from_url_refuses_a_nul_in_the_path() -> None:
    """sqlite:///a<NUL>b is a ValidationError, not a raw ValueError from the driver."""
    with pytest.raises(ValidationError):
        OnboardingService.from_url("sqlite:///a\x00b")


@pytest.mark.parametrize(("setting", "pragma"), [("NORMAL", 1), ("FULL", 2)])
def test_the_synchronous_setting_is_the_one_in_force(
    tmp_path: Path, setting: str, pragma: int
) -> None:
    """What the docs promise is what the connection runs with."""
    repository = SQLiteRepository(tmp_path / "o.db", synchronous=setting)
    assert pragma == repository._read("PRAGMA synchronous")[0][0]


# ---------------------------------------------------------------------- leases across processes

NOW = datetime(2030, 1, 1, tzinfo=UTC)  # after every sample event: all of them are due


def test_a_second_dispatcher_skips_leased_entries_and_what_follows_them(tmp_path: Path) -> None:
    """Another repository on the file (another process) never gets a leased entry, nor a later
    event of its aggregate, so each aggregate is delivered once and in order."""
    first, second = SQLiteRepository(tmp_path / "o.db"), SQLiteRepository(tmp_path / "o.db")
    for n in range(2):
        first.add(*sample_account(f"acc-{n}", f"seller-{n}"))
    held = first.due_events(NOW, 1)
    rest = second.due_events(NOW, 100)
    assert (["acc-0"], ["acc-1"]) == (
        [entry.event.aggregate_id for entry in held],
        sorted({entry.event.aggregate_id for entry in rest}),
    )


def test_a_lease_ends_by_itself(tmp_path: Path) -> None:
    """A dispatcher that never reports back holds its entries only for its lease."""
    forgetful = SQLiteRepository(tmp_path / "o.db", lease=timedelta(0))
    account, timeline = sample_account()
    forgetful.add(account, timeline)
    forgetful.due_events(NOW, 100)
    assert len(timeline) == len(SQLiteRepository(tmp_path / "o.db").due_events(NOW, 100))


def test_a_failure_that_repeats_writes_one_row_whatever_the_backlog(tmp_path: Path) -> None:
    """Only the first failure holds the events behind the failed one; later ones write it."""
    repository = SQLiteRepository(tmp_path / "o.db")
    account, timeline = sample_account()
    backlog = [timeline[0]] + [attrs.evolve(timeline[-1], event_id=f"evt-{n}") for n in range(1000)]
    repository.add(account, backlog)
    head = repository.due_events(NOW, 1)[0]
    connection = repository._connection()
    before = connection.total_changes
    repository.mark_failed(head.sequence, next_attempt_at=NOW, error="down")
    first = connection.total_changes - before
    repository.due_events(NOW, 100)  # the retry comes due
    before = connection.total_changes
    repository.mark_failed(head.sequence, next_attempt_at=NOW + timedelta(hours=1), error="down")
    assert (1001, 1) == (first, connection.total_changes - before)


# ------------------------------------------------------------------ one commit per command


def _write_transactions(repository: SQLiteRepository, work: Callable[[], object]) -> list[str]:
    """The statements ``work`` runs on this thread's connection that begin a write."""
    seen: list[str] = []
    connection = repository._connection()  # the test looks inside: what SQLite is asked
    connection.set_trace_callback(seen.append)
    try:
        work()
    finally:
        connection.set_trace_callback(None)
    opened = [s for s in seen if s.startswith("BEGIN")]
    alone = [s for s in seen if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    return opened if opened else alone


class CountingDecodes(SQLiteRepository):
    """Counts what it decodes (then decodes it as usual)."""

    decoded: Counter[str]

    def _decode(self, kind: type[Any], document: str, row_id: str) -> Any:
        self.decoded["aggregate"] += 1
        return super()._decode(kind, document, row_id)

    def _decode_event(self, document: str, sequence: int) -> Event:
        self.decoded["event"] += 1
        return super()._decode_event(document, sequence)


def test_a_command_is_one_commit_and_one_decode(tmp_path: Path) -> None:
    """With an in-process notifier: one write transaction, the load's decode only."""
    repository = CountingDecodes(tmp_path / "o.db")
    repository.decoded = Counter()
    notifier = InMemoryNotifier()
    service = OnboardingService(repository=repository, notifier=notifier)
    seller = Actor.seller("seller-1")
    account = service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller)
    repository.decoded.clear()
    writes = _write_transactions(
        repository, lambda: service.accept_agreement(account.id, "2024-01", actor=seller)
    )
    assert (["BEGIN IMMEDIATE"], {"aggregate": 1}, ["AccountRegistered", "AgreementAccepted"]) == (
        writes,
        dict(repository.decoded),
        [event.type for event in notifier.events],
    )


def test_delivery_outcomes_ride_on_the_next_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delivered mark waits for the next command's transaction, and is in it."""
    monkeypatch.setattr(sqlite_adapter, "RECEIPT_DELAY", 3600.0)  # no idle write meanwhile
    repository = SQLiteRepository(tmp_path / "o.db")
    service = OnboardingService(repository=repository)
    seller = Actor.seller("seller-1")
    account = service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller)
    raw = sqlite3.connect(tmp_path / "o.db")
    waiting = raw.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()
    service.accept_agreement(account.id, "2024-01", actor=seller)
    after = raw.execute("SELECT event_id FROM outbox WHERE delivered_at IS NULL").fetchall()
    assert ((1,), [(f"{account.id}:2:0",)]) == (waiting, after)


def test_delivery_outcomes_are_written_when_no_write_comes(tmp_path: Path) -> None:
    """An idle repository writes what it holds within the receipt delay, on its own."""
    service = OnboardingService.from_url(f"sqlite:///{tmp_path / 'o.db'}")
    seller = Actor.seller("seller-1")
    service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller)
    raw = sqlite3.connect(tmp_path / "o.db")
    deadline = time.monotonic() + 10 * RECEIPT_DELAY + 5
    while raw.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]:
        assert time.monotonic() < deadline, "the delivered event is still unmarked"
        time.sleep(0.05)


def test_outcomes_taken_by_a_refused_write_are_kept(tmp_path: Path) -> None:
    """A write that rolls back puts the outcomes it took back: the next write has them."""
    repository = SQLiteRepository(tmp_path / "o.db")
    account, timeline = sample_account()
    entries = repository.write_and_lease(
        account, timeline, expected_version=None, now=T0, limit=100
    )
    repository.settle([entry.sequence for entry in entries], [], [])
    with pytest.raises(ConcurrencyConflictError):
        repository.add(account, [])  # takes the outcomes, then rolls back
    assert [] == repository.pending_events()


def _deliver(path: str, *, crash: bool) -> None:
    """Run one command on ``path``, then end the process: normally, or as if killed."""
    sqlite_adapter.RECEIPT_DELAY = 3600.0  # no idle write before the exit
    repository = SQLiteRepository(path, lease=timedelta(seconds=2))
    service = OnboardingService(repository=repository)
    seller = Actor.seller("seller-1")
    service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller)
    if crash:
        os._exit(0)  # no close(), no atexit: the outcome is never written


def _deliver_in_a_child(path: str, *, crash: bool) -> int | None:
    """`_deliver` in a spawned process; its exit code."""
    child = multiprocessing.get_context("spawn").Process(
        target=_deliver, args=(path,), kwargs={"crash": crash}
    )
    child.start()
    child.join(60)
    return child.exitcode


def test_the_interpreters_exit_writes_the_outcomes_held(tmp_path: Path) -> None:
    """A process that ends normally leaves no delivered event pending (nor leased)."""
    path = str(tmp_path / "o.db")
    exitcode = _deliver_in_a_child(path, crash=False)
    assert (0, []) == (exitcode, SQLiteRepository(path).pending_events())


def test_an_outcome_lost_with_its_process_is_delivered_again(tmp_path: Path) -> None:
    """At least once: the event a dead process delivered but never marked comes again."""
    path = str(tmp_path / "o.db")
    exitcode = _deliver_in_a_child(path, crash=True)
    notifier = InMemoryNotifier()
    service = OnboardingService(repository=SQLiteRepository(path), notifier=notifier)
    leased = service.dispatch_pending()
    time.sleep(2.2)  # the dead process's lease ends
    again = service.dispatch_pending()
    assert (0, (0, 0), 1, ["AccountRegistered"]) == (
        exitcode,
        (leased.delivered, leased.failed),
        again.delivered,
        [event.type for event in notifier.events],
    )


def test_a_failure_held_past_its_lease_changes_nothing(tmp_path: Path) -> None:
    """Another dispatcher took the entry over once the lease ended: the late failure would
    have held the aggregate's later events for ever; it is dropped instead."""
    path = tmp_path / "o.db"
    first = SQLiteRepository(path, lease=timedelta(0))  # every lease ends at once
    second = SQLiteRepository(path)
    account, timeline = sample_account()
    entries = first.write_and_lease(account, timeline, expected_version=None, now=T0, limit=1)
    [taken] = second.due_events(T0, 1)  # the lease has ended: the second takes it over
    second.mark_delivered(taken.sequence)
    first.settle([], [FailedDelivery(entries[0].sequence, T0 + timedelta(hours=1), "late")], [])
    first.due_events(T0, 0)  # a write of the first: it writes what it held
    assert (entries[0].sequence, timeline[1:]) == (
        taken.sequence,
        [entry.event for entry in second.due_events(T0, 100)],
    )


def test_outcomes_a_rolled_back_write_puts_back_are_written_when_idle(tmp_path: Path) -> None:
    """The idle writer may have ended while a write held the outcomes: putting them back
    starts it again."""
    repository = SQLiteRepository(tmp_path / "o.db")
    account, timeline = sample_account()
    entries = repository.write_and_lease(account, timeline, expected_version=None, now=T0, limit=9)
    repository.settle([entry.sequence for entry in entries], [], [])
    receipts = repository._receipts  # the test plays a write that takes them, then rolls back
    receipts.take()
    deadline = time.monotonic() + 10 * RECEIPT_DELAY + 5
    while receipts._thread is not None:  # the idle writer found nothing and ended
        assert time.monotonic() < deadline
        time.sleep(0.05)
    receipts.restore()
    raw = sqlite3.connect(tmp_path / "o.db")
    while raw.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]:
        assert time.monotonic() < deadline, "the outcomes put back were never written"
        time.sleep(0.05)


def test_an_in_memory_database_closed_takes_no_more_outcomes() -> None:
    """Once ':memory:' is closed its database is gone: an outcome settled later is dropped,
    with no writer left trying to write it to a new, empty database."""
    repository = SQLiteRepository(":memory:")
    account, timeline = sample_account()
    entries = repository.write_and_lease(account, timeline, expected_version=None, now=T0, limit=9)
    repository.close()
    repository.settle([entry.sequence for entry in entries], [], [])
    assert (False, None) == (repository._receipts.pending, repository._receipts._thread)


def test_listing_the_outbox_needs_no_write(tmp_path: Path) -> None:
    """While another process holds the write lock, pending_events still answers, leaving out
    the events this repository delivered and has not yet marked."""
    path = tmp_path / "o.db"
    repository = SQLiteRepository(path, timeout=0.2)
    account, timeline = sample_account()
    entries = repository.write_and_lease(account, timeline, expected_version=None, now=T0, limit=1)
    repository.settle([entries[0].sequence], [], [])
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        pending = repository.pending_events()
    finally:
        other.execute("ROLLBACK")
    assert timeline[1:] == [entry.event for entry in pending]


def _vm_work(repository: SQLiteRepository, work: Callable[[], object]) -> int:
    """How much work SQLite does for ``work`` on this thread's connection: hundreds of VM steps."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    connection = repository._connection()  # the test looks inside: what SQLite is asked
    connection.set_progress_handler(count, 100)
    try:
        work()
    finally:
        connection.set_progress_handler(None, 0)
    return steps


@pytest.mark.parametrize("history", [10, 2_000])
def test_the_due_events_never_read_an_aggregates_delivered_history(
    tmp_path: Path, history: int
) -> None:
    """Leasing what is due costs the same after 10 delivered events of the aggregate as after
    2,000: only undelivered entries are read."""
    repository = SQLiteRepository(tmp_path / "o.db")
    account, timeline = sample_account()
    past = [attrs.evolve(timeline[-1], event_id=f"past-{n}") for n in range(history)]
    repository.add(account, past)
    for entry in repository.due_events(T0, history):
        repository.mark_delivered(entry.sequence)
    later = attrs.evolve(account, version=account.version + 1)
    new = [attrs.evolve(timeline[-1], event_id="new")]
    repository.save(later, new, expected_version=account.version)
    steps = _vm_work(repository, lambda: repository.due_events(T0, 100))
    assert steps <= 10, f"{steps}00 VM steps to lease one event after {history} delivered"


@pytest.mark.parametrize("backlog", [10, 2_000])
def test_a_due_retry_never_reads_the_backlog_held_behind_it(tmp_path: Path, backlog: int) -> None:
    """When a failed entry's retry comes, leasing it costs the same behind 10 held entries of
    its aggregate as behind 2,000."""
    repository = SQLiteRepository(tmp_path / "o.db")
    account, timeline = sample_account()
    held = [attrs.evolve(timeline[-1], event_id=f"held-{n}") for n in range(backlog)]
    repository.add(account, held)
    [head] = repository.due_events(T0, 1)
    repository.mark_failed(head.sequence, next_attempt_at=T0, error="down")
    repository.release([entry.sequence for entry in repository.due_events(T0, 0)])
    leased: list[OutboxEntry] = []
    steps = _vm_work(repository, lambda: leased.extend(repository.due_events(T0, 100)))
    assert [head.sequence] == [entry.sequence for entry in leased]
    assert steps <= 10, f"{steps}00 VM steps to lease one retry behind {backlog} held"
