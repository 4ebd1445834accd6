"""The read side: OnboardingService queries check the actor; apps come without their secret."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aliexpress_onboarding import (
    Actor,
    App,
    Applicant,
    Approve,
    DeveloperAccount,
    DeveloperApplication,
    DeveloperProfile,
    DeveloperType,
    EmailAddress,
    LicenseDocument,
    NotFoundError,
    OnboardingError,
    OnboardingService,
    PermissionDeniedError,
    Store,
    StoreAuthorization,
    ValidationError,
)
from aliexpress_onboarding.adapters.memory import InMemoryRepository
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository
from aliexpress_onboarding.domain.authorization import NO_USAGE
from aliexpress_onboarding.domain.values import Secret
from aliexpress_onboarding.errors import InvalidRecordError
from aliexpress_onboarding.serialization import to_json
from aliexpress_onboarding.testing import T0, sample_account, sample_app, sample_application
from aliexpress_onboarding.views import AppView, Page

VERIFIER = Actor.reviewer("verifier-1")  # records the verified enterprise
OWNER = Actor.seller("seller-1")
OTHER_SELLER = Actor.seller("seller-2")
REVIEWER = Actor.reviewer("rev-1")
SYSTEM = Actor.system("scheduler")
PROFILE = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise.example.com"))
DOCUMENT = LicenseDocument.from_bytes(b"\xff\xd8\xff" + bytes(16), filename="licence.jpg")
FACTS = Applicant(name="Sunrise", country="CN", is_enterprise=True, is_aliexpress_seller=True)
ISV_FACTS = attrs.evolve(FACTS, builds_for_other_sellers=True)


class FakeClock:
    def __init__(self) -> None:
        self.current = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@attrs.frozen
class World:
    """seller-1 with an approved Self application and an app; seller-2 with an account."""

    service: OnboardingService
    clock: FakeClock
    account: DeveloperAccount
    other_account: DeveloperAccount
    application: DeveloperApplication
    app: App

    def id_for(self, argument: str) -> str:
        """The id of seller-1's aggregate that ``argument`` names."""
        return {
            "account_id": self.account.id,
            "application_id": self.application.id,
            "app_id": self.app.id,
        }[argument]


def _active_account(service: OnboardingService, seller: Actor) -> DeveloperAccount:
    account = service.register_account(
        seller_id=seller.id, enterprise_id=f"ent-{seller.id}", actor=seller
    )
    service.verify_enterprise(account.id, f"ent-{seller.id}", 3, actor=VERIFIER)
    service.accept_agreement(account.id, "2021-03", actor=seller)
    return service.submit_profile(account.id, PROFILE, actor=seller)


@pytest.fixture
def world() -> World:
    clock = FakeClock()
    service = OnboardingService(clock=clock)
    account = _active_account(service, OWNER)
    other = _active_account(service, OTHER_SELLER)
    application = service.apply(account.id, "self", FACTS, DOCUMENT, actor=OWNER)
    application = service.approve(application.id, actor=REVIEWER)
    app = service.create_app(account.id, "self", "sunrise_sync", actor=OWNER)
    app = service.reset_secret(app.id, actor=OWNER, overlap=timedelta(hours=24))
    for store_id in ("store-b", "store-a"):
        store = Store(store_id, OWNER.id, account.enterprise_id)
        service.authorize_store(app.id, store, actor=OWNER)
    return World(service, clock, account, other, application, app)


BY_ID: tuple[tuple[str, str], ...] = (
    ("account", "account_id"),
    ("account_applications", "account_id"),
    ("account_apps", "account_id"),
    ("application", "application_id"),
    ("app", "app_id"),
    ("app_authorizations", "app_id"),
)
"""Each query that reads by id, and the argument it names in a `ValidationError`."""

READ_COMMAND = {"account_id": "read_account", "application_id": "read_application"}


def _query(service: OnboardingService, name: str) -> Callable[..., Any]:
    return getattr(service, name)  # type: ignore[no-any-return]


def _refusal(call: Callable[[], object]) -> OnboardingError:
    with pytest.raises(OnboardingError) as caught:
        call()
    return caught.value


# -- who may read what --------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "argument"), BY_ID)
@pytest.mark.parametrize("actor", [OWNER, REVIEWER, SYSTEM], ids=str)
def test_the_owner_a_reviewer_and_the_system_may_read_an_aggregate(
    world: World, query: str, argument: str, actor: Actor
) -> None:
    """Each by-id query answers the owner, any reviewer and the system alike."""
    read = _query(world.service, query)
    expected = read(world.id_for(argument), actor=OWNER)
    assert expected == read(world.id_for(argument), actor=actor)


@pytest.mark.parametrize(("query", "argument"), BY_ID)
def test_another_seller_is_refused_with_permission_denied(
    world: World, query: str, argument: str
) -> None:
    """seller-2 reads nothing of seller-1's: a PermissionDeniedError naming it and the read."""
    error = _refusal(
        lambda: _query(world.service, query)(world.id_for(argument), actor=OTHER_SELLER)
    )
    assert (PermissionDeniedError, OTHER_SELLER, READ_COMMAND.get(argument, "read_app")) == (
        type(error),
        getattr(error, "actor", None),
        getattr(error, "command", None),
    )


@pytest.mark.parametrize(("query", "argument"), BY_ID)
def test_a_seller_cannot_tell_an_unknown_id_from_another_sellers(
    world: World, query: str, argument: str
) -> None:
    """A seller gets the same refusal, with nothing chained, for a foreign and an unknown id."""
    read = _query(world.service, query)
    foreign = _refusal(lambda: read(world.id_for(argument), actor=OTHER_SELLER))
    unknown = _refusal(lambda: read("no-such-id", actor=OTHER_SELLER))
    assert (PermissionDeniedError, str(foreign), None, None) == (
        type(unknown),
        str(unknown),
        unknown.__cause__,
        unknown.__context__,
    )


@pytest.mark.parametrize(("query", "argument"), BY_ID)
@pytest.mark.parametrize("actor", [REVIEWER, SYSTEM], ids=str)
def test_an_unknown_id_is_not_found_for_a_reviewer_or_the_system(
    world: World, query: str, argument: str, actor: Actor
) -> None:
    """Those who may read everything learn that the id names nothing."""
    error = _refusal(lambda: _query(world.service, query)("no-such-id", actor=actor))
    kind = argument.removesuffix("_id")
    assert (NotFoundError, kind, "no-such-id") == (
        type(error),
        getattr(error, "kind", None),
        getattr(error, "id", None),
    )


@pytest.mark.parametrize(("query", "argument"), BY_ID)
@pytest.mark.parametrize("bad_id", [None, 42, b"acc-1", "", "x" * 129, "acc\n1", ["acc-1"]])
def test_a_non_text_id_is_refused_naming_the_argument(
    world: World, query: str, argument: str, bad_id: object
) -> None:
    """An id that is not 1 to 128 printable characters is a ValidationError naming it."""
    error = _refusal(lambda: _query(world.service, query)(bad_id, actor=REVIEWER))
    assert (ValidationError, argument) == (type(error), getattr(error, "field", None))


NOT_ACTORS: list[object] = [None, "seller:seller-1", "seller-1", OWNER.id, {"kind": "reviewer"}]


@pytest.mark.parametrize(("query", "argument"), BY_ID)
@pytest.mark.parametrize("not_an_actor", NOT_ACTORS)
def test_an_actor_that_is_not_an_actor_is_refused(
    world: World, query: str, argument: str, not_an_actor: object
) -> None:
    """Only an `Actor` may read: anything else is a ValidationError naming ``actor``."""
    read = _query(world.service, query)
    error = _refusal(lambda: read(world.id_for(argument), actor=not_an_actor))
    assert (ValidationError, "actor") == (type(error), getattr(error, "field", None))


@pytest.mark.parametrize("query", ["pending_reviews", "overdue_applications"])
@pytest.mark.parametrize("not_an_actor", NOT_ACTORS)
def test_a_review_queue_refuses_what_is_not_an_actor(
    world: World, query: str, not_an_actor: object
) -> None:
    """The queues too refuse a non-Actor with a ValidationError naming ``actor``."""
    error = _refusal(lambda: _query(world.service, query)(actor=not_an_actor))
    assert (ValidationError, "actor") == (type(error), getattr(error, "field", None))


def test_refused_and_answered_queries_change_nothing(world: World) -> None:
    """Reads write nothing: the timeline, the outbox and every aggregate stay as they were."""
    repository = world.service.repository
    before = (repository.events(), repository.pending_events(), world.service.timeline())
    for query, argument in BY_ID:
        read = _query(world.service, query)
        for actor, aggregate_id in (
            (OWNER, world.id_for(argument)),
            (OTHER_SELLER, world.id_for(argument)),
            (REVIEWER, "no-such-id"),
            (REVIEWER, 42),
            ("not an actor", world.id_for(argument)),
        ):
            try:
                read(aggregate_id, actor=actor)
            except (PermissionDeniedError, NotFoundError, ValidationError):
                pass
    assert before == (repository.events(), repository.pending_events(), world.service.timeline())


# -- accounts -----------------------------------------------------------------------------------


def test_a_seller_reads_its_own_account(world: World) -> None:
    """The account read back is the one the commands left."""
    assert world.account == world.service.account(world.account.id, actor=OWNER)


def test_account_of_seller_is_the_account_the_seller_owns(world: World) -> None:
    """Found by seller id: the seller's own, for it, a reviewer and the system."""
    assert [world.other_account] * 3 == [
        world.service.account_of_seller(OTHER_SELLER.id, actor=actor)
        for actor in (OTHER_SELLER, REVIEWER, SYSTEM)
    ]


def test_account_of_seller_refuses_another_seller_whether_or_not_it_has_one(
    world: World,
) -> None:
    """seller-2 asking for seller-1's account, or a seller's with none, gets one refusal."""
    read = world.service.account_of_seller
    existing = _refusal(lambda: read(OWNER.id, actor=OTHER_SELLER))
    missing = _refusal(lambda: read("seller-without-account", actor=OTHER_SELLER))
    assert (PermissionDeniedError, "read_account", str(existing)) == (
        type(missing),
        getattr(missing, "command", None),
        str(missing),
    )


@pytest.mark.parametrize("actor", [Actor.seller("seller-9"), REVIEWER], ids=str)
def test_account_of_a_seller_without_one_is_not_found(world: World, actor: Actor) -> None:
    """A seller asking for its own missing account, or a reviewer, learns it has none."""
    error = _refusal(lambda: world.service.account_of_seller("seller-9", actor=actor))
    assert (NotFoundError, "seller-9") == (type(error), getattr(error, "id", None))


@pytest.mark.parametrize("bad_id", [None, 7, "", "s" * 129, "seller\t1"])
def test_account_of_seller_refuses_a_non_text_seller_id(world: World, bad_id: object) -> None:
    """The seller id must be text: a ValidationError naming ``seller_id``."""
    error = _refusal(lambda: world.service.account_of_seller(bad_id, actor=REVIEWER))  # type: ignore[arg-type]
    assert (ValidationError, "seller_id") == (type(error), getattr(error, "field", None))


def test_account_applications_are_the_accounts_own_oldest_first(world: World) -> None:
    """An account's applications in submission order; another account's are not among them."""
    world.clock.advance(hours=1)
    later = world.service.apply(world.account.id, "commercial", ISV_FACTS, DOCUMENT, actor=OWNER)
    world.service.apply(world.other_account.id, "self", FACTS, DOCUMENT, actor=OTHER_SELLER)
    listed = world.service.account_applications(world.account.id, actor=OWNER)
    assert [world.application.id, later.id] == [a.id for a in listed]


# -- apps: the secret stays in ------------------------------------------------------------------


def test_an_app_is_read_as_its_public_fields(world: World) -> None:
    """The view holds each field of the app it shares a name with, unchanged."""
    view = world.service.app(world.app.id, actor=OWNER)
    fields = attrs.asdict(view, recurse=False)
    assert {name: getattr(world.app, name) for name in fields} == fields


def test_account_apps_are_views_oldest_first(world: World) -> None:
    """An account's apps, as views, in creation order."""
    world.clock.advance(minutes=5)
    second = world.service.create_app(world.account.id, "self", "sunrise_push", actor=OWNER)
    assert [AppView.of(world.app), AppView.of(second)] == world.service.account_apps(
        world.account.id, actor=OWNER
    )


def test_a_read_app_never_yields_its_secret(world: World) -> None:
    """No query hands out an app's secret or previous secret, by any road.

    The view holds no `Secret` to ``reveal()``; ``repr``, ``attrs.asdict`` and a pickle show
    neither value; the serialiser refuses the view, even when asked to include secrets.
    """
    secrets = [world.app.secret.reveal()]
    assert world.app.previous_secret is not None  # the reset's overlap keeps the old one
    secrets.append(world.app.previous_secret.reveal())
    service = world.service
    views = [
        service.app(world.app.id, actor=OWNER),
        *service.account_apps(world.account.id, actor=OWNER),
    ]
    shown = [repr(v) + repr(attrs.asdict(v)) + pickle.dumps(v).decode("latin-1") for v in views]
    held = [value for v in views for value in attrs.astuple(v, recurse=True)]
    with pytest.raises(InvalidRecordError):
        to_json(views[0], include_secrets=True)
    assert ([], [], False) == (
        [s for s in secrets for text in shown if s in text],
        [value for value in held if isinstance(value, Secret)],
        any(hasattr(v, "secret") or hasattr(v, "previous_secret") for v in views),
    )


# -- store authorizations, paged ----------------------------------------------------------------


def test_app_authorizations_come_in_store_id_order_with_a_cursor(world: World) -> None:
    """One page per call, by store id; ``next_after`` leads on, ``None`` ends."""
    read = world.service.app_authorizations
    first = read(world.app.id, actor=OWNER, limit=1)
    second = read(world.app.id, actor=OWNER, limit=1, after=first.next_after)
    assert (["store-a"], "store-a", ["store-b"], None) == (
        [a.store.store_id for a in first.items],
        first.next_after,
        [a.store.store_id for a in second.items],
        second.next_after,
    )


def test_a_page_may_start_after_a_store_that_no_longer_authorizes(world: World) -> None:
    """The cursor is a place in store id order, not an item: a revoked store still works."""
    page = world.service.app_authorizations(world.app.id, actor=REVIEWER, after="store-a0")
    assert (["store-b"], None) == ([a.store.store_id for a in page.items], page.next_after)


@pytest.mark.parametrize("limit", [0, -1, 1001, 10**100, 1.0, True, "10", None])
def test_a_page_size_outside_1_to_1000_is_refused(world: World, limit: object) -> None:
    """``limit`` is a whole number from 1 to 1000, or a ValidationError naming it."""
    read = world.service.app_authorizations
    error = _refusal(lambda: read(world.app.id, actor=OWNER, limit=limit))  # type: ignore[arg-type]
    assert (ValidationError, "limit") == (type(error), getattr(error, "field", None))


@pytest.mark.parametrize("after", [3, "", "s" * 129, "store\n", b"store-a"])
def test_a_cursor_that_is_not_text_is_refused(world: World, after: object) -> None:
    """``after`` is ``None`` or a store id's text, or a ValidationError naming it."""
    read = world.service.app_authorizations
    error = _refusal(lambda: read(world.app.id, actor=OWNER, after=after))  # type: ignore[arg-type]
    assert (ValidationError, "after") == (type(error), getattr(error, "field", None))


_STORE_IDS = st.lists(
    st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S"]), min_size=1, max_size=12),
    unique=True,
    max_size=40,
)


@pytest.mark.parametrize("store", ["memory", "sqlite"])
@given(store_ids=_STORE_IDS, limit=st.integers(1, 45))
def test_paging_yields_each_authorization_once_in_store_id_order(
    store: str, store_ids: list[str], limit: int
) -> None:
    """Any number of authorizations, any page size: every one exactly once, in order.

    Store ids order by code point, in memory as in SQLite's index (any Unicode text).
    """
    account, _ = sample_account()
    application, _ = sample_application(account, developer_type=DeveloperType.COMMERCIAL)
    approved, _ = application.handle(Approve(), REVIEWER, T0)
    app, _ = sample_app(account, approved)
    repository = InMemoryRepository() if store == "memory" else SQLiteRepository(":memory:")
    repository.add(app, [])
    seller = Actor.seller("seller-x")
    for store_id in store_ids:
        authorization, events = StoreAuthorization.authorize(
            app=app,
            account=account,
            store=Store(store_id, seller.id, "ent-x"),
            usage=NO_USAGE,
            actor=seller,
            now=T0,
        )
        repository.add(authorization, events)
    service = OnboardingService(repository=repository)
    pages: list[Page[StoreAuthorization]] = []
    after = None
    while not pages or after is not None:
        pages.append(service.app_authorizations(app.id, actor=SYSTEM, limit=limit, after=after))
        after = pages[-1].next_after
    seen = [a.store.store_id for page in pages for a in page.items]
    assert (sorted(store_ids), True) == (seen, all(len(p.items) <= limit for p in pages))


# -- the review queues --------------------------------------------------------------------------


def _queue(world: World) -> tuple[DeveloperApplication, DeveloperApplication, DeveloperApplication]:
    """Three more applications, an hour apart: escalated, overdue, recent (the first decided)."""
    service, clock = world.service, world.clock
    third = _active_account(service, Actor.seller("seller-3"))
    first = service.apply(world.account.id, "commercial", ISV_FACTS, DOCUMENT, actor=OWNER)
    clock.advance(hours=1)
    second = service.apply(world.other_account.id, "self", FACTS, DOCUMENT, actor=OTHER_SELLER)
    clock.advance(hours=47, minutes=30)
    [first] = service.escalate_overdue()
    clock.advance(hours=1)
    recent = service.apply(third.id, "self", FACTS, DOCUMENT, actor=Actor.seller("seller-3"))
    return first, service.application(second.id, actor=SYSTEM), recent


@pytest.mark.parametrize("actor", [REVIEWER, SYSTEM], ids=str)
def test_pending_reviews_are_every_undecided_application_oldest_first(
    world: World, actor: Actor
) -> None:
    """Under review and escalated alike, by submission; decided ones are not pending."""
    assert list(_queue(world)) == world.service.pending_reviews(actor=actor)


@pytest.mark.parametrize("actor", [REVIEWER, SYSTEM], ids=str)
def test_overdue_applications_are_the_pending_ones_past_the_deadline(
    world: World, actor: Actor
) -> None:
    """Past the review policy's deadline, escalated or not yet, oldest first."""
    escalated, overdue, _ = _queue(world)
    assert [escalated, overdue] == world.service.overdue_applications(actor=actor)


@pytest.mark.parametrize("query", ["pending_reviews", "overdue_applications"])
def test_a_seller_may_not_read_a_review_queue(world: World, query: str) -> None:
    """The queues hold every seller's applications: a seller, even an owner, is refused."""
    error = _refusal(lambda: _query(world.service, query)(actor=OWNER))
    assert (PermissionDeniedError, f"read_{query}") == (
        type(error),
        getattr(error, "command", None),
    )
