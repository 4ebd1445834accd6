"""Stateful and sequence properties of the engine: pure, guarded, versioned transitions."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from aliexpress_onboarding.domain.account import (
    AcceptAgreement,
    AccountStatus,
    DeveloperAccount,
    DeveloperProfile,
    SubmitProfile,
    VerifyEnterprise,
)
from aliexpress_onboarding.domain.actors import Actor, ActorKind
from aliexpress_onboarding.domain.app import App, AppStatus, ResetSecret, Resume, Store, Suspend
from aliexpress_onboarding.domain.application import (
    ApplicationStatus,
    Approve,
    DeveloperApplication,
    Escalate,
    Reject,
)
from aliexpress_onboarding.domain.authorization import (
    EXPIRY_NOTICE,
    NO_USAGE,
    AlertTokenExpiry,
    BoundUsage,
    ForgetTokens,
    ReauthorizeStore,
    RecordTokens,
    RefuseRefresh,
    RevokeStore,
    StoreAuthorization,
    authorization_id,
)
from aliexpress_onboarding.domain.eligibility import Applicant
from aliexpress_onboarding.domain.events import Event, ReviewEscalated
from aliexpress_onboarding.domain.review import ReviewPolicy
from aliexpress_onboarding.domain.tokens import AccessToken, RefreshToken, TokenGrant
from aliexpress_onboarding.domain.values import (
    AppKey,
    AppSecret,
    DeveloperType,
    EmailAddress,
    LicenseDocument,
)
from aliexpress_onboarding.errors import OnboardingError

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DOCUMENT = LicenseDocument.from_bytes(b"\xff\xd8\xff" + bytes(16), filename="l.jpg")
PROFILE = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise.example.com"))
SELLER_FACTS = Applicant(
    name="Hangzhou Sunrise", country="CN", is_enterprise=True, is_aliexpress_seller=True
)
NON_SELLER_FACTS = attrs.evolve(SELLER_FACTS, is_aliexpress_seller=False)
REVIEWER = Actor.reviewer("rev-1")
SYSTEM = Actor.system()
STRANGER = Actor.seller("seller-9")
POLICY = ReviewPolicy()

# seller-1 owns acc-1 (enterprise ent-1), seller-2 owns acc-2 (enterprise ent-2).
OWNERS = {"acc-1": ("seller-1", "ent-1"), "acc-2": ("seller-2", "ent-2")}
STORES = (
    Store("st-1a", "seller-1", "ent-1"),
    Store("st-1b", "seller-1", "ent-1"),
    Store("st-1c", "seller-1b", "ent-1"),  # another seller of the same enterprise
    Store("st-2a", "seller-2", "ent-2"),
    Store("st-2b", "seller-2", "ent-2"),
    Store("st-9a", "seller-9", "ent-9"),
)
STORE_IDS = tuple(s.store_id for s in STORES)
APP_NAMES = ("sunrise_sync", "sunrise.sync", "Sync_2", "bad name")
ROLES = st.sampled_from(("owner", "other_seller", "stranger", "reviewer", "system"))


def roles(rightful: str) -> st.SearchStrategy[str]:
    """Any role; more often the one that may run the command, or the owner (the usual impostor)."""
    return st.one_of(st.just(rightful), st.just("owner"), ROLES)


PICK = st.integers(min_value=0, max_value=15)
PENDING_AGREEMENT = AccountStatus.PENDING_AGREEMENT
PENDING_PROFILE = AccountStatus.PENDING_PROFILE


def resolve(role: str, owner_id: str) -> Actor:
    """The actor playing ``role`` towards an aggregate owned by ``owner_id``."""
    if role == "owner":
        return Actor.seller(owner_id)
    if role == "other_seller":
        return Actor.seller("seller-2" if owner_id == "seller-1" else "seller-1")
    if role == "stranger":
        return STRANGER
    return REVIEWER if role == "reviewer" else SYSTEM


def field_values(aggregate: Any) -> tuple[object, ...]:
    return tuple(getattr(aggregate, f.name) for f in attrs.fields(type(aggregate)))


def same_objects(before: tuple[object, ...], after: tuple[object, ...]) -> bool:
    return len(before) == len(after) and all(a is b for a, b in zip(before, after, strict=True))


def flat_texts(value: object) -> list[str]:
    """Every leaf of ``value`` (attrs classes, mappings, sequences) as text, plus its repr."""
    if attrs.has(type(value)):
        return [repr(value), *flat_texts(attrs.asdict(value, recurse=True))]  # type: ignore[arg-type]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*flat_texts(k), *flat_texts(v))]
    if isinstance(value, list | tuple | set | frozenset):
        return [t for v in value for t in flat_texts(v)]
    return [str(value), repr(value)]


Snapshot = tuple[DeveloperAccount, DeveloperAccount, dict[str, tuple[object, ...]]]


def mine(pick: int, items: list[Any]) -> Any:
    return items[pick % len(items)]


class OnboardingMachine(RuleBasedStateMachine):
    """One or two accounts, their applications, apps and store authorizations."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.accounts: dict[str, DeveloperAccount] = {}
        self.applications: dict[str, DeveloperApplication] = {}
        self.apps: dict[str, App] = {}
        self.authorizations: dict[str, StoreAuthorization] = {}
        self.verified: dict[str, list[tuple[str, int]]] = {"acc-1": [], "acc-2": []}
        self.versions: dict[str, int] = {}
        self.events: list[Event] = []
        self.event_texts: list[str] = []  # each event's repr, str and every field, rendered once
        self.secrets: list[str] = []
        self.counter = 0

    # ------------------------------------------------------------------ helpers

    def next_id(self) -> int:
        self.counter += 1
        return self.counter

    def log(self, events: tuple[Event, ...]) -> None:
        self.events.extend(events)
        self.event_texts.extend("\n".join([repr(e), str(e), *flat_texts(e)]) for e in events)

    def record_creation(self, aggregate: Any, events: tuple[Event, ...], actor: Actor) -> None:
        assert 1 == aggregate.version
        assert [aggregate.id] * len(events) == [e.aggregate_id for e in events]
        assert all(e.version == 1 and e.occurred_at == self.now for e in events)
        assert all(e.actor == actor for e in events)
        self.versions[aggregate.id] = 1
        self.log(events)

    def transition(self, store: dict[str, Any], key: str, command: Any, actor: Actor) -> bool:
        """Run ``command``; the input is never changed; the model keeps the new aggregate."""
        aggregate = store[key]
        snapshot = copy.deepcopy(aggregate)
        before = field_values(aggregate)
        try:
            new, events = aggregate.handle(command, actor, self.now)
        except OnboardingError:
            new, events = None, ()
        assert snapshot == aggregate
        assert same_objects(before, field_values(aggregate))
        if new is None:
            return False
        assert aggregate.version + 1 == new.version
        assert events, "every successful transition records at least one event"
        assert all(e.aggregate_id == key and e.version == new.version for e in events)
        assert all(e.occurred_at == self.now and e.actor == actor for e in events)
        self.versions[key] += 1
        self.log(events)
        store[key] = new
        return True

    def creation_inputs(self, account: DeveloperAccount) -> Snapshot:
        """A copy of the account passed in, and every field object of every aggregate."""
        fields = {a.id: field_values(a) for a in self.aggregates()}
        return copy.deepcopy(account), account, fields

    def check_inputs_unchanged(self, snapshot: Snapshot) -> None:
        copied, account, fields = snapshot
        assert copied == account
        now = {a.id: field_values(a) for a in self.aggregates()}
        assert fields.keys() == now.keys()
        assert all(same_objects(fields[k], now[k]) for k in now)

    # ------------------------------------------------------------------ clock

    @rule(hours=st.one_of(st.just(48), st.integers(min_value=1, max_value=72)))
    def advance_clock(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    # ------------------------------------------------------------------ accounts

    def register(self, account_id: str, role: str, store_count: int) -> None:
        seller_id, enterprise_id = OWNERS[account_id]
        actor = resolve(role, seller_id)
        try:
            account, events = DeveloperAccount.register(
                account_id,
                seller_id=seller_id,
                enterprise_id=enterprise_id,
                actor=actor,
                now=self.now,
            )
        except OnboardingError:
            assert role not in ("owner", "system")
            return
        assert role in ("owner", "system")
        assert (AccountStatus.PENDING_AGREEMENT, None) == (account.status, account.verification)
        self.record_creation(account, events, actor)
        self.accounts[account_id] = account
        self.verify_enterprise(list(self.accounts).index(account_id), "reviewer", store_count, True)

    @precondition(lambda self: self.accounts)
    @rule(
        pick=PICK,
        role=st.one_of(st.just("own_reviewer"), roles("reviewer")),
        store_count=st.integers(min_value=0, max_value=3),
        claimed=st.booleans(),
    )
    def verify_enterprise(self, pick: int, role: str, store_count: int, claimed: bool) -> None:
        """A reviewer or the system verifies; never the seller, nor a reviewer who is it."""
        key = mine(pick, sorted(self.accounts))
        account = self.accounts[key]
        enterprise = account.enterprise_id if claimed else "ent-9"
        actor = (
            Actor.reviewer(account.owner_id)
            if role == "own_reviewer"
            else resolve(role, account.owner_id)
        )
        expected = role in ("reviewer", "system")
        command = VerifyEnterprise(enterprise, store_count)
        assert expected == self.transition(self.accounts, key, command, actor)
        if expected:
            self.verified[key].append((enterprise, store_count))

    @initialize(
        store_count=st.integers(min_value=1, max_value=3),
        progress=st.integers(min_value=0, max_value=9),
        developer_type=st.sampled_from(DeveloperType),
        escalator=st.sampled_from((None, "owner", "system")),
    )
    def register_first_account(
        self, store_count: int, progress: int, developer_type: DeveloperType, escalator: str | None
    ) -> None:
        """Register acc-1, then walk ``progress`` steps of the happy path (each one checked).

        The path escalates the application first when ``escalator`` (the owner or the system)
        is given.
        """
        self.register("acc-1", "owner", store_count)
        path: list[Callable[[], None]] = [
            lambda: self.accept_agreement(0, "owner"),
            lambda: self.submit_profile(0, "owner"),
            lambda: self.submit_application(0, "owner", developer_type, True),
        ]
        if escalator is not None:
            path += [lambda: self.advance_clock(48), lambda: self.escalate(0, escalator)]
        path += [
            lambda: self.approve(0, "reviewer"),
            lambda: self.create_app(0, "owner", developer_type, "sunrise_sync"),
            lambda: self.authorize_store(0, 0, True, "store_seller"),
            lambda: self.authorize_store(0, 1, True, "store_seller"),
        ]
        for step in path[:progress]:
            step()

    @precondition(lambda self: "acc-2" not in self.accounts)
    @rule(role=roles("owner"), store_count=st.integers(min_value=1, max_value=3))
    def register_second_account(self, role: str, store_count: int) -> None:
        self.register("acc-2", role, store_count)

    @precondition(lambda self: any(a.status is PENDING_AGREEMENT for a in self.accounts.values()))
    @rule(pick=PICK, role=roles("owner"))
    def accept_agreement(self, pick: int, role: str) -> None:
        key = mine(pick, sorted(self.accounts))
        account = self.accounts[key]
        actor = resolve(role, account.owner_id)
        expected = role == "owner" and account.status is AccountStatus.PENDING_AGREEMENT
        assert expected == self.transition(self.accounts, key, AcceptAgreement("2024-01"), actor)

    @precondition(lambda self: any(a.status is PENDING_PROFILE for a in self.accounts.values()))
    @rule(pick=PICK, role=roles("owner"))
    def submit_profile(self, pick: int, role: str) -> None:
        key = mine(pick, sorted(self.accounts))
        account = self.accounts[key]
        actor = resolve(role, account.owner_id)
        expected = role == "owner" and account.status is AccountStatus.PENDING_PROFILE
        assert expected == self.transition(self.accounts, key, SubmitProfile(PROFILE), actor)

    # ------------------------------------------------------------------ applications

    @precondition(lambda self: any(a.is_active for a in self.accounts.values()))
    @rule(
        pick=PICK,
        role=roles("owner"),
        developer_type=st.sampled_from(DeveloperType),
        is_seller=st.booleans(),
    )
    def submit_application(
        self, pick: int, role: str, developer_type: DeveloperType, is_seller: bool
    ) -> None:
        account = self.accounts[mine(pick, sorted(self.accounts))]
        actor = resolve(role, account.owner_id)
        taken = any(
            a.account_id == account.id
            and a.developer_type is developer_type
            and (a.is_open or a.is_approved)
            for a in self.applications.values()
        )
        eligible = is_seller or developer_type is DeveloperType.COMMERCIAL
        expected = role == "owner" and account.is_active and not taken and eligible
        snapshot = self.creation_inputs(account)
        application_id = f"appl-{self.next_id()}"
        try:
            application, events = DeveloperApplication.submit(
                application_id,
                account=account,
                developer_type=developer_type,
                applicant=SELLER_FACTS if is_seller else NON_SELLER_FACTS,
                document=DOCUMENT,
                existing=list(self.applications.values()),
                actor=actor,
                now=self.now,
            )
        except OnboardingError:
            self.check_inputs_unchanged(snapshot)
            assert not expected
            return
        self.check_inputs_unchanged(snapshot)
        assert expected
        assert (ApplicationStatus.UNDER_REVIEW, self.now) == (
            application.status,
            application.submitted_at,
        )
        self.record_creation(application, events, actor)
        self.applications[application_id] = application

    def decide(self, pick: int, role: str, command: Approve | Reject) -> None:
        key = mine(pick, sorted(self.applications))
        application = self.applications[key]
        actor = resolve(role, application.owner_id)
        expected = role == "reviewer" and application.is_open
        assert expected == self.transition(self.applications, key, command, actor)

    @precondition(lambda self: any(a.is_open for a in self.applications.values()))
    @rule(pick=PICK, role=roles("reviewer"))
    def approve(self, pick: int, role: str) -> None:
        self.decide(pick, role, Approve())

    @precondition(lambda self: any(a.is_open for a in self.applications.values()))
    @rule(pick=PICK, role=roles("reviewer"))
    def reject(self, pick: int, role: str) -> None:
        self.decide(pick, role, Reject("the licence is blurry"))

    @precondition(lambda self: any(a.is_open for a in self.applications.values()))
    @rule(pick=PICK, role=roles("system"))
    def escalate(self, pick: int, role: str) -> None:
        """The owner (its own application only) or the system; once; never early."""
        key = mine(pick, sorted(self.applications))
        application = self.applications[key]
        actor = resolve(role, application.owner_id)
        expected = (
            role in ("owner", "system")
            and application.status is ApplicationStatus.UNDER_REVIEW
            and self.now >= POLICY.deadline(application.submitted_at)
        )
        command = Escalate(f"ticket-{self.next_id()}")
        assert expected == self.transition(self.applications, key, command, actor)

    # ------------------------------------------------------------------ apps

    @precondition(lambda self: any(a.is_approved for a in self.applications.values()))
    @rule(
        pick=PICK,
        role=roles("owner"),
        developer_type=st.sampled_from(DeveloperType),
        name=st.sampled_from(APP_NAMES),
    )
    def create_app(self, pick: int, role: str, developer_type: DeveloperType, name: str) -> None:
        account = self.accounts[mine(pick, sorted(self.accounts))]
        actor = resolve(role, account.owner_id)
        approved = any(
            a.account_id == account.id and a.developer_type is developer_type and a.is_approved
            for a in self.applications.values()
        )
        taken = any(a.account_id == account.id and a.name.value == name for a in self.apps.values())
        expected = (
            role == "owner" and account.is_active and approved and not taken and " " not in name
        )
        n = self.next_id()
        secret = f"secret-{n:04d}-0123456789abcdef"
        snapshot = self.creation_inputs(account)
        try:
            app, events = App.create(
                f"app-{n}",
                account=account,
                developer_type=developer_type,
                name=name,
                applications=list(self.applications.values()),
                existing_apps=list(self.apps.values()),
                app_key=AppKey(f"3000{n}"),
                secret=AppSecret(secret),
                actor=actor,
                now=self.now,
            )
        except OnboardingError:
            self.check_inputs_unchanged(snapshot)
            assert not expected
            return
        self.check_inputs_unchanged(snapshot)
        assert expected
        self.secrets.append(secret)
        self.record_creation(app, events, actor)
        self.apps[app.id] = app

    @precondition(lambda self: self.apps)
    @rule(pick=PICK, role=roles("owner"), overlap_hours=st.sampled_from((0, 1, 24)))
    def reset_secret(self, pick: int, role: str, overlap_hours: int) -> None:
        key = mine(pick, sorted(self.apps))
        app = self.apps[key]
        actor = resolve(role, app.owner_id)
        secret = f"reset-{self.next_id():04d}-0123456789abcdef"
        self.secrets.append(secret)
        command = ResetSecret(AppSecret(secret), overlap=timedelta(hours=overlap_hours))
        assert (role == "owner") == self.transition(self.apps, key, command, actor)

    def self_usage(self, account_id: str, store_id: str) -> BoundUsage:
        """What the repository would say: the account's distinct active Self stores."""
        held = {
            a.store_id
            for a in self.authorizations.values()
            if a.account_id == account_id and a.bound_claim is not None
        }
        return BoundUsage(len(held), holds_member=store_id in held)

    @precondition(lambda self: self.apps)
    @rule(
        pick=PICK,
        store_pick=PICK,
        own_enterprise=st.booleans(),
        role=st.one_of(st.just("store_seller"), ROLES),
    )
    def authorize_store(self, pick: int, store_pick: int, own_enterprise: bool, role: str) -> None:
        """First time a record is made; after a revocation the record is authorized again."""
        app = self.apps[mine(pick, sorted(self.apps))]
        account = self.accounts[app.account_id]
        verification = account.verification
        ours = [s for s in STORES if s.enterprise_id == account.enterprise_id]
        store = mine(store_pick, ours if own_enterprise else list(STORES))
        actor = (
            Actor.seller(store.seller_id) if role == "store_seller" else resolve(role, app.owner_id)
        )
        is_self = app.developer_type is DeveloperType.SELF
        usage = self.self_usage(account.id, store.store_id) if is_self else NO_USAGE
        self_ok = not is_self or (
            verification is not None
            and store.enterprise_id == verification.enterprise_id
            and (usage.holds_member or usage.members < verification.store_count)
        )
        expected = (
            actor.kind is ActorKind.SELLER
            and actor.id == store.seller_id
            and app.status is AppStatus.ACTIVE
            and self_ok
        )
        key = authorization_id(app.id, store.store_id)
        existing = self.authorizations.get(key)
        if existing is not None:
            again = ReauthorizeStore(app, account, store, usage)
            expected = expected and not existing.is_active
            assert expected == self.transition(self.authorizations, key, again, actor)
            return
        try:
            authorization, events = StoreAuthorization.authorize(
                app=app, account=account, store=store, usage=usage, actor=actor, now=self.now
            )
        except OnboardingError:
            assert not expected
            return
        assert expected
        assert (key, store.store_id, app.id) == (
            authorization.id,
            authorization.store_id,
            authorization.app_id,
        )
        self.record_creation(authorization, events, actor)
        self.authorizations[key] = authorization

    @precondition(lambda self: self.authorizations)
    @rule(
        pick=PICK,
        role=st.one_of(st.just("store_seller"), ROLES),
        hours=st.sampled_from((1, 48, 24 * 30)),
        refresh_longer=st.booleans(),
        own_grant=st.booleans(),
    )
    def record_tokens(
        self, pick: int, role: str, hours: int, refresh_longer: bool, own_grant: bool
    ) -> None:
        """New tokens: by the store's seller or the system, for the store's seller only."""
        key = mine(pick, sorted(self.authorizations))
        authorization = self.authorizations[key]
        seller = authorization.store.seller_id
        actor = Actor.seller(seller) if role == "store_seller" else resolve(role, seller)
        n = self.next_id()
        expires = self.now + timedelta(hours=hours)
        grant = TokenGrant(
            access_token=AccessToken(f"access-token-{n:06d}-xyz"),
            refresh_token=RefreshToken(f"refresh-token-{n:06d}-xyz"),
            expires_at=expires,
            refresh_expires_at=expires + timedelta(days=30 if refresh_longer else 0),
            seller_id=seller if own_grant else "seller-elsewhere",
        )
        self.secrets += [grant.access_token.reveal(), grant.refresh_token.reveal()]
        expected = (
            authorization.is_active
            and own_grant
            and (actor.kind is ActorKind.SYSTEM or actor == Actor.seller(seller))
        )
        assert expected == self.transition(self.authorizations, key, RecordTokens(grant), actor)

    @precondition(lambda self: self.authorizations)
    @rule(pick=PICK, role=roles("system"))
    def refuse_or_forget(self, pick: int, role: str) -> None:
        """The system records a refused refresh, or forgets tokens moved to another store."""
        key = mine(pick, sorted(self.authorizations))
        authorization = self.authorizations[key]
        actor = resolve(role, authorization.store.seller_id)
        expected = authorization.is_active and role == "system" and authorization.has_tokens
        command = RefuseRefresh("IllegalRefreshToken") if pick % 2 else ForgetTokens("st-x")
        assert expected == self.transition(self.authorizations, key, command, actor)

    @precondition(lambda self: self.authorizations)
    @rule(pick=PICK, role=roles("system"))
    def alert_token_expiry(self, pick: int, role: str) -> None:
        """Once per token, from 3 days before expiry, only when no refresh can extend it."""
        key = mine(pick, sorted(self.authorizations))
        authorization = self.authorizations[key]
        actor = resolve(role, authorization.store.seller_id)
        expires = authorization.token_expires_at
        expected = (
            authorization.is_active
            and role == "system"
            and expires is not None
            and not authorization.refreshable_at(self.now)
            and self.now >= expires - EXPIRY_NOTICE
            and authorization.expiry_alerted_at is None
        )
        assert expected == self.transition(self.authorizations, key, AlertTokenExpiry(), actor)

    @precondition(lambda self: self.authorizations)
    @rule(pick=PICK, role=st.one_of(st.just("store_seller"), ROLES))
    def revoke_store(self, pick: int, role: str) -> None:
        key = mine(pick, sorted(self.authorizations))
        authorization = self.authorizations[key]
        store = authorization.store
        actor = (
            Actor.seller(store.seller_id)
            if role == "store_seller"
            else resolve(role, authorization.app_owner_id)
        )
        expected = authorization.is_active and (
            actor.kind is ActorKind.SYSTEM
            or (
                actor.kind is ActorKind.SELLER
                and actor.id in (authorization.app_owner_id, store.seller_id)
            )
        )
        assert expected == self.transition(self.authorizations, key, RevokeStore(), actor)

    @precondition(lambda self: self.apps)
    @rule(pick=PICK, role=roles("reviewer"))
    def suspend(self, pick: int, role: str) -> None:
        key = mine(pick, sorted(self.apps))
        app = self.apps[key]
        expected = role == "reviewer" and app.status is AppStatus.ACTIVE
        actor = resolve(role, app.owner_id)
        assert expected == self.transition(self.apps, key, Suspend("abuse report"), actor)

    @precondition(lambda self: any(a.status is AppStatus.SUSPENDED for a in self.apps.values()))
    @rule(pick=PICK, role=roles("reviewer"))
    def resume(self, pick: int, role: str) -> None:
        key = mine(pick, sorted(self.apps))
        app = self.apps[key]
        expected = role == "reviewer" and app.status is AppStatus.SUSPENDED
        actor = resolve(role, app.owner_id)
        assert expected == self.transition(self.apps, key, Resume(), actor)

    # ------------------------------------------------------------------ invariants

    def aggregates(self) -> list[Any]:
        return [
            *self.accounts.values(),
            *self.applications.values(),
            *self.apps.values(),
            *self.authorizations.values(),
        ]

    @invariant()
    def version_counts_successful_transitions(self) -> None:
        """Version is 1 at creation and grows by exactly 1 per successful transition."""
        tracked = {a.id: self.versions[a.id] for a in self.aggregates()}
        assert tracked == {a.id: a.version for a in self.aggregates()}

    @invariant()
    def one_open_or_approved_application_per_type(self) -> None:
        """At most one open or approved application per (account, developer type)."""
        counts = Counter(
            (a.account_id, a.developer_type)
            for a in self.applications.values()
            if a.is_open or a.is_approved
        )
        assert all(1 >= n for n in counts.values())

    @invariant()
    def apps_only_for_approved_types(self) -> None:
        """Every app's developer type has an approved application of its account."""
        approved = {
            (a.account_id, a.developer_type) for a in self.applications.values() if a.is_approved
        }
        assert set() == {(a.account_id, a.developer_type) for a in self.apps.values()} - approved

    @invariant()
    def escalation_once_and_never_early(self) -> None:
        """An application is escalated at most once, never before the policy's deadline."""
        escalations = [e for e in self.events if isinstance(e, ReviewEscalated)]
        counts = Counter(e.aggregate_id for e in escalations)
        assert all(1 >= n for n in counts.values())
        for event in escalations:
            deadline = POLICY.deadline(self.applications[event.aggregate_id].submitted_at)
            assert deadline == event.deadline
            assert event.occurred_at >= deadline

    @invariant()
    def escalated_by_the_owner_or_the_system(self) -> None:
        """Each ticket was submitted by the application's owner or by the system."""
        escalators = {
            (e.aggregate_id, e.actor) for e in self.events if isinstance(e, ReviewEscalated)
        }
        allowed = {
            (key, actor)
            for key, application in self.applications.items()
            for actor in (Actor.seller(application.owner_id), SYSTEM)
        }
        assert set() == escalators - allowed

    @invariant()
    def self_stores_of_a_developer_within_its_verified_count(self) -> None:
        """Across all Self apps of an account: distinct active stores <= the largest count a
        verifier recorded, all of an enterprise a verifier recorded (never the seller's say)."""
        for account in self.accounts.values():
            active = [
                a
                for a in self.authorizations.values()
                if a.account_id == account.id
                and a.is_active
                and a.developer_type is DeveloperType.SELF
            ]
            verified = self.verified[account.id]  # a lower count or another enterprise evicts none
            assert len({a.store_id for a in active}) <= max((n for _, n in verified), default=0)
            assert {e for e, _ in verified} >= {a.store.enterprise_id for a in active}

    @invariant()
    def tokens_come_whole_and_alerts_and_refusals_only_with_them(self) -> None:
        """The two tokens and their two expiry times are all set or all unset; an alert or a
        refused refresh is recorded only on tokens; a revoked authorization holds none."""
        for a in self.authorizations.values():
            fields = (a.access_token, a.refresh_token, a.token_expires_at, a.refresh_expires_at)
            assert len({f is None for f in fields}) == 1
            if not a.has_tokens:
                assert (a.expiry_alerted_at, a.refresh_refused_at) == (None, None)
            if not a.is_active:
                assert not a.has_tokens

    @invariant()
    def app_names_unique_per_account(self) -> None:
        """Two apps of one account never share a name."""
        names = Counter((a.account_id, a.name) for a in self.apps.values())
        assert all(1 == n for n in names.values())

    @invariant()
    def events_never_hold_a_secret(self) -> None:
        """No event's repr or field holds any app secret's value."""
        leaked = [s for s in self.secrets for text in self.event_texts if s in text]
        assert [] == leaked


OnboardingMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None
)
TestOnboardingStateMachine = OnboardingMachine.TestCase


# --------------------------------------------------------------------------- command sequences

OWNER = Actor.seller("seller-1")
NOT_AN_ACTOR: tuple[object, ...] = (None, "seller-1")
ANY_ACTOR = st.sampled_from(
    (
        OWNER,
        Actor.seller("seller-2"),
        Actor.seller("seller-1b"),
        STRANGER,
        REVIEWER,
        SYSTEM,
        *NOT_AN_ACTOR,
    )
)
ANY_COMMAND = st.one_of(
    st.just(AcceptAgreement("2024-01")),
    st.just(SubmitProfile(PROFILE)),
    st.just(Approve()),
    st.just(Reject("the licence is blurry")),
    st.builds(Escalate, st.sampled_from(("T-1", "T-2"))),
    st.builds(
        ResetSecret,
        st.just(AppSecret("reset-secret-0123456789abcdef")),
        overlap=st.sampled_from((timedelta(0), timedelta(hours=2))),
    ),
    st.builds(
        lambda store, usage: ReauthorizeStore(
            created_app(DeveloperType.SELF), active_account(), store, usage
        ),
        st.sampled_from(STORES),
        st.builds(BoundUsage, st.integers(0, 3), holds_member=st.booleans()),
    ),
    st.just(RevokeStore()),
    st.just(Suspend("abuse report")),
    st.just(Resume()),
)
STEPS = st.lists(
    st.tuples(ANY_COMMAND, ANY_ACTOR, st.integers(min_value=0, max_value=30), st.booleans()),
    max_size=25,
)


def fresh_account() -> DeveloperAccount:
    account, _ = DeveloperAccount.register(
        "acc-1",
        seller_id="seller-1",
        enterprise_id="ent-1",
        actor=OWNER,
        now=T0,
    )
    account, _ = account.handle(VerifyEnterprise("ent-1", 2), REVIEWER, T0)
    return account


def active_account() -> DeveloperAccount:
    account, _ = fresh_account().handle(AcceptAgreement("2024-01"), OWNER, T0)
    account, _ = account.handle(SubmitProfile(PROFILE), OWNER, T0)
    return account


def submitted_application(developer_type: DeveloperType = DeveloperType.SELF) -> Any:
    application, _ = DeveloperApplication.submit(
        f"appl-{developer_type}",
        account=active_account(),
        developer_type=developer_type,
        applicant=SELLER_FACTS,
        document=DOCUMENT,
        existing=(),
        actor=OWNER,
        now=T0,
    )
    return application


def created_app(developer_type: DeveloperType) -> App:
    application, _ = submitted_application(developer_type).handle(Approve(), REVIEWER, T0)
    app, _ = App.create(
        "app-1",
        account=active_account(),
        developer_type=developer_type,
        name="sunrise_sync",
        applications=[application],
        existing_apps=(),
        app_key=AppKey("30001"),
        secret=AppSecret("first-secret-0123456789abcdef"),
        actor=OWNER,
        now=T0,
    )
    return app


STARTS: dict[str, Callable[[], Any]] = {
    "account": fresh_account,
    "application": submitted_application,
    "self_app": lambda: created_app(DeveloperType.SELF),
    "commercial_app": lambda: created_app(DeveloperType.COMMERCIAL),
    "authorization": lambda: StoreAuthorization.authorize(
        app=created_app(DeveloperType.SELF),
        account=active_account(),
        store=STORES[0],
        usage=NO_USAGE,
        actor=OWNER,
        now=T0,
    )[0],
}


@pytest.mark.parametrize("start", sorted(STARTS))
@settings(max_examples=50, deadline=None)
@given(steps=STEPS)
def test_every_step_succeeds_by_one_version_or_raises_onboarding_error(
    start: str, steps: list[tuple[Any, Any, int, bool]]
) -> None:
    """A step bumps the version by exactly 1 or raises an OnboardingError; the input is kept."""
    aggregate = STARTS[start]()
    now = T0
    for command, actor, hours, aware in steps:
        now += timedelta(hours=hours)
        when = now if aware else now.replace(tzinfo=None)
        snapshot = copy.deepcopy(aggregate)
        before = field_values(aggregate)
        try:
            new, _ = aggregate.handle(command, actor, when)
        except OnboardingError:
            new = None
        assert snapshot == aggregate
        assert same_objects(before, field_values(aggregate))
        if new is not None:
            assert aggregate.version + 1 == new.version
            assert type(aggregate) is type(new)
            aggregate = new
