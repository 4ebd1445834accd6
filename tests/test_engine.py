"""The onboarding engine: each domain rule of DESIGN.md, one test each."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from aliexpress_onboarding.domain.account import (
    AcceptAgreement,
    AccountStatus,
    DeveloperAccount,
    DeveloperProfile,
    SubmitProfile,
    VerifyEnterprise,
)
from aliexpress_onboarding.domain.actors import Actor, Role
from aliexpress_onboarding.domain.app import App, ResetSecret, Resume, Store, Suspend
from aliexpress_onboarding.domain.application import (
    ApplicationStatus,
    Approve,
    DeveloperApplication,
    Escalate,
    Reject,
)
from aliexpress_onboarding.domain.authorization import (
    NO_USAGE,
    AuthorizationStatus,
    BoundUsage,
    ReauthorizeStore,
    RevokeStore,
    StoreAuthorization,
    authorization_id,
)
from aliexpress_onboarding.domain.eligibility import Applicant
from aliexpress_onboarding.domain.events import (
    AccountActivated,
    AgreementAccepted,
    AppCreated,
    ReviewEscalated,
    SecretReset,
)
from aliexpress_onboarding.domain.machine import StateMachine, run
from aliexpress_onboarding.domain.values import (
    AppKey,
    AppSecret,
    DeveloperType,
    EmailAddress,
    LicenseDocument,
)
from aliexpress_onboarding.engine import allowed_commands, diagram
from aliexpress_onboarding.errors import (
    DefinitionError,
    InvalidDateTimeError,
    NotEligibleError,
    PermissionDeniedError,
    RuleViolationError,
    TransitionNotAllowedError,
    ValidationError,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
OWNER = Actor.seller("seller-1")
OTHER_SELLER = Actor.seller("seller-2")
REVIEWER = Actor.reviewer("rev-1")
SYSTEM = Actor.system()
SECRET = AppSecret("first-secret-0123456789abcdef")
NEW_SECRET = AppSecret("second-secret-0123456789abcdef")
DOCUMENT = LicenseDocument.from_bytes(b"\xff\xd8\xff" + bytes(16), filename="licence.jpg")
SELLER_FACTS = Applicant(
    name="Hangzhou Sunrise", country="CN", is_enterprise=True, is_aliexpress_seller=True
)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def active_account(**changes: object) -> DeveloperAccount:
    account, _ = DeveloperAccount.register(
        "acc-1",
        seller_id="seller-1",
        enterprise_id="ent-1",
        actor=OWNER,
        now=T0,
    )
    account, _ = account.handle(VerifyEnterprise("ent-1", 2), REVIEWER, T0)
    account, _ = account.handle(AcceptAgreement("2024-01"), OWNER, T0)
    profile = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise.example.com"))
    account, _ = account.handle(SubmitProfile(profile), OWNER, T0)
    return attrs.evolve(account, **changes)


def submitted(
    account: DeveloperAccount | None = None,
    developer_type: DeveloperType = DeveloperType.SELF,
    existing: tuple[DeveloperApplication, ...] = (),
    app_id: str = "appl-1",
) -> DeveloperApplication:
    application, _ = DeveloperApplication.submit(
        app_id,
        account=account or active_account(),
        developer_type=developer_type,
        applicant=SELLER_FACTS,
        document=DOCUMENT,
        existing=existing,
        actor=OWNER,
        now=T0,
    )
    return application


def approved(developer_type: DeveloperType = DeveloperType.SELF) -> DeveloperApplication:
    application, _ = submitted(developer_type=developer_type).handle(Approve(), REVIEWER, hours(1))
    return application


def created_app(
    developer_type: DeveloperType = DeveloperType.SELF, name: str = "sunrise_sync"
) -> App:
    app, _ = App.create(
        "app-1",
        account=active_account(),
        developer_type=developer_type,
        name=name,
        applications=[approved(developer_type)],
        existing_apps=[],
        app_key=AppKey("30001234"),
        secret=SECRET,
        actor=OWNER,
        now=hours(2),
    )
    return app


# --------------------------------------------------------------------------- account


def test_account_activation_walks_agreement_then_profile() -> None:
    """Activate: accept the API use agreement, fill in developer information, then active."""
    account = active_account()
    assert (AccountStatus.ACTIVE, "2024-01", 4) == (  # registered, verified, agreement, profile
        account.status,
        account.agreement_version,
        account.version,
    )


def test_account_profile_before_agreement_is_not_allowed() -> None:
    """The developer information comes after the agreement, naming what is allowed."""
    account, _ = DeveloperAccount.register(
        "acc-1", seller_id="seller-1", enterprise_id="ent-1", actor=OWNER, now=T0
    )
    profile = DeveloperProfile("Wei", EmailAddress("dev@sunrise.example.com"))
    with pytest.raises(TransitionNotAllowedError) as caught:
        account.handle(SubmitProfile(profile), OWNER, T0)
    allowed = ("accept_agreement", "verify_enterprise")
    assert (AccountStatus.PENDING_AGREEMENT, "submit_profile", allowed) == (
        caught.value.state,
        caught.value.command,
        caught.value.allowed,
    )


def test_account_only_its_seller_may_activate_it() -> None:
    """Another seller cannot accept the agreement for an account that is not its own."""
    account, _ = DeveloperAccount.register(
        "acc-1", seller_id="seller-1", enterprise_id="ent-1", actor=OWNER, now=T0
    )
    with pytest.raises(PermissionDeniedError):
        account.handle(AcceptAgreement("2024-01"), OTHER_SELLER, T0)


def test_profile_submission_activates_account_with_events() -> None:
    """Submitting the profile records ProfileSubmitted and AccountActivated, with stable ids."""
    account, _ = DeveloperAccount.register(
        "acc-1", seller_id="seller-1", enterprise_id="ent-1", actor=OWNER, now=T0
    )
    account, _ = account.handle(AcceptAgreement("2024-01"), OWNER, T0)
    profile = DeveloperProfile("Wei", EmailAddress("dev@sunrise.example.com"))
    _, events = account.handle(SubmitProfile(profile), OWNER, hours(1))
    assert (["ProfileSubmitted", "AccountActivated"], ["acc-1:3:0", "acc-1:3:1"]) == (
        [e.type for e in events],
        [e.event_id for e in events],
    )
    assert isinstance(events[1], AccountActivated)
    assert hours(1) == events[1].occurred_at


# --------------------------------------------------------------------------- application review


def test_application_requires_an_active_account() -> None:
    """Only an activated account can apply."""
    account, _ = DeveloperAccount.register(
        "acc-1", seller_id="seller-1", enterprise_id="ent-1", actor=OWNER, now=T0
    )
    with pytest.raises(RuleViolationError) as caught:
        submitted(account)
    assert ["account_not_active"] == [p.code for p in caught.value.problems]


def test_application_requires_eligibility() -> None:
    """A non-seller cannot be a Self developer: NotEligibleError carries the problems."""
    with pytest.raises(NotEligibleError) as caught:
        DeveloperApplication.submit(
            "appl-1",
            account=active_account(),
            developer_type="self",
            applicant=attrs.evolve(SELLER_FACTS, is_aliexpress_seller=False),
            document=DOCUMENT,
            existing=(),
            actor=OWNER,
            now=T0,
        )
    assert ["not_a_seller"] == [p.code for p in caught.value.problems]


def test_application_submitted_is_under_review() -> None:
    """A submitted application is under review."""
    assert ApplicationStatus.UNDER_REVIEW == submitted().status


def test_review_decided_by_reviewer_never_by_applicant() -> None:
    """The applicant cannot approve its own application."""
    with pytest.raises(PermissionDeniedError):
        submitted().handle(Approve(), OWNER, hours(1))


def test_rejection_requires_a_reason() -> None:
    """Rejected with a reason: an empty reason is refused."""
    with pytest.raises(ValidationError):
        Reject("")
    rejected, _events = submitted().handle(Reject("licence unreadable"), REVIEWER, hours(1))
    assert (ApplicationStatus.REJECTED, "licence unreadable") == (
        rejected.status,
        rejected.rejection_reason,
    )


def test_at_most_one_open_or_approved_application_per_type() -> None:
    """A second application of the same type is refused while the first is open or approved."""
    for first in (submitted(), approved()):
        with pytest.raises(RuleViolationError) as caught:
            submitted(existing=(first,), app_id="appl-2")
        assert ["application_exists"] == [p.code for p in caught.value.problems]


def test_other_developer_type_may_be_open_alongside() -> None:
    """The limit is per developer type: Self and Commercial may both be open."""
    second = submitted(
        developer_type=DeveloperType.COMMERCIAL, existing=(submitted(),), app_id="appl-2"
    )
    assert ApplicationStatus.UNDER_REVIEW == second.status


def test_may_apply_again_after_rejection() -> None:
    """After a rejection the account may apply again."""
    rejected, _ = submitted().handle(Reject("blurry scan"), REVIEWER, hours(1))
    assert ApplicationStatus.UNDER_REVIEW == submitted(existing=(rejected,), app_id="a2").status


def test_escalation_after_two_days_submits_a_ticket() -> None:
    """With no decision after 2 days (48 h), escalation submits a ticket."""
    escalated, events = submitted().handle(Escalate("T-1"), SYSTEM, hours(48))
    assert (ApplicationStatus.ESCALATED, "T-1") == (escalated.status, escalated.ticket_id)
    assert isinstance(events[0], ReviewEscalated)
    assert hours(48) == events[0].deadline


def test_escalation_before_deadline_is_refused() -> None:
    """Before the deadline the application is not overdue: no ticket."""
    with pytest.raises(RuleViolationError) as caught:
        submitted().handle(Escalate("T-1"), SYSTEM, hours(47.99))
    assert ["not_overdue"] == [p.code for p in caught.value.problems]


def test_escalation_happens_once_per_application() -> None:
    """A second escalation of the same application is not allowed."""
    escalated, _ = submitted().handle(Escalate("T-1"), SYSTEM, hours(48))
    with pytest.raises(TransitionNotAllowedError):
        escalated.handle(Escalate("T-2"), SYSTEM, hours(96))


def test_owner_escalates_its_own_overdue_application() -> None:
    """With no e-mail after 2 days the applicant submits the ticket itself, as the guide says."""
    escalated, events = submitted().handle(Escalate("T-1"), OWNER, hours(48))
    assert (ApplicationStatus.ESCALATED, "T-1", hours(48)) == (
        escalated.status,
        escalated.ticket_id,
        escalated.escalated_at,
    )
    assert [("ReviewEscalated", OWNER, "T-1")] == [(e.type, e.actor, e.ticket_id) for e in events]


def test_owner_may_not_escalate_before_the_deadline() -> None:
    """Before the deadline the owner's escalation is refused too: not_overdue, no ticket."""
    with pytest.raises(RuleViolationError) as caught:
        submitted().handle(Escalate("T-1"), OWNER, hours(47.99))
    assert ("escalate", ["not_overdue"]) == (
        caught.value.command,
        [p.code for p in caught.value.problems],
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [(OWNER, SYSTEM), (SYSTEM, OWNER), (OWNER, OWNER)],
    ids=["owner_then_system", "system_then_owner", "owner_twice"],
)
def test_escalation_happens_once_whoever_escalates_first(first: Actor, second: Actor) -> None:
    """One ticket per application: after the owner's or the system's, a second is refused."""
    escalated, _ = submitted().handle(Escalate("T-1"), first, hours(48))
    with pytest.raises(TransitionNotAllowedError) as caught:
        escalated.handle(Escalate("T-2"), second, hours(96))
    assert (ApplicationStatus.ESCALATED, "escalate") == (caught.value.state, caught.value.command)


def test_another_seller_may_not_escalate_an_application_not_its_own() -> None:
    """A seller escalates only its own application: another seller's try is refused."""
    with pytest.raises(PermissionDeniedError) as caught:
        submitted().handle(Escalate("T-1"), OTHER_SELLER, hours(48))
    assert (OTHER_SELLER, "escalate") == (caught.value.actor, caught.value.command)


def test_reviewer_may_not_escalate() -> None:
    """A reviewer decides; the ticket is the applicant's or the system's to submit."""
    with pytest.raises(PermissionDeniedError):
        submitted().handle(Escalate("T-1"), REVIEWER, hours(48))


def test_escalated_application_is_still_decidable() -> None:
    """A reviewer can still approve or reject an escalated application."""
    escalated, _ = submitted().handle(Escalate("T-1"), SYSTEM, hours(48))
    assert ApplicationStatus.APPROVED == escalated.handle(Approve(), REVIEWER, hours(50))[0].status
    assert (
        ApplicationStatus.REJECTED == escalated.handle(Reject("no"), REVIEWER, hours(50))[0].status
    )


def test_decided_application_cannot_be_decided_again() -> None:
    """Approved and rejected are final."""
    with pytest.raises(TransitionNotAllowedError) as caught:
        approved().handle(Reject("changed my mind"), REVIEWER, hours(3))
    assert () == caught.value.allowed


# --------------------------------------------------------------------------- apps and credentials


def test_app_creation_issues_app_key_and_secret() -> None:
    """Creating an app issues its appKey and appSecret; the event holds no secret."""
    app, events = App.create(
        "app-1",
        account=active_account(),
        developer_type="self",
        name="sunrise_sync",
        applications=[approved()],
        existing_apps=[],
        app_key=AppKey("30001234"),
        secret=SECRET,
        actor=OWNER,
        now=hours(2),
    )
    assert ("30001234", True) == (str(app.app_key), app.secret.matches(SECRET.reveal()))
    assert isinstance(events[0], AppCreated)
    assert SECRET.reveal() not in repr(events) + repr(app)


def test_app_only_for_an_activated_account() -> None:
    """An app may be created only by an activated account."""
    with pytest.raises(RuleViolationError) as caught:
        App.create(
            "app-1",
            account=active_account(status=AccountStatus.PENDING_PROFILE),
            developer_type="self",
            name="x",
            applications=[approved()],
            existing_apps=[],
            app_key=AppKey("1"),
            secret=SECRET,
            actor=OWNER,
            now=hours(2),
        )
    assert ["account_not_active"] == [p.code for p in caught.value.problems]


def test_app_only_for_an_approved_developer_type() -> None:
    """No app for a type whose application is open, rejected, or of the other type."""
    for applications in ([submitted()], [approved(DeveloperType.COMMERCIAL)], []):
        with pytest.raises(RuleViolationError) as caught:
            App.create(
                "app-1",
                account=active_account(),
                developer_type="self",
                name="x",
                applications=applications,
                existing_apps=[],
                app_key=AppKey("1"),
                secret=SECRET,
                actor=OWNER,
                now=hours(2),
            )
        assert ["no_approved_application"] == [p.code for p in caught.value.problems]


def test_two_apps_of_one_account_cannot_share_a_name() -> None:
    """App names are unique within an account."""
    with pytest.raises(RuleViolationError) as caught:
        App.create(
            "app-2",
            account=active_account(),
            developer_type="self",
            name="sunrise_sync",
            applications=[approved()],
            existing_apps=[created_app()],
            app_key=AppKey("2"),
            secret=NEW_SECRET,
            actor=OWNER,
            now=hours(3),
        )
    assert ["app_name_taken"] == [p.code for p in caught.value.problems]


def test_app_name_rules_apply_on_creation() -> None:
    """The app name follows the AppName rule (1-30 ASCII letters, digits, '.', '_')."""
    with pytest.raises(ValidationError):
        created_app(name="sunrise sync")


def test_secret_reset_without_overlap_old_secret_stops_matching() -> None:
    """After a reset with no overlap only the new secret matches."""
    app, events = created_app().handle(ResetSecret(NEW_SECRET), OWNER, hours(3))
    assert (False, True) == (
        app.secret_matches(SECRET.reveal(), hours(3)),
        app.secret_matches(NEW_SECRET, hours(3)),
    )
    assert isinstance(events[0], SecretReset)


def test_secret_reset_overlap_window_old_secret_matches_until_it_expires() -> None:
    """With an overlap of N hours the old secret matches until then, and not after."""
    app, events = created_app().handle(
        ResetSecret(NEW_SECRET, overlap=timedelta(hours=24)), OWNER, hours(3)
    )
    assert (True, True, False) == (
        app.secret_matches(SECRET, hours(26.99)),
        app.secret_matches(NEW_SECRET, hours(26.99)),
        app.secret_matches(SECRET, hours(27)),
    )
    assert SECRET.reveal() not in repr(events)
    assert NEW_SECRET.reveal() not in repr(events)


def test_secret_reset_only_by_the_owner() -> None:
    """Another seller cannot reset an app's secret."""
    with pytest.raises(PermissionDeniedError):
        created_app().handle(ResetSecret(NEW_SECRET), OTHER_SELLER, hours(3))


# --------------------------------------------------------------------------- store authorization


def store(n: int, seller: str = "seller-1", enterprise: str = "ent-1") -> Store:
    return Store(f"store-{n}", seller, enterprise)


def authorize(
    app: App, the_store: Store, actor: Actor = OWNER, usage: BoundUsage = NO_USAGE
) -> StoreAuthorization:
    authorization, _ = StoreAuthorization.authorize(
        app=app, account=active_account(), store=the_store, usage=usage, actor=actor, now=hours(3)
    )
    return authorization


def test_self_app_authorized_for_own_enterprise_store() -> None:
    """A Self developer's app can be authorized for its own enterprise's store."""
    authorization, events = StoreAuthorization.authorize(
        app=created_app(),
        account=active_account(),
        store=store(1),
        usage=NO_USAGE,
        actor=OWNER,
        now=hours(3),
    )
    assert (authorization_id("app-1", "store-1"), "app-1", "store-1", True, 2) == (
        authorization.id,
        authorization.app_id,
        authorization.store_id,
        authorization.is_active,
        authorization.store_limit,
    )
    assert [("StoreAuthorized", authorization.id)] == [(e.type, e.aggregate_id) for e in events]


def test_self_app_refuses_stores_of_other_enterprises() -> None:
    """A Self developer's app cannot be authorized for another enterprise's store."""
    other = store(9, seller="seller-2", enterprise="ent-2")
    with pytest.raises(RuleViolationError) as caught:
        authorize(created_app(), other, OTHER_SELLER)
    assert ["store_of_other_enterprise"] == [p.code for p in caught.value.problems]


def test_self_store_bound_is_per_developer_across_its_self_apps() -> None:
    """The account's Self apps hold 2 distinct stores, its verified count: a third is refused."""
    with pytest.raises(RuleViolationError) as caught:
        authorize(created_app(), store(3), usage=BoundUsage(2, holds_member=False))
    assert ["store_limit_reached"] == [p.code for p in caught.value.problems]
    assert authorize(created_app(), store(3), usage=BoundUsage(1, holds_member=False)).is_active


def test_a_store_on_two_self_apps_counts_once() -> None:
    """A store another Self app of the account already serves takes no new place."""
    authorization = authorize(created_app(), store(1), usage=BoundUsage(2, holds_member=True))
    assert authorization.bound_claim is not None
    assert ("self-stores:acc-1", "store-1", 2) == (
        authorization.bound_claim.scope,
        authorization.bound_claim.member,
        authorization.bound_claim.limit,
    )


def test_commercial_app_authorized_by_any_seller_for_its_own_store() -> None:
    """Any seller may authorize a Commercial developer's app for its own store, unbounded."""
    app = created_app(DeveloperType.COMMERCIAL)
    for n in range(5):
        seller = Actor.seller(f"merchant-{n}")
        found = authorize(app, store(n, seller.id, f"ent-{n}"), seller, BoundUsage(9, False))
        assert (True, None, None) == (found.is_active, found.store_limit, found.bound_claim)


def test_seller_cannot_authorize_a_store_it_does_not_own() -> None:
    """A seller authorizes only its own store."""
    with pytest.raises(RuleViolationError) as caught:
        authorize(created_app(DeveloperType.COMMERCIAL), store(1, "merchant-1"), OTHER_SELLER)
    assert ["not_store_seller"] == [p.code for p in caught.value.problems]


def test_store_authorization_can_be_revoked() -> None:
    """Either kind of authorization can be revoked; the store may then authorize again."""
    authorization = authorize(created_app(), store(1))
    revoked, events = authorization.handle(RevokeStore(), OWNER, hours(4))
    assert (AuthorizationStatus.REVOKED, None, "StoreAuthorizationRevoked") == (
        revoked.status,
        revoked.bound_claim,
        events[0].type,
    )
    again = ReauthorizeStore(created_app(), active_account(), store(1), NO_USAGE)
    renewed, events = revoked.handle(again, OWNER, hours(5))
    assert (True, hours(5), 3, "StoreAuthorized") == (
        renewed.is_active,
        renewed.authorized_at,
        renewed.version,
        events[0].type,
    )


def test_revoked_only_by_the_store_seller_the_app_owner_or_the_system() -> None:
    """Another seller cannot revoke a store's authorization; the app's owner and system can."""
    merchant = Actor.seller("merchant-1")
    authorization = authorize(
        created_app(DeveloperType.COMMERCIAL), store(1, merchant.id, "ent-9"), merchant
    )
    with pytest.raises(RuleViolationError) as caught:
        authorization.handle(RevokeStore(), OTHER_SELLER, hours(4))
    assert ["not_owner_or_store_seller"] == [p.code for p in caught.value.problems]
    for actor in (merchant, OWNER, SYSTEM):
        assert not authorization.handle(RevokeStore(), actor, hours(4))[0].is_active


def test_suspended_app_takes_no_new_authorizations() -> None:
    """A suspended app refuses new stores until resumed."""
    app, _ = created_app().handle(Suspend("abuse report"), REVIEWER, hours(3))
    with pytest.raises(RuleViolationError) as caught:
        authorize(app, store(1))
    assert ["app_not_active"] == [p.code for p in caught.value.problems]
    app, _ = app.handle(Resume(), REVIEWER, hours(4))
    assert authorize(app, store(1)).is_active


def test_the_self_bound_comes_from_a_verifier_never_from_the_seller() -> None:
    """The seller registers with its claim only; a reviewer (or the system) records the
    enterprise and its store count, and only that bounds the Self apps."""
    account, _ = DeveloperAccount.register(
        "acc-9", seller_id="seller-1", enterprise_id="ent-1", actor=OWNER, now=T0
    )
    with pytest.raises(PermissionDeniedError):
        account.handle(VerifyEnterprise("ent-1", 10_000), OWNER, T0)
    verified, events = account.handle(VerifyEnterprise("ent-1", 4), SYSTEM, T0)
    assert (None, 0, "ent-1", 4, "EnterpriseVerified") == (
        account.verification,
        account.verified_store_count,
        verified.verified_enterprise_id,
        verified.verified_store_count,
        events[0].type,
    )


def test_a_reviewer_may_not_verify_their_own_account() -> None:
    """Separation of duties: a reviewer whose id is the account's seller id is refused."""
    account, _ = DeveloperAccount.register(
        "acc-9", seller_id="seller-1", enterprise_id="ent-1", actor=OWNER, now=T0
    )
    with pytest.raises(RuleViolationError) as caught:
        account.handle(VerifyEnterprise("ent-1", 2), Actor.reviewer("seller-1"), T0)
    assert ["own_account"] == [p.code for p in caught.value.problems]


def test_an_unverified_self_developer_authorizes_no_store() -> None:
    """Without a verification a Self app takes no store, whatever the seller claimed; the
    verified enterprise, not the claimed one, decides whose stores are its own."""
    unverified = attrs.evolve(active_account(), verification=None)
    with pytest.raises(RuleViolationError) as caught:
        StoreAuthorization.authorize(
            app=created_app(),
            account=unverified,
            store=store(1),
            usage=NO_USAGE,
            actor=OWNER,
            now=hours(3),
        )
    claimed_elsewhere = attrs.evolve(active_account(), enterprise_id="ent-2")
    kept, _ = StoreAuthorization.authorize(
        app=created_app(),
        account=claimed_elsewhere,
        store=store(1),
        usage=NO_USAGE,
        actor=OWNER,
        now=hours(3),
    )
    assert (["enterprise_not_verified"], True) == (
        [p.code for p in caught.value.problems],
        kept.is_active,
    )


# --------------------------------------------------------------------------- actors, matrix, time

ACTORS = {"owner": OWNER, "other_seller": OTHER_SELLER, "reviewer": REVIEWER, "system": SYSTEM}
# command -> the actor kinds that may run it (from DESIGN.md: owner-only commands,
# reviewer-only decisions, escalation by the owner or the system; any seller authorizes its
# own store).
MATRIX = {
    ("account", "accept_agreement"): {"owner"},
    ("account", "submit_profile"): {"owner"},
    ("account", "verify_enterprise"): {"reviewer", "system"},
    ("application", "approve"): {"reviewer"},
    ("application", "reject"): {"reviewer"},
    ("application", "escalate"): {"owner", "system"},
    ("app", "reset_secret"): {"owner"},
    ("authorization", "reauthorize_store"): {"owner", "other_seller"},
    ("authorization", "revoke_store"): {"owner", "other_seller", "system"},
    ("app", "suspend"): {"reviewer"},
    ("app", "resume"): {"reviewer"},
}


def aggregate_in_state_allowing(kind: str, command: str) -> object:
    if kind == "account":
        account, _ = DeveloperAccount.register(
            "acc-1", seller_id="seller-1", enterprise_id="ent-1", actor=OWNER, now=T0
        )
        return (
            account
            if command == "accept_agreement"
            else account.handle(AcceptAgreement("v1"), OWNER, T0)[0]
        )
    if kind == "application":
        return submitted()
    if kind == "authorization":
        authorization = authorize(created_app(), store(1))
        if command == "revoke_store":
            return authorization
        return authorization.handle(RevokeStore(), OWNER, hours(4))[0]
    app = created_app()
    return app.handle(Suspend("x"), REVIEWER, hours(3))[0] if command == "resume" else app


@pytest.mark.parametrize(("kind", "command"), sorted(MATRIX))
@pytest.mark.parametrize("actor_name", sorted(ACTORS))
def test_permission_matrix(kind: str, command: str, actor_name: str) -> None:
    """Every command x every actor kind: allowed exactly for the roles DESIGN.md names."""
    aggregate = aggregate_in_state_allowing(kind, command)
    allowed = command in allowed_commands(aggregate, ACTORS[actor_name])  # type: ignore[arg-type]
    assert (actor_name in MATRIX[(kind, command)]) == allowed


def test_creation_permissions() -> None:
    """Only the account's owner applies and creates apps; another seller is refused."""
    with pytest.raises(PermissionDeniedError):
        DeveloperApplication.submit(
            "a",
            account=active_account(),
            developer_type="self",
            applicant=SELLER_FACTS,
            document=DOCUMENT,
            existing=(),
            actor=OTHER_SELLER,
            now=T0,
        )
    with pytest.raises(PermissionDeniedError):
        App.create(
            "app-1",
            account=active_account(),
            developer_type="self",
            name="x",
            applications=[approved()],
            existing_apps=[],
            app_key=AppKey("1"),
            secret=SECRET,
            actor=REVIEWER,
            now=hours(2),
        )


def test_naive_datetimes_are_refused() -> None:
    """Everything is timezone-aware: a naive 'now' is an InvalidDateTimeError."""
    with pytest.raises(InvalidDateTimeError):
        submitted().handle(Approve(), REVIEWER, datetime(2026, 3, 2, 10, 0))


@pytest.mark.parametrize("command", ["accept_agreement", None, 7])
def test_handle_refuses_what_is_not_a_command(command: object) -> None:
    """Text, None or a number is a ValidationError naming ``command`` (not AttributeError)."""
    with pytest.raises(ValidationError) as caught:
        active_account().handle(command, OWNER, T0)  # type: ignore[arg-type]
    assert "command" == caught.value.field


def test_another_aggregates_command_is_not_allowed() -> None:
    """An application's command is allowed in no state of an account."""
    with pytest.raises(TransitionNotAllowedError):
        active_account().handle(Approve(), OWNER, T0)  # type: ignore[arg-type]


def test_transition_never_mutates_its_input() -> None:
    """The aggregate passed in is unchanged after success and after refusal."""
    before = submitted()
    snapshot = attrs.asdict(before, recurse=False)
    before.handle(Approve(), REVIEWER, hours(1))
    with pytest.raises(PermissionDeniedError):
        before.handle(Approve(), OWNER, hours(1))
    assert snapshot == attrs.asdict(before, recurse=False)


# --------------------------------------------------------------------------- the tables


class _S(enum.Enum):
    A = "a"
    B = "b"
    C = "c"


def test_transition_result_is_what_a_validated_construction_gives() -> None:
    """The engine copies aggregates without ``__init__``; the copy must equal a checked build.

    Walks every aggregate through transitions that change fields of their own (profile,
    decision, escalation, secret, authorizations) and rebuilds each result through ``__init__``
    and every validator.
    """
    account = active_account()
    application = submitted(account)
    escalated, _ = application.handle(Escalate("ticket-1"), SYSTEM, hours(49))
    decided, _ = escalated.handle(Reject("Licence unreadable"), REVIEWER, hours(50))
    app = created_app()
    reset, _ = app.handle(ResetSecret(NEW_SECRET, timedelta(hours=1)), OWNER, hours(3))
    authorized = authorize(reset, Store("store-1", "seller-1", "ent-1"))
    revoked, _ = authorized.handle(RevokeStore(), SYSTEM, hours(4))
    moved = Store("store-1", "seller-1", "ent-2")  # the store's enterprise changed
    reverified, _ = account.handle(VerifyEnterprise("ent-2", 2), REVIEWER, hours(5))
    again = ReauthorizeStore(reset, reverified, moved, NO_USAGE)
    renewed, _ = revoked.handle(again, OWNER, hours(5))
    results = [account, escalated, decided, reset, authorized, revoked, renewed]
    assert results == [attrs.evolve(result) for result in results]
    assert (ApplicationStatus.REJECTED, 3, hours(50), "ticket-1") == (
        decided.status,
        decided.version,
        decided.updated_at,
        decided.ticket_id,
    )
    assert (2, 3, "ent-2") == (reset.version, renewed.version, renewed.store.enterprise_id)


_TINY = StateMachine(
    "Tiny",
    _S,
    _S.A,
    {"new": frozenset({Role.OWNER}), "go": frozenset({Role.OWNER})},
    [(_S.A, "go", _S.B), (_S.B, "go", _S.C)],
    creation="new",
)


@attrs.frozen
class _Go:
    """A command whose effect returns the given field changes."""

    changes: dict[str, object] = attrs.Factory(dict)
    name = "go"

    def guard(self, aggregate: object, actor: Actor, now: datetime) -> tuple[()]:
        return ()

    def effect(self, aggregate: object, events: object) -> dict[str, object]:
        return self.changes


@attrs.frozen
class _Tiny:
    id: str
    owner_id: str
    status: _S
    version: int
    updated_at: datetime
    note: str = ""


def test_engine_refuses_to_copy_an_aggregate_without_slots() -> None:
    """The engine's copier needs a slotted attrs class with status, version and updated_at."""

    @attrs.frozen(slots=False)
    class Loose:
        id: str
        owner_id: str
        status: _S
        version: int
        updated_at: datetime

    with pytest.raises(DefinitionError, match="slotted"):
        run(_TINY, Loose("x", "seller-1", _S.A, 1, T0), _Go(), OWNER, T0)


@pytest.mark.parametrize(
    "changes", [{"status": _S.C}, {"version": 99}, {"updated_at": hours(9)}, {"nope": 1}]
)
def test_an_effect_cannot_change_engine_fields_or_unknown_ones(changes: dict[str, object]) -> None:
    """State, version and time move only by the table; an effect naming them is a bug."""
    with pytest.raises(DefinitionError, match="may not change"):
        run(_TINY, _Tiny("x", "seller-1", _S.A, 1, T0), _Go(changes), OWNER, hours(1))


def test_an_effect_changes_its_own_fields_and_the_engine_the_rest() -> None:
    """The effect's fields change; status, version and time come from the engine."""
    moved, _ = run(_TINY, _Tiny("x", "seller-1", _S.A, 1, T0), _Go({"note": "hi"}), OWNER, hours(1))
    assert _Tiny("x", "seller-1", _S.B, 2, hours(1), "hi") == moved


def test_a_copy_is_a_frozen_instance_of_the_aggregates_own_class() -> None:
    """The copy is built without ``__init__``: it must still be exactly the class, and frozen."""
    moved, _ = run(_TINY, _Tiny("x", "seller-1", _S.A, 1, T0), _Go({"note": "hi"}), OWNER, T0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        moved.note = "changed"  # type: ignore[misc]
    assert _Tiny is type(moved)


def test_one_command_class_may_change_different_fields_from_run_to_run() -> None:
    """Whatever the engine keeps per command class, each run copies what its effect changed,
    and a forbidden change is refused even after the same command class succeeded."""
    start = _Tiny("x", "seller-1", _S.A, 1, T0)
    noted, _ = run(_TINY, start, _Go({"note": "a"}), OWNER, hours(1))
    plain, _ = run(_TINY, start, _Go({}), OWNER, hours(2))
    renoted, _ = run(_TINY, noted, _Go({"note": "b"}), OWNER, hours(3))
    with pytest.raises(DefinitionError, match="may not change"):
        run(_TINY, start, _Go({"status": _S.C}), OWNER, hours(4))
    assert [
        _Tiny("x", "seller-1", _S.B, 2, hours(1), "a"),
        _Tiny("x", "seller-1", _S.B, 2, hours(2), ""),
        _Tiny("x", "seller-1", _S.C, 3, hours(3), "b"),
    ] == [noted, plain, renoted]


def test_an_actor_subclass_is_asked_who_it_may_act_for() -> None:
    """The engine's quick permission check is for plain actors: a subclass's `may` decides."""

    @attrs.frozen
    class Stand_in(Actor):  # noqa: N801
        def may(self, roles: object, owner_id: str) -> bool:
            return True  # acts for anyone

    @attrs.frozen
    class Barred(Actor):
        def may(self, roles: object, owner_id: str) -> bool:
            return False  # not even for its own account

    stand_in = Stand_in(OWNER.kind, "seller-9")
    moved, events = run(_TINY, _Tiny("x", "seller-1", _S.A, 1, T0), _Go(), stand_in, T0)
    with pytest.raises(PermissionDeniedError):
        run(_TINY, _Tiny("x", "seller-1", _S.A, 1, T0), _Go(), OTHER_SELLER, T0)
    with pytest.raises(PermissionDeniedError):
        run(_TINY, _Tiny("x", "seller-1", _S.A, 1, T0), _Go(), Barred(OWNER.kind, OWNER.id), T0)
    assert (_S.B, ()) == (moved.status, events)


@attrs.frozen
class _Note:
    """A command whose effect records an `AgreementAccepted` with the given version."""

    agreement_version: object
    name = "go"

    def guard(self, aggregate: object, actor: Actor, now: datetime) -> tuple[()]:
        return ()

    def effect(self, aggregate: object, events: Any) -> dict[str, object]:
        events.record(AgreementAccepted, agreement_version=self.agreement_version)
        return {}


def test_an_event_is_checked_exactly_as_its_constructor_checks_it() -> None:
    """The engine's own event builder runs the validators the constructor would, no fewer and
    no more: a bad field is refused, unless attrs' validators are switched off."""
    start = _Tiny("x", "seller-1", _S.A, 1, T0)
    _, (event,) = run(_TINY, start, _Note("2024-01"), OWNER, T0)
    with pytest.raises(ValidationError, match="agreement_version"):
        run(_TINY, start, _Note(2024), OWNER, T0)
    with attrs.validators.disabled():
        _, (unchecked,) = run(_TINY, start, _Note(2024), OWNER, T0)
    assert ("x:2:0", "2024-01", 2024) == (
        event.event_id,
        event.agreement_version,
        unchecked.agreement_version,
    )


def test_definition_error_duplicate_edge() -> None:
    """Two edges for one (state, command) are refused when the table is defined."""
    with pytest.raises(DefinitionError, match="duplicate"):
        StateMachine(
            "X",
            _S,
            _S.A,
            {"new": frozenset({Role.OWNER}), "go": frozenset({Role.OWNER})},
            [(_S.A, "go", _S.B), (_S.A, "go", _S.C), (_S.B, "go", _S.C)],
            creation="new",
        )


def test_definition_error_unreachable_state() -> None:
    """A state no edge reaches is refused."""
    with pytest.raises(DefinitionError, match="unreachable"):
        StateMachine(
            "X",
            _S,
            _S.A,
            {"new": frozenset({Role.OWNER}), "go": frozenset({Role.OWNER})},
            [(_S.A, "go", _S.B)],
            creation="new",
        )


def test_definition_error_command_without_edge() -> None:
    """A declared command with no edge is refused."""
    with pytest.raises(DefinitionError, match="no edge"):
        StateMachine(
            "X",
            _S,
            _S.A,
            {
                "new": frozenset({Role.OWNER}),
                "go": frozenset({Role.OWNER}),
                "stop": frozenset({Role.OWNER}),
            },
            [(_S.A, "go", _S.B), (_S.B, "go", _S.C)],
            creation="new",
        )


def test_definition_error_unknown_state_or_command() -> None:
    """An edge naming a state of another enum or an undeclared command is refused."""
    with pytest.raises(DefinitionError):
        StateMachine(
            "X", _S, _S.A, {"new": frozenset({Role.OWNER})}, [(_S.A, "go", _S.B)], creation="new"
        )
    with pytest.raises(DefinitionError):
        StateMachine(
            "X",
            _S,
            _S.A,
            {"new": frozenset({Role.OWNER}), "go": frozenset({Role.OWNER})},
            [(_S.A, "go", AccountStatus.ACTIVE)],
            creation="new",
        )  # type: ignore[list-item]


def test_diagrams_are_mermaid_state_diagrams() -> None:
    """Each table exports a stateDiagram-v2 with its creation and every edge."""
    text = diagram("application")
    assert text.startswith("stateDiagram-v2\n")
    for line in (
        "[*] --> UNDER_REVIEW: submit_application (owner)",
        "UNDER_REVIEW --> ESCALATED: escalate (owner, system)",
        "ESCALATED --> APPROVED: approve (reviewer)",
        "REJECTED --> [*]",
    ):
        assert f"    {line}" in text.splitlines()


def test_diagrams_in_docs_match_the_tables() -> None:
    """docs/concepts.md embeds the current diagrams (regenerate them when a table changes)."""
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "docs" / "concepts.md").read_text(
        encoding="utf-8"
    )
    for name in ("account", "application", "app", "authorization"):
        assert f"```mermaid\n{diagram(name)}```" in docs


def test_times_are_stored_in_utc_so_reloads_compare_equal() -> None:
    """A 'now' in any zone is stored as the same instant in UTC (DST-fold safe equality)."""
    from zoneinfo import ZoneInfo

    from aliexpress_onboarding.serialization import from_json, to_json

    # 23:00 on 1995-02-18 in Bahia is a repeated (fold) hour: cross-zone == would be False.
    local = datetime(1995, 2, 18, 23, 0, tzinfo=ZoneInfo("America/Bahia"))
    account, events = DeveloperAccount.register(
        "acc-1", seller_id="seller-1", enterprise_id="ent-1", actor=OWNER, now=local
    )
    assert (UTC, account) == (
        account.created_at.tzinfo,
        from_json(to_json(account), DeveloperAccount),
    )
    assert local.astimezone(UTC) == events[0].occurred_at


def test_secret_overlap_past_year_9999_is_a_validation_error() -> None:
    """An overlap window that would end after 9999 is refused, not an OverflowError."""
    late = datetime(9999, 12, 31, 12, 0, tzinfo=UTC)
    with pytest.raises(InvalidDateTimeError, match="overlap"):
        created_app().handle(ResetSecret(NEW_SECRET, overlap=timedelta(days=2)), OWNER, late)


def test_now_outside_utc_years_is_a_validation_error() -> None:
    """0001-01-01T00:00+01:00 has no UTC time in range: refused, not an OverflowError."""
    early = datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(InvalidDateTimeError):
        DeveloperAccount.register(
            "acc-1", seller_id="seller-1", enterprise_id="ent-1", actor=OWNER, now=early
        )


def test_time_zone_that_fails_is_a_validation_error() -> None:
    """A tzinfo whose utcoffset() raises is an InvalidDateTimeError, not a ValueError."""
    from datetime import tzinfo

    class Broken(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta:
            return timedelta(hours=30)

    with pytest.raises(InvalidDateTimeError, match="time zone"):
        submitted().handle(Approve(), REVIEWER, datetime(2026, 3, 2, tzinfo=Broken()))


def test_submit_refuses_an_applicant_of_the_wrong_type() -> None:
    """A dict where an Applicant is due is a ValidationError naming 'applicant'."""
    with pytest.raises(ValidationError, match="applicant"):
        DeveloperApplication.submit(
            "a",
            account=active_account(),
            developer_type="self",
            applicant={"name": "x"},  # type: ignore[arg-type]
            document=DOCUMENT,
            existing=(),
            actor=OWNER,
            now=T0,
        )


@pytest.mark.parametrize("decision", [Approve(), Reject("blurry licence")])
def test_a_reviewer_may_not_decide_an_application_of_their_own_seller_id(
    decision: Approve | Reject,
) -> None:
    """Separation of duties: a reviewer whose id is the applicant's is refused, nothing moves."""
    application = submitted()
    with pytest.raises(RuleViolationError) as caught:
        application.handle(decision, Actor.reviewer(application.owner_id), T0)
    assert ["own_application"] == [problem.code for problem in caught.value.problems]


def test_events_a_transition_records_equal_fully_checked_ones() -> None:
    """Inside a transition events skip re-checking their common fields; each still equals the
    event its constructor builds with every validator, and a bad field of its own is refused."""
    account = active_account()
    application = submitted(account)
    authorization = authorize(created_app(), store(1))
    steps = [
        account.handle(VerifyEnterprise("ent-9", 7), REVIEWER, hours(1)),
        application.handle(Escalate("ticket-1"), SYSTEM, hours(49)),
        application.handle(Reject("Licence unreadable"), REVIEWER, hours(2)),
        created_app().handle(ResetSecret(NEW_SECRET, timedelta(hours=1)), OWNER, hours(3)),
        authorization.handle(RevokeStore(), SYSTEM, hours(4)),
    ]
    events = [event for _, recorded in steps for event in recorded]
    assert events == [attrs.evolve(event) for event in events]
    with pytest.raises(ValidationError):
        attrs.evolve(events[0], store_count="7")
