"""Embed the onboarding in a web service: a small JSON API on the standard library's wsgiref.

    POST /accounts                       open, accept the agreement, fill in the profile: active
    POST /applications                   apply (the licence file as a base64 JSON field)
    POST /applications/<id>/approve      a reviewer approves
    GET  /applications/<id>              the application's status (its owner or a reviewer)

Errors map to HTTP codes with a JSON body ``{"error": <type>, "message": <text>}``: a
`ValidationError` is 400, `PermissionDeniedError` 403, `NotFoundError` 404, and
`TransitionNotAllowedError`, `RuleViolationError` (`NotEligibleError` too) and
`ConcurrencyConflictError` 409. Anything else is a 500 that tells nothing about its cause.

Run: python examples/embed_in_wsgi.py [PORT]   (http://127.0.0.1:8000 by default, in memory)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from aliexpress_onboarding import (
    Actor,
    ActorKind,
    Applicant,
    ConcurrencyConflictError,
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
JSON_TYPES: dict[type, str] = {str: "string", dict: "object"}


class HttpError(Exception):
    """A request the API refuses before the library sees it (no actor, no route, too big)."""

    def __init__(self, status: str, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


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


def open_account(service: OnboardingService, environ: WSGIEnvironment) -> Response:
    """Register, accept the agreement and fill in the profile: an active developer account."""
    actor, body = actor_of(environ), body_of(environ)
    # Built before the first write, so bad developer information changes nothing.
    profile = DeveloperProfile(field(body, "contact_name"), EmailAddress(field(body, "email")))
    account = service.register_account(
        seller_id=actor.id,
        enterprise_id=field(body, "enterprise_id"),
        actor=actor,
        verified_store_count=body.get("verified_store_count", 1),
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


def show(service: OnboardingService, environ: WSGIEnvironment, application_id: str) -> Response:
    """The application's status, for its owner or a reviewer."""
    actor = actor_of(environ)
    application = service.repository.get(DeveloperApplication, application_id)
    if actor.kind is not ActorKind.REVIEWER and actor.id != application.owner_id:
        raise PermissionDeniedError(actor, "view_application", "only its owner or a reviewer")
    return "200 OK", application_view(service, application)


ROUTES: tuple[tuple[str, re.Pattern[str], Callable[..., Response]], ...] = (
    ("POST", re.compile(r"/accounts"), open_account),
    ("POST", re.compile(r"/applications"), apply),
    ("POST", re.compile(r"/applications/(?P<application_id>[^/]+)/approve"), approve),
    ("GET", re.compile(r"/applications/(?P<application_id>[^/]+)"), show),
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
        raise HttpError("405 Method Not Allowed", "MethodNotAllowed", f"use {', '.join(allowed)}")
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
        try:
            response = dispatch(service, environ)
        except HttpError as error:
            response = error.status, {"error": error.error, "message": error.message}
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
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        )
        return [payload]

    return app


def main(argv: list[str]) -> None:
    port = int(argv[0]) if argv else 8000
    # In memory; OnboardingService.from_url("sqlite:///onboarding.db") keeps the state.
    service = OnboardingService()
    with make_server("127.0.0.1", port, make_app(service)) as server:  # never 0.0.0.0
        print(f"serving the onboarding API on http://127.0.0.1:{server.server_port}")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
