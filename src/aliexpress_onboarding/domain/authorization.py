"""Store authorizations: a seller authorizes an app for its store, each one a record.

authorize_store --> active <--revoke_store/reauthorize_store--> revoked; record_tokens and
alert_token_expiry while active.

An authorization is keyed by its app and its store (`authorization_id`), so authorizing and
revoking cost the same for an app with 100 000 stores as for one with 1. A Self developer's
stores are bounded per developer account, across all its Self apps: each active Self
authorization *claims* its store in the account's scope (`BoundClaim`), a store claimed by two
apps counts once, and the repository refuses, atomically, a claim that would take the scope past
its limit (so the bound holds when processes race for the last store).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final

import attrs

from ..errors import RuleViolationError, ValidationError
from ._enums import IdentityHashEnum
from .account import DeveloperAccount, store_count
from .actors import Actor, ActorKind, Role
from .app import App, AppStatus, Store
from .eligibility import Problem
from .events import (
    Event,
    StoreAuthorizationRevoked,
    StoreAuthorized,
    TokenExpiring,
    TokenRefreshRefused,
    TokensIssued,
    TokensReplaced,
)
from .machine import EventRecorder, StateMachine, run
from .tokens import AccessToken, RefreshToken, TokenGrant
from .values import DeveloperType, aware, optional_aware, require_aware, text_field, version

__all__ = [
    "EXPIRY_NOTICE",
    "AlertTokenExpiry",
    "AuthorizationStatus",
    "BoundClaim",
    "BoundUsage",
    "ForgetTokens",
    "ReauthorizeStore",
    "RecordTokens",
    "RefuseRefresh",
    "RevokeStore",
    "StoreAuthorization",
    "authorization_id",
    "authorization_problems",
    "self_stores_scope",
]


class AuthorizationStatus(IdentityHashEnum):
    """Whether a store's authorization of an app stands."""

    ACTIVE = "active"
    REVOKED = "revoked"

    def __str__(self) -> str:
        return self.value


NOT_STORE_SELLER = Problem("not_store_seller", "A store can be authorized only by its own seller.")
APP_NOT_ACTIVE = Problem(
    "app_not_active", "A suspended app takes no new store authorizations until it is resumed."
)
STORE_OF_OTHER_ENTERPRISE = Problem(
    "store_of_other_enterprise",
    "A Self developer's app can be authorized only for stores of its own (verified) enterprise.",
)
ENTERPRISE_NOT_VERIFIED = Problem(
    "enterprise_not_verified",
    "A Self developer's stores are bounded by its enterprise verification, and a reviewer has"
    " not verified the enterprise yet (verify_enterprise).",
)
STORE_LIMIT_REACHED = Problem(
    "store_limit_reached",
    "The developer's Self apps already serve as many stores as the enterprise verification covers.",
)
STORE_ALREADY_AUTHORIZED = Problem(
    "store_already_authorized", "This store has already authorized the app."
)
STORE_NOT_AUTHORIZED = Problem("store_not_authorized", "This store has not authorized the app.")
OTHER_APP_OR_STORE = Problem(
    "other_app_or_store", "The command names another app or store than the authorization's."
)
NOT_OWNER_OR_STORE_SELLER = Problem(
    "not_owner_or_store_seller",
    "Only the app's owner or the store's own seller can revoke an authorization.",
)

NO_TOKENS = Problem("no_tokens", "The authorization holds no tokens (it was not made by OAuth).")
REFRESHABLE = Problem(
    "refreshable",
    "The token can still be refreshed: refresh it (refresh_due) rather than alert the seller.",
)
NOT_EXPIRING = Problem("not_expiring", "The token does not expire within the notice period.")
ALREADY_ALERTED = Problem("already_alerted", "The seller was alerted about this token already.")
GRANT_OF_ANOTHER_SELLER = Problem(
    "grant_of_another_seller", "The platform granted these tokens for another seller."
)

EXPIRY_NOTICE: Final = timedelta(days=3)
"""How long before a token that cannot be refreshed expires its seller is alerted."""

_ID_PREFIX: Final = "auth-"


def authorization_id(app_id: str, store_id: str) -> str:
    """The id of the authorization of the app ``app_id`` by the store ``store_id``.

    The same in every process (a digest of both ids), so two processes authorizing one store
    for one app at once write the same record, and one of them loses.
    """
    digest = hashlib.blake2b(
        f"{len(app_id)}:{app_id}:{store_id}".encode(), digest_size=16
    ).hexdigest()
    return f"{_ID_PREFIX}{digest}"


def self_stores_scope(account_id: str) -> str:
    """The scope in which the Self stores of the account ``account_id`` are counted."""
    return f"self-stores:{account_id}"


@attrs.frozen
class BoundClaim:
    """A member claimed in a bounded scope: at most ``limit`` distinct members per scope.

    A repository keeps, per scope, which members are claimed and by how many records; a
    write whose claim adds a member the scope does not hold yet, when it already holds
    ``limit`` or more, is refused (`limit_reached`) and writes nothing. A member claimed by
    several records counts once. Lowering a limit evicts nobody: it refuses new members.
    """

    scope: str
    member: str
    limit: int


def _count(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if type(value) is not int or value < 0:
        raise ValidationError(attribute.name, value, "must be a whole number from 0")


@attrs.frozen
class BoundUsage:
    """What a scope holds now: how many distinct members, and whether one of them is ours."""

    members: int = attrs.field(validator=_count)
    holds_member: bool = attrs.field(validator=attrs.validators.instance_of(bool))


NO_USAGE: Final = BoundUsage(0, holds_member=False)


def limit_reached() -> RuleViolationError:
    """The error a repository raises for a claim past its scope's limit."""
    return RuleViolationError("authorize_store", (STORE_LIMIT_REACHED,))


def _check_store(_: object, __: object, value: Any) -> None:
    if not isinstance(value, Store):
        raise ValidationError("store", value, "must be a Store")


def _optional(kind: type) -> Any:
    def validate(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None and not isinstance(value, kind):
            raise ValidationError(attribute.name, None, f"must be {kind.__name__}", secret=True)

    return validate


def _tokens(grant: TokenGrant | None) -> dict[str, Any]:
    """The fields a grant sets (all four None without one), the alert reset."""
    if grant is None:
        return dict.fromkeys(
            (
                "access_token",
                "refresh_token",
                "token_expires_at",
                "refresh_expires_at",
                "expiry_alerted_at",
                "refresh_refused_at",
            )
        )
    return {
        "access_token": grant.access_token,
        "refresh_token": grant.refresh_token,
        "token_expires_at": grant.expires_at,
        "refresh_expires_at": grant.refresh_expires_at,
        "expiry_alerted_at": None,
        "refresh_refused_at": None,
    }


def _check_grant(grant: object) -> None:
    if grant is not None and not isinstance(grant, TokenGrant):
        raise ValidationError("grant", None, "must be a TokenGrant", secret=True)


def _check_limit(_: object, attribute: attrs.Attribute[int | None], value: object) -> None:
    if value is not None:
        store_count(None, attribute, value)  # type: ignore[arg-type]


@attrs.frozen
class StoreAuthorization:
    """A store's authorization of an app: one record per app and store.

    Attributes:
        id: `authorization_id` of ``app_id`` and the store's id.
        app_id: the authorized app.
        account_id: the app's developer account (whose Self stores are bounded).
        app_owner_id: the app's owner, who may revoke the authorization too.
        developer_type: the app's developer type.
        store: the store, as its seller presented it when it last authorized the app.
        authorized_at: when the store last authorized the app.
        store_limit: for a Self app, the stores the enterprise verification covered when the
            store last authorized the app (the bound it was counted under); ``None`` for
            Commercial.
        status: active or revoked.
    """

    id: str = attrs.field(validator=text_field(128))
    app_id: str = attrs.field(validator=text_field(128))
    account_id: str = attrs.field(validator=text_field(128))
    app_owner_id: str = attrs.field(validator=text_field(128))
    developer_type: DeveloperType
    store: Store = attrs.field(validator=_check_store)
    authorized_at: datetime = attrs.field(validator=aware)
    created_at: datetime = attrs.field(validator=aware)
    updated_at: datetime = attrs.field(validator=aware)
    store_limit: int | None = attrs.field(validator=_check_limit)
    status: AuthorizationStatus = AuthorizationStatus.ACTIVE
    version: int = attrs.field(default=1, validator=version)
    access_token: AccessToken | None = attrs.field(default=None, validator=_optional(AccessToken))
    refresh_token: RefreshToken | None = attrs.field(
        default=None, validator=_optional(RefreshToken)
    )
    token_expires_at: datetime | None = attrs.field(default=None, validator=optional_aware)
    refresh_expires_at: datetime | None = attrs.field(default=None, validator=optional_aware)
    expiry_alerted_at: datetime | None = attrs.field(default=None, validator=optional_aware)
    refresh_refused_at: datetime | None = attrs.field(default=None, validator=optional_aware)

    machine: ClassVar[StateMachine[AuthorizationStatus]]

    def __attrs_post_init__(self) -> None:
        tokens = (
            self.access_token,
            self.refresh_token,
            self.token_expires_at,
            self.refresh_expires_at,
        )
        if any(t is None for t in tokens) and any(t is not None for t in tokens):
            raise ValidationError(
                "access_token", None, "tokens and their expiry times come all four or none"
            )

    @property
    def token_holder(self) -> str | None:
        """The seller whose tokens this record holds now (active, made through OAuth), or None."""
        return self.store.seller_id if self.is_active and self.has_tokens else None

    @property
    def has_tokens(self) -> bool:
        """Whether the authorization holds the seller's tokens (it was made through OAuth)."""
        return self.access_token is not None

    @property
    def can_outlive_its_token(self) -> bool:
        """Whether a refresh can extend the tokens.

        The refresh token outlives the access token, and the platform has not refused it.
        """
        return (
            self.refresh_expires_at is not None
            and self.token_expires_at is not None
            and self.refresh_expires_at > self.token_expires_at
            and self.refresh_refused_at is None
        )

    def refreshable_at(self, now: datetime) -> bool:
        """Whether a refresh at ``now`` can extend the tokens (see `can_outlive_its_token`)."""
        return (
            self.can_outlive_its_token
            and self.refresh_expires_at is not None
            and now < self.refresh_expires_at
        )

    @property
    def owner_id(self) -> str:
        """The store's seller: the authorization is its grant."""
        return self.store.seller_id

    @property
    def store_id(self) -> str:
        """The authorizing store's id."""
        return self.store.store_id

    @property
    def is_active(self) -> bool:
        """Whether the store authorizes the app now."""
        return self.status is AuthorizationStatus.ACTIVE

    @property
    def bound_claim(self) -> BoundClaim | None:
        """The store this record claims in its account's Self bound (active Self ones only)."""
        if self.store_limit is None or not self.is_active:
            return None
        return BoundClaim(self_stores_scope(self.account_id), self.store.store_id, self.store_limit)

    @classmethod
    def authorize(
        cls,
        *,
        app: App,
        account: DeveloperAccount,
        store: Store,
        usage: BoundUsage,
        actor: Actor,
        now: datetime,
        grant: TokenGrant | None = None,
    ) -> tuple[StoreAuthorization, tuple[Event, ...]]:
        """A seller authorizes ``app`` for its own store ``store`` (the first time).

        Args:
            app: the app; it must be active.
            account: the app's developer account: for a Self app, its `EnterpriseVerification`
                (never the seller's own claims) gives the enterprise and the bound.
            store: the store, presented by its seller.
            usage: for a Self app, what the account's Self bound holds now (the
                repository's `bound_usage` of `self_stores_scope`), else ignored.
            actor: the store's seller.
            now: the time of the authorization.
            grant: the seller's tokens, when the authorization came through OAuth.

        Raises:
            PermissionDeniedError: ``actor`` is not a seller.
            RuleViolationError: not the store's seller, a suspended app, a grant for another
                seller, or for a Self app a store of another enterprise or the bound reached.
            ValidationError: malformed arguments.
        """
        now = require_aware("now", now)
        _check_parties(app, account, store, usage)
        _check_grant(grant)
        limit = _limit_of(app, account)
        authorization = cls(
            id=authorization_id(app.id, store.store_id),
            app_id=app.id,
            account_id=app.account_id,
            app_owner_id=app.owner_id,
            developer_type=app.developer_type,
            store=store,
            authorized_at=now,
            created_at=now,
            updated_at=now,
            store_limit=limit,
            **_tokens(grant),
        )
        AUTHORIZATION_MACHINE.check_creation(authorization, actor)
        problems = authorization_problems(app, account, store, usage, actor, grant)
        if problems:
            raise RuleViolationError("authorize_store", problems)
        recorder = EventRecorder(authorization.id, 1, now, actor)
        recorder.record(StoreAuthorized, store_id=store.store_id, seller_id=store.seller_id)
        _record_grant(recorder, grant)
        return authorization, tuple(recorder.events)

    def handle(
        self,
        command: ReauthorizeStore
        | RevokeStore
        | RecordTokens
        | RefuseRefresh
        | ForgetTokens
        | AlertTokenExpiry,
        actor: Actor,
        now: datetime,
    ) -> tuple[StoreAuthorization, tuple[Event, ...]]:
        """Apply one command; the authorization itself is never changed.

        Raises:
            PermissionDeniedError: the actor may not run the command.
            TransitionNotAllowedError: the command is not allowed in the current state.
            RuleViolationError: a domain rule refuses the command now (see ``.problems``).
            InvalidDateTimeError: ``now`` is naive.
        """
        return run(AUTHORIZATION_MACHINE, self, command, actor, now)

    def _repr_html_(self) -> str:
        from .records import record_html  # only in notebooks

        return record_html(self)

    def unique_keys(self) -> frozenset[str]:
        """None: the id is the app and the store already."""
        return frozenset()


def _check_parties(app: object, account: object, store: object, usage: object) -> None:
    if not isinstance(app, App):
        raise ValidationError("app", app, "must be an App")
    if not isinstance(account, DeveloperAccount) or account.id != app.account_id:
        raise ValidationError("account", account, "must be the app's DeveloperAccount")
    if not isinstance(store, Store):
        raise ValidationError("store", store, "must be a Store")
    if not isinstance(usage, BoundUsage):
        raise ValidationError("usage", usage, "must be a BoundUsage")


def _limit_of(app: App, account: DeveloperAccount) -> int | None:
    """The bound a Self app's store counts under: only what a verifier recorded."""
    return account.verified_store_count if app.developer_type is DeveloperType.SELF else None


def _record_grant(recorder: EventRecorder, grant: TokenGrant | None) -> None:
    if grant is not None:
        recorder.record(
            TokensIssued, expires_at=grant.expires_at, refresh_expires_at=grant.refresh_expires_at
        )


def authorization_problems(
    app: App,
    account: DeveloperAccount,
    store: Store,
    usage: BoundUsage,
    actor: Actor,
    grant: TokenGrant | None = None,
) -> list[Problem]:
    """What refuses ``actor`` authorizing ``app`` for ``store`` now (empty: nothing does).

    Own store only, an active app, a grant for the store's seller; for a Self app, a verified
    enterprise, the store of it, within the developer's bound (``usage``). A service checks
    it before an OAuth code is exchanged, so a refusal costs the seller nothing.
    """
    problems = []
    if actor.id != store.seller_id:
        problems.append(NOT_STORE_SELLER)
    if grant is not None and grant.seller_id not in (None, store.seller_id):
        problems.append(GRANT_OF_ANOTHER_SELLER)
    if app.status is not AppStatus.ACTIVE:
        problems.append(APP_NOT_ACTIVE)
    if app.developer_type is DeveloperType.SELF:
        if account.verification is None:
            problems.append(ENTERPRISE_NOT_VERIFIED)
        elif store.enterprise_id != account.verification.enterprise_id:
            problems.append(STORE_OF_OTHER_ENTERPRISE)
        elif not usage.holds_member and usage.members >= account.verification.store_count:
            problems.append(STORE_LIMIT_REACHED)
    return problems


@attrs.frozen
class ReauthorizeStore:
    """The store's seller authorizes the app again after a revocation."""

    app: App
    account: DeveloperAccount
    store: Store
    usage: BoundUsage = NO_USAGE
    grant: TokenGrant | None = None
    name: ClassVar[str] = "reauthorize_store"

    def __attrs_post_init__(self) -> None:
        _check_parties(self.app, self.account, self.store, self.usage)
        _check_grant(self.grant)

    def guard(
        self, authorization: StoreAuthorization, actor: Actor, now: datetime
    ) -> Sequence[Problem]:
        """As for a first authorization, for the same app and store."""
        if (self.app.id, self.store.store_id) != (authorization.app_id, authorization.store_id):
            return (OTHER_APP_OR_STORE,)
        return authorization_problems(
            self.app, self.account, self.store, self.usage, actor, self.grant
        )

    def effect(self, authorization: StoreAuthorization, events: EventRecorder) -> Mapping[str, Any]:
        """Record the authorization again, under the account's bound of now."""
        events.record(StoreAuthorized, store_id=self.store.store_id, seller_id=self.store.seller_id)
        _record_grant(events, self.grant)
        return {
            "store": self.store,
            "authorized_at": events.now,
            "store_limit": _limit_of(self.app, self.account),
            **_tokens(self.grant),
        }


@attrs.frozen
class RevokeStore:
    """The store's seller (or the app's owner, or the system) withdraws the authorization."""

    name: ClassVar[str] = "revoke_store"

    def guard(
        self, authorization: StoreAuthorization, actor: Actor, now: datetime
    ) -> Sequence[Problem]:
        """Only the store's seller or the app's owner among sellers."""
        if actor.kind is ActorKind.SELLER and actor.id not in (
            authorization.app_owner_id,
            authorization.store.seller_id,
        ):
            return (NOT_OWNER_OR_STORE_SELLER,)
        return ()

    def effect(self, authorization: StoreAuthorization, events: EventRecorder) -> Mapping[str, Any]:
        """Record it and forget the tokens; the store's place in a Self bound is given back."""
        events.record(StoreAuthorizationRevoked, store_id=authorization.store_id)
        return _tokens(None)


@attrs.frozen
class RecordTokens:
    """Keep the seller's new tokens: a refresh, or the seller authorizing the app again.

    The new pair replaces the old one in one write: until it is stored the old pair is kept,
    so a refresh whose answer is lost leaves the old refresh token to try again with.
    """

    grant: TokenGrant = attrs.field(validator=attrs.validators.instance_of(TokenGrant))
    name: ClassVar[str] = "record_tokens"

    def guard(
        self, authorization: StoreAuthorization, actor: Actor, now: datetime
    ) -> Sequence[Problem]:
        """A seller only for its own store; the grant must be this store's seller's."""
        problems = []
        if actor.kind is ActorKind.SELLER and actor.id != authorization.store.seller_id:
            problems.append(NOT_STORE_SELLER)
        if self.grant.seller_id not in (None, authorization.store.seller_id):
            problems.append(GRANT_OF_ANOTHER_SELLER)
        return problems

    def effect(self, authorization: StoreAuthorization, events: EventRecorder) -> Mapping[str, Any]:
        """Replace the pair; the event gives the new expiry times, never the tokens."""
        _record_grant(events, self.grant)
        return _tokens(self.grant)


@attrs.frozen
class ForgetTokens:
    """The seller's tokens went to another of its stores: one valid token per seller and app.

    The platform keeps one grant per seller and app, so when the seller authorizes the app for
    another store the tokens this record holds stop working: it forgets them (the store stays
    authorized; calls for it need the seller to authorize it again).
    """

    store_id: str = attrs.field(validator=text_field(128))
    name: ClassVar[str] = "forget_tokens"

    def guard(
        self, authorization: StoreAuthorization, actor: Actor, now: datetime
    ) -> Sequence[Problem]:
        """Tokens to forget."""
        return () if authorization.has_tokens else (NO_TOKENS,)

    def effect(self, authorization: StoreAuthorization, events: EventRecorder) -> Mapping[str, Any]:
        """Drop the pair; the event names the store that holds the seller's tokens now."""
        events.record(TokensReplaced, store_id=self.store_id)
        return _tokens(None)


@attrs.frozen
class RefuseRefresh:
    """The platform refused the refresh token: it cannot be refreshed any more.

    The seller revoked the app in the seller centre, or the token was replaced or expired. The
    seller is then alerted before the access token expires (`AlertTokenExpiry`).
    """

    reason: str = attrs.field(validator=text_field(1000))
    name: ClassVar[str] = "refuse_refresh"

    def guard(
        self, authorization: StoreAuthorization, actor: Actor, now: datetime
    ) -> Sequence[Problem]:
        """Tokens to refuse."""
        return () if authorization.has_tokens else (NO_TOKENS,)

    def effect(self, authorization: StoreAuthorization, events: EventRecorder) -> Mapping[str, Any]:
        """Record it: no refresh is tried again; `AlertTokenExpiry` may now apply."""
        events.record(TokenRefreshRefused, reason=self.reason)
        return {"refresh_refused_at": events.now}


@attrs.frozen
class AlertTokenExpiry:
    """Tell the seller, once per token, that a token that cannot be refreshed expires soon.

    Allowed from `EXPIRY_NOTICE` (3 days) before the access token expires, when the refresh
    token does not outlive it (a refresh could not help): the seller must authorize again.
    """

    name: ClassVar[str] = "alert_token_expiry"

    def guard(
        self, authorization: StoreAuthorization, actor: Actor, now: datetime
    ) -> Sequence[Problem]:
        """Tokens that cannot be refreshed, expiring within the notice, not alerted yet."""
        expires_at = authorization.token_expires_at
        if expires_at is None:
            return (NO_TOKENS,)
        if authorization.refreshable_at(now):
            return (REFRESHABLE,)
        if now < expires_at - EXPIRY_NOTICE:
            return (NOT_EXPIRING,)
        if authorization.expiry_alerted_at is not None:
            return (ALREADY_ALERTED,)
        return ()

    def effect(self, authorization: StoreAuthorization, events: EventRecorder) -> Mapping[str, Any]:
        """Record the alert (the e-mail goes out with its event)."""
        events.record(TokenExpiring, expires_at=authorization.token_expires_at)
        return {"expiry_alerted_at": events.now}


AUTHORIZATION_MACHINE: StateMachine[AuthorizationStatus] = StateMachine(
    "StoreAuthorization",
    AuthorizationStatus,
    AuthorizationStatus.ACTIVE,
    commands={
        "authorize_store": frozenset({Role.SELLER}),
        ReauthorizeStore.name: frozenset({Role.SELLER}),
        RevokeStore.name: frozenset({Role.SELLER, Role.SYSTEM}),
        RecordTokens.name: frozenset({Role.SELLER, Role.SYSTEM}),
        RefuseRefresh.name: frozenset({Role.SYSTEM}),
        ForgetTokens.name: frozenset({Role.SYSTEM}),
        AlertTokenExpiry.name: frozenset({Role.SYSTEM}),
    },
    edges=[
        (AuthorizationStatus.ACTIVE, RevokeStore.name, AuthorizationStatus.REVOKED),
        (AuthorizationStatus.REVOKED, ReauthorizeStore.name, AuthorizationStatus.ACTIVE),
        (AuthorizationStatus.ACTIVE, RecordTokens.name, AuthorizationStatus.ACTIVE),
        (AuthorizationStatus.ACTIVE, RefuseRefresh.name, AuthorizationStatus.ACTIVE),
        (AuthorizationStatus.ACTIVE, ForgetTokens.name, AuthorizationStatus.ACTIVE),
        (AuthorizationStatus.ACTIVE, AlertTokenExpiry.name, AuthorizationStatus.ACTIVE),
    ],
    creation="authorize_store",
)
StoreAuthorization.machine = AUTHORIZATION_MACHINE
