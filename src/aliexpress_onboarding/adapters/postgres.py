"""`PostgresRepository`: many service instances on many hosts share one PostgreSQL database.

Needs the ``postgres`` extra (``pip install 'aliexpress-onboarding[postgres]'``: psycopg 3 and
psycopg-pool). Nothing imports this module at package import time, so the rest of the library
works without psycopg installed.

Design, mirroring `SQLiteRepository`:

- Connections come from a `psycopg_pool.ConnectionPool` (thread-safe; one per repository unless
  you pass your own). Each public call is one transaction on one pooled connection, committed
  when the call returns and rolled back if it raises.
- Tables live in one schema (``aliexpress_onboarding`` by default, created if missing), so
  several stores, or one per test, share a database. ``schema_version`` records the applied
  forward migrations; they run under a transaction-scoped advisory lock, so many processes
  starting at once migrate exactly once.
- Aggregates are JSON documents (``serialization.to_json(..., include_secrets=True)``) in
  ``aggregates``; optimistic concurrency is ``UPDATE ... WHERE kind = %s AND id = %s AND
  version = %s``. Unique keys and outbox rows are written in the same transaction.
- Driver errors become our errors at this boundary: unique violations, serialization failures
  and deadlocks are `ConcurrencyConflictError`; anything else from the driver or the pool is
  `StorageError`; an unreadable row is `InvalidRecordError` naming the record.
- Outbox dispatch is safe for several dispatchers at once: `due_events` *claims* the rows
  it returns (``SELECT ... FOR UPDATE SKIP LOCKED``, then a lease: ``claimed_by`` and
  ``claimed_until = now() + lease``), skipping rows under another dispatcher's live lease, so
  two dispatchers never get the same entry while the lease lasts. A row whose aggregate has an
  earlier undelivered event under another dispatcher's lease is skipped too, keeping delivery
  in order per aggregate. `mark_delivered` / `mark_failed` clear the lease; a dispatcher that
  dies leaves its entries to others once the lease ends (at-least-once delivery), and one that
  does not attempt an entry gives it back at once with `release`. `pending_events` only reads.
"""

from __future__ import annotations

import math
import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final, LiteralString, TypeVar

import attrs
import psycopg
import psycopg.errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from .._redact import redact_passwords
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
from ..ports import KIND_NAMES, AggregateRoot, OutboxEntry, account_of_seller_key
from ..sealing import Keyring, StoredSecrets
from ..serialization import (
    dump_document,
    from_stored_json,
    parse_stored_json,
    split_release_1_app,
    to_json,
    upgrade_release_1_account,
)

__all__ = ["DEFAULT_SCHEMA", "PostgresRepository"]

A = TypeVar("A", DeveloperAccount, DeveloperApplication, App, StoreAuthorization)

DEFAULT_SCHEMA: Final = "aliexpress_onboarding"
"""The schema the tables live in unless told otherwise."""

SCHEMA_VERSION: Final = 4
_AUTHORIZATION: Final = KIND_NAMES[StoreAuthorization]
# Each migration is a list of statements; ``{schema}`` is the quoted schema name.
_MIGRATIONS: Final[dict[int, tuple[LiteralString, ...]]] = {
    1: (
        """CREATE TABLE {schema}.aggregates (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            version INTEGER NOT NULL,
            account_id TEXT,
            status TEXT NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (kind, id)
        )""",
        "CREATE INDEX aggregates_by_account ON {schema}.aggregates (kind, account_id, id)",
        "CREATE INDEX aggregates_by_status ON {schema}.aggregates (kind, status, id)",
        """CREATE TABLE {schema}.unique_keys (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            id TEXT NOT NULL
        )""",
        "CREATE INDEX unique_keys_by_owner ON {schema}.unique_keys (kind, id)",
        """CREATE TABLE {schema}.outbox (
            sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            aggregate_id TEXT NOT NULL,
            document TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TIMESTAMPTZ,
            last_error TEXT,
            delivered_at TIMESTAMPTZ,
            claimed_by TEXT,
            claimed_until TIMESTAMPTZ
        )""",
        "CREATE INDEX outbox_pending ON {schema}.outbox (sequence) WHERE delivered_at IS NULL",
        "CREATE INDEX outbox_pending_by_aggregate ON {schema}.outbox (aggregate_id, sequence)"
        " WHERE delivered_at IS NULL",
        "CREATE INDEX outbox_claims ON {schema}.outbox (claimed_by) WHERE claimed_by IS NOT NULL",
    ),
    # An aggregate whose oldest undelivered event failed is held: that event until its retry
    # time, the later ones behind it ('infinity') until it is delivered. So the due events are
    # two index ranges, never a scan past a failing aggregate's backlog.
    2: (
        "ALTER TABLE {schema}.outbox ADD COLUMN held_until TIMESTAMPTZ",
        "CREATE INDEX outbox_due ON {schema}.outbox (held_until, sequence)"
        " WHERE delivered_at IS NULL",
        """UPDATE {schema}.outbox AS o SET held_until = (
            SELECT CASE WHEN head.next_attempt_at IS NULL THEN NULL
                        WHEN head.sequence = o.sequence THEN head.next_attempt_at
                        ELSE 'infinity'::timestamptz END
            FROM {schema}.outbox AS head
            WHERE head.aggregate_id = o.aggregate_id AND head.delivered_at IS NULL
            ORDER BY head.sequence LIMIT 1
        ) WHERE o.delivered_at IS NULL""",
    ),
    # A failure holds, and a delivery releases, the entries behind it with one index range.
    3: (
        "CREATE INDEX outbox_held_by_aggregate ON {schema}.outbox (aggregate_id, held_until)"
        " WHERE delivered_at IS NULL",
    ),
    # Each store authorization is a record of its own (release 1 listed them in the app's
    # document); a Self developer's stores are counted per account, across its Self apps.
    # Store ids order as Python strings do (by code point): COLLATE "C".
    4: (
        """CREATE TABLE {schema}.authorizations (
            id TEXT PRIMARY KEY,
            app_id TEXT NOT NULL,
            store_id TEXT COLLATE "C" NOT NULL,
            active BOOLEAN NOT NULL,
            version INTEGER NOT NULL,
            bound_scope TEXT,
            token_expires_at TIMESTAMPTZ,
            refresh_expires_at TIMESTAMPTZ,
            refreshable BOOLEAN NOT NULL DEFAULT FALSE,
            alerted BOOLEAN NOT NULL DEFAULT FALSE,
            refresh_lease_until TIMESTAMPTZ,
            token_holder TEXT,
            document TEXT NOT NULL,
            UNIQUE (app_id, store_id)
        )""",
        "CREATE INDEX authorizations_token_holders ON {schema}.authorizations"
        " (app_id, token_holder) WHERE token_holder IS NOT NULL",
        "CREATE INDEX authorizations_active ON {schema}.authorizations (app_id, store_id)"
        " WHERE active",
        "CREATE INDEX authorizations_to_refresh ON {schema}.authorizations"
        " (token_expires_at, id) WHERE active AND refreshable",
        "CREATE INDEX authorizations_to_alert ON {schema}.authorizations (token_expires_at, id)"
        " WHERE active AND NOT alerted AND token_expires_at IS NOT NULL",
        """CREATE TABLE {schema}.authorization_requests (
            state_digest TEXT PRIMARY KEY,
            app_id TEXT NOT NULL,
            expires_at TIMESTAMPTZ NOT NULL,
            used_at TIMESTAMPTZ,
            document TEXT NOT NULL
        )""",
        "CREATE INDEX authorization_requests_by_expiry ON {schema}.authorization_requests"
        " (expires_at)",
        """CREATE TABLE {schema}.bound_members (
            scope TEXT NOT NULL,
            member TEXT NOT NULL,
            holders INTEGER NOT NULL,
            PRIMARY KEY (scope, member)
        )""",
        """CREATE TABLE {schema}.bound_counts (
            scope TEXT PRIMARY KEY,
            members INTEGER NOT NULL,
            bound_limit INTEGER
        )""",
    ),
}

# Errors that mean "someone else got there first": the caller reloads and retries.
_CONFLICTS: Final = (
    psycopg.errors.UniqueViolation,
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
)

# The due entries: never held, or held until a time that has come (in held_until order, which
# keeps each aggregate's entries in sequence order), not under another dispatcher's live lease,
# and with no earlier undelivered entry of their aggregate that is leased, still held (a
# concurrent insert can miss a hold that commits just after it: this keeps the order anyway)
# or failed before (a retried aggregate is tried with its oldest event alone, so its backlog
# never fills a batch; once that event is delivered the rest follow).
_CLAIM: Final = """
    WITH candidates AS (
        (SELECT sequence FROM {schema}.outbox
         WHERE delivered_at IS NULL AND held_until IS NULL
           AND (claimed_until IS NULL OR claimed_until <= statement_timestamp())
         ORDER BY sequence LIMIT %(limit)s)
        UNION ALL
        (SELECT sequence FROM {schema}.outbox
         WHERE delivered_at IS NULL AND held_until <= %(now)s
           AND (claimed_until IS NULL OR claimed_until <= statement_timestamp())
         ORDER BY held_until, sequence LIMIT %(limit)s)
    ), claimable AS (
        SELECT o.sequence FROM {schema}.outbox AS o JOIN candidates USING (sequence)
        WHERE NOT EXISTS (
            SELECT 1 FROM {schema}.outbox AS earlier
            WHERE earlier.aggregate_id = o.aggregate_id
              AND earlier.sequence < o.sequence
              AND earlier.delivered_at IS NULL
              AND (earlier.claimed_until > statement_timestamp()
                   OR earlier.held_until > %(now)s
                   OR earlier.attempts > 0))
        ORDER BY o.sequence
        LIMIT %(limit)s
        FOR UPDATE OF o SKIP LOCKED
    )
    UPDATE {schema}.outbox AS target
    SET claimed_by = %(claimant)s, claimed_until = statement_timestamp() + %(lease)s
    FROM claimable WHERE target.sequence = claimable.sequence
    RETURNING target.sequence, target.document, target.attempts, target.next_attempt_at,
              target.last_error
"""


def _token_columns(authorization: StoreAuthorization) -> tuple[Any, ...]:
    """What the token queries select by: expiry times, refreshable, alerted, whose tokens."""
    return (
        authorization.token_expires_at,
        authorization.refresh_expires_at,
        authorization.can_outlive_its_token,
        authorization.expiry_alerted_at is not None,
        authorization.token_holder,
    )


def _first(cursor: psycopg.Cursor[Any]) -> int:
    """The first column of the row a statement returned."""
    row = cursor.fetchone()
    if row is None:  # the statements this reads always return a row
        raise StorageError("a statement that returns a row returned none")
    return int(row[0])


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _describe(conninfo: str) -> str:
    """Where a conninfo points, for messages: never the password."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "<unparsable connection string>"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"postgresql://{host}:{port}/{parts.get('dbname') or ''}"


def _password(conninfo: str) -> str:
    try:
        return str(conninfo_to_dict(conninfo).get("password") or "")
    except psycopg.Error:
        return ""


class PostgresRepository:
    """A `Repository` in a PostgreSQL database, shared safely by many processes and hosts.

    Construct it from a connection string or from a `psycopg_pool.ConnectionPool` you own
    (then ``min_size``, ``max_size`` and ``connect_timeout`` are ignored and `close` leaves
    the pool open).

    From a connection string, the constructor connects once, directly (so a wrong password or
    an unknown database fails at once with the server's reason), migrates the schema and
    disconnects; the connection pool of ``min_size`` to ``max_size`` connections opens on
    first use, in the process that uses it. A repository built before ``fork()`` (gunicorn
    ``--preload``, multiprocessing) therefore works in every child: a child never touches its
    parent's connections, and opens a pool of its own. No message, ``repr`` or log line of this
    class shows the password.

    Args:
        conninfo: a libpq connection string or URL (``"postgresql://user@host/db"``), or an
            open `psycopg_pool.ConnectionPool` (used in the process that made it only).
        schema: the schema holding the tables; created, with its tables, if missing.
        min_size: connections the pool keeps open.
        max_size: the most connections the pool opens.
        connect_timeout: seconds to wait for a connection: the first one, and a free pooled
            connection on each call.
        lease: how long `due_events` keeps its entries from other dispatchers unless they
            are marked delivered or failed first.
        keyring: seals appSecrets at rest (AES-256-GCM, see `aliexpress_onboarding.sealing`)
            and opens them on reading, under any of its keys.
        plaintext_secrets: with no keyring, store appSecrets in plain text. Without either,
            storing an app raises `StorageError`.

    Raises:
        ValidationError: an empty or non-text schema name, or a malformed setting.
        StorageError: the database cannot be reached or refuses the login (the server's
            reason, never the password), or was migrated by a newer release.
    """

    def __init__(
        self,
        conninfo: str | ConnectionPool[Any],
        *,
        schema: str = DEFAULT_SCHEMA,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 30.0,
        lease: timedelta = timedelta(minutes=5),
        keyring: Keyring | None = None,
        plaintext_secrets: bool = False,
    ) -> None:
        self._secrets = StoredSecrets(keyring, plaintext=plaintext_secrets)
        if type(schema) is not str or not 1 <= len(schema) <= 63 or "\x00" in schema:
            raise ValidationError("schema", schema, "must be a name of 1 to 63 characters")
        if (
            isinstance(connect_timeout, bool)
            or not isinstance(connect_timeout, int | float)
            or not connect_timeout > 0
        ):
            raise ValidationError(
                "connect_timeout", connect_timeout, "must be a positive number of seconds"
            )
        if not isinstance(lease, timedelta) or lease < timedelta(0):
            raise ValidationError("lease", lease, "must be a timedelta of zero or more")
        self.schema = schema
        self.lease = lease
        self._identity = uuid.uuid4().hex
        self._statements: dict[str, sql.Composed] = {}
        self._connect_timeout = connect_timeout
        self._pid = os.getpid()
        self._opening = threading.Lock()
        self._abandoned: list[ConnectionPool[Any]] = []  # a parent's pools, never touched
        if isinstance(conninfo, str):
            self._where = _describe(conninfo)
            self._conninfo = conninfo
            self._secret = _password(conninfo)
            self._pool_size = (min_size, max_size)
            self._pool: ConnectionPool[Any] | None = None
            self._owns_pool = True
            self._migrate_directly()
        elif isinstance(conninfo, ConnectionPool):
            self._where = f"pool {conninfo.name!r}"
            self._conninfo = ""
            self._secret = ""
            self._pool_size = (min_size, max_size)
            self._owns_pool = False
            self._pool = conninfo
            with self._transaction() as cursor:
                self._migrate(cursor)
        else:
            raise ValidationError(
                "conninfo", type(conninfo).__name__, "must be a connection string or a pool"
            )

    def __repr__(self) -> str:
        return f"PostgresRepository({self._where!r}, schema={self.schema!r})"

    # ------------------------------------------------------------------ connections

    def _scrubbed(self, error: BaseException) -> str:
        return redact_passwords(str(error), self._secret)

    def _migrate_directly(self) -> None:
        """Migrate over one direct connection: fails fast, and leaves no pool to fork."""
        try:
            with (
                psycopg.connect(
                    self._conninfo, connect_timeout=max(1, math.ceil(self._connect_timeout))
                ) as connection,
                connection.cursor() as cursor,
            ):
                self._migrate(cursor)
        except psycopg.Error as error:
            raise StorageError(
                f"cannot connect to {self._where}: {self._scrubbed(error)}"
            ) from None

    def _connections(self) -> ConnectionPool[Any]:
        """This process's pool, opened on first use (again in a child after ``fork()``)."""
        if self._pid != os.getpid():
            if not self._owns_pool:
                raise StorageError(
                    f"{self._where} was opened in another process: a connection pool cannot"
                    " cross fork(); give PostgresRepository a connection string instead"
                )
            if self._pool is not None:
                self._abandoned.append(self._pool)  # the parent's sockets: never close them
            self._pool = None
            self._pid = os.getpid()
            self._opening = threading.Lock()
        pool = self._pool
        if pool is None:
            with self._opening:
                pool = self._pool
                if pool is None:
                    pool = self._pool = self._open_pool()
        return pool

    def _open_pool(self) -> ConnectionPool[Any]:
        min_size, max_size = self._pool_size
        pool: ConnectionPool[Any] = ConnectionPool(
            self._conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=self._connect_timeout,
            open=False,
            check=ConnectionPool.check_connection,
            name=f"aliexpress-onboarding-{self._identity[:8]}",
        )
        try:
            pool.open(wait=True, timeout=self._connect_timeout)
        except (PoolTimeout, psycopg.Error) as error:
            pool.close()
            raise StorageError(
                f"cannot connect to {self._where}: {self._scrubbed(error)}"
            ) from None
        return pool

    def close(self) -> None:
        """Close the connection pool, if this repository opened it (in this process)."""
        if self._owns_pool and self._pool is not None and self._pid == os.getpid():
            self._pool.close()
            self._pool = None

    def __enter__(self) -> PostgresRepository:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _sql(self, template: LiteralString) -> sql.Composed:
        statement = self._statements.get(template)
        if statement is None:
            statement = sql.SQL(template).format(schema=sql.Identifier(self.schema))
            self._statements[template] = statement
        return statement

    @contextmanager
    def _transaction(
        self, conflict: tuple[str, int] | None = None
    ) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction on a pooled connection; driver errors become ours.

        Args:
            conflict: the aggregate id and expected version to report if the transaction
                loses a race (unique violation, serialization failure, deadlock).
        """
        try:
            with self._connections().connection() as connection, connection.cursor() as cursor:
                yield cursor
        except _CONFLICTS as error:
            if conflict is None:
                raise StorageError(
                    f"transaction failed on {self._where}: {self._scrubbed(error)}"
                ) from error
            raise ConcurrencyConflictError(conflict[0], conflict[1], None) from error
        except PoolTimeout as error:
            raise StorageError(f"no connection to {self._where}: {self._scrubbed(error)}") from None
        except psycopg.Error as error:
            raise StorageError(
                f"database error on {self._where}: {self._scrubbed(error)}"
            ) from None

    def _read(
        self, template: LiteralString, parameters: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[Any]:
        with self._transaction() as cursor:
            cursor.execute(self._sql(template), parameters)
            return cursor.fetchall()

    def _claim(
        self,
        cursor: psycopg.Cursor[Any],
        old: tuple[str, str] | None,
        new: BoundClaim | None,
        *,
        enforce: bool = True,
    ) -> None:
        """Move a record's bound claim from ``old`` (scope, member) to ``new`` in the write.

        A member's first claim in its scope adds one to the scope's count, an upsert that
        locks the scope's row until the transaction ends: a concurrent claim in that scope
        waits, then counts on from what this one committed. A count past the claim's limit
        raises `limit_reached`, and the transaction rolls back (nothing is written). Locks are
        taken member row first, count row second, always: claims never deadlock each other.
        """
        if old == (None if new is None else (new.scope, new.member)):
            return
        if old is not None:
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.bound_members SET holders = holders - 1"
                    " WHERE scope = %s AND member = %s RETURNING holders"
                ),
                old,
            )
            if _first(cursor) == 0:
                cursor.execute(
                    self._sql(
                        "DELETE FROM {schema}.bound_members WHERE scope = %s AND member = %s"
                    ),
                    old,
                )
                cursor.execute(
                    self._sql(
                        "UPDATE {schema}.bound_counts SET members = members - 1 WHERE scope = %s"
                    ),
                    (old[0],),
                )
        if new is not None:
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.bound_members AS m (scope, member, holders)"
                    " VALUES (%s, %s, 1) ON CONFLICT (scope, member)"
                    " DO UPDATE SET holders = m.holders + 1 RETURNING m.holders"
                ),
                (new.scope, new.member),
            )
            if _first(cursor) == 1:
                cursor.execute(
                    self._sql(
                        "INSERT INTO {schema}.bound_counts AS c (scope, members) VALUES (%s, 1)"
                        " ON CONFLICT (scope) DO UPDATE SET members = c.members + 1"
                        " RETURNING c.members, c.bound_limit"
                    ),
                    (new.scope,),
                )
                row = cursor.fetchone()
                members, recorded = (0, None) if row is None else row
                # The lower of the claim's limit and the one its account recorded last (the
                # row is locked: a verification lowering it waits, or was seen).
                limit = new.limit if recorded is None else min(new.limit, recorded)
                if enforce and members > limit:
                    raise limit_reached()

    def _insert_authorization(
        self, cursor: psycopg.Cursor[Any], authorization: StoreAuthorization, document: str
    ) -> bool:
        """Insert the record; ``False`` if one with its id exists already."""
        claim = authorization.bound_claim
        cursor.execute(
            self._sql(
                "INSERT INTO {schema}.authorizations (id, app_id, store_id, active, version,"
                " bound_scope, token_expires_at, refresh_expires_at, refreshable, alerted,"
                " token_holder, document)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING"
            ),
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
        return cursor.rowcount == 1

    def _split_release_1_apps(self, cursor: psycopg.Cursor[Any]) -> None:
        """Migration 4's data step: release 1's documents as today's.

        Each app's listed authorizations become records, and an account's store count set by
        its seller is dropped (a reviewer verifies it now).
        """
        cursor.execute(
            self._sql("SELECT id, document FROM {schema}.aggregates WHERE kind = %s"),
            (KIND_NAMES[DeveloperAccount],),
        )
        for row_id, document in cursor.fetchall():
            parsed = parse_stored_json(document, record=f"account:{row_id}")
            upgraded = upgrade_release_1_account(parsed)
            if upgraded != parsed:
                cursor.execute(
                    self._sql(
                        "UPDATE {schema}.aggregates SET document = %s WHERE kind = %s AND id = %s"
                    ),
                    (dump_document(upgraded), KIND_NAMES[DeveloperAccount], row_id),
                )
        cursor.execute(
            self._sql("SELECT id, document FROM {schema}.aggregates WHERE kind = %s"),
            (KIND_NAMES[App],),
        )
        for row_id, document in cursor.fetchall():
            parsed = parse_stored_json(document, record=f"app:{row_id}")
            app_document, authorizations = split_release_1_app(parsed)
            if app_document == parsed:
                continue
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.aggregates SET document = %s WHERE kind = %s AND id = %s"
                ),
                (dump_document(app_document), KIND_NAMES[App], row_id),
            )
            for authorization in authorizations:  # as release 1 stored them, even past a bound
                text = to_json(authorization, include_secrets=True)
                if not self._insert_authorization(cursor, authorization, text):
                    raise StorageError(  # a store listed twice: release 1 never wrote that
                        f"app {row_id!r} lists store {authorization.store_id!r} twice"
                    )
                self._claim(cursor, None, authorization.bound_claim, enforce=False)

    def _migrate(self, cursor: psycopg.Cursor[Any]) -> None:
        """Bring the schema up to date in the cursor's transaction."""
        # Serialise migrations of this schema across processes and hosts.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            (f"aliexpress_onboarding.migrate:{self.schema}",),
        )
        cursor.execute(self._sql("CREATE SCHEMA IF NOT EXISTS {schema}"))
        cursor.execute(
            self._sql(
                "CREATE TABLE IF NOT EXISTS {schema}.schema_version (version INTEGER PRIMARY KEY)"
            )
        )
        cursor.execute(self._sql("SELECT max(version) FROM {schema}.schema_version"))
        row = cursor.fetchone()
        current = (row[0] if row else None) or 0
        if current > SCHEMA_VERSION:
            raise StorageError(
                f"schema {self.schema!r} on {self._where} has schema version {current};"
                f" this library knows up to {SCHEMA_VERSION}: upgrade aliexpress-onboarding"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[version]:
                cursor.execute(self._sql(statement))
            if version == 4:
                self._split_release_1_apps(cursor)
            cursor.execute(
                self._sql("INSERT INTO {schema}.schema_version (version) VALUES (%s)"),
                (version,),
            )

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
            rows = self._read(
                "SELECT document FROM {schema}.authorizations WHERE id = %s", (aggregate_id,)
            )
        else:
            rows = self._read(
                "SELECT document FROM {schema}.aggregates WHERE kind = %s AND id = %s",
                (name, aggregate_id),
            )
        if not rows:
            raise NotFoundError(name, aggregate_id)
        return self._decode(kind, rows[0][0], aggregate_id)

    def add(self, aggregate: AggregateRoot, events: Sequence[Event]) -> None:
        """Insert a new aggregate, its unique keys and its events in one transaction.

        Raises:
            AlreadyExistsError: another aggregate holds one of its unique keys.
            ConcurrencyConflictError: the id exists already, or a concurrent write won.
        """
        try:
            self._add(aggregate, events)
        except ConcurrencyConflictError as conflict:
            if conflict.actual_version is not None or isinstance(conflict, AlreadyExistsError):
                raise
            raise self._explained(conflict, aggregate) from conflict

    def _add(self, aggregate: AggregateRoot, events: Sequence[Event]) -> None:
        name = KIND_NAMES[type(aggregate)]
        if isinstance(aggregate, StoreAuthorization):
            document = self._secrets.dumps(aggregate)
            with self._transaction((aggregate.id, 0)) as cursor:
                if not self._insert_authorization(cursor, aggregate, document):
                    raise ConcurrencyConflictError(aggregate.id, 0, None)
                self._claim(cursor, None, aggregate.bound_claim)
                self._finish(cursor, name, aggregate, events)
            return
        with self._transaction((aggregate.id, 0)) as cursor:
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.aggregates"
                    " (kind, id, version, account_id, status, document)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (kind, id) DO NOTHING"
                ),
                (
                    name,
                    aggregate.id,
                    aggregate.version,
                    getattr(aggregate, "account_id", None),
                    aggregate.status.value,
                    self._secrets.dumps(aggregate),
                ),
            )
            if cursor.rowcount != 1:
                raise ConcurrencyConflictError(
                    aggregate.id, 0, self._stored_version(cursor, name, aggregate.id)
                )
            self._finish(cursor, name, aggregate, events)

    def save(
        self, aggregate: AggregateRoot, events: Sequence[Event], *, expected_version: int
    ) -> None:
        """Update an aggregate if its stored version is ``expected_version``, atomically.

        Raises:
            AlreadyExistsError: another aggregate holds one of its unique keys.
            ConcurrencyConflictError: the stored version is not ``expected_version``.
            NotFoundError: nothing is stored under its id.
        """
        try:
            self._save(aggregate, events, expected_version)
        except ConcurrencyConflictError as conflict:
            if conflict.actual_version is not None or isinstance(conflict, AlreadyExistsError):
                raise
            raise self._explained(conflict, aggregate) from conflict

    def _save(
        self, aggregate: AggregateRoot, events: Sequence[Event], expected_version: int
    ) -> None:
        name = KIND_NAMES[type(aggregate)]
        if isinstance(aggregate, StoreAuthorization):
            self._save_authorization(aggregate, events, expected_version)
            return
        with self._transaction((aggregate.id, expected_version)) as cursor:
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.aggregates SET version = %s, status = %s, document = %s"
                    " WHERE kind = %s AND id = %s AND version = %s"
                ),
                (
                    aggregate.version,
                    aggregate.status.value,
                    self._secrets.dumps(aggregate),
                    name,
                    aggregate.id,
                    expected_version,
                ),
            )
            if cursor.rowcount != 1:
                actual = self._stored_version(cursor, name, aggregate.id)
                if actual is None:
                    raise NotFoundError(name, aggregate.id)
                raise ConcurrencyConflictError(aggregate.id, expected_version, actual)
            self._finish(cursor, name, aggregate, events)

    def _save_authorization(
        self, authorization: StoreAuthorization, events: Sequence[Event], expected_version: int
    ) -> None:
        document = self._secrets.dumps(authorization)
        claim = authorization.bound_claim
        with self._transaction((authorization.id, expected_version)) as cursor:
            # The old row, locked: its claim is the one this write gives back.
            cursor.execute(
                self._sql(
                    "SELECT version, bound_scope, store_id FROM {schema}.authorizations"
                    " WHERE id = %s FOR UPDATE"
                ),
                (authorization.id,),
            )
            row = cursor.fetchone()
            if row is None:
                raise NotFoundError(_AUTHORIZATION, authorization.id)
            if row[0] != expected_version:
                raise ConcurrencyConflictError(authorization.id, expected_version, row[0])
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.authorizations SET version = %s, active = %s,"
                    " bound_scope = %s, token_expires_at = %s, refresh_expires_at = %s,"
                    " refreshable = %s, alerted = %s, token_holder = %s,"
                    " refresh_lease_until = NULL, document = %s WHERE id = %s"
                ),
                (
                    authorization.version,
                    authorization.is_active,
                    None if claim is None else claim.scope,
                    *_token_columns(authorization),
                    document,
                    authorization.id,
                ),
            )
            self._claim(cursor, None if row[1] is None else (row[1], row[2]), claim)
            self._finish(cursor, _AUTHORIZATION, authorization, events)

    def _explained(
        self, conflict: ConcurrencyConflictError, aggregate: AggregateRoot
    ) -> ConcurrencyConflictError:
        """The conflict, or an `AlreadyExistsError` naming the key another aggregate holds.

        Asked after the failed transaction (PostgreSQL aborts it), so nothing is read on the
        happy path.
        """
        keys = sorted(aggregate.unique_keys())
        if not keys:
            return conflict
        rows = self._read(
            "SELECT key, id FROM {schema}.unique_keys WHERE key = ANY(%s)"
            " AND NOT (kind = %s AND id = %s) ORDER BY key LIMIT 1",
            (keys, KIND_NAMES[type(aggregate)], aggregate.id),
        )
        return AlreadyExistsError(aggregate.id, rows[0][0], rows[0][1]) if rows else conflict

    def _stored_version(self, cursor: psycopg.Cursor[Any], name: str, row_id: str) -> int | None:
        cursor.execute(
            self._sql("SELECT version FROM {schema}.aggregates WHERE kind = %s AND id = %s"),
            (name, row_id),
        )
        row = cursor.fetchone()
        return None if row is None else int(row[0])

    def _finish(
        self,
        cursor: psycopg.Cursor[Any],
        name: str,
        aggregate: AggregateRoot,
        events: Sequence[Event],
    ) -> None:
        if isinstance(aggregate, DeveloperAccount) and aggregate.verification is not None:
            # Its verified store count, as the limit of its Self stores, in its transaction.
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.bound_counts AS c (scope, members, bound_limit)"
                    " VALUES (%s, 0, %s)"
                    " ON CONFLICT (scope) DO UPDATE SET bound_limit = EXCLUDED.bound_limit"
                ),
                (self_stores_scope(aggregate.id), aggregate.verification.store_count),
            )
        cursor.execute(
            self._sql("DELETE FROM {schema}.unique_keys WHERE kind = %s AND id = %s"),
            (name, aggregate.id),
        )
        keys = [(key, name, aggregate.id) for key in sorted(aggregate.unique_keys())]
        rows = [(e.event_id, e.aggregate_id, to_json(e), e.aggregate_id) for e in events]
        try:
            if keys:
                cursor.executemany(
                    self._sql(
                        "INSERT INTO {schema}.unique_keys (key, kind, id) VALUES (%s, %s, %s)"
                    ),
                    keys,
                )
            if rows:  # a new event of a held aggregate waits behind its failed one
                for aggregate_id in sorted({e.aggregate_id for e in events}):
                    self._lock_outbox_of(cursor, aggregate_id)
                cursor.executemany(
                    self._sql(
                        "INSERT INTO {schema}.outbox (event_id, aggregate_id, document, held_until)"
                        " VALUES (%s, %s, %s, (SELECT 'infinity'::timestamptz"
                        " FROM {schema}.outbox WHERE aggregate_id = %s AND delivered_at IS NULL"
                        " AND held_until IS NOT NULL LIMIT 1))"
                    ),
                    rows,
                )
        except psycopg.errors.UniqueViolation as error:
            raise ConcurrencyConflictError(aggregate.id, aggregate.version - 1, None) from error

    def _lock_outbox_of(self, cursor: psycopg.Cursor[Any], aggregate_id: str) -> None:
        """Serialise, per aggregate, storing its events with holding or releasing them.

        Under READ COMMITTED an event stored while a failure holds (or a delivery releases)
        its aggregate could miss the change and be held forever behind an entry that is gone;
        this transaction-scoped lock orders the two.
        """
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            (f"aliexpress_onboarding.outbox:{self.schema}:{aggregate_id}",),
        )

    def authorization(self, app_id: str, store_id: str) -> StoreAuthorization | None:
        """The authorization of the app by the store (active or revoked), or ``None``."""
        authorization_of = authorization_id(app_id, store_id)
        rows = self._read(
            "SELECT document FROM {schema}.authorizations WHERE id = %s", (authorization_of,)
        )
        return self._decode(StoreAuthorization, rows[0][0], authorization_of) if rows else None

    def authorizations_of_app(
        self, app_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[StoreAuthorization]:
        """Up to ``limit`` active authorizations of the app after store ``after``: one range."""
        rows = self._read(
            "SELECT id, document FROM {schema}.authorizations"
            " WHERE app_id = %s AND active AND store_id > %s ORDER BY store_id LIMIT %s",
            (app_id, "" if after is None else after, max(limit, 0)),
        )
        return [self._decode(StoreAuthorization, document, row_id) for row_id, document in rows]

    def token_holders(self, app_id: str, seller_id: str) -> list[StoreAuthorization]:
        """The app's active authorizations holding the seller's tokens: an index look-up."""
        rows = self._read(
            "SELECT id, document FROM {schema}.authorizations"
            " WHERE app_id = %s AND token_holder = %s ORDER BY id",
            (app_id, seller_id),
        )
        return [self._decode(StoreAuthorization, document, row_id) for row_id, document in rows]

    def tokens_to_refresh(
        self, now: datetime, before: datetime, limit: int
    ) -> list[StoreAuthorization]:
        """Refreshable tokens expiring before ``before``, not leased, soonest first: one range."""
        rows = self._read(
            "SELECT id, document FROM {schema}.authorizations"
            " WHERE active AND refreshable AND token_expires_at < %(before)s"
            " AND refresh_expires_at > %(now)s"
            " AND (refresh_lease_until IS NULL OR refresh_lease_until <= %(now)s)"
            " ORDER BY token_expires_at, id LIMIT %(limit)s",
            {"now": now, "before": before, "limit": max(limit, 0)},
        )
        return [self._decode(StoreAuthorization, document, row_id) for row_id, document in rows]

    def tokens_to_alert(
        self, now: datetime, before: datetime, limit: int
    ) -> list[StoreAuthorization]:
        """Unrefreshable, unalerted tokens expiring from ``now`` to ``before``: one range."""
        rows = self._read(
            "SELECT id, document FROM {schema}.authorizations"
            " WHERE active AND NOT alerted AND token_expires_at >= %(now)s"
            " AND token_expires_at < %(before)s"
            " AND (NOT refreshable OR refresh_expires_at <= %(now)s)"
            " ORDER BY token_expires_at, id LIMIT %(limit)s",
            {"now": now, "before": before, "limit": max(limit, 0)},
        )
        return [self._decode(StoreAuthorization, document, row_id) for row_id, document in rows]

    def lease_refresh(
        self, authorization_id: str, version: int, now: datetime, until: datetime
    ) -> bool:
        """Lease the authorization at ``version`` until ``until``, if no live lease is held.

        One conditional UPDATE: of two processes, one gets the lease.
        """
        with self._transaction() as cursor:
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.authorizations SET refresh_lease_until = %(until)s"
                    " WHERE id = %(id)s AND version = %(version)s"
                    " AND (refresh_lease_until IS NULL OR refresh_lease_until <= %(now)s)"
                ),
                {"until": until, "id": authorization_id, "version": version, "now": now},
            )
            return cursor.rowcount == 1

    def purge_authorization_requests(self, expired_before: datetime) -> int:
        """Delete the requests that expired before ``expired_before``: one index range."""
        with self._transaction() as cursor:
            cursor.execute(
                self._sql("DELETE FROM {schema}.authorization_requests WHERE expires_at < %s"),
                (expired_before,),
            )
            return cursor.rowcount

    def add_authorization_request(self, request: AuthorizationRequest) -> None:
        """Store a pending authorization request (by its state's digest)."""
        with self._transaction((request.state_digest, 0)) as cursor:
            cursor.execute(
                self._sql(
                    "INSERT INTO {schema}.authorization_requests"
                    " (state_digest, app_id, expires_at, used_at, document)"
                    " VALUES (%s, %s, %s, %s, %s)"
                ),
                (
                    request.state_digest,
                    request.app_id,
                    request.expires_at,
                    request.used_at,
                    to_json(request),
                ),
            )

    def authorization_request(self, state_digest: str) -> AuthorizationRequest | None:
        """The request whose state has this digest, used or not, or ``None``."""
        rows = self._read(
            "SELECT document, used_at FROM {schema}.authorization_requests WHERE state_digest = %s",
            (state_digest,),
        )
        if not rows:
            return None
        request: AuthorizationRequest = from_stored_json(
            rows[0][0], AuthorizationRequest, record=f"authorization_request:{state_digest}"
        )
        used = _utc(rows[0][1])
        return request if used is None else attrs.evolve(request, used_at=used)

    def use_authorization_request(self, state_digest: str, used_at: datetime) -> bool:
        """Mark the request used, if nobody did: ``False`` if it was used already (or unknown).

        One conditional UPDATE: of two processes completing the same state, one gets ``True``.
        """
        with self._transaction() as cursor:
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.authorization_requests SET used_at = %s"
                    " WHERE state_digest = %s AND used_at IS NULL"
                ),
                (used_at, state_digest),
            )
            return cursor.rowcount == 1

    def bound_usage(self, scope: str, member: str) -> BoundUsage:
        """How many distinct members ``scope`` holds, and whether ``member`` is one."""
        ((members, holds),) = self._read(
            "SELECT (SELECT members FROM {schema}.bound_counts WHERE scope = %s),"
            " EXISTS (SELECT 1 FROM {schema}.bound_members WHERE scope = %s AND member = %s)",
            (scope, scope, member),
        )
        return BoundUsage(members or 0, holds_member=bool(holds))

    def list_by_account(self, kind: type[A], account_id: str) -> list[A]:
        """The applications or apps of one account, in id order."""
        rows = self._read(
            "SELECT id, document FROM {schema}.aggregates"
            " WHERE kind = %s AND account_id = %s ORDER BY id",
            (KIND_NAMES[kind], account_id),
        )
        return [self._decode(kind, document, row_id) for row_id, document in rows]

    def account_of_seller(self, seller_id: str) -> DeveloperAccount | None:
        """The account the seller owns (the holder of its unique key), or ``None``."""
        rows = self._read(
            "SELECT a.id, a.document FROM {schema}.unique_keys AS k"
            " JOIN {schema}.aggregates AS a ON a.kind = k.kind AND a.id = k.id"
            " WHERE k.key = %s AND k.kind = %s",
            (account_of_seller_key(seller_id), KIND_NAMES[DeveloperAccount]),
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
            "SELECT id, document FROM {schema}.aggregates"
            " WHERE kind = %s AND status = ANY(%s) ORDER BY id",
            (KIND_NAMES[DeveloperApplication], [status.value for status in statuses]),
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
        with self._transaction() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT id, document FROM {schema}.aggregates WHERE kind = %s FOR UPDATE"
                ),
                (KIND_NAMES[App],),
            )
            for row_id, document in cursor.fetchall():
                resealed = self._secrets.resealed(document)
                if resealed is not None:
                    cursor.execute(
                        self._sql(
                            "UPDATE {schema}.aggregates SET document = %s"
                            " WHERE kind = %s AND id = %s"
                        ),
                        (resealed, KIND_NAMES[App], row_id),
                    )
                    rewritten += 1
            cursor.execute(
                self._sql(
                    "SELECT id, document FROM {schema}.authorizations"
                    " WHERE active AND document LIKE %s FOR UPDATE"
                ),
                ('%"access_token":"%',),
            )
            for row_id, document in cursor.fetchall():
                resealed = self._secrets.resealed(document)
                if resealed is not None:
                    cursor.execute(
                        self._sql("UPDATE {schema}.authorizations SET document = %s WHERE id = %s"),
                        (resealed, row_id),
                    )
                    rewritten += 1
        return rewritten

    # ------------------------------------------------------------------ outbox

    @property
    def _claimant(self) -> str:
        """Who claims outbox entries: this repository object, in this thread."""
        return f"{self._identity}:{threading.get_ident()}"

    def pending_events(self, limit: int = 1000) -> list[OutboxEntry]:
        """Up to ``limit`` undelivered events, oldest first, due or not; nothing is claimed."""
        return self._entries(
            self._read(
                "SELECT sequence, document, attempts, next_attempt_at, last_error"
                " FROM {schema}.outbox WHERE delivered_at IS NULL ORDER BY sequence LIMIT %s",
                (max(limit, 0),),
            )
        )

    def due_events(self, now: datetime, limit: int) -> list[OutboxEntry]:
        """Claim and return up to ``limit`` events due at ``now``, oldest first.

        The entries are leased to the caller (this repository, in this thread) for
        ``lease``: other dispatchers skip them, and later events of the same aggregates,
        until they are marked delivered or failed, released, or the lease ends. The caller's
        next call releases what it still holds from the previous one and claims afresh.
        """
        with self._transaction() as cursor:
            # Claims are short: one claimer at a time per schema sees every committed lease.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                (f"aliexpress_onboarding.outbox:{self.schema}",),
            )
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.outbox SET claimed_by = NULL, claimed_until = NULL"
                    " WHERE claimed_by = %s"
                ),
                (self._claimant,),
            )
            cursor.execute(
                self._sql(_CLAIM),
                {
                    "limit": max(limit, 0),
                    "now": now.astimezone(UTC),
                    "claimant": self._claimant,
                    "lease": self.lease,
                },
            )
            rows = sorted(cursor.fetchall())
        return self._entries(rows)

    def release(self, sequences: Sequence[int]) -> None:
        """End this dispatcher's lease on entries it did not attempt: others may take them."""
        with self._transaction() as cursor:
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.outbox SET claimed_by = NULL, claimed_until = NULL"
                    " WHERE sequence = ANY(%s) AND claimed_by = %s"
                ),
                (list(sequences), self._claimant),
            )

    def _entries(self, rows: list[Any]) -> list[OutboxEntry]:
        return [
            OutboxEntry(
                sequence,
                self._decode_event(document, sequence),
                attempts,
                _utc(next_at),
                last_error,
            )
            for sequence, document, attempts, next_at, last_error in rows
        ]

    def _decode_event(self, document: str, sequence: int) -> Event:
        event: Event = from_stored_json(document, record=f"outbox:{sequence}")
        return event

    def mark_delivered(self, sequence: int) -> None:
        """Mark an outbox entry delivered (kept, with its time, for audit) and end its lease.

        If it had failed before, the entries held behind it are released with it.
        """
        with self._transaction() as cursor:
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.outbox SET delivered_at = statement_timestamp(),"
                    " claimed_by = NULL, claimed_until = NULL WHERE sequence = %s"
                    " RETURNING aggregate_id, attempts"
                ),
                (sequence,),
            )
            row = cursor.fetchone()
            if row is not None and row[1] > 0:
                self._lock_outbox_of(cursor, row[0])
                cursor.execute(
                    self._sql(
                        "UPDATE {schema}.outbox SET held_until = NULL WHERE aggregate_id = %s"
                        " AND delivered_at IS NULL AND held_until = 'infinity'"
                    ),
                    (row[0],),
                )

    def mark_failed(self, sequence: int, *, next_attempt_at: datetime, error: str) -> None:
        """Count a failed delivery, end its lease, and hold its aggregate.

        The entry is held until ``next_attempt_at``, the later entries of its aggregate behind
        it until it is delivered: only the first failure writes them, so a failure that
        repeats costs the same whatever the aggregate's backlog.
        """
        until = next_attempt_at.astimezone(UTC)
        with self._transaction() as cursor:
            cursor.execute(
                self._sql(
                    "UPDATE {schema}.outbox SET attempts = attempts + 1, next_attempt_at = %s,"
                    " held_until = %s, last_error = %s, claimed_by = NULL, claimed_until = NULL"
                    " WHERE sequence = %s RETURNING aggregate_id"
                ),
                (until, until, error[:1000], sequence),
            )
            row = cursor.fetchone()
            if row is not None:
                self._lock_outbox_of(cursor, row[0])
                cursor.execute(
                    self._sql(
                        "UPDATE {schema}.outbox SET held_until = 'infinity' WHERE aggregate_id = %s"
                        " AND delivered_at IS NULL AND held_until IS NULL AND sequence > %s"
                    ),
                    (row[0], sequence),
                )

    def events(self, aggregate_id: str | None = None) -> list[Event]:
        """Every stored event (delivered or not), oldest first: the audit timeline."""
        if aggregate_id is None:
            rows = self._read("SELECT sequence, document FROM {schema}.outbox ORDER BY sequence")
        else:
            rows = self._read(
                "SELECT sequence, document FROM {schema}.outbox"
                " WHERE aggregate_id = %s ORDER BY sequence",
                (aggregate_id,),
            )
        return [self._decode_event(document, sequence) for sequence, document in rows]

    def delivered_events(self, aggregate_id: str | None = None) -> list[Event]:
        """Events already delivered, oldest first: the audit timeline (of one aggregate)."""
        if aggregate_id is None:
            rows = self._read(
                "SELECT sequence, document FROM {schema}.outbox"
                " WHERE delivered_at IS NOT NULL ORDER BY sequence"
            )
        else:
            rows = self._read(
                "SELECT sequence, document FROM {schema}.outbox"
                " WHERE delivered_at IS NOT NULL AND aggregate_id = %s ORDER BY sequence",
                (aggregate_id,),
            )
        return [self._decode_event(document, sequence) for sequence, document in rows]
