"""Outages: a notifier down for 72 hours, and mail servers that never answer or trickle."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import attrs
import pytest

from aliexpress_onboarding import Actor, ApplicationStatus, DeveloperApplication
from aliexpress_onboarding.adapters.email import (
    EmailNotifier,
    SMTPEmailSender,
    account_email_lookup,
)
from aliexpress_onboarding.adapters.memory import InMemoryRepository
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository
from aliexpress_onboarding.domain.account import DeveloperProfile
from aliexpress_onboarding.domain.events import ApplicationApproved, Event
from aliexpress_onboarding.domain.values import EmailAddress
from aliexpress_onboarding.ports import Repository
from aliexpress_onboarding.service import OnboardingService
from test_email import HOST, PLATFORM, Tarpit
from test_service import DOCUMENT, FACTS, FakeClock

OUTAGE = timedelta(hours=72)
STEP = timedelta(minutes=5)  # simulated time between two commands
AFTER = timedelta(hours=3)  # commands after the notifier is back
PROFILE = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise.example.com"))
REVIEWER = Actor.reviewer("rev-1")
DISPATCH_DEADLINE = timedelta(seconds=0.3)
SEND_DEADLINE = 2.0  # seconds one SMTP send may take: far longer than a command may wait
LATE = DISPATCH_DEADLINE.total_seconds() + 2  # generous: "it returns", not a precise duration
DISPATCH_THREAD = "aliexpress-onboarding-dispatch"


@pytest.fixture(scope="module", autouse=True)
def no_dispatch_thread_outlives_the_module() -> Iterator[None]:
    """The services' idle dispatch threads end before the next module's tests run."""
    before = set(threading.enumerate())
    yield
    for thread in set(threading.enumerate()) - before:
        if thread.name == DISPATCH_THREAD:
            thread.join(timeout=10)  # a worker ends after 5 idle seconds


# --------------------------------------------------------------------------- 72-hour outage


@attrs.define
class DownUntil:
    """A notifier that raises until ``clock`` reaches ``up_at``, then records event ids."""

    clock: FakeClock
    up_at: datetime
    delivered: list[str] = attrs.Factory(list)

    def notify(self, event: Event) -> None:
        if self.clock.now() < self.up_at:
            raise ConnectionRefusedError("mail relay down")
        self.delivered.append(event.event_id)


@attrs.frozen
class Outage:
    """What a 72-hour outage and its recovery left behind."""

    stored: list[str]
    delivered: list[str]
    pending: int
    longest_delay: timedelta


def _command(service: OnboardingService, index: int, account_ids: list[str]) -> None:
    """Register, accept or submit the profile, on a fresh seller every third command."""
    seller = Actor.seller(f"seller-{index // 3}")
    match index % 3:
        case 0:
            account = service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller)
            account_ids.append(account.id)
        case 1:
            service.accept_agreement(account_ids[-1], "2024-01", actor=seller)
        case _:
            service.submit_profile(account_ids[-1], PROFILE, actor=seller)


def _longest_delay(service: OnboardingService, clock: FakeClock) -> timedelta:
    """The longest wait until a retry among the pending events, from now."""
    waits = [
        entry.next_attempt_at - clock.now()
        for entry in service.repository.pending_events(100_000)
        if entry.next_attempt_at is not None
    ]
    return max(waits, default=timedelta(0))


def _run_outage(repository: Repository) -> Outage:
    clock = FakeClock()
    notifier = DownUntil(clock, clock.now() + OUTAGE)
    service = OnboardingService(repository=repository, notifier=notifier, clock=clock)
    account_ids: list[str] = []
    longest = timedelta(0)
    for index in range((OUTAGE + AFTER) // STEP):
        _command(service, index, account_ids)
        if index % 12 == 0 and clock.now() < notifier.up_at:  # once a simulated hour
            longest = max(longest, _longest_delay(service, clock))
        clock.current += STEP
    for _ in range(100):  # within retry_max (an hour) every held aggregate comes due
        if not service.repository.pending_events(1):
            break
        service.dispatch_pending()
        clock.current += STEP
    return Outage(
        [event.event_id for event in service.repository.events()],
        notifier.delivered,
        len(service.repository.pending_events()),
        longest,
    )


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def outage(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Outage:
    repository: Repository = (
        InMemoryRepository()
        if request.param == "memory"
        else SQLiteRepository(tmp_path_factory.mktemp("outage") / "outage.db")
    )
    # Hundreds of failed deliveries on purpose: their warnings would only flood the report.
    outbox_logger = logging.getLogger("aliexpress_onboarding.outbox")
    level = outbox_logger.level
    outbox_logger.setLevel(logging.ERROR)
    try:
        result = _run_outage(repository)
    finally:
        outbox_logger.setLevel(level)
    print(f"\n{request.param}: {len(result.stored)} events stored, {len(result.delivered)}", end="")
    print(f" deliveries, longest retry wait {result.longest_delay}", end=" ")
    return result


def test_after_a_72_hour_outage_every_event_is_delivered_exactly_once(outage: Outage) -> None:
    """Recovery delivers every stored event once: none lost, none twice, none left pending."""
    duplicated = sorted(event_id for event_id, n in Counter(outage.delivered).items() if n > 1)
    # 3 hours after 72: 900 commands, 300 sellers, 4 events each
    assert (1200, [], sorted(outage.stored), 0) == (
        len(outage.stored),
        duplicated,
        sorted(outage.delivered),
        outage.pending,
    )


def test_no_retry_during_a_72_hour_outage_waits_longer_than_retry_max(outage: Outage) -> None:
    """The back-off doubles up to retry_max (1 hour by default) and never past it."""
    # Sampled once a simulated hour, 5-minute steps: a wait of at least 55 minutes shows the
    # doubling reached the cap (30 s * 2**7 > 1 h), and none is longer than the cap.
    assert (True, True) == (
        outage.longest_delay >= timedelta(minutes=55),
        outage.longest_delay <= timedelta(hours=1),
    )


# --------------------------------------------------------------------------- black hole, tarpit


def _black_hole() -> tuple[int, Callable[[], None]]:
    """A server the kernel accepts connections for and nobody answers; closing resets them."""
    listener = socket.create_server((HOST, 0))
    return listener.getsockname()[1], listener.close


def _tarpit() -> tuple[int, Callable[[], None]]:
    """A server that trickles a greeting that never ends, a byte every 0.05 s."""
    server = Tarpit()
    thread = threading.Thread(target=server.serve, name="tarpit")
    thread.start()

    def stop() -> None:
        server.stopped.set()
        thread.join(timeout=5)
        server.listener.close()

    return server.listener.getsockname()[1], stop


@pytest.fixture(params=[_black_hole, _tarpit], ids=["black hole", "tarpit"])
def unanswering(request: pytest.FixtureRequest) -> Iterator[OnboardingService]:
    """A service e-mailing through a server that never finishes a reply.

    At teardown the server goes away first, so the dispatch still in flight fails at once;
    an explicit dispatch then waits for it: no pass outlives the test.
    """
    port, stop = request.param()
    repository = InMemoryRepository()
    sender = SMTPEmailSender(
        HOST, port, sender=PLATFORM, security="none", timeout=60, deadline=SEND_DEADLINE
    )
    service = OnboardingService(
        repository=repository,
        notifier=EmailNotifier(sender, account_email_lookup(repository)),
        dispatch_deadline=DISPATCH_DEADLINE,
    )
    try:
        yield service
    finally:
        stop()
        service.dispatch_pending()


def _under_review(service: OnboardingService, count: int) -> list[str]:
    """``count`` applications under review, each of its own account (no e-mail on the way)."""
    ids = []
    for n in range(count):
        seller = Actor.seller(f"seller-{n}")
        account = service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller)
        service.accept_agreement(account.id, "2024-01", actor=seller)
        service.submit_profile(account.id, PROFILE, actor=seller)
        ids.append(service.apply(account.id, "self", FACTS, DOCUMENT, actor=seller).id)
    return ids


def test_every_command_returns_within_its_dispatch_deadline_when_smtp_never_answers(
    unanswering: OnboardingService,
) -> None:
    """Ten approvals, each e-mailed through a silent or trickling server: each command returns
    by its 0.3 s dispatch deadline (plus slack), its state is stored, its e-mail stays pending."""
    service = unanswering
    application_ids = _under_review(service, 10)
    took = []
    for application_id in application_ids:
        started = time.monotonic()
        service.approve(application_id, actor=REVIEWER)
        took.append(time.monotonic() - started)
    pending = [entry.event for entry in service.repository.pending_events()]
    print(f"\nslowest approval {max(took):.3f} s (dispatch deadline 0.3 s)", end=" ")
    assert ([], [ApplicationStatus.APPROVED] * 10, 10) == (
        [seconds for seconds in took if seconds >= LATE],
        [service.repository.get(DeveloperApplication, a).status for a in application_ids],
        sum(isinstance(event, ApplicationApproved) for event in pending),
    )
