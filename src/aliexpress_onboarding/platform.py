"""The AliExpress Open Platform's answers, read strictly: tokens, token grants and errors.

Pure: no I/O and no clock reads (``now`` comes in as an argument). The HTTP adapter
(`aliexpress_onboarding.adapters.platform_http`) and the simulator (`aliexpress_onboarding.
_simulator`) both speak through this module, so they agree on every shape.

Platform facts this module relies on (AliExpress and its sister Lazada run the same "IOP" gateway
and share its error codes):

- An error answer carries ``code`` (not ``"0"``), ``type`` (``ISV``, ``ISP`` or ``SYSTEM``),
  ``message`` and ``request_id``; the official ``iop`` Python SDK reads exactly these four keys
  and treats a missing ``code`` or ``"0"`` as success. The gateway sometimes answers in the
  older TOP envelope instead, ``{"error_response": {"code": 15, "msg": ..., "sub_code":
  "isv....", "sub_msg": ...}}`` (seen from ``/auth/token/create`` on api-sg.aliexpress.com).
- A token answer carries ``access_token``, ``refresh_token``, ``expires_in`` and
  ``refresh_expires_in`` (seconds), ``expire_time`` and ``refresh_token_valid_time`` (epoch
  milliseconds), ``seller_id``, ``user_id``, ``account``, ``havana_id``, ``code`` and
  ``request_id``. The Lazada reference types ``refresh_expires_in`` as a String in one place and
  a Number in another, and ids come as numbers or text: both are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, TypeVar

from ._redact import redact_passwords
from .domain.tokens import AccessToken, RefreshToken, TokenGrant
from .domain.values import DeveloperType, require_aware
from .errors import (
    AccessTokenError,
    AppNotAllowedError,
    AuthorizationCodeError,
    InvalidCredentialError,
    PlatformError,
    PlatformResponseError,
    PlatformUnavailableError,
    RefreshTokenError,
    SignatureError,
    ValidationError,
)

__all__ = [
    "DEFAULT_TOKEN_LIFETIMES",
    "AccessToken",
    "RefreshToken",
    "TokenGrant",
    "error_from_response",
    "parse_token_response",
    "raise_for_error",
]

# --------------------------------------------------------------------------- tokens

_T = TypeVar("_T", AccessToken, RefreshToken)
_ID_LENGTH: Final = 256

DEFAULT_TOKEN_LIFETIMES: Final[Mapping[DeveloperType, timedelta]] = MappingProxyType(
    {DeveloperType.SELF: timedelta(days=365), DeveloperType.COMMERCIAL: timedelta(days=30)}
)
"""How long a token lives when the platform's answer does not say: the platform's policy by
developer type (a Self developer's token about a year, a Commercial developer's sellers
re-authorize monthly)."""

# --------------------------------------------------------------------------- reading answers

_DIGITS: Final = re.compile(r"[0-9]{1,15}")  # 15 digits of milliseconds: past the year 9999
_MAX_SECONDS: Final = 100 * 366 * 86_400  # a lifetime beyond a century is a broken answer
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def parse_token_response(
    document: object, *, now: datetime, default_lifetime: timedelta | None = None
) -> TokenGrant:
    """Read a ``/auth/token/create`` or ``/auth/token/refresh`` answer, strictly.

    The absolute times (``expire_time``, ``refresh_token_valid_time``, epoch milliseconds) are
    used when present; otherwise the lifetimes (``expires_in``, ``refresh_expires_in``,
    seconds) are counted from ``now``; with neither, ``default_lifetime`` (the policy,
    `DEFAULT_TOKEN_LIFETIMES`) when given, for both tokens. ``seller_id``, ``user_id``,
    ``account``, ``havana_id`` and ``request_id`` are kept when present.

    Args:
        document: the parsed JSON answer.
        now: when the answer arrived (timezone-aware).
        default_lifetime: how long the tokens live when the answer does not say; ``None``:
            such an answer is refused.

    Returns:
        The grant.

    Raises:
        InvalidDateTimeError: ``now`` is naive.
        PlatformError: the answer is a platform error (a subclass says which; see
            `raise_for_error`).
        PlatformResponseError: the answer is not an object, or a field is missing or has the
            wrong type or value; ``.field`` names it. A token's value is never shown.
    """
    now = require_aware("now", now)
    if not isinstance(document, Mapping):
        raise PlatformResponseError("a token answer must be a JSON object", field="$")
    raise_for_error(document)
    if default_lifetime is not None and (
        not isinstance(default_lifetime, timedelta) or default_lifetime <= timedelta(0)
    ):
        raise ValidationError("default_lifetime", default_lifetime, "must be a positive timedelta")
    return TokenGrant(
        access_token=_token(document, AccessToken),
        refresh_token=_token(document, RefreshToken),
        expires_at=_moment(document, "expire_time", "expires_in", now, default_lifetime),
        refresh_expires_at=_moment(
            document, "refresh_token_valid_time", "refresh_expires_in", now, default_lifetime
        ),
        seller_id=_text(document, "seller_id"),
        user_id=_text(document, "user_id"),
        account=_text(document, "account"),
        havana_id=_text(document, "havana_id"),
        request_id=_text(document, "request_id"),
    )


def _token(document: Mapping[Any, Any], kind: type[_T]) -> _T:
    field = kind._field
    if field not in document:
        raise PlatformResponseError(f"the answer has no {field}", field=field)
    try:
        return kind(document[field])
    except InvalidCredentialError:
        raise PlatformResponseError(
            f"{field} must be 16 to 512 visible ASCII characters", field=field
        ) from None


def _moment(
    document: Mapping[Any, Any],
    absolute: str,
    relative: str,
    now: datetime,
    default: timedelta | None = None,
) -> datetime:
    if absolute in document:
        milliseconds = _whole_number(document, absolute)
        try:
            return _EPOCH + timedelta(milliseconds=milliseconds)
        except OverflowError:
            raise PlatformResponseError(
                f"{absolute} must be epoch milliseconds before the year 10000", field=absolute
            ) from None
    if relative in document:
        seconds = _whole_number(document, relative)
        if seconds > _MAX_SECONDS:
            raise PlatformResponseError(f"{relative} must be at most a century", field=relative)
        try:
            return now + timedelta(seconds=seconds)
        except OverflowError:
            raise PlatformResponseError(
                f"{relative} runs past the year 9999", field=relative
            ) from None
    if default is not None:
        try:
            return now + default
        except OverflowError:
            raise PlatformResponseError(
                f"{relative} by default runs past the year 9999", field=relative
            ) from None
    raise PlatformResponseError(
        f"the answer has neither {absolute} nor {relative}", field=f"{absolute}/{relative}"
    )


def _whole_number(document: Mapping[Any, Any], field: str) -> int:
    value = document[field]
    if type(value) is int and 0 <= value < 10**15:
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise PlatformResponseError(
        f"{field} must be a whole number from 0 (or its digits as text)", field=field
    )


def _text(document: Mapping[Any, Any], field: str) -> str | None:
    value = _int_as_text(document.get(field))
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _printable(value, _ID_LENGTH):
        raise PlatformResponseError(
            f"{field} must be 1 to {_ID_LENGTH} printable characters or a whole number",
            field=field,
        )
    return value


# --------------------------------------------------------------------------- errors

# The codes we recognise: the class each maps to, and the advice when it differs from the
# class's own. Only codes found in the platform's documents or in its real answers are listed;
# any other code is mapped by its `type`.
# - InvalidCode, IllegalRefreshToken, IncompleteSignature, MissingParameter: the IOP gateway's
#   reference for /auth/token/create and /auth/token/refresh (Lazada's "System API" pages;
#   api-sg.aliexpress.com is the same IOP gateway): a code works once, for 30 minutes, for the
#   appKey it was issued to; "The specified refresh token is invalid or expired".
# - IncompleteSignature with type ISV, "The request signature does not conform to platform
#   standards": a real answer of api-sg.aliexpress.com/rest/auth/token/create.
# - IllegalAccessToken, "The specified access token is invalid or expired": real answers of the
#   AliExpress and Lazada gateways.
# - InsufficientPermission, AppWhiteIpLimit, AppCallLimit: real AliExpress answers: an API the
#   app has no permission for; a caller outside the app's IP whitelist; the app's daily call
#   limit ("API access count limitation": refused until 24:00 Beijing time).
_BY_CODE: Final[dict[str, tuple[type[PlatformError], str | None]]] = {
    "IllegalAccessToken": (AccessTokenError, None),
    "IllegalRefreshToken": (RefreshTokenError, None),
    "InvalidCode": (AuthorizationCodeError, None),
    "IncompleteSignature": (SignatureError, None),
    "InsufficientPermission": (AppNotAllowedError, None),
    "AppWhiteIpLimit": (
        AppNotAllowedError,
        "this machine's IP address is not on the app's IP whitelist: add it in the console",
    ),
    "AppCallLimit": (
        AppNotAllowedError,
        "the app reached its daily call limit and is refused until 24:00 Beijing time (UTC+8): "
        "wait, or ask for a higher limit in the console",
    ),
}
# The IOP documents call ISP "backend service errors: try again after some time" and SYSTEM
# "API platform errors"; the SDK, "API Service Provider" and "Iop platform" errors. Either
# way the caller's request was not at fault, so both read as "unavailable, try later". (A known
# code wins over its type: IncompleteSignature is the request's fault whatever the type says.)
_PROVIDER_SIDE: Final = frozenset({"ISP", "SYSTEM"})
_MESSAGE_LENGTH: Final = 300


def error_from_response(
    document: Mapping[str, Any], *, mask: Iterable[str] = ()
) -> PlatformError | None:
    """The typed error a platform answer stands for, or ``None`` if it is not an error.

    An answer is an error when its ``code`` is present and not ``"0"`` (or when it is the TOP
    ``error_response`` envelope). Known codes map to their own class; then ``type`` ``ISP`` or
    ``SYSTEM`` (the platform's side failed) maps to `PlatformUnavailableError`; anything else is
    a plain `PlatformError` carrying the platform's message.

    Args:
        document: the parsed JSON answer.
        mask: secrets the request carried (a code, a token): shown as ``***`` wherever the
            answer quotes them.

    Returns:
        The error (not raised), with ``.code``, ``.type``, ``.request_id`` and ``.advice``.
    """
    secrets = tuple(mask)

    def clean(value: object) -> str | None:
        return _clean(value, secrets)

    envelope = document.get("error_response")
    if isinstance(envelope, Mapping):
        # TOP style: the meaningful code is sub_code ("isv.invalid-parameter"), if any.
        code = clean(envelope.get("sub_code")) or clean(envelope.get("code")) or "unknown"
        message = clean(envelope.get("sub_msg")) or clean(envelope.get("msg"))
        kind = code.partition(".")[0].upper() if "." in code else None
        request_id = clean(envelope.get("request_id")) or clean(document.get("request_id"))
    else:
        raw = document.get("code")
        if raw is None or raw in ("0", 0):
            return None
        code = clean(raw) or "unknown"
        message = clean(document.get("message"))
        kind = clean(document.get("type"))
        request_id = clean(document.get("request_id"))
    text = message or "the platform refused the request"
    known = _BY_CODE.get(code)
    if known is not None:
        error_class, advice = known
    elif kind in _PROVIDER_SIDE:
        error_class, advice = PlatformUnavailableError, None
    else:
        error_class, advice = PlatformError, None
    return error_class(text, code=code, type=kind, request_id=request_id, advice=advice)


def raise_for_error(document: Mapping[str, Any], *, mask: Iterable[str] = ()) -> None:
    """Raise the typed error a platform answer stands for; do nothing for a success.

    ``mask`` is as for `error_from_response`.

    Raises:
        PlatformError: see `error_from_response` for the classes.
    """
    error = error_from_response(document, mask=mask)
    if error is not None:
        raise error


def _int_as_text(value: object) -> object:
    """An id or a code sent as a number, as its digits; anything else as it is.

    Only ints that write out short: ``str()`` of a huge one is slow, then refused.
    """
    if type(value) is int and -(10**40) < value < 10**40:
        return str(value)
    return value


def _printable(value: object, limit: int) -> bool:
    """Whether ``value`` is 1 to ``limit`` printable characters (no controls, no surrogates)."""
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def _clean(value: object, secrets: tuple[str, ...] = ()) -> str | None:
    """A short printable rendering of a text from an untrusted answer, or ``None``.

    Secrets are masked before the text is cut short, so no prefix of one survives the cut.
    """
    value = _int_as_text(value)
    if not isinstance(value, str) or not value:
        return None
    # Cut first (bounded work on a huge answer), long enough that a secret starting inside the
    # kept text is masked whole; then mask; then cut to length.
    value = value[: _MESSAGE_LENGTH + max(map(len, secrets), default=0)]
    value = redact_passwords(value, *secrets)
    text = "".join(c if c.isprintable() else " " for c in value[:_MESSAGE_LENGTH])
    return text.strip() or None
