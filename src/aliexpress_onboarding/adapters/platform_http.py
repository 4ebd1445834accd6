"""`HttpPlatformClient`: the `PlatformClient` port over HTTPS, with httpx (the ``[http]`` extra).

How the platform is called (AliExpress Open Platform, "Calling parameters", "Signature
algorithm" and "HTTP request sample" pages; the official ``iop`` SDK):

- System interfaces (authorization: ``/auth/token/create``, ``/auth/token/refresh``) are REST
  paths under ``<gateway>/rest``; business interfaces (``aliexpress.solution....``) are method
  names sent to ``<gateway>/sync`` as the ``method`` parameter, with ``format=json``.
- Every request carries the system parameters ``app_key``, ``timestamp`` (epoch milliseconds,
  within 7200 s of the platform's clock), ``sign_method=sha256`` and ``sign``; a call for a
  seller adds ``access_token`` as one more system parameter. The SDK's default is POST with the
  parameters form-encoded in the body, which keeps tokens out of URLs (and so out of access
  logs): this client always POSTs so.
- The platform answers failures with HTTP 200 and a body whose ``code`` is not ``"0"``.

httpx is imported when a client is made, never when this module is, so the rest of the library
works without it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self, cast
from urllib.parse import urlsplit

from .. import _json
from ..domain.values import AppKey, AppSecret, DeveloperType
from ..errors import (
    PlatformResponseError,
    PlatformUnavailableError,
    ValidationError,
)
from ..platform import (
    DEFAULT_TOKEN_LIFETIMES,
    AccessToken,
    RefreshToken,
    TokenGrant,
    parse_token_response,
    raise_for_error,
)
from ..ports import Clock
from ..signing import ParamValue, signed_params

__all__ = ["DEFAULT_GATEWAY", "HttpPlatformClient"]

DEFAULT_GATEWAY: Final = "https://api-sg.aliexpress.com"
"""The platform's gateway; ``/rest`` and ``/sync`` sit below it."""

_MAX_BODY: Final = 8 * 1024 * 1024  # a category tree is large; 8 MiB is far beyond any answer
_MAX_RETRIES: Final = 10
_MAX_CODE_LENGTH: Final = 256
# Parameters the client sets itself: a caller's value would be overwritten or would clash.
_SYSTEM: Final = frozenset({"app_key", "timestamp", "sign_method", "sign", "access_token"})
_METHOD_SYSTEM: Final = _SYSTEM | {"method", "format"}

_log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError(name, value, "must be a positive number of seconds")
    return float(value)


class HttpPlatformClient:
    """A `PlatformClient` for one app, speaking HTTPS to the platform's gateway with httpx.

    Every request is signed (`aliexpress_onboarding.signing.signed_params`) and POSTed
    form-encoded. A request that fails on the way (it cannot connect, it times out, or the
    gateway answers HTTP 5xx) is made again, signed afresh, up to ``retries`` more times with
    exponential back-off; a refusal (HTTP 4xx, or an error answer) is never repeated. A call
    never takes much longer than ``deadline`` in all, retries and back-off included.

    Neither the appSecret nor a token or code ever appears in a ``repr``, a log record or an
    error (the errors do not chain httpx's exceptions, whose requests hold them).

    Args:
        app_key: the app's appKey.
        app_secret: the app's appSecret.
        gateway: the gateway's base URL (``/rest`` and ``/sync`` are appended); the
            simulator's `url` in tests.
        timeout: seconds to wait for a connection, or for the next bytes of an answer.
        retries: how many times a failed request is made again (0 to 10).
        backoff: seconds before the first retry; each later one waits twice as long.
        deadline: seconds one call may take in all. The answer is read against it, so a
            server that trickles bytes overshoots it by at most ``timeout``.
        clock: the time used for the requests' ``timestamp`` and for token expiry (default:
            the system clock).
        developer_type: the app's developer type: when a token answer gives no expiry, the
            tokens live as `DEFAULT_TOKEN_LIFETIMES` says for it (without one, such an answer
            is refused).

    Raises:
        InvalidCredentialError: a malformed appKey or appSecret (the secret is never shown).
        ValidationError: a bad setting.
        ModuleNotFoundError: httpx is not installed (``pip install 'aliexpress-onboarding[http]'``).
    """

    def __init__(
        self,
        app_key: AppKey | str,
        app_secret: AppSecret | str,
        *,
        gateway: str = DEFAULT_GATEWAY,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        deadline: float = 30.0,
        clock: Clock | None = None,
        developer_type: DeveloperType | str | None = None,
    ) -> None:
        self._app_key = app_key if isinstance(app_key, AppKey) else AppKey(app_key)
        self._secret = app_secret if isinstance(app_secret, AppSecret) else AppSecret(app_secret)
        self._gateway = self._checked_gateway(gateway)
        self._timeout = _positive("timeout", timeout)
        if type(retries) is not int or not 0 <= retries <= _MAX_RETRIES:
            raise ValidationError(
                "retries", retries, f"must be a whole number from 0 to {_MAX_RETRIES}"
            )
        self._retries = retries
        if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 0:
            raise ValidationError("backoff", backoff, "must be a number of seconds from 0")
        self._backoff = float(backoff)
        self._deadline = _positive("deadline", deadline)
        self._now = clock.now if clock is not None else _utc_now
        self._default_lifetime = (
            None
            if developer_type is None
            else DEFAULT_TOKEN_LIFETIMES[DeveloperType.parse(developer_type)]
        )
        try:
            import httpx
        except ModuleNotFoundError as error:  # pragma: no cover - the extra is installed in tests
            raise ModuleNotFoundError(
                "HttpPlatformClient needs httpx: pip install 'aliexpress-onboarding[http]'",
                name="httpx",
            ) from error
        self._httpx = httpx
        self._client = httpx.Client(
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "aliexpress-onboarding"},
        )

    @staticmethod
    def _checked_gateway(gateway: object) -> str:
        rule = "must be an http:// or https:// URL with a host, and no query or fragment"
        if not isinstance(gateway, str) or not gateway.isprintable() or len(gateway) > 2000:
            raise ValidationError("gateway", gateway, rule)
        parts = urlsplit(gateway)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValidationError("gateway", gateway, rule)
        if parts.fragment or "@" in parts.netloc:  # no credentials in the URL either
            raise ValidationError("gateway", gateway, rule)
        return gateway.rstrip("/")

    def __repr__(self) -> str:
        return f"HttpPlatformClient(app_key={self._app_key.value!r}, gateway={self._gateway!r})"

    # ------------------------------------------------------------------ the port

    def create_token(self, code: str) -> TokenGrant:
        """Exchange an authorization code for a token grant (``/auth/token/create``).

        Args:
            code: the ``code`` of the seller's callback; it works once, for a short time.

        Returns:
            The grant, its expiry counted from the platform's answer.

        Raises:
            ValidationError: ``code`` is not 1 to 256 printable characters (never shown).
            AuthorizationCodeError: the platform refused the code (used, expired, another
                app's).
            SignatureError, AppNotAllowedError, PlatformError: other refusals.
            PlatformUnavailableError: no usable answer in time.
            PlatformResponseError: the answer is not a token grant (``.field`` says why).
        """
        if not isinstance(code, str) or not 0 < len(code) <= _MAX_CODE_LENGTH:
            raise ValidationError("code", None, "must be 1 to 256 characters", secret=True)
        if not code.isprintable():
            raise ValidationError("code", None, "must be printable characters", secret=True)
        answer = self._request("/auth/token/create", {"code": code}, secrets=(code,))
        return parse_token_response(
            answer, now=self._now(), default_lifetime=self._default_lifetime
        )

    def refresh_token(self, refresh_token: RefreshToken) -> TokenGrant:
        """Exchange a refresh token for a new grant (``/auth/token/refresh``).

        The platform keeps one valid token per seller and app: the new grant replaces the old
        one, whose access token stops working. Store the new grant before dropping the old.

        Raises:
            ValidationError: ``refresh_token`` is not a `RefreshToken`.
            RefreshTokenError: the platform refused it (unknown, expired, replaced): the
                store must be authorized again.
            SignatureError, AppNotAllowedError, PlatformError: other refusals.
            PlatformUnavailableError: no usable answer in time.
            PlatformResponseError: the answer is not a token grant.
        """
        if not isinstance(refresh_token, RefreshToken):
            raise ValidationError("refresh_token", None, "must be a RefreshToken", secret=True)
        value = refresh_token.reveal()
        answer = self._request("/auth/token/refresh", {"refresh_token": value}, secrets=(value,))
        return parse_token_response(
            answer, now=self._now(), default_lifetime=self._default_lifetime
        )

    def call(
        self,
        api: str,
        params: Mapping[str, object],
        *,
        access_token: AccessToken | None = None,
    ) -> Mapping[str, Any]:
        """Call an API and return the platform's answer.

        Args:
            api: a REST path (``/auth/token/create``), sent to ``<gateway>/rest<path>``, or a
                method name (``aliexpress.solution.seller.category.tree.query``), sent to
                ``<gateway>/sync``.
            params: the business parameters: text, ints and bools (``None`` and ``""`` are
                left out). The system parameters are the client's to set.
            access_token: the seller's token, for APIs that act for a seller.

        Returns:
            The answer, a JSON object whose ``code`` is ``"0"`` or absent.

        Raises:
            ValidationError: a parameter is of another type, or names a system parameter.
            AccessTokenError: the platform refused the access token (re-authorize or refresh).
            SignatureError, AppNotAllowedError, PlatformError: other refusals.
            PlatformUnavailableError: no usable answer in time (``.attempts``, ``.status``).
            PlatformResponseError: the answer is not a JSON object.
        """
        if not isinstance(params, Mapping):
            raise ValidationError("params", params, "must be a mapping of names to values")
        if not isinstance(api, str) or not api:
            raise ValidationError("api", api, "must be a REST path or a method name")
        reserved = _SYSTEM if api.startswith("/") else _METHOD_SYSTEM
        clash = sorted(name for name in params if name in reserved)
        if clash:
            raise ValidationError(
                "params", clash, "names system parameters, which the client sets itself"
            )
        if any(isinstance(value, bytes | bytearray | memoryview) for value in params.values()):
            raise ValidationError("params", None, "file uploads (bytes) are not supported")
        request = dict(params)
        secrets: tuple[str, ...] = ()
        if access_token is not None:
            if not isinstance(access_token, AccessToken):
                raise ValidationError("access_token", None, "must be an AccessToken", secret=True)
            request["access_token"] = access_token.reveal()
            secrets = (access_token.reveal(),)
        if not api.startswith("/"):
            request.update(method=api, format="json")
        return self._request(api, request, secrets=secrets)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the connections the client keeps open."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ the wire

    def _request(
        self, api: str, params: Mapping[str, object], *, secrets: tuple[str, ...]
    ) -> Mapping[str, Any]:
        """POST a signed request, retrying failures on the way; the answer's JSON object."""
        url = f"{self._gateway}/rest{api}" if api.startswith("/") else f"{self._gateway}/sync"
        end = time.monotonic() + self._deadline
        attempts = 0
        while True:
            attempts += 1
            form = signed_params(
                api,
                cast(Mapping[str, ParamValue], params),
                app_key=self._app_key,
                secret=self._secret,
                timestamp_ms=int(self._now().timestamp() * 1000),
            )
            status: int | None = None
            try:
                status, body = self._post(url, cast(dict[str, str], form), end)
            except self._httpx.TimeoutException as error:
                failure = f"timed out ({type(error).__name__})"
            except self._httpx.TransportError as error:
                failure = f"no answer ({type(error).__name__})"
            else:
                if status < 500:
                    return self._read(status, body, (*secrets, self._secret.reveal()))
                failure = f"HTTP {status}"
            delay = self._backoff * 2 ** (attempts - 1)
            left = end - time.monotonic()
            if attempts > self._retries or left <= delay:
                raise PlatformUnavailableError(
                    f"{api}: {failure} after {attempts} attempt(s)",
                    attempts=attempts,
                    status=status,
                ) from None  # httpx's exception holds the request, and so the secrets
            _log.warning(
                "%s: %s; attempt %d of %d, again in %.2f s",
                api,
                failure,
                attempts,
                self._retries + 1,
                delay,
            )
            time.sleep(delay)

    def _post(self, url: str, form: dict[str, str], end: float) -> tuple[int, bytes]:
        """One POST; the status and the body, read against the deadline ``end``."""
        left = end - time.monotonic()
        if left <= 0:
            raise self._httpx.TimeoutException("the call's deadline passed")
        timeout = self._httpx.Timeout(min(self._timeout, left))
        with self._client.stream("POST", url, data=form, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > _MAX_BODY:
                    raise PlatformResponseError(
                        f"the answer is larger than {_MAX_BODY} bytes", field="$"
                    )
                chunks.append(chunk)
                if time.monotonic() > end:
                    raise self._httpx.ReadTimeout("the call's deadline passed")
            return response.status_code, b"".join(chunks)

    @staticmethod
    def _read(status: int, body: bytes, secrets: tuple[str, ...]) -> Mapping[str, Any]:
        """The answer's JSON object; a platform error or an unreadable answer is raised."""
        try:
            document = _json.loads(body.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors too
            document = None
        if isinstance(document, dict):
            raise_for_error(document, mask=secrets)
            if status < 300:
                return document
        raise PlatformResponseError(
            f"the answer (HTTP {status}) is not a JSON object"
            if status < 300
            else f"the gateway answered HTTP {status}",
            field="$",
        )
