"""E-mail notifications: an `EmailNotifier` that writes to developers, and senders for it.

`EmailNotifier` is a `Notifier`: it turns the events a developer cares about (a decision on an
application, an escalation ticket, a new app, a reset appSecret) into plain-text e-mails and
ignores every other event. It hands each e-mail to an `EmailSender`: `SMTPEmailSender` speaks
SMTP through the standard library, `InMemoryEmailSender` records them for tests and notebooks.

No e-mail ever holds an appSecret, and a subject is always a fixed template (free text such as a
rejection reason goes in the body only), so no user text can inject a header.
"""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from types import TracebackType
from typing import Any, Final, Literal, Protocol, get_args, runtime_checkable

import attrs

from ..domain.account import DeveloperAccount
from ..domain.app import App
from ..domain.application import DeveloperApplication
from ..domain.authorization import StoreAuthorization
from ..domain.events import (
    AccountActivated,
    AccountRegistered,
    AgreementAccepted,
    AppCreated,
    ApplicationApproved,
    ApplicationRejected,
    ApplicationSubmitted,
    AppResumed,
    AppSuspended,
    Event,
    ProfileSubmitted,
    ReviewEscalated,
    SecretReset,
    StoreAuthorizationRevoked,
    StoreAuthorized,
    TokenExpiring,
    TokensIssued,
)
from ..domain.values import EmailAddress, optional_text, text_field
from ..errors import EmailDeliveryError, NotFoundError, ValidationError
from ..ports import Repository

__all__ = [
    "Email",
    "EmailDeliveryError",
    "EmailNotifier",
    "EmailSender",
    "InMemoryEmailSender",
    "SMTPEmailSender",
    "account_email_lookup",
]

_CONSOLE_URL: Final = "https://console.aliexpress.com"
_SUBJECT_PREFIX: Final = "AliExpress Open Platform: "

# --------------------------------------------------------------------------- the message


def _check_address(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, EmailAddress):
        raise ValidationError(attribute.name, value, "must be an EmailAddress")


def _check_body(_: object, __: object, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError("body", value, "must be non-empty text")


@attrs.frozen
class Email:
    """A plain-text e-mail to one recipient.

    Attributes:
        to: the recipient.
        subject: one line of 1 to 200 printable characters (no CR or LF, so no header
            injection).
        body: the plain-text body.
        key: a stable id of what the e-mail is about (`EmailNotifier` uses the event id), or
            ``None``. `SMTPEmailSender` derives the Message-ID from it, so a message sent again
            after a retry is recognisably the same message and mail systems can drop the copy.

    Raises:
        ValidationError: naming the field that was refused.
    """

    to: EmailAddress = attrs.field(validator=_check_address)
    subject: str = attrs.field(validator=text_field(200))
    body: str = attrs.field(validator=_check_body)
    key: str | None = attrs.field(default=None, validator=optional_text(200))


# --------------------------------------------------------------------------- senders


@runtime_checkable
class EmailSender(Protocol):
    """Sends one e-mail, or raises: raising means "not sent", and the caller may retry."""

    def send(self, email: Email) -> None:
        """Send ``email``."""
        ...


class InMemoryEmailSender:
    """An `EmailSender` that records what it was asked to send, for tests and notebooks."""

    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send(self, email: Email) -> None:
        """Record ``email``."""
        self.sent.append(email)


_Security = Literal["none", "starttls", "ssl"]
_SECURITY: Final = get_args(_Security)


def _check_security(_: object, __: object, value: Any) -> None:
    if value not in _SECURITY:
        raise ValidationError("security", value, "must be 'none', 'starttls' or 'ssl'")


def _check_port(_: object, __: object, value: Any) -> None:
    if type(value) is not int or not 1 <= value <= 65535:
        raise ValidationError("port", value, "must be a whole number from 1 to 65535")


def _check_seconds(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError(attribute.name, value, "must be a positive number of seconds")


class _Deadline:
    """The wall-clock limit of one send, with a watchdog that shuts the connection down at it.

    A socket timeout bounds each wait for the next bytes, not a whole reply: a server that
    trickles a byte now and then never trips it. When the deadline passes, the watchdog thread
    shuts the connection down, which wakes the read or write the sending thread is blocked in,
    so `smtplib` raises. Use it as a context manager: leaving it stops the watchdog thread.
    """

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._expired = False
        self._watched: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._expire)

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        self._timer.join()
        with self._lock:
            if self._watched is not None:
                self._watched.close()
                self._watched = None

    def passed(self) -> bool:
        """Whether the deadline has passed."""
        return time.monotonic() >= self._end

    def cap(self, timeout: float) -> float:
        """``timeout``, or the time left if that is shorter.

        Raises:
            TimeoutError: no time is left.
        """
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed before connecting")
        return min(timeout, left)

    def watch(self, connection: socket.socket) -> None:
        """Shut ``connection`` down when the deadline passes (at once if it has)."""
        with self._lock:
            # A duplicate of the descriptor: TLS (from the start or after STARTTLS) takes the
            # descriptor from the socket object it wraps, but it is still the same connection.
            self._watched = connection.dup()
            if self._expired:
                self._shut_down(self._watched)

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            if self._watched is not None:
                self._shut_down(self._watched)

    @staticmethod
    def _shut_down(connection: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the server closed it already: nothing to wake
            connection.shutdown(socket.SHUT_RDWR)


class _SMTP(smtplib.SMTP):
    """`smtplib.SMTP` connected within a `_Deadline` that watches the connection.

    Given ``tls``, it speaks TLS from the first byte, as `smtplib.SMTP_SSL` does.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        deadline: _Deadline,
        tls: ssl.SSLContext | None,
    ) -> None:
        self._deadline = deadline
        self._tls = tls
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # smtplib's hook for making the connection (SMTP_SSL overrides it the same way). The
        # watchdog cannot reach a connection still being made, so its timeout is capped instead.
        connection = socket.create_connection((host, port), self._deadline.cap(timeout))
        self._deadline.watch(connection)
        if self._tls is None:
            return connection
        return self._tls.wrap_socket(connection, server_hostname=host)


@attrs.frozen
class SMTPEmailSender:
    """An `EmailSender` that speaks SMTP (standard library `smtplib`), one connection per e-mail.

    Args:
        host: the mail server.
        port: its port (usually 587 for ``"starttls"``, 465 for ``"ssl"``).
        sender: the From address.
        security: ``"starttls"`` (upgrade a plain connection, the default), ``"ssl"`` (TLS
            from the first byte) or ``"none"`` (clear text: only for a relay on a trusted host).
        username: the login, if the server wants one (always with ``password``).
        password: the password; never shown by ``repr`` or in errors.
        timeout: seconds to wait for the server's next bytes at each step (a socket timeout: a
            server that keeps sending a byte now and then never trips it).
        deadline: seconds the whole send may take, from connecting to the end of the session,
            however slowly the server trickles its replies; connecting waits at most the
            smaller of ``timeout`` and the time left. When it passes, the connection is shut
            down and `send` raises `EmailDeliveryError`. Name lookups (the server's, and
            smtplib's of this machine for EHLO) are not cut short.
        ssl_context: how to check the server's certificate (default: the system's trusted
            certificates, with host name checking).

    Raises:
        ValidationError: for a bad setting, a username without a password (or the reverse),
            or a password with ``security="none"`` (it would cross the network in clear text).
    """

    host: str = attrs.field(validator=text_field(253))
    port: int = attrs.field(validator=_check_port)
    sender: EmailAddress = attrs.field(kw_only=True, validator=_check_address)
    security: _Security = attrs.field(default="starttls", kw_only=True, validator=_check_security)
    username: str | None = attrs.field(
        default=None, kw_only=True, validator=attrs.validators.optional(text_field(320))
    )
    password: str | None = attrs.field(default=None, kw_only=True, repr=False)
    timeout: float = attrs.field(default=10.0, kw_only=True, validator=_check_seconds)
    deadline: float = attrs.field(default=30.0, kw_only=True, validator=_check_seconds)
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if (self.username is None) != (self.password is None):
            raise ValidationError(
                "password",
                None,
                "username and password are given together or not at all",
                secret=True,
            )
        if self.password is not None and self.security == "none":
            raise ValidationError(
                "security",
                self.security,
                "must be 'starttls' or 'ssl' when a password is given: it must not cross the "
                "network in clear text",
            )

    def send(self, email: Email) -> None:
        """Send ``email`` through the server.

        Raises:
            EmailDeliveryError: the server could not be reached, refused TLS, the login or the
                e-mail, or did not finish within the ``deadline``; or the connection failed
                (the `smtplib` or `OSError` cause is chained).
        """
        message = self._message(email)
        deadline = _Deadline(self.deadline)
        try:
            with deadline, self._connect(deadline) as smtp:
                if self.security == "starttls":
                    smtp.starttls(context=self._context())
                if self.username is not None and self.password is not None:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            reason = (
                f"the server did not finish within the {self.deadline:g} s deadline"
                if deadline.passed()
                else f"{type(error).__name__}: {error}"
            )
            raise EmailDeliveryError(email.to, self.host, self.port, reason) from error

    def _message(self, email: Email) -> EmailMessage:
        message = EmailMessage()
        message["From"] = str(self.sender)
        message["To"] = str(email.to)
        message["Subject"] = email.subject
        message["Date"] = formatdate(usegmt=True)
        # The sender's domain, not socket.getfqdn(), which may wait on DNS.
        domain = str(self.sender).rpartition("@")[2]
        if email.key is None:
            message["Message-ID"] = make_msgid(domain=domain)
        else:  # same sender, recipient and key, same id: a retried send is a recognisable copy
            identity = "\0".join((str(self.sender), str(email.to), email.key))
            digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:40]
            message["Message-ID"] = f"<{digest}@{domain}>"
        message.set_content(email.body)
        return message

    def _connect(self, deadline: _Deadline) -> smtplib.SMTP:
        tls = self._context() if self.security == "ssl" else None
        return _SMTP(self.host, self.port, timeout=self.timeout, deadline=deadline, tls=tls)

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()


# --------------------------------------------------------------------------- the notifier


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _compose(event: Event) -> tuple[str, list[str]] | None:
    """The subject and body paragraphs for ``event``, or ``None`` if developers need no e-mail.

    Subjects are fixed templates; only an app name (safe by construction) is filled in.
    """
    match event:
        case ApplicationApproved():
            return "your developer application was approved", [
                f"Your developer application {event.aggregate_id} was approved on "
                f"{_when(event.occurred_at)}.",
                "This is the notification e-mail sent on approval. In case there is another "
                "e-mail asking you to verify your e-mail address, please ignore it: it is no "
                "longer necessary.",
                f'Next step: apply for an appKey. Visit {_CONSOLE_URL}, click "Create App", '
                "choose the developer type you were approved for and give the app a name (at "
                "most 30 characters, each a letter, a digit, a dot (.) or an underscore (_)). "
                "The app's management console then shows its appKey and appSecret.",
            ]
        case ApplicationRejected():
            return "your developer application was rejected", [
                f"Your developer application {event.aggregate_id} was rejected on "
                f"{_when(event.occurred_at)}.",
                f"The reviewer's reason:\n{event.reason}",
                f"You may apply again at {_CONSOLE_URL}. If you don't know which document to "
                "upload, please check with your AliExpress contact or KA manager (Spanish "
                "sellers and ISVs may upload their CIF document for the business license).",
            ]
        case ReviewEscalated():
            return "a ticket was submitted for your developer application", [
                f"Your developer application {event.aggregate_id} received no decision by its "
                f"review deadline ({_when(event.deadline)}), so a ticket was submitted on "
                f"{_when(event.occurred_at)}: {event.ticket_id}.",
                "Review usually takes 1 or 2 days; when no notification e-mail arrives within "
                "2 days, the platform asks for a ticket. Quote the ticket id if you contact "
                "AliExpress about this application.",
            ]
        case AppCreated():
            return f"your app {event.name} was created", [
                f"Your app {event.name} was created on {_when(event.occurred_at)} for the "
                f"{event.developer_type.label} type.",
                f"appKey: {event.app_key}",
                f"The appSecret is shown in the app's management console at {_CONSOLE_URL}; "
                "it is never sent by e-mail. Keep it secret.",
            ]
        case SecretReset():
            until = event.previous_valid_until
            return "the appSecret of your app was reset", [
                f"The appSecret of your app {event.aggregate_id} was reset on "
                f"{_when(event.occurred_at)}. The new appSecret is shown in the app's "
                f"management console at {_CONSOLE_URL}; it is never sent by e-mail.",
                "The old appSecret no longer works."
                if until is None
                else f"The old appSecret still works until {_when(until)}; update your "
                "software to the new one before then.",
            ]
        case TokenExpiring():
            return "a store's access token for your app expires soon", [
                f"The access token of store authorization {event.aggregate_id} expires on "
                f"{_when(event.expires_at)}, and it cannot be refreshed.",
                "Ask the store's seller to authorize your app again before then (send them to "
                "the authorization page your service gives with begin_authorization); until "
                "they do, calls for that store will be refused with IllegalAccessToken.",
            ]
        case _:
            return None


@attrs.define
class EmailNotifier:
    """A `Notifier` that e-mails developers about the events that concern them.

    It writes about `ApplicationApproved`, `ApplicationRejected` (with the reason),
    `ReviewEscalated` (with the ticket id), `AppCreated` (with the app's name and appKey, never
    its appSecret), `SecretReset` (with how long the old appSecret still works) and
    `TokenExpiring` (a store's token that cannot be refreshed expires within 3 days), and
    ignores every other event.

    Args:
        sender: sends the e-mails; when it raises, so does `notify`, and the outbox keeps the
            event for a later attempt.
        recipients: whom to write to about an event, or ``None`` for nobody (see
            `account_email_lookup`).
    """

    sender: EmailSender
    recipients: Callable[[Event], EmailAddress | None]

    def notify(self, event: Event) -> None:
        """E-mail the event's recipient about ``event``, if it concerns a developer.

        Raises:
            EmailDeliveryError: (or whatever the sender or the lookup raises) the e-mail was not
                sent; the outbox tries again later.
        """
        composed = _compose(event)
        if composed is None:
            return
        to = self.recipients(event)
        if to is None:
            return
        topic, paragraphs = composed
        body = "\n\n".join(["Hello,", *paragraphs]) + "\n"
        self.sender.send(Email(to, _SUBJECT_PREFIX + topic, body, key=event.event_id))


_ACCOUNT_EVENTS: Final = (AccountRegistered, AgreementAccepted, ProfileSubmitted, AccountActivated)
_APPLICATION_EVENTS: Final = (
    ApplicationSubmitted,
    ApplicationApproved,
    ApplicationRejected,
    ReviewEscalated,
)
_APP_EVENTS: Final = (
    AppCreated,
    SecretReset,
    AppSuspended,
    AppResumed,
)
_AUTHORIZATION_EVENTS: Final = (
    StoreAuthorized,
    StoreAuthorizationRevoked,
    TokensIssued,
    TokenExpiring,
)


def _account_of_authorization(repository: Repository, aggregate_id: str) -> str:
    """The account of a store authorization's app; release 1's events name the app itself."""
    try:
        return repository.get(StoreAuthorization, aggregate_id).account_id
    except NotFoundError:
        return repository.get(App, aggregate_id).account_id


def account_email_lookup(repository: Repository) -> Callable[[Event], EmailAddress | None]:
    """Recipients for `EmailNotifier`: the e-mail in the profile of the account an event concerns.

    The account is found through the event's aggregate (the application's or the app's
    account). The profile is read when the e-mail is sent, so a changed address is used.

    Args:
        repository: where the aggregates are.

    Returns:
        A function giving the profile's e-mail, or ``None`` for an event of an unknown type or
        an account without a profile.
    """

    def lookup(event: Event) -> EmailAddress | None:
        if isinstance(event, _ACCOUNT_EVENTS):
            account_id = event.aggregate_id
        elif isinstance(event, _APPLICATION_EVENTS):
            account_id = repository.get(DeveloperApplication, event.aggregate_id).account_id
        elif isinstance(event, _AUTHORIZATION_EVENTS):
            account_id = _account_of_authorization(repository, event.aggregate_id)
        elif isinstance(event, _APP_EVENTS):
            account_id = repository.get(App, event.aggregate_id).account_id
        else:
            return None
        profile = repository.get(DeveloperAccount, account_id).profile
        return None if profile is None else profile.email

    return lookup
