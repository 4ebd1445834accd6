"""In-memory adapters: the defaults for tests, notebooks and single-process use."""

from __future__ import annotations

import bisect
import heapq
import itertools
import logging
import secrets
import string
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, TypeVar, cast

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
from ..domain.values import AppKey, AppSecret
from ..errors import AlreadyExistsError, ConcurrencyConflictError, NotFoundError
from ..ports import (
    KIND_NAMES,
    AggregateRoot,
    FailedDelivery,
    Notifier,
    OutboxEntry,
    account_of_seller_key,
)

__all__ = [
    "FanOutNotifier",
    "InMemoryNotifier",
    "InMemoryRepository",
    "LoggingNotifier",
    "SecretsCredentialIssuer",
    "SystemClock",
]

A = TypeVar("A", DeveloperAccount, DeveloperApplication, App, StoreAuthorization)


def _expiry(authorization: StoreAuthorization) -> tuple[datetime, str]:
    return (authorization.token_expires_at or datetime.max.replace(tzinfo=UTC), authorization.id)


class InMemoryRepository:
    """A thread-safe, in-process `Repository` that behaves like a database would.

    Versions are checked under one lock; unique keys (`unique_keys`) are enforced; the outbox is
    written with the state change. Stored aggregates are immutable values, so a caller holding
    one cannot change what is stored.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], AggregateRoot] = {}
        self._keys: dict[str, tuple[str, str]] = {}
        self._keys_of: dict[tuple[str, str], frozenset[str]] = {}
        self._outbox: dict[int, OutboxEntry] = {}  # every undelivered entry, oldest first
        # The undelivered entries of aggregates not held back, oldest first: what is due now.
        self._ready: dict[int, OutboxEntry] = {}
        self._undelivered_of: dict[str, list[int]] = {}  # per aggregate, oldest first
        self._held_until: dict[str, datetime] = {}  # aggregates whose oldest entry failed
        # Aggregates whose hold ended: only their oldest entry is ready until it is delivered.
        self._retrying: set[str] = set()
        self._wakeups: list[tuple[datetime, str]] = []  # heap of held aggregates' retry times
        self._events: list[Event] = []
        self._sequence = 0
        # Active authorizations per app by store id, and their store ids in order (made when
        # a page is read, kept until the app's authorizations change).
        self._active_of_app: dict[str, dict[str, StoreAuthorization]] = {}
        self._ordered_of_app: dict[str, list[str]] = {}
        self._bounds: dict[str, dict[str, int]] = {}  # scope -> member -> claiming records
        self._bound_limits: dict[str, int] = {}  # scope -> the account's verified count
        self._requests: dict[str, AuthorizationRequest] = {}
        self._leases: dict[str, tuple[int, datetime]] = {}  # authorization -> (version, until)

    def get(self, kind: type[A], aggregate_id: str) -> A:
        """The stored aggregate; `NotFoundError` if there is none."""
        name = KIND_NAMES[kind]
        with self._lock:
            found = self._rows.get((name, aggregate_id))
        if found is None:
            raise NotFoundError(name, aggregate_id)
        return found  # type: ignore[return-value]

    def add(self, aggregate: AggregateRoot, events: Sequence[Event]) -> None:
        """Store a new aggregate and its events atomically."""
        with self._lock:
            self._store(aggregate, events, None)

    def save(
        self, aggregate: AggregateRoot, events: Sequence[Event], *, expected_version: int
    ) -> None:
        """Store a changed aggregate and its events, if the stored version is the expected one."""
        with self._lock:
            self._store(aggregate, events, expected_version)

    def write_and_lease(
        self,
        aggregate: AggregateRoot,
        events: Sequence[Event],
        *,
        expected_version: int | None,
        now: datetime,
        limit: int,
    ) -> list[OutboxEntry]:
        """`add` (``expected_version=None``) or `save`, then `due_events`, under one lock."""
        with self._lock:
            self._store(aggregate, events, expected_version)
            return self._due(now, limit)

    def _store(
        self, aggregate: AggregateRoot, events: Sequence[Event], expected_version: int | None
    ) -> None:
        row = (KIND_NAMES[type(aggregate)], aggregate.id)
        stored = self._rows.get(row)
        if expected_version is None:
            if stored is not None:
                raise ConcurrencyConflictError(aggregate.id, 0, stored.version)
        elif stored is None:
            raise NotFoundError(row[0], aggregate.id)
        elif stored.version != expected_version:
            raise ConcurrencyConflictError(aggregate.id, expected_version, stored.version)
        self._write(row, aggregate, events)

    def _write(
        self, row: tuple[str, str], aggregate: AggregateRoot, events: Sequence[Event]
    ) -> None:
        keys = aggregate.unique_keys()
        for key in keys:
            holder = self._keys.get(key)
            if holder is not None and holder != row:
                raise AlreadyExistsError(aggregate.id, key, holder[1])
        if isinstance(aggregate, StoreAuthorization):
            stored = cast(StoreAuthorization | None, self._rows.get(row))
            self._claim(None if stored is None else stored.bound_claim, aggregate.bound_claim)
            self._leases.pop(aggregate.id, None)  # a write ends a refresh's lease
            active = self._active_of_app.setdefault(aggregate.app_id, {})
            if aggregate.is_active:
                active[aggregate.store_id] = aggregate
            else:
                active.pop(aggregate.store_id, None)
            if stored is None or stored.is_active is not aggregate.is_active:
                self._ordered_of_app.pop(aggregate.app_id, None)
        if isinstance(aggregate, DeveloperAccount) and aggregate.verification is not None:
            scope = self_stores_scope(aggregate.id)
            self._bound_limits[scope] = aggregate.verification.store_count
        for key in self._keys_of.get(row, frozenset()) - keys:
            del self._keys[key]
        for key in keys:
            self._keys[key] = row
        self._keys_of[row] = keys
        self._rows[row] = aggregate
        self._events.extend(events)
        for event in events:
            self._sequence += 1
            entry = OutboxEntry(self._sequence, event)
            self._outbox[self._sequence] = entry
            self._undelivered_of.setdefault(event.aggregate_id, []).append(self._sequence)
            if event.aggregate_id not in self._held_until and (
                event.aggregate_id not in self._retrying
            ):
                self._ready[self._sequence] = entry

    def _claim(self, old: BoundClaim | None, new: BoundClaim | None) -> None:
        """Move a record's bound claim from ``old`` to ``new``; refuse one past its limit."""
        if old == new:
            return
        if new is not None:
            members = self._bounds.get(new.scope, {})
            recorded = self._bound_limits.get(new.scope)  # the account's, written with it
            limit = new.limit if recorded is None else min(new.limit, recorded)
            if new.member not in members and len(members) >= limit:
                raise limit_reached()
        if old is not None:
            members = self._bounds[old.scope]
            members[old.member] -= 1
            if not members[old.member]:
                del members[old.member]
        if new is not None:
            members = self._bounds.setdefault(new.scope, {})
            members[new.member] = members.get(new.member, 0) + 1

    def authorization(self, app_id: str, store_id: str) -> StoreAuthorization | None:
        """The authorization of the app by the store (active or revoked), or ``None``."""
        with self._lock:
            found = self._rows.get(
                (KIND_NAMES[StoreAuthorization], authorization_id(app_id, store_id))
            )
        return found if isinstance(found, StoreAuthorization) else None

    def authorizations_of_app(
        self, app_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[StoreAuthorization]:
        """Up to ``limit`` active authorizations of the app after store ``after``, in order."""
        with self._lock:
            active = self._active_of_app.get(app_id, {})
            ordered = self._ordered_of_app.get(app_id)
            if ordered is None:
                ordered = self._ordered_of_app[app_id] = sorted(active)
            start = 0 if after is None else bisect.bisect_right(ordered, after)
            return [active[store_id] for store_id in ordered[start : start + limit]]

    def _active_authorizations(self) -> list[StoreAuthorization]:
        return [a for active in self._active_of_app.values() for a in active.values()]

    def token_holders(self, app_id: str, seller_id: str) -> list[StoreAuthorization]:
        """The app's active authorizations holding the seller's tokens (a scan of the app's)."""
        with self._lock:
            active = self._active_of_app.get(app_id, {}).values()
            found = [a for a in active if a.token_holder == seller_id]
        return sorted(found, key=lambda a: a.id)

    def tokens_to_refresh(
        self, now: datetime, before: datetime, limit: int
    ) -> list[StoreAuthorization]:
        """Refreshable tokens expiring before ``before``, not leased, soonest first (a scan)."""
        with self._lock:
            found = [
                a
                for a in self._active_authorizations()
                if a.token_expires_at is not None
                and a.token_expires_at < before
                and a.refreshable_at(now)
                and self._leases.get(a.id, (0, now))[1] <= now
            ]
        return sorted(found, key=_expiry)[:limit]

    def tokens_to_alert(
        self, now: datetime, before: datetime, limit: int
    ) -> list[StoreAuthorization]:
        """Unrefreshable, unalerted tokens expiring from ``now`` to ``before`` (a scan)."""
        with self._lock:
            found = [
                a
                for a in self._active_authorizations()
                if a.token_expires_at is not None
                and now <= a.token_expires_at < before
                and a.expiry_alerted_at is None
                and not a.refreshable_at(now)
            ]
        return sorted(found, key=_expiry)[:limit]

    def lease_refresh(
        self, authorization_id: str, version: int, now: datetime, until: datetime
    ) -> bool:
        """Lease the authorization at ``version`` until ``until``, if nobody holds it now."""
        with self._lock:
            stored = self._rows.get((KIND_NAMES[StoreAuthorization], authorization_id))
            if stored is None or stored.version != version:
                return False
            held_version, held_until = self._leases.get(authorization_id, (0, now))
            if held_version == version and held_until > now:
                return False
            self._leases[authorization_id] = (version, until)
            return True

    def purge_authorization_requests(self, expired_before: datetime) -> int:
        """Forget the requests that expired before ``expired_before``."""
        with self._lock:
            expired = [d for d, r in self._requests.items() if r.expires_at < expired_before]
            for digest in expired:
                del self._requests[digest]
        return len(expired)

    def add_authorization_request(self, request: AuthorizationRequest) -> None:
        """Keep a pending authorization request by its state's digest."""
        with self._lock:
            if request.state_digest in self._requests:
                raise ConcurrencyConflictError(request.state_digest, 0, None)
            self._requests[request.state_digest] = request

    def authorization_request(self, state_digest: str) -> AuthorizationRequest | None:
        """The request whose state has this digest, or ``None``."""
        with self._lock:
            return self._requests.get(state_digest)

    def use_authorization_request(self, state_digest: str, used_at: datetime) -> bool:
        """Mark the request used unless it is already (or unknown); under the lock."""
        with self._lock:
            request = self._requests.get(state_digest)
            if request is None or request.used_at is not None:
                return False
            self._requests[state_digest] = attrs.evolve(request, used_at=used_at)
            return True

    def bound_usage(self, scope: str, member: str) -> BoundUsage:
        """How many distinct members ``scope`` holds, and whether ``member`` is one."""
        with self._lock:
            members = self._bounds.get(scope, {})
            return BoundUsage(len(members), holds_member=member in members)

    def list_by_account(self, kind: type[A], account_id: str) -> list[A]:
        """The applications or apps of one account, in id order."""
        name = KIND_NAMES[kind]
        with self._lock:
            found = [
                a
                for (k, _), a in self._rows.items()
                if k == name and getattr(a, "account_id", None) == account_id
            ]
        return cast(list[A], sorted(found, key=lambda a: a.id))

    def account_of_seller(self, seller_id: str) -> DeveloperAccount | None:
        """The account the seller owns (the holder of its unique key), or ``None``."""
        with self._lock:
            row = self._keys.get(account_of_seller_key(seller_id))
            found = None if row is None else self._rows[row]
        return found if isinstance(found, DeveloperAccount) else None

    def open_applications(self) -> list[DeveloperApplication]:
        """Every application still under review, in id order."""
        return self._applications_in({ApplicationStatus.UNDER_REVIEW})

    def undecided_applications(self) -> list[DeveloperApplication]:
        """Every application under review or escalated, in id order."""
        return self._applications_in({ApplicationStatus.UNDER_REVIEW, ApplicationStatus.ESCALATED})

    def _applications_in(self, statuses: set[ApplicationStatus]) -> list[DeveloperApplication]:
        with self._lock:
            found = [
                a
                for a in self._rows.values()
                if isinstance(a, DeveloperApplication) and a.status in statuses
            ]
        return sorted(found, key=lambda a: a.id)

    def events(self, aggregate_id: str | None = None) -> list[Event]:
        """Every stored event, oldest first (of one aggregate, when given)."""
        with self._lock:
            return [e for e in self._events if aggregate_id in (None, e.aggregate_id)]

    def pending_events(self, limit: int = 1000) -> list[OutboxEntry]:
        """Up to ``limit`` undelivered events, oldest first, due or not."""
        with self._lock:
            return list(itertools.islice(self._outbox.values(), limit))

    def due_events(self, now: datetime, limit: int) -> list[OutboxEntry]:
        """Up to ``limit`` events due at ``now``, oldest first; held aggregates wait.

        An aggregate whose hold has ended is tried with its oldest entry alone; its others
        follow once that one is delivered. Costs O(limit), plus O(log n) per held aggregate
        whose retry time has come.
        """
        with self._lock:
            return self._due(now, limit)

    def _due(self, now: datetime, limit: int) -> list[OutboxEntry]:
        released = False
        while self._wakeups and self._wakeups[0][0] <= now:
            until, aggregate_id = heapq.heappop(self._wakeups)
            if self._held_until.get(aggregate_id) != until:
                continue  # held again later, or delivered since: a stale wake-up
            del self._held_until[aggregate_id]
            undelivered = self._undelivered_of.get(aggregate_id)
            if undelivered:  # its oldest entry alone is tried: a backlog fills no batch
                self._retrying.add(aggregate_id)
                self._ready[undelivered[0]] = self._outbox[undelivered[0]]
                released = True
        if released:
            self._ready = dict(sorted(self._ready.items()))
        return list(itertools.islice(self._ready.values(), limit))

    def release(self, sequences: Sequence[int]) -> None:
        """Nothing to do: one process's dispatches take turns, so nothing is leased."""

    def mark_delivered(self, sequence: int) -> None:
        """Remove a delivered entry from the outbox."""
        with self._lock:
            self._delivered(sequence)

    def mark_failed(self, sequence: int, *, next_attempt_at: datetime, error: str) -> None:
        """Count a failed delivery; hold the entry's aggregate until ``next_attempt_at``."""
        with self._lock:
            self._failed(sequence, next_attempt_at, error)

    def settle(
        self,
        delivered: Sequence[int],
        failed: Sequence[FailedDelivery],
        released: Sequence[int],
    ) -> None:
        """`mark_delivered` each of ``delivered``, then `mark_failed` each of ``failed``."""
        with self._lock:
            for sequence in delivered:
                self._delivered(sequence)
            for failure in failed:
                self._failed(failure.sequence, failure.next_attempt_at, failure.error)

    def _delivered(self, sequence: int) -> None:
        entry = self._outbox.pop(sequence, None)
        if entry is None:
            return
        self._ready.pop(sequence, None)
        aggregate_id = entry.event.aggregate_id
        undelivered = self._undelivered_of[aggregate_id]
        undelivered.remove(sequence)
        if aggregate_id in self._retrying:  # the retried entry got through: the rest follow
            self._retrying.discard(aggregate_id)
            for later in undelivered:
                self._ready[later] = self._outbox[later]
            self._ready = dict(sorted(self._ready.items()))
        if not undelivered:
            del self._undelivered_of[aggregate_id]
            self._held_until.pop(aggregate_id, None)

    def _failed(self, sequence: int, next_attempt_at: datetime, error: str) -> None:
        entry = self._outbox.get(sequence)
        if entry is None:
            return
        self._outbox[sequence] = OutboxEntry(
            sequence, entry.event, entry.attempts + 1, next_attempt_at, error[:1000]
        )
        aggregate_id = entry.event.aggregate_id
        if aggregate_id in self._retrying:  # only its failed entry was ready
            self._ready.pop(sequence, None)
            self._retrying.discard(aggregate_id)
        else:  # the first failure: its whole backlog leaves the ready set, once
            for held in self._undelivered_of[aggregate_id]:
                self._ready.pop(held, None)
        self._held_until[aggregate_id] = next_attempt_at
        heapq.heappush(self._wakeups, (next_attempt_at, aggregate_id))


class FanOutNotifier:
    """A `Notifier` that tells several notifiers, in order.

    If one raises, the event stays pending and all of them are told again later: notifiers
    must tolerate repeats (delivery is at-least-once anyway). It is `in_process` when all of
    its notifiers are.
    """

    def __init__(self, *notifiers: Notifier) -> None:
        self.notifiers = notifiers
        self.in_process = all(getattr(n, "in_process", False) is True for n in notifiers)

    def notify(self, event: Event) -> None:
        """Tell each notifier about ``event``."""
        for notifier in self.notifiers:
            notifier.notify(event)


class InMemoryNotifier:
    """A `Notifier` that records what it was told, for tests and notebooks."""

    in_process: Final = True  # never waits on the outside: delivered in the command's thread

    def __init__(self) -> None:
        self.events: list[Event] = []

    def notify(self, event: Event) -> None:
        """Record ``event``."""
        self.events.append(event)


class LoggingNotifier:
    """A `Notifier` that logs each event at INFO (type, aggregate, version; never secrets)."""

    in_process: Final = True  # logging handlers are the embedding program's own

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("aliexpress_onboarding.events")

    def notify(self, event: Event) -> None:
        """Log ``event``."""
        self.logger.info(
            "%s %s v%d by %s", event.type, event.aggregate_id, event.version, event.actor
        )


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


_ALPHANUMERIC = string.ascii_letters + string.digits


class SecretsCredentialIssuer:
    """Ids and credentials from the `secrets` module.

    appKeys are 8 random digits (the console's numeric style); appSecrets are 32 random
    letters and digits (~190 bits); ids are ``<prefix>-<22 url-safe characters>``.
    """

    def new_id(self, prefix: str) -> str:
        """A fresh random id starting with ``prefix``."""
        return f"{prefix}-{secrets.token_urlsafe(16)}"

    def new_app_key(self) -> AppKey:
        """Eight random digits, not starting with 0."""
        return AppKey(str(secrets.randbelow(90_000_000) + 10_000_000))

    def new_app_secret(self) -> AppSecret:
        """Thirty-two random ASCII letters and digits."""
        return AppSecret("".join(secrets.choice(_ALPHANUMERIC) for _ in range(32)))

    def new_ticket_id(self) -> str:
        """A fresh random ticket id."""
        return self.new_id("ticket")
