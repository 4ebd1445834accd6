"""OnboardingService: commands over the ports, the outbox and its delivery guarantees."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aliexpress_onboarding import (
    Actor,
    App,
    Applicant,
    ApplicationStatus,
    DeveloperAccount,
    DeveloperApplication,
    DeveloperProfile,
    EmailAddress,
    LicenseDocument,
    OnboardingError,
    PermissionDeniedError,
    ReviewPolicy,
    RuleViolationError,
    Store,
    TransitionNotAllowedError,
)
from aliexpress_onboarding.adapters.email import (
    EmailNotifier,
    InMemoryEmailSender,
    account_email_lookup,
)
from aliexpress_onboarding.adapters.memory import (
    InMemoryNotifier,
    InMemoryRepository,
    SecretsCredentialIssuer,
)
from aliexpress_onboarding.domain.events import Event, ReviewEscalated
from aliexpress_onboarding.domain.values import AppKey
from aliexpress_onboarding.errors import ConcurrencyConflictError, NotFoundError, ValidationError
from aliexpress_onboarding.ports import AggregateRoot
from aliexpress_onboarding.service import OnboardingService

VERIFIER = Actor.reviewer("verifier-1")  # records the verified enterprise
OWNER = Actor.seller("seller-1")
OTHER_SELLER = Actor.seller("seller-2")
REVIEWER = Actor.reviewer("rev-1")
SYSTEM = Actor.system("escalation")
DOCUMENT = LicenseDocument.from_bytes(b"\xff\xd8\xff" + bytes(16), filename="licence.jpg")
FACTS = Applicant(name="Sunrise", country="CN", is_enterprise=True, is_aliexpress_seller=True)


class FakeClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class FlakyNotifier:
    """Fails every other call."""

    def __init__(self) -> None:
        self.calls = 0
        self.delivered: list[Event] = []

    def notify(self, event: Event) -> None:
        self.calls += 1
        if self.calls % 2:
            raise ConnectionError("mail relay down")
        self.delivered.append(event)


def make_service(**ports: object) -> tuple[OnboardingService, FakeClock]:
    clock = FakeClock()
    return OnboardingService(clock=clock, **ports), clock  # type: ignore[arg-type]


def onboard(service: OnboardingService) -> tuple[str, DeveloperApplication]:
    account = service.register_account(seller_id="seller-1", enterprise_id="ent-1", actor=OWNER)
    service.verify_enterprise(account.id, "ent-1", 2, actor=VERIFIER)
    service.accept_agreement(account.id, "2024-01", actor=OWNER)
    profile = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise.example.com"))
    service.submit_profile(account.id, profile, actor=OWNER)
    return account.id, service.apply(account.id, "self", FACTS, DOCUMENT, actor=OWNER)


def test_whole_onboarding_runs_through_the_service() -> None:
    """Activate, apply, escalate when overdue, approve, create an app, reset, authorize."""
    notifier = InMemoryNotifier()
    service, clock = make_service(notifier=notifier)
    account_id, application = onboard(service)
    clock.advance(hours=49)
    assert [application.id] == [a.id for a in service.escalate_overdue()]
    service.approve(application.id, actor=REVIEWER)
    app = service.create_app(account_id, "self", "sunrise_sync", actor=OWNER)
    renewed = service.reset_secret(app.id, actor=OWNER, overlap=timedelta(hours=24))
    service.authorize_store(app.id, Store("store-1", "seller-1", "ent-1"), actor=OWNER)
    assert [
        "AccountRegistered",
        "EnterpriseVerified",
        "AgreementAccepted",
        "ProfileSubmitted",
        "AccountActivated",
        "ApplicationSubmitted",
        "ReviewEscalated",
        "ApplicationApproved",
        "AppCreated",
        "SecretReset",
        "StoreAuthorized",
    ] == [e.type for e in notifier.events]
    assert renewed.secret_matches(app.secret, clock.now())
    assert [] == service.repository.pending_events()


def test_escalate_overdue_escalates_each_application_once() -> None:
    """Run twice, the second run finds nothing to escalate."""
    service, clock = make_service()
    _, application = onboard(service)
    clock.advance(hours=47)
    assert [] == service.escalate_overdue()
    clock.advance(hours=1)
    first = service.escalate_overdue()
    assert (1, [], ApplicationStatus.ESCALATED) == (
        len(first),
        service.escalate_overdue(),
        service.repository.get(DeveloperApplication, application.id).status,
    )


def test_escalate_overdue_from_two_services_at_once_escalates_once() -> None:
    """Two service instances sharing a repository escalate each application exactly once."""
    repository = InMemoryRepository()
    notifier = InMemoryNotifier()
    first, clock = make_service(repository=repository, notifier=notifier)
    second = OnboardingService(repository=repository, notifier=notifier, clock=clock)
    onboard(first)
    clock.advance(hours=48)
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda s=s: results.append(len(s.escalate_overdue())))
        for s in (first, second) * 4
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (1, 1) == (sum(results), [e.type for e in notifier.events].count("ReviewEscalated"))


class NumberedTickets(SecretsCredentialIssuer):
    """Issues ticket ids T-1, T-2, ... so that a test can tell which ticket was used."""

    def __init__(self) -> None:
        self.tickets = 0

    def new_ticket_id(self) -> str:
        self.tickets += 1
        return f"T-{self.tickets}"


def stored_state(service: OnboardingService, application_id: str) -> tuple[object, ...]:
    """The stored application and every stored event (the outbox among them)."""
    return (
        service.repository.get(DeveloperApplication, application_id),
        service.repository.events(),
        service.repository.pending_events(),
    )


def test_owner_escalates_its_own_overdue_application() -> None:
    """The applicant submits the ticket: issued by the service, recorded with the owner."""
    notifier = InMemoryNotifier()
    service, clock = make_service(notifier=notifier, credentials=NumberedTickets())
    _, application = onboard(service)
    clock.advance(hours=48)
    escalated = service.escalate(application.id, actor=OWNER)
    [event] = [e for e in notifier.events if isinstance(e, ReviewEscalated)]
    assert (ApplicationStatus.ESCALATED, "T-1", 2) == (
        escalated.status,
        escalated.ticket_id,
        escalated.version,
    )
    assert (OWNER, "T-1", clock.now()) == (event.actor, event.ticket_id, event.deadline)
    assert escalated == service.repository.get(DeveloperApplication, application.id)


def test_owner_escalation_counts_the_services_review_policy() -> None:
    """The deadline is the service's review_policy, exactly as for escalate_overdue."""
    service, clock = make_service(review_policy=ReviewPolicy.elapsed(1))
    _, application = onboard(service)
    clock.advance(hours=1)
    assert ApplicationStatus.ESCALATED == service.escalate(application.id, actor=OWNER).status


def test_owner_escalation_e_mails_the_developer_as_the_systems_does() -> None:
    """Whoever escalates, the developer gets the same ticket e-mail."""

    def escalation_email(escalate_as_owner: bool) -> tuple[object, ...]:
        repository, mailbox = InMemoryRepository(), InMemoryEmailSender()
        notifier = EmailNotifier(mailbox, account_email_lookup(repository))
        service, clock = make_service(repository=repository, notifier=notifier)
        _, application = onboard(service)
        clock.advance(hours=48)
        if escalate_as_owner:
            escalated = service.escalate(application.id, actor=OWNER)
        else:
            [escalated] = service.escalate_overdue()
        [email] = mailbox.sent[-1:]
        assert escalated.ticket_id is not None
        body = email.body.replace(application.id, "APPL").replace(escalated.ticket_id, "TICKET")
        return str(email.to), email.subject, body

    assert escalation_email(escalate_as_owner=False) == escalation_email(escalate_as_owner=True)


def test_owner_may_not_escalate_before_the_deadline() -> None:
    """Not overdue: refused with not_overdue; the stored application and outbox are unchanged."""
    service, clock = make_service()
    _, application = onboard(service)
    clock.advance(hours=47, minutes=59)
    before = stored_state(service, application.id)
    with pytest.raises(RuleViolationError) as caught:
        service.escalate(application.id, actor=OWNER)
    assert (["not_overdue"], before, 1) == (
        [p.code for p in caught.value.problems],
        stored_state(service, application.id),
        service.repository.get(DeveloperApplication, application.id).version,
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [(OWNER, SYSTEM), (SYSTEM, OWNER), (OWNER, OWNER)],
    ids=["owner_then_system", "system_then_owner", "owner_twice"],
)
def test_escalation_submits_one_ticket_whoever_comes_first(first: Actor, second: Actor) -> None:
    """After the owner's or the system's escalation, a second one is refused; one ticket."""
    service, clock = make_service()
    _, application = onboard(service)
    clock.advance(hours=48)
    service.escalate(application.id, actor=first)
    clock.advance(hours=48)
    before = stored_state(service, application.id)
    with pytest.raises(TransitionNotAllowedError):
        service.escalate(application.id, actor=second)
    assert ([], before) == (service.escalate_overdue(), stored_state(service, application.id))


def test_owner_may_not_escalate_after_escalate_overdue() -> None:
    """The scheduler's escalation came first: the owner's is refused, no second ticket."""
    service, clock = make_service()
    _, application = onboard(service)
    clock.advance(hours=48)
    [escalated] = service.escalate_overdue()
    with pytest.raises(TransitionNotAllowedError):
        service.escalate(application.id, actor=OWNER)
    assert escalated == service.repository.get(DeveloperApplication, application.id)


def test_seller_may_not_escalate_another_sellers_application() -> None:
    """Only the account's owner escalates its application: another seller is refused."""
    service, clock = make_service()
    _, application = onboard(service)
    clock.advance(hours=48)
    before = stored_state(service, application.id)
    with pytest.raises(PermissionDeniedError):
        service.escalate(application.id, actor=OTHER_SELLER)
    assert before == stored_state(service, application.id)


def test_reviewer_may_not_escalate() -> None:
    """A reviewer decides the application; submitting the ticket is not a reviewer's job."""
    service, clock = make_service()
    _, application = onboard(service)
    clock.advance(hours=48)
    with pytest.raises(PermissionDeniedError):
        service.escalate(application.id, actor=REVIEWER)


def test_refused_command_changes_nothing_and_records_no_event() -> None:
    """A permission error leaves state and outbox as they were."""
    notifier = InMemoryNotifier()
    service, _ = make_service(notifier=notifier)
    _, application = onboard(service)
    delivered = list(notifier.events)
    with pytest.raises(PermissionDeniedError):
        service.approve(application.id, actor=OWNER)
    assert (application, delivered, []) == (
        service.repository.get(DeveloperApplication, application.id),
        notifier.events,
        service.repository.pending_events(),
    )


def test_unknown_ids_raise_not_found() -> None:
    """Commands on ids that do not exist raise NotFoundError."""
    service, _ = make_service()
    with pytest.raises(NotFoundError):
        service.approve("appl-missing", actor=REVIEWER)


@pytest.mark.parametrize(
    ("field", "call"),
    [
        ("application_id", lambda s: s.approve(["appl-1"], actor=REVIEWER)),
        ("application_id", lambda s: s.approve(None, actor=REVIEWER)),
        ("account_id", lambda s: s.accept_agreement(7, "2024-01", actor=OWNER)),
        ("app_id", lambda s: s.reset_secret(b"app-1", actor=OWNER)),
        ("aggregate_id", lambda s: s.timeline(5)),
        ("limit", lambda s: s.dispatch_pending("5")),
        ("limit", lambda s: s.dispatch_pending(0)),
        ("actor", lambda s: s.escalate_overdue(actor="system")),
        ("application_id", lambda s: s.escalate(7, actor=OWNER)),
    ],
)
def test_wrong_types_at_the_service_boundary_are_validation_errors(
    field: str, call: object
) -> None:
    """Ids, limits and actors of the wrong type are refused by name, before the store is read."""
    service, _ = make_service()
    onboard(service)
    stored = service.repository.events()
    with pytest.raises(ValidationError) as caught:
        call(service)  # type: ignore[operator]
    assert (field, stored) == (caught.value.field, service.repository.events())


def test_failing_notifier_never_fails_the_command() -> None:
    """The command succeeds; its events wait in the outbox."""
    service, _ = make_service(notifier=FlakyNotifier())
    account = service.register_account(seller_id="seller-1", enterprise_id="e", actor=OWNER)
    assert 1 == len(service.repository.pending_events())
    assert account == service.repository.get(type(account), account.id)


def test_notifier_failing_every_other_call_gets_every_event_in_order() -> None:
    """After dispatching until empty, every event arrived, in order per aggregate."""
    notifier = FlakyNotifier()
    service, clock = make_service(notifier=notifier)
    account_id, application = onboard(service)
    service.approve(application.id, actor=REVIEWER)
    service.create_app(account_id, "self", "sunrise_sync", actor=OWNER)
    for _ in range(50):
        if not service.repository.pending_events():
            break
        clock.advance(hours=2)
        service.dispatch_pending()
    per_aggregate: dict[str, list[int]] = defaultdict(list)
    for event in notifier.delivered:
        per_aggregate[event.aggregate_id].append(event.version)
    assert [] == service.repository.pending_events()
    assert 8 == len({e.event_id for e in notifier.delivered})
    assert all(versions == sorted(versions) for versions in per_aggregate.values())


def test_failed_delivery_backs_off_exponentially() -> None:
    """Attempts are counted and the next attempt moves out: 30 s, 60 s, 120 s..."""

    class Down:
        def notify(self, event: Event) -> None:
            raise TimeoutError("smtp timeout")

    service, clock = make_service(notifier=Down())
    service.register_account(seller_id="seller-1", enterprise_id="e", actor=OWNER)
    waits = []
    for _ in range(3):
        entry = service.repository.pending_events()[0]
        waits.append(entry.next_attempt_at - clock.now())  # type: ignore[operator]
        clock.current = entry.next_attempt_at  # type: ignore[assignment]
        service.dispatch_pending()
    entry = service.repository.pending_events()[0]
    assert ([30, 60, 120], 4, "TimeoutError: smtp timeout") == (
        [int(w.total_seconds()) for w in waits],
        entry.attempts,
        entry.last_error,
    )


def test_events_not_due_are_deferred_not_delivered() -> None:
    """Before its next attempt time an entry (and its aggregate's later ones) waits."""

    class DownOnce:
        def __init__(self) -> None:
            self.failed = False
            self.seen: list[str] = []

        def notify(self, event: Event) -> None:
            if not self.failed:
                self.failed = True
                raise OSError("down")
            self.seen.append(event.type)

    notifier = DownOnce()
    service, clock = make_service(notifier=notifier)
    account = service.register_account(seller_id="seller-1", enterprise_id="e", actor=OWNER)
    service.accept_agreement(account.id, "2024-01", actor=OWNER)
    assert [] == notifier.seen
    clock.advance(seconds=31)
    service.dispatch_pending()
    assert ["AccountRegistered", "AgreementAccepted"] == notifier.seen


class BarrierRepository(InMemoryRepository):
    """Holds every save at a barrier so that all racers save with the same loaded version."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties)
        self.armed = False

    def save(
        self, aggregate: AggregateRoot, events: Sequence[Event], *, expected_version: int
    ) -> None:
        if self.armed:
            self.barrier.wait(timeout=10)
        super().save(aggregate, events, expected_version=expected_version)


def test_eight_threads_racing_one_command_exactly_one_wins() -> None:
    """Eight reviewers approve at once: one wins, seven get ConcurrencyConflictError."""
    repository = BarrierRepository(8)
    service, _ = make_service(repository=repository)
    _, application = onboard(service)
    repository.armed = True
    outcomes: list[str] = []

    def approve(n: int) -> None:
        try:
            service.approve(application.id, actor=Actor.reviewer(f"rev-{n}"))
            outcomes.append("won")
        except OnboardingError as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ["ConcurrencyConflictError"] * 7 + ["won"] == sorted(outcomes)
    assert 2 == service.repository.get(DeveloperApplication, application.id).version


def race(repository: BarrierRepository, *calls: Callable[[], object]) -> list[str]:
    """Run ``calls`` at once (their saves meet at the barrier); each one's outcome."""
    outcomes: list[str] = []

    def run(call: Callable[[], object]) -> None:
        try:
            outcomes.append(f"returned {call()}")
        except OnboardingError as error:
            outcomes.append(type(error).__name__)

    repository.armed = True
    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    repository.armed = False
    return outcomes


def test_owner_racing_itself_escalates_once_the_loser_gets_a_conflict() -> None:
    """Two escalations by the owner at once: one ticket; the other is a conflict, then refused."""
    repository = BarrierRepository(2)
    notifier = InMemoryNotifier()
    service, clock = make_service(repository=repository, notifier=notifier)
    _, application = onboard(service)
    clock.advance(hours=48)

    def escalate() -> ApplicationStatus:
        return service.escalate(application.id, actor=OWNER).status

    outcomes = race(repository, escalate, escalate)
    assert ["ConcurrencyConflictError", "returned escalated"] == sorted(outcomes)
    with pytest.raises(TransitionNotAllowedError):
        service.escalate(application.id, actor=OWNER)  # the retry, after a reload
    assert 1 == [e.type for e in notifier.events].count("ReviewEscalated")


def test_owner_racing_escalate_overdue_escalates_once() -> None:
    """The owner and the scheduler at once: exactly one of them submits the one ticket."""
    repository = BarrierRepository(2)
    notifier = InMemoryNotifier()
    service, clock = make_service(repository=repository, notifier=notifier)
    _, application = onboard(service)
    clock.advance(hours=48)
    outcomes = race(
        repository,
        lambda: service.escalate(application.id, actor=OWNER).status,
        lambda: len(service.escalate_overdue()),
    )
    owner_won = ["returned 0", "returned escalated"]
    system_won = ["ConcurrencyConflictError", "returned 1"]
    assert sorted(outcomes) in (owner_won, system_won)
    assert 1 == [e.type for e in notifier.events].count("ReviewEscalated")


def test_concurrent_duplicate_app_names_conflict() -> None:
    """Two creations of one name racing past the guard: the store refuses the second."""
    repository = InMemoryRepository()
    service, _ = make_service(repository=repository)
    account_id, application = onboard(service)
    service.approve(application.id, actor=REVIEWER)
    service.create_app(account_id, "self", "sunrise_sync", actor=OWNER)
    real = repository.list_by_account
    # The second writer read the account's apps before the first one saved:
    repository.list_by_account = lambda kind, account: [] if kind is App else real(kind, account)  # type: ignore[method-assign,assignment,return-value]
    with pytest.raises(ConcurrencyConflictError):
        service.create_app(account_id, "self", "sunrise_sync", actor=OWNER)


def test_from_url_memory_and_sqlite(tmp_path: Path) -> None:
    """memory:// keeps state in the process; sqlite:///path in a file that outlives it."""
    from aliexpress_onboarding.adapters.sqlite import SQLiteRepository

    in_memory = OnboardingService.from_url("memory://")
    on_file = OnboardingService.from_url(f"sqlite:///{tmp_path / 'o.db'}")
    account = on_file.register_account(seller_id="seller-1", enterprise_id="e", actor=OWNER)
    reopened = OnboardingService.from_url(f"sqlite:///{tmp_path / 'o.db'}")
    assert (InMemoryRepository, SQLiteRepository, account) == (
        type(in_memory.repository),
        type(on_file.repository),
        reopened.repository.get(type(account), account.id),
    )


@pytest.mark.parametrize("url", ["", "sqlite://", "sqlite:///", "mysql://x", "memory:/"])
def test_from_url_refuses_unknown_urls(url: str) -> None:
    """An unsupported URL is a ValidationError naming the forms that work."""
    with pytest.raises(ValidationError, match="sqlite:///<path>"):
        OnboardingService.from_url(url)


def test_without_auto_dispatch_events_wait_in_the_outbox() -> None:
    """auto_dispatch=False saves events but tells nobody until dispatch_pending() runs."""
    notifier = InMemoryNotifier()
    service, _ = make_service(notifier=notifier, auto_dispatch=False)
    service.register_account(seller_id="seller-1", enterprise_id="e", actor=OWNER)
    before = (len(service.repository.pending_events()), list(notifier.events))
    report = service.dispatch_pending()
    assert ((1, []), 1) == (before, report.delivered)
    assert ["AccountRegistered"] == [e.type for e in notifier.events]


class RepeatingKeys(SecretsCredentialIssuer):
    """Issues the appKeys it is given, in order: a forced collision."""

    def __init__(self, *keys: str) -> None:
        self.keys = list(keys)

    def new_app_key(self) -> AppKey:
        return AppKey(self.keys.pop(0) if len(self.keys) > 1 else self.keys[0])


def test_an_app_key_issued_before_is_replaced_by_a_fresh_one() -> None:
    """A colliding appKey is retried with a new one, not reported as a conflict."""
    service, _ = make_service(credentials=RepeatingKeys("10000001", "10000001", "10000002"))
    account_id, application = onboard(service)
    service.approve(application.id, actor=REVIEWER)
    first = service.create_app(account_id, "self", "sunrise_sync", actor=OWNER)
    second = service.create_app(account_id, "self", "sunrise_ops", actor=OWNER)
    assert (["10000001", "10000002"], 2) == (
        [str(first.app_key), str(second.app_key)],
        len(service.repository.list_by_account(App, account_id)),
    )


def test_an_issuer_that_only_repeats_itself_ends_in_a_conflict_storing_nothing() -> None:
    """Five taken appKeys in a row: ConcurrencyConflictError, and no second app."""
    service, _ = make_service(credentials=RepeatingKeys("10000001"))
    account_id, application = onboard(service)
    service.approve(application.id, actor=REVIEWER)
    service.create_app(account_id, "self", "sunrise_sync", actor=OWNER)
    with pytest.raises(ConcurrencyConflictError):
        service.create_app(account_id, "self", "sunrise_ops", actor=OWNER)
    assert 1 == len(service.repository.list_by_account(App, account_id))


@pytest.mark.parametrize(
    ("account_id", "enterprise_id", "store_count", "actor", "error"),
    [
        ("acc-nope", "ent-1", 2, REVIEWER, "NotFoundError"),
        (42, "ent-1", 2, REVIEWER, "ValidationError"),
        (None, "ent-1", 2, REVIEWER, "ValidationError"),
        ("OWN", "ent-1", 2, OWNER, "PermissionDeniedError"),
        ("OWN", "ent-1", 2, OTHER_SELLER, "PermissionDeniedError"),
        ("OWN", "ent-1", 2, Actor.reviewer("seller-1"), "RuleViolationError"),
        ("OWN", "ent-1", -1, REVIEWER, "ValidationError"),
        ("OWN", "ent-1", 10_001, REVIEWER, "ValidationError"),
        ("OWN", "ent-1", True, REVIEWER, "ValidationError"),
        ("OWN", "", 2, REVIEWER, "ValidationError"),
        ("OWN", "ent\n1", 2, REVIEWER, "ValidationError"),
    ],
)
def test_verify_enterprise_refuses_bad_input_and_changes_nothing(
    account_id: object, enterprise_id: str, store_count: object, actor: Actor, error: str
) -> None:
    """Unknown or non-text ids, a seller (the owner itself too), a reviewer who is the seller,
    a count outside 0..10 000: a typed error, and the stored account is unchanged."""
    service, _ = make_service()
    account_of_owner, _ = onboard(service)
    before = service.repository.get(DeveloperAccount, account_of_owner)
    target = account_of_owner if account_id == "OWN" else account_id
    with pytest.raises(OnboardingError) as caught:
        service.verify_enterprise(target, enterprise_id, store_count, actor=actor)  # type: ignore[arg-type]
    assert (error, before) == (
        type(caught.value).__name__,
        service.repository.get(DeveloperAccount, account_of_owner),
    )
