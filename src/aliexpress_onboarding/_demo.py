"""The `demo` command: the whole onboarding of one seller, step by step, on a durable store.

Each step runs only if the stored state says it has not happened yet, so a second run on the
same database continues where the first stopped (and then renews the appSecret once more).
Time is simulated: "wait past the review deadline" moves the demo clock, not the wall clock.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, TextIO

import attrs

from ._simulator import CATEGORY_TREE_API
from .adapters.email import Email, EmailNotifier, InMemoryEmailSender, account_email_lookup
from .adapters.memory import FanOutNotifier, InMemoryNotifier, SecretsCredentialIssuer
from .domain.account import AccountStatus, DeveloperAccount, DeveloperProfile
from .domain.actors import Actor
from .domain.app import App, Store
from .domain.application import ApplicationStatus, DeveloperApplication
from .domain.eligibility import Applicant
from .domain.values import DeveloperType, DocumentKind, EmailAddress, LicenseDocument
from .errors import NotFoundError
from .sealing import Keyring
from .service import OnboardingService, open_repository

__all__ = ["key_file_for", "run_onboarding_demo"]

SELLER = Actor.seller("cn1234567890")
REVIEWER = Actor.reviewer("reviewer-amy")
ACCOUNT_ID = "acc-sunrise"
APPLICATION_ID = "appl-sunrise-self"
APP_ID = "app-sunrise-sync"
STORE_ID = "store-sunrise-1"
CALLBACK_URL = "https://sunrise-trading.example.com/aliexpress/callback"
_ROOT: Final = {"category_id": 0, "filter_no_permission": True}
_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)


class _DemoClock:
    """Starts at the real time; the demo moves it forward to simulate waiting."""

    def __init__(self) -> None:
        self.current = datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self.current


class _DemoIds(SecretsCredentialIssuer):
    """Fixed, readable ids so that a second run finds the first run's aggregates."""

    _fixed: Final = {"acc": ACCOUNT_ID, "appl": APPLICATION_ID, "app": APP_ID}

    def new_id(self, prefix: str) -> str:
        return self._fixed.get(prefix) or super().new_id(prefix)


def _find(finder: Callable[[], object]) -> object | None:
    try:
        return finder()
    except NotFoundError:
        return None


def key_file_for(database: str | os.PathLike[str]) -> Path:
    """Where the demo keeps the key that seals its appSecrets: beside the database file."""
    return Path(database).with_suffix(".keys")


def _demo_keyring(url: str, out: TextIO) -> Keyring | None:
    """The demo's keyring for a SQLite URL: its key file, made on the first run."""
    if not url.startswith("sqlite:///"):
        return None  # in memory: nothing is at rest
    path = key_file_for(url.removeprefix("sqlite:///"))
    if path.exists():
        return Keyring.load(path)
    keyring = Keyring.generate()
    keyring.save(path)
    out.write(f"\nMade {path} (mode 0600): the key that seals the appSecret in the database\n")
    return keyring


def run_onboarding_demo(out: TextIO, url: str) -> None:
    """Run (or continue) the demo onboarding on the repository ``url`` names."""
    repository = open_repository(url, keyring=_demo_keyring(url, out))
    sender = InMemoryEmailSender()
    timeline = InMemoryNotifier()
    clock = _DemoClock()
    history = repository.events()
    if history:  # a second run: simulated time never goes backwards
        clock.current = max(clock.current, history[-1].occurred_at)
    service = OnboardingService(
        repository=repository,
        notifier=FanOutNotifier(timeline, EmailNotifier(sender, account_email_lookup(repository))),
        clock=clock,
        credentials=_DemoIds(),
    )

    def step(text: str) -> None:
        out.write(f"  - {text}\n")

    out.write(f"\nThe onboarding of one seller, stored in {url}\n")
    out.write(
        "(The numbers are the steps of the platform's guide, How to apply for an appKey:"
        " 1 activate the account, 2 apply as a developer, 3 create the app.)\n"
    )
    account = _find(lambda: repository.get(DeveloperAccount, ACCOUNT_ID))
    if account is None:
        service.register_account(seller_id=SELLER.id, enterprise_id="ent-sunrise", actor=SELLER)
        step("1. the seller logs in with its AliExpress seller account: developer account opened")
        service.accept_agreement(ACCOUNT_ID, "api-use-agreement-2021", actor=SELLER)
        step("1.1 the API use agreement accepted")
        profile = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise-trading.example.com"))
        service.submit_profile(ACCOUNT_ID, profile, actor=SELLER)
        step("1.2 the developer information filled in: account active")
    else:
        step(f"1. developer account {ACCOUNT_ID} already {AccountStatus.ACTIVE}: skipped")

    application = _find(lambda: repository.get(DeveloperApplication, APPLICATION_ID))
    if application is None:
        applicant = Applicant(
            name="Hangzhou Sunrise Trading Co., Ltd.",
            country="CN",
            is_enterprise=True,
            is_aliexpress_seller=True,
        )
        licence = LicenseDocument.from_bytes(
            _JPEG,
            filename="C:\\scans\\business_license.jpg",
            kind=DocumentKind.BUSINESS_LICENSE,
            country="CN",
            registration_number="91350100M000100Y43",
        )
        service.apply(ACCOUNT_ID, DeveloperType.SELF, applicant, licence, actor=SELLER)
        step(f"2.4 applied as a Self developer with {licence.filename} (SHA-256 recorded)")
        clock.current += timedelta(hours=49)
        step("2.5 49 hours pass with no decision...")
        for escalated in service.escalate_overdue():
            step(f"    overdue: ticket {escalated.ticket_id} submitted (once)")
        service.approve(APPLICATION_ID, actor=REVIEWER)
        step("2.6 a reviewer approves the application: notification e-mail sent")
        service.verify_enterprise(ACCOUNT_ID, "ent-sunrise", 2, actor=REVIEWER)
        step("    the reviewer records the verified enterprise: ent-sunrise, 2 stores")
    else:
        status = repository.get(DeveloperApplication, APPLICATION_ID).status
        step(f"2. application {APPLICATION_ID} already {status}: skipped")
        if status is not ApplicationStatus.APPROVED:
            return

    if _find(lambda: repository.get(App, APP_ID)) is None:
        app = service.create_app(ACCOUNT_ID, DeveloperType.SELF, "sunrise_sync", actor=SELLER)
        step(f"3.4 app {app.name} created: appKey {app.app_key}, appSecret {app.secret}")
        service.register_callback_url(APP_ID, CALLBACK_URL, actor=SELLER)
        step(f"    its callback URL registered: {CALLBACK_URL}")
    else:
        step(f"3. app {APP_ID} already created: skipped")
    app = service.reset_secret(APP_ID, actor=SELLER, overlap=timedelta(hours=24))
    step(f"appSecret reset (the old one works 24 h more): now {app.secret!r}, v{app.version}")
    _after_the_app_key(out, service, clock, step)

    out.write("\nTimeline of events (this run and earlier ones):\n")
    for event in repository.events():
        out.write(f"  {event.occurred_at:%Y-%m-%d %H:%M} {event.type:<26} {event.aggregate_id}\n")
    out.write("\nE-mails sent in this run:\n")
    for email in sender.sent:
        _write_email(out, email)
    if not sender.sent:
        out.write("  (none)\n")


def _after_the_app_key(
    out: TextIO, service: OnboardingService, clock: _DemoClock, step: Callable[[str], None]
) -> None:
    """The guide's "next steps", against a local platform: OAuth, a signed call, a refresh."""
    try:
        import httpx

        from .adapters.platform_http import HttpPlatformClient
    except ModuleNotFoundError:
        out.write("\n(The platform part needs httpx: pip install 'aliexpress-onboarding[http]')\n")
        return
    from ._simulator import PlatformSimulator

    out.write("\nAfter the appKey, against a local platform simulator on 127.0.0.1:\n")
    with PlatformSimulator(clock=clock) as platform:
        app = service.repository.get(App, APP_ID)
        platform.register_app(str(app.app_key), app.secret, callback_url=CALLBACK_URL)
        platform.add_seller(SELLER.id)
        authorizing = attrs.evolve(
            service,
            platform=lambda app: HttpPlatformClient(
                app.app_key,
                app.secret,
                gateway=platform.url,
                clock=clock,
                developer_type=app.developer_type,
            ),
            authorize_endpoint=platform.authorize_endpoint,
        )
        page = authorizing.begin_authorization(APP_ID, actor=SELLER)
        step("the seller opens the authorization page (a fresh single-use state in the URL)")
        back = httpx.get(page, timeout=10).headers["Location"]
        step("the platform sends the seller's browser back to the callback URL with a code")
        store = Store(STORE_ID, SELLER.id, "ent-sunrise")
        authorization = authorizing.complete_authorization(back, store, actor=SELLER)
        until = authorization.token_expires_at
        step(
            f"the seller authorized the app for its own store {STORE_ID}: access token"
            f" {authorization.access_token!r}, valid until {until:%Y-%m-%d}"
        )
        reply = authorizing.call_api(APP_ID, STORE_ID, CATEGORY_TREE_API, _ROOT, actor=SELLER)
        top = reply["aliexpress_solution_seller_category_tree_query_response"]
        names = [
            json.loads(c["multi_language_names"])["en"]
            for c in top["children_category_list"]["category_info"]
        ]
        step(f"a signed call of {CATEGORY_TREE_API}: {', '.join(names)}")
        report = authorizing.refresh_due(within=timedelta(days=400))
        step(f"the tokens refreshed before they expire: {len(report.refreshed)} store(s)")


def _write_email(out: TextIO, email: Email) -> None:
    out.write(f"  To: {email.to}\n  Subject: {email.subject}\n")
    for line in email.body.splitlines():
        out.write(f"  | {line}\n")
    out.write("\n")
