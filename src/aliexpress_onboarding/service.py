"""`OnboardingService`: the one entry point other systems call.

Every command is load → decide (the pure engine) → save with the expected version, the events
going into the outbox in the same atomic save → dispatch. A notifier that fails loses nothing:
its events stay in the outbox and `dispatch_pending` tries them again with exponential backoff.
A command waits for its dispatch at most ``dispatch_deadline``: a slow notifier never holds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from ._redact import redact_passwords
from .adapters.memory import (
    InMemoryNotifier,
    InMemoryRepository,
    SecretsCredentialIssuer,
    SystemClock,
)
from .domain.account import (
    AcceptAgreement,
    DeveloperAccount,
    DeveloperProfile,
    SubmitProfile,
    VerifyEnterprise,
)
from .domain.actors import Actor, ActorKind, Role
from .domain.app import App, RegisterCallbackUrl, ResetSecret, Resume, Store, Suspend
from .domain.application import Approve, DeveloperApplication, Escalate, Reject
from .domain.authorization import (
    EXPIRY_NOTICE,
    NO_TOKENS,
    NO_USAGE,
    STORE_ALREADY_AUTHORIZED,
    STORE_NOT_AUTHORIZED,
    AlertTokenExpiry,
    BoundUsage,
    ForgetTokens,
    ReauthorizeStore,
    RecordTokens,
    RefuseRefresh,
    RevokeStore,
    StoreAuthorization,
    authorization_problems,
    self_stores_scope,
)
from .domain.eligibility import Applicant, Problem
from .domain.events import Event
from .domain.oauth import (
    AUTHORIZATION_LIFETIME,
    AUTHORIZE_URL,
    AuthorizationRequest,
    authorize_url,
    callback_state_digest,
    new_state,
)
from .domain.records import Timeline
from .domain.review import ReviewPolicy
from .domain.tokens import TokenGrant
from .domain.values import AppName, DeveloperType, LicenseDocument, check_text
from .errors import (
    ConcurrencyConflictError,
    InvalidStateError,
    NotFoundError,
    OnboardingError,
    PermissionDeniedError,
    RefreshTokenError,
    RuleViolationError,
    StateReusedError,
    ValidationError,
)
from .outbox import RETRY_DELAY_LIMIT, DispatchReport, InlineDispatcher, as_leasing, dispatch_due
from .ports import (
    KIND_NAMES,
    AggregateRoot,
    Clock,
    CredentialIssuer,
    Notifier,
    OutboxEntry,
    PlatformClient,
    Repository,
)
from .views import MAX_PAGE_SIZE, AppView, AuthorizationView, Page

if TYPE_CHECKING:
    from .sealing import Keyring

__all__ = ["DispatchReport", "OnboardingService", "RefreshReport", "open_repository"]

logger = logging.getLogger("aliexpress_onboarding.service")
TOKEN_KEEPER: Final = Actor.system("token-keeper")
"""The actor of `OnboardingService.refresh_due` and `OnboardingService.alert_expiring`."""
NO_CALLBACK_URL = Problem(
    "no_callback_url", "Register the app's callback URL first (register_callback_url)."
)
NO_PLATFORM = Problem(
    "no_platform", "The service has no platform client: give OnboardingService(platform=...)."
)
_REQUESTS_KEPT: Final = timedelta(days=1)  # expired requests older than this are deleted
REFRESH_LEASE: Final = timedelta(minutes=10)
"""How long a refresh keeps other processes off its authorization (more than a platform call's
deadline); after a failure, how long before the next try."""


def _check_limit(limit: object) -> None:
    if type(limit) is not int or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationError("limit", limit, f"must be a whole number from 1 to {MAX_PAGE_SIZE}")


@attrs.frozen
class RefreshReport:
    """What `OnboardingService.refresh_due` did.

    Attributes:
        refreshed: the authorizations whose tokens were refreshed (new versions).
        failed: ``(authorization id, error message)`` of each refresh that failed (the
            platform unreachable, ...): its old tokens are kept, and a later run tries again.
        unrefreshable: the ids of those whose refresh token the platform refused: recorded
            (`RefuseRefresh`); the seller must authorize again (see `alert_expiring`).
    """

    refreshed: tuple[StoreAuthorization, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    unrefreshable: tuple[str, ...] = ()


A = TypeVar("A", DeveloperAccount, DeveloperApplication, App, StoreAuthorization)


def open_repository(
    url: str, *, keyring: Keyring | None = None, plaintext_secrets: bool = False
) -> Repository:
    """The `Repository` a URL names (see `OnboardingService.from_url`).

    Args:
        url: ``"memory://"``, ``"sqlite:///<path>"`` or ``"postgresql://..."``.
        keyring: seals appSecrets in a SQLite or PostgreSQL store (see
            `aliexpress_onboarding.sealing`); the in-memory store keeps no secret at rest.
        plaintext_secrets: let a SQLite or PostgreSQL store keep appSecrets in plain text
            when it has no keyring (without either, storing an app is refused).

    Raises:
        ValidationError: the URL names no supported repository.
        StorageError: the database cannot be opened.
    """
    if not isinstance(url, str):
        raise ValidationError("url", url, "must be text")
    if url == "memory://":
        return InMemoryRepository()
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        from .adapters.sqlite import SQLiteRepository  # sqlite3 only when used

        return SQLiteRepository(
            url.removeprefix("sqlite:///"), keyring=keyring, plaintext_secrets=plaintext_secrets
        )
    if url.startswith(("postgresql://", "postgres://")):
        from .adapters.postgres import PostgresRepository  # psycopg only when used

        return PostgresRepository(url, keyring=keyring, plaintext_secrets=plaintext_secrets)
    raise ValidationError(  # the URL may carry a password: never echo it
        "url",
        redact_passwords(url[:1000]),
        "expected 'memory://', 'sqlite:///<path>' or 'postgresql://...'",
    )


_CREATE_APP_TRIES: Final = 5
"""How many fresh appKeys `create_app` tries before it gives up on conflicts."""

_READERS: Final = frozenset({Role.OWNER, Role.REVIEWER, Role.SYSTEM})
"""Who may read an account, an application or an app: its owner, any reviewer, the system."""

_INLINE_LIMIT: Final = 100
"""The most events one command's dispatch attempts: a backlog is for `dispatch_pending`."""


def _check_retry(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, timedelta) or not timedelta(0) < value <= RETRY_DELAY_LIMIT:
        raise ValidationError(
            attribute.name, value, "must be a timedelta above zero and at most 366 days"
        )


def _check_deadline(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, timedelta) or not timedelta(0) <= value <= timedelta(hours=1):
        raise ValidationError(attribute.name, value, "must be a timedelta from zero to one hour")


def _check_bool(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not bool:
        raise ValidationError(attribute.name, value, "must be True or False")


def _check_actor(actor: object) -> Actor:
    if not isinstance(actor, Actor):
        raise ValidationError("actor", actor, "must be an Actor")
    return actor


def _check_queue_reader(actor: object, command: str) -> None:
    """The review queues hold every seller's applications: for reviewers and the system."""
    if _check_actor(actor).kind is ActorKind.SELLER:
        raise PermissionDeniedError(actor, command, "only a reviewer or the system")


def _oldest_first(applications: list[DeveloperApplication]) -> list[DeveloperApplication]:
    return sorted(applications, key=lambda a: (a.submitted_at, a.id))


def _not_readable(actor: Actor, kind: type[AggregateRoot]) -> PermissionDeniedError:
    name = KIND_NAMES[kind]
    return PermissionDeniedError(actor, f"read_{name}", "only its owner, a reviewer or the system")


@attrs.define
class OnboardingService:
    """Runs the onboarding commands against the ports.

    Args:
        repository: where aggregates and the outbox live (default: in memory).
        notifier: told about every event, at least once (default: records in memory).
        clock: the time source (default: the system clock, UTC).
        credentials: ids, appKeys, appSecrets and ticket ids (default: `secrets`).
        review_policy: when a review is overdue (default: 48 elapsed hours).
        retry_base: the first retry delay after a failed notification; it doubles per attempt.
        retry_max: the longest retry delay (from ``retry_base`` to a year and a day).
        auto_dispatch: dispatch due events after every command (the default). Turn it off
            in a process whose notifier reaches nobody (a one-off CLI run, say): the events
            then wait in the outbox for a process that dispatches them for real.
        dispatch_deadline: the longest a command waits for its dispatch. The dispatch runs on a
            background thread (one per service); when the notifier is slower than this (a mail
            server that does not answer), the command returns and the dispatch goes on.
            ``timedelta(0)`` never waits.
        platform: makes the `PlatformClient` of an app (it signs with the app's appSecret),
            e.g. ``lambda app: HttpPlatformClient(app.app_key, app.secret)``; needed by
            `complete_authorization`, `refresh_due` and `call_api`.
        authorize_endpoint: the platform's authorization page (another one for a simulator).

    Raises:
        ValidationError: a setting out of range.
    """

    repository: Repository = attrs.field(factory=InMemoryRepository)
    notifier: Notifier = attrs.field(factory=InMemoryNotifier)
    clock: Clock = attrs.field(factory=SystemClock)
    credentials: CredentialIssuer = attrs.field(factory=SecretsCredentialIssuer)
    review_policy: ReviewPolicy = attrs.field(factory=ReviewPolicy)
    retry_base: timedelta = attrs.field(default=timedelta(seconds=30), validator=_check_retry)
    retry_max: timedelta = attrs.field(default=timedelta(hours=1), validator=_check_retry)
    auto_dispatch: bool = attrs.field(default=True, validator=_check_bool)
    dispatch_deadline: timedelta = attrs.field(
        default=timedelta(seconds=1), validator=_check_deadline
    )
    platform: Callable[[App], PlatformClient] | None = attrs.field(default=None)
    authorize_endpoint: str = attrs.field(default=AUTHORIZE_URL)
    _inline: InlineDispatcher = attrs.field(init=False, repr=False, eq=False)

    @_inline.default
    def _make_inline(self) -> InlineDispatcher:
        return InlineDispatcher(self._dispatch_inline)

    def __attrs_post_init__(self) -> None:
        if self.retry_base > self.retry_max:
            raise ValidationError(
                "retry_max", self.retry_max, f"must be at least retry_base ({self.retry_base})"
            )

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        keyring: Keyring | None = None,
        plaintext_secrets: bool = False,
        **ports: Any,
    ) -> OnboardingService:
        """A service on the repository a URL names; other ports as keyword arguments.

        ``"memory://"`` keeps state in this process; ``"sqlite:///path/to/file.db"`` (three
        slashes, then the path; four for an absolute path) in one file; ``"postgresql://..."``
        in a PostgreSQL database shared by many hosts (needs the ``postgres`` extra). A
        SQLite or PostgreSQL store seals appSecrets with ``keyring`` (the ``sealing`` extra),
        and refuses to store them in plain text unless ``plaintext_secrets=True``.

        Raises:
            ValidationError: the URL names no supported repository.
            StorageError: the database cannot be opened.
        """
        repository = open_repository(url, keyring=keyring, plaintext_secrets=plaintext_secrets)
        return cls(repository=repository, **ports)

    # ------------------------------------------------------------------ plumbing

    def _dispatch(self) -> None:
        if not self.auto_dispatch:
            return
        if getattr(self.notifier, "in_process", False) is not True:
            self._inline.request(self.dispatch_deadline.total_seconds())
            return
        # A notifier that never waits on the outside is told in this thread (no hand-off).
        # If a pass is already running, it or the next command's picks these events up.
        if self._inline.exclusive().acquire(blocking=False):
            try:
                self._dispatch_now(_INLINE_LIMIT, settle_later=True)
            except Exception:  # the command has committed: report, never raise at it
                logger.exception("dispatching the outbox failed; the events stay pending")
            finally:
                self._inline.exclusive().release()

    def _load(self, kind: type[A], aggregate_id: object, field: str) -> A:
        """The stored aggregate; an id that is not text is refused before the store sees it."""
        return self.repository.get(kind, check_text(field, aggregate_id, max_length=128))

    def _created(self, aggregate: AggregateRoot, events: Sequence[Event]) -> None:
        if not self._write_and_deliver(aggregate, events, None):
            self.repository.add(aggregate, events)
            self._dispatch()

    def _changed(
        self, before: AggregateRoot, after: AggregateRoot, events: Sequence[Event]
    ) -> None:
        if not self._write_and_deliver(after, events, before.version):
            self.repository.save(after, events, expected_version=before.version)
            self._dispatch()

    def _write_and_deliver(
        self, aggregate: AggregateRoot, events: Sequence[Event], expected_version: int | None
    ) -> bool:
        """Store and dispatch with one commit, if the repository and the notifier allow.

        A `LeasingRepository` leases what is due in the command's own write, and an
        `in_process` notifier is told in this thread; the outcomes go to
        `~LeasingRepository.settle`, which may hold them for the repository's next write.
        Returns whether it stored the aggregate; ``False`` (nothing done) when the repository
        or the notifier cannot, auto-dispatch is off, or another pass of this service is
        running (it or the next command picks the events up).
        """
        if not self.auto_dispatch or getattr(self.notifier, "in_process", False) is not True:
            return False
        repository = as_leasing(self.repository)
        if repository is None:
            return False
        exclusive = self._inline.exclusive()
        if not exclusive.acquire(blocking=False):
            return False
        try:
            now = self.clock.now()
            entries = repository.write_and_lease(
                aggregate, events, expected_version=expected_version, now=now, limit=_INLINE_LIMIT
            )
            try:  # the command has committed: report, never raise at it
                self._dispatch_now(_INLINE_LIMIT, now=now, leased=entries)
            except Exception:
                logger.exception("dispatching the outbox failed; the events stay pending")
        finally:
            exclusive.release()
        return True

    # ------------------------------------------------------------------ account (guide step 1)

    def register_account(
        self,
        *,
        seller_id: str,
        enterprise_id: str,
        actor: Actor,
    ) -> DeveloperAccount:
        """Open a developer account for a seller (pending the API use agreement).

        ``enterprise_id`` is the seller's claim: the enterprise and the store count that
        bound its Self apps are recorded by a reviewer or the system (`verify_enterprise`).

        Raises:
            PermissionDeniedError: ``actor`` is neither that seller nor the system.
            AlreadyExistsError: the seller already has a developer account.
            ValidationError: malformed ids.
        """
        account, events = DeveloperAccount.register(
            self.credentials.new_id("acc"),
            seller_id=seller_id,
            enterprise_id=enterprise_id,
            actor=actor,
            now=self.clock.now(),
        )
        self._created(account, events)
        return account

    def accept_agreement(
        self, account_id: str, agreement_version: str, *, actor: Actor
    ) -> DeveloperAccount:
        """Accept the API use agreement (guide step 1.1).

        Raises:
            NotFoundError: no aggregate has that id.
            PermissionDeniedError: the actor may not run the command.
            TransitionNotAllowedError: the command is not allowed in the current state.
            ConcurrencyConflictError: the aggregate changed since it was loaded; reload and retry.
            ValidationError: an argument is malformed.
        """
        return self._handle_account(account_id, AcceptAgreement(agreement_version), actor)

    def submit_profile(
        self, account_id: str, profile: DeveloperProfile, *, actor: Actor
    ) -> DeveloperAccount:
        """Fill in the developer information (guide step 1.2); the account becomes active.

        Raises:
            NotFoundError: no aggregate has that id.
            PermissionDeniedError: the actor may not run the command.
            TransitionNotAllowedError: the command is not allowed in the current state.
            ConcurrencyConflictError: the aggregate changed since it was loaded; reload and retry.
            ValidationError: an argument is malformed.
        """
        return self._handle_account(account_id, SubmitProfile(profile), actor)

    def verify_enterprise(
        self, account_id: str, enterprise_id: str, store_count: int, *, actor: Actor
    ) -> DeveloperAccount:
        """Record the verified enterprise behind the account and how many stores it covers.

        Only a reviewer or the system may: what bounds a Self developer's stores never comes
        from the seller. A reviewer may not verify the account of their own seller id. A new
        verification replaces the old; a lower count refuses new stores and evicts none.

        Raises:
            NotFoundError: no account has that id.
            PermissionDeniedError: ``actor`` is a seller.
            RuleViolationError: the reviewer's id is the account's seller id (``own_account``).
            ValidationError: a malformed enterprise id, or a store count outside 0 to 10 000.
        """
        command = VerifyEnterprise(enterprise_id, store_count)
        return self._handle_account(account_id, command, actor)

    def _handle_account(
        self,
        account_id: str,
        command: AcceptAgreement | SubmitProfile | VerifyEnterprise,
        actor: Actor,
    ) -> DeveloperAccount:
        account = self._load(DeveloperAccount, account_id, "account_id")
        changed, events = account.handle(command, actor, self.clock.now())
        self._changed(account, changed, events)
        return changed

    # ------------------------------------------------------------------ application (step 2)

    def apply(
        self,
        account_id: str,
        developer_type: DeveloperType | str,
        applicant: Applicant,
        document: LicenseDocument,
        *,
        actor: Actor,
    ) -> DeveloperApplication:
        """Submit a Self or Commercial developer application (guide steps 2.1-2.4).

        Raises:
            NotFoundError: no such account.
            PermissionDeniedError: ``actor`` is not the account's owner.
            RuleViolationError: inactive account, or an open/approved application of the type.
            NotEligibleError: the applicant does not meet the type's requirements.
            ConcurrencyConflictError: a concurrent application of the same type won.
        """
        account = self._load(DeveloperAccount, account_id, "account_id")
        application, events = DeveloperApplication.submit(
            self.credentials.new_id("appl"),
            account=account,
            developer_type=developer_type,
            applicant=applicant,
            document=document,
            existing=self.repository.list_by_account(DeveloperApplication, account_id),
            actor=actor,
            now=self.clock.now(),
        )
        self._created(application, events)
        return application

    def approve(self, application_id: str, *, actor: Actor) -> DeveloperApplication:
        """A reviewer approves an application (under review or escalated).

        Raises:
            NotFoundError: no aggregate has that id.
            PermissionDeniedError: the actor may not run the command.
            TransitionNotAllowedError: the command is not allowed in the current state.
            ConcurrencyConflictError: the aggregate changed since it was loaded; reload and retry.
        """
        return self._handle_application(application_id, Approve(), actor)

    def reject(self, application_id: str, reason: str, *, actor: Actor) -> DeveloperApplication:
        """A reviewer rejects an application with a reason; the account may apply again.

        Raises:
            NotFoundError: no aggregate has that id.
            PermissionDeniedError: the actor may not run the command.
            TransitionNotAllowedError: the command is not allowed in the current state.
            ConcurrencyConflictError: the aggregate changed since it was loaded; reload and retry.
            ValidationError: empty reason.
        """
        return self._handle_application(application_id, Reject(reason), actor)

    def _handle_application(
        self, application_id: str, command: Approve | Reject | Escalate, actor: Actor
    ) -> DeveloperApplication:
        application = self._load(DeveloperApplication, application_id, "application_id")
        changed, events = application.handle(command, actor, self.clock.now())
        self._changed(application, changed, events)
        return changed

    def escalate(self, application_id: str, *, actor: Actor) -> DeveloperApplication:
        """The applicant submits a ticket for its own overdue application (guide step 2.5).

        The guide's "no e-mail within 2 days": the account's owner (or the system) escalates
        one application under review once the service's ``review_policy`` deadline has passed,
        with a fresh ticket id, exactly as `escalate_overdue` does for each overdue one. An
        application is escalated once, whoever comes first.

        Raises:
            NotFoundError: no aggregate has that id.
            PermissionDeniedError: ``actor`` is neither the application's owner nor the system.
            TransitionNotAllowedError: the application is already escalated (by its owner or
                the system) or decided.
            RuleViolationError: ``not_overdue``: the review deadline has not passed yet.
            ConcurrencyConflictError: the application changed since it was loaded (a
                concurrent escalation or decision won); nothing was saved. Reloaded, it is
                refused with `TransitionNotAllowedError`.
            ValidationError: ``application_id`` is not text.
        """
        command = Escalate(self.credentials.new_ticket_id(), self.review_policy)
        return self._handle_application(application_id, command, actor)

    def escalate_overdue(self, *, actor: Actor | None = None) -> list[DeveloperApplication]:
        """Escalate every overdue application once, submitting a ticket for each (step 2.5).

        Safe to run twice or from several processes at once: an application another run
        escalated (or a reviewer decided) meanwhile is skipped.

        Returns:
            The applications this call escalated.
        """
        if actor is None:
            actor = Actor.system("escalation")
        elif not isinstance(actor, Actor):
            raise ValidationError("actor", actor, "must be an Actor (or None for the system)")
        now = self.clock.now()
        escalated = []
        for application in self.repository.open_applications():
            if not self.review_policy.is_overdue(application.submitted_at, now):
                continue
            command = Escalate(self.credentials.new_ticket_id(), self.review_policy)
            changed, events = application.handle(command, actor, now)
            try:
                self.repository.save(changed, events, expected_version=application.version)
            except ConcurrencyConflictError:
                logger.info("escalation of %s skipped: changed concurrently", application.id)
                continue
            escalated.append(changed)
        self._dispatch()
        return escalated

    # ------------------------------------------------------------------ apps (step 3 and after)

    def create_app(
        self,
        account_id: str,
        developer_type: DeveloperType | str,
        name: AppName | str,
        *,
        actor: Actor,
    ) -> App:
        """Create an app and issue its appKey and appSecret (guide step 3).

        The secret is ``app.secret``; show it to its owner with ``app.secret.reveal()``.

        Raises:
            NotFoundError: no such account.
            PermissionDeniedError: ``actor`` is not the account's owner.
            RuleViolationError: inactive account, no approved application, or the name is taken.
            InvalidAppNameError: the name breaks the platform's rule.
            ConcurrencyConflictError: five fresh appKeys in a row were taken (a broken
                credential issuer); an appKey issued before is retried with a new one.
        """
        account = self._load(DeveloperAccount, account_id, "account_id")
        applications = self.repository.list_by_account(DeveloperApplication, account_id)
        attempt = 1
        while True:
            app, events = App.create(
                self.credentials.new_id("app"),
                account=account,
                developer_type=developer_type,
                name=name,
                applications=applications,
                existing_apps=self.repository.list_by_account(App, account_id),
                app_key=self.credentials.new_app_key(),
                secret=self.credentials.new_app_secret(),
                actor=actor,
                now=self.clock.now(),
            )
            try:
                self.repository.add(app, events)
            except ConcurrencyConflictError:
                # The appKey was issued before (random 8 digits collide), or a concurrent
                # creation took the name: the next round, with a fresh appKey, says which.
                if attempt == _CREATE_APP_TRIES:
                    raise
                logger.info("create_app: conflict on attempt %d, retrying", attempt)
                attempt += 1
                continue
            self._dispatch()
            return app

    def reset_secret(self, app_id: str, *, actor: Actor, overlap: timedelta = timedelta(0)) -> App:
        """Issue a new appSecret; the old one keeps matching for ``overlap``.

        Raises:
            NotFoundError: no aggregate has that id.
            PermissionDeniedError: the actor may not run the command.
            ConcurrencyConflictError: the aggregate changed since it was loaded; reload and retry.
            ValidationError: an argument is malformed.
        """
        command = ResetSecret(self.credentials.new_app_secret(), overlap)
        return self._handle_app(app_id, command, actor)

    def authorize_store(self, app_id: str, store: Store, *, actor: Actor) -> StoreAuthorization:
        """A seller authorizes the app for its own store (again, after a revocation).

        The authorization is a record of its own: its cost does not grow with the app's other
        stores. A Self app's stores count against its developer account's verified store count,
        across all the account's Self apps (a store authorizing two of them counts once); two
        processes racing for the last place get one authorization and one refusal.

        Raises:
            NotFoundError: no app has that id.
            PermissionDeniedError: ``actor`` is not a seller.
            RuleViolationError: not the store's seller, a suspended app, the store authorizes
                the app already; for a Self app, a store of another enterprise or the bound
                reached (``store_limit_reached``).
            ConcurrencyConflictError: the authorization changed since it was read; retry.
            ValidationError: ``store`` is not a `Store`, or a malformed id.
        """
        if not isinstance(store, Store):
            raise ValidationError("store", store, "must be a Store")
        app = self._load(App, app_id, "app_id")
        account = self.repository.get(DeveloperAccount, app.account_id)
        try:
            authorization = self._authorize(app, account, store, actor)
        except ConcurrencyConflictError:  # another process wrote it meanwhile: read it again
            authorization = self._authorize(app, account, store, actor)
        self._dispatch()
        return authorization

    def _authorize(
        self,
        app: App,
        account: DeveloperAccount,
        store: Store,
        actor: Actor,
        grant: TokenGrant | None = None,
    ) -> StoreAuthorization:
        existing = self.repository.authorization(app.id, store.store_id)
        usage = self._usage(app, account, store)
        now = self.clock.now()
        if existing is None:
            authorization, events = StoreAuthorization.authorize(
                app=app,
                account=account,
                store=store,
                usage=usage,
                actor=actor,
                now=now,
                grant=grant,
            )
            self.repository.add(authorization, events)
            return authorization
        if existing.is_active:
            if grant is None:
                raise RuleViolationError("authorize_store", (STORE_ALREADY_AUTHORIZED,))
            # The seller authorized again through OAuth: its new tokens replace the old ones.
            authorization, events = existing.handle(RecordTokens(grant), actor, now)
        else:
            command = ReauthorizeStore(app, account, store, usage, grant)
            authorization, events = existing.handle(command, actor, now)
        self.repository.save(authorization, events, expected_version=existing.version)
        return authorization

    def revoke_store(self, app_id: str, store_id: str, *, actor: Actor) -> StoreAuthorization:
        """Withdraw a store's authorization (by its seller, the app's owner or the system).

        A Self app's store gives its place in the account's bound back (unless another of
        the account's Self apps still has it).

        Raises:
            NotFoundError: no app has that id.
            PermissionDeniedError: the actor may not run the command.
            RuleViolationError: the store does not authorize the app (``store_not_authorized``),
                or the actor is another seller.
            ConcurrencyConflictError: the authorization changed since it was read; retry.
            ValidationError: a malformed id.
        """
        app = self._load(App, app_id, "app_id")
        check_text("store_id", store_id, max_length=128)
        existing = self.repository.authorization(app.id, store_id)
        if existing is None or not existing.is_active:
            raise RuleViolationError("revoke_store", (STORE_NOT_AUTHORIZED,))
        revoked, events = existing.handle(RevokeStore(), actor, self.clock.now())
        self._changed(existing, revoked, events)
        return revoked

    # ------------------------------------------------------------------ OAuth and tokens

    def register_callback_url(self, app_id: str, url: str, *, actor: Actor) -> App:
        """Register the app's callback URL: where the platform sends an authorizing seller back.

        Raises:
            NotFoundError: no app has that id.
            PermissionDeniedError: ``actor`` is not the app's owner.
            InvalidCallbackUrlError: the URL breaks a `CallbackUrl` rule (https, or http on a
                loopback host only; no query or fragment).
        """
        return self._handle_app(app_id, RegisterCallbackUrl(url), actor)

    def begin_authorization(
        self, app_id: str, *, actor: Actor, lifetime: timedelta = AUTHORIZATION_LIFETIME
    ) -> str:
        """Start a seller's authorization of the app: the authorization page to send it to.

        The URL carries a fresh ``state`` (256 bits from `secrets`), bound to the app and to
        ``actor``, single-use and valid for ``lifetime``. The request is stored through the
        repository (only the state's digest), so any process of the service may complete it.

        Raises:
            NotFoundError: no app has that id.
            PermissionDeniedError: ``actor`` is not a seller.
            RuleViolationError: the app has no callback URL (``no_callback_url``).
            ValidationError: ``lifetime`` is not more than 0 and at most an hour.
        """
        seller = _check_actor(actor)
        if seller.kind is not ActorKind.SELLER:
            raise PermissionDeniedError(seller, "begin_authorization", "only a seller may")
        app = self._load(App, app_id, "app_id")
        if app.callback_url is None:
            raise RuleViolationError("begin_authorization", (NO_CALLBACK_URL,))
        state = new_state()
        request = AuthorizationRequest.start(
            state,
            app_id=app.id,
            actor_id=seller.id,
            redirect_uri=app.callback_url,
            now=self.clock.now(),
            lifetime=lifetime,
        )
        self.repository.purge_authorization_requests(request.created_at - _REQUESTS_KEPT)
        self.repository.add_authorization_request(request)
        return authorize_url(app.app_key, app.callback_url, state, base=self.authorize_endpoint)

    def complete_authorization(
        self, callback_url: str, store: Store, *, actor: Actor
    ) -> StoreAuthorization:
        """Finish an authorization: check the platform's redirect, get the tokens, record them.

        Checks the state (known, this seller's, for that app, unused, unexpired), the exact
        callback URL and that the seller did not refuse; then marks the state used (once, even
        across processes), exchanges the code for the seller's tokens and records the store's
        authorization with them (a new one, or the store's again: one valid token per seller
        and app). Nothing is recorded when a check fails.

        Args:
            callback_url: the URL the platform redirected the seller's browser to.
            store: the seller's store being authorized.
            actor: the seller who began the authorization.

        Raises:
            AuthorizationError: a missing, foreign, reused or expired state, another
                seller's state, a callback URL that is not the registered one, or a refusal
                (`InvalidStateError`, `StateReusedError`, `AuthorizationExpiredError`,
                `CallbackMismatchError`, `AuthorizationDeniedError`, `InvalidCallbackError`).
            PlatformError: the platform refused the code (`AuthorizationCodeError`, ...).
            RuleViolationError: the store may not authorize the app (see `authorize_store`),
                or the service has no platform client (``no_platform``).
            ValidationError: ``store`` is not a `Store`.
        """
        seller = _check_actor(actor)
        if not isinstance(store, Store):
            raise ValidationError("store", store, "must be a Store")
        digest = callback_state_digest(callback_url)
        request = self.repository.authorization_request(digest)
        if request is None:
            raise InvalidStateError("foreign", "no authorization was begun with this state")
        if request.actor_id != seller.id:
            raise InvalidStateError("foreign", "the state was issued to another seller")
        app = self._load(App, request.app_id, "app_id")
        now = self.clock.now()
        code = request.check_callback(callback_url, app_id=app.id, now=now)
        account = self.repository.get(DeveloperAccount, app.account_id)
        self._check_authorizable(app, account, store, seller)  # before the code is spent
        if not self.repository.use_authorization_request(digest, now):
            raise StateReusedError(now)  # another process completed it a moment ago
        grant = self._platform_for(app).create_token(code)
        try:
            authorization = self._authorize(app, account, store, seller, grant)
        except ConcurrencyConflictError:  # another process wrote it meanwhile: read it again
            authorization = self._authorize(app, account, store, seller, grant)
        self._forget_older_tokens(authorization)
        self._dispatch()
        return authorization

    def _usage(self, app: App, account: DeveloperAccount, store: Store) -> BoundUsage:
        """What the account's Self bound holds now, for a Self app; nothing for a Commercial."""
        if app.developer_type is not DeveloperType.SELF:
            return NO_USAGE
        return self.repository.bound_usage(self_stores_scope(account.id), store.store_id)

    def _forget_older_tokens(self, holder: StoreAuthorization) -> None:
        """One valid token per seller and app: the seller's other stores' tokens stopped."""
        seller = holder.store.seller_id
        for other in self.repository.token_holders(holder.app_id, seller):
            if other.id == holder.id:
                continue
            forget = ForgetTokens(holder.store_id)
            try:
                changed, events = other.handle(forget, TOKEN_KEEPER, self.clock.now())
                self.repository.save(changed, events, expected_version=other.version)
            except (RuleViolationError, ConcurrencyConflictError):
                continue  # changed meanwhile: its tokens, if any, are newer than these

    def _check_authorizable(
        self, app: App, account: DeveloperAccount, store: Store, seller: Actor
    ) -> None:
        """Refuse now what recording the authorization would refuse, before anything is used.

        The state then stays unused, and the seller's token at the platform untouched.
        """
        if self.platform is None:
            raise RuleViolationError("complete_authorization", (NO_PLATFORM,))
        usage = self._usage(app, account, store)
        problems = authorization_problems(app, account, store, usage, seller)
        if problems:
            raise RuleViolationError("authorize_store", problems)

    def _platform_for(self, app: App) -> PlatformClient:
        if self.platform is None:
            raise RuleViolationError("platform", (NO_PLATFORM,))
        return self.platform(app)

    def refresh_due(
        self, *, within: timedelta = timedelta(days=1), limit: int = 100
    ) -> RefreshReport:
        """Refresh the tokens that expire within ``within``, soonest first, up to ``limit``.

        Only tokens a refresh can extend are read (those that cannot never crowd them out).
        Each is leased first (`Repository.lease_refresh`), so two runs at once, on two hosts,
        never refresh one token twice (the second refresh would cancel the first one's pair).
        Each refresh stores the new pair in one write; until then the old pair is kept, so a
        refresh whose answer never arrives (the process killed, the network gone) leaves the
        old refresh token to try again with once the lease ends. A refresh the platform
        refuses (`RefreshTokenError`) is recorded (`RefuseRefresh`): no refresh is tried again
        and `alert_expiring` warns before the token expires. Other failures are reported and
        tried again after the lease.

        Raises:
            RuleViolationError: the service has no platform client (``no_platform``).
            ValidationError: ``within`` or ``limit`` out of range.
        """
        if not isinstance(within, timedelta) or within < timedelta(0):
            raise ValidationError("within", within, "must be a timedelta of zero or more")
        _check_limit(limit)
        if self.platform is None:
            raise RuleViolationError("refresh_due", (NO_PLATFORM,))
        now = self.clock.now()
        refreshed, failed, refused = [], [], []
        for authorization in self.repository.tokens_to_refresh(now, now + within, limit):
            if not self.repository.lease_refresh(
                authorization.id, authorization.version, now, now + REFRESH_LEASE
            ):
                continue  # another process is refreshing it
            try:
                renewed = self._refresh(authorization)
            except RefreshTokenError as error:
                refused.append(authorization.id)
                self._refuse_refresh(authorization, error)
            except OnboardingError as error:
                logger.warning("refreshing %s failed: %s", authorization.id, error)
                failed.append((authorization.id, str(error)))
            else:
                refreshed.append(renewed)
        self._dispatch()
        return RefreshReport(tuple(refreshed), tuple(failed), tuple(refused))

    def _refresh(self, authorization: StoreAuthorization) -> StoreAuthorization:
        app = self.repository.get(App, authorization.app_id)
        token = authorization.refresh_token
        if token is None:  # selected as refreshable, so it holds tokens
            raise ValidationError("refresh_token", None, "the authorization holds no tokens")
        grant = self._platform_for(app).refresh_token(token)
        renewed, events = authorization.handle(RecordTokens(grant), TOKEN_KEEPER, self.clock.now())
        self.repository.save(renewed, events, expected_version=authorization.version)
        return renewed

    def _refuse_refresh(self, authorization: StoreAuthorization, error: RefreshTokenError) -> None:
        logger.warning("the platform refused the refresh of %s: %s", authorization.id, error)
        refusal = RefuseRefresh(str(error)[:1000])
        try:
            changed, events = authorization.handle(refusal, TOKEN_KEEPER, self.clock.now())
            self.repository.save(changed, events, expected_version=authorization.version)
        except ConcurrencyConflictError:
            pass  # re-authorized or revoked meanwhile: nothing to record

    def alert_expiring(self, *, limit: int = 100) -> list[StoreAuthorization]:
        """Alert the sellers whose token expires within 3 days and cannot be refreshed.

        Once per token: a `TokenExpiring` event (and its e-mail) asks the seller to authorize
        the app again. Only tokens to alert about are read: those alerted already, and those a
        refresh can extend, never crowd them out.

        Raises:
            ValidationError: ``limit`` out of range.
        """
        _check_limit(limit)
        now = self.clock.now()
        alerted = []
        for authorization in self.repository.tokens_to_alert(now, now + EXPIRY_NOTICE, limit):
            try:
                changed, events = authorization.handle(AlertTokenExpiry(), TOKEN_KEEPER, now)
                self.repository.save(changed, events, expected_version=authorization.version)
            except (RuleViolationError, ConcurrencyConflictError):
                continue  # changed meanwhile (refreshed, revoked, alerted): the next run sees it
            alerted.append(changed)
        self._dispatch()
        return alerted

    def call_api(
        self,
        app_id: str,
        store_id: str,
        api: str,
        params: Mapping[str, object],
        *,
        actor: Actor,
    ) -> Mapping[str, Any]:
        """Call a business API for a store, signed, with the store's seller's access token.

        Raises:
            NotFoundError: no app has that id.
            PermissionDeniedError: ``actor`` is neither the app's owner nor the system (a
                reviewer reads the app, but never calls the platform with a seller's token).
            RuleViolationError: the store does not authorize the app, or holds no token.
            PlatformError: the platform refused the call (`AccessTokenError`: authorize again).
        """
        caller = _check_actor(actor)
        if caller.kind is ActorKind.REVIEWER:
            raise PermissionDeniedError(caller, "call_api", "only the app's owner or the system")
        app = self._readable(App, app_id, "app_id", caller)
        check_text("store_id", store_id, max_length=128)
        authorization = self.repository.authorization(app.id, store_id)
        if authorization is None or not authorization.is_active:
            raise RuleViolationError("call_api", (STORE_NOT_AUTHORIZED,))
        if authorization.access_token is None:
            raise RuleViolationError("call_api", (NO_TOKENS,))
        return self._platform_for(app).call(api, params, access_token=authorization.access_token)

    def suspend_app(self, app_id: str, reason: str, *, actor: Actor) -> App:
        """A reviewer suspends an app.

        Raises:
            NotFoundError: no aggregate has that id.
            PermissionDeniedError: the actor may not run the command.
            TransitionNotAllowedError: the command is not allowed in the current state.
            ConcurrencyConflictError: the aggregate changed since it was loaded; reload and retry.
        """
        return self._handle_app(app_id, Suspend(reason), actor)

    def resume_app(self, app_id: str, *, actor: Actor) -> App:
        """A reviewer lifts an app's suspension.

        Raises:
            NotFoundError: no aggregate has that id.
            PermissionDeniedError: the actor may not run the command.
            TransitionNotAllowedError: the command is not allowed in the current state.
            ConcurrencyConflictError: the aggregate changed since it was loaded; reload and retry.
        """
        return self._handle_app(app_id, Resume(), actor)

    def _handle_app(
        self,
        app_id: str,
        command: ResetSecret | RegisterCallbackUrl | Suspend | Resume,
        actor: Actor,
    ) -> App:
        app = self._load(App, app_id, "app_id")
        changed, events = app.handle(command, actor, self.clock.now())
        self._changed(app, changed, events)
        return changed

    def timeline(self, aggregate_id: str | None = None) -> Timeline:
        """The stored events (of one aggregate, when given), oldest first; shows as a table."""
        if aggregate_id is not None:
            check_text("aggregate_id", aggregate_id, max_length=128)
        return Timeline(self.repository.events(aggregate_id))

    # ------------------------------------------------------------------ reading

    def account(self, account_id: str, *, actor: Actor) -> DeveloperAccount:
        """The developer account ``account_id``, for its owner, a reviewer or the system.

        Raises:
            NotFoundError: no account has that id (told to a reviewer or the system).
            PermissionDeniedError: ``actor`` is another seller; or a seller, and no account
                has that id (the same error: a seller learns nothing of others' accounts).
            ValidationError: ``account_id`` is not text, or ``actor`` is not an `Actor`.
        """
        return self._readable(DeveloperAccount, account_id, "account_id", actor)

    def account_of_seller(self, seller_id: str, *, actor: Actor) -> DeveloperAccount:
        """The developer account of the seller ``seller_id``, for it, a reviewer or the system.

        Raises:
            NotFoundError: the seller has no developer account.
            PermissionDeniedError: ``actor`` is another seller (refused before any look-up).
            ValidationError: ``seller_id`` is not text, or ``actor`` is not an `Actor`.
        """
        reader = _check_actor(actor)
        check_text("seller_id", seller_id, max_length=128)
        if not reader.may(_READERS, seller_id):
            raise _not_readable(reader, DeveloperAccount)
        account = self.repository.account_of_seller(seller_id)
        if account is None:
            raise NotFoundError("account of seller", seller_id)
        return account

    def account_applications(self, account_id: str, *, actor: Actor) -> list[DeveloperApplication]:
        """The applications of the account ``account_id``, oldest first.

        Raises:
            NotFoundError: no account has that id (told to a reviewer or the system).
            PermissionDeniedError: as for `account`.
            ValidationError: ``account_id`` is not text, or ``actor`` is not an `Actor`.
        """
        account = self._readable(DeveloperAccount, account_id, "account_id", actor)
        return _oldest_first(self.repository.list_by_account(DeveloperApplication, account.id))

    def account_apps(self, account_id: str, *, actor: Actor) -> list[AppView]:
        """The apps of the account ``account_id``, oldest first, without their appSecrets.

        Raises:
            NotFoundError: no account has that id (told to a reviewer or the system).
            PermissionDeniedError: as for `account`.
            ValidationError: ``account_id`` is not text, or ``actor`` is not an `Actor`.
        """
        account = self._readable(DeveloperAccount, account_id, "account_id", actor)
        apps = self.repository.list_by_account(App, account.id)
        return [AppView.of(app) for app in sorted(apps, key=lambda a: (a.created_at, a.id))]

    def application(self, application_id: str, *, actor: Actor) -> DeveloperApplication:
        """The application ``application_id``, for its owner, a reviewer or the system.

        Raises:
            NotFoundError: no application has that id (told to a reviewer or the system).
            PermissionDeniedError: ``actor`` is another seller; or a seller, and no
                application has that id (the same error).
            ValidationError: ``application_id`` is not text, or ``actor`` is not an `Actor`.
        """
        return self._readable(DeveloperApplication, application_id, "application_id", actor)

    def app(self, app_id: str, *, actor: Actor) -> AppView:
        """The app ``app_id`` without its appSecret, for its owner, a reviewer or the system.

        Raises:
            NotFoundError: no app has that id (told to a reviewer or the system).
            PermissionDeniedError: ``actor`` is another seller; or a seller, and no app has
                that id (the same error).
            ValidationError: ``app_id`` is not text, or ``actor`` is not an `Actor`.
        """
        return AppView.of(self._readable(App, app_id, "app_id", actor))

    def app_authorizations(
        self, app_id: str, *, actor: Actor, limit: int = 100, after: str | None = None
    ) -> Page[AuthorizationView]:
        """One page of the stores that authorize the app ``app_id``, in store id order.

        As `AuthorizationView`: without the sellers' tokens, which the service never hands out.

        Start without ``after``; pass each page's ``next_after`` as ``after`` for the next,
        until it is ``None``. Each store that authorizes the app all along comes exactly once.

        Args:
            app_id: the app.
            actor: the app's owner, a reviewer or the system.
            limit: the most authorizations on the page, from 1 to 1000.
            after: the store id the page starts after (a page's ``next_after``).

        Raises:
            NotFoundError: no app has that id (told to a reviewer or the system).
            PermissionDeniedError: as for `app`.
            ValidationError: ``limit`` out of range; ``app_id`` or ``after`` not text;
                ``actor`` not an `Actor`.
        """
        if type(limit) is not int or not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValidationError(
                "limit", limit, f"must be a whole number from 1 to {MAX_PAGE_SIZE}"
            )
        if after is not None:
            check_text("after", after, max_length=128)
        app = self._readable(App, app_id, "app_id", actor)
        found = self.repository.authorizations_of_app(app.id, after=after, limit=limit + 1)
        page = tuple(AuthorizationView.of(authorization) for authorization in found[:limit])
        return Page(page, page[-1].store_id if len(found) > limit else None)

    def pending_reviews(self, *, actor: Actor) -> list[DeveloperApplication]:
        """Every application awaiting a reviewer's decision (under review or escalated).

        Oldest submission first: the front of the queue is the nearest deadline.

        Raises:
            PermissionDeniedError: ``actor`` is a seller (only reviewers and the system).
            ValidationError: ``actor`` is not an `Actor`.
        """
        _check_queue_reader(actor, "read_pending_reviews")
        return _oldest_first(self.repository.undecided_applications())

    def overdue_applications(self, *, actor: Actor) -> list[DeveloperApplication]:
        """The pending reviews whose ``review_policy`` deadline has passed, oldest first.

        Escalated ones included (their ticket does not decide them); those still under
        review are what `escalate_overdue` would escalate now.

        Raises:
            PermissionDeniedError: ``actor`` is a seller (only reviewers and the system).
            ValidationError: ``actor`` is not an `Actor`.
        """
        _check_queue_reader(actor, "read_overdue_applications")
        now = self.clock.now()
        return [
            application
            for application in _oldest_first(self.repository.undecided_applications())
            if self.review_policy.is_overdue(application.submitted_at, now)
        ]

    def _readable(self, kind: type[A], aggregate_id: object, field: str, actor: object) -> A:
        """The stored aggregate, if ``actor`` may read it.

        A seller gets the one `PermissionDeniedError` whether the id names another seller's
        aggregate or nothing at all: which ids exist is not its business.
        """
        reader = _check_actor(actor)
        try:
            aggregate: A | None = self._load(kind, aggregate_id, field)
        except NotFoundError:
            if reader.kind is not ActorKind.SELLER:
                raise
            aggregate = None  # refused below, outside this handler: no NotFoundError chained
        if aggregate is None or not reader.may(_READERS, aggregate.owner_id):
            raise _not_readable(reader, kind)
        return aggregate

    # ------------------------------------------------------------------ outbox

    def dispatch_pending(self, limit: int = 1000) -> DispatchReport:
        """Deliver up to ``limit`` due outbox events to the notifier, in order per aggregate.

        A failing notifier never fails the command that produced the event: the entry stays
        in the outbox with its attempt count and a next-attempt time (exponential backoff,
        capped at ``retry_max``), and its aggregate's later events wait behind it. Other
        aggregates' events are not held up, and events not yet due are not even read. This
        call waits for the notifier: run it in a background job, not in a request.

        Returns:
            Counts of delivered, failed and deferred events.
        """
        if type(limit) is not int or limit < 1:
            raise ValidationError("limit", limit, "must be a whole number from 1")
        with self._inline.exclusive():
            return self._dispatch_now(limit)

    def _dispatch_inline(self) -> DispatchReport:
        """The pass a command asks its dispatch thread for: commands go on meanwhile."""
        with self._inline.exclusive():
            return self._dispatch_now(_INLINE_LIMIT, settle_later=True)

    def _dispatch_now(
        self,
        limit: int,
        *,
        now: datetime | None = None,
        leased: list[OutboxEntry] | None = None,
        settle_later: bool = False,
    ) -> DispatchReport:
        return dispatch_due(
            self.repository,
            self.notifier,
            now=self.clock.now() if now is None else now,
            limit=limit,
            retry_base=self.retry_base,
            retry_max=self.retry_max,
            leased=leased,
            settle_later=settle_later,
        )
