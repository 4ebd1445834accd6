"""OAuth authorization, pure: the callback URL, the authorize URL, the request and its callback.

A seller authorizes an app in the browser (DESIGN.md, "After the appKey"): the service sends
the browser to `authorize_url`; the platform redirects it back to the app's registered
`CallbackUrl` with ``code`` and ``state``; `AuthorizationRequest.check_callback` decides
whether that callback completes the request, and `AuthorizationRequest.used` marks it done.

The ``state`` and the ``code`` are bearer secrets. The request keeps only the state's SHA-256
digest (`AuthorizationRequest.state_digest`): the raw state exists in the authorize URL and in
the callback, never in a stored record. A store looks a request up by the digest of the
callback's state (`callback_state_digest`). Neither secret appears in a ``repr``, an error
message or an error's attributes.

Every URL is read by hand, in one pass, with bounded sizes: `urllib.parse` accepts much that a
browser rewrites (``HTTPS://``, ``:443``, ``127.1``, ``/a/../b``, a backslash, a tab), and a
callback must match the registered redirect URI character for character, so a callback URL
that a browser would rewrite could never be matched. Such URLs are refused when registered.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import string
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple
from urllib.parse import parse_qsl, quote, urlencode

import attrs

from ..errors import (
    AuthorizationDeniedError,
    AuthorizationExpiredError,
    CallbackMismatchError,
    InvalidCallbackError,
    InvalidCallbackUrlError,
    InvalidDateTimeError,
    InvalidStateError,
    StateReusedError,
    ValidationError,
    safe_repr,
)
from .values import AppKey, aware, check_text, optional_aware, require_aware, text_field

__all__ = [
    "AuthorizationRequest",
    "CallbackUrl",
    "authorize_url",
    "callback_state_digest",
    "new_state",
]

AUTHORIZE_URL: Final = "https://api-sg.aliexpress.com/oauth/authorize"
"""The platform's authorization page (the default ``base`` of `authorize_url`)."""
AUTHORIZATION_LIFETIME: Final = timedelta(minutes=10)
"""How long an authorization request waits for its callback, by default."""
MAX_AUTHORIZATION_LIFETIME: Final = timedelta(hours=1)
"""The longest lifetime a request may be given: a state is short-lived."""
CALLBACK_URL_MAX_LENGTH: Final = 2048
CALLBACK_MAX_LENGTH: Final = 8192
STATE_MIN_LENGTH: Final = 22  # secrets.token_urlsafe(16): 22 characters of 6 bits, >= 128 bits
STATE_MAX_LENGTH: Final = 256
_STATE_BYTES: Final = 32
_MAX_PARAMETERS: Final = 64

# --------------------------------------------------------------------------- URLs

_PORTS: Final = {"https": 443, "http": 80}
_HEX: Final = frozenset(string.hexdigits)
_DIGITS: Final = frozenset(string.digits)
# RFC 3986 pchar and "/": what a browser leaves alone in a path (no percent-encoding added).
_PATH_CHARS: Final = frozenset(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%")
_LABEL_CHARS: Final = frozenset(string.ascii_lowercase + string.digits + "-")
_DOT_SEGMENTS: Final = frozenset({".", "..", "%2e", ".%2e", "%2e.", "%2e%2e"})
_IPV6_LOOPBACK: Final = ipaddress.IPv6Address("::1")
_HOST_RULE: Final = (
    "the host must be a name of dot-separated labels (1 to 63 lower-case ASCII letters, digits "
    "or '-', not first or last; an internationalised name in its IDNA form 'xn--...'), an IPv4 "
    "address in dotted decimal, or an IPv6 address in brackets in its compressed form ([::1])"
)


def _url_problem(value: object) -> str | None:
    """The first rule ``value`` breaks as a URL a browser is sent to and comes back from, or None.

    One pass over at most 2048 characters; nothing a browser would rewrite is accepted.
    """
    if not isinstance(value, str):
        return "must be text"
    if not 1 <= len(value) <= CALLBACK_URL_MAX_LENGTH:
        return f"must be 1 to {CALLBACK_URL_MAX_LENGTH} characters"
    if not value.isascii():
        return "must be ASCII: write an internationalised host in its IDNA form ('xn--...')"
    scheme, separator, rest = value.partition("://")
    if not separator or scheme not in _PORTS:
        return "must start with 'https://' (or 'http://' for a loopback host), in lower case"
    if "#" in value:
        return "must have no fragment ('#...')"
    if "?" in value:
        return "must have no query ('?...'): the platform appends '?code=...&state=...'"
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        return "must have no user name or password ('user:pass@')"
    if not slash:
        return "must have a path after the host, at least '/' (a browser would add it)"
    host, port = _split_port(authority)
    loopback = _is_loopback(host)
    if loopback is None:
        return _HOST_RULE
    if port is not None and (problem := _port_problem(port, _PORTS[scheme])) is not None:
        return problem
    if scheme == "http" and not loopback:
        return "must use https; http is allowed only for 127.0.0.0/8, [::1] or localhost"
    return _path_problem(path)


def _split_port(authority: str) -> tuple[str, str | None]:
    """The host and the text after its ``:`` (``None`` without one); IPv6 keeps its brackets."""
    if authority.startswith("["):
        end = authority.find("]") + 1  # 0 when unclosed: the host check refuses "" then
        host, after = authority[:end], authority[end:]
        if after and not after.startswith(":"):
            return "", None
        return host, (after[1:] if after else None)
    host, colon, port = authority.partition(":")
    return host, (port if colon else None)


def _is_loopback(host: str) -> bool | None:
    """Whether ``host`` is a loopback host, or None when it is not written as a browser keeps it."""
    if host.startswith("[") and host.endswith("]"):
        try:
            ipv6 = ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
        # A zone id is local to one machine; the compressed lower-case form is what browsers show.
        if ipv6.scope_id is not None or str(ipv6) != host[1:-1]:
            return None
        return ipv6 == _IPV6_LOOPBACK
    if not 1 <= len(host) <= 253:
        return None
    labels = host.split(".")
    last = labels[-1]
    if last and (_DIGITS.issuperset(last) or last.startswith("0x")):
        # A browser reads a host ending in a number as IPv4, and rewrites 127.1 or 0x7f.0.0.1:
        # accept only the dotted decimal it writes (ipaddress refuses leading zeros).
        try:
            return ipaddress.IPv4Address(host).is_loopback
        except ValueError:
            return None
    for label in labels:
        if not 1 <= len(label) <= 63 or not _LABEL_CHARS.issuperset(label):
            return None
        if label.startswith("-") or label.endswith("-"):
            return None
    return host == "localhost"


def _port_problem(port: str, default: int) -> str | None:
    if (
        not 1 <= len(port) <= 5
        or not _DIGITS.issuperset(port)
        or port.startswith("0")
        or int(port) > 65535
    ):
        return "the port must be a number from 1 to 65535, without leading zeros"
    if int(port) == default:
        return f"must leave out the scheme's default port :{default} (a browser drops it)"
    return None


def _path_problem(path: str) -> str | None:
    """``path`` is what follows the host's ``/``."""
    for index, character in enumerate(path):
        if character not in _PATH_CHARS:
            return f"the path must not contain {character!r}: percent-encode it"
        if character == "%":
            escape = path[index + 1 : index + 3]
            if len(escape) != 2 or not _HEX.issuperset(escape):
                return "in the path, '%' must start a percent-encoded byte such as '%2F'"
    if any(segment.lower() in _DOT_SEGMENTS for segment in path.split("/")):
        return "the path must have no '.' or '..' segment (a browser removes them)"
    return None


def _check_callback_url(_: object, __: object, value: Any) -> None:
    problem = _url_problem(value)
    if problem is not None:
        raise InvalidCallbackUrlError("callback_url", value, problem)


@attrs.frozen
class CallbackUrl:
    """An app's registered callback (redirect) URL: the platform sends the seller back to it.

    The text is kept exactly as given, and compared by character: ``redirect_uri`` must equal
    the registered URL exactly, so one character, a trailing slash or the case of the path makes
    another URL. Only URLs a browser keeps unchanged are accepted, so that the callback the
    browser brings back can match:

    - ``https://``, or ``http://`` for a loopback host (127.0.0.0/8, ``[::1]``, ``localhost``);
      the scheme and the host in lower case;
    - a host name (ASCII: an internationalised one in its IDNA form, ``xn--...``: the library
      does not convert, which would change the text), a dotted-decimal IPv4 address or a
      compressed IPv6 address in brackets; no ``user:password@``;
    - an optional port, 1 to 65535, never the scheme's default (443, 80);
    - a path of at least ``/``, of RFC 3986 path characters and valid percent-escapes, with no
      ``.`` or ``..`` segment;
    - no query (the platform appends ``?code=...&state=...``) and no fragment;
    - at most 2048 characters.

    Raises:
        InvalidCallbackUrlError: naming the rule broken.
    """

    value: str = attrs.field(validator=_check_callback_url)

    def __str__(self) -> str:
        return self.value


def _callback_url(value: CallbackUrl | str) -> CallbackUrl:
    return value if isinstance(value, CallbackUrl) else CallbackUrl(value)


# --------------------------------------------------------------------------- state


def new_state() -> str:
    """A fresh state for an authorization request: 256 random bits from `secrets`.

    Returns:
        43 characters of ``secrets.token_urlsafe`` (A-Z, a-z, 0-9, ``-``, ``_``).
    """
    return secrets.token_urlsafe(_STATE_BYTES)


_STATE_CHARS: Final = frozenset(string.ascii_letters + string.digits + "-_")
_LOWER_HEX: Final = frozenset("0123456789abcdef")


def _check_state(state: object) -> str:
    if (
        not isinstance(state, str)
        or not STATE_MIN_LENGTH <= len(state) <= STATE_MAX_LENGTH
        or not _STATE_CHARS.issuperset(state)
    ):
        raise ValidationError(
            "state",
            None,
            f"must be {STATE_MIN_LENGTH} to {STATE_MAX_LENGTH} characters of "
            "secrets.token_urlsafe (at least 128 random bits); use new_state()",
            secret=True,
        )
    return state


def _digest(state: str) -> str:
    # Unkeyed SHA-256 suffices: a state has >= 128 random bits, so its digest cannot be inverted.
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


def _check_digest(_: object, __: object, value: Any) -> None:
    if not isinstance(value, str) or len(value) != 64 or not _LOWER_HEX.issuperset(value):
        raise ValidationError("state_digest", value, "must be 64 lower-case hexadecimal digits")


# --------------------------------------------------------------------------- the authorize URL


def authorize_url(
    app_key: AppKey | str,
    callback: CallbackUrl | str,
    state: str,
    *,
    base: str = AUTHORIZE_URL,
    uuid: str | None = None,
) -> str:
    """The platform's authorization page for one seller, to send its browser to.

    ``base?response_type=code&force_auth=true&redirect_uri=<callback>&client_id=<appKey>
    &state=<state>[&uuid=<uuid>]``, each value percent-encoded (``/`` and ``:`` too).

    Args:
        app_key: the app's appKey (``client_id``).
        callback: the app's registered callback URL (``redirect_uri``).
        state: the request's state, from `new_state`.
        base: the authorization endpoint (another one for a simulator), under the rules of a
            `CallbackUrl`.
        uuid: the platform's optional ``uuid`` parameter, 1 to 128 printable characters.

    Returns:
        The URL.

    Raises:
        InvalidCredentialError: ``app_key`` is not an appKey.
        InvalidCallbackUrlError: ``callback`` or ``base`` is refused.
        ValidationError: ``state`` is not one `new_state` could make (never shown), or
            ``uuid`` is not 1 to 128 printable characters.
    """
    key = app_key if isinstance(app_key, AppKey) else AppKey(app_key)
    redirect = _callback_url(callback)
    problem = _url_problem(base)
    if problem is not None:
        raise InvalidCallbackUrlError("base", base, problem)
    parameters = [
        ("response_type", "code"),
        ("force_auth", "true"),
        ("redirect_uri", redirect.value),
        ("client_id", key.value),
        ("state", _check_state(state)),
    ]
    if uuid is not None:
        parameters.append(("uuid", check_text("uuid", uuid, max_length=128)))
    return f"{base}?{urlencode(parameters, quote_via=quote)}"


# --------------------------------------------------------------------------- the callback

_READ: Final = frozenset({"code", "state", "error", "error_description"})


class _Callback(NamedTuple):
    """What a callback URL carries. Private: ``state`` and ``code`` are secrets."""

    redirect: str
    parameters: dict[str, str]


def _read_callback(callback_url: object) -> _Callback:
    """Split a callback URL into its part before ``?`` and the parameters this module reads.

    Raises:
        InvalidCallbackError: not text, over 8192 characters, a fragment, an undecodable query
            or more than 64 parameters, or ``code``, ``state``, ``error`` or
            ``error_description`` given twice.
    """
    if not isinstance(callback_url, str):
        raise InvalidCallbackError("callback_url", "must be text")
    if len(callback_url) > CALLBACK_MAX_LENGTH:
        raise InvalidCallbackError(
            "callback_url",
            f"must be at most {CALLBACK_MAX_LENGTH} characters, has {len(callback_url)}",
        )
    if "#" in callback_url:
        raise InvalidCallbackError("callback_url", "must have no fragment ('#...')")
    redirect, _, query = callback_url.partition("?")
    pairs = _query_pairs(query)
    if pairs is None:
        # Raised outside the except clause: the decoding error would hold the query's bytes.
        raise InvalidCallbackError(
            "callback_url",
            f"the query must be at most {_MAX_PARAMETERS} parameters of percent-encoded UTF-8",
        )
    parameters: dict[str, str] = {}
    for name, value in pairs:
        if name in _READ:
            if name in parameters:
                raise InvalidCallbackError(name, "must appear at most once")
            parameters[name] = value
    return _Callback(redirect, parameters)


def _query_pairs(query: str) -> list[tuple[str, str]] | None:
    try:
        return parse_qsl(
            query, keep_blank_values=True, errors="strict", max_num_fields=_MAX_PARAMETERS
        )
    except ValueError:  # UnicodeDecodeError, or too many fields
        return None


def _state_of(callback: _Callback) -> str:
    state = callback.parameters.get("state")
    if not state:
        raise InvalidStateError("missing", "the callback carries no state")
    return state


def callback_state_digest(callback_url: str) -> str:
    """The digest of a callback's state: the key to look its `AuthorizationRequest` up by.

    Nothing is checked beyond what reading needs; `AuthorizationRequest.check_callback` does
    the checking.

    Args:
        callback_url: the URL the platform redirected the browser to.

    Returns:
        The state's SHA-256 digest, as `AuthorizationRequest.state_digest` holds it.

    Raises:
        InvalidCallbackError: the URL is malformed (see `AuthorizationRequest.check_callback`).
        InvalidStateError: the URL carries no state (``reason == "missing"``).
    """
    return _digest(_state_of(_read_callback(callback_url)))


# --------------------------------------------------------------------------- the request


@attrs.frozen
class AuthorizationRequest:
    """A seller's pending authorization of an app: a single-use, short-lived state.

    Start one with `AuthorizationRequest.start`, send the browser to `authorize_url` with the
    same state, and check the platform's redirect with `check_callback`. The raw state is not
    kept, only its digest: a stored request is no bearer secret.

    Attributes:
        state_digest: SHA-256 (hex) of the state; what a store looks the request up by.
        app_id: the app being authorized.
        actor_id: the seller who started the authorization.
        redirect_uri: the app's registered callback URL, as sent in the authorize URL.
        created_at: when the request was started.
        expires_at: when it stops accepting a callback; after ``created_at``, by at most
            `MAX_AUTHORIZATION_LIFETIME` (1 hour).
        used_at: when a callback completed it, or ``None``.

    Raises:
        ValidationError: a field is malformed (`InvalidCallbackUrlError` for ``redirect_uri``,
            `InvalidDateTimeError` for a timestamp).
    """

    state_digest: str = attrs.field(validator=_check_digest)
    app_id: str = attrs.field(validator=text_field(128))
    actor_id: str = attrs.field(validator=text_field(128))
    redirect_uri: CallbackUrl = attrs.field(converter=_callback_url)
    created_at: datetime = attrs.field(validator=aware)
    expires_at: datetime = attrs.field(validator=aware)
    used_at: datetime | None = attrs.field(default=None, validator=optional_aware)

    def __attrs_post_init__(self) -> None:
        if not timedelta(0) < self.expires_at - self.created_at <= MAX_AUTHORIZATION_LIFETIME:
            raise ValidationError(
                "expires_at",
                self.expires_at,
                "must be after created_at, by at most 1 hour: a state is short-lived",
            )
        if self.used_at is not None and self.used_at < self.created_at:
            raise ValidationError("used_at", self.used_at, "must not be before created_at")

    @classmethod
    def start(
        cls,
        state: str,
        *,
        app_id: str,
        actor_id: str,
        redirect_uri: CallbackUrl | str,
        now: datetime,
        lifetime: timedelta = AUTHORIZATION_LIFETIME,
    ) -> AuthorizationRequest:
        """A new request, waiting for its callback until ``now + lifetime``.

        Args:
            state: a fresh state from `new_state` (kept only as its digest).
            app_id: the app being authorized.
            actor_id: the seller starting the authorization.
            redirect_uri: the app's registered callback URL.
            now: the current time (timezone-aware).
            lifetime: how long the callback may take: 10 minutes unless given, at most 1 hour.

        Returns:
            The request, not yet used.

        Raises:
            ValidationError: ``state`` is not one `new_state` could make (never shown), or
                ``lifetime`` is not a `timedelta` of more than 0 and at most 1 hour.
            InvalidCallbackUrlError: ``redirect_uri`` is refused.
            InvalidDateTimeError: ``now`` is naive, not a datetime, or within ``lifetime`` of
                the end of year 9999.
        """
        digest = _digest(_check_state(state))
        now = require_aware("now", now)
        if not isinstance(lifetime, timedelta):
            raise ValidationError("lifetime", lifetime, "must be a datetime.timedelta")
        try:
            expires_at = now + lifetime
        except OverflowError:
            raise InvalidDateTimeError("now", now, "is too close to the year 9999") from None
        return cls(digest, app_id, actor_id, redirect_uri, now, expires_at)

    def check_callback(self, callback_url: str, *, app_id: str, now: datetime) -> str:
        """The authorization code, if the platform's redirect completes this request.

        Checks, in this order (the first failure is raised, and nothing changes): the URL is
        well formed; before its ``?`` it equals `redirect_uri` exactly; it carries this
        request's state (compared in constant time); for ``app_id``; the request is unused and
        unexpired; there is no ``error`` parameter; there is a ``code``. Call `used` next.

        Args:
            callback_url: the URL the platform redirected the browser to (with its query).
            app_id: the app whose callback endpoint received it.
            now: the current time (timezone-aware).

        Returns:
            The ``code`` parameter (a secret: exchange it for a token, never log it).

        Raises:
            InvalidCallbackError: over 8192 characters, a fragment, an undecodable query,
                ``code``, ``state``, ``error`` or ``error_description`` given twice, or no
                (or an empty or unprintable) ``code``.
            CallbackMismatchError: the URL is not the registered redirect URI.
            InvalidStateError: the state is missing, foreign, or this one for another app.
            StateReusedError: the request was completed already.
            AuthorizationExpiredError: ``now`` is at or after `expires_at`.
            AuthorizationDeniedError: the platform sent ``error`` (the seller refused, ...).
            InvalidDateTimeError: ``now`` is naive or not a datetime.
        """
        now = require_aware("now", now)
        callback = _read_callback(callback_url)
        if callback.redirect != self.redirect_uri.value:
            raise CallbackMismatchError(self.redirect_uri.value, callback.redirect)
        if not hmac.compare_digest(_digest(_state_of(callback)), self.state_digest):
            raise InvalidStateError("foreign", "the state does not match this request")
        if app_id != self.app_id:
            raise InvalidStateError(
                "other_app",
                f"the state was issued for app {safe_repr(self.app_id)}, not {safe_repr(app_id)}",
            )
        if self.used_at is not None:
            raise StateReusedError(self.used_at)
        if now >= self.expires_at:
            raise AuthorizationExpiredError(self.expires_at, now)
        parameters = callback.parameters
        if "error" in parameters:  # even an empty one: fail closed
            raise AuthorizationDeniedError(parameters["error"], parameters.get("error_description"))
        code = parameters.get("code", "")
        if not code or not code.isprintable():
            raise InvalidCallbackError("code", "must be present, not empty, and printable")
        return code

    def used(self, now: datetime) -> AuthorizationRequest:
        """This request, completed at ``now``: its state will not be accepted again.

        Args:
            now: the current time (timezone-aware).

        Returns:
            A copy with ``used_at`` set.

        Raises:
            StateReusedError: the request was completed already.
            InvalidDateTimeError: ``now`` is naive or not a datetime.
            ValidationError: ``now`` is before `created_at`.
        """
        now = require_aware("now", now)
        if self.used_at is not None:
            raise StateReusedError(self.used_at)
        return attrs.evolve(self, used_at=now)
