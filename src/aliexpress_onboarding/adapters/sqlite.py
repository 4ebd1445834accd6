"""`SQLiteRepository`: the embedded, durable default — one file, stdlib sqlite3.

Each write of several statements is one ``BEGIN IMMEDIATE`` transaction (the connection is in
autocommit mode so the library, not the sqlite3 module, controls transactions: Python 3.11 and
3.12+ differ there), taking the write lock up front so a read-then-write never fails with
SQLITE_BUSY under WAL. A write of one statement (marking an outbox entry) runs alone in
autocommit mode: atomic by itself, and it waits for the lock through ``busy_timeout``.
Optimistic concurrency is ``UPDATE ... WHERE kind = ? AND id = ? AND version = ?``; unique keys
and the outbox rows are written in the same transaction. Driver errors become our errors at this
boundary.
"""

from __future__ import annotations

import atexit
import logging
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Final, TypeVar

import attrs

from ..domain.account import DeveloperAccount
from ..domain.app import App
from ..domain.application import ApplicationStatus, DeveloperApplication
from ..domain.authorization import (
    BoundClaim,
    BoundUsage,
    StoreAuthorization,
    authorization_id,
    limit_reached,
    self_stores_scope,
)
from ..domain.events import Event
from ..domain.oauth import AuthorizationRequest
from ..errors import (
    AlreadyExistsError,
    ConcurrencyConflictError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from ..ports import KIND_NAMES, AggregateRoot, FailedDelivery, OutboxEntry, account_of_seller_key
from ..sealing import Keyring, StoredSecrets
from ..serialization import (
    dump_document,
    from_stored_json,
    parse_stored_json,
    split_release_1_app,
    to_json,
    upgrade_release_1_account,
)

__all__ = ["SQLiteRepository"]

A = TypeVar("A", DeveloperAccount, DeveloperApplication, App, StoreAuthorization)

SCHEMA_VERSION: Final = 6
_AUTHORIZATION: Final = KIND_NAMES[StoreAuthorization]


def _claim(
    connection: sqlite3.Connection,
    old: tuple[str, str] | None,
    new: BoundClaim | None,
    *,
    enforce: bool = True,
) -> None:
    """Move a record's bound claim from ``old`` (scope, member) to ``new`` in the write.

    A member's first claim in its scope adds one to the scope's count; a count past the
    claim's limit raises `limit_reached` (the caller's transaction then rolls back, so nothing
    is written). A write holds SQLite's write lock from ``BEGIN IMMEDIATE``: claims never race.
    """
    if old == (None if new is None else (new.scope, new.member)):
        return
    if old is not None:
        (holders,) = connection.execute(
            "UPDATE bound_members SET holders = holders - 1 WHERE scope = ? AND member = ?"
            " RETURNING holders",
            old,
        ).fetchone()
        if holders == 0:
            connection.execute("DELETE FROM bound_members WHERE scope = ? AND member = ?", old)
            connection.execute(
                "UPDATE bound_counts SET members = members - 1 WHERE scope = ?", (old[0],)
            )
    if new is not None:
        (holders,) = connection.execute(
            "INSERT INTO bound_members (scope, member, holders) VALUES (?, ?, 1)"
            " ON CONFLICT (scope, member) DO UPDATE SET holders = holders + 1 RETURNING holders",
            (new.scope, new.member),
        ).fetchone()
        if holders == 1:
            members, recorded = connection.execute(
                "INSERT INTO bound_counts (scope, members) VALUES (?, 1)"
                " ON CONFLICT (scope) DO UPDATE SET members = members + 1"
                " RETURNING members, bound_limit",
                (new.scope,),
            ).fetchone()
            # The lower of the claim's limit and the one its account recorded last: a
            # verification that lowered it after the claim was made is not overrun.
            limit = new.limit if recorded is None else min(new.limit, recorded)
            if enforce and members > limit:
                raise limit_reached()


def _record_bound_limit(connection: sqlite3.Connection, aggregate: AggregateRoot) -> None:
    """An account's verified store count, as the limit of its Self stores' scope.

    Written with the account, in its transaction: claims count against it at once.
    """
    if isinstance(aggregate, DeveloperAccount) and aggregate.verification is not None:
        connection.execute(
            "INSERT INTO bound_counts (scope, members, bound_limit) VALUES (?, 0, ?)"
            " ON CONFLICT (scope) DO UPDATE SET bound_limit = excluded.bound_limit",
            (self_stores_scope(aggregate.id), aggregate.verification.store_count),
        )


def _split_release_1_apps(connection: sqlite3.Connection) -> None:
    """Migration 5's data step: release 1's documents as today's.

    Each app's listed authorizations become records of their own, and an account's store count
    set by its seller is dropped (a reviewer verifies it now).
    """
    rows = connection.execute(
        "SELECT id, document FROM aggregates WHERE kind = ?", (KIND_NAMES[DeveloperAccount],)
    ).fetchall()
    for row_id, document in rows:
        parsed = parse_stored_json(document, record=f"account:{row_id}")
        upgraded = upgrade_release_1_account(parsed)
        if upgraded != parsed:
            connection.execute(
                "UPDATE aggregates SET document = ? WHERE kind = ? AND id = ?",
                (dump_document(upgraded), KIND_NAMES[DeveloperAccount], row_id),
            )
    rows = connection.execute(
        "SELECT id, document FROM aggregates WHERE kind = ?", (KIND_NAMES[App],)
    ).fetchall()
    for row_id, document in rows:
        parsed = parse_stored_json(document, record=f"app:{row_id}")
        app_document, authorizations = split_release_1_app(parsed)
        if app_document == parsed:
            continue
        connection.execute(
            "UPDATE aggregates SET document = ? WHERE kind = ? AND id = ?",
            (dump_document(app_document), KIND_NAMES[App], row_id),
        )
        for authorization in authorizations:  # as stored by release 1: even past today's bound
            _insert_authorization(
                connection, authorization, to_json(authorization, include_secrets=True)
            )
            _claim(connection, None, authorization.bound_claim, enforce=False)


def _insert_authorization(
    connection: sqlite3.Connection, authorization: StoreAuthorization, document: str
) -> None:
    claim = authorization.bound_claim
    connection.execute(
        "INSERT INTO authorizations (id, app_id, store_id, active, version, bound_scope,"
        " token_expires_at, refresh_expires_at, refreshable, alerted, token_holder, document)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            authorization.id,
            authorization.app_id,
            authorization.store_id,
            authorization.is_active,
            authorization.version,
            None if claim is None else claim.scope,
            *_token_columns(authorization),
            document,
        ),
    )


def _token_columns(authorization: StoreAuthorization) -> tuple[Any, ...]:
    """What the token queries select by: expiry times, refreshable, alerted, whose tokens."""
    return (
        _optional_utc_text(authorization.token_expires_at),
        _optional_utc_text(authorization.refresh_expires_at),
        authorization.can_outlive_its_token,
        authorization.expiry_alerted_at is not None,
        authorization.token_holder,
    )


_MIGRATIONS: Final[dict[int, str]] = {
    1: """
    CREATE TABLE aggregates (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        account_id TEXT,
        status TEXT NOT NULL,
        document TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE INDEX aggregates_by_account ON aggregates (kind, account_id, id);
    CREATE INDEX aggregates_by_status ON aggregates (kind, status, id);
    CREATE TABLE unique_keys (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        id TEXT NOT NULL
    );
    CREATE INDEX unique_keys_by_owner ON unique_keys (kind, id);
    CREATE TABLE outbox (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        aggregate_id TEXT NOT NULL,
        document TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        last_error TEXT,
        delivered_at TEXT
    );
    CREATE INDEX outbox_pending ON outbox (delivered_at, sequence);
    """,
    # An aggregate whose oldest undelivered event failed is held: that event until its retry
    # time, the later ones behind it (_BEHIND) until it is delivered. So the due events are two
    # index ranges, never a scan past a failing aggregate's backlog.
    2: """
    ALTER TABLE outbox ADD COLUMN held_until TEXT;
    CREATE INDEX outbox_by_aggregate ON outbox (aggregate_id, sequence);
    CREATE INDEX outbox_due ON outbox (held_until, sequence) WHERE delivered_at IS NULL;
    UPDATE outbox SET held_until = (
        SELECT CASE WHEN head.next_attempt_at IS NULL THEN NULL
                    WHEN head.sequence = outbox.sequence THEN head.next_attempt_at
                    ELSE '9999-12-31T23:59:59.999999+00:00' END
        FROM outbox AS head
        WHERE head.aggregate_id = outbox.aggregate_id AND head.delivered_at IS NULL
        ORDER BY head.sequence LIMIT 1
    ) WHERE delivered_at IS NULL;
    """,
    # Dispatchers in several processes on one file lease what they are delivering, as on
    # PostgreSQL, so no event is delivered twice while a lease lasts.
    3: """
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
    CREATE INDEX outbox_claims ON outbox (claimed_by) WHERE claimed_by IS NOT NULL;
    """,
    # A failure holds, and a delivery releases, the entries behind it with one index range.
    4: """
    CREATE INDEX outbox_held_by_aggregate ON outbox (aggregate_id, held_until)
        WHERE delivered_at IS NULL;
    """,
    # Each store authorization is a record of its own (release 1 listed them in the app's
    # document); a Self developer's stores are counted per account, across its Self apps.
    5: """
    CREATE TABLE authorizations (
        id TEXT PRIMARY KEY,
        app_id TEXT NOT NULL,
        store_id TEXT NOT NULL,
        active INTEGER NOT NULL,
        version INTEGER NOT NULL,
        bound_scope TEXT,
        token_expires_at TEXT,
        refresh_expires_at TEXT,
        refreshable INTEGER NOT NULL DEFAULT 0,
        alerted INTEGER NOT NULL DEFAULT 0,
        refresh_lease_until TEXT,
        token_holder TEXT,
        document TEXT NOT NULL,
        UNIQUE (app_id, store_id)
    );
    CREATE INDEX authorizations_active ON authorizations (app_id, store_id) WHERE active;
    CREATE INDEX authorizations_token_holders ON authorizations (app_id, token_holder)
        WHERE token_holder IS NOT NULL;
    CREATE INDEX authorizations_to_refresh ON authorizations (token_expires_at, id)
        WHERE active AND refreshable;
    CREATE INDEX authorizations_to_alert ON authorizations (token_expires_at, id)
        WHERE active AND NOT alerted AND token_expires_at IS NOT NULL;
    CREATE TABLE authorization_requests (
        state_digest TEXT PRIMARY KEY,
        app_id TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT,
        document TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX authorization_requests_by_expiry ON authorization_requests (expires_at);
    CREATE TABLE bound_members (
        scope TEXT NOT NULL,
        member TEXT NOT NULL,
        holders INTEGER NOT NULL,
        PRIMARY KEY (scope, member)
    ) WITHOUT ROWID;
    CREATE TABLE bound_counts (
        scope TEXT PRIMARY KEY,
        members INTEGER NOT NULL,
        bound_limit INTEGER
    ) WITHOUT ROWID
    """,
    # An aggregate's undelivered entries by sequence: what leasing asks of each due entry
    # (is an earlier one leased or failed?) without reading the aggregate's delivered history
    # (outbox_by_aggregate) or the backlog held behind it (outbox_held_by_aggregate).
    6: """
    CREATE INDEX outbox_undelivered_by_aggregate ON outbox (aggregate_id, sequence)
        WHERE delivered_at IS NULL
    """,
}
# Steps in Python that run after a migration's statements, in its transaction.
_DATA_MIGRATIONS: Final[dict[int, Callable[[sqlite3.Connection], None]]] = {
    5: _split_release_1_apps,
}

_BEHIND: Final = "9999-12-31T23:59:59.999999+00:00"
"""``held_until`` of an entry behind its aggregate's failed one: held until that one is
delivered, whatever its retry time (so a new failure rewrites one row, not the backlog)."""

# Due, not under another dispatcher's live lease, and no earlier undelivered entry of the
# aggregate that is under one (that dispatcher is delivering it: order per aggregate) or that
# failed before (a retried aggregate is tried with its oldest event alone, so its backlog
# never fills a batch; once that event is delivered the rest follow). The earlier entries are
# one range of the partial index of undelivered ones by sequence: without it, the planner
# walked every delivered event of the aggregate too (a 10,000-event history: 1.1 ms a call).
_FREE: Final = (
    " AND (claimed_until IS NULL OR claimed_until <= :wall OR claimed_by = :claimant)"
    " AND NOT EXISTS (SELECT 1 FROM outbox AS earlier"
    " INDEXED BY outbox_undelivered_by_aggregate"
    " WHERE earlier.aggregate_id = outbox.aggregate_id AND earlier.sequence < outbox.sequence"
    " AND earlier.delivered_at IS NULL AND (earlier.attempts > 0"
    " OR (earlier.claimed_until > :wall AND earlier.claimed_by <> :claimant)))"
)
# Both ranges read the partial index of undelivered entries by (held_until, sequence): the
# planner, without statistics, would otherwise scan every undelivered entry.
_DUE: Final = (
    "SELECT * FROM (SELECT sequence, document, attempts, next_attempt_at, last_error"
    f" FROM outbox INDEXED BY outbox_due WHERE delivered_at IS NULL AND held_until IS NULL{_FREE}"
    " ORDER BY sequence LIMIT :limit)"
    " UNION ALL"
    " SELECT * FROM (SELECT sequence, document, attempts, next_attempt_at, last_error"
    f" FROM outbox INDEXED BY outbox_due WHERE delivered_at IS NULL AND held_until <= :now{_FREE}"
    " ORDER BY held_until, sequence LIMIT :limit)"
    " ORDER BY 1 LIMIT :limit"
)


# Lease the entries `_DUE` found, under the same write lock. (One UPDATE ... RETURNING over the
# same subquery took 100-150 us even with nothing due; the read and the update, 8-10 us.)
_CLAIM: Final = (
    "UPDATE outbox SET claimed_by = :claimant, claimed_until = :until WHERE sequence = :sequence"
)


# Mark an entry delivered, and release the entries held behind it if it had failed before.
_DELIVERED: Final = (
    "UPDATE outbox SET"
    " delivered_at = CASE WHEN sequence = :sequence THEN :now ELSE delivered_at END,"
    " claimed_by = CASE WHEN sequence = :sequence THEN NULL ELSE claimed_by END,"
    " claimed_until = CASE WHEN sequence = :sequence THEN NULL ELSE claimed_until END,"
    " held_until = CASE WHEN sequence = :sequence THEN held_until END"
    " WHERE sequence IN (SELECT :sequence UNION ALL SELECT sequence FROM outbox"
    " INDEXED BY outbox_held_by_aggregate WHERE delivered_at IS NULL"
    " AND held_until = :behind"
    " AND aggregate_id = (SELECT aggregate_id FROM outbox WHERE sequence = :sequence))"
)

# Count a failed delivery; hold the entry until its retry, the later ones of its aggregate
# behind it (written the first time only, so a repeated failure costs the same).
_FAILED: Final = (
    "UPDATE outbox SET"
    " held_until = CASE WHEN sequence = :sequence THEN :until ELSE :behind END,"
    " attempts = attempts + (sequence = :sequence),"
    " next_attempt_at = CASE WHEN sequence = :sequence THEN :until"
    " ELSE next_attempt_at END,"
    " last_error = CASE WHEN sequence = :sequence THEN :error ELSE last_error END,"
    " claimed_by = CASE WHEN sequence = :sequence THEN NULL ELSE claimed_by END,"
    " claimed_until = CASE WHEN sequence = :sequence THEN NULL ELSE claimed_until END"
    " WHERE sequence IN (SELECT :sequence UNION ALL SELECT later.sequence"
    " FROM outbox AS later INDEXED BY outbox_held_by_aggregate"
    " WHERE later.delivered_at IS NULL AND later.held_until IS NULL"
    " AND later.sequence > :sequence AND later.aggregate_id ="
    " (SELECT aggregate_id FROM outbox WHERE sequence = :sequence))"
)

# The same two, as `settle` holds them for a later write: changing nothing if the entry was
# delivered meanwhile, and a failure only while the entry is still this dispatcher's (a lease
# that ended may have let another dispatcher deliver it, or lease it again).
_HELD_DELIVERED: Final = f"{_DELIVERED} AND delivered_at IS NULL"  # (those behind it are not)
_HELD_FAILED: Final = (
    f"{_FAILED} AND (SELECT delivered_at IS NULL AND claimed_by = :claimant"
    " FROM outbox WHERE sequence = :sequence)"
)

_RELEASE: Final = (
    "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL"
    " WHERE sequence = ? AND claimed_by = ?"
)


def _delivered_parameters(sequence: int) -> dict[str, Any]:
    return {"sequence": sequence, "now": _utc_text(datetime.now(UTC)), "behind": _BEHIND}


def _failed_parameters(failure: FailedDelivery) -> dict[str, Any]:
    return {
        "until": _utc_text(failure.next_attempt_at),
        "behind": _BEHIND,
        "error": failure.error[:1000],
        "sequence": failure.sequence,
    }


def _utc_text(value: datetime) -> str:
    # One width for every stored time, so that text order is time order.
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _optional_utc_text(value: datetime | None) -> str | None:
    return None if value is None else _utc_text(value)


def _enable_wal(connection: sqlite3.Connection, *, deadline: float) -> None:
    """Switch the file to WAL, waiting out other connections until ``deadline``.

    Changing the journal mode needs an exclusive lock and SQLite does not always call the busy
    handler for it: two processes opening a new file at once get "database is locked" at once.
    So the switch is retried with a short back-off; a file already in WAL is left alone.
    """
    delay = 0.001
    while True:
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


_SYNCHRONOUS: Final = ("NORMAL", "FULL")

# What an SQLite error code means for the person reading the error.
_CAUSES: Final = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "the database is read-only (check the file's and its folder's"
    " permissions, or the file system)",
    "SQLITE_BUSY": "another writer held the lock longer than the timeout",
    "SQLITE_CANTOPEN": "the file cannot be opened (a missing folder, or no permission)",
    "SQLITE_CORRUPT": "the database file is corrupt",
    "SQLITE_NOTADB": "the file is not an SQLite database",
    "SQLITE_IOERR": "the disk reported an input/output error",
    "SQLITE_PERM": "permission denied",
}


def _storage_error(action: str, path: str, error: sqlite3.Error) -> StorageError:
    """A `StorageError` that says what failed, where, and why in plain words."""
    code = getattr(error, "sqlite_errorname", "") or ""
    cause = next((why for name, why in _CAUSES.items() if code.startswith(name)), None)
    detail = f"{cause} ({error})" if cause else str(error)
    return StorageError(f"{action} on {path!r}: {detail}")


def _check_path(path: object) -> str:
    if isinstance(path, bool) or not isinstance(path, str | os.PathLike):
        raise ValidationError("path", path, "must be a file path (text or os.PathLike)")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise ValidationError("path", path, "must be a text path, not bytes")
    if not text or "\x00" in text:
        raise ValidationError("path", text, "must be a non-empty path without NUL characters")
    return text


logger = logging.getLogger(__name__)

_Held = tuple[str, Mapping[str, Any] | Sequence[Any], int | None]
"""A held outcome: its SQL, its parameters, and the entry it marks delivered (if it does)."""

RECEIPT_DELAY: Final = 0.5
"""Seconds between the checks of a repository's idle writer: a delivery outcome that
`SQLiteRepository.settle` holds, and no write has carried for this long, is written by the
repository itself at the next check (so within twice this, when the database is free)."""

_QUICK_BUSY_MS: Final = 1000
"""How long `close` and the interpreter's exit wait for another writer's lock to write what
is held: not the repository's whole timeout (what is not written is delivered again later)."""


class _Receipts:
    """Delivery outcomes waiting to ride on the repository's next write.

    A command's delivery comes after its commit; writing its outcome there and then would be a
    second commit per command, which costs more than the command's own (a commit writes every
    page it changed to the WAL, and the outcome changes the same outbox pages the next command
    changes anyway). So `SQLiteRepository.settle` leaves the statements here, and every write
    transaction of the repository runs them first (`take`; `done` after its commit, `restore`
    after a rollback). Until then the entries stay leased to this repository (for its
    ``lease``), so no other dispatcher takes them. A repository with nothing to write for
    `RECEIPT_DELAY` seconds writes them on a thread of its own, and so does the interpreter's
    exit. The statements are guarded: one that comes too late (the lease ended and another
    dispatcher delivered the entry) changes nothing.
    """

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush
        self._reset()

    def _reset(self) -> None:
        # Also after fork(): the parent's outcomes are the parent's to write.
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._pending: list[_Held] = []
        self._taken: list[_Held] = []  # in the write transaction under way (one at a time)
        self._since = 0.0  # monotonic time of the oldest pending outcome
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failures = 0

    def _own(self) -> None:
        if self._pid != os.getpid():
            self._reset()

    def add(self, held: list[_Held]) -> None:
        """Hold outcomes for the next write; start the idle writer if none runs."""
        self._own()
        with self._lock:
            if self._closed:
                return  # an in-memory database that is gone: nothing to write them to
            if not self._pending:
                self._since = time.monotonic()
            self._pending += held
            self._watch_while_pending()

    def _watch_while_pending(self) -> None:
        # (under the lock)
        _HOLDING.add(self)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._watch, name="aliexpress-onboarding-receipts", daemon=True
            )
            self._thread.start()

    @property
    def pending(self) -> bool:
        """Whether any outcome waits (in this process)."""
        return bool(self._pending) and self._pid == os.getpid()

    def delivered(self) -> set[int]:
        """The entries held as delivered (or being written so, not yet committed).

        A reader leaves them out: they were delivered.
        """
        self._own()
        with self._lock:
            return {sequence for *_, sequence in self._pending + self._taken if sequence}

    def take(self) -> list[_Held]:
        """Every pending outcome, for the write transaction that has just begun."""
        self._own()
        with self._lock:
            self._taken, self._pending = self._pending, []
            return self._taken

    def done(self) -> None:
        """The transaction that took them committed."""
        with self._lock:
            self._taken = []

    def restore(self) -> None:
        """Put back what a rolled-back transaction took, ahead of anything added since."""
        with self._lock:
            taken, self._taken = self._taken, []
            if taken and not self._closed:
                self._since = time.monotonic() if not self._pending else self._since
                self._pending[:0] = taken
                self._watch_while_pending()

    def close(self) -> None:
        """Drop what is held and take no more: the database is gone."""
        with self._lock:
            self._closed = True
            self._pending = []

    def flush(self) -> None:
        """Write what is pending now, in this thread; a failure is logged, the rest kept."""
        if not self.pending:
            return
        try:
            self._flush()
        except Exception:  # kept for the next check or write; the leases bound the wait
            self._failures += 1
            if self._failures % 120 == 1:  # the first, then about once a minute
                logger.exception(
                    "writing delivery outcomes failed (%d times); they stay pending",
                    self._failures,
                )
        else:
            self._failures = 0

    def _watch(self) -> None:
        while True:
            time.sleep(RECEIPT_DELAY)
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return
                waited = time.monotonic() - self._since
            if waited >= RECEIPT_DELAY:
                self.flush()


_HOLDING: weakref.WeakSet[_Receipts] = weakref.WeakSet()
"""The receipts that have held outcomes in this process (weakly: a repository may go)."""


@atexit.register
def _flush_at_exit() -> None:
    for receipts in list(_HOLDING):
        receipts.flush()


class SQLiteRepository:
    """A `Repository` in one SQLite file, safe from several threads and processes.

    Durability: the file is in WAL mode with ``synchronous = NORMAL`` by default. A committed
    command survives the process being killed (SIGKILL included) and never leaves the file
    corrupt; a power cut or an operating-system crash may lose the last commands before it.
    ``synchronous="FULL"`` makes each commit wait for the disk too (slower: one fsync per
    command) and loses nothing that was committed.

    Args:
        path: the database file (created with its schema if missing), or ``":memory:"`` for
            a database in this process's memory, shared by its threads and gone when the
            repository is.
        timeout: seconds to wait for another writer's lock (``busy_timeout``).
        synchronous: ``"NORMAL"`` (the default) or ``"FULL"``, as described above.
        lease: how long `due_events` keeps its entries from dispatchers in other processes
            unless they are marked delivered or failed, or released, first. Keep it well above
            a second: delivery outcomes the service records through `settle` may wait that
            long for a write.
        keyring: seals appSecrets at rest (AES-256-GCM, see `aliexpress_onboarding.sealing`)
            and opens them on reading, under any of its keys.
        plaintext_secrets: with no keyring, store appSecrets in plain text. Without either,
            storing an app raises `StorageError`: a file on disk does not get secrets in the
            clear unless you say so (``":memory:"`` always allows it).

    Raises:
        ValidationError: a path that is not a usable file name, or a bad setting.
        StorageError: the file cannot be opened, is not a database, is read-only, or was
            written by a newer schema.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        synchronous: str = "NORMAL",
        lease: timedelta = timedelta(minutes=5),
        keyring: Keyring | None = None,
        plaintext_secrets: bool = False,
    ) -> None:
        self.path = _check_path(path)
        self._secrets = StoredSecrets(
            keyring, plaintext=plaintext_secrets or (keyring is None and self.path == ":memory:")
        )
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ValidationError("timeout", timeout, "must be a positive number of seconds")
        if synchronous not in _SYNCHRONOUS:
            raise ValidationError("synchronous", synchronous, "must be 'NORMAL' or 'FULL'")
        if not isinstance(lease, timedelta) or lease < timedelta(0):
            raise ValidationError("lease", lease, "must be a timedelta of zero or more")
        self._timeout = timeout
        self._synchronous = synchronous
        self.lease = lease
        self._identity = uuid.uuid4().hex
        self._local = threading.local()
        # One connection per thread, except in memory: there each connection would be a
        # database of its own, so all threads share one connection and take turns on it.
        self._shared: sqlite3.Connection | None = None
        self._turns: AbstractContextManager[object] = (
            threading.RLock() if self.path == ":memory:" else nullcontext()
        )
        self._receipts = _Receipts(partial(self._write_receipts, busy_ms=_QUICK_BUSY_MS))
        self._migrate()

    # ------------------------------------------------------------------ connections

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = self._shared or getattr(
            self._local, "connection", None
        )
        if connection is None:
            shared = self.path == ":memory:"
            try:
                connection = sqlite3.connect(
                    self.path,
                    timeout=self._timeout,
                    isolation_level=None,
                    check_same_thread=not shared,
                )
                connection.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
                if not shared:
                    _enable_wal(connection, deadline=time.monotonic() + self._timeout)
                connection.execute(f"PRAGMA synchronous = {self._synchronous}")
                connection.execute("PRAGMA foreign_keys = ON")
            except sqlite3.Error as error:
                raise _storage_error("cannot open the database", self.path, error) from error
            if shared:
                self._shared = connection
            else:
                self._local.connection = connection
        return connection

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end).

        Delivery outcomes `settle` still holds are written first, waiting at most a second for
        another writer (what is not written is delivered again once its lease ends).

        In memory, this closes the shared connection: the database is gone, with what it held.
        """
        with suppress(StorageError):  # a file that cannot be written: the leases run out
            self._write_receipts(busy_ms=_QUICK_BUSY_MS)
        if self.path == ":memory:":
            self._receipts.close()
        with self._turns:
            if self._shared is not None:
                self._shared.close()
                self._shared = None
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    @contextmanager
    def _write(self, *, busy_ms: int | None = None) -> Iterator[sqlite3.Connection]:
        with self._turns:
            connection = self._connection()
            if busy_ms is not None:
                connection.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise _storage_error("cannot start a write", self.path, error) from error
            finally:
                if busy_ms is not None:
                    connection.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            committed = False
            try:
                for sql, parameters, _ in self._receipts.take():  # earlier deliveries' first
                    connection.execute(sql, parameters)
                yield connection
                connection.execute("COMMIT")
                committed = True
                self._receipts.done()
            except BaseException as error:
                if not committed:
                    self._receipts.restore()
                # SQLite itself rolls back after some errors (a full disk): then there is no
                # transaction left to roll back, and the original error is the one to report.
                if connection.in_transaction:
                    with suppress(sqlite3.Error):
                        connection.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise _storage_error("the write failed", self.path, error) from error
                raise

    def _read(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        with self._turns:
            try:
                return self._connection().execute(sql, parameters).fetchall()
            except sqlite3.Error as error:
                raise _storage_error("a read failed", self.path, error) from error

    def _migrate(self) -> None:
        with self._write() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > SCHEMA_VERSION:
                raise StorageError(
                    f"{self.path!r} has schema version {current}; this library knows up to"
                    f" {SCHEMA_VERSION}: upgrade aliexpress-onboarding"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        connection.execute(statement)
                if version in _DATA_MIGRATIONS:
                    _DATA_MIGRATIONS[version](connection)
                connection.execute("INSERT INTO schema_version VALUES (?)", (version,))

    # ------------------------------------------------------------------ aggregates

    def _decode(self, kind: type[A], document: str, row_id: str) -> A:
        return self._secrets.loads(document, kind, f"{KIND_NAMES[kind]}:{row_id}")

    def get(self, kind: type[A], aggregate_id: str) -> A:
        """The stored aggregate; `NotFoundError` if there is none.

        Raises:
            InvalidRecordError: the stored row is corrupt or from a newer schema (names it).
        """
        name = KIND_NAMES[kind]
        if kind is StoreAuthorization:
            rows = self._read("SELECT document FROM authorizations WHERE id = ?", (aggregate_id,))
        else:
            rows = self._read(
                "SELECT document FROM aggregates WHERE kind = ? AND id = ?", (name, aggregate_id)
            )
        if not rows:
            raise NotFoundError(name, aggregate_id)
        return self._decode(kind, rows[0][0], aggregate_id)

    def add(self, aggregate: AggregateRoot, events: Sequence[Event]) -> None:
        """Insert a new aggregate, its unique keys and its events in one transaction.

        A store authorization goes to a table of its own, with its bound claim (refused past
        the limit: `limit_reached`) in the same transaction.
        """
        with self._write() as connection:
            self._store(connection, aggregate, events, None)

    def save(
        self, aggregate: AggregateRoot, events: Sequence[Event], *, expected_version: int
    ) -> None:
        """Update an aggregate if its stored version is ``expected_version``, atomically."""
        with self._write() as connection:
            self._store(connection, aggregate, events, expected_version)

    def write_and_lease(
        self,
        aggregate: AggregateRoot,
        events: Sequence[Event],
        *,
        expected_version: int | None,
        now: datetime,
        limit: int,
    ) -> list[OutboxEntry]:
        """`add` (``expected_version=None``) or `save`, then `due_events`, in one transaction.

        The entries of ``events`` come back with the `Event` objects given: what was just
        written is not read back and decoded.
        """
        with self._write() as connection:
            written = self._store(connection, aggregate, events, expected_version)
            rows = self._lease(connection, now, limit)
        return self._entries(rows, written)

    def _store(
        self,
        connection: sqlite3.Connection,
        aggregate: AggregateRoot,
        events: Sequence[Event],
        expected_version: int | None,
    ) -> dict[str, Event]:
        """Write ``aggregate`` in the open transaction; the stored events by their documents."""
        if isinstance(aggregate, StoreAuthorization):
            if expected_version is None:
                document = self._secrets.dumps(aggregate)
                try:
                    _insert_authorization(connection, aggregate, document)
                except sqlite3.IntegrityError as error:
                    raise ConcurrencyConflictError(aggregate.id, 0, None) from error
                _claim(connection, None, aggregate.bound_claim)
                return self._finish(connection, _AUTHORIZATION, aggregate, events, new=True)
            return self._save_authorization(connection, aggregate, events, expected_version)
        name = KIND_NAMES[type(aggregate)]
        if expected_version is None:
            try:
                connection.execute(
                    "INSERT INTO aggregates (kind, id, version, account_id, status, document)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        aggregate.id,
                        aggregate.version,
                        getattr(aggregate, "account_id", None),
                        aggregate.status.value,
                        self._secrets.dumps(aggregate),
                    ),
                )
            except sqlite3.IntegrityError as error:
                raise ConcurrencyConflictError(aggregate.id, 0, None) from error
            return self._finish(connection, name, aggregate, events, new=True)
        updated = connection.execute(
            "UPDATE aggregates SET version = ?, status = ?, document = ?"
            " WHERE kind = ? AND id = ? AND version = ?",
            (
                aggregate.version,
                aggregate.status.value,
                self._secrets.dumps(aggregate),
                name,
                aggregate.id,
                expected_version,
            ),
        ).rowcount
        if updated != 1:
            row = connection.execute(
                "SELECT version FROM aggregates WHERE kind = ? AND id = ?",
                (name, aggregate.id),
            ).fetchone()
            if row is None:
                raise NotFoundError(name, aggregate.id)
            raise ConcurrencyConflictError(aggregate.id, expected_version, row[0])
        return self._finish(connection, name, aggregate, events, new=False)

    def _save_authorization(
        self,
        connection: sqlite3.Connection,
        authorization: StoreAuthorization,
        events: Sequence[Event],
        expected_version: int,
    ) -> dict[str, Event]:
        document = self._secrets.dumps(authorization)
        claim = authorization.bound_claim
        row = connection.execute(
            "SELECT version, bound_scope, store_id FROM authorizations WHERE id = ?",
            (authorization.id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(_AUTHORIZATION, authorization.id)
        if row[0] != expected_version:
            raise ConcurrencyConflictError(authorization.id, expected_version, row[0])
        connection.execute(
            "UPDATE authorizations SET version = ?, active = ?, bound_scope = ?,"
            " token_expires_at = ?, refresh_expires_at = ?, refreshable = ?, alerted = ?,"
            " token_holder = ?, refresh_lease_until = NULL, document = ? WHERE id = ?",
            (
                authorization.version,
                authorization.is_active,
                None if claim is None else claim.scope,
                *_token_columns(authorization),
                document,
                authorization.id,
            ),
        )
        _claim(connection, None if row[1] is None else (row[1], row[2]), claim)
        return self._finish(connection, _AUTHORIZATION, authorization, events, new=True)

    def _finish(
        self,
        connection: sqlite3.Connection,
        name: str,
        aggregate: AggregateRoot,
        events: Sequence[Event],
        *,
        new: bool,
    ) -> dict[str, Event]:
        """Write the aggregate's unique keys (when they changed) and its events.

        For an account, its verified store count too: the limit of its Self stores' scope.

        Returns:
            The events written, by their stored documents.
        """
        _record_bound_limit(connection, aggregate)
        keys = sorted(aggregate.unique_keys())
        key_of = (name, aggregate.id)
        try:
            if not new:  # keys seldom change: a read is cheaper than rewriting them
                stored = connection.execute(
                    "SELECT key FROM unique_keys WHERE kind = ? AND id = ? ORDER BY key", key_of
                ).fetchall()
                if [key for (key,) in stored] != keys:
                    connection.execute("DELETE FROM unique_keys WHERE kind = ? AND id = ?", key_of)
                    new = True
            if new and keys:
                connection.executemany(
                    "INSERT INTO unique_keys (key, kind, id) VALUES (?, ?, ?)",
                    [(key, *key_of) for key in keys],
                )
            written = [(to_json(event), event) for event in events]
            if written:  # a new event of a held aggregate waits behind its failed one
                connection.executemany(
                    "INSERT INTO outbox (event_id, aggregate_id, document, held_until)"
                    " VALUES (?, ?, ?, (SELECT ? FROM outbox INDEXED BY outbox_held_by_aggregate"
                    " WHERE aggregate_id = ? AND delivered_at IS NULL AND held_until IS NOT NULL"
                    " LIMIT 1))",
                    [
                        (e.event_id, e.aggregate_id, document, _BEHIND, e.aggregate_id)
                        for document, e in written
                    ],
                )
        except sqlite3.IntegrityError as error:
            # A constraint fails its statement only: the transaction can still say which key.
            taken = connection.execute(
                f"SELECT key, id FROM unique_keys WHERE key IN ({', '.join('?' * len(keys))})"
                " AND NOT (kind = ? AND id = ?) ORDER BY key LIMIT 1",
                (*keys, *key_of),
            ).fetchone()
            if taken is not None:
                raise AlreadyExistsError(aggregate.id, taken[0], taken[1]) from error
            raise ConcurrencyConflictError(aggregate.id, aggregate.version - 1, None) from error
        return dict(written)

    def authorization(self, app_id: str, store_id: str) -> StoreAuthorization | None:
        """The authorization of the app by the store (active or revoked), or ``None``."""
        authorization_of = authorization_id(app_id, store_id)
        rows = self._read("SELECT document FROM authorizations WHERE id = ?", (authorization_of,))
        return self._decode(StoreAuthorization, rows[0][0], authorization_of) if rows else None

    def authorizations_of_app(
        self, app_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[StoreAuthorization]:
        """Up to ``limit`` active authorizations of the app after store ``after``: one range."""
        rows = self._read(
            "SELECT id, document FROM authorizations INDEXED BY authorizations_active"
            " WHERE app_id = ? AND active AND store_id > ? ORDER BY store_id LIMIT ?",
            (app_id, "" if after is None else after, limit),
        )
        return [self._decode(StoreAuthorization, document, row_id) for row_id, document in rows]

    def token_holders(self, app_id: str, seller_id: str) -> list[StoreAuthorization]:
        """The app's active authorizations holding the seller's tokens: an index look-up."""
        rows = self._read(
            "SELECT id, document FROM authorizations INDEXED BY authorizations_token_holders"
            " WHERE app_id = ? AND token_holder = ? ORDER BY id",
            (app_id, seller_id),
        )
        return [self._decode(StoreAuthorization, document, row_id) for row_id, document in rows]

    def tokens_to_refresh(
        self, now: datetime, before: datetime, limit: int
    ) -> list[StoreAuthorization]:
        """Refreshable tokens expiring before ``before``, not leased, soonest first: one range."""
        rows = self._read(
            "SELECT id, document FROM authorizations INDEXED BY authorizations_to_refresh"
            " WHERE active AND refreshable AND token_expires_at < :before"
            " AND refresh_expires_at > :now"
            " AND (refresh_lease_until IS NULL OR refresh_lease_until <= :now)"
            " ORDER BY token_expires_at, id LIMIT :limit",
            {"now": _utc_text(now), "before": _utc_text(before), "limit": limit},
        )
        return [self._decode(StoreAuthorization, document, row_id) for row_id, document in rows]

    def tokens_to_alert(
        self, now: datetime, before: datetime, limit: int
    ) -> list[StoreAuthorization]:
        """Unrefreshable, unalerted tokens expiring from ``now`` to ``before``: one range."""
        rows = self._read(
            "SELECT id, document FROM authorizations INDEXED BY authorizations_to_alert"
            " WHERE active AND NOT alerted AND token_expires_at >= :now"
            " AND token_expires_at < :before AND (NOT refreshable OR refresh_expires_at <= :now)"
            " ORDER BY token_expires_at, id LIMIT :limit",
            {"now": _utc_text(now), "before": _utc_text(before), "limit": limit},
        )
        return [self._decode(StoreAuthorization, document, row_id) for row_id, document in rows]

    def lease_refresh(
        self, authorization_id: str, version: int, now: datetime, until: datetime
    ) -> bool:
        """Lease the authorization at ``version`` until ``until``, if no live lease is held.

        One conditional UPDATE, atomic by itself.
        """
        with self._turns:
            try:
                cursor = self._connection().execute(
                    "UPDATE authorizations SET refresh_lease_until = :until"
                    " WHERE id = :id AND version = :version"
                    " AND (refresh_lease_until IS NULL OR refresh_lease_until <= :now)",
                    {
                        "until": _utc_text(until),
                        "id": authorization_id,
                        "version": version,
                        "now": _utc_text(now),
                    },
                )
            except sqlite3.Error as error:
                raise _storage_error("a write failed", self.path, error) from error
        return cursor.rowcount == 1

    def purge_authorization_requests(self, expired_before: datetime) -> int:
        """Delete the requests that expired before ``expired_before``: one index range."""
        with self._turns:
            try:
                cursor = self._connection().execute(
                    "DELETE FROM authorization_requests WHERE expires_at < ?",
                    (_utc_text(expired_before),),
                )
            except sqlite3.Error as error:
                raise _storage_error("a write failed", self.path, error) from error
        return cursor.rowcount

    def add_authorization_request(self, request: AuthorizationRequest) -> None:
        """Store a pending authorization request (by its state's digest)."""
        with self._write() as connection:
            try:
                connection.execute(
                    "INSERT INTO authorization_requests"
                    " (state_digest, app_id, expires_at, used_at, document) VALUES (?, ?, ?, ?, ?)",
                    (
                        request.state_digest,
                        request.app_id,
                        _utc_text(request.expires_at),
                        _optional_utc_text(request.used_at),
                        to_json(request),
                    ),
                )
            except sqlite3.IntegrityError as error:
                raise ConcurrencyConflictError(request.state_digest, 0, None) from error

    def authorization_request(self, state_digest: str) -> AuthorizationRequest | None:
        """The request whose state has this digest, used or not, or ``None``."""
        rows = self._read(
            "SELECT document, used_at FROM authorization_requests WHERE state_digest = ?",
            (state_digest,),
        )
        if not rows:
            return None
        request: AuthorizationRequest = from_stored_json(
            rows[0][0], AuthorizationRequest, record=f"authorization_request:{state_digest}"
        )
        used = rows[0][1]
        return request if used is None else attrs.evolve(request, used_at=_parse_utc(used))

    def use_authorization_request(self, state_digest: str, used_at: datetime) -> bool:
        """Mark the request used, if nobody did: ``False`` if it was used already (or unknown).

        One statement, atomic by itself: of two processes completing the same state, one gets
        ``True``.
        """
        with self._turns:
            try:
                cursor = self._connection().execute(
                    "UPDATE authorization_requests SET used_at = ?"
                    " WHERE state_digest = ? AND used_at IS NULL",
                    (_utc_text(used_at), state_digest),
                )
            except sqlite3.Error as error:
                raise _storage_error("a write failed", self.path, error) from error
        return cursor.rowcount == 1

    def bound_usage(self, scope: str, member: str) -> BoundUsage:
        """How many distinct members ``scope`` holds, and whether ``member`` is one."""
        ((members, holds),) = self._read(
            "SELECT (SELECT members FROM bound_counts WHERE scope = :scope),"
            " EXISTS (SELECT 1 FROM bound_members WHERE scope = :scope AND member = :member)",
            {"scope": scope, "member": member},
        )
        return BoundUsage(members or 0, holds_member=bool(holds))

    def list_by_account(self, kind: type[A], account_id: str) -> list[A]:
        """The applications or apps of one account, in id order."""
        rows = self._read(
            "SELECT id, document FROM aggregates WHERE kind = ? AND account_id = ? ORDER BY id",
            (KIND_NAMES[kind], account_id),
        )
        return [self._decode(kind, document, row_id) for row_id, document in rows]

    def account_of_seller(self, seller_id: str) -> DeveloperAccount | None:
        """The account the seller owns (the holder of its unique key), or ``None``."""
        name = KIND_NAMES[DeveloperAccount]
        rows = self._read(
            "SELECT a.id, a.document FROM unique_keys AS k"
            " JOIN aggregates AS a ON a.kind = k.kind AND a.id = k.id"
            " WHERE k.key = ? AND k.kind = ?",
            (account_of_seller_key(seller_id), name),
        )
        return self._decode(DeveloperAccount, rows[0][1], rows[0][0]) if rows else None

    def open_applications(self) -> list[DeveloperApplication]:
        """Every application still under review, in id order."""
        return self._applications_in(ApplicationStatus.UNDER_REVIEW)

    def undecided_applications(self) -> list[DeveloperApplication]:
        """Every application under review or escalated, in id order."""
        return self._applications_in(ApplicationStatus.UNDER_REVIEW, ApplicationStatus.ESCALATED)

    def _applications_in(self, *statuses: ApplicationStatus) -> list[DeveloperApplication]:
        rows = self._read(
            "SELECT id, document FROM aggregates"
            f" WHERE kind = ? AND status IN ({', '.join('?' * len(statuses))}) ORDER BY id",
            (KIND_NAMES[DeveloperApplication], *(status.value for status in statuses)),
        )
        return [self._decode(DeveloperApplication, doc, row_id) for row_id, doc in rows]

    def reseal_secrets(self) -> int:
        """Re-seal every stored secret (appSecrets, stores' tokens) under the current key.

        After a rotation, or to seal secrets stored in plain text. Versions and events are
        unchanged: the records themselves did not change.

        Returns:
            How many records (apps, store authorizations) were rewritten.

        Raises:
            ValidationError: the repository has no keyring.
            StorageError: a secret sealed under a key that is not on the keyring.
        """
        rewritten = 0
        with self._write() as connection:
            rows = connection.execute(
                "SELECT id, document FROM aggregates WHERE kind = ?", (KIND_NAMES[App],)
            ).fetchall()
            for row_id, document in rows:
                resealed = self._secrets.resealed(document)
                if resealed is not None:
                    connection.execute(
                        "UPDATE aggregates SET document = ? WHERE kind = ? AND id = ?",
                        (resealed, KIND_NAMES[App], row_id),
                    )
                    rewritten += 1
            rows = connection.execute(
                "SELECT id, document FROM authorizations WHERE active AND document LIKE ?",
                ('%"access_token":"%',),
            ).fetchall()
            for row_id, document in rows:
                resealed = self._secrets.resealed(document)
                if resealed is not None:
                    connection.execute(
                        "UPDATE authorizations SET document = ? WHERE id = ?", (resealed, row_id)
                    )
                    rewritten += 1
        return rewritten

    # ------------------------------------------------------------------ outbox

    def pending_events(self, limit: int = 1000) -> list[OutboxEntry]:
        """Up to ``limit`` undelivered events, oldest first, due or not.

        An event this repository delivered, whose outcome `settle` still holds, is left out.
        """
        delivered = self._receipts.delivered()
        rows = self._read(
            "SELECT sequence, document, attempts, next_attempt_at, last_error FROM outbox"
            " WHERE delivered_at IS NULL ORDER BY sequence LIMIT ?",
            (limit + len(delivered),),
        )
        return self._entries([row for row in rows if row[0] not in delivered][:limit])

    @property
    def _claimant(self) -> str:
        """Who leases outbox entries: this repository object, in this process and thread."""
        return f"{self._identity}:{os.getpid()}:{threading.get_ident()}"

    def due_events(self, now: datetime, limit: int) -> list[OutboxEntry]:
        """Lease and return up to ``limit`` events due at ``now``, oldest first.

        Held aggregates wait. Reads the never-held entries and the entries whose hold has
        ended, each an index range in index order, so a held aggregate's backlog is not read
        at all: its failed entry comes back alone when its retry time comes, the others once
        that one is delivered, in order. The entries are leased to the caller (this
        repository, in this thread) for ``lease``, so a dispatcher in another process skips
        them, and later events of their aggregates, until they are marked, released, or the
        lease ends; what the caller still holds, its next call may hand out again.
        """
        with self._write() as connection:  # the read and the lease under one write lock
            rows = self._lease(connection, now, limit)
        return self._entries(rows)

    def _lease(self, connection: sqlite3.Connection, now: datetime, limit: int) -> list[Any]:
        """Read the due rows and lease them to this caller, in the open transaction."""
        wall = datetime.now(UTC)
        parameters = {
            "limit": limit,
            "now": _utc_text(now),
            "wall": _utc_text(wall),
            "claimant": self._claimant,
            "until": _utc_text(wall + self.lease),
        }
        rows: list[Any] = connection.execute(_DUE, parameters).fetchall()
        if rows:
            connection.executemany(_CLAIM, [{**parameters, "sequence": row[0]} for row in rows])
        return rows

    def release(self, sequences: Sequence[int]) -> None:
        """End this dispatcher's lease on entries it did not attempt: others may take them."""
        claimant = self._claimant
        with self._write() as connection:
            connection.executemany(_RELEASE, [(sequence, claimant) for sequence in sequences])

    def _entries(
        self, rows: list[Any], written: Mapping[str, Event] | None = None
    ) -> list[OutboxEntry]:
        """Outbox entries of ``rows``; a document in ``written`` is that event, not decoded."""
        known = written or {}
        return [
            OutboxEntry(
                sequence,
                known.get(document) or self._decode_event(document, sequence),
                attempts,
                None if next_at is None else datetime.fromisoformat(next_at),
                last_error,
            )
            for sequence, document, attempts, next_at, last_error in rows
        ]

    def _decode_event(self, document: str, sequence: int) -> Event:
        event: Event = from_stored_json(document, record=f"outbox:{sequence}")
        return event

    def _update_outbox(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any]) -> None:
        # One statement: outside BEGIN it is its own atomic transaction, and it takes the write
        # lock as it starts (waiting up to busy_timeout), so it needs no BEGIN IMMEDIATE.
        with self._turns:
            try:
                self._connection().execute(sql, parameters)
            except sqlite3.Error as error:
                raise _storage_error("an outbox update failed", self.path, error) from error

    def mark_delivered(self, sequence: int) -> None:
        """Mark an outbox entry delivered (kept, with its time, for audit).

        The entries held behind it, if it had failed before, are released in the same
        statement (atomic without BEGIN).
        """
        self._update_outbox(_DELIVERED, _delivered_parameters(sequence))

    def mark_failed(self, sequence: int, *, next_attempt_at: datetime, error: str) -> None:
        """Count a failed delivery and hold the entry's aggregate.

        The entry is held until ``next_attempt_at``, the later entries of its aggregate behind
        it until it is delivered. One statement (atomic without BEGIN): it writes the failed
        entry, and the entries behind it only the first time, so a failure that repeats
        costs the same whatever the aggregate's backlog.
        """
        self._update_outbox(
            _FAILED, _failed_parameters(FailedDelivery(sequence, next_attempt_at, error))
        )

    def settle(
        self,
        delivered: Sequence[int],
        failed: Sequence[FailedDelivery],
        released: Sequence[int],
    ) -> None:
        """`mark_delivered`, `mark_failed` and `release`, with this repository's next write.

        The outcomes ride on the next write transaction (the next command's, typically), which
        writes them first, so a command costs one commit, not two. Until then the entries stay
        leased to this repository (for ``lease``): no other dispatcher takes them, this one's
        next lease sees them settled, and `pending_events` leaves the delivered ones out. When
        no command writes, the repository does within about twice `RECEIPT_DELAY` (a second),
        and `close` and the interpreter's exit do too. Should the process die first, the
        entries are delivered again once their lease ends (at least once, as after any crash
        between a delivery and its mark). An outcome written after its lease ended, when
        another dispatcher may have taken the entry over, changes nothing.
        """
        claimant = self._claimant
        held: list[_Held] = [
            (_HELD_DELIVERED, _delivered_parameters(sequence), sequence) for sequence in delivered
        ]
        held += [
            (_HELD_FAILED, {**_failed_parameters(failure), "claimant": claimant}, None)
            for failure in failed
        ]
        held += [(_RELEASE, (sequence, claimant), None) for sequence in released]
        if held:
            self._receipts.add(held)

    def _write_receipts(self, *, busy_ms: int | None = None) -> None:
        """Write the outcomes `settle` holds, in a transaction of their own (if any)."""
        if self._receipts.pending:
            with self._write(busy_ms=busy_ms):
                pass  # `_write` runs them first

    def events(self, aggregate_id: str | None = None) -> list[Event]:
        """Every stored event, oldest first (of one aggregate, when given): the audit timeline."""
        if aggregate_id is None:
            rows = self._read("SELECT sequence, document FROM outbox ORDER BY sequence")
        else:
            rows = self._read(
                "SELECT sequence, document FROM outbox WHERE aggregate_id = ? ORDER BY sequence",
                (aggregate_id,),
            )
        return [self._decode_event(document, sequence) for sequence, document in rows]
