"""Sample aggregates for tests, notebooks and benchmarks (no pytest needed).

``aliexpress_onboarding.testing`` re-exports them next to the contract suites.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .domain.account import (
    AcceptAgreement,
    DeveloperAccount,
    DeveloperProfile,
    SubmitProfile,
    VerifyEnterprise,
)
from .domain.actors import Actor
from .domain.app import App, ResetSecret, Store
from .domain.application import DeveloperApplication
from .domain.authorization import NO_USAGE, StoreAuthorization
from .domain.eligibility import Applicant
from .domain.events import Event
from .domain.values import (
    AppKey,
    AppSecret,
    DeveloperType,
    DocumentKind,
    EmailAddress,
    LicenseDocument,
)

__all__ = ["T0", "sample_account", "sample_app", "sample_application", "sample_authorization"]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_JPEG = b"\xff\xd8\xff\xe0" + bytes(16)


def sample_account(
    account_id: str = "acc-1", seller_id: str = "seller-1", *, active: bool = True
) -> tuple[DeveloperAccount, list[Event]]:
    """A registered account (activated unless ``active=False``) and all its events.

    A reviewer has verified its enterprise (``ent-of-<seller id>``) for 3 stores.
    """
    owner = Actor.seller(seller_id)
    account, events = DeveloperAccount.register(
        account_id, seller_id=seller_id, enterprise_id=f"ent-of-{seller_id}", actor=owner, now=T0
    )
    timeline = list(events)
    verify = VerifyEnterprise(account.enterprise_id, 3)
    account, events = account.handle(verify, Actor.reviewer("reviewer-1"), T0)
    timeline += events
    if active:
        account, events = account.handle(AcceptAgreement("2024-01"), owner, T0)
        timeline += events
        profile = DeveloperProfile("Wei Zhang", EmailAddress(f"{seller_id}@example.com"))
        account, events = account.handle(SubmitProfile(profile), owner, T0)
        timeline += events
    return account, timeline


def sample_application(
    account: DeveloperAccount,
    application_id: str = "appl-1",
    developer_type: DeveloperType = DeveloperType.SELF,
    *,
    existing: tuple[DeveloperApplication, ...] = (),
) -> tuple[DeveloperApplication, list[Event]]:
    """A submitted application of ``account`` (a JPEG business licence) and its events."""
    applicant = Applicant(
        name="Hangzhou Sunrise <Trading> & Co.",
        country="CN",
        is_enterprise=True,
        is_aliexpress_seller=True,
        builds_for_other_sellers=developer_type is DeveloperType.COMMERCIAL,
        email=EmailAddress("legal@sunrise.example.com"),
    )
    document = LicenseDocument.from_bytes(
        _JPEG,
        filename="licence.jpg",
        kind=DocumentKind.BUSINESS_LICENSE,
        country="CN",
        registration_number="91350100M000100Y43",
    )
    application, events = DeveloperApplication.submit(
        application_id,
        account=account,
        developer_type=developer_type,
        applicant=applicant,
        document=document,
        existing=existing,
        actor=Actor.seller(account.owner_id),
        now=T0,
    )
    return application, list(events)


def sample_app(
    account: DeveloperAccount,
    approved: DeveloperApplication,
    app_id: str = "app-1",
    name: str = "sunrise_sync",
    app_key: str = "30001234",
) -> tuple[App, list[Event]]:
    """An app of ``account`` with a reset secret (overlap)."""
    owner = Actor.seller(account.owner_id)
    app, events = App.create(
        app_id,
        account=account,
        developer_type=approved.developer_type,
        name=name,
        applications=[approved],
        existing_apps=[],
        app_key=AppKey(app_key),
        secret=AppSecret(f"secret-{app_id}-0123456789abcdef"),
        actor=owner,
        now=T0,
    )
    timeline = list(events)
    new_secret = AppSecret(f"renewed-{app_id}-0123456789abcdef")
    app, events = app.handle(ResetSecret(new_secret, timedelta(hours=24)), owner, T0)
    return app, timeline + list(events)


def sample_authorization(
    account: DeveloperAccount, app: App, store_id: str = "store-1"
) -> tuple[StoreAuthorization, list[Event]]:
    """The authorization of ``app`` by the account owner's store ``store_id``, and its event."""
    store = Store(store_id, account.owner_id, account.enterprise_id)
    authorization, events = StoreAuthorization.authorize(
        app=app,
        account=account,
        store=store,
        usage=NO_USAGE,
        actor=Actor.seller(account.owner_id),
        now=T0,
    )
    return authorization, list(events)
