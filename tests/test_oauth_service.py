"""A seller authorizes an app through OAuth, over real HTTP against the platform simulator; the
store's tokens are kept alive, refreshed and alerted on. DESIGN.md, "After the appKey"."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aliexpress_onboarding import (
    AccessTokenError,
    Actor,
    App,
    Applicant,
    AuthorizationDeniedError,
    AuthorizationExpiredError,
    CallbackMismatchError,
    DeveloperProfile,
    DeveloperType,
    EmailAddress,
    InvalidCallbackUrlError,
    InvalidStateError,
    LicenseDocument,
    OnboardingService,
    PermissionDeniedError,
    RuleViolationError,
    StateReusedError,
    Store,
    StoreAuthorization,
)
from aliexpress_onboarding.adapters.email import (
    EmailNotifier,
    InMemoryEmailSender,
    account_email_lookup,
)
from aliexpress_onboarding.adapters.platform_http import HttpPlatformClient
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository
from aliexpress_onboarding.domain.tokens import RefreshToken, TokenGrant
from aliexpress_onboarding.sealing import Keyring
from aliexpress_onboarding.service import REFRESH_LEASE
from aliexpress_onboarding.testing import DEFAULT_LIFETIMES, PlatformSimulator, TokenLifetimes

VERIFIER = Actor.reviewer("verifier-1")  # records the verified enterprise
CALLBACK = "https://shop.example.com/aliexpress/callback"
OWNER = Actor.seller("2000001")
REVIEWER = Actor.reviewer("rev-1")
PROFILE = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise.example.com"))
DOCUMENT = LicenseDocument.from_bytes(b"\xff\xd8\xff" + bytes(16), filename="licence.jpg")
FACTS = Applicant(name="Sunrise", country="CN", is_enterprise=True, is_aliexpress_seller=True)
STORE = Store("store-1", OWNER.id, "ent-1")
CATEGORIES = "aliexpress.solution.seller.category.tree.query"
QUERY = {"category_id": 0, "filter_no_permission": True}


class Clock:
    """One clock for the service, the client and the simulator: tests move it."""

    def __init__(self) -> None:
        self.current = datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self.current


def _lifetimes(access: timedelta, refresh: timedelta) -> dict[DeveloperType, TokenLifetimes]:
    return {**DEFAULT_LIFETIMES, DeveloperType.SELF: TokenLifetimes(access, refresh)}


class World:
    """A simulator, a service on a store, and an app with its callback URL registered."""

    def __init__(
        self,
        path: Path,
        *,
        lifetimes: dict[DeveloperType, TokenLifetimes] | None = None,
    ) -> None:
        self.clock = Clock()
        self.platform = PlatformSimulator(
            clock=self.clock, lifetimes=lifetimes or DEFAULT_LIFETIMES
        ).start()
        self.path = path
        self.keyring = Keyring.generate()
        self.keyring.save(path.with_suffix(".keys"))
        self.mailbox = InMemoryEmailSender()
        self.service = self.open()
        self.app = self._app()
        self.platform.register_app(str(self.app.app_key), self.app.secret, callback_url=CALLBACK)
        self.platform.add_seller(OWNER.id)

    def open(self, **options: Any) -> OnboardingService:
        repository = SQLiteRepository(self.path, keyring=self.keyring)
        return OnboardingService(
            repository=repository,
            notifier=EmailNotifier(self.mailbox, account_email_lookup(repository)),
            clock=self.clock,
            platform=self.client,
            authorize_endpoint=self.platform.authorize_endpoint,
            **options,
        )

    def client(self, app: App) -> HttpPlatformClient:
        return HttpPlatformClient(
            app.app_key, app.secret, gateway=self.platform.url, clock=self.clock, retries=0
        )

    def _app(self) -> App:
        service = self.service
        account = service.register_account(seller_id=OWNER.id, enterprise_id="ent-1", actor=OWNER)
        service.verify_enterprise(account.id, "ent-1", 2, actor=VERIFIER)
        service.accept_agreement(account.id, "2024-01", actor=OWNER)
        service.submit_profile(account.id, PROFILE, actor=OWNER)
        application = service.apply(account.id, "self", FACTS, DOCUMENT, actor=OWNER)
        service.approve(application.id, actor=REVIEWER)
        app = service.create_app(account.id, "self", "sunrise_sync", actor=OWNER)
        return service.register_callback_url(app.id, CALLBACK, actor=OWNER)

    def redirect(self, page: str) -> str:
        """What the seller's browser brings back: the platform's redirect to the callback."""
        return httpx.get(page).headers["Location"]

    def authorize(self, service: OnboardingService | None = None) -> StoreAuthorization:
        service = service or self.service
        back = self.redirect(service.begin_authorization(self.app.id, actor=OWNER))
        return service.complete_authorization(back, STORE, actor=OWNER)

    def stored(self) -> StoreAuthorization:
        found = self.service.repository.authorization(self.app.id, STORE.store_id)
        assert found is not None
        return found


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path / "db.sqlite")
    yield made
    made.platform.stop()


# --------------------------------------------------------------------------- the flow


def test_a_seller_authorizes_through_oauth_and_the_app_calls_for_its_store(world: World) -> None:
    """begin → the platform's page → callback → complete: the store is authorized with its
    tokens, sealed at rest, and a signed business call for the store succeeds."""
    authorization = world.authorize()
    answer = world.service.call_api(world.app.id, "store-1", CATEGORIES, QUERY, actor=OWNER)
    assert (True, True) == (authorization.is_active, authorization.has_tokens)
    assert "aliexpress_solution_seller_category_tree_query_response" in answer
    assert authorization == world.stored()
    assert authorization.access_token is not None
    assert authorization.refresh_token is not None
    secrets = (authorization.access_token.reveal(), authorization.refresh_token.reveal())
    with closing(sqlite3.connect(world.path)) as raw:
        dump = "\n".join(raw.iterdump())
    assert [] == [s for s in secrets if s in dump]
    assert [] == [s for s in secrets for e in world.service.repository.events() if s in repr(e)]


def test_the_authorize_url_is_the_platforms_with_a_fresh_state(world: World) -> None:
    """response_type=code, force_auth, the exact redirect_uri, the appKey, a new state each time."""
    first = world.service.begin_authorization(world.app.id, actor=OWNER)
    second = world.service.begin_authorization(world.app.id, actor=OWNER)
    query = dict(httpx.URL(first).params)
    assert (
        "code",
        "true",
        CALLBACK,
        str(world.app.app_key),
        True,
    ) == (
        query["response_type"],
        query["force_auth"],
        query["redirect_uri"],
        query["client_id"],
        query["state"] != dict(httpx.URL(second).params)["state"],
    )
    assert len(query["state"]) >= 22  # >= 128 bits from secrets


def test_a_state_is_single_use(world: World) -> None:
    """The same callback twice: the second is refused and changes nothing."""
    back = world.redirect(world.service.begin_authorization(world.app.id, actor=OWNER))
    first = world.service.complete_authorization(back, STORE, actor=OWNER)
    with pytest.raises(StateReusedError):
        world.service.complete_authorization(back, STORE, actor=OWNER)
    assert first == world.stored()


def test_a_state_is_bound_to_the_seller_who_began(world: World) -> None:
    """Another seller bringing back this seller's callback is refused."""
    back = world.redirect(world.service.begin_authorization(world.app.id, actor=OWNER))
    other = Actor.seller("2000002")
    with pytest.raises(InvalidStateError):
        world.service.complete_authorization(back, Store("s9", other.id, "e"), actor=other)
    assert None is world.service.repository.authorization(world.app.id, "s9")


def test_a_state_expires_after_ten_minutes(world: World) -> None:
    """A callback 10 minutes after the start is too late; nothing is recorded."""
    back = world.redirect(world.service.begin_authorization(world.app.id, actor=OWNER))
    world.clock.current += timedelta(minutes=10)
    with pytest.raises(AuthorizationExpiredError):
        world.service.complete_authorization(back, STORE, actor=OWNER)
    assert None is world.service.repository.authorization(world.app.id, STORE.store_id)


def test_a_foreign_or_missing_state_is_refused(world: World) -> None:
    """A state nobody began, or none at all: refused before anything is asked of the platform."""
    world.service.begin_authorization(world.app.id, actor=OWNER)
    with pytest.raises(InvalidStateError) as foreign:
        world.service.complete_authorization(
            f"{CALLBACK}?code=abc&state={'A' * 43}", STORE, actor=OWNER
        )
    with pytest.raises(InvalidStateError) as missing:
        world.service.complete_authorization(f"{CALLBACK}?code=abc", STORE, actor=OWNER)
    assert ("foreign", "missing") == (foreign.value.reason, missing.value.reason)


def test_a_seller_who_refuses_is_refused(world: World) -> None:
    """The platform sends error=access_denied: a typed error, nothing recorded."""
    world.platform.deny_next_authorization()
    back = world.redirect(world.service.begin_authorization(world.app.id, actor=OWNER))
    with pytest.raises(AuthorizationDeniedError):
        world.service.complete_authorization(back, STORE, actor=OWNER)
    assert None is world.service.repository.authorization(world.app.id, STORE.store_id)


def test_the_callback_must_be_the_registered_url_exactly(world: World) -> None:
    """The same state on another URL (a trailing slash) is refused."""
    back = world.redirect(world.service.begin_authorization(world.app.id, actor=OWNER))
    elsewhere = back.replace("/callback?", "/callback/?")
    with pytest.raises(CallbackMismatchError):
        world.service.complete_authorization(elsewhere, STORE, actor=OWNER)


def test_another_process_completes_what_one_began(world: World) -> None:
    """The request is stored through the repository: a second service instance on the same
    database completes it."""
    page = world.service.begin_authorization(world.app.id, actor=OWNER)
    other = world.open()
    authorization = other.complete_authorization(world.redirect(page), STORE, actor=OWNER)
    assert authorization == world.stored()


def test_a_callback_url_is_https_or_loopback_http(world: World) -> None:
    """Registering a bad callback URL is refused and changes nothing; without one there is
    nothing to begin."""
    for bad in ("http://shop.example.com/cb", "https://shop.example.com/cb?x=1", "ftp://x/"):
        with pytest.raises(InvalidCallbackUrlError):
            world.service.register_callback_url(world.app.id, bad, actor=OWNER)
    assert world.app == world.service.repository.get(App, world.app.id)
    app = world.service.create_app(world.app.account_id, "self", "second_app", actor=OWNER)
    with pytest.raises(RuleViolationError) as caught:
        world.service.begin_authorization(app.id, actor=OWNER)
    assert ["no_callback_url"] == [p.code for p in caught.value.problems]


# --------------------------------------------------------------------------- token lifecycle


def test_a_new_authorization_replaces_the_sellers_token(world: World) -> None:
    """One valid token per seller per app: authorizing again stores the new pair; the old
    access token stops working at the platform."""
    first = world.authorize()
    second = world.authorize()
    assert first.access_token is not None
    assert second.access_token is not None
    assert (first.id, False) == (second.id, second.access_token.matches(first.access_token))
    client = world.client(world.app)
    with pytest.raises(AccessTokenError):
        client.call(CATEGORIES, QUERY, access_token=first.access_token)


def test_refresh_due_refreshes_the_tokens_that_expire_soon(tmp_path: Path) -> None:
    """A token expiring within the window is refreshed; the new pair is stored and works."""
    world = World(
        tmp_path / "db.sqlite", lifetimes=_lifetimes(timedelta(hours=1), timedelta(days=30))
    )
    try:
        before = world.authorize()
        assert () == world.service.refresh_due(within=timedelta(minutes=30)).refreshed
        world.clock.current += timedelta(minutes=20)
        report = world.service.refresh_due(within=timedelta(hours=2))
        (renewed,) = report.refreshed
        assert renewed == world.stored()
        assert renewed.token_expires_at is not None
        assert before.token_expires_at is not None
        assert renewed.token_expires_at > before.token_expires_at
        assert (2, [], []) == (renewed.version, list(report.failed), list(report.unrefreshable))
        world.service.call_api(world.app.id, "store-1", CATEGORIES, QUERY, actor=OWNER)
    finally:
        world.platform.stop()


class _KilledAfterAnswer(HttpPlatformClient):
    """A client whose process dies right after the platform answered a refresh."""

    def refresh_token(self, refresh_token: RefreshToken) -> TokenGrant:
        grant = super().refresh_token(refresh_token)
        os.kill(os.getpid(), signal.SIGKILL)
        return grant


def _refresh_and_die(path: str, keys: str, url: str, endpoint: str) -> None:
    """A child process: refresh the due tokens; killed once the platform has answered."""
    repository = SQLiteRepository(path, keyring=Keyring.load(keys))
    service = OnboardingService(
        repository=repository,
        platform=lambda app: _KilledAfterAnswer(app.app_key, app.secret, gateway=url, retries=0),
        authorize_endpoint=endpoint,
    )
    service.refresh_due(within=timedelta(days=400))


def test_a_refresh_whose_answer_is_lost_leaves_the_store_usable(world: World) -> None:
    """The process is killed after the platform answered a refresh: the store keeps its old
    pair, the next run refreshes with it, and the store's calls work again."""
    world.clock.current = datetime.now(UTC)  # the child's clock is the system clock
    before = world.authorize()
    child = multiprocessing.get_context("spawn").Process(
        target=_refresh_and_die,
        args=(
            str(world.path),
            str(world.path.with_suffix(".keys")),
            world.platform.url,
            world.platform.authorize_endpoint,
        ),
    )
    child.start()
    child.join(60)
    assert -signal.SIGKILL == child.exitcode
    assert before == world.stored()  # the answer was lost: the old pair is still stored
    assert () == world.service.refresh_due(within=timedelta(days=400)).refreshed  # leased
    world.clock.current += REFRESH_LEASE + timedelta(minutes=5)  # the dead process's lease ends
    report = world.service.refresh_due(within=timedelta(days=400))
    assert ([world.stored()], []) == (list(report.refreshed), list(report.failed))
    world.service.call_api(world.app.id, "store-1", CATEGORIES, QUERY, actor=OWNER)


def test_an_expiry_alert_goes_out_once_three_days_before_an_unrefreshable_token_expires(
    tmp_path: Path,
) -> None:
    """A token whose refresh token dies with it: alerted (event and e-mail) from 3 days before
    it expires, once; a refreshable token is refreshed instead, never alerted."""
    lifetimes = _lifetimes(timedelta(days=5), timedelta(days=5))
    world = World(tmp_path / "db.sqlite", lifetimes=lifetimes)
    try:
        world.authorize()
        assert [] == world.service.alert_expiring()  # 5 days left
        world.clock.current += timedelta(days=2, hours=1)
        (alerted,) = world.service.alert_expiring()
        assert [] == world.service.alert_expiring()  # once per token
        report = world.service.refresh_due(within=timedelta(days=4))
        events = [e.type for e in world.service.repository.events(alerted.id)]
        subjects = [m.subject for m in world.mailbox.sent]
    finally:
        world.platform.stop()
    assert (["StoreAuthorized", "TokensIssued", "TokenExpiring"], (), ()) == (
        events,
        report.refreshed,  # no refresh can extend it: not even tried
        report.unrefreshable,
    )
    assert 1 == sum("access token for your app expires soon" in s for s in subjects)


def test_two_overlapping_refresh_runs_refresh_a_token_once(world: World) -> None:
    """Two hosts run refresh_due at once: the second finds the token leased and leaves it, so
    neither cancels the other's pair; the stored pair works."""
    world.authorize()
    other = world.open()
    world.platform.delay_next(1.0)  # the first host's refresh is slow
    reports: list[Any] = []
    first = threading.Thread(
        target=lambda: reports.append(world.service.refresh_due(within=timedelta(days=400)))
    )
    first.start()
    time.sleep(0.3)
    second = other.refresh_due(within=timedelta(days=400))
    first.join(30)
    assert ((), 1) == (second.refreshed, len(reports[0].refreshed))
    world.service.call_api(world.app.id, "store-1", CATEGORIES, QUERY, actor=OWNER)


def test_a_refused_refresh_is_recorded_and_the_seller_alerted_before_expiry(
    tmp_path: Path,
) -> None:
    """The seller revoked the app in the seller centre: the refusal is recorded once, no
    refresh is tried again, and the alert goes out 3 days before the token expires."""
    world = World(
        tmp_path / "db.sqlite", lifetimes=_lifetimes(timedelta(days=5), timedelta(days=30))
    )
    try:
        authorization = world.authorize()
        world.platform.revoke(str(world.app.app_key), OWNER.id)
        refused = world.service.refresh_due(within=timedelta(days=10))
        again = world.service.refresh_due(within=timedelta(days=10))
        world.clock.current += timedelta(days=2, hours=1)
        (alerted,) = world.service.alert_expiring()
        types = [e.type for e in world.service.repository.events(authorization.id)]
    finally:
        world.platform.stop()
    assert ((authorization.id,), (), ()) == (
        refused.unrefreshable,
        again.unrefreshable,
        again.failed,
    )
    assert ["TokenRefreshRefused", "TokenExpiring"] == types[-2:]
    assert alerted.refresh_refused_at is not None


def test_a_refused_store_spends_neither_the_state_nor_the_sellers_token(world: World) -> None:
    """A store the rules refuse (the Self bound reached): refused before the code is used, so
    the seller's other token keeps working and the same callback still completes."""
    world.service.verify_enterprise(world.app.account_id, "ent-1", 1, actor=VERIFIER)
    world.authorize()
    back = world.redirect(world.service.begin_authorization(world.app.id, actor=OWNER))
    with pytest.raises(RuleViolationError) as caught:
        world.service.complete_authorization(back, Store("store-2", OWNER.id, "ent-1"), actor=OWNER)
    world.service.call_api(world.app.id, "store-1", CATEGORIES, QUERY, actor=OWNER)
    again = world.service.complete_authorization(back, STORE, actor=OWNER)
    assert (["store_limit_reached"], 2) == ([p.code for p in caught.value.problems], again.version)


def test_the_read_side_never_hands_out_a_sellers_token(world: World) -> None:
    """Pages of authorizations show whether tokens are held, never the tokens; a reviewer
    reads them but cannot call the platform with them."""
    world.authorize()
    page = world.service.app_authorizations(world.app.id, actor=REVIEWER)
    (view,) = page.items
    assert (True, False, False) == (
        view.has_tokens,
        hasattr(view, "access_token"),
        hasattr(view, "refresh_token"),
    )
    with pytest.raises(PermissionDeniedError):
        world.service.call_api(world.app.id, "store-1", CATEGORIES, QUERY, actor=REVIEWER)


def test_one_valid_token_per_seller_and_app(world: World) -> None:
    """The seller authorizes the app for a second store: the platform keeps one grant per
    seller and app, so the first store forgets its (dead) tokens and stays authorized."""
    world.service.verify_enterprise(world.app.account_id, "ent-1", 2, actor=VERIFIER)
    first = world.authorize()
    back = world.redirect(world.service.begin_authorization(world.app.id, actor=OWNER))
    second = world.service.complete_authorization(
        back, Store("store-2", OWNER.id, "ent-1"), actor=OWNER
    )
    forgotten = world.stored()
    holders = world.service.repository.token_holders(world.app.id, OWNER.id)
    events = [e.type for e in world.service.repository.events(first.id)]
    assert ([second.id], True, False, "TokensReplaced") == (
        [a.id for a in holders],
        forgotten.is_active,
        forgotten.has_tokens,
        events[-1],
    )
    world.service.call_api(world.app.id, "store-2", CATEGORIES, QUERY, actor=OWNER)
    with pytest.raises(RuleViolationError):
        world.service.call_api(world.app.id, "store-1", CATEGORIES, QUERY, actor=OWNER)
