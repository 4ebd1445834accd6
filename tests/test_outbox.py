"""Delivering the outbox: total back-off, fair dispatch, and commands that never wait long."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any
from unittest import mock

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aliexpress_onboarding import Actor, StorageError
from aliexpress_onboarding.adapters.memory import InMemoryNotifier, InMemoryRepository
from aliexpress_onboarding.domain.events import Event
from aliexpress_onboarding.errors import ValidationError
from aliexpress_onboarding.outbox import retry_delay
from aliexpress_onboarding.samples import sample_account
from aliexpress_onboarding.service import OnboardingService
from test_service import FakeClock

MICROSECOND = timedelta(microseconds=1)


class Down:
    """A notifier whose server never answers."""

    def notify(self, event: Event) -> None:
        raise TimeoutError("smtp timeout")


def register(service: OnboardingService, n: int = 1) -> str:
    seller = Actor.seller(f"seller-{n}")
    return service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller).id


@given(
    attempts=st.integers(min_value=0, max_value=10**6),
    base_us=st.integers(min_value=1, max_value=86_400 * 10**6),
    cap_us=st.integers(min_value=1, max_value=366 * 86_400 * 10**6),
)
def test_retry_delay_is_base_doubled_per_attempt_up_to_the_cap_for_any_attempt_count(
    attempts: int, base_us: int, cap_us: int
) -> None:
    """min(base * 2**attempts, cap), exactly, however many attempts: never an overflow."""
    # Python integers cannot overflow; 2**64 already exceeds any cap / base here.
    expected = min(base_us * 2 ** min(attempts, 64), cap_us)
    assert expected * MICROSECOND == retry_delay(
        attempts, base_us * MICROSECOND, cap_us * MICROSECOND
    )


def test_commands_and_dispatch_keep_working_through_a_long_outage() -> None:
    """A notifier down for days: every retry waits retry_max, no OverflowError, ever."""
    clock = FakeClock()
    service = OnboardingService(notifier=Down(), clock=clock)
    register(service)
    for _ in range(200):  # > 42 attempts, where 30 s * 2**attempts outgrew timedelta
        entry = service.repository.pending_events()[0]
        clock.current = entry.next_attempt_at or clock.current
        service.dispatch_pending()
    entry = service.repository.pending_events()[0]
    register(service, 2)
    assert (201, timedelta(hours=1)) == (
        entry.attempts,
        entry.next_attempt_at - clock.current,  # type: ignore[operator]
    )


def test_a_failing_aggregate_cannot_starve_the_others() -> None:
    """1 000 events of a failing account wait; another account's event is still delivered."""

    class DownForOne:
        def __init__(self) -> None:
            self.delivered: list[str] = []

        def notify(self, event: Event) -> None:
            if event.aggregate_id == "acc-1":
                raise ConnectionRefusedError("mailbox of acc-1 refuses")
            self.delivered.append(event.aggregate_id)

    notifier = DownForOne()
    clock = FakeClock()
    repository = InMemoryRepository()
    account, timeline = sample_account("acc-1", "seller-0")
    backlog = [attrs.evolve(timeline[0], event_id=f"evt-{n}") for n in range(1000)]
    repository.add(account, backlog)
    service = OnboardingService(repository=repository, notifier=notifier, clock=clock)
    service.dispatch_pending()  # the first acc-1 event fails: acc-1 is held
    account_id = register(service, 2)
    clock.advance(minutes=5)  # the hold has ended: acc-1 is tried (and fails) again
    service.dispatch_pending()
    other = register(service, 3)
    assert ([account_id, other], 1000) == (
        notifier.delivered,
        len(service.repository.pending_events()),
    )


def test_a_command_waits_for_a_hanging_notifier_at_most_its_dispatch_deadline() -> None:
    """The command returns by its deadline; the event is delivered once the notifier answers."""
    answer = threading.Event()

    class Hanging:
        def __init__(self) -> None:
            self.delivered: list[Event] = []

        def notify(self, event: Event) -> None:
            answer.wait(30)
            self.delivered.append(event)

    notifier = Hanging()
    service = OnboardingService(notifier=notifier, dispatch_deadline=timedelta(seconds=0.2))
    started = time.monotonic()
    account_id = register(service)
    waited = time.monotonic() - started
    answer.set()
    for _ in range(500):  # the background pass finishes once the notifier answers
        if not service.repository.pending_events():
            break
        time.sleep(0.01)
    # 0.2 s deadline; 5 s is generous for a loaded machine, and far below the 30 s hang.
    assert (True, [account_id]) == (waited < 5, [e.aggregate_id for e in notifier.delivered])


def test_a_dispatch_that_fails_after_the_commit_never_fails_the_command(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The command has committed: a broken outbox store is logged, the command returns."""

    class BrokenOutbox(InMemoryRepository):
        def mark_failed(self, *args: object, **kwargs: object) -> None:
            raise StorageError("disk full")

    repository = BrokenOutbox()
    service = OnboardingService(repository=repository, notifier=Down())
    with caplog.at_level(logging.ERROR, logger="aliexpress_onboarding.outbox"):
        account_id = register(service)
    assert (account_id, True) == (
        service.repository.pending_events()[0].event.aggregate_id,
        "dispatching the outbox failed" in caplog.text,
    )


def test_inline_dispatches_of_one_service_never_deliver_an_event_twice() -> None:
    """Commands from many threads share one background pass at a time: no duplicates."""

    class Slow:
        def __init__(self) -> None:
            self.delivered: list[str] = []

        def notify(self, event: Event) -> None:
            time.sleep(0.001)
            self.delivered.append(event.event_id)

    notifier = Slow()
    service = OnboardingService(notifier=notifier, dispatch_deadline=timedelta(0))
    threads = [threading.Thread(target=register, args=(service, n)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    while service.repository.pending_events():
        service.dispatch_pending()
    assert (16, 16) == (len(notifier.delivered), len(set(notifier.delivered)))


@pytest.mark.parametrize(
    ("field", "settings"),
    [
        ("retry_base", {"retry_base": timedelta(0)}),
        ("retry_base", {"retry_base": 30}),
        ("retry_max", {"retry_max": timedelta(days=400)}),
        ("retry_max", {"retry_base": timedelta(hours=2), "retry_max": timedelta(hours=1)}),
        ("dispatch_deadline", {"dispatch_deadline": timedelta(seconds=-1)}),
        ("auto_dispatch", {"auto_dispatch": "yes"}),
    ],
)
def test_service_settings_out_of_range_are_refused(field: str, settings: dict[str, object]) -> None:
    """A retry or deadline setting out of range is a ValidationError naming it."""
    with pytest.raises(ValidationError) as caught:
        OnboardingService(notifier=InMemoryNotifier(), **settings)  # type: ignore[arg-type]
    assert field == caught.value.field


def test_while_the_notifier_hangs_only_the_first_command_waits_its_deadline() -> None:
    """A pass that already outlasted the deadline makes later commands return at once."""
    answer = threading.Event()

    class Hanging:
        def notify(self, event: Event) -> None:
            answer.wait(30)

    service = OnboardingService(notifier=Hanging(), dispatch_deadline=timedelta(seconds=1))
    register(service, 1)  # waits its deadline: the pass is still in flight
    started = time.monotonic()
    for n in range(2, 12):
        register(service, n)
    waited = time.monotonic() - started
    pending = len(service.repository.pending_events())
    answer.set()
    # Ten commands behind a hanging pass: without the rule, 10 s; 5 s is generous for a
    # loaded machine and still far below it.
    assert (True, 11) == (waited < 5, pending)


def test_an_in_process_notifier_is_told_in_the_commands_own_thread() -> None:
    """in_process = True: no hand-off; any other notifier is told by the dispatch thread."""

    class Recording:
        def __init__(self) -> None:
            self.threads: list[int] = []

        def notify(self, event: Event) -> None:
            self.threads.append(threading.get_ident())

    class InProcess(Recording):
        in_process = True

    told_here, told_elsewhere = InProcess(), Recording()
    register(OnboardingService(notifier=told_here), 1)
    register(OnboardingService(notifier=told_elsewhere), 2)
    assert ([threading.get_ident()], False) == (
        told_here.threads,
        threading.get_ident() in told_elsewhere.threads,
    )


def test_outcomes_that_fail_to_be_written_never_fail_the_command(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """In-process delivery with its outcomes written together: a failing write is logged."""

    class BrokenSettle(InMemoryRepository):
        def settle(self, *args: object, **kwargs: object) -> None:
            raise StorageError("disk full")

    notifier = InMemoryNotifier()
    service = OnboardingService(repository=BrokenSettle(), notifier=notifier)
    with caplog.at_level(logging.ERROR, logger="aliexpress_onboarding.outbox"):
        account_id = register(service)
    assert (account_id, ["AccountRegistered"], True) == (
        service.repository.pending_events()[0].event.aggregate_id,
        [event.type for event in notifier.events],
        "dispatching the outbox failed" in caplog.text,
    )


def test_a_repository_that_overrides_a_write_is_served_through_it() -> None:
    """A subclass that counts saves, say, sees every save: the leasing path steps aside."""

    class CountingSaves(InMemoryRepository):
        saves = 0

        def save(self, *args: Any, **kwargs: Any) -> None:
            CountingSaves.saves += 1
            super().save(*args, **kwargs)

    notifier = InMemoryNotifier()
    service = OnboardingService(repository=CountingSaves(), notifier=notifier)
    seller = Actor.seller("seller-1")
    account = service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller)
    service.accept_agreement(account.id, "2024-01", actor=seller)
    assert (1, ["AccountRegistered", "AgreementAccepted"], []) == (
        CountingSaves.saves,
        [event.type for event in notifier.events],
        service.repository.pending_events(),
    )


def test_a_write_patched_on_the_instance_is_the_one_called() -> None:
    """Fault injection on one repository object (``mock.patch.object``) still takes effect."""
    repository = InMemoryRepository()
    service = OnboardingService(repository=repository, notifier=InMemoryNotifier())
    seller = Actor.seller("seller-1")
    account = service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller)
    with (
        mock.patch.object(repository, "save", side_effect=StorageError("disk full")),
        pytest.raises(StorageError, match="disk full"),
    ):
        service.accept_agreement(account.id, "2024-01", actor=seller)
