"""A seller's tokens: `AccessToken`, `RefreshToken` and the `TokenGrant` that carries them.

Secrets like the appSecret (see `Secret`). `aliexpress_onboarding.platform` reads them from
the platform's answers; a `StoreAuthorization` keeps the current pair.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

import attrs

from ..errors import InvalidCredentialError, ValidationError
from .values import Secret, aware

__all__ = ["AccessToken", "RefreshToken", "TokenGrant"]

_TOKEN: Final = re.compile(r"[!-~]{16,512}")
_ID_LENGTH: Final = 256


class _Token(Secret):
    """A platform token: a secret that never shows itself, like `AppSecret` (see `Secret`)."""

    __slots__ = ()
    _field: str  # the name errors use for it

    @classmethod
    def _validate(cls, value: object) -> None:
        if not isinstance(value, str) or not _TOKEN.fullmatch(value):
            raise InvalidCredentialError(
                cls._field, value, "must be 16 to 512 visible ASCII characters", secret=True
            )


class AccessToken(_Token):
    """A seller's access token: it lets an app call business APIs for that seller's store.

    A secret like the appSecret: ``repr``, ``str``, ``format`` and errors print a mask; compare
    with `matches`; read with `reveal`; pickling raises `SecretExposureError`.

    Raises:
        InvalidCredentialError: the value is not 16 to 512 visible ASCII characters (the value
            is never shown).
    """

    __slots__ = ()
    _field = "access_token"


class RefreshToken(_Token):
    """A seller's refresh token: it buys a new `AccessToken` without asking the seller again.

    A secret like `AccessToken`, with the same guarantees.

    Raises:
        InvalidCredentialError: the value is not 16 to 512 visible ASCII characters.
    """

    __slots__ = ()
    _field = "refresh_token"


def _instance_of(kind: type) -> Any:
    def validate(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            raise ValidationError(attribute.name, None, f"must be {kind.__name__}", secret=True)

    return validate


def _printable(value: object, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def _optional_id(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None and not _printable(value, _ID_LENGTH):
        raise ValidationError(
            attribute.name, value, f"must be None or 1 to {_ID_LENGTH} printable characters"
        )


@attrs.frozen
class TokenGrant:
    """What the platform granted for one seller: a token pair, its lifetimes and who it is for.

    Built by `parse_token_response`; built by hand, bad fields raise `ValidationError`.

    Attributes:
        access_token: signs the seller's business API calls.
        refresh_token: buys a new grant before ``refresh_expires_at``.
        expires_at: when the access token stops working (UTC).
        refresh_expires_at: when the refresh token stops working (UTC); a grant whose refresh
            token expires at once cannot be refreshed, only authorized again.
        seller_id: the seller's id, when the platform said.
        user_id: the authorizing user's id, when the platform said.
        account: the seller's login (an e-mail or a nickname), when the platform said.
        havana_id: the seller's Alibaba-group account id, when the platform said.
        request_id: the platform's id of the answer, for support tickets.
    """

    access_token: AccessToken = attrs.field(validator=_instance_of(AccessToken))
    refresh_token: RefreshToken = attrs.field(validator=_instance_of(RefreshToken))
    expires_at: datetime = attrs.field(validator=aware)
    refresh_expires_at: datetime = attrs.field(validator=aware)
    seller_id: str | None = attrs.field(default=None, validator=_optional_id)
    user_id: str | None = attrs.field(default=None, validator=_optional_id)
    account: str | None = attrs.field(default=None, validator=_optional_id)
    havana_id: str | None = attrs.field(default=None, validator=_optional_id)
    request_id: str | None = attrs.field(default=None, validator=_optional_id)
