"""Real aggregates to benchmark, and the hand-written serialisation they are compared with.

The builders wrap `aliexpress_onboarding.samples` (the pytest-free home of the ``sample_*``
functions that `aliexpress_onboarding.testing` re-exports).

The hand-written codec is what a person would write without the library's converter:
``json.dumps`` of a dict built field by field, and ``json.loads`` followed by the same
constructor calls (so every value object still validates itself, as it does under ``from_json``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import attrs

from aliexpress_onboarding import samples
from aliexpress_onboarding.domain.account import (
    DeveloperAccount,
)
from aliexpress_onboarding.domain.actors import Actor
from aliexpress_onboarding.domain.app import (
    App,
    AppStatus,
    Store,
    StoreAuthorization,
)
from aliexpress_onboarding.domain.application import (
    ApplicationStatus,
    Approve,
    DeveloperApplication,
)
from aliexpress_onboarding.domain.eligibility import Applicant, StorePlatform
from aliexpress_onboarding.domain.values import (
    AppKey,
    AppName,
    AppSecret,
    CountryCode,
    DeveloperType,
    DocumentKind,
    EmailAddress,
    LicenseDocument,
    MediaType,
)

__all__ = [
    "T0",
    "application_from_text",
    "application_to_text",
    "app_from_text",
    "app_to_text",
    "eligibility_records",
    "sample_account",
    "sample_app",
    "sample_application",
    "under_review_copies",
]

T0 = samples.T0


def sample_account(account_id: str = "acc-1", seller_id: str = "seller-1") -> DeveloperAccount:
    """An activated developer account (agreement accepted, profile filled in)."""
    return samples.sample_account(account_id, seller_id)[0]


def sample_application(
    account: DeveloperAccount, application_id: str = "appl-1"
) -> DeveloperApplication:
    """A Self developer application under review, with a JPEG business licence."""
    return samples.sample_application(account, application_id)[0]


def sample_app(account: DeveloperAccount, application: DeveloperApplication) -> App:
    """An app with a reset secret (24 h overlap) and one store authorization."""
    approved, _ = application.handle(Approve(), Actor.reviewer("rev-1"), T0)
    return samples.sample_app(account, approved)[0]


def under_review_copies(
    template: DeveloperApplication, prefix: str, count: int
) -> list[DeveloperApplication]:
    """``count`` applications like ``template``, each of its own account (no unique-key clash)."""
    return [
        attrs.evolve(template, id=f"{prefix}-{i}", account_id=f"{prefix}-acc-{i}")
        for i in range(count)
    ]


def eligibility_records(count: int, *, with_email: bool, batch: int = 0) -> list[dict[str, object]]:
    """Flat records as a CSV reader gives them (text yes/no), optionally with an e-mail column.

    Every address is new for each ``batch``, as in an imported file: no cache has seen it.
    """
    records: list[dict[str, object]] = []
    for i in range(count):
        record: dict[str, object] = {
            "name": f"Shop {i} Trading Co.",
            "country": ("CN", "ES", "US", "FR")[i % 4],
            "is_enterprise": "yes",
            "is_aliexpress_seller": "yes" if i % 3 else "no",
            "license_kind": "business_license",
            "builds_for_other_sellers": "no" if i % 5 else "yes",
            "store_platform": "aliexpress",
            "uses_third_party_module": "no",
            "has_seller_test_account": "no",
        }
        if with_email:
            record["email"] = f"contact.{batch}.{i}@shop{i % 97}.example.com"
        records.append(record)
    return records


# --------------------------------------------------------------------------- hand-written codec


def _dt(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _envelope(type_name: str, data: dict[str, Any]) -> str:
    document = {"schema_version": 1, "type": type_name, "data": data}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def app_to_text(app: App) -> str:
    """An `App` as JSON, secrets included, by hand."""
    previous = app.previous_secret
    return _envelope(
        "App",
        {
            "id": app.id,
            "owner_id": app.owner_id,
            "account_id": app.account_id,
            "enterprise_id": app.enterprise_id,
            "developer_type": app.developer_type.value,
            "name": app.name.value,
            "app_key": app.app_key.value,
            "secret": app.secret.reveal(),
            "created_at": _dt(app.created_at),
            "updated_at": _dt(app.updated_at),
            "store_limit": app.store_limit,
            "status": app.status.value,
            "version": app.version,
            "previous_secret": None if previous is None else previous.reveal(),
            "previous_secret_valid_until": _dt(app.previous_secret_valid_until),
            "authorizations": [
                {
                    "store": {
                        "store_id": a.store.store_id,
                        "seller_id": a.store.seller_id,
                        "enterprise_id": a.store.enterprise_id,
                    },
                    "authorized_at": _dt(a.authorized_at),
                }
                for a in app.authorizations
            ],
        },
    )


def app_from_text(text: str) -> App:
    """`app_to_text`'s inverse: ``json.loads`` and constructor calls."""
    data = json.loads(text)["data"]
    previous = data["previous_secret"]
    return App(
        id=data["id"],
        owner_id=data["owner_id"],
        account_id=data["account_id"],
        enterprise_id=data["enterprise_id"],
        developer_type=DeveloperType(data["developer_type"]),
        name=AppName(data["name"]),
        app_key=AppKey(data["app_key"]),
        secret=AppSecret(data["secret"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        store_limit=data["store_limit"],
        status=AppStatus(data["status"]),
        version=data["version"],
        previous_secret=None if previous is None else AppSecret(previous),
        previous_secret_valid_until=_parse_dt(data["previous_secret_valid_until"]),
        authorizations=tuple(
            StoreAuthorization(Store(**a["store"]), datetime.fromisoformat(a["authorized_at"]))
            for a in data["authorizations"]
        ),
    )


def application_to_text(application: DeveloperApplication) -> str:
    """A `DeveloperApplication` as JSON, by hand."""
    applicant, document = application.applicant, application.document
    return _envelope(
        "DeveloperApplication",
        {
            "id": application.id,
            "owner_id": application.owner_id,
            "account_id": application.account_id,
            "developer_type": application.developer_type.value,
            "applicant": {
                "name": applicant.name,
                "country": applicant.country.value,
                "is_enterprise": applicant.is_enterprise,
                "is_aliexpress_seller": applicant.is_aliexpress_seller,
                "license_kind": None
                if applicant.license_kind is None
                else applicant.license_kind.value,
                "builds_for_other_sellers": applicant.builds_for_other_sellers,
                "store_platform": applicant.store_platform.value,
                "uses_third_party_module": applicant.uses_third_party_module,
                "has_seller_test_account": applicant.has_seller_test_account,
                "email": None if applicant.email is None else applicant.email.value,
            },
            "document": {
                "kind": document.kind.value,
                "filename": document.filename,
                "media_type": document.media_type.value,
                "size": document.size,
                "sha256": document.sha256,
                "country": None if document.country is None else document.country.value,
                "registration_number": document.registration_number,
            },
            "submitted_at": _dt(application.submitted_at),
            "updated_at": _dt(application.updated_at),
            "status": application.status.value,
            "version": application.version,
            "reviewer_id": application.reviewer_id,
            "decided_at": _dt(application.decided_at),
            "rejection_reason": application.rejection_reason,
            "ticket_id": application.ticket_id,
            "escalated_at": _dt(application.escalated_at),
        },
    )


def application_from_text(text: str) -> DeveloperApplication:
    """`application_to_text`'s inverse: ``json.loads`` and constructor calls."""
    data = json.loads(text)["data"]
    a, d = data["applicant"], data["document"]
    return DeveloperApplication(
        id=data["id"],
        owner_id=data["owner_id"],
        account_id=data["account_id"],
        developer_type=DeveloperType(data["developer_type"]),
        applicant=Applicant(
            name=a["name"],
            country=CountryCode(a["country"]),
            is_enterprise=a["is_enterprise"],
            is_aliexpress_seller=a["is_aliexpress_seller"],
            license_kind=None if a["license_kind"] is None else DocumentKind(a["license_kind"]),
            builds_for_other_sellers=a["builds_for_other_sellers"],
            store_platform=StorePlatform(a["store_platform"]),
            uses_third_party_module=a["uses_third_party_module"],
            has_seller_test_account=a["has_seller_test_account"],
            email=None if a["email"] is None else EmailAddress(a["email"]),
        ),
        document=LicenseDocument(
            kind=DocumentKind(d["kind"]),
            filename=d["filename"],
            media_type=MediaType(d["media_type"]),
            size=d["size"],
            sha256=d["sha256"],
            country=d["country"],
            registration_number=d["registration_number"],
        ),
        submitted_at=datetime.fromisoformat(data["submitted_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        status=ApplicationStatus(data["status"]),
        version=data["version"],
        reviewer_id=data["reviewer_id"],
        decided_at=_parse_dt(data["decided_at"]),
        rejection_reason=data["rejection_reason"],
        ticket_id=data["ticket_id"],
        escalated_at=_parse_dt(data["escalated_at"]),
    )
