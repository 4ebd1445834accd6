"""Embed the onboarding in a web service: a small JSON API for any WSGI server.

    POST /accounts                       open, accept the agreement, fill in the profile: active
    GET  /accounts/<id>                  the account with its applications and apps
    GET  /sellers/<seller id>/account    a seller's account (find your account id)
    POST /accounts/<id>/verification     a reviewer records the verified enterprise and stores
    POST /accounts/<id>/apps             create an app: the one response that shows its appSecret
    GET  /apps/<id>                      the app, never its appSecret
    GET  /apps/<id>/authorizations       the stores that authorize it (?limit=100&after=<store>)
    POST /applications                   apply (the licence file as a base64 JSON field)
    POST /applications/<id>/approve      a reviewer approves
    GET  /applications/<id>              the application's status
    GET  /reviews                        a reviewer's queue: under review or escalated, oldest first
    GET  /reviews/overdue                the part of it past the review deadline

Every GET reads through the service's queries with the caller as the actor: a seller sees its
own account, applications and apps, a reviewer everything. A seller asking for an id that is not
its own gets the same 403 whether or not the id exists; a reviewer gets 404 for an unknown id.

Errors map to HTTP codes with a JSON body ``{"error": <type>, "message": <text>}``: a
`ValidationError` is 400, `PermissionDeniedError` 403, `NotFoundError` 404, and
`TransitionNotAllowedError`, `RuleViolationError` (`NotEligibleError` too) and
`ConcurrencyConflictError` 409. Anything else is a 500 that tells nothing about its cause.
A missing ``X-Actor`` is a 401, an unknown path a 404, a known path with another method a 405
(with ``Allow``), a body over 4 MiB a 413.

Deploy: a WSGI server runs the module-level ``application``, configured from the environment,
and one dispatcher process e-mails the notifications the requests leave in the outbox:

    ONBOARDING_URL   the store: sqlite:///PATH or postgresql://... (default memory://, which
                     keeps nothing and reaches nobody: for trying the API only)
    ONBOARDING_KEYS  the key file that seals appSecrets (`aliexpress-onboarding keys new PATH`);
                     required with a SQLite or PostgreSQL store

    export ONBOARDING_URL=sqlite:////srv/onboarding/onboarding.db
    export ONBOARDING_KEYS=/srv/onboarding/onboarding.keys
    waitress-serve --listen=127.0.0.1:8000 embed_in_wsgi:application   # or gunicorn, uWSGI...
    aliexpress-onboarding dispatch    # with ONBOARDING_SMTP_HOST, _FROM... (see its --help)

The web processes never dispatch (``auto_dispatch=False``): a request does not wait for a mail
server, and the events are delivered by the one process that has the real notifier. The web
application creates a SQLite file on its first start; the dispatcher only opens it.

Run locally: python examples/embed_in_wsgi.py [PORT]   (wsgiref on http://127.0.0.1:8000)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from aliexpress_onboarding import (
    Actor,
    Applicant,
    ConcurrencyConflictError,
    DeveloperAccount,
    DeveloperApplication,
    DeveloperProfile,
    DocumentKind,
    EmailAddress,
    LicenseDocument,
    NotFoundError,
    OnboardingError,
    OnboardingService,
    PermissionDeniedError,
    RuleViolationError,
    TransitionNotAllowedError,
    ValidationError,
)
from aliexpress_onboarding.sealing import Keyring
from aliexpress_onboarding.views import AppView

logger = logging.getLogger("embed_in_wsgi")

MAX_BODY = 4 * 1024 * 1024  # a 2 MiB licence is about 2.7 MiB of base64
HTTP_STATUS: tuple[tuple[type[OnboardingError] | tuple[type[OnboardingError], ...], str], ...] = (
    (ValidationError, "400 Bad Request"),
    (PermissionDeniedError, "403 Forbidden"),
    (NotFoundError, "404 Not Found"),
    (
        (TransitionNotAllowedError, RuleViolationError, ConcurrencyConflictError),
        "409 Conflict",
    ),
)
Json = dict[str, Any]
Response = tuple[str, Json]
JSON_TYPES: dict[type, str] = {str: "string", dict: "object", int: "number"}


class HttpError(Exception):
    """A request the API refuses before the library sees it (no actor, no route, too big)."""

    def __init__(
        self, status: str, error: str, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.headers = headers


# -- the requests -------------------------------------------------------------------------------


def actor_of(environ: WSGIEnvironment) -> Actor:
    """The actor the ``X-Actor`` header names: ``seller:<seller id>`` or ``reviewer:<id>``.

    Authentication is the embedding system's job, not this example's: in production the header
    is set by the gateway that authenticated the caller (and stripped from outside requests).
    """
    kind, _, actor_id = environ.get("HTTP_X_ACTOR", "").partition(":")
    if kind == "seller":
        return Actor.seller(actor_id)
    if kind == "reviewer":
        return Actor.reviewer(actor_id)
    raise HttpError(
        "401 Unauthorized", "Unauthenticated", "X-Actor must be seller:<id> or reviewer:<id>"
    )


def body_of(environ: WSGIEnvironment) -> Json:
    """The request's JSON object."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_BODY:
        raise HttpError("413 Content Too Large", "BodyTooLarge", f"at most {MAX_BODY} bytes")
    try:
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationError("body", None, "must be a UTF-8 JSON object") from None
    if not isinstance(body, dict):
        raise ValidationError("body", None, "must be a JSON object")
    return body


def field(body: Json, name: str, kind: type = str) -> Any:
    """A required member of a JSON object; missing or of the wrong type is a 400."""
    value = body.get(name)
    if value is None:
        raise ValidationError(name, None, "is required")
    if not isinstance(value, kind):
        raise ValidationError(name, value, f"must be a JSON {JSON_TYPES[kind]}")
    return value


def query_of(environ: WSGIEnvironment, name: str) -> str | None:
    """An optional query string parameter; given twice is a 400."""
    values = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).get(name, [])
    if len(values) > 1:
        raise ValidationError(name, None, "must be given at most once")
    return values[0] if values else None


def limit_of(environ: WSGIEnvironment) -> int:
    """The ``limit`` query parameter, 100 when absent; the service checks the range."""
    text = query_of(environ, "limit")
    if text is None:
        return 100
    if not (text.isascii() and text.isdigit() and len(text) <= 4):
        raise ValidationError("limit", text, "must be a whole number from 1 to 1000")
    return int(text)


# -- the routes ---------------------------------------------------------------------------------


def application_view(service: OnboardingService, application: DeveloperApplication) -> Json:
    """What the API shows of an application (no document content, no secrets)."""
    return {
        "id": application.id,
        "account_id": application.account_id,
        "developer_type": str(application.developer_type),
        "status": str(application.status),
        "submitted_at": application.submitted_at.isoformat(),
        "review_deadline": service.review_policy.deadline(application.submitted_at).isoformat(),
        "ticket_id": application.ticket_id,
        "reviewer_id": application.reviewer_id,
        "rejection_reason": application.rejection_reason,
    }


def account_view(account: DeveloperAccount) -> Json:
    """What the API shows of a developer account (no profile details)."""
    return {
        "id": account.id,
        "seller_id": account.owner_id,
        "enterprise_id": account.enterprise_id,
        "status": str(account.status),
        "verified_enterprise_id": account.verified_enterprise_id,
        "verified_store_count": account.verified_store_count,
    }


def app_view(app: AppView) -> Json:
    """What the API shows of an app: an `AppView` has no appSecret to show."""
    until = app.previous_secret_valid_until
    return {
        "id": app.id,
        "account_id": app.account_id,
        "name": str(app.name),
        "app_key": str(app.app_key),
        "developer_type": str(app.developer_type),
        "status": str(app.status),
        "previous_secret_valid_until": None if until is None else until.isoformat(),
    }


def open_account(service: OnboardingService, environ: WSGIEnvironment) -> Response:
    """Register, accept the agreement and fill in the profile: an active developer account."""
    actor, body = actor_of(environ), body_of(environ)
    # Built before the first write, so bad developer information changes nothing.
    profile = DeveloperProfile(field(body, "contact_name"), EmailAddress(field(body, "email")))
    # The enterprise is the seller's claim; its verified store count comes from a reviewer.
    account = service.register_account(
        seller_id=actor.id, enterprise_id=field(body, "enterprise_id"), actor=actor
    )
    service.accept_agreement(account.id, field(body, "agreement_version"), actor=actor)
    account = service.submit_profile(account.id, profile, actor=actor)
    return "201 Created", {"id": account.id, "status": str(account.status)}


def apply(service: OnboardingService, environ: WSGIEnvironment) -> Response:
    """Submit an application with the licence file as ``license.base64``."""
    actor, body = actor_of(environ), body_of(environ)
    applicant = Applicant.from_record(field(body, "applicant", dict))
    upload = field(body, "license", dict)
    encoded = field(upload, "base64")
    try:
        content = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text
        raise ValidationError("license.base64", encoded, "must be base64") from None
    try:
        kind = DocumentKind(upload.get("kind", "business_license"))
    except ValueError:
        raise ValidationError("license.kind", upload["kind"], "business_license or cif") from None
    document = LicenseDocument.from_bytes(
        content,
        filename=field(upload, "filename"),
        kind=kind,
        country=applicant.country,
        registration_number=upload.get("registration_number"),
    )
    application = service.apply(
        field(body, "account_id"),
        field(body, "developer_type"),
        applicant,
        document,
        actor=actor,
    )
    return "201 Created", application_view(service, application)


def approve(service: OnboardingService, environ: WSGIEnvironment, application_id: str) -> Response:
    """A reviewer approves the application."""
    application = service.approve(application_id, actor=actor_of(environ))
    return "200 OK", application_view(service, application)


def verify(service: OnboardingService, environ: WSGIEnvironment, account_id: str) -> Response:
    """A reviewer records the verified enterprise and how many stores it covers."""
    body = body_of(environ)
    account = service.verify_enterprise(
        account_id,
        field(body, "enterprise_id"),
        field(body, "store_count", int),
        actor=actor_of(environ),
    )
    return "200 OK", account_view(account)


def show(service: OnboardingService, environ: WSGIEnvironment, application_id: str) -> Response:
    """The application's status, for its owner or a reviewer."""
    application = service.application(application_id, actor=actor_of(environ))
    return "200 OK", application_view(service, application)


def show_account(service: OnboardingService, environ: WSGIEnvironment, account_id: str) -> Response:
    """The account with its applications and apps, for its owner or a reviewer."""
    actor = actor_of(environ)
    account = service.account(account_id, actor=actor)
    return "200 OK", {
        **account_view(account),
        "applications": [
            application_view(service, application)
            for application in service.account_applications(account_id, actor=actor)
        ],
        "apps": [app_view(app) for app in service.account_apps(account_id, actor=actor)],
    }


def seller_account(
    service: OnboardingService, environ: WSGIEnvironment, seller_id: str
) -> Response:
    """The account of a seller: a seller finds its own account id here."""
    return "200 OK", account_view(service.account_of_seller(seller_id, actor=actor_of(environ)))


def create_app(service: OnboardingService, environ: WSGIEnvironment, account_id: str) -> Response:
    """Create an app; its appSecret is in this response and no other."""
    actor, body = actor_of(environ), body_of(environ)
    app = service.create_app(
        account_id, field(body, "developer_type"), field(body, "name"), actor=actor
    )
    return "201 Created", {**app_view(AppView.of(app)), "app_secret": app.secret.reveal()}


def show_app(service: OnboardingService, environ: WSGIEnvironment, app_id: str) -> Response:
    """The app, for its owner or a reviewer, without its appSecret."""
    return "200 OK", app_view(service.app(app_id, actor=actor_of(environ)))


def authorizations(service: OnboardingService, environ: WSGIEnvironment, app_id: str) -> Response:
    """A page of the stores that authorize the app, by store id; ``next_after`` leads on."""
    page = service.app_authorizations(
        app_id, actor=actor_of(environ), limit=limit_of(environ), after=query_of(environ, "after")
    )
    items = [
        {
            "store_id": authorization.store.store_id,
            "seller_id": authorization.store.seller_id,
            "authorized_at": authorization.authorized_at.isoformat(),
        }
        for authorization in page.items
    ]
    return "200 OK", {"items": items, "next_after": page.next_after}


def reviews(service: OnboardingService, environ: WSGIEnvironment) -> Response:
    """A reviewer's queue: every application awaiting a decision, oldest first."""
    pending = service.pending_reviews(actor=actor_of(environ))
    return "200 OK", {"items": [application_view(service, a) for a in pending]}


def overdue(service: OnboardingService, environ: WSGIEnvironment) -> Response:
    """The applications awaiting a decision past the review deadline, oldest first."""
    late = service.overdue_applications(actor=actor_of(environ))
    return "200 OK", {"items": [application_view(service, a) for a in late]}


ROUTES: tuple[tuple[str, re.Pattern[str], Callable[..., Response]], ...] = (
    ("POST", re.compile(r"/accounts"), open_account),
    ("GET", re.compile(r"/accounts/(?P<account_id>[^/]+)"), show_account),
    ("GET", re.compile(r"/sellers/(?P<seller_id>[^/]+)/account"), seller_account),
    ("POST", re.compile(r"/accounts/(?P<account_id>[^/]+)/verification"), verify),
    ("POST", re.compile(r"/accounts/(?P<account_id>[^/]+)/apps"), create_app),
    ("GET", re.compile(r"/apps/(?P<app_id>[^/]+)"), show_app),
    ("GET", re.compile(r"/apps/(?P<app_id>[^/]+)/authorizations"), authorizations),
    ("POST", re.compile(r"/applications"), apply),
    ("POST", re.compile(r"/applications/(?P<application_id>[^/]+)/approve"), approve),
    ("GET", re.compile(r"/applications/(?P<application_id>[^/]+)"), show),
    ("GET", re.compile(r"/reviews"), reviews),
    ("GET", re.compile(r"/reviews/overdue"), overdue),
)


def dispatch(service: OnboardingService, environ: WSGIEnvironment) -> Response:
    """Run the route that matches the method and path."""
    path, method = environ.get("PATH_INFO", "/"), environ["REQUEST_METHOD"]
    allowed = []
    for route_method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return handler(service, environ, **match.groupdict())
        if match:
            allowed.append(route_method)
    if allowed:
        methods = ", ".join(allowed)
        raise HttpError(
            "405 Method Not Allowed", "MethodNotAllowed", f"use {methods}", (("Allow", methods),)
        )
    raise HttpError("404 Not Found", "NoSuchRoute", f"no route for {method} {path}")


def refusal(error: OnboardingError) -> Response | None:
    """The 4xx response for what the library refused; None for its failures (a 500)."""
    for kinds, status in HTTP_STATUS:
        if isinstance(error, kinds):
            return status, {"error": type(error).__name__, "message": str(error)}
    return None


def make_app(service: OnboardingService) -> WSGIApplication:
    """The WSGI application serving the onboarding ``service`` as JSON over HTTP."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = None
        headers: tuple[tuple[str, str], ...] = ()
        try:
            response = dispatch(service, environ)
        except HttpError as error:
            response = error.status, {"error": error.error, "message": error.message}
            headers = error.headers
        except OnboardingError as error:
            response = refusal(error)
            if response is None:
                logger.exception("onboarding failure on %s", environ.get("PATH_INFO"))
        except Exception:
            logger.exception("unexpected error on %s", environ.get("PATH_INFO"))
        # A failure's own text may name hosts, files or data: the client learns nothing of it.
        status, body = response or (
            "500 Internal Server Error",
            {"error": "InternalError", "message": "internal error"},
        )
        payload = json.dumps(body).encode()
        start_response(
            status,
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                *headers,
            ],
        )
        return [payload]

    return app


def service_from_environment(environ: Mapping[str, str]) -> OnboardingService:
    """The service on the store ``ONBOARDING_URL`` names, sealing with ``ONBOARDING_KEYS``.

    Inline dispatch is off: the dispatcher process delivers the events (see the module's doc).
    """
    url = environ.get("ONBOARDING_URL") or "memory://"
    keys = environ.get("ONBOARDING_KEYS")
    if url != "memory://" and not keys:
        # Refused here, at start-up, rather than as a 500 on the first app created.
        raise ValidationError(
            "ONBOARDING_KEYS", None, "must name the key file that seals appSecrets at rest"
        )
    keyring = Keyring.load(keys) if keys else None
    return OnboardingService.from_url(url, keyring=keyring, auto_dispatch=False)


application = make_app(service_from_environment(os.environ))
"""What a WSGI server runs: ``waitress-serve embed_in_wsgi:application``."""


def main(argv: list[str]) -> None:
    port = int(argv[0]) if argv else 8000
    with make_server("127.0.0.1", port, application) as server:  # never 0.0.0.0
        print(f"serving the onboarding API on http://127.0.0.1:{server.server_port}")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
