"""`PlatformSimulator`: a local AliExpress Open Platform for tests, yours and ours.

It serves, over real HTTP on 127.0.0.1 (standard library only):

- ``GET /oauth/authorize``: the seller's authorization page. It checks ``response_type=code``,
  the ``client_id`` (an appKey) and that ``redirect_uri`` equals the app's registered callback
  URL exactly, then redirects (302) to the callback with a fresh ``code`` and the ``state``
  given, or with ``error=access_denied`` after `deny_next_authorization`.
- ``POST /rest/auth/token/create`` (``code``) and ``POST /rest/auth/token/refresh``
  (``refresh_token``): token grants.
- ``POST /sync`` with ``method=aliexpress.solution.seller.category.tree.query``: one business
  API (``category_id``, ``filter_no_permission``), which needs a valid ``access_token``.

Every API request is checked like the platform does it: the system parameters, the appKey, the
``timestamp`` (at most 7200 s from the simulator's clock), the ``sign`` (computed with
`aliexpress_onboarding.signing`), then codes and tokens exactly. Answers have the platform's
shapes; a refusal is HTTP 200 with ``code``, ``type``, ``message`` and ``request_id``.

The platform's rules it models, and its own choices where the documents are silent:

- A code works once (even a refused attempt uses it up), for ``code_lifetime`` (30 minutes, the
  IOP reference's figure), for the app it was issued to.
- One valid token per seller and app: a new grant replaces the previous one. A grant by code
  stops the previous access and refresh tokens at once. A grant by refresh stops the previous
  access token at once, but the refresh token it was bought with keeps working until the new
  grant is first used (a call with its access token, or a refresh with its refresh token): a
  client that never got the answer (killed, cut off) refreshes again with the token it still
  has, and the unused grant is dropped. (Refresh-token rotation with reuse until confirmed; the
  platform's documents are silent on what happens to a lost answer.)
- Lifetimes follow the app's developer type (`DEFAULT_LIFETIMES`): a Self developer's token
  lasts a year, a Commercial developer's a month; the refresh token outlives it (the simulator's
  choice: by a month).
- Codes it answers with: ``MissingParameter``, ``IncompleteSignature``, ``InvalidCode``,
  ``IllegalAccessToken``, ``IllegalRefreshToken`` (documented), ``InvalidApiPath``,
  ``InvalidAppKey`` and ``InvalidParameter`` (seen in integrations; the simulator's pick for
  a bad timestamp or value).

Faults for tests: `fail_next` (HTTP 5xx), `delay_next` (a slow answer), `malform_next`
(broken JSON), `omit_next_token_field`. Everything is bounded: request bodies (64 KiB), delays
(60 s, and cut short by `stop`), the request log (the last 1000). `stop` shuts it down cleanly.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs

from .adapters.memory import SystemClock
from .domain.values import AppKey, AppSecret, DeveloperType
from .errors import ValidationError
from .ports import Clock
from .signing import sign_request

__all__ = ["DEFAULT_LIFETIMES", "PlatformSimulator", "TokenLifetimes"]


@attrs.frozen
class TokenLifetimes:
    """How long the simulator's tokens live.

    Attributes:
        access: the access token's lifetime.
        refresh: the refresh token's lifetime (longer).
    """

    access: timedelta
    refresh: timedelta


DEFAULT_LIFETIMES: Final[Mapping[DeveloperType, TokenLifetimes]] = {
    DeveloperType.SELF: TokenLifetimes(timedelta(days=365), timedelta(days=395)),
    DeveloperType.COMMERCIAL: TokenLifetimes(timedelta(days=30), timedelta(days=60)),
}
"""The platform's lifetimes by developer type: a year for Self, a month for Commercial."""

CATEGORY_TREE_API: Final = "aliexpress.solution.seller.category.tree.query"
"""The business API the simulator serves."""

_TOKEN_CREATE: Final = "/auth/token/create"
_TOKEN_REFRESH: Final = "/auth/token/refresh"
_MAX_BODY: Final = 64 * 1024
_MAX_FIELDS: Final = 100
_MAX_DELAY: Final = 60.0
_MAX_LOG: Final = 1000
_SKEW: Final = timedelta(seconds=7200)
# A small slice of the real tree (the API's documented example: 509 holds 5090301).
_CATEGORIES: Final[dict[int, list[tuple[int, bool, str]]]] = {
    0: [(509, False, "Phones & Telecommunications"), (44, False, "Consumer Electronics")],
    509: [(5090301, True, "Mobile Phones")],
}


@attrs.define
class _App:
    secret: AppSecret
    callback_url: str
    developer_type: DeveloperType


@attrs.frozen
class _Seller:
    seller_id: str
    account: str


@attrs.frozen
class _Code:
    app_key: str
    seller: _Seller
    expires_at: datetime


@attrs.frozen
class _Grant:
    app_key: str
    seller: _Seller
    access_token: str
    refresh_token: str
    expires_at: datetime
    refresh_expires_at: datetime


class _Refusal(Exception):  # noqa: N818 - a control-flow signal inside the handler, never raised out
    """An error answer: ``code``, ``message``, ``type``."""

    def __init__(self, code: str, message: str, kind: str = "ISV") -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.kind = kind


def _missing(name: str) -> _Refusal:
    return _Refusal(
        "MissingParameter",
        f"the input parameter “{name}” that is mandatory for processing this request "
        "is not supplied",
    )


class PlatformSimulator:
    """A local AliExpress Open Platform on 127.0.0.1, for tests (see the module's docstring).

    Use it as a context manager (or `start` and `stop`)::

        with PlatformSimulator(clock=clock) as platform:
            platform.register_app("12345678", secret, callback_url="https://example.com/cb")
            platform.add_seller("2000001")
            client = HttpPlatformClient("12345678", secret, gateway=platform.url, clock=clock)

    Args:
        clock: the simulator's time, for codes, tokens and timestamps (default: the system
            clock). Share it with the client to move time in tests.
        code_lifetime: how long an authorization code works.
        lifetimes: token lifetimes for each developer type.

    Raises:
        ValidationError: a non-positive ``code_lifetime``, or ``lifetimes`` missing a type.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        code_lifetime: timedelta = timedelta(minutes=30),
        lifetimes: Mapping[DeveloperType, TokenLifetimes] = DEFAULT_LIFETIMES,
    ) -> None:
        if not isinstance(code_lifetime, timedelta) or code_lifetime <= timedelta(0):
            raise ValidationError("code_lifetime", code_lifetime, "must be a positive timedelta")
        if set(lifetimes) != set(DeveloperType):
            raise ValidationError("lifetimes", lifetimes, "must give every developer type")
        self._clock = clock or SystemClock()
        self._code_lifetime = code_lifetime
        self._lifetimes = dict(lifetimes)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._apps: dict[str, _App] = {}
        self._sellers: dict[str, _Seller] = {}
        self._signed_in: _Seller | None = None
        self._deny_next = False
        self._codes: dict[str, _Code] = {}
        self._by_access: dict[str, _Grant] = {}
        self._by_refresh: dict[str, _Grant] = {}
        self._current: dict[tuple[str, str], _Grant] = {}
        # A grant bought by refresh and not used yet -> the grant whose refresh token bought it.
        self._unconfirmed: dict[str, _Grant] = {}
        self._fail: deque[int] = deque()
        self._delays: deque[float] = deque()
        self._malformed = 0
        self._omit: deque[tuple[str, ...]] = deque()
        self._received: deque[str] = deque(maxlen=_MAX_LOG)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ set-up

    def register_app(
        self,
        app_key: AppKey | str,
        app_secret: AppSecret | str,
        *,
        callback_url: str,
        developer_type: DeveloperType | str = DeveloperType.SELF,
    ) -> None:
        """Register an app: its appKey, appSecret, callback URL and developer type.

        Raises:
            InvalidCredentialError: a malformed appKey or appSecret.
            InvalidDeveloperTypeError: an unknown developer type.
            ValidationError: the callback URL is not an http(s) URL.
        """
        key = app_key if isinstance(app_key, AppKey) else AppKey(app_key)
        secret = app_secret if isinstance(app_secret, AppSecret) else AppSecret(app_secret)
        if not isinstance(callback_url, str) or urlsplit(callback_url).scheme not in (
            "http",
            "https",
        ):
            raise ValidationError("callback_url", callback_url, "must be an http(s) URL")
        with self._lock:
            self._apps[key.value] = _App(secret, callback_url, DeveloperType.parse(developer_type))

    def add_seller(self, seller_id: str, *, account: str | None = None) -> None:
        """Add a seller who can authorize apps; the first one added is signed in.

        Args:
            seller_id: the seller's id (also used as ``user_id``).
            account: the seller's login (default: ``seller-<id>@example.com``).
        """
        if not isinstance(seller_id, str) or not seller_id.isprintable() or not seller_id:
            raise ValidationError("seller_id", seller_id, "must be printable text")
        seller = _Seller(seller_id, account or f"seller-{seller_id}@example.com")
        with self._lock:
            self._sellers[seller_id] = seller
            if self._signed_in is None:
                self._signed_in = seller

    def sign_in(self, seller_id: str) -> None:
        """Make ``seller_id`` the seller at the browser: the next authorizations are theirs.

        Raises:
            ValidationError: no such seller was added.
        """
        with self._lock:
            if seller_id not in self._sellers:
                raise ValidationError("seller_id", seller_id, "was not added with add_seller")
            self._signed_in = self._sellers[seller_id]

    def deny_next_authorization(self) -> None:
        """The next authorization is refused by the seller: ``error=access_denied``."""
        with self._lock:
            self._deny_next = True

    def revoke(self, app_key: str, seller_id: str) -> None:
        """Revoke a seller's grant to an app (as the seller can, in the seller center)."""
        with self._lock:
            current = self._current.pop((app_key, seller_id), None)
            if current is not None:
                previous = self._unconfirmed.pop(current.access_token, None)
                if previous is not None:
                    self._by_refresh.pop(previous.refresh_token, None)
            self._drop(current)

    # ------------------------------------------------------------------ faults

    def fail_next(self, count: int = 1, *, status: int = 500) -> None:
        """The next ``count`` API requests answer HTTP ``status`` (a 5xx) with no JSON."""
        if type(status) is not int or not 500 <= status <= 599:
            raise ValidationError("status", status, "must be an HTTP 5xx status")
        with self._lock:
            self._fail.extend([status] * _count(count))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """The next ``count`` API requests are answered after ``seconds`` (at most 60)."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValidationError("seconds", seconds, "must be a number of seconds")
        if not 0 <= seconds <= _MAX_DELAY:
            raise ValidationError("seconds", seconds, f"must be 0 to {_MAX_DELAY:g} seconds")
        with self._lock:
            self._delays.extend([float(seconds)] * _count(count))

    def malform_next(self, count: int = 1) -> None:
        """The next ``count`` API requests are answered with text that is not JSON."""
        with self._lock:
            self._malformed += _count(count)

    def omit_next_token_field(self, field: str, *more: str) -> None:
        """The next token answer leaves ``field`` (and ``more``) out (e.g. ``"access_token"``)."""
        with self._lock:
            self._omit.append((field, *more))

    @property
    def received(self) -> list[str]:
        """The API of each API request received, oldest first (the last 1000)."""
        with self._lock:
            return list(self._received)

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """The simulator's base URL (``http://127.0.0.1:<port>``): the client's ``gateway``.

        Raises:
            ValidationError: the simulator is not running.
        """
        if self._server is None:
            raise ValidationError("simulator", None, "is not running: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def authorize_endpoint(self) -> str:
        """The URL of the simulator's authorization page (the platform's ``/oauth/authorize``)."""
        return f"{self.url}/oauth/authorize"

    def start(self) -> Self:
        """Start serving on a free port of 127.0.0.1, in a daemon thread."""
        if self._server is None:
            self._stopping.clear()
            self._server = _Server(("127.0.0.1", 0), _Handler)
            self._server.simulator = self
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="PlatformSimulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cutting delayed answers short; the port is released."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = "stopped" if self._server is None else self.url
        return f"PlatformSimulator({where}, apps={sorted(self._apps)})"

    # ------------------------------------------------------------------ the pages

    def _authorize(self, query: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        """The authorization page: a redirect to the callback, or a 400 page."""
        with self._lock:
            app = self._apps.get(query.get("client_id", ""))
            seller = self._signed_in
            problem = None
            if query.get("response_type") != "code":
                problem = "response_type must be 'code'"
            elif app is None:
                problem = "client_id is not a registered appKey"
            elif query.get("redirect_uri") != app.callback_url:
                problem = "redirect_uri is not the app's registered callback URL, exactly"
            elif seller is None:
                problem = "no seller is signed in"
            if problem is not None or app is None or seller is None:
                body = json.dumps({"error": "invalid_request", "error_description": problem})
                return HTTPStatus.BAD_REQUEST, {}, body.encode()
            answer: dict[str, str]
            if self._deny_next:
                self._deny_next = False
                answer = {"error": "access_denied", "error_description": "the seller refused"}
            else:
                code = f"3_{query['client_id']}_{secrets.token_urlsafe(24)}"
                expires_at = self._clock.now() + self._code_lifetime
                self._codes[code] = _Code(query["client_id"], seller, expires_at)
                answer = {"code": code}
            if "state" in query:
                answer["state"] = query["state"]
        separator = "&" if "?" in app.callback_url else "?"
        location = f"{app.callback_url}{separator}{urlencode(answer)}"
        return HTTPStatus.FOUND, {"Location": location}, b""

    def _api(self, api: str, params: dict[str, str]) -> Mapping[str, Any]:
        """Check and answer one API request; a refusal is raised as `_Refusal`."""
        for name in ("app_key", "timestamp", "sign_method", "sign"):
            if not params.get(name):
                raise _missing(name)
        with self._lock:
            app = self._apps.get(params["app_key"])
            now = self._clock.now()
        if app is None:
            raise _Refusal("InvalidAppKey", "the app_key is not a registered appKey")
        if params["sign_method"] != "sha256":
            raise _Refusal("InvalidParameter", "sign_method must be sha256")
        self._check_timestamp(params["timestamp"], now)
        try:
            expected = sign_request(api, params, app.secret)
        except ValidationError as error:
            raise _Refusal("InvalidParameter", str(error)) from None
        if not hmac.compare_digest(expected.encode(), params["sign"].encode()):
            raise _Refusal(
                "IncompleteSignature",
                "The request signature does not conform to platform standards",
            )
        with self._lock:
            if api == _TOKEN_CREATE:
                return self._create(params, app, now)
            if api == _TOKEN_REFRESH:
                return self._refresh(params, app, now)
            if api == CATEGORY_TREE_API:
                return self._categories(params, now)
        raise _Refusal("InvalidApiPath", f"the API {api[:100]!r} does not exist")

    @staticmethod
    def _check_timestamp(text: str, now: datetime) -> None:
        if not text.isascii() or not text.isdigit() or len(text) > 15:
            raise _Refusal("InvalidParameter", "timestamp must be epoch milliseconds")
        try:
            sent = datetime.fromtimestamp(int(text) / 1000, UTC)
        except (OverflowError, ValueError, OSError):
            sent = None
        if sent is None or abs(sent - now) > _SKEW:
            raise _Refusal(
                "InvalidParameter", "timestamp is more than 7200 s from the platform's time"
            )

    def _create(self, params: dict[str, str], app: _App, now: datetime) -> Mapping[str, Any]:
        if not params.get("code"):
            raise _missing("code")
        code = self._codes.pop(params["code"], None)  # single-use: a failed attempt uses it up
        if code is None or code.app_key != params["app_key"] or now >= code.expires_at:
            raise _Refusal("InvalidCode", "Invalid authorization code")
        return self._grant(code.app_key, code.seller, app, now)

    def _refresh(self, params: dict[str, str], app: _App, now: datetime) -> Mapping[str, Any]:
        if not params.get("refresh_token"):
            raise _missing("refresh_token")
        grant = self._by_refresh.get(params["refresh_token"])
        if grant is None or grant.app_key != params["app_key"] or now >= grant.refresh_expires_at:
            raise _Refusal(
                "IllegalRefreshToken", "The specified refresh token is invalid or expired"
            )
        self._confirm(grant)
        return self._grant(grant.app_key, grant.seller, app, now, bought_with=grant)

    def _confirm(self, grant: _Grant) -> None:
        """The client used ``grant``: the refresh token that bought it stops working."""
        previous = self._unconfirmed.pop(grant.access_token, None)
        if previous is not None:
            self._by_refresh.pop(previous.refresh_token, None)

    def _grant(
        self,
        app_key: str,
        seller: _Seller,
        app: _App,
        now: datetime,
        bought_with: _Grant | None = None,
    ) -> Mapping[str, Any]:
        lifetimes = self._lifetimes[app.developer_type]
        grant = _Grant(
            app_key,
            seller,
            f"50000{secrets.token_urlsafe(40)}",
            f"50001{secrets.token_urlsafe(40)}",
            now + lifetimes.access,
            now + lifetimes.refresh,
        )
        current = self._current.get((app_key, seller.seller_id))
        if current is not None:  # one valid token per seller
            previous = self._unconfirmed.pop(current.access_token, None)
            if current is bought_with:  # rotation: its refresh token works until this is used
                self._by_access.pop(current.access_token, None)
                self._unconfirmed[grant.access_token] = current
            else:
                self._drop(current)
                if bought_with is not None and bought_with is previous:
                    # the unused grant's answer was lost: the refresh token that bought it again
                    # keeps working until this one is used
                    self._unconfirmed[grant.access_token] = bought_with
                elif previous is not None:
                    self._by_refresh.pop(previous.refresh_token, None)
        self._current[(app_key, seller.seller_id)] = grant
        self._by_access[grant.access_token] = grant
        self._by_refresh[grant.refresh_token] = grant
        answer: dict[str, Any] = {
            "access_token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "expires_in": int(lifetimes.access.total_seconds()),
            "refresh_expires_in": int(lifetimes.refresh.total_seconds()),
            "expire_time": int(grant.expires_at.timestamp() * 1000),
            "refresh_token_valid_time": int(grant.refresh_expires_at.timestamp() * 1000),
            "seller_id": seller.seller_id,
            "user_id": seller.seller_id,
            "account": seller.account,
            "havana_id": f"havana-{seller.seller_id}",
            "account_platform": "seller_center",
            "sp": "ae",
            "code": "0",
        }
        if self._omit:
            for field in self._omit.popleft():
                answer.pop(field, None)
        return answer

    def _drop(self, grant: _Grant | None) -> None:
        if grant is not None:
            self._by_access.pop(grant.access_token, None)
            self._by_refresh.pop(grant.refresh_token, None)

    def _categories(self, params: dict[str, str], now: datetime) -> Mapping[str, Any]:
        if not params.get("access_token"):
            raise _missing("access_token")
        grant = self._by_access.get(params["access_token"])
        if grant is None or grant.app_key != params["app_key"] or now >= grant.expires_at:
            raise _Refusal("IllegalAccessToken", "The specified access token is invalid or expired")
        self._confirm(grant)
        for name in ("category_id", "filter_no_permission"):
            if not params.get(name):
                raise _missing(name)
        if not params["category_id"].isdigit() or len(params["category_id"]) > 18:
            raise _Refusal("InvalidParameter", "category_id must be a number")
        if params["filter_no_permission"] not in ("true", "false"):
            raise _Refusal("InvalidParameter", "filter_no_permission must be true or false")
        children = _CATEGORIES.get(int(params["category_id"]), [])
        level = 1 if params["category_id"] == "0" else 2
        return {
            "aliexpress_solution_seller_category_tree_query_response": {
                "children_category_list": {
                    "category_info": [
                        {
                            "children_category_id": child,
                            "is_leaf_category": leaf,
                            "level": level,
                            "multi_language_names": json.dumps({"en": name}),
                        }
                        for child, leaf, name in children
                    ]
                },
                "is_success": True,
            },
            "code": "0",
        }

    # ------------------------------------------------------------------ faults, then answers

    def _serve_api(self, api: str, params: dict[str, str]) -> tuple[int, bytes]:
        """The status and body for an API request, faults first."""
        with self._lock:
            self._received.append(api)
            delay = self._delays.popleft() if self._delays else 0.0
            failure = self._fail.popleft() if self._fail else None
            malformed = self._malformed > 0
            if malformed:
                self._malformed -= 1
        if delay and self._stopping.wait(delay):
            return HTTPStatus.SERVICE_UNAVAILABLE, b"stopping"
        if failure is not None:
            return failure, b"<html><body>Service Unavailable</body></html>"
        if malformed:
            return HTTPStatus.OK, b'{"code": "0", "access_token": '
        try:
            if not api:
                raise _missing("method")
            answer = dict(self._api(api, params))
        except _Refusal as refusal:
            answer = {"type": refusal.kind, "code": refusal.code, "message": refusal.message}
        answer["request_id"] = secrets.token_hex(12)
        return HTTPStatus.OK, json.dumps(answer).encode()


def _count(count: object) -> int:
    if type(count) is not int or not 1 <= count <= _MAX_LOG:
        raise ValidationError("count", count, f"must be a whole number from 1 to {_MAX_LOG}")
    return count


class _Server(ThreadingHTTPServer):  # its handler threads are daemons: none outlives a test
    simulator: PlatformSimulator


class _Handler(BaseHTTPRequestHandler):
    """One HTTP exchange: the simulator's pages and APIs, everything else a 404."""

    server: _Server
    timeout = 10  # a client that stops sending mid-request frees its thread
    server_version = "PlatformSimulator"

    def do_GET(self) -> None:
        """The authorization page, or an API called with its parameters in the query."""
        self._dispatch(b"")

    def do_POST(self) -> None:
        """An API call, its parameters form-encoded in the body."""
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._send(HTTPStatus.LENGTH_REQUIRED, {}, b"Content-Length required")
            return
        if int(length) > _MAX_BODY:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {}, b"request body too large")
            return
        self._dispatch(self.rfile.read(int(length)))

    def _dispatch(self, body: bytes) -> None:
        simulator = self.server.simulator
        target = urlsplit(self.path)
        try:
            params = _params(target.query, body)
        except ValueError as error:
            self._send(HTTPStatus.BAD_REQUEST, {}, str(error).encode())
            return
        if target.path == "/oauth/authorize" and self.command == "GET":
            self._send(*simulator._authorize(params))
            return
        if target.path.startswith("/rest/"):
            api = target.path.removeprefix("/rest")
        elif target.path == "/sync":
            api = params.get("method", "")
        else:
            self._send(HTTPStatus.NOT_FOUND, {}, b"not found")
            return
        status, answer = simulator._serve_api(api, params)
        self._send(status, {"Content-Type": "application/json;charset=UTF-8"}, answer)

    def _send(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `PlatformSimulator.received`, not stderr."""


def _params(query: str, body: bytes) -> dict[str, str]:
    """The request's parameters, from the query and the form body; a name twice is refused."""
    pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    pairs += parse_qsl(
        body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS, errors="strict"
    )
    params = dict(pairs)
    if len(params) < len(pairs):
        raise ValueError("a parameter is given twice")
    return params
