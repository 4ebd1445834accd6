"""Every error the library raises, under one root.

The tree::

    OnboardingError
    ├── ValidationError (also ValueError)      bad input: .field, .value, .rule
    │   ├── InvalidAppNameError                .position, .character
    │   ├── InvalidCountryCodeError
    │   ├── InvalidDeveloperTypeError
    │   ├── InvalidDocumentError
    │   ├── InvalidEmailError
    │   ├── InvalidRegistrationNumberError
    │   ├── InvalidApplicantError
    │   ├── InvalidCredentialError
    │   ├── InvalidDateTimeError               naive or wrong-typed datetimes
    │   ├── InvalidRecordError                 .problems: a stored/serialised document is bad
    │   ├── InvalidPolicyError                 a ReviewPolicy or DocumentPolicy set up wrongly
    │   └── InvalidCallbackUrlError            a redirect URI (or authorize base) is refused
    ├── RuleViolationError                     .command, .problems (a guard said no)
    │   └── NotEligibleError                   .developer_type
    ├── TransitionNotAllowedError              .state, .command, .allowed
    ├── PermissionDeniedError                  .actor, .command
    ├── ConcurrencyConflictError               .aggregate_id, .expected_version, .actual_version
    │   └── AlreadyExistsError                 .key, .existing_id: a unique key is taken
    ├── NotFoundError                          .kind, .id
    ├── StorageError                           the database failed, is corrupt or too new
    ├── EmailDeliveryError                     .recipient, .host, .port, .reason
    ├── SecretExposureError (also TypeError)   a secret asked to leave in the clear (pickle)
    ├── AuthorizationError                     an OAuth callback refused; nothing changed
    │   ├── InvalidCallbackError (also ValidationError)  malformed: size, twice, no code
    │   ├── CallbackMismatchError              .expected, .received: not the registered URI
    │   ├── InvalidStateError                  .reason: missing, foreign, other_app
    │   ├── StateReusedError                   .used_at: the request was completed already
    │   ├── AuthorizationExpiredError          .expires_at, .now
    │   └── AuthorizationDeniedError           .error, .description: the platform's error=
    ├── PlatformError                          .code, .type, .request_id, .advice, .retryable
    │   ├── AccessTokenError                   re-authorize the store (or refresh)
    │   ├── RefreshTokenError                  re-authorize the store
    │   ├── AuthorizationCodeError             the code was used, expired or another app's
    │   ├── SignatureError                     check the appSecret
    │   ├── AppNotAllowedError                 approval, API permission, IP or call limits
    │   ├── PlatformUnavailableError           .attempts, .status: down or slow (retryable)
    │   └── PlatformResponseError              .field: an answer that cannot be read
    └── DefinitionError                        a transition table is malformed (import time)

Catch `OnboardingError` for anything the library refuses, `ValidationError` (or the builtin
`ValueError`) for bad input only. Every error keeps its context as attributes, so callers never
parse messages. A `ValidationError` never carries a secret: the offending value of a secret field
is left out. A message shows the offending value abbreviated by `safe_repr`, which never raises
and never costs the value's whole ``repr`` (a huge integer, a megabyte of text, a list nested
100 000 deep).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .domain.eligibility import Problem

__all__ = [
    "AccessTokenError",
    "AlreadyExistsError",
    "AppNotAllowedError",
    "AuthorizationCodeError",
    "AuthorizationDeniedError",
    "AuthorizationError",
    "AuthorizationExpiredError",
    "CallbackMismatchError",
    "ConcurrencyConflictError",
    "DefinitionError",
    "EmailDeliveryError",
    "InvalidApplicantError",
    "InvalidAppNameError",
    "InvalidCallbackError",
    "InvalidCallbackUrlError",
    "InvalidCountryCodeError",
    "InvalidCredentialError",
    "InvalidDateTimeError",
    "InvalidDeveloperTypeError",
    "InvalidDocumentError",
    "InvalidEmailError",
    "InvalidPolicyError",
    "InvalidRecordError",
    "InvalidRegistrationNumberError",
    "InvalidStateError",
    "NotEligibleError",
    "NotFoundError",
    "OnboardingError",
    "PermissionDeniedError",
    "PlatformError",
    "PlatformResponseError",
    "PlatformUnavailableError",
    "RefreshTokenError",
    "RuleViolationError",
    "SecretExposureError",
    "SignatureError",
    "StateReusedError",
    "StorageError",
    "TransitionNotAllowedError",
    "ValidationError",
]

_MAX_SHOWN: Final = 80
_MAX_ITEMS: Final = 6
_MAX_LEVELS: Final = 3
_MAX_INT_BITS: Final = 256  # about 77 digits: any longer would be cut anyway
_DIGITS_PER_BIT: Final = math.log10(2)
_BRACKETS: Final[dict[type, tuple[str, str]]] = {
    list: ("[", "]"),
    tuple: ("(", ")"),
    set: ("{", "}"),
    frozenset: ("frozenset({", "})"),
    dict: ("{", "}"),
}


def safe_repr(value: object) -> str:
    """A short rendering of an offending value for an error message, safe for any value.

    At most 80 characters, bounded in cost, and never raising, whatever the value: a huge
    integer, a megabyte of text, a container nested 100 000 deep or holding a million items,
    an object whose ``__repr__`` raises.

    Args:
        value: anything a caller passed.

    Returns:
        ``repr(value)`` abbreviated, e.g. ``'sunrise sync'``, ``[[[[...]]]]``,
        ``<int of about 5001 digits>``, or ``<Thing object>`` when its ``repr`` fails.
    """
    try:
        text = _abbreviated(value, _MAX_LEVELS)
    except Exception:  # a broken __repr__ (RecursionError included): name the type, nothing more
        text = f"<{type(value).__name__[:_MAX_SHOWN]} object>"
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return text


def _abbreviated(value: Any, levels: int) -> str:
    """``repr(value)`` that never costs more than a few items of a few levels.

    Only the builtin types are taken apart (by exact type: a subclass keeps its own repr);
    anything else is its own ``repr``.
    """
    kind = type(value)
    if kind is str or kind is bytes or kind is bytearray:
        return repr(value[:_MAX_SHOWN])  # slice first: never the repr of a megabyte
    if kind is int and value.bit_length() > _MAX_INT_BITS:
        # str() of an int takes time quadratic in its digits, and Python refuses it beyond
        # sys.get_int_max_str_digits() (4300): say how long it is instead.
        return f"<int of about {int(value.bit_length() * _DIGITS_PER_BIT) + 1} digits>"
    if kind not in _BRACKETS or not value:
        return repr(value)
    left, right = _BRACKETS[kind]
    if levels == 0:
        return f"{left}...{right}"
    # In iteration order, never sorted (unlike reprlib): a huge dict or set costs no more.
    items = itertools.islice(value.items() if kind is dict else value, _MAX_ITEMS)
    if kind is dict:
        pieces = [
            f"{_abbreviated(key, levels - 1)}: {_abbreviated(item, levels - 1)}"
            for key, item in items
        ]
    else:
        pieces = [_abbreviated(item, levels - 1) for item in items]
    if len(value) > _MAX_ITEMS:
        pieces.append("...")
    elif kind is tuple and len(value) == 1:
        right = ",)"
    return f"{left}{', '.join(pieces)}{right}"


class OnboardingError(Exception):
    """The root of every error this library raises on purpose."""


class ValidationError(OnboardingError, ValueError):
    """A value broke a rule; nothing was created or changed.

    Attributes:
        field: The name of the field (or argument) that was refused.
        value: The offending value as given, or ``None`` when it is a secret.
        rule: The rule it broke, in words a user can act on.
    """

    def __init__(self, field: str, value: object, rule: str, *, secret: bool = False) -> None:
        self.field = field
        self.value: Any = None if secret else value
        self.rule = rule
        shown = "<redacted>" if secret else safe_repr(value)
        super().__init__(f"{field}: {rule} (got {shown})")


class InvalidAppNameError(ValidationError):
    """An app name broke the platform's naming rule.

    Attributes:
        position: The 0-based index of the first refused character, or ``None`` when the
            length or the type is the problem.
        character: That character, or ``None``.
    """

    def __init__(
        self,
        value: object,
        rule: str,
        *,
        position: int | None = None,
        character: str | None = None,
    ) -> None:
        super().__init__("app_name", value, rule)
        self.position = position
        self.character = character


class InvalidCountryCodeError(ValidationError):
    """A country code is not an assigned ISO 3166-1 alpha-2 code."""


class InvalidDeveloperTypeError(ValidationError):
    """A text names no developer type."""


class InvalidDocumentError(ValidationError):
    """An uploaded licence document was refused (type, size, name or digest)."""


class InvalidEmailError(ValidationError):
    """An e-mail address is not valid."""


class InvalidRegistrationNumberError(ValidationError):
    """A registration number does not match its country's format or check character."""


class InvalidApplicantError(ValidationError):
    """A fact about an applicant has the wrong type or value."""


class InvalidCredentialError(ValidationError):
    """An appKey or appSecret is malformed. The secret's value is never shown."""


class InvalidDateTimeError(ValidationError):
    """A timestamp is not a timezone-aware `datetime.datetime` (naive ones are refused)."""


class InvalidPolicyError(ValidationError):
    """A policy (review deadline, accepted documents) was configured with a bad value."""


class RuleViolationError(OnboardingError):
    r"""A command is allowed in this state, but a domain rule refuses it now.

    Attributes:
        command: The refused command.
        problems: Why, as `Problem` values with stable ``code``\ s.
    """

    def __init__(self, command: str, problems: Sequence[Problem]) -> None:
        self.command = command
        self.problems = tuple(problems)
        details = "; ".join(f"{p.code}: {p.message}" for p in self.problems)
        super().__init__(f"{command} refused: {details}")


class InvalidRecordError(ValidationError):
    """A serialised document (JSON, a database row) cannot be read back.

    Attributes:
        problems: every problem found, each prefixed with its path
            (``$.data.profile.email: not a valid e-mail address``).
    """

    def __init__(self, field: str, value: object, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(field, value, "; ".join(self.problems))


class NotEligibleError(RuleViolationError):
    """An applicant does not meet a developer type's requirements.

    Attributes:
        developer_type: The developer type applied for.
        problems: The blocking problems (each a `Problem` with a stable ``code``).
    """

    def __init__(self, developer_type: object, problems: Sequence[Problem]) -> None:
        self.developer_type = developer_type
        super().__init__("submit_application", problems)


class TransitionNotAllowedError(OnboardingError):
    """A command is not allowed in the aggregate's current state.

    Attributes:
        state: The current state.
        command: The refused command.
        allowed: The commands that are allowed in that state.
    """

    def __init__(self, state: object, command: str, allowed: Sequence[str]) -> None:
        self.state = state
        self.command = command
        self.allowed = tuple(allowed)
        allowed_text = ", ".join(self.allowed) or "none"
        super().__init__(f"{command!r} is not allowed in state {state}; allowed: {allowed_text}")


class PermissionDeniedError(OnboardingError):
    """The actor may not run this command.

    Attributes:
        actor: The actor that was refused.
        command: The command it tried.
    """

    def __init__(self, actor: object, command: str, reason: str) -> None:
        self.actor = actor
        self.command = command
        self.reason = reason
        super().__init__(f"{actor} may not {command}: {reason}")


class ConcurrencyConflictError(OnboardingError):
    """Someone else changed the aggregate since it was loaded; reload and retry.

    Attributes:
        aggregate_id: The aggregate's id.
        expected_version: The version the caller loaded.
        actual_version: The version stored now, when known.
    """

    def __init__(
        self, aggregate_id: str, expected_version: int, actual_version: int | None
    ) -> None:
        self.aggregate_id = aggregate_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"{aggregate_id}: expected version {expected_version}, found {actual_version}"
        )


class AlreadyExistsError(ConcurrencyConflictError):
    """What a command would store is taken already: not a race to retry, the key is held.

    A second developer account for a seller, a second app of an account with the same name, a
    second open application of one type. Also a `ConcurrencyConflictError`, since a race can
    end the same way.

    Attributes:
        key: the taken key (``"account-of-seller:cn123"``, ``"app-name:<account>:<name>"``).
        existing_id: the id of the aggregate that holds it.
    """

    def __init__(self, aggregate_id: str, key: str, existing_id: str) -> None:
        super().__init__(aggregate_id, 0, None)
        self.key = key
        self.existing_id = existing_id
        self.args = (f"{safe_repr(key)} is taken by {safe_repr(existing_id)}; nothing was stored",)


class NotFoundError(OnboardingError):
    """No aggregate of that kind has that id.

    Attributes:
        kind: What was looked for (``"account"``, ``"application"``, ``"app"``, ...).
        id: The id that was not found.
    """

    def __init__(self, kind: str, id: str) -> None:
        self.kind = kind
        self.id = id
        super().__init__(f"no {kind} with id {safe_repr(id)}")


class EmailDeliveryError(OnboardingError):
    """An e-mail could not be handed to the mail server; a notifier's event stays pending.

    Attributes:
        recipient: whom the e-mail was for.
        host: the mail server's host.
        port: the mail server's port.
        reason: what went wrong (the cause is chained as ``__cause__``); never a password.
    """

    def __init__(self, recipient: object, host: str, port: int, reason: str) -> None:
        self.recipient = recipient
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(f"could not send e-mail to {recipient} via {host}:{port}: {reason}")


class StorageError(OnboardingError):
    """The database failed, or holds something this library cannot use (corrupt, too new)."""


class DefinitionError(OnboardingError):
    """A transition table is malformed; raised when it is defined, never at first use."""


class SecretExposureError(OnboardingError, TypeError):
    """A secret (an appSecret, a keyring) was asked to leave the process in the clear.

    Pickling one is refused: a pickle is plain bytes that end up in caches, queues and files.
    Subclasses `TypeError`, which is what `pickle` raises for an object it cannot pickle.
    """


class InvalidCallbackUrlError(ValidationError):
    """A URL the OAuth flow sends a browser to is refused: a callback URL, or the authorize base.

    The rule says what to change (scheme, host, port, path, a fragment or a query, ...).
    """


class AuthorizationError(OnboardingError):
    """A seller's authorization callback was refused; nothing was changed.

    The ``code`` and the ``state`` a callback carries are bearer secrets: no subclass shows them,
    in its message or its attributes.
    """


class InvalidCallbackError(AuthorizationError, ValidationError):
    """The URL the platform redirected to is malformed (bad input, also a `ValidationError`).

    Too long, a fragment, a parameter given twice, an undecodable query, or no ``code``.
    ``.field`` names the parameter (or ``"callback_url"``); ``.value`` is always ``None``:
    the URL carries secrets.
    """

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(field, None, rule, secret=True)


class CallbackMismatchError(AuthorizationError):
    """The callback did not arrive at the registered redirect URI, character for character.

    Attributes:
        expected: the registered redirect URI.
        received: the callback's URL without its query (where the secrets are).
    """

    def __init__(self, expected: str, received: str) -> None:
        self.expected = expected
        self.received = received
        super().__init__(
            f"the callback arrived at {safe_repr(received)}, "
            f"not at the registered redirect URI {safe_repr(expected)}"
        )


class InvalidStateError(AuthorizationError):
    """The callback's state does not belong to this authorization request (it is never shown).

    Attributes:
        reason: ``"missing"`` (no state, or an empty one), ``"foreign"`` (not this request's
            state) or ``"other_app"`` (this request's state, presented for another app).
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(f"invalid state ({reason}): {detail}; start the authorization again")


class StateReusedError(AuthorizationError):
    """The authorization request was completed already: a state is good for one callback.

    Attributes:
        used_at: when the request was completed.
    """

    def __init__(self, used_at: object) -> None:
        self.used_at = used_at
        super().__init__(
            f"this authorization request was completed at {used_at}; a state is single-use"
        )


class AuthorizationExpiredError(AuthorizationError):
    """The callback came after the authorization request expired.

    Attributes:
        expires_at: when the request expired.
        now: when the callback was checked.
    """

    def __init__(self, expires_at: object, now: object) -> None:
        self.expires_at = expires_at
        self.now = now
        super().__init__(
            f"the authorization request expired at {expires_at} (now {now}); "
            "start the authorization again"
        )


class AuthorizationDeniedError(AuthorizationError):
    """The platform redirected with an ``error`` parameter (e.g. the seller refused).

    Attributes:
        error: the platform's ``error`` (``"access_denied"``, ...), as given.
        description: its ``error_description``, or ``None``.
    """

    def __init__(self, error: str, description: str | None) -> None:
        self.error = error
        self.description = description
        detail = "" if description is None else f": {safe_repr(description)}"
        super().__init__(f"the app was not authorized: {safe_repr(error)}{detail}")


class PlatformError(OnboardingError):
    """The AliExpress Open Platform refused a call, or did not answer it usably.

    A subclass says what happened and `advice` what to do. Never carries a token, a code or the
    appSecret: messages come from the platform's answer with known secrets masked. Its
    ``.type`` is where the platform places the error: ``"ISV"`` (the request), ``"ISP"`` (the
    service behind the gateway), ``"SYSTEM"`` (the gateway), or ``None``.

    Attributes:
        code: the platform's error code (``"IllegalAccessToken"``), or ``None`` when it gave
            none (a timeout, an HTTP failure, an unreadable answer).
        request_id: the platform's id of the answer, for a support ticket, or ``None``.
        advice: what to do about it.
        retryable: whether the same call may succeed if made again later (a class attribute).
    """

    retryable = False
    default_advice = "read the platform's message; quote the request_id to AliExpress support"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        request_id: str | None = None,
        advice: str | None = None,
    ) -> None:
        self.code = code
        self.type = type
        self.request_id = request_id
        self.advice = advice or self.default_advice
        context = ", ".join(
            f"{name} {value}"
            for name, value in (("code", code), ("type", type), ("request_id", request_id))
            if value is not None
        )
        super().__init__(f"{message}{f' ({context})' if context else ''}; {self.advice}")


class AccessTokenError(PlatformError):
    """The platform refused the store's access token: invalid, expired, revoked or replaced."""

    default_advice = (
        "refresh the token if its refresh token still works, else re-authorize the store"
    )


class RefreshTokenError(PlatformError):
    """The platform refused a refresh token: unknown, expired, revoked or replaced."""

    default_advice = "re-authorize the store: send the seller through the authorization link"


class AuthorizationCodeError(PlatformError):
    """The platform refused an authorization code: used already, expired, or another app's."""

    default_advice = (
        "a code works once, for 30 minutes, for the appKey it was issued to: send the seller "
        "through the authorization link again and exchange the new code at once"
    )


class SignatureError(PlatformError):
    """The platform found the request's signature wrong."""

    default_advice = (
        "check the appSecret; if it was reset recently, the old one stops working when the "
        "overlap ends"
    )


class AppNotAllowedError(PlatformError):
    """The app may not make this call (no permission, not approved, IP or call limits)."""

    default_advice = (
        "finish step 2 (the developer application) and wait for approval; make sure the app "
        "has this API's permission in the console"
    )


class PlatformUnavailableError(PlatformError):
    """The platform did not answer usefully in time: down, failing, or too slow. Retryable.

    Attributes:
        attempts: how many times the call was made before giving up, when known.
        status: the last HTTP status, when there was one.
    """

    retryable = True
    default_advice = (
        "the platform failed on its side: try again later; if it persists, contact AliExpress "
        "support with the request_id"
    )

    def __init__(
        self,
        message: str,
        *,
        attempts: int | None = None,
        status: int | None = None,
        **context: Any,
    ) -> None:
        self.attempts = attempts
        self.status = status
        super().__init__(message, **context)


class PlatformResponseError(PlatformError):
    """The platform's answer cannot be read: not JSON, not an object, a field missing or wrong.

    Attributes:
        field: the field that was missing or wrong (``"access_token"``), ``"$"`` for the whole
            answer, or ``None``. A token's value is never shown.
    """

    default_advice = (
        "the answer did not have the documented shape: try again later; if it persists, report "
        "it to AliExpress support with the request_id"
    )

    def __init__(self, message: str, *, field: str | None = None, **context: Any) -> None:
        self.field = field
        super().__init__(message, **context)
