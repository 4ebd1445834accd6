"""Contract test-suites for adapter authors.

They need pytest: install the ``testing`` extra (``pip install 'aliexpress-onboarding[testing]'``).
Subclass a contract in your adapter's tests and provide the fixtures it asks for::

    from aliexpress_onboarding.testing import RepositoryContract

    class TestMyRepository(RepositoryContract):
        @pytest.fixture
        def repository(self, tmp_path):
            return MyRepository(tmp_path / "db")

        @pytest.fixture
        def second_repository(self, repository):
            return MyRepository(repository.path)  # a second instance on the same store

Every test of the contract then runs against your adapter, some from several threads at once.
Without ``second_repository`` the tests of two instances on one store are skipped (an in-process
store cannot be opened twice). Our own adapters pass the same suites.
`PlatformSimulator` is a local AliExpress Open Platform on 127.0.0.1 (authorization page, token
APIs, one business API) for testing what calls the platform.
The ``sample_*`` builders (from the pytest-free `aliexpress_onboarding.samples`) make valid
aggregates for your own tests too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import attrs
import pytest

from ._simulator import DEFAULT_LIFETIMES, PlatformSimulator, TokenLifetimes
from .domain.account import DeveloperAccount, VerifyEnterprise
from .domain.actors import Actor
from .domain.app import App
from .domain.application import Approve, DeveloperApplication, Escalate, Reject
from .domain.authorization import (
    AlertTokenExpiry,
    BoundUsage,
    RevokeStore,
    StoreAuthorization,
    self_stores_scope,
)
from .domain.events import Event
from .domain.oauth import AuthorizationRequest, new_state
from .domain.tokens import AccessToken, RefreshToken
from .domain.values import AppKey, DeveloperType
from .errors import (
    AlreadyExistsError,
    ConcurrencyConflictError,
    NotFoundError,
    RuleViolationError,
)
from .ports import FailedDelivery, LeasingRepository, Notifier, Repository
from .samples import T0, sample_account, sample_app, sample_application, sample_authorization

__all__ = [
    "DEFAULT_LIFETIMES",
    "NotifierContract",
    "PlatformSimulator",
    "RepositoryContract",
    "TokenLifetimes",
    "sample_account",
    "sample_app",
    "sample_application",
    "sample_authorization",
]


HOUR = timedelta(hours=1)
_RACERS = 8
_PATIENCE = 60.0  # seconds a racing thread may take before the race counts as hung


def _approved(account: DeveloperAccount) -> DeveloperApplication:
    application, _ = sample_application(account)
    approved, _ = application.handle(Approve(), Actor.reviewer("rev-1"), T0)
    return approved


def _self_app(repository: Repository, store_count: int = 3) -> tuple[DeveloperAccount, App]:
    """A stored account verified for ``store_count`` stores, and a stored Self app of it."""
    account, _ = sample_account()
    verify = VerifyEnterprise(account.enterprise_id, store_count)
    account, _ = account.handle(verify, Actor.reviewer("rev-1"), T0)
    app, _ = sample_app(account, _approved(account))
    repository.add(account, [])
    repository.add(app, [])
    return account, app


def _with_tokens(
    authorization: StoreAuthorization,
    expires_at: datetime,
    refresh_expires_at: datetime | None = None,
) -> StoreAuthorization:
    """``authorization`` holding made-up tokens that expire at ``expires_at``.

    The refresh token expires a month later unless ``refresh_expires_at`` is given.
    """
    return attrs.evolve(
        authorization,
        access_token=AccessToken(f"access-{authorization.store_id}-0123456789"),
        refresh_token=RefreshToken(f"refresh-{authorization.store_id}-0123456789"),
        token_expires_at=expires_at,
        refresh_expires_at=refresh_expires_at or expires_at + 30 * 24 * HOUR,
    )


def _request(now: datetime = T0) -> AuthorizationRequest:
    return AuthorizationRequest.start(
        new_state(),
        app_id="app-1",
        actor_id="seller-1",
        redirect_uri="https://shop.example.com/callback",
        now=now,
    )


def _race(calls: Sequence[Callable[[], object]]) -> list[str]:
    """Run ``calls`` at once, one thread each: ``"ok"``, ``"conflict"`` or what else each did.

    A `ConcurrencyConflictError` (an `AlreadyExistsError` too) is a ``"conflict"``.
    """
    start = threading.Barrier(len(calls))
    outcomes = [f"still running after {_PATIENCE:.0f} s"] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        start.wait()
        try:
            call()
        except ConcurrencyConflictError:
            outcomes[index] = "conflict"
        except Exception as error:
            outcomes[index] = f"{type(error).__name__}: {error}"
        else:
            outcomes[index] = "ok"

    threads = [
        threading.Thread(target=run, args=(index, call), daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(_PATIENCE)
    return outcomes


class RepositoryContract:
    """The behaviour every `Repository` adapter must have.

    Override the ``repository`` fixture, and ``second_repository`` if your store can be opened
    twice (a file, a database).
    """

    @pytest.fixture
    def repository(self) -> Repository:
        """The repository under test, empty. Adapters override this fixture."""
        raise NotImplementedError("override the 'repository' fixture")

    @pytest.fixture
    def second_repository(self, repository: Repository) -> Repository:
        """A second instance on the store ``repository`` opened. Adapters override this fixture.

        By default the tests that need it are skipped.
        """
        pytest.skip(
            "no 'second_repository' fixture: an in-process store cannot be opened twice; a store"
            " that can (a file, a database) overrides it with a second instance on the same store"
        )

    # ------------------------------------------------------------------ aggregates

    def test_added_aggregate_is_returned_equal(self, repository: Repository) -> None:
        """What was added comes back equal, for every aggregate kind and every field."""
        account, _ = sample_account()
        approved = _approved(account)
        app, _ = sample_app(account, approved)
        for aggregate in (account, approved, app):
            repository.add(aggregate, [])
        assert (account, approved, app) == (
            repository.get(DeveloperAccount, account.id),
            repository.get(DeveloperApplication, approved.id),
            repository.get(App, app.id),
        )

    def test_stored_secrets_still_match(self, repository: Repository) -> None:
        """An app's secret (and its previous one, in the overlap window) survive storage."""
        account, _ = sample_account()
        app, _ = sample_app(account, _approved(account))
        repository.add(app, [])
        stored = repository.get(App, app.id)
        assert (
            stored.secret_matches(app.secret.reveal(), T0),
            stored.secret_matches(f"secret-{app.id}-0123456789abcdef", T0 + timedelta(hours=1)),
        ) == (True, True)

    def test_get_unknown_id_raises_not_found(self, repository: Repository) -> None:
        """A missing aggregate is a NotFoundError naming the kind and the id."""
        with pytest.raises(NotFoundError) as caught:
            repository.get(DeveloperApplication, "nope")
        assert (caught.value.kind, caught.value.id) == ("application", "nope")

    def test_get_is_per_kind(self, repository: Repository) -> None:
        """An id stored as an account is not found as an app."""
        account, _ = sample_account()
        repository.add(account, [])
        with pytest.raises(NotFoundError):
            repository.get(App, account.id)

    def test_add_existing_id_conflicts(self, repository: Repository) -> None:
        """Adding an id twice is a ConcurrencyConflictError."""
        account, _ = sample_account()
        repository.add(account, [])
        with pytest.raises(ConcurrencyConflictError):
            repository.add(attrs.evolve(account, owner_id="seller-9"), [])

    def test_save_with_expected_version_stores_new_state(self, repository: Repository) -> None:
        """Saving with the stored version as expected_version replaces the aggregate."""
        account, _ = sample_account()
        application, _ = sample_application(account)
        repository.add(application, [])
        approved, events = application.handle(Approve(), Actor.reviewer("r"), T0)
        repository.save(approved, events, expected_version=application.version)
        assert approved == repository.get(DeveloperApplication, application.id)

    def test_save_with_stale_version_conflicts_and_changes_nothing(
        self, repository: Repository
    ) -> None:
        """A stale save raises ConcurrencyConflictError and writes neither state nor events."""
        account, _ = sample_account()
        application, _ = sample_application(account)
        repository.add(application, [])
        approved, events = application.handle(Approve(), Actor.reviewer("r"), T0)
        repository.save(approved, events, expected_version=1)
        rejected, more = application.handle(Reject("late"), Actor.reviewer("r2"), T0)
        before = [e.event.event_id for e in repository.pending_events()]
        with pytest.raises(ConcurrencyConflictError) as caught:
            repository.save(rejected, more, expected_version=1)
        assert (approved, before, 1) == (
            repository.get(DeveloperApplication, application.id),
            [e.event.event_id for e in repository.pending_events()],
            caught.value.expected_version,
        )

    def test_save_unknown_aggregate_raises_not_found(self, repository: Repository) -> None:
        """Saving what was never added is a NotFoundError."""
        account, _ = sample_account()
        with pytest.raises(NotFoundError):
            repository.save(attrs.evolve(account, version=4), [], expected_version=3)

    def test_returned_aggregates_cannot_change_the_store(self, repository: Repository) -> None:
        """Returned values are immutable: the stored state cannot be changed through them."""
        account, _ = sample_account()
        repository.add(account, [])
        returned = repository.get(DeveloperAccount, account.id)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            returned.status = None  # type: ignore[misc,assignment]
        assert account == repository.get(DeveloperAccount, account.id)

    # ------------------------------------------------------------------ unique keys

    def test_one_developer_account_per_seller(self, repository: Repository) -> None:
        """A second account for the same seller conflicts."""
        repository.add(sample_account("acc-1")[0], [])
        with pytest.raises(ConcurrencyConflictError):
            repository.add(sample_account("acc-2")[0], [])

    def test_a_taken_key_names_itself_and_its_holder_and_stores_nothing(
        self, repository: Repository
    ) -> None:
        """A second account for a seller: AlreadyExistsError names the key and the holder.

        Neither the second account nor its events are stored.
        """
        first, timeline = sample_account("acc-1")
        repository.add(first, timeline)
        second, more = sample_account("acc-2")
        with pytest.raises(AlreadyExistsError) as caught:
            repository.add(second, more)
        with pytest.raises(NotFoundError):
            repository.get(DeveloperAccount, "acc-2")
        assert (f"account-of-seller:{first.owner_id}", "acc-1", timeline) == (
            caught.value.key,
            caught.value.existing_id,
            repository.events(),
        )

    def test_one_open_application_per_type_across_writers(self, repository: Repository) -> None:
        """Two writers racing past the guard: the store refuses the second open application."""
        account, _ = sample_account()
        repository.add(sample_application(account, "appl-1")[0], [])
        with pytest.raises(ConcurrencyConflictError):
            repository.add(sample_application(account, "appl-2")[0], [])

    def test_rejection_frees_the_developer_type(self, repository: Repository) -> None:
        """After a rejection is stored, a new application of the type can be stored."""
        account, _ = sample_account()
        first, _ = sample_application(account, "appl-1")
        repository.add(first, [])
        rejected, events = first.handle(Reject("blurry"), Actor.reviewer("r"), T0)
        repository.save(rejected, events, expected_version=1)
        second, _ = sample_application(account, "appl-2", existing=(rejected,))
        repository.add(second, [])
        assert second == repository.get(DeveloperApplication, "appl-2")

    def test_app_names_unique_within_an_account(self, repository: Repository) -> None:
        """A second app with the same name in one account conflicts; another account is fine."""
        account, _ = sample_account()
        approved = _approved(account)
        repository.add(sample_app(account, approved, "app-1", app_key="1001")[0], [])
        with pytest.raises(ConcurrencyConflictError):
            repository.add(sample_app(account, approved, "app-2", app_key="1002")[0], [])
        other, _ = sample_account("acc-2", "seller-2")
        repository.add(sample_app(other, _approved(other), "app-3", app_key="1003")[0], [])

    def _add_refused(self, repository: Repository) -> tuple[App, list[Event]]:
        """Store app-1, then have app-2 refused for app-1's name.

        Returns app-3, the rightful holder of the refused one's appKey, and its events.
        """
        account, _ = sample_account()
        approved = _approved(account)
        first, timeline = sample_app(account, approved, "app-1", app_key="1001")
        repository.add(first, timeline)
        clash, events = sample_app(account, approved, "app-2", app_key="1002")
        with pytest.raises(ConcurrencyConflictError):
            repository.add(clash, events)
        return sample_app(account, approved, "app-3", "sunrise_push", app_key="1002")

    def test_a_refused_add_stores_no_row_and_no_event(self, repository: Repository) -> None:
        """Nothing of an add refused for a taken key is stored: neither the row nor its events."""
        self._add_refused(repository)
        with pytest.raises(NotFoundError):
            repository.get(App, "app-2")
        assert (
            repository.events("app-2"),
            [e for e in repository.pending_events() if e.event.aggregate_id == "app-2"],
        ) == ([], [])

    def test_a_refused_add_claims_none_of_its_keys(self, repository: Repository) -> None:
        """After an add refused for a taken key, its other keys are free for their holders."""
        rightful, events = self._add_refused(repository)
        try:
            repository.add(rightful, events)
        except ConcurrencyConflictError as error:
            pytest.fail(f"the refused add of app-2 kept a key: {error!r}")
        assert rightful == repository.get(App, "app-3")

    def _save_refused(self, repository: Repository) -> tuple[App, App, list[Event]]:
        """Store app-1 and app-2, then have app-2 refused a rename to app-1's name.

        Returns app-1, app-2 and app-2's events, as stored before the refused save.
        """
        account, _ = sample_account()
        approved = _approved(account)
        first, _ = sample_app(account, approved, "app-1", app_key="1001")
        second, timeline = sample_app(account, approved, "app-2", "sunrise_push", app_key="1002")
        repository.add(first, [])
        repository.add(second, timeline)
        renamed = attrs.evolve(second, name=first.name, version=second.version + 1)
        renaming = attrs.evolve(timeline[-1], event_id="app-2:renamed", version=renamed.version)
        with pytest.raises(ConcurrencyConflictError):
            repository.save(renamed, [renaming], expected_version=second.version)
        return first, second, timeline

    def test_a_refused_save_keeps_the_stored_version_and_writes_no_event(
        self, repository: Repository
    ) -> None:
        """A save refused for a taken key leaves the stored aggregate and its events unchanged."""
        _, second, timeline = self._save_refused(repository)
        assert (second, timeline, timeline) == (
            repository.get(App, "app-2"),
            repository.events("app-2"),
            [e.event for e in repository.pending_events() if e.event.aggregate_id == "app-2"],
        )

    def test_a_refused_save_moves_no_key(self, repository: Repository) -> None:
        """After a save refused for a taken key, each app still holds its own name, and only it."""
        first, second, _ = self._save_refused(repository)
        repository.save(
            attrs.evolve(first, version=first.version + 1), [], expected_version=first.version
        )
        with pytest.raises(ConcurrencyConflictError):
            repository.add(
                attrs.evolve(first, id="app-3", name=second.name, app_key=AppKey("1003")), []
            )

    # ------------------------------------------------------------------ look-ups

    def test_list_by_account_returns_that_accounts_aggregates_in_id_order(
        self, repository: Repository
    ) -> None:
        """Applications of one account, not another's, ordered by id."""
        account, _ = sample_account()
        other, _ = sample_account("acc-2", "seller-2")
        repository.add(sample_application(account, "appl-b")[0], [])
        repository.add(sample_application(account, "appl-a", DeveloperType.COMMERCIAL)[0], [])
        repository.add(sample_application(other, "appl-c")[0], [])
        assert [a.id for a in repository.list_by_account(DeveloperApplication, account.id)] == [
            "appl-a",
            "appl-b",
        ]

    def test_open_applications_are_those_under_review(self, repository: Repository) -> None:
        """Escalated, approved and rejected applications are not listed; the others in id order."""
        submitted = [
            sample_application(sample_account(f"acc-{n}", f"seller-{n}")[0], f"appl-{n}")[0]
            for n in range(1, 6)
        ]
        for application in submitted:
            repository.add(application, [])
        overdue = T0 + timedelta(days=3)
        for application, command in (
            (submitted[0], Escalate("ticket-1")),
            (submitted[2], Approve()),
            (submitted[3], Reject("blurry")),
        ):
            actor = Actor.system() if isinstance(command, Escalate) else Actor.reviewer("r")
            changed, events = application.handle(command, actor, overdue)
            repository.save(changed, events, expected_version=1)
        assert [a.id for a in repository.open_applications()] == ["appl-2", "appl-5"]

    def test_undecided_applications_are_those_under_review_or_escalated(
        self, repository: Repository
    ) -> None:
        """Escalated applications await a decision too; decided ones are not listed."""
        decided, waiting, escalated = (
            sample_application(sample_account(f"acc-{n}", f"seller-{n}")[0], f"appl-{n}")[0]
            for n in (1, 2, 3)
        )
        for application in (decided, waiting, escalated):
            repository.add(application, [])
        approved, events = decided.handle(Approve(), Actor.reviewer("r"), T0)
        repository.save(approved, events, expected_version=1)
        ticketed, events = escalated.handle(Escalate("tkt-1"), Actor.system(), T0 + 49 * HOUR)
        repository.save(ticketed, events, expected_version=1)
        assert [a.id for a in repository.undecided_applications()] == ["appl-2", "appl-3"]

    def test_account_of_seller_is_the_account_the_seller_owns(self, repository: Repository) -> None:
        """Found by the seller id it belongs to; a seller without an account has none."""
        repository.add(sample_account("acc-1", "seller-1")[0], [])
        other, _ = sample_account("acc-2", "seller-2")
        repository.add(other, [])
        assert (other, None) == (
            repository.account_of_seller("seller-2"),
            repository.account_of_seller("seller-3"),
        )

    # ------------------------------------------------------------------ outbox

    def test_outbox_holds_events_in_the_order_stored(self, repository: Repository) -> None:
        """Events saved with state changes come out of the outbox oldest first."""
        account, timeline = sample_account()
        repository.add(account, timeline)
        assert [e.event_id for e in timeline] == [
            entry.event.event_id for entry in repository.pending_events()
        ]

    def test_outbox_events_round_trip_equal(self, repository: Repository) -> None:
        """Every event comes back equal to what was stored."""
        account, timeline = sample_account()
        app, more = sample_app(account, _approved(account))
        repository.add(app, timeline + more)
        assert timeline + more == [entry.event for entry in repository.pending_events()]

    def test_mark_delivered_removes_from_pending(self, repository: Repository) -> None:
        """A delivered entry is no longer pending."""
        account, timeline = sample_account()
        repository.add(account, timeline)
        first = repository.pending_events()[0]
        repository.mark_delivered(first.sequence)
        assert [e.event_id for e in timeline[1:]] == [
            entry.event.event_id for entry in repository.pending_events()
        ]

    def test_mark_failed_counts_attempts_and_sets_next_attempt(
        self, repository: Repository
    ) -> None:
        """A failed delivery stays pending with attempts + 1, next time and error."""
        account, timeline = sample_account()
        repository.add(account, timeline)
        first = repository.pending_events()[0]
        later = T0 + timedelta(minutes=1)
        repository.mark_failed(first.sequence, next_attempt_at=later, error="boom")
        repository.mark_failed(first.sequence, next_attempt_at=later, error="boom again")
        entry = repository.pending_events()[0]
        assert (first.sequence, 2, later, "boom again") == (
            entry.sequence,
            entry.attempts,
            entry.next_attempt_at,
            entry.last_error,
        )

    def test_events_are_the_timeline_delivered_or_not(self, repository: Repository) -> None:
        """events() keeps every stored event, also after delivery, per aggregate on request."""
        account, timeline = sample_account()
        application, submitted = sample_application(account)
        repository.add(account, timeline)
        repository.add(application, submitted)
        for entry in repository.pending_events():
            repository.mark_delivered(entry.sequence)
        assert (timeline + submitted, submitted) == (
            repository.events(),
            repository.events(application.id),
        )

    def test_pending_events_honours_limit(self, repository: Repository) -> None:
        """At most ``limit`` entries, the oldest."""
        account, timeline = sample_account()
        repository.add(account, timeline)
        assert [timeline[0].event_id] == [e.event.event_id for e in repository.pending_events(1)]

    # ------------------------------------------------------------------ due events

    def _held(self, repository: Repository, backlog: int = 0) -> tuple[list[Event], list[Event]]:
        """The events of two accounts: the first one's head failed (held an hour).

        Account 1 has ``backlog`` more events behind its timeline; account 2 never failed.
        """
        first, timeline = sample_account("acc-1", "seller-1")
        more = [
            attrs.evolve(timeline[-1], event_id=f"{timeline[-1].event_id}-{n}")
            for n in range(backlog)
        ]
        repository.add(first, timeline + more)
        head = repository.pending_events(1)[0]
        repository.mark_failed(head.sequence, next_attempt_at=T0 + HOUR, error="down")
        second, other = sample_account("acc-2", "seller-2")
        repository.add(second, other)
        return timeline + more, other

    def test_an_aggregate_whose_delivery_failed_is_held_until_its_retry(
        self, repository: Repository
    ) -> None:
        """Before the retry time none of its events is due, others' are; then its oldest is."""
        held, other = self._held(repository)
        assert (other, [held[0], *other]) == (
            [entry.event for entry in repository.due_events(T0, 100)],
            [entry.event for entry in repository.due_events(T0 + HOUR, 100)],
        )

    def test_a_failure_that_repeats_keeps_the_backlog_held(self, repository: Repository) -> None:
        """Failing again at its retry moves the hold on; none of the backlog slips through."""
        held, other = self._held(repository, backlog=5)
        [head] = [e for e in repository.due_events(T0 + HOUR, 100) if e.event == held[0]]
        repository.mark_failed(head.sequence, next_attempt_at=T0 + 3 * HOUR, error="down")
        assert (other, [held[0]]) == (
            [entry.event for entry in repository.due_events(T0 + 2 * HOUR, 100)],
            [e.event for e in repository.due_events(T0 + 3 * HOUR, 100) if e.event in held],
        )

    def test_a_retried_aggregate_takes_one_place_in_a_batch(self, repository: Repository) -> None:
        """When its retry comes, a failing aggregate's backlog does not crowd out the others."""
        held, other = self._held(repository, backlog=50)
        assert [held[0], *other[:2]] == [e.event for e in repository.due_events(T0 + HOUR, 3)]

    def test_a_new_event_of_a_held_aggregate_is_held_too(self, repository: Repository) -> None:
        """An event stored while its aggregate is held waits with the rest, in order."""
        held, other = self._held(repository)
        account = repository.get(DeveloperAccount, "acc-1")
        later = attrs.evolve(held[-1], event_id="evt-later")
        repository.save(
            attrs.evolve(account, version=account.version + 1),
            [later],
            expected_version=account.version,
        )
        due_while_held = [entry.event for entry in repository.due_events(T0, 100)]
        head = repository.due_events(T0 + HOUR, 1)[0]
        repository.mark_delivered(head.sequence)
        mine = [e.event for e in repository.due_events(T0 + HOUR, 100) if e.event not in other]
        assert (other, [*held[1:], later]) == (due_while_held, mine)

    def test_a_failing_backlog_never_starves_other_aggregates(self, repository: Repository) -> None:
        """A held aggregate with a long backlog takes no room in a small batch of due events."""
        _, other = self._held(repository, backlog=50)
        assert other[:3] == [entry.event for entry in repository.due_events(T0, 3)]

    def test_due_events_honour_limit_and_order(self, repository: Repository) -> None:
        """At most ``limit`` due entries, oldest first."""
        account, timeline = sample_account()
        repository.add(account, timeline)
        assert timeline[:2] == [entry.event for entry in repository.due_events(T0, 2)]

    def test_released_entries_are_due_again(self, repository: Repository) -> None:
        """What a dispatcher claimed and gave back unattempted is handed out again."""
        account, timeline = sample_account()
        repository.add(account, timeline)
        claimed = repository.due_events(T0, 100)
        repository.release([entry.sequence for entry in claimed])
        assert timeline == [entry.event for entry in repository.due_events(T0, 100)]

    def test_delivering_the_retried_event_lets_the_rest_through(
        self, repository: Repository
    ) -> None:
        """Once the failed head is delivered, the aggregate's later events are due in order."""
        held, _ = self._held(repository)
        head = repository.due_events(T0 + HOUR, 1)[0]
        repository.mark_delivered(head.sequence)
        due = [e.event for e in repository.due_events(T0 + HOUR, 100)]
        assert held[1:] == [event for event in due if event in held]

    # ------------------------------------------------------------------ leasing writes

    @staticmethod
    def _leasing(repository: Repository) -> LeasingRepository:
        """``repository`` as a `LeasingRepository`; the test is skipped if it is not one."""
        if not isinstance(repository, LeasingRepository):
            pytest.skip("not a LeasingRepository (an optional capability): nothing to check")
        return repository

    def test_write_and_lease_returns_the_events_as_given(self, repository: Repository) -> None:
        """A write hands back what is due, its own events the very objects it was given."""
        leasing = self._leasing(repository)
        account, timeline = sample_account()
        entries = leasing.write_and_lease(
            account, timeline, expected_version=None, now=T0, limit=100
        )
        assert ([True] * len(timeline), account) == (
            [entry.event is event for entry, event in zip(entries, timeline, strict=True)],
            repository.get(DeveloperAccount, account.id),
        )

    def test_write_and_lease_is_save_with_its_checks(self, repository: Repository) -> None:
        """With an expected version it saves, and a stale one conflicts, writing nothing."""
        leasing = self._leasing(repository)
        account, _ = sample_account()
        application, _ = sample_application(account)
        repository.add(application, [])
        approved, events = application.handle(Approve(), Actor.reviewer("r"), T0)
        leasing.write_and_lease(approved, events, expected_version=1, now=T0, limit=100)
        rejected, more = application.handle(Reject("late"), Actor.reviewer("r2"), T0)
        with pytest.raises(ConcurrencyConflictError):
            leasing.write_and_lease(rejected, more, expected_version=1, now=T0, limit=100)
        assert (approved, list(events)) == (
            repository.get(DeveloperApplication, application.id),
            repository.events(),
        )

    def test_write_and_lease_leases_what_due_events_would(self, repository: Repository) -> None:
        """Other aggregates' due events come too, in order; a held aggregate's new one waits."""
        leasing = self._leasing(repository)
        held, other = self._held(repository)
        account = repository.get(DeveloperAccount, "acc-1")
        later = attrs.evolve(held[-1], event_id="evt-later")
        changed = attrs.evolve(account, version=account.version + 1)
        entries = leasing.write_and_lease(
            changed, [later], expected_version=account.version, now=T0 + HOUR, limit=100
        )
        assert [held[0], *other] == [entry.event for entry in entries]

    def test_settle_is_the_marks_in_one_step(self, repository: Repository) -> None:
        """Delivered entries leave the outbox, a failed one is held, a released one is due."""
        leasing = self._leasing(repository)
        first, timeline = sample_account("acc-1", "seller-1")
        second, other = sample_account("acc-2", "seller-2")
        repository.add(first, timeline)
        entries = leasing.write_and_lease(second, other, expected_version=None, now=T0, limit=100)
        by_event = {entry.event.event_id: entry.sequence for entry in entries}
        leasing.settle(
            [by_event[e.event_id] for e in timeline],
            [FailedDelivery(by_event[other[0].event_id], T0 + HOUR, "down")],
            [by_event[e.event_id] for e in other[1:]],
        )
        due = repository.due_events(T0, 100)  # a write: what settle held is written by now
        [failed, *_] = repository.pending_events()
        assert (other, other[0], 1, T0 + HOUR, "down", []) == (
            [entry.event for entry in repository.pending_events()],
            failed.event,
            failed.attempts,
            failed.next_attempt_at,
            failed.last_error,
            due,
        )

    def test_settled_entries_are_never_handed_out_again(self, repository: Repository) -> None:
        """Once settled as delivered, an entry is neither pending nor leased by the next write."""
        leasing = self._leasing(repository)
        account, timeline = sample_account()
        entries = leasing.write_and_lease(
            account, timeline, expected_version=None, now=T0, limit=100
        )
        leasing.settle([entry.sequence for entry in entries], [], [])
        application, submitted = sample_application(account)
        after = leasing.write_and_lease(
            application, submitted, expected_version=None, now=T0, limit=100
        )
        assert (submitted, submitted) == (
            [entry.event for entry in after],
            [entry.event for entry in repository.pending_events()],
        )

    def test_leased_entries_are_not_handed_to_another_instance(
        self, repository: Repository, second_repository: Repository
    ) -> None:
        """What a write leased, another instance's dispatcher skips until it is settled."""
        leasing = self._leasing(repository)
        account, timeline = sample_account()
        entries = leasing.write_and_lease(
            account, timeline, expected_version=None, now=T0, limit=100
        )
        skipped = second_repository.due_events(T0, 100)
        leasing.settle([entry.sequence for entry in entries], [], [])
        repository.due_events(T0, 100)  # a write of this instance: its outcomes are written
        assert not skipped
        assert not second_repository.pending_events()

    # ------------------------------------------------------------------ store authorizations

    def test_an_authorization_is_a_record_found_by_its_app_and_store(
        self, repository: Repository
    ) -> None:
        """Stored apart from its app, found by app and store; revoked ones too; others None."""
        account, app = _self_app(repository)
        authorization, events = sample_authorization(account, app)
        repository.add(authorization, events)
        revoked, more = authorization.handle(RevokeStore(), Actor.system(), T0)
        repository.save(revoked, more, expected_version=1)
        assert (revoked, revoked, None, None, app, [*events, *more]) == (
            repository.get(StoreAuthorization, authorization.id),
            repository.authorization(app.id, "store-1"),
            repository.authorization(app.id, "store-2"),
            repository.authorization("app-other", "store-1"),
            repository.get(App, app.id),
            repository.events(authorization.id),
        )

    def test_authorizations_of_an_app_are_its_active_ones_in_store_id_order(
        self, repository: Repository
    ) -> None:
        """Paged by store id (code point order) after a cursor; revoked and other apps' left out."""
        account, app = _self_app(repository, store_count=10)
        other, _ = sample_app(account, _approved(account), "app-2", "other_app", "30009999")
        repository.add(other, [])
        stored = {}
        for target, store_id in [(app, "b"), (app, "a"), (app, "\u00e9"), (app, "c"), (other, "a")]:
            authorization, events = sample_authorization(account, target, store_id)
            repository.add(authorization, events)
            stored[(target.id, store_id)] = authorization
        revoked, revoking = stored[(app.id, "c")].handle(RevokeStore(), Actor.system(), T0)
        repository.save(revoked, revoking, expected_version=1)
        ids = [a.store_id for a in repository.authorizations_of_app(app.id, limit=100)]
        assert (
            ids,
            [a.store_id for a in repository.authorizations_of_app(app.id, after="a", limit=1)],
            [a.store_id for a in repository.authorizations_of_app(app.id, after="c", limit=5)],
            repository.authorizations_of_app("app-none", limit=5),
        ) == (["a", "b", "\u00e9"], ["b"], ["\u00e9"], [])

    def test_a_claim_past_its_bound_is_refused_and_writes_nothing(
        self, repository: Repository
    ) -> None:
        """A third store in a scope bounded at 2: refused, no row, no event, no claim."""
        account, app = _self_app(repository, store_count=2)
        for store_id in ("s1", "s2"):
            repository.add(*sample_authorization(account, app, store_id))
        third, events = sample_authorization(account, app, "s3")
        with pytest.raises(RuleViolationError) as caught:
            repository.add(third, events)
        scope = self_stores_scope(account.id)
        assert (["store_limit_reached"], None, [], BoundUsage(2, holds_member=False)) == (
            [p.code for p in caught.value.problems],
            repository.authorization(app.id, "s3"),
            repository.events(third.id),
            repository.bound_usage(scope, "s3"),
        )

    def test_a_store_claimed_by_two_records_counts_once_until_both_let_go(
        self, repository: Repository
    ) -> None:
        """One store on two Self apps takes one place; it is free only when neither has it."""
        account, app = _self_app(repository, store_count=1)
        second, _ = sample_app(account, _approved(account), "app-2", "other_app", "30009999")
        repository.add(second, [])
        first_hold = sample_authorization(account, app, "s1")[0]
        second_hold = sample_authorization(account, second, "s1")[0]
        repository.add(first_hold, [])
        repository.add(second_hold, [])  # the same store: no new place taken
        scope = self_stores_scope(account.id)
        usage = [repository.bound_usage(scope, "s1")]
        for hold in (first_hold, second_hold):
            revoked, events = hold.handle(RevokeStore(), Actor.system(), T0)
            repository.save(revoked, events, expected_version=1)
            usage.append(repository.bound_usage(scope, "s1"))
        repository.add(*sample_authorization(account, app, "s2"))  # the place is free again
        assert [BoundUsage(1, True), BoundUsage(1, True), BoundUsage(0, False)] == usage

    def test_a_lowered_verification_refuses_a_claim_made_under_the_old_limit(
        self, repository: Repository
    ) -> None:
        """A claim decided under a limit of 3, written after the limit fell to 1: refused.

        The account's verification was lowered while one store was held; nothing is written.
        """
        account, app = _self_app(repository, store_count=3)
        repository.add(*sample_authorization(account, app, "s1"))
        late, events = sample_authorization(account, app, "s2")  # decided under the limit of 3
        lowered, verified = account.handle(
            VerifyEnterprise(account.enterprise_id, 1), Actor.reviewer("rev-2"), T0
        )
        repository.save(lowered, verified, expected_version=account.version)
        with pytest.raises(RuleViolationError):
            repository.add(late, events)
        assert None is repository.authorization(app.id, "s2")

    def test_a_bound_holds_across_instances(
        self, repository: Repository, second_repository: Repository
    ) -> None:
        """A place one instance took is taken for another instance too."""
        account, app = _self_app(repository, store_count=1)
        repository.add(*sample_authorization(account, app, "s1"))
        with pytest.raises(RuleViolationError):
            second_repository.add(*sample_authorization(account, app, "s2"))
        assert None is repository.authorization(app.id, "s2")

    def test_tokens_to_refresh_are_refreshable_ones_due_soonest_first(
        self, repository: Repository
    ) -> None:
        """Expiring before the bound, refreshable, refresh token alive; never the others."""
        account, app = _self_app(repository, store_count=10)
        cases = {  # store: (access expires in hours, refresh token expires in hours)
            "s0": (5, 900),
            "s1": (1, 900),
            "s2": (3, 900),  # revoked below
            "s3": (30, 900),  # too late
            "s4": (2, 2),  # no refresh can extend it
            "s5": (2, 0.5),  # the refresh token is dead by T0 + 1 h
        }
        for store_id, (access, refresh) in cases.items():
            authorization = sample_authorization(account, app, store_id)[0]
            repository.add(_with_tokens(authorization, T0 + access * HOUR, T0 + refresh * HOUR), [])
        repository.add(sample_authorization(account, app, "s6")[0], [])  # no tokens at all
        stored = repository.authorization(app.id, "s2")
        assert stored is not None
        revoked, events = stored.handle(RevokeStore(), Actor.system(), T0)
        repository.save(revoked, events, expected_version=1)
        due = repository.tokens_to_refresh(T0 + HOUR, T0 + 24 * HOUR, limit=10)
        first = repository.tokens_to_refresh(T0 + HOUR, T0 + 24 * HOUR, limit=1)
        assert ([a.store_id for a in due], [a.store_id for a in first]) == (["s1", "s0"], ["s1"])

    def test_tokens_to_alert_are_unrefreshable_unalerted_ones_in_the_window(
        self, repository: Repository
    ) -> None:
        """Expiring in the window, no refresh can extend them, not alerted yet."""
        account, app = _self_app(repository, store_count=10)
        for store_id, access, refresh in [
            ("s0", 20, 20),  # unrefreshable: alerted about
            ("s1", 10, 900),  # refreshable: refreshed instead
            ("s2", 30, 30),  # unrefreshable, alerted below
            ("s3", 100, 100),  # after the window
            ("s4", 5, 900),  # refreshable, but its refresh token dies at T0 + 1 h
        ]:
            authorization = sample_authorization(account, app, store_id)[0]
            if store_id == "s4":
                authorization = _with_tokens(authorization, T0 + access * HOUR, T0 + HOUR)
            else:
                authorization = _with_tokens(authorization, T0 + access * HOUR, T0 + refresh * HOUR)
            repository.add(authorization, [])
        stored = repository.authorization(app.id, "s2")
        assert stored is not None
        alerted, events = stored.handle(AlertTokenExpiry(), Actor.system(), T0 + 29 * HOUR)
        repository.save(alerted, events, expected_version=1)
        due = repository.tokens_to_alert(T0 + 2 * HOUR, T0 + 72 * HOUR, limit=10)
        assert [a.store_id for a in due] == ["s4", "s0"]

    def test_token_holders_are_the_sellers_active_authorizations_with_tokens(
        self, repository: Repository
    ) -> None:
        """By app and seller: active, holding tokens; revoked or token-less ones left out."""
        account, app = _self_app(repository, store_count=10)
        for store_id in ("s1", "s2", "s3"):
            authorization = sample_authorization(account, app, store_id)[0]
            if store_id != "s3":  # s3 holds no tokens
                authorization = _with_tokens(authorization, T0 + HOUR)
            repository.add(authorization, [])
        stored = repository.authorization(app.id, "s2")
        assert stored is not None
        revoked, events = stored.handle(RevokeStore(), Actor.system(), T0)
        repository.save(revoked, events, expected_version=1)
        holders = repository.token_holders(app.id, account.owner_id)
        assert ([a.store_id for a in holders], []) == (
            ["s1"],
            repository.token_holders(app.id, "seller-nobody"),
        )

    def test_a_refresh_lease_goes_to_one_caller_until_it_ends(self, repository: Repository) -> None:
        """Leased: the others are refused, and the token is not listed, until the lease ends."""
        account, app = _self_app(repository)
        authorization = _with_tokens(sample_authorization(account, app)[0], T0 + HOUR)
        repository.add(authorization, [])
        first = repository.lease_refresh(authorization.id, 1, T0, T0 + HOUR)
        second = repository.lease_refresh(authorization.id, 1, T0, T0 + HOUR)
        stale = repository.lease_refresh(authorization.id, 2, T0 + 2 * HOUR, T0 + 3 * HOUR)
        listed = repository.tokens_to_refresh(T0, T0 + 2 * HOUR, limit=5)
        after = repository.tokens_to_refresh(T0 + HOUR, T0 + 2 * HOUR, limit=5)
        again = repository.lease_refresh(authorization.id, 1, T0 + HOUR, T0 + 2 * HOUR)
        assert (first, second, stale, listed, [a.id for a in after], again) == (
            True,
            False,
            False,
            [],
            [authorization.id],
            True,
        )

    def test_expired_authorization_requests_are_purged(self, repository: Repository) -> None:
        """Requests that expired before the given time go; the others stay."""
        old, fresh = _request(), _request(now=T0 + 2 * HOUR)
        repository.add_authorization_request(old)
        repository.add_authorization_request(fresh)
        purged = repository.purge_authorization_requests(T0 + HOUR)
        assert (purged, None, fresh) == (
            1,
            repository.authorization_request(old.state_digest),
            repository.authorization_request(fresh.state_digest),
        )

    def test_a_stored_authorization_keeps_its_tokens(self, repository: Repository) -> None:
        """Tokens are stored with the record (sealed or not) and come back equal."""
        account, app = _self_app(repository)
        authorization = _with_tokens(sample_authorization(account, app)[0], T0 + HOUR)
        repository.add(authorization, [])
        assert authorization == repository.get(StoreAuthorization, authorization.id)

    def test_an_authorization_request_is_found_by_its_digest_and_used_once(
        self, repository: Repository
    ) -> None:
        """Stored by its state's digest; the first use wins, later ones get False."""
        request = _request()
        repository.add_authorization_request(request)
        first = repository.use_authorization_request(request.state_digest, T0 + HOUR)
        again = repository.use_authorization_request(request.state_digest, T0 + 2 * HOUR)
        stored = repository.authorization_request(request.state_digest)
        assert (
            first,
            again,
            None if stored is None else stored.used_at,
            repository.authorization_request("0" * 64),
            repository.use_authorization_request("0" * 64, T0),
        ) == (True, False, T0 + HOUR, None, False)

    def test_racing_uses_of_one_request_let_exactly_one_through(
        self, repository: Repository
    ) -> None:
        """Threads completing the same state at once: one True, the others False."""
        request = _request()
        repository.add_authorization_request(request)
        results: list[bool] = []
        outcomes = _race(
            [
                partial(
                    lambda n: results.append(
                        repository.use_authorization_request(request.state_digest, T0 + n * HOUR)
                    ),
                    n,
                )
                for n in range(_RACERS)
            ]
        )
        assert (outcomes, sorted(results)) == (["ok"] * _RACERS, [False] * (_RACERS - 1) + [True])

    # ------------------------------------------------------------------ threads, one instance

    def test_racing_adds_of_one_unique_key_store_exactly_one(self, repository: Repository) -> None:
        """Threads adding accounts for one seller at once: one is stored, the others conflict."""
        accounts = [sample_account(f"acc-{n}", "seller-1") for n in range(_RACERS)]
        outcomes = _race([partial(repository.add, a, timeline) for a, timeline in accounts])
        assert sorted(outcomes) == ["conflict"] * (_RACERS - 1) + ["ok"]
        winner, timeline = accounts[outcomes.index("ok")]
        assert (winner, timeline) == (
            repository.get(DeveloperAccount, winner.id),
            repository.events(),
        )

    def test_racing_saves_of_one_version_store_exactly_one(self, repository: Repository) -> None:
        """Threads saving over the same expected version at once: one wins, the others conflict."""
        account, _ = sample_account()
        application, _ = sample_application(account)
        repository.add(application, [])
        decisions = [
            application.handle(Approve(), Actor.reviewer(f"rev-{n}"), T0) for n in range(_RACERS)
        ]
        outcomes = _race(
            [partial(repository.save, a, events, expected_version=1) for a, events in decisions]
        )
        assert sorted(outcomes) == ["conflict"] * (_RACERS - 1) + ["ok"]
        winner, events = decisions[outcomes.index("ok")]
        assert (winner, list(events)) == (
            repository.get(DeveloperApplication, application.id),
            repository.events(),
        )

    # ------------------------------------------------------------------ two instances, one store

    def test_a_second_instance_reads_what_the_first_stored(
        self, repository: Repository, second_repository: Repository
    ) -> None:
        """What one instance stored, another on the same store returns: state, timeline, outbox."""
        account, timeline = sample_account()
        repository.add(account, timeline)
        assert (account, timeline, timeline) == (
            second_repository.get(DeveloperAccount, account.id),
            second_repository.events(),
            [entry.event for entry in second_repository.pending_events()],
        )

    def test_a_stale_save_conflicts_across_instances(
        self, repository: Repository, second_repository: Repository
    ) -> None:
        """A save over a version another instance replaced conflicts and keeps the other's state."""
        account, _ = sample_account()
        application, _ = sample_application(account)
        repository.add(application, [])
        approved, events = application.handle(Approve(), Actor.reviewer("r"), T0)
        second_repository.save(approved, events, expected_version=1)
        rejected, more = application.handle(Reject("late"), Actor.reviewer("r2"), T0)
        with pytest.raises(ConcurrencyConflictError):
            repository.save(rejected, more, expected_version=1)
        assert approved == repository.get(DeveloperApplication, application.id)

    def test_a_unique_key_holds_across_instances(
        self, repository: Repository, second_repository: Repository
    ) -> None:
        """A key one instance stored is taken for another instance too."""
        repository.add(sample_account("acc-1")[0], [])
        with pytest.raises(ConcurrencyConflictError):
            second_repository.add(sample_account("acc-2")[0], [])
        with pytest.raises(NotFoundError):
            repository.get(DeveloperAccount, "acc-2")


class NotifierContract:
    """The behaviour every `Notifier` must have. Override the ``notifier`` fixture."""

    @pytest.fixture
    def notifier(self) -> Notifier:
        """The notifier under test. Adapters override this fixture."""
        raise NotImplementedError("override the 'notifier' fixture")

    def _timeline(self) -> list[Event]:
        account, timeline = sample_account()
        application, events = sample_application(account)
        approved, more = application.handle(Approve(), Actor.reviewer("rev-1"), T0)
        _, app_events = sample_app(account, approved)
        return [*timeline, *events, *more, *app_events]

    def test_accepts_every_kind_of_event(self, notifier: Notifier) -> None:
        """notify() takes each event of a whole onboarding without raising."""
        for event in self._timeline():
            notifier.notify(event)

    def test_tolerates_the_same_event_twice(self, notifier: Notifier) -> None:
        """Delivery is at-least-once: a repeated event must not break the notifier."""
        event = self._timeline()[-1]
        notifier.notify(event)
        notifier.notify(event)

    def test_is_a_notifier(self, notifier: Any) -> None:
        """It satisfies the Notifier protocol."""
        assert isinstance(notifier, Notifier)
