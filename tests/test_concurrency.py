"""Real processes sharing one database: racing commands, and writers killed mid-save.

Every child is a separate "spawn" process that opens its own repository on the same database,
as separate service instances on separate hosts would. Randomness only picks which command runs
next; every assertion is about invariants that hold whatever the interleaving.

Each scenario runs once per entry of ``BACKENDS``, on a fresh database: an SQLite file, or a
database created for it on the ``postgres_url`` server (tests/conftest.py) and dropped after.
"""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import os
import random
import signal
import sqlite3
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from aliexpress_onboarding import (
    Actor,
    App,
    Applicant,
    ApplicationStatus,
    ConcurrencyConflictError,
    DeveloperAccount,
    DeveloperApplication,
    DeveloperProfile,
    DeveloperType,
    EmailAddress,
    Event,
    LicenseDocument,
    OnboardingError,
    OnboardingService,
    RuleViolationError,
    Store,
    TransitionNotAllowedError,
)
from aliexpress_onboarding.sealing import Keyring, StoredSecrets
from aliexpress_onboarding.serialization import from_json
from aliexpress_onboarding.service import open_repository

VERIFIER = Actor.reviewer("verifier-1")  # records the verified enterprise
BACKENDS = ["sqlite", "postgres"]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RACE_NOW = T0 + timedelta(hours=49)  # past the default 48-hour review deadline of T0's applications
SELLER = "seller-1"
ENTERPRISE = "ent-1"
OWNER = Actor.seller(SELLER)
REVIEWER = Actor.reviewer("rev-1")
DOCUMENT = LicenseDocument.from_bytes(b"\xff\xd8\xff" + bytes(16), filename="licence.jpg")
SELF_FACTS = Applicant(name="Sunrise", country="CN", is_enterprise=True, is_aliexpress_seller=True)
ISV_FACTS = Applicant(
    name="Sunrise ISV",
    country="CN",
    is_enterprise=True,
    is_aliexpress_seller=True,
    builds_for_other_sellers=True,
)
PROFILE = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise.example.com"))

RACERS = 8
COMMANDS_PER_RACER = {"sqlite": 200, "postgres": 100}  # PostgreSQL: fewer, for the time budget
APP_NAMES = ("shared_a", "shared_b", *(f"app_{n}" for n in range(10)))  # drawn to collide
STORES = 4
EXPECTED_ERRORS = (ConcurrencyConflictError, RuleViolationError, TransitionNotAllowedError)
COMMAND_WEIGHTS = {
    "create_app": 3.0,
    "reset_secret": 3.0,
    "authorize_store": 3.0,
    "revoke_store": 3.0,
    "suspend_app": 0.7,
    "resume_app": 0.7,
    "apply": 2.0,
    "reject": 2.0,
    "approve": 0.05,
    "escalate": 1.0,
}

KILL_ROUNDS = 5
WRITERS_PER_ROUND = 2  # the kill waits (spinning) until one of them is inside add or save
PROCESS_TIMEOUT = 120.0


class FixedClock:
    """A clock that always tells the same time, so escalation is deterministic."""

    def __init__(self, current: datetime) -> None:
        self.current = current

    def now(self) -> datetime:
        return self.current


# ---------------------------------------------------------------------- databases


@dataclass(frozen=True)
class Database:
    """A database URL and plain SQL access to its tables, for checking behind the library."""

    backend: str
    url: str

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.backend == "sqlite":
            with closing(sqlite3.connect(self.url.removeprefix("sqlite:///"))) as connection:
                return connection.execute(sql).fetchall()
        import psycopg

        from aliexpress_onboarding.adapters.postgres import DEFAULT_SCHEMA

        with psycopg.connect(self.url, options=f"-c search_path={DEFAULT_SCHEMA}") as connection:
            return [tuple(row) for row in connection.execute(sql).fetchall()]

    def versions(self) -> dict[str, int]:
        """Each stored aggregate's version, by id."""
        return dict(
            self.rows(
                "SELECT id, version FROM aggregates"
                " UNION ALL SELECT id, version FROM authorizations"
            )
        )

    def aggregates(self, kind: type[Any], name: str) -> list[Any]:
        """Every stored aggregate of one kind, decoded (sealed secrets opened)."""
        rows = self.rows(f"SELECT id, document FROM aggregates WHERE kind = '{name}'")
        secrets = StoredSecrets(_keyring(self.url), plaintext=False)
        return [secrets.loads(_text(document), kind, row_id) for row_id, document in rows]

    def events(self) -> list[Event]:
        """Every event in the outbox (delivered or not), in outbox order."""
        rows = self.rows("SELECT document FROM outbox ORDER BY sequence")
        return [from_json(_text(document)) for (document,) in rows]


def _text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def _key_file(url: str) -> Path:
    """The key file that seals the appSecrets of the database ``url`` names (made with it)."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).with_suffix(".keys")
    return Path(tempfile.gettempdir()) / f"{urlsplit(url).path.strip('/')}.keys"


def _keyring(url: str) -> Keyring:
    return Keyring.load(_key_file(url))


def _service(url: str, **ports: Any) -> OnboardingService:
    """A service on the database, its appSecrets sealed with the database's key file."""
    return OnboardingService.from_url(url, keyring=_keyring(url), **ports)


@contextmanager
def _fresh_database(request: pytest.FixtureRequest, directory: Path) -> Iterator[Database]:
    """An empty database of the backend ``request.param`` names, dropped afterwards."""
    backend: str = request.param
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'onboarding.db'}"
        Keyring.generate().save(_key_file(url))
        yield Database(backend, url)
        return
    psycopg = pytest.importorskip("psycopg")
    server: str = request.getfixturevalue("postgres_url")
    name = f"concurrency_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    Keyring.generate().save(_key_file(url))
    yield Database(backend, url)
    _key_file(url).unlink()
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _close(service: OnboardingService) -> None:
    close: Callable[[], None] | None = getattr(service.repository, "close", None)
    if close is not None:
        close()


def _spawn(target: Callable[..., None], *args: Any) -> multiprocessing.process.BaseProcess:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    return process


def _reap(processes: list[multiprocessing.process.BaseProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.kill()
        process.join(PROCESS_TIMEOUT)


# ---------------------------------------------------------------------- the race


@dataclass
class Race:
    """What the race left behind, for the tests to check."""

    database: Database
    setup_versions: dict[str, int]
    overdue: list[str]
    results: list[dict[str, Any]]
    exit_codes: list[int | None]
    seconds: float
    writes: Counter[str] = field(init=False)

    def __post_init__(self) -> None:
        self.writes = Counter(item for r in self.results for item, _ in r["writes"])


def _race_setup(url: str) -> tuple[list[str], str]:
    """One active account with an approved Self application and two apps; three overdue ones."""
    clock = FixedClock(T0)
    service = _service(url, clock=clock)
    try:
        account = service.register_account(seller_id=SELLER, enterprise_id=ENTERPRISE, actor=OWNER)
        service.verify_enterprise(account.id, ENTERPRISE, 1000, actor=VERIFIER)
        service.accept_agreement(account.id, "2024-01", actor=OWNER)
        service.submit_profile(account.id, PROFILE, actor=OWNER)
        approved = service.apply(account.id, "self", SELF_FACTS, DOCUMENT, actor=OWNER)
        service.approve(approved.id, actor=REVIEWER)
        for name in APP_NAMES[:2]:
            service.create_app(account.id, "self", name, actor=OWNER)
        overdue = []
        for n in range(2, 5):
            seller = Actor.seller(f"seller-{n}")
            other = service.register_account(
                seller_id=seller.id, enterprise_id=f"ent-{n}", actor=seller
            )
            service.accept_agreement(other.id, "2024-01", actor=seller)
            service.submit_profile(other.id, PROFILE, actor=seller)
            overdue.append(service.apply(other.id, "self", SELF_FACTS, DOCUMENT, actor=seller).id)
        clock.current = RACE_NOW  # a fresh Commercial application: open, not overdue
        service.apply(account.id, "commercial", ISV_FACTS, DOCUMENT, actor=OWNER)
        return overdue, account.id
    finally:
        _close(service)


def _race_command(
    service: OnboardingService, command: str, account_id: str, rng: random.Random
) -> list[tuple[str, int]]:
    """Run one command; return the (aggregate id, new version) of every successful write."""
    if command == "escalate":
        return [(a.id, a.version) for a in service.escalate_overdue()]
    if command == "create_app":
        kind = rng.choice(("self", "self", "commercial"))
        created = service.create_app(account_id, kind, rng.choice(APP_NAMES), actor=OWNER)
        return [(created.id, created.version)]
    if command == "apply":
        applied = service.apply(account_id, "commercial", ISV_FACTS, DOCUMENT, actor=OWNER)
        return [(applied.id, applied.version)]
    if command in ("approve", "reject"):
        commercial = [
            a
            for a in service.repository.list_by_account(DeveloperApplication, account_id)
            if a.developer_type is DeveloperType.COMMERCIAL
        ]
        target = rng.choice([a for a in commercial if a.is_open] or commercial)
        decided = (
            service.approve(target.id, actor=REVIEWER)
            if command == "approve"
            else service.reject(target.id, "blurry licence", actor=REVIEWER)
        )
        return [(decided.id, decided.version)]
    app = rng.choice(service.repository.list_by_account(App, account_id))
    store_id = f"store-{rng.randrange(STORES)}"
    if command == "reset_secret":
        changed = service.reset_secret(app.id, actor=OWNER, overlap=timedelta(hours=1))
    elif command == "authorize_store":
        changed = service.authorize_store(app.id, Store(store_id, SELLER, ENTERPRISE), actor=OWNER)
    elif command == "revoke_store":
        changed = service.revoke_store(app.id, store_id, actor=OWNER)
    elif command == "suspend_app":
        changed = service.suspend_app(app.id, "abuse report", actor=REVIEWER)
    else:
        changed = service.resume_app(app.id, actor=REVIEWER)
    return [(changed.id, changed.version)]


def _race_worker(
    url: str, account_id: str, seed: int, result_path: str, start: Any, commands: int
) -> None:
    """A child: ``commands`` random commands on the shared aggregates, results to a file."""
    service = _service(url, clock=FixedClock(RACE_NOW))
    rng = random.Random(seed)
    names, weights = list(COMMAND_WEIGHTS), list(COMMAND_WEIGHTS.values())
    writes: list[tuple[str, int]] = []
    escalated: list[str] = []
    outcomes: Counter[str] = Counter()
    unexpected: list[str] = []
    start.wait(PROCESS_TIMEOUT)
    began = time.perf_counter()
    for index in range(commands):
        command = "escalate" if index == 0 else rng.choices(names, weights)[0]
        try:
            done = _race_command(service, command, account_id, rng)
        except EXPECTED_ERRORS as error:
            outcomes[f"{command}: {type(error).__name__}"] += 1
        except Exception as error:  # recorded: the test fails on any
            unexpected.append(f"{command}: {type(error).__name__}: {error}")
        else:
            outcomes[f"{command}: ok"] += 1
            writes += done
            if command == "escalate":
                escalated += [item for item, _ in done]
    seconds = time.perf_counter() - began
    _close(service)
    result = {
        "writes": writes,
        "escalated": escalated,
        "outcomes": outcomes,
        "unexpected": unexpected,
        "commands": commands,
        "seconds": seconds,
    }
    Path(result_path).write_text(json.dumps(result))


@pytest.fixture(scope="module", params=BACKENDS)
def race(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Race]:
    directory = tmp_path_factory.mktemp("race")
    with _fresh_database(request, directory) as database:
        yield _run_race(database, directory)


def _run_race(database: Database, directory: Path) -> Race:
    overdue, account_id = _race_setup(database.url)
    setup_versions = database.versions()
    start = multiprocessing.get_context("spawn").Barrier(RACERS + 1)
    paths = [directory / f"racer-{n}.json" for n in range(RACERS)]
    processes = []
    try:
        for n, path in enumerate(paths):
            args = (
                database.url,
                account_id,
                1000 + n,
                str(path),
                start,
                COMMANDS_PER_RACER[database.backend],
            )
            processes.append(_spawn(_race_worker, *args))
        start.wait(PROCESS_TIMEOUT)
        began = time.perf_counter()
        for process in processes:
            process.join(PROCESS_TIMEOUT)
        seconds = time.perf_counter() - began
    finally:
        _reap(processes)
    results = [json.loads(path.read_text()) if path.exists() else {} for path in paths]
    finished = Race(
        database,
        setup_versions,
        overdue,
        [r or {"writes": [], "escalated": [], "unexpected": ["no result"]} for r in results],
        [p.exitcode for p in processes],
        seconds,
    )
    outcomes = sum((Counter(r.get("outcomes", {})) for r in results), Counter())
    commands = sum(r.get("commands", 0) for r in results)
    print(f"\n{database.backend}: {commands} commands in {seconds:.2f} s", end=" ")
    print(f"({commands / seconds:.0f}/s); outcomes: {dict(sorted(outcomes.items()))}")
    return finished


def test_racing_commands_fail_only_with_conflicts_and_refusals(race: Race) -> None:
    """Under contention a command succeeds or is refused by a conflict or a rule, nothing else."""
    assert ([0] * RACERS, []) == (
        race.exit_codes,
        [u for result in race.results for u in result["unexpected"]],
    )


def test_racing_writers_lose_no_update(race: Race) -> None:
    """Every successful write is stored: final version = setup version + successful writes."""
    expected = {
        item: race.setup_versions.get(item, 0) + race.writes[item]
        for item in {*race.setup_versions, *race.writes}
    }
    assert expected == race.database.versions()


def test_racing_writers_store_exactly_the_events_of_successful_writes(race: Race) -> None:
    """The outbox has the events of each setup or reported write, and of nothing else."""
    written = {(item, v) for item, last in race.setup_versions.items() for v in range(1, last + 1)}
    reported = [tuple(write) for result in race.results for write in result["writes"]]
    assert (sorted(written | set(reported)), len(reported)) == (
        sorted({(e.aggregate_id, e.version) for e in race.database.events()}),
        len(set(reported)),
    )


def test_racing_creations_never_duplicate_an_app_name_in_an_account(race: Race) -> None:
    """Two apps of one account never share a name, however many creations race."""
    names = Counter((app.account_id, str(app.name)) for app in race.database.aggregates(App, "app"))
    assert [] == [name for name, count in names.items() if count > 1]


def test_racing_applications_stay_one_open_or_approved_per_type(race: Race) -> None:
    """However applications and decisions race, an account has one open or approved per type."""
    live = Counter(
        (a.account_id, a.developer_type)
        for a in race.database.aggregates(DeveloperApplication, "application")
        if a.status is not ApplicationStatus.REJECTED
    )
    assert [] == [key for key, count in live.items() if count > 1]


def test_racing_escalation_escalates_each_overdue_application_exactly_once(race: Race) -> None:
    """Eight processes escalating at once submit one ticket per overdue application."""
    escalations = Counter(
        e.aggregate_id for e in race.database.events() if e.type == "ReviewEscalated"
    )
    reported = Counter(item for result in race.results for item in result["escalated"])
    expected = dict.fromkeys(race.overdue, 1)
    assert (expected, expected) == (dict(escalations), dict(reported))


def test_racing_writers_store_each_event_id_once(race: Race) -> None:
    """No event is in the outbox twice."""
    ids = Counter(e.event_id for e in race.database.events())
    assert [] == [event_id for event_id, count in ids.items() if count > 1]


def test_racing_writers_leave_event_versions_without_gaps(race: Race) -> None:
    """Per aggregate, the outbox holds events of versions 1..stored version, none missing."""
    assert_versions_without_gaps(race.database)


def assert_versions_without_gaps(database: Database) -> None:
    seen: dict[str, set[int]] = {}
    for event in database.events():
        seen.setdefault(event.aggregate_id, set()).add(event.version)
    expected = {item: list(range(1, last + 1)) for item, last in database.versions().items()}
    assert expected == {item: sorted(versions) for item, versions in seen.items()}


# ---------------------------------------------------------------------- killed writers


@dataclass
class Crash:
    """What the killed writers left behind."""

    database: Database
    exit_codes: list[int | None]
    tracebacks: list[str]
    died_saving: list[bool]
    integrity: list[tuple[Any, ...]] | None
    write_after: str | None


class SavingFlag:
    """A repository wrapper that raises a shared flag while ``add`` or ``save`` runs."""

    def __init__(self, repository: Any, flag: Any) -> None:
        self._repository = repository
        self._flag = flag

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repository, name)

    def add(self, aggregate: Any, events: Any) -> None:
        self._flag.value = 1
        self._repository.add(aggregate, events)
        self._flag.value = 0

    def save(self, aggregate: Any, events: Any, *, expected_version: int) -> None:
        self._flag.value = 1
        self._repository.save(aggregate, events, expected_version=expected_version)
        self._flag.value = 0


def _crash_worker(url: str, name: str, ready: Any, saving: Any, trace: str) -> None:
    """A child that must only ever die by SIGKILL; any escaping error is written to ``trace``."""
    try:
        _crash_loop(url, name, ready, saving)
    except BaseException:
        Path(trace).write_text(traceback.format_exc(), encoding="utf-8")
        raise


def _crash_loop(url: str, name: str, ready: Any, saving: Any) -> None:
    """Set up an account of its own, then create and change apps as fast as it can, forever."""
    repository = SavingFlag(open_repository(url, keyring=_keyring(url)), saving)
    service = OnboardingService(repository=repository, clock=FixedClock(RACE_NOW))
    seller = Actor.seller(f"crash-seller-{name}")
    enterprise = f"crash-ent-{name}"
    account = service.register_account(seller_id=seller.id, enterprise_id=enterprise, actor=seller)
    service.verify_enterprise(account.id, enterprise, 1, actor=VERIFIER)
    service.accept_agreement(account.id, "2024-01", actor=seller)
    service.submit_profile(account.id, PROFILE, actor=seller)
    application = service.apply(account.id, "self", SELF_FACTS, DOCUMENT, actor=seller)
    service.approve(application.id, actor=REVIEWER)
    store = Store(f"crash-store-{name}", seller.id, enterprise)
    ready.set()
    for n in itertools.count():
        try:
            app = service.create_app(account.id, "self", f"app_{n}", actor=seller)
            service.reset_secret(app.id, actor=seller, overlap=timedelta(hours=1))
            service.authorize_store(app.id, store, actor=seller)
            service.revoke_store(app.id, store.store_id, actor=seller)
        except OnboardingError:
            # A refused or contended command (e.g. the store busy past its timeout on a loaded
            # machine) must not end the writer: it is here to be killed mid-save.
            continue


def _write_after(url: str) -> str | None:
    """Open the database through the library and store a new account; the error, if any."""
    try:
        service = _service(url, clock=FixedClock(RACE_NOW))
        try:
            seller = Actor.seller("after-the-crash")
            account = service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller)
            service.repository.get(DeveloperAccount, account.id)
        finally:
            _close(service)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


@pytest.fixture(scope="module", params=BACKENDS)
def crash(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Crash]:
    directory = tmp_path_factory.mktemp("crash")
    with _fresh_database(request, directory) as database:
        yield _run_crash(database, directory)


def _run_crash(database: Database, directory: Path) -> Crash:
    """Rounds of writers killed after a random delay, at a moment one of them is saving."""
    rng = random.Random(7)
    exit_codes: list[int | None] = []
    died_saving: list[bool] = []
    context = multiprocessing.get_context("spawn")
    for round_number in range(KILL_ROUNDS):
        readies = [context.Event() for _ in range(WRITERS_PER_ROUND)]
        flags = [context.Value("b", 0, lock=False) for _ in range(WRITERS_PER_ROUND)]
        processes = []
        try:
            for writer, (ready, flag) in enumerate(zip(readies, flags, strict=True)):
                name = f"{round_number}-{writer}"
                trace = str(directory / f"writer-{name}.traceback")
                processes.append(_spawn(_crash_worker, database.url, name, ready, flag, trace))
            for ready in readies:
                ready.wait(PROCESS_TIMEOUT)
            time.sleep(rng.uniform(0.02, 0.1) * (round_number + 1))
            deadline = time.monotonic() + 5
            while not any(flag.value for flag in flags) and time.monotonic() < deadline:
                pass  # spin: the kill should land while a writer is inside add or save
            for process in processes:
                if process.pid is not None and process.is_alive():
                    os.kill(process.pid, signal.SIGKILL)
            for process in processes:
                process.join(PROCESS_TIMEOUT)
        finally:
            _reap(processes)
        exit_codes += [process.exitcode for process in processes]
        died_saving += [bool(flag.value) for flag in flags]
    integrity = database.rows("PRAGMA integrity_check") if database.backend == "sqlite" else None
    apps = Counter(app.account_id for app in database.aggregates(App, "app"))
    print(f"\n{database.backend}: apps created per killed writer: {sorted(apps.values())};", end="")
    print(f" writers that died inside add/save: {sum(died_saving)} of {len(died_saving)}")
    tracebacks = [path.read_text("utf-8") for path in sorted(directory.glob("*.traceback"))]
    return Crash(
        database, exit_codes, tracebacks, died_saving, integrity, _write_after(database.url)
    )


def test_some_writer_was_killed_inside_a_save(crash: Crash) -> None:
    """The scenario did what it claims: at least one kill landed inside add or save."""
    assert True is any(crash.died_saving)


def test_killed_writers_died_by_sigkill_mid_run(crash: Crash) -> None:
    """Each writer was still saving when SIGKILL arrived (it never stops on its own)."""
    expected = ([-signal.SIGKILL] * KILL_ROUNDS * WRITERS_PER_ROUND, [])
    assert expected == (crash.exit_codes, crash.tracebacks)


def test_killed_writers_leave_each_state_with_its_events(crash: Crash) -> None:
    """State and events are written together or not at all: last event version = version."""
    last: dict[str, int] = {}
    for event in crash.database.events():
        last[event.aggregate_id] = max(event.version, last.get(event.aggregate_id, 0))
    assert crash.database.versions() == last


def test_killed_writers_leave_event_versions_without_gaps(crash: Crash) -> None:
    """Per aggregate, the outbox holds events of versions 1..stored version, none missing."""
    assert_versions_without_gaps(crash.database)


def test_killed_writers_leave_no_unique_key_without_its_aggregate(crash: Crash) -> None:
    """Every unique key points to a stored aggregate."""
    assert [] == crash.database.rows(
        "SELECT k.key FROM unique_keys k LEFT JOIN aggregates a ON a.kind = k.kind AND a.id = k.id"
        " WHERE a.id IS NULL"
    )


def test_killed_writers_leave_every_aggregate_its_unique_keys(crash: Crash) -> None:
    """The unique keys stored are exactly the keys of the stored aggregates."""
    kinds = {"account": DeveloperAccount, "application": DeveloperApplication, "app": App}
    expected = sorted(
        (key, name, aggregate.id)
        for name, kind in kinds.items()
        for aggregate in crash.database.aggregates(kind, name)
        for key in aggregate.unique_keys()
    )
    assert expected == sorted(crash.database.rows("SELECT key, kind, id FROM unique_keys"))


@pytest.mark.parametrize("crash", ["sqlite"], indirect=True)
def test_killed_writers_leave_an_intact_sqlite_file(crash: Crash) -> None:
    """The SQLite file passes PRAGMA integrity_check after the kills."""
    assert [("ok",)] == crash.integrity


def test_database_takes_writes_after_killed_writers(crash: Crash) -> None:
    """After the kills the library opens the database and stores a new aggregate."""
    assert None is crash.write_after


# ---------------------------------------------------------------------- delivery under faults

DELIVERY_WORKERS = 8
DELIVERY_COMMANDS = 500
RETRY = timedelta(milliseconds=5)  # short back-off, so the run retries often


class HalfDown:
    """A notifier whose server fails half the time; each delivery is appended to a file."""

    def __init__(self, path: str, seed: int, failing: float = 0.5) -> None:
        self.path = path
        self.rng = random.Random(seed)
        self.failing = failing

    def notify(self, event: Event) -> None:
        if self.rng.random() < self.failing:
            raise ConnectionError("relay down")
        with open(self.path, "a", encoding="utf-8") as log:
            log.write(event.event_id + "\n")


def _delivery_worker(url: str, n: int, log: str, start: Any, trace: str) -> None:
    """A child: 500 commands on accounts of its own, its notifier failing half the time."""
    try:
        # Half the deliveries fail on purpose: their warnings would only flood the output.
        logging.getLogger("aliexpress_onboarding.outbox").setLevel(logging.ERROR)
        service = OnboardingService.from_url(
            url, notifier=HalfDown(log, seed=n), retry_base=RETRY, retry_max=RETRY * 4
        )
        start.wait(PROCESS_TIMEOUT)
        account_id = ""
        for index in range(DELIVERY_COMMANDS):
            step = index % 3
            seller = Actor.seller(f"delivery-{n}-{index // 3}")
            if step == 0:
                account_id = service.register_account(
                    seller_id=seller.id, enterprise_id="e", actor=seller
                ).id
            elif step == 1:
                service.accept_agreement(account_id, "2024-01", actor=seller)
            else:
                service.submit_profile(account_id, PROFILE, actor=seller)
        service.dispatch_pending()  # waits for the background pass: nothing left in flight
        _close(service)
    except BaseException:
        Path(trace).write_text(traceback.format_exc(), encoding="utf-8")
        raise


@dataclass
class Delivery:
    """What the faulty deliveries left behind."""

    stored: list[str]
    delivered: list[str]
    pending: int
    tracebacks: list[str]
    seconds: float


@pytest.fixture(scope="module", params=BACKENDS)
def delivery(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Delivery]:
    directory = tmp_path_factory.mktemp("delivery")
    with _fresh_database(request, directory) as database:
        yield _run_delivery(database, directory)


def _run_delivery(database: Database, directory: Path) -> Delivery:
    logs = [directory / f"delivered-{n}.log" for n in range(DELIVERY_WORKERS + 1)]
    traces = [directory / f"trace-{n}.txt" for n in range(DELIVERY_WORKERS)]
    _close(OnboardingService.from_url(database.url))  # migrate once, before the race
    start = multiprocessing.get_context("spawn").Barrier(DELIVERY_WORKERS + 1)
    processes = []
    try:
        for n in range(DELIVERY_WORKERS):
            args = (database.url, n, str(logs[n]), start, str(traces[n]))
            processes.append(_spawn(_delivery_worker, *args))
        start.wait(PROCESS_TIMEOUT)
        began = time.perf_counter()
        for process in processes:
            process.join(PROCESS_TIMEOUT)
        seconds = time.perf_counter() - began
    finally:
        _reap(processes)
    # Recovery: the notifier works again; a dispatcher drains what the failures left.
    drain = OnboardingService.from_url(
        database.url, notifier=HalfDown(str(logs[-1]), seed=99, failing=0.0), auto_dispatch=False
    )
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while drain.repository.pending_events(1) and time.monotonic() < deadline:
        drain.dispatch_pending()
        time.sleep(RETRY.total_seconds())
    pending = len(drain.repository.pending_events())
    _close(drain)
    delivered = [line for log in logs if log.exists() for line in log.read_text().split()]
    print(f"\n{database.backend}: {DELIVERY_WORKERS} x {DELIVERY_COMMANDS} commands, notifier")
    print(f" failing 50%, in {seconds:.2f} s; {len(delivered)} deliveries", end=" ")
    return Delivery(
        [event.event_id for event in database.events()],
        delivered,
        pending,
        [trace.read_text() for trace in traces if trace.exists()],
        seconds,
    )


def test_a_half_failing_notifier_loses_no_event(delivery: Delivery) -> None:
    """Every stored event was delivered: 0 lost, 0 undelivered at the end."""
    assert ([], 0, []) == (
        delivery.tracebacks,
        delivery.pending,
        sorted(set(delivery.stored) - set(delivery.delivered)),
    )


def test_a_half_failing_notifier_gets_no_event_twice(delivery: Delivery) -> None:
    """Leases keep dispatchers in 8 processes apart: 0 duplicated deliveries."""
    duplicated = [event_id for event_id, n in Counter(delivery.delivered).items() if n > 1]
    # register, accept, submit (two events: ProfileSubmitted, AccountActivated), repeated
    events_per_worker = sum(2 if index % 3 == 2 else 1 for index in range(DELIVERY_COMMANDS))
    assert ([], DELIVERY_WORKERS * events_per_worker) == (
        duplicated,
        len(delivery.stored),
    )


# ---------------------------------------------------------------------- the last Self store

SLOT_ROUNDS = 12  # one account per round, verified for one store, with two Self apps


def _slot_setup(url: str) -> list[tuple[str, str]]:
    """Per round: an account verified for one store, and two Self apps of it."""
    service = _service(url, clock=FixedClock(T0))
    rounds = []
    try:
        for n in range(SLOT_ROUNDS):
            owner = Actor.seller(f"slot-seller-{n}")
            account = service.register_account(
                seller_id=owner.id, enterprise_id=f"slot-ent-{n}", actor=owner
            )
            service.verify_enterprise(account.id, f"slot-ent-{n}", 1, actor=VERIFIER)
            service.accept_agreement(account.id, "2024-01", actor=owner)
            service.submit_profile(account.id, PROFILE, actor=owner)
            application = service.apply(account.id, "self", SELF_FACTS, DOCUMENT, actor=owner)
            service.approve(application.id, actor=REVIEWER)
            first = service.create_app(account.id, "self", "slot_a", actor=owner)
            second = service.create_app(account.id, "self", "slot_b", actor=owner)
            rounds.append((first.id, second.id))
    finally:
        _close(service)
    return rounds


def _slot_worker(url: str, side: int, rounds: list[tuple[str, str]], start: Any, path: str) -> None:
    """One side of each round: authorize a store of its own on its own app, all at once."""
    service = _service(url, clock=FixedClock(T0))
    outcomes = []
    for n, apps in enumerate(rounds):
        owner = Actor.seller(f"slot-seller-{n}")
        store = Store(f"store-{side}", owner.id, f"slot-ent-{n}")
        start.wait(PROCESS_TIMEOUT)
        try:
            service.authorize_store(apps[side], store, actor=owner)
        except RuleViolationError as error:
            outcomes.append(",".join(p.code for p in error.problems))
        except Exception as error:  # recorded: the test fails on any
            outcomes.append(f"{type(error).__name__}: {error}")
        else:
            outcomes.append("ok")
    _close(service)
    Path(path).write_text(json.dumps(outcomes))


@pytest.fixture(scope="module", params=BACKENDS)
def last_slot(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Database, list[list[str]]]]:
    directory = tmp_path_factory.mktemp("slot")
    with _fresh_database(request, directory) as database:
        rounds = _slot_setup(database.url)
        start = multiprocessing.get_context("spawn").Barrier(2)
        paths = [directory / f"side-{side}.json" for side in (0, 1)]
        processes = [
            _spawn(_slot_worker, database.url, side, rounds, start, str(path))
            for side, path in enumerate(paths)
        ]
        try:
            for process in processes:
                process.join(PROCESS_TIMEOUT)
        finally:
            _reap(processes)
        sides = [json.loads(path.read_text()) if path.exists() else [] for path in paths]
        yield database, [list(pair) for pair in zip(*sides, strict=True)]


def test_two_processes_racing_for_the_last_self_store_one_wins(
    last_slot: tuple[Database, list[list[str]]],
) -> None:
    """Each round: two stores, two Self apps, one place left: one authorization, one refusal.

    The bound is per developer across its Self apps, and it holds when two processes check it
    at the same moment (each saw the place free): the store enforces it in the write.
    """
    database, rounds = last_slot
    assert [["ok", "store_limit_reached"]] * SLOT_ROUNDS == [sorted(pair) for pair in rounds]
    counts = database.rows(
        "SELECT scope, members FROM bound_counts WHERE scope LIKE 'self-stores:%' ORDER BY scope"
    )
    assert [1] * SLOT_ROUNDS == [members for _, members in counts]
    active = database.rows(
        "SELECT count(*) FROM authorizations WHERE active AND bound_scope IS NOT NULL"
    )
    assert [(SLOT_ROUNDS,)] == active
