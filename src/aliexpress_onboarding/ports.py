"""The ports: what `OnboardingService` needs from the world, as typing Protocols.

Adapters implement them: `aliexpress_onboarding.adapters.memory` has the in-memory defaults,
and `aliexpress_onboarding.testing` has the contract test-suites an adapter's tests subclass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

import attrs

from .domain.account import DeveloperAccount
from .domain.app import App
from .domain.application import DeveloperApplication
from .domain.authorization import BoundUsage, StoreAuthorization
from .domain.events import Event
from .domain.oauth import AuthorizationRequest
from .domain.values import AppKey, AppSecret
from .platform import AccessToken, RefreshToken, TokenGrant

__all__ = [
    "AggregateRoot",
    "KIND_NAMES",
    "Clock",
    "CredentialIssuer",
    "FailedDelivery",
    "LeasingRepository",
    "Notifier",
    "OutboxEntry",
    "PlatformClient",
    "Repository",
    "account_of_seller_key",
]

AggregateRoot = DeveloperAccount | DeveloperApplication | App | StoreAuthorization
"""Every aggregate a repository stores."""

A = TypeVar("A", DeveloperAccount, DeveloperApplication, App, StoreAuthorization)

KIND_NAMES: Final[dict[type[AggregateRoot], str]] = {
    DeveloperAccount: "account",
    DeveloperApplication: "application",
    App: "app",
    StoreAuthorization: "authorization",
}
"""The name each aggregate kind is stored and reported under (``NotFoundError.kind``)."""


def account_of_seller_key(seller_id: str) -> str:
    """The unique key the developer account of ``seller_id`` holds (see `Repository`).

    An adapter that keeps `unique_keys` finds the account of a seller by this key.
    """
    return f"account-of-seller:{seller_id}"


@attrs.frozen
class OutboxEntry:
    """An event waiting in the outbox, with its delivery bookkeeping.

    Attributes:
        sequence: the outbox position; delivery follows it.
        event: the event to deliver.
        attempts: failed deliveries so far.
        next_attempt_at: not before this time (``None``: at once).
        last_error: the last failure's message, for operators.
    """

    sequence: int
    event: Event
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None


@runtime_checkable
class Repository(Protocol):
    """Stores aggregates with optimistic concurrency, and an outbox of their events.

    The contract (``aliexpress_onboarding.testing.RepositoryContract`` checks it):

    - `add` stores a new aggregate (version 1) and its events in one atomic step;
      an existing id is a `ConcurrencyConflictError`.
    - `save` stores a changed aggregate only if the stored version is still
      ``expected_version``, together with its events, atomically; else
      `ConcurrencyConflictError` and nothing is written.
    - Each aggregate's `unique_keys` are unique across the store: a second aggregate claiming
      one is a `ConcurrencyConflictError` (this is how "one open application per type" and
      "unique app names" hold across processes).
    - `get` returns the stored aggregate or raises `NotFoundError`; returned values are
      immutable, so callers cannot change what is stored.
    - `account_of_seller` finds a seller's account by its unique key, `undecided_applications`
      and `open_applications` by status: look-ups, never scans of the whole store.
    - A `StoreAuthorization` is a record of its own, found by its app and store
      (`authorization`) and paged by app (`authorizations_of_app`), at a cost that does not
      grow with the app's other authorizations. Its `~StoreAuthorization.bound_claim` is
      enforced atomically with the write: a claim that adds a member to a scope already
      holding ``limit`` members or more is refused with the error `limit_reached` builds,
      and nothing is written; `bound_usage` tells what a scope holds.
    - The outbox hands out pending events in the order they were stored; `due_events` only
      those due, holding back the later events of an aggregate whose delivery failed.
    """

    def get(self, kind: type[A], aggregate_id: str) -> A:
        """The stored aggregate of ``kind`` with ``aggregate_id``; `NotFoundError` if none."""
        ...

    def add(self, aggregate: AggregateRoot, events: Sequence[Event]) -> None:
        """Store a new aggregate and its events atomically."""
        ...

    def save(
        self, aggregate: AggregateRoot, events: Sequence[Event], *, expected_version: int
    ) -> None:
        """Store a changed aggregate and its events atomically, if nobody changed it since."""
        ...

    def list_by_account(self, kind: type[A], account_id: str) -> list[A]:
        """The applications or apps of one account, in id order."""
        ...

    def account_of_seller(self, seller_id: str) -> DeveloperAccount | None:
        """The developer account the seller ``seller_id`` owns, or ``None`` if it has none.

        The account holds the unique key `account_of_seller_key` names; an adapter finds it
        by that key (one look-up, never a scan).
        """
        ...

    def open_applications(self) -> list[DeveloperApplication]:
        """Every application under review (not escalated, not decided), in id order."""
        ...

    def authorization(self, app_id: str, store_id: str) -> StoreAuthorization | None:
        """The authorization of the app ``app_id`` by the store ``store_id``, or ``None``.

        Active or revoked; ``None`` if that store never authorized that app. One look-up.
        """
        ...

    def authorizations_of_app(
        self, app_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[StoreAuthorization]:
        """Up to ``limit`` active authorizations of the app ``app_id``, in store id order.

        Starting after the store id ``after``: one index range, whatever the app's number of
        stores.
        """
        ...

    def token_holders(self, app_id: str, seller_id: str) -> list[StoreAuthorization]:
        """The active authorizations of the app by the seller's stores that hold its tokens.

        At most one, but for a moment after the seller authorized another store. An index
        look-up.
        """
        ...

    def tokens_to_refresh(
        self, now: datetime, before: datetime, limit: int
    ) -> list[StoreAuthorization]:
        """Up to ``limit`` active authorizations whose tokens a refresh can extend, soonest first.

        Their access token expires before ``before``; they are refreshable
        (`StoreAuthorization.can_outlive_its_token`), the refresh token alive at ``now``, and
        not leased to a refresh in progress (`lease_refresh`). One index range:
        tokens that cannot be refreshed never crowd out those that can.
        """
        ...

    def tokens_to_alert(
        self, now: datetime, before: datetime, limit: int
    ) -> list[StoreAuthorization]:
        """Up to ``limit`` active authorizations to alert about, soonest first.

        Their access token expires from ``now`` to ``before``, no refresh can extend it, and
        no alert was recorded for it yet. One index range.
        """
        ...

    def lease_refresh(
        self, authorization_id: str, version: int, now: datetime, until: datetime
    ) -> bool:
        """Lease the authorization at ``version`` to the caller's refresh until ``until``.

        ``False`` if another caller holds a live lease, or the version moved on: then the
        caller must not refresh (two refreshes with one refresh token cancel each other's
        pairs). Atomic. Saving the authorization ends its lease; a lease whose holder never
        saved (it failed, or died) ends at ``until``.
        """
        ...

    def add_authorization_request(self, request: AuthorizationRequest) -> None:
        """Store a pending OAuth authorization request, found later by its state's digest.

        Another process (another instance of the service) may complete it.
        """
        ...

    def authorization_request(self, state_digest: str) -> AuthorizationRequest | None:
        """The authorization request whose state has this digest (used or not), or ``None``."""
        ...

    def use_authorization_request(self, state_digest: str, used_at: datetime) -> bool:
        """Mark the request used at ``used_at`` unless it is used already (or unknown).

        Atomic: of several callers completing one state at once, exactly one gets ``True``.
        """
        ...

    def purge_authorization_requests(self, expired_before: datetime) -> int:
        """Delete the requests that expired before ``expired_before``; how many were deleted."""
        ...

    def bound_usage(self, scope: str, member: str) -> BoundUsage:
        """How many distinct members the bounded ``scope`` holds, and whether one is ``member``.

        See `BoundClaim`.
        """
        ...

    def undecided_applications(self) -> list[DeveloperApplication]:
        """Every application awaiting a decision (under review or escalated), in id order."""
        ...

    def events(self, aggregate_id: str | None = None) -> list[Event]:
        """Every stored event (delivered or not), oldest first: the audit timeline."""
        ...

    def pending_events(self, limit: int = 1000) -> list[OutboxEntry]:
        """Up to ``limit`` undelivered events, oldest first, due or not: what operators see."""
        ...

    def due_events(self, now: datetime, limit: int) -> list[OutboxEntry]:
        """Up to ``limit`` undelivered events a dispatcher may deliver at ``now``, oldest first.

        An aggregate whose oldest undelivered event failed is *held* until that event's
        ``next_attempt_at``: none of its events is due before then, and other aggregates'
        events are unaffected (one failing aggregate never starves the rest). Only due events
        are read. A store shared by several dispatchers leases the entries to the caller until
        it marks them or gives them back with `release`.
        """
        ...

    def release(self, sequences: Sequence[int]) -> None:
        """Give back entries from `due_events` that the caller did not attempt."""
        ...

    def mark_delivered(self, sequence: int) -> None:
        """Mark an outbox entry delivered."""
        ...

    def mark_failed(self, sequence: int, *, next_attempt_at: datetime, error: str) -> None:
        """Count a failed delivery, set when to try again, and hold its aggregate until then."""
        ...


@attrs.frozen
class FailedDelivery:
    """A delivery that raised, as `LeasingRepository.settle` records it.

    Attributes:
        sequence: the outbox entry.
        next_attempt_at: when to try it again; its aggregate is held until then.
        error: what the notifier raised, for operators (`mark_failed` keeps 1,000 characters).
    """

    sequence: int
    next_attempt_at: datetime
    error: str


@runtime_checkable
class LeasingRepository(Repository, Protocol):
    """A `Repository` that can lease the outbox in a command's own write (optional).

    A command whose notifier is `in_process` delivers its events in its own thread. With a
    plain `Repository` that costs three writes: the command's, the lease of the due entries
    (`due_events`) and a mark per entry. A repository with these two methods takes the lease in
    the command's write, and the events just written come back as they were given, never
    decoded again; `settle` records the outcomes, and may hold them for the repository's next
    write (`SQLiteRepository` does: one commit per command). `SQLiteRepository` and
    `InMemoryRepository` have them; the service uses them when they are there.

    The contract (``RepositoryContract`` checks it when a repository has the methods):

    - `write_and_lease` is `add` (``expected_version=None``) or `save`, with the same checks
      and errors, then `due_events` under the same lock or transaction: nothing is written or
      leased when the write is refused.
    - `settle` is `mark_delivered` for each of ``delivered``, then `mark_failed` for each of
      ``failed``, then `release` of ``released``, all or none. It may hold them for the
      repository's next write (a failure's count then shows after it), as long as a delivered
      entry is neither due nor pending from then on, and a late outcome changes nothing once
      another dispatcher has taken the entry over.
    """

    def write_and_lease(
        self,
        aggregate: AggregateRoot,
        events: Sequence[Event],
        *,
        expected_version: int | None,
        now: datetime,
        limit: int,
    ) -> list[OutboxEntry]:
        """Store ``aggregate`` and its events, then lease what is due at ``now`` (up to ``limit``).

        Returns:
            What `due_events` would return right after the write; the entries of ``events``
            hold the very `Event` objects given.
        """
        ...

    def settle(
        self,
        delivered: Sequence[int],
        failed: Sequence[FailedDelivery],
        released: Sequence[int],
    ) -> None:
        """Record what became of entries the caller leased (see the class's contract)."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """Told about every event, at least once, in order per aggregate.

    Events carry a stable ``event_id``: a notifier that must not act twice keeps the ids it saw.
    Raising means "not delivered": the outbox keeps the event and tries again later.

    A notifier whose `notify` never waits on anything outside the process (it records, logs
    or queues in memory) may say so with a class attribute ``in_process = True``: the service
    then delivers to it in the command's own thread, without handing the work to its dispatch
    thread. Any other notifier is treated as one that may hang.
    """

    def notify(self, event: Event) -> None:
        """Deliver one event."""
        ...


@runtime_checkable
class Clock(Protocol):
    """Tells the time; always timezone-aware."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


@runtime_checkable
class CredentialIssuer(Protocol):
    """Makes ids and credentials. The default uses `secrets` (≥ 128 bits for secrets)."""

    def new_id(self, prefix: str) -> str:
        """A fresh, unique id starting with ``prefix``."""
        ...

    def new_app_key(self) -> AppKey:
        """A fresh appKey."""
        ...

    def new_app_secret(self) -> AppSecret:
        """A fresh appSecret with at least 128 bits of entropy."""
        ...

    def new_ticket_id(self) -> str:
        """A fresh ticket id for an escalation."""
        ...


@runtime_checkable
class PlatformClient(Protocol):
    """Talks to the AliExpress Open Platform for one app: tokens and signed API calls.

    Every request is signed with the app's appSecret. A refusal raises the `PlatformError`
    subclass that says what to do (`AccessTokenError`, `SignatureError`, ...); an answer that
    never came, or came unusable, raises `PlatformUnavailableError` or `PlatformResponseError`.
    `aliexpress_onboarding.adapters.platform_http.HttpPlatformClient` is the HTTP adapter;
    `aliexpress_onboarding._simulator.PlatformSimulator` is a local platform to test against.
    """

    def create_token(self, code: str) -> TokenGrant:
        """Exchange an authorization code (from the seller's callback) for a token grant."""
        ...

    def refresh_token(self, refresh_token: RefreshToken) -> TokenGrant:
        """Exchange a refresh token for a new grant; the old access token stops working."""
        ...

    def call(
        self,
        api: str,
        params: Mapping[str, object],
        *,
        access_token: AccessToken | None = None,
    ) -> Mapping[str, Any]:
        """Call an API with ``params`` (for a seller, given their ``access_token``).

        ``api`` is a REST path (``/auth/token/create``) or a method name
        (``aliexpress.solution.seller.category.tree.query``). Returns the platform's answer.
        """
        ...
