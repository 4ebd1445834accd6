"""The hand-written floors: what a person would write to do the same work without the library.

Each floor takes the same inputs and gives the same outputs as the public call it is compared
with, and does no less work:

- `approve_dict` / `accept_dict`: a transition on a plain dict record. The same permission rule
  (the reviewer may not be the applicant; only the account's owner accepts its agreement), the
  same state table look-up, the same typed event (the library's own event class, validated as
  every notifier receives it) and a new record (the input is left untouched, as the library's
  aggregates are).
- `*_to_dict` / `*_from_dict`: the documents `to_dict` writes, built field by field, and read back
  with the same constructors (so every value object validates itself in both).
- `RawSQLiteApprove`: approving an application with sqlite3 by hand, on the tables
  `SQLiteRepository` makes: one transaction that reads the row, decodes it once, decides, writes
  the row and the event's outbox row, and commits; then the in-process notifier is told.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aliexpress_onboarding import (
    AccessToken,
    Actor,
    ActorKind,
    AgreementAccepted,
    App,
    ApplicationApproved,
    AppSecret,
    DeveloperAccount,
    DeveloperApplication,
    DeveloperProfile,
    EmailAddress,
    Event,
    LicenseDocument,
    RefreshToken,
    Store,
    StoreAuthorization,
)
from aliexpress_onboarding.domain.account import AccountStatus, EnterpriseVerification
from aliexpress_onboarding.domain.app import AppStatus
from aliexpress_onboarding.domain.application import ApplicationStatus
from aliexpress_onboarding.domain.authorization import AuthorizationStatus
from aliexpress_onboarding.domain.eligibility import Applicant, StorePlatform
from aliexpress_onboarding.domain.oauth import CallbackUrl
from aliexpress_onboarding.domain.values import (
    AppKey,
    AppName,
    CountryCode,
    DeveloperType,
    DocumentKind,
    MediaType,
)

__all__ = [
    "CODECS",
    "RawSQLiteApprove",
    "accept_dict",
    "approve_dict",
]

# --------------------------------------------------------------------------- transitions


class RefusedError(Exception):
    """A hand-written transition refused its command (permission or state)."""


_APPROVABLE = frozenset({"under_review", "escalated"})


Transition = tuple[dict[str, Any], tuple[Event, ...]]


def approve_dict(record: dict[str, Any], actor: Actor, now: datetime) -> Transition:
    """A reviewer approves an application record: the new record and its event."""
    if record["status"] not in _APPROVABLE:
        raise RefusedError("approve: not under review")
    if actor.kind is not ActorKind.REVIEWER or actor.id == record["owner_id"]:
        raise RefusedError("approve: only a reviewer who is not the applicant")
    version = record["version"] + 1
    event = ApplicationApproved(
        event_id=f"{record['id']}:{version}:0",
        aggregate_id=record["id"],
        version=version,
        occurred_at=now,
        actor=actor,
    )
    changes = {"status": "approved", "version": version, "updated_at": now}
    return {**record, **changes, "reviewer_id": actor.id, "decided_at": now}, (event,)


def accept_dict(
    record: dict[str, Any], agreement_version: str, actor: Actor, now: datetime
) -> Transition:
    """The account's owner accepts the API use agreement: the new record and its event."""
    if record["status"] != "pending_agreement":
        raise RefusedError("accept_agreement: not pending the agreement")
    if actor.kind is not ActorKind.SELLER or actor.id != record["owner_id"]:
        raise RefusedError("accept_agreement: only the account's owner")
    version = record["version"] + 1
    event = AgreementAccepted(
        event_id=f"{record['id']}:{version}:0",
        aggregate_id=record["id"],
        version=version,
        occurred_at=now,
        actor=actor,
        agreement_version=agreement_version,
    )
    changes = {"status": "pending_profile", "version": version, "updated_at": now}
    return {
        **record,
        **changes,
        "agreement_version": agreement_version,
        "agreement_accepted_at": now,
    }, (event,)


# --------------------------------------------------------------------------- documents


def _dt(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _secret(value: Any) -> str | None:
    return None if value is None else value.reveal()


def _envelope(type_name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "type": type_name, "data": data}


def _data(document: dict[str, Any], type_name: str) -> dict[str, Any]:
    if document.get("schema_version") != 1 or document.get("type") != type_name:
        raise ValueError(f"not a version 1 {type_name} document")
    data: dict[str, Any] = document["data"]
    return data


def account_to_dict(account: DeveloperAccount) -> dict[str, Any]:
    """A `DeveloperAccount` as `to_dict` writes it, by hand."""
    profile, verification = account.profile, account.verification
    return _envelope(
        "DeveloperAccount",
        {
            "id": account.id,
            "owner_id": account.owner_id,
            "enterprise_id": account.enterprise_id,
            "created_at": account.created_at.isoformat(),
            "updated_at": account.updated_at.isoformat(),
            "status": account.status.value,
            "version": account.version,
            "agreement_version": account.agreement_version,
            "agreement_accepted_at": _dt(account.agreement_accepted_at),
            "profile": None
            if profile is None
            else {"contact_name": profile.contact_name, "email": profile.email.value},
            "verification": None
            if verification is None
            else {
                "enterprise_id": verification.enterprise_id,
                "store_count": verification.store_count,
                "verified_by": {
                    "kind": verification.verified_by.kind.value,
                    "id": verification.verified_by.id,
                },
                "verified_at": verification.verified_at.isoformat(),
            },
        },
    )


def account_from_dict(document: dict[str, Any]) -> DeveloperAccount:
    """`account_to_dict`'s inverse: the constructors, each validating its fields."""
    data = _data(document, "DeveloperAccount")
    profile, verification = data["profile"], data["verification"]
    return DeveloperAccount(
        id=data["id"],
        owner_id=data["owner_id"],
        enterprise_id=data["enterprise_id"],
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        status=AccountStatus(data["status"]),
        version=data["version"],
        agreement_version=data["agreement_version"],
        agreement_accepted_at=_parse_dt(data["agreement_accepted_at"]),
        profile=None
        if profile is None
        else DeveloperProfile(profile["contact_name"], EmailAddress(profile["email"])),
        verification=None
        if verification is None
        else EnterpriseVerification(
            enterprise_id=verification["enterprise_id"],
            store_count=verification["store_count"],
            verified_by=Actor(
                ActorKind(verification["verified_by"]["kind"]), verification["verified_by"]["id"]
            ),
            verified_at=datetime.fromisoformat(verification["verified_at"]),
        ),
    )


def application_to_dict(application: DeveloperApplication) -> dict[str, Any]:
    """A `DeveloperApplication` as `to_dict` writes it, by hand."""
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
                "email": _text(applicant.email),
            },
            "document": {
                "kind": document.kind.value,
                "filename": document.filename,
                "media_type": document.media_type.value,
                "size": document.size,
                "sha256": document.sha256,
                "country": _text(document.country),
                "registration_number": document.registration_number,
            },
            "submitted_at": application.submitted_at.isoformat(),
            "updated_at": application.updated_at.isoformat(),
            "status": application.status.value,
            "version": application.version,
            "reviewer_id": application.reviewer_id,
            "decided_at": _dt(application.decided_at),
            "rejection_reason": application.rejection_reason,
            "ticket_id": application.ticket_id,
            "escalated_at": _dt(application.escalated_at),
        },
    )


def application_from_dict(document: dict[str, Any]) -> DeveloperApplication:
    """`application_to_dict`'s inverse."""
    data = _data(document, "DeveloperApplication")
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


def app_to_dict(app: App) -> dict[str, Any]:
    """An `App` as ``to_dict(app, include_secrets=True)`` writes it, by hand."""
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
            "created_at": app.created_at.isoformat(),
            "updated_at": app.updated_at.isoformat(),
            "status": app.status.value,
            "version": app.version,
            "previous_secret": _secret(app.previous_secret),
            "previous_secret_valid_until": _dt(app.previous_secret_valid_until),
            "callback_url": _text(app.callback_url),
        },
    )


def app_from_dict(document: dict[str, Any]) -> App:
    """`app_to_dict`'s inverse."""
    data = _data(document, "App")
    previous, callback = data["previous_secret"], data["callback_url"]
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
        status=AppStatus(data["status"]),
        version=data["version"],
        previous_secret=None if previous is None else AppSecret(previous),
        previous_secret_valid_until=_parse_dt(data["previous_secret_valid_until"]),
        callback_url=None if callback is None else CallbackUrl(callback),
    )


def authorization_to_dict(authorization: StoreAuthorization) -> dict[str, Any]:
    """A `StoreAuthorization` as ``to_dict(..., include_secrets=True)`` writes it, by hand."""
    store = authorization.store
    return _envelope(
        "StoreAuthorization",
        {
            "id": authorization.id,
            "app_id": authorization.app_id,
            "account_id": authorization.account_id,
            "app_owner_id": authorization.app_owner_id,
            "developer_type": authorization.developer_type.value,
            "store": {
                "store_id": store.store_id,
                "seller_id": store.seller_id,
                "enterprise_id": store.enterprise_id,
            },
            "authorized_at": authorization.authorized_at.isoformat(),
            "created_at": authorization.created_at.isoformat(),
            "updated_at": authorization.updated_at.isoformat(),
            "store_limit": authorization.store_limit,
            "status": authorization.status.value,
            "version": authorization.version,
            "access_token": _secret(authorization.access_token),
            "refresh_token": _secret(authorization.refresh_token),
            "token_expires_at": _dt(authorization.token_expires_at),
            "refresh_expires_at": _dt(authorization.refresh_expires_at),
            "expiry_alerted_at": _dt(authorization.expiry_alerted_at),
            "refresh_refused_at": _dt(authorization.refresh_refused_at),
        },
    )


def authorization_from_dict(document: dict[str, Any]) -> StoreAuthorization:
    """`authorization_to_dict`'s inverse."""
    data = _data(document, "StoreAuthorization")
    access, refresh = data["access_token"], data["refresh_token"]
    return StoreAuthorization(
        id=data["id"],
        app_id=data["app_id"],
        account_id=data["account_id"],
        app_owner_id=data["app_owner_id"],
        developer_type=DeveloperType(data["developer_type"]),
        store=Store(**data["store"]),
        authorized_at=datetime.fromisoformat(data["authorized_at"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        store_limit=data["store_limit"],
        status=AuthorizationStatus(data["status"]),
        version=data["version"],
        access_token=None if access is None else AccessToken(access),
        refresh_token=None if refresh is None else RefreshToken(refresh),
        token_expires_at=_parse_dt(data["token_expires_at"]),
        refresh_expires_at=_parse_dt(data["refresh_expires_at"]),
        expiry_alerted_at=_parse_dt(data["expiry_alerted_at"]),
        refresh_refused_at=_parse_dt(data["refresh_refused_at"]),
    )


Codec = tuple[Callable[[Any], dict[str, Any]], Callable[[dict[str, Any]], Any]]
CODECS: dict[type, Codec] = {
    DeveloperAccount: (account_to_dict, account_from_dict),
    DeveloperApplication: (application_to_dict, application_from_dict),
    App: (app_to_dict, app_from_dict),
    StoreAuthorization: (authorization_to_dict, authorization_from_dict),
}
"""The hand-written codec of every aggregate: (to a document, from a document)."""


# --------------------------------------------------------------------------- raw sqlite3


def _event_document(event: Event) -> dict[str, Any]:
    return _envelope(
        type(event).__name__,
        {
            "event_id": event.event_id,
            "aggregate_id": event.aggregate_id,
            "version": event.version,
            "occurred_at": event.occurred_at.isoformat(),
            "actor": {"kind": event.actor.kind.value, "id": event.actor.id},
        },
    )


def _dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


class RawSQLiteApprove:
    """Approve stored applications with sqlite3 by hand, on a file `SQLiteRepository` made.

    The same pragmas as the repository (WAL, ``synchronous = NORMAL``); one transaction per
    command: ``BEGIN IMMEDIATE``, ``SELECT`` the row, decode it once (``json.loads`` and the
    constructors), decide (`approve_dict`), ``UPDATE`` the row, ``INSERT`` the event into the
    outbox, ``COMMIT``; then the event goes to the notifier (a list: in process).
    """

    def __init__(self, path: Path) -> None:
        from aliexpress_onboarding.adapters.sqlite import SQLiteRepository

        SQLiteRepository(path).close()  # the same schema, indexes and pragmas
        self.connection = sqlite3.connect(path, isolation_level=None)
        for pragma in ("busy_timeout = 30000", "journal_mode = WAL", "synchronous = NORMAL"):
            self.connection.execute(f"PRAGMA {pragma}")
        self.notified: list[Event] = []

    def store(self, applications: list[DeveloperApplication]) -> None:
        """Insert applications (untimed set-up), as the repository would store them."""
        rows = [
            (
                "application",
                a.id,
                a.version,
                a.account_id,
                a.status.value,
                _dumps(application_to_dict(a)),
            )
            for a in applications
        ]
        self.connection.execute("BEGIN IMMEDIATE")
        self.connection.executemany(
            "INSERT INTO aggregates (kind, id, version, account_id, status, document)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        self.connection.execute("COMMIT")

    def approve(self, application_id: str, actor: Actor) -> DeveloperApplication:
        """One command: load, decide, write, commit, notify."""
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            ((text,),) = connection.execute(
                "SELECT document FROM aggregates WHERE kind = 'application' AND id = ?",
                (application_id,),
            ).fetchall()
            document = json.loads(text)
            application = application_from_dict(document)  # the one decode: it validates
            now = datetime.now(UTC)
            new, (event,) = approve_dict(document["data"], actor, now)
            new["updated_at"] = new["decided_at"] = now.isoformat()
            connection.execute(
                "UPDATE aggregates SET version = ?, status = ?, document = ?"
                " WHERE kind = 'application' AND id = ? AND version = ?",
                (
                    new["version"],
                    new["status"],
                    _dumps(_envelope("DeveloperApplication", new)),
                    application_id,
                    application.version,
                ),
            )
            connection.execute(
                "INSERT INTO outbox (event_id, aggregate_id, document) VALUES (?, ?, ?)",
                (event.event_id, event.aggregate_id, _dumps(_event_document(event))),
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        self.notified.append(event)
        return application

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()
