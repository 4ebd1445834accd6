"""Domain events: one frozen class per fact. An aggregate's events are its audit timeline.

Every event carries ``event_id`` (stable: ``"<aggregate id>:<version>:<n>"``), the
``aggregate_id`` and the ``version`` it produced, ``occurred_at`` and the ``actor``. No event
holds a secret's value: `SecretReset` says *that* the secret changed, never to what. Every field
is checked against its annotation when an event is built: a wrong type is a `ValidationError`
naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import attrs

from ..errors import ValidationError
from .actors import Actor
from .values import AppKey, AppName, DeveloperType, EmailAddress, aware, optional_aware, version

__all__ = [
    "AccountActivated",
    "AccountRegistered",
    "AgreementAccepted",
    "AppCreated",
    "AppResumed",
    "AppSuspended",
    "CallbackUrlRegistered",
    "EnterpriseVerified",
    "ApplicationApproved",
    "ApplicationRejected",
    "ApplicationSubmitted",
    "Event",
    "ProfileSubmitted",
    "ReviewEscalated",
    "SecretReset",
    "StoreAuthorizationRevoked",
    "StoreAuthorized",
    "TokenExpiring",
    "TokenRefreshRefused",
    "TokensIssued",
    "TokensReplaced",
]


def _instance_of(kind: type, rule: str) -> Any:
    def validate(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            raise ValidationError(attribute.name, value, rule)

    return validate


# The check of each annotation an event field has; a field whose annotation is missing here
# fails with KeyError when its class is defined (at import), never later.
_CHECKS: Final = {
    "str": _instance_of(str, "must be text"),
    "int": version,
    "datetime": aware,
    "datetime | None": optional_aware,
    "Actor": _instance_of(Actor, "must be an Actor"),
    "AppKey": _instance_of(AppKey, "must be an AppKey"),
    "AppName": _instance_of(AppName, "must be an AppName"),
    "DeveloperType": _instance_of(DeveloperType, "must be a DeveloperType"),
    "EmailAddress": _instance_of(EmailAddress, "must be an EmailAddress"),
}


def _checked(_: type, fields: list[attrs.Attribute[Any]]) -> list[attrs.Attribute[Any]]:
    """Give every field of an event the check of its annotation (an attrs field transformer).

    An inherited field keeps the check it has: its annotation may have become a class since
    (cattrs resolves them). A new field's annotation is its text here (``from __future__ import
    annotations``), e.g. ``"datetime | None"``.
    """
    return [
        field if field.validator else field.evolve(validator=_CHECKS[str(field.type)])
        for field in fields
    ]


@attrs.frozen(kw_only=True, field_transformer=_checked)
class Event:
    """What every event has."""

    event_id: str
    aggregate_id: str
    version: int
    occurred_at: datetime
    actor: Actor

    @property
    def type(self) -> str:
        """The event's class name, e.g. ``"ApplicationApproved"``."""
        return type(self).__name__


@attrs.frozen(kw_only=True, field_transformer=_checked)
class AccountRegistered(Event):
    """A seller registered a developer account (pending the API use agreement)."""

    seller_id: str
    enterprise_id: str


@attrs.frozen(kw_only=True, field_transformer=_checked)
class EnterpriseVerified(Event):
    """A reviewer or the system verified the enterprise behind the account, and its stores."""

    enterprise_id: str
    store_count: int = attrs.field(validator=_instance_of(int, "must be a number of stores"))


@attrs.frozen(kw_only=True, field_transformer=_checked)
class AgreementAccepted(Event):
    """The seller accepted the API use agreement (guide step 1.1)."""

    agreement_version: str


@attrs.frozen(kw_only=True, field_transformer=_checked)
class ProfileSubmitted(Event):
    """The seller filled in the developer information (guide step 1.2)."""

    contact_name: str
    email: EmailAddress


@attrs.frozen(kw_only=True, field_transformer=_checked)
class AccountActivated(Event):
    """The developer account is active: it may apply to become a developer."""


@attrs.frozen(kw_only=True, field_transformer=_checked)
class ApplicationSubmitted(Event):
    """A Self or Commercial developer application was submitted and is under review."""

    account_id: str
    developer_type: DeveloperType
    document_sha256: str


@attrs.frozen(kw_only=True, field_transformer=_checked)
class ApplicationApproved(Event):
    """A reviewer approved the application; the platform sends a notification e-mail."""


@attrs.frozen(kw_only=True, field_transformer=_checked)
class ApplicationRejected(Event):
    """A reviewer rejected the application, with a reason; the account may apply again."""

    reason: str


@attrs.frozen(kw_only=True, field_transformer=_checked)
class ReviewEscalated(Event):
    """No decision by the deadline: a ticket was submitted (once per application)."""

    ticket_id: str
    deadline: datetime


@attrs.frozen(kw_only=True, field_transformer=_checked)
class AppCreated(Event):
    """An app was created; its appKey is public, its appSecret is not in the event."""

    account_id: str
    name: AppName
    app_key: AppKey
    developer_type: DeveloperType


@attrs.frozen(kw_only=True, field_transformer=_checked)
class SecretReset(Event):
    """The appSecret was replaced; the old one matches until ``previous_valid_until``."""

    previous_valid_until: datetime | None


@attrs.frozen(kw_only=True, field_transformer=_checked)
class StoreAuthorized(Event):
    """A seller authorized the app for one of its stores."""

    store_id: str
    seller_id: str


@attrs.frozen(kw_only=True, field_transformer=_checked)
class StoreAuthorizationRevoked(Event):
    """A store's authorization of the app was revoked."""

    store_id: str


@attrs.frozen(kw_only=True, field_transformer=_checked)
class TokensIssued(Event):
    """The store's seller's tokens for the app were issued or refreshed (never their values)."""

    expires_at: datetime
    refresh_expires_at: datetime


@attrs.frozen(kw_only=True, field_transformer=_checked)
class TokenExpiring(Event):
    """The store's access token expires soon and cannot be refreshed: authorize again.

    The seller must authorize the app again before ``expires_at``.
    """

    expires_at: datetime


@attrs.frozen(kw_only=True, field_transformer=_checked)
class TokensReplaced(Event):
    """The seller's tokens moved to another of its stores (``store_id``); these stopped working.

    One valid token per seller and app: the seller authorized the app for that store.
    """

    store_id: str


@attrs.frozen(kw_only=True, field_transformer=_checked)
class TokenRefreshRefused(Event):
    """The platform refused the store's refresh token: the seller must authorize again."""

    reason: str


@attrs.frozen(kw_only=True, field_transformer=_checked)
class CallbackUrlRegistered(Event):
    """The app's callback URL (where the platform sends sellers back) was registered."""

    callback_url: str


@attrs.frozen(kw_only=True, field_transformer=_checked)
class AppSuspended(Event):
    """The platform suspended the app: no new store authorizations."""

    reason: str


@attrs.frozen(kw_only=True, field_transformer=_checked)
class AppResumed(Event):
    """The platform lifted the app's suspension."""
