"""E-mail notifications: the notifier's e-mails, and SMTP delivery against a real local server."""

from __future__ import annotations

import email
import email.policy
import itertools
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import attrs
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from aliexpress_onboarding.adapters.email import (
    Email,
    EmailDeliveryError,
    EmailNotifier,
    EmailSender,
    InMemoryEmailSender,
    SMTPEmailSender,
    account_email_lookup,
)
from aliexpress_onboarding.adapters.memory import InMemoryRepository
from aliexpress_onboarding.domain.account import DeveloperAccount, DeveloperProfile
from aliexpress_onboarding.domain.actors import Actor
from aliexpress_onboarding.domain.application import Approve, DeveloperApplication
from aliexpress_onboarding.domain.eligibility import Applicant
from aliexpress_onboarding.domain.events import (
    AccountRegistered,
    AppCreated,
    ApplicationApproved,
    ApplicationRejected,
    Event,
    ReviewEscalated,
    SecretReset,
    StoreAuthorized,
)
from aliexpress_onboarding.domain.values import (
    AppKey,
    AppName,
    DeveloperType,
    EmailAddress,
    LicenseDocument,
)
from aliexpress_onboarding.errors import ValidationError
from aliexpress_onboarding.ports import Notifier
from aliexpress_onboarding.service import DispatchReport, OnboardingService
from aliexpress_onboarding.testing import (
    NotifierContract,
    sample_account,
    sample_app,
    sample_application,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOST = "127.0.0.1"
OWNER = Actor.seller("seller-1")
REVIEWER = Actor.reviewer("rev-1")
DEVELOPER = EmailAddress("dev@sunrise.example.com")
PLATFORM = EmailAddress("onboarding@platform.example.com")
PASSWORD = "pw-Zq81-never-shown"
PREFIX = "AliExpress Open Platform: "
APPROVED = PREFIX + "your developer application was approved"
REJECTED = PREFIX + "your developer application was rejected"
ESCALATED = PREFIX + "a ticket was submitted for your developer application"
RESET = PREFIX + "the appSecret of your app was reset"


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


class Inbox:
    """An aiosmtpd handler that keeps every envelope it receives."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def raw(self) -> list[bytes]:
        """The messages as received (aiosmtpd keeps bytes unless told to decode)."""
        return [cast(bytes, e.content) for e in self.envelopes]

    def messages(self) -> list[EmailMessage]:
        """The messages parsed, with SMTP's CRLF line ends read as Python's LF."""
        return [
            email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
            for raw in self.raw()
        ]


@attrs.frozen
class Server:
    port: int
    inbox: Inbox


def running(**options: Any) -> Iterator[Server]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname=HOST, port=port, server_hostname="localhost", **options)
    controller.start()
    try:
        yield Server(port, inbox)
    finally:
        controller.stop()


@attrs.define
class Tarpit:
    """A server that sends ``script`` (the first reply at once, each next one after a line
    from the client), starts TLS when given ``tls``, then trickles a reply that never ends,
    one byte every ``every`` seconds, until stopped."""

    script: tuple[bytes, ...] = ()
    tls: ssl.SSLContext | None = None
    every: float = 0.05
    listener: socket.socket = attrs.field(factory=lambda: socket.create_server((HOST, 0)))
    stopped: threading.Event = attrs.field(factory=threading.Event)

    def serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1)
                self._talk(connection)

    def _talk(self, connection: socket.socket) -> None:
        try:
            for n, reply in enumerate(self.script):
                if n:
                    self._read_line(connection)
                connection.sendall(reply)
            if self.tls is None:
                self._trickle(connection)
                return
            with self.tls.wrap_socket(connection, server_side=True) as secure:
                self._trickle(secure)
        except OSError:  # the client hung up
            return

    def _trickle(self, connection: socket.socket) -> None:
        for byte in itertools.cycle(b"220-still talking\r\n"):  # "-": more lines follow
            if self.stopped.wait(self.every):
                return
            connection.sendall(bytes([byte]))

    def _read_line(self, connection: socket.socket) -> None:
        line = b""
        while not line.endswith(b"\n") and not self.stopped.is_set():
            try:
                byte = connection.recv(1)
            except TimeoutError:
                continue
            if not byte:
                raise ConnectionResetError
            line += byte


STARTTLS_SCRIPT = (b"220 tarpit\r\n", b"250-tarpit\r\n250 STARTTLS\r\n", b"220 go ahead\r\n")
DEADLINE = 0.5
LATE = DEADLINE + 2  # generous: the assertion is "it ends", never a precise duration
TOO_SLOW = "the server did not finish within the 0.5 s deadline"


def accept_only_password(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"platform", PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@attrs.define
class FakeClock:
    at: datetime = T0

    def now(self) -> datetime:
        return self.at


@attrs.define
class FlakySender:
    """Fails while ``down``; records what it sent otherwise."""

    down: bool = False
    sent: list[Email] = attrs.Factory(list)

    def send(self, message: Email) -> None:
        if self.down:
            raise EmailDeliveryError(message.to, HOST, 25, "ConnectionRefusedError: down")
        self.sent.append(message)


def event(kind: type[Event], **fields: Any) -> Any:
    return kind(
        event_id="x:2:0", aggregate_id="appl-1", version=2, occurred_at=T0, actor=REVIEWER, **fields
    )


def notified(*events: Event) -> list[Email]:
    sender = InMemoryEmailSender()
    notifier = EmailNotifier(sender, lambda _: DEVELOPER)
    for each in events:
        notifier.notify(each)
    return sender.sent


def sender_for(server: Server, **options: Any) -> SMTPEmailSender:
    return SMTPEmailSender(HOST, server.port, sender=PLATFORM, **options)


HELLO = Email(DEVELOPER, "Your application", "Approved.\nWelcome!\n")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    yield from running()


@pytest.fixture
def black_hole() -> Iterator[int]:
    """The port of a server that never says a word: the kernel accepts, nobody answers."""
    with socket.create_server((HOST, 0)) as listener:
        yield listener.getsockname()[1]


@pytest.fixture
def tarpit(security: str, request: pytest.FixtureRequest) -> Iterator[int]:
    """The port of a `Tarpit` that, for the test's ``security``, trickles the greeting, or the
    reply to EHLO after STARTTLS, or the greeting over TLS (with the test certificate)."""
    match security:
        case "none":
            server = Tarpit()
        case "starttls":
            server = Tarpit(STARTTLS_SCRIPT, tls=request.getfixturevalue("server_tls"))
        case _:
            server = Tarpit(tls=request.getfixturevalue("server_tls"))
    thread = threading.Thread(target=server.serve, name="tarpit")
    thread.start()
    try:
        yield server.listener.getsockname()[1]
    finally:
        server.stopped.set()
        thread.join(timeout=5)
        server.listener.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with the openssl tool."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "1", "-subj", f"/CN={HOST}"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-addext", f"subjectAltName=IP:{HOST}", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


@pytest.fixture
def starttls_server(server_tls: ssl.SSLContext) -> Iterator[Server]:
    yield from running(
        tls_context=server_tls,
        require_starttls=True,
        authenticator=accept_only_password,
        auth_required=True,
    )


@pytest.fixture
def ssl_server(server_tls: ssl.SSLContext) -> Iterator[Server]:
    yield from running(ssl_context=server_tls)


# --------------------------------------------------------------------------- Email


def test_a_subject_is_one_line() -> None:
    """A subject with CR or LF is refused, so no text can inject a header."""
    with pytest.raises(ValidationError) as caught:
        Email(DEVELOPER, "Hi\r\nBcc: victim@example.com", "body")
    assert "subject" == caught.value.field


def test_an_email_goes_to_an_email_address() -> None:
    """The recipient must be a validated EmailAddress, not any text."""
    with pytest.raises(ValidationError) as caught:
        Email("dev@sunrise.example.com", "Hi", "body")  # type: ignore[arg-type]
    assert "to" == caught.value.field


def test_in_memory_sender_records_in_order() -> None:
    """The recording sender keeps e-mails in the order sent."""
    sender = InMemoryEmailSender()
    second = attrs.evolve(HELLO, subject="Second")
    sender.send(HELLO)
    sender.send(second)
    assert [HELLO, second] == sender.sent


def test_senders_are_email_senders() -> None:
    """Both senders satisfy the EmailSender protocol."""
    smtp = SMTPEmailSender(HOST, 25, sender=PLATFORM)
    assert (True, True) == (
        isinstance(InMemoryEmailSender(), EmailSender),
        isinstance(smtp, EmailSender),
    )


# --------------------------------------------------------------------------- SMTP settings


def test_the_password_is_not_in_the_repr() -> None:
    """repr() shows the settings but never the password."""
    sender = SMTPEmailSender(HOST, 587, sender=PLATFORM, username="platform", password=PASSWORD)
    assert (False, True) == (PASSWORD in repr(sender), "username='platform'" in repr(sender))


def test_a_password_never_travels_in_clear_text() -> None:
    """security='none' with a password is refused at construction."""
    with pytest.raises(ValidationError) as caught:
        SMTPEmailSender(
            HOST, 25, sender=PLATFORM, security="none", username="platform", password=PASSWORD
        )
    assert ("security", False) == (caught.value.field, PASSWORD in str(caught.value))


def test_username_and_password_come_together() -> None:
    """A password without a username is refused, and the error does not show the password."""
    with pytest.raises(ValidationError) as caught:
        SMTPEmailSender(HOST, 587, sender=PLATFORM, password=PASSWORD)
    assert ("password", False) == (caught.value.field, PASSWORD in str(caught.value))


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("port", 0),
        ("port", 70000),
        ("security", "tls"),
        ("timeout", 0),
        ("timeout", True),
        ("deadline", -1),
        ("deadline", "30"),
    ],
)
def test_bad_settings_are_refused(setting: str, value: object) -> None:
    """Port, security, timeout and deadline are checked when the sender is made."""
    settings: dict[str, Any] = {"host": HOST, "port": 25, "sender": PLATFORM, setting: value}
    with pytest.raises(ValidationError) as caught:
        SMTPEmailSender(**settings)
    assert setting == caught.value.field


# --------------------------------------------------------------------------- SMTP delivery


def test_smtp_delivers_from_to_subject_and_body(smtp_server: Server) -> None:
    """A plain SMTP server receives the From, To, Subject and body as sent."""
    sender_for(smtp_server, security="none").send(HELLO)
    [message] = smtp_server.inbox.messages()
    assert (str(PLATFORM), str(DEVELOPER), "Your application", "Approved.\nWelcome!\n") == (
        message["From"],
        message["To"],
        message["Subject"],
        message.get_content(),
    )


def test_smtp_envelope_names_sender_and_recipient(smtp_server: Server) -> None:
    """The SMTP envelope (MAIL FROM, RCPT TO) matches the headers."""
    sender_for(smtp_server, security="none").send(HELLO)
    [envelope] = smtp_server.inbox.envelopes
    assert (str(PLATFORM), [str(DEVELOPER)]) == (envelope.mail_from, envelope.rcpt_tos)


def test_smtp_keeps_a_non_ascii_body_intact(smtp_server: Server) -> None:
    """Free text such as a rejection reason arrives unchanged, whatever its script."""
    body = "营业执照不清晰 — la licencia no es legible.\n"
    sender_for(smtp_server, security="none").send(attrs.evolve(HELLO, body=body))
    [message] = smtp_server.inbox.messages()
    assert body == message.get_content()


def test_smtp_messages_have_date_and_message_id(smtp_server: Server) -> None:
    """Each message carries a Date and a Message-ID in the sender's domain."""
    sender_for(smtp_server, security="none").send(HELLO)
    [message] = smtp_server.inbox.messages()
    assert (True, True) == (
        message["Date"] is not None,
        str(message["Message-ID"]).endswith("@platform.example.com>"),
    )


def test_an_event_sent_twice_arrives_with_one_message_id(smtp_server: Server) -> None:
    """Delivery is at-least-once: a retried event's e-mail keeps its Message-ID, so mail
    systems can recognise the copy; another event gets another id."""
    notifier = EmailNotifier(sender_for(smtp_server, security="none"), lambda _: DEVELOPER)
    approved = event(ApplicationApproved)
    notifier.notify(approved)
    notifier.notify(approved)
    notifier.notify(attrs.evolve(approved, event_id="x:3:0"))
    first, again, other = (str(m["Message-ID"]) for m in smtp_server.inbox.messages())
    assert (True, False, True) == (
        first == again,
        first == other,
        other.endswith("@platform.example.com>"),
    )


def test_one_event_to_two_recipients_makes_two_messages(smtp_server: Server) -> None:
    """The Message-ID is per sender, recipient and event: two recipients never collide."""
    sender = sender_for(smtp_server, security="none")
    approved = event(ApplicationApproved)
    EmailNotifier(sender, lambda _: DEVELOPER).notify(approved)
    EmailNotifier(sender, lambda _: EmailAddress("other@example.com")).notify(approved)
    first, second = (str(m["Message-ID"]) for m in smtp_server.inbox.messages())
    assert first != second


def test_starttls_refused_by_the_server_is_a_delivery_error(smtp_server: Server) -> None:
    """security='starttls' never falls back to clear text when the server offers no STARTTLS."""
    with pytest.raises(EmailDeliveryError) as caught:
        sender_for(smtp_server).send(HELLO)
    assert (
        [],
        smtplib.SMTPNotSupportedError,
    ) == (smtp_server.inbox.envelopes, type(caught.value.__cause__))


def test_starttls_with_login_delivers(starttls_server: Server, client_tls: ssl.SSLContext) -> None:
    """Over STARTTLS (certificate checked) the sender logs in and the message arrives."""
    sender = sender_for(
        starttls_server, username="platform", password=PASSWORD, ssl_context=client_tls
    )
    sender.send(HELLO)
    [message] = starttls_server.inbox.messages()
    assert "Your application" == message["Subject"]


def test_a_wrong_password_is_a_delivery_error_without_the_password(
    starttls_server: Server, client_tls: ssl.SSLContext
) -> None:
    """A refused login raises EmailDeliveryError whose text does not contain the password."""
    wrong = PASSWORD + "-wrong"
    sender = sender_for(
        starttls_server, username="platform", password=wrong, ssl_context=client_tls
    )
    with pytest.raises(EmailDeliveryError) as caught:
        sender.send(HELLO)
    texts = f"{caught.value} {caught.value.__cause__!r}"
    assert (smtplib.SMTPAuthenticationError, False, False) == (
        type(caught.value.__cause__),
        wrong in texts,
        PASSWORD in texts,
    )


def test_ssl_delivers(ssl_server: Server, client_tls: ssl.SSLContext) -> None:
    """With security='ssl' the connection is TLS from the first byte and the message arrives."""
    sender_for(ssl_server, security="ssl", ssl_context=client_tls).send(HELLO)
    [message] = ssl_server.inbox.messages()
    assert "Your application" == message["Subject"]


def test_an_untrusted_certificate_is_a_delivery_error(ssl_server: Server) -> None:
    """By default the server's certificate must be trusted by the system: no silent fallback."""
    with pytest.raises(EmailDeliveryError) as caught:
        sender_for(ssl_server, security="ssl").send(HELLO)
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)


def test_connection_refused_is_a_delivery_error_without_the_password() -> None:
    """Nothing listening: EmailDeliveryError with context, and no password in its text."""
    port = free_port()
    sender = SMTPEmailSender(HOST, port, sender=PLATFORM, username="platform", password=PASSWORD)
    with pytest.raises(EmailDeliveryError) as caught:
        sender.send(HELLO)
    error = caught.value
    assert (DEVELOPER, HOST, port, True, False) == (
        error.recipient,
        error.host,
        error.port,
        isinstance(error.__cause__, ConnectionRefusedError),
        PASSWORD in f"{error} {error.reason} {error.__cause__}",
    )


# --------------------------------------------------------------------------- SMTP deadline


def timed_failure(sender: SMTPEmailSender) -> tuple[float, list[str]]:
    """How long ``sender.send`` ran (at most ``LATE`` s) and the reasons it failed with.

    The send runs in a thread so that a send that never ends fails the test instead of hanging
    it; the server's fixture hangs up when the test ends, which ends such a send too.
    """
    reasons: list[str] = []

    def send() -> None:
        try:
            sender.send(HELLO)
        except EmailDeliveryError as error:
            reasons.append(error.reason)

    start = time.monotonic()
    worker = threading.Thread(target=send, name="send")
    worker.start()
    worker.join(LATE)
    return time.monotonic() - start, reasons


@pytest.mark.parametrize("security", ["none", "ssl"])
def test_a_silent_server_fails_the_send_at_the_deadline(black_hole: int, security: str) -> None:
    """A server that never answers (greeting or TLS handshake) costs the deadline, no more."""
    sender = SMTPEmailSender(
        HOST, black_hole, sender=PLATFORM, security=security, timeout=60, deadline=DEADLINE
    )
    took, reasons = timed_failure(sender)
    assert (True, [TOO_SLOW]) == (took < LATE, reasons)


@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_a_trickling_server_fails_the_send_at_the_deadline(
    tarpit: int, security: str, client_tls: ssl.SSLContext
) -> None:
    """A byte every 0.05 s never trips the 60 s socket timeout, in clear text or over TLS; the
    deadline still ends the send, and its reason holds no password."""
    login = {} if security == "none" else {"username": "platform", "password": PASSWORD}
    sender = SMTPEmailSender(
        HOST,
        tarpit,
        sender=PLATFORM,
        security=security,
        timeout=60,
        deadline=DEADLINE,
        ssl_context=client_tls,
        **login,
    )
    took, reasons = timed_failure(sender)
    assert (True, [TOO_SLOW]) == (took < LATE, reasons)


def test_a_send_within_the_deadline_delivers(smtp_server: Server) -> None:
    """A server that answers promptly gets the message with a short deadline in place."""
    sender_for(smtp_server, security="none", deadline=5).send(HELLO)
    [message] = smtp_server.inbox.messages()
    assert "Your application" == message["Subject"]


def test_a_send_leaves_no_thread_behind(smtp_server: Server, black_hole: int) -> None:
    """The deadline's watchdog thread is gone once send returns, sent or failed."""
    before = set(threading.enumerate())
    sender_for(smtp_server, security="none", deadline=5).send(HELLO)
    after_success = set(threading.enumerate())
    silent = SMTPEmailSender(HOST, black_hole, sender=PLATFORM, security="none", deadline=0.2)
    with pytest.raises(EmailDeliveryError):
        silent.send(HELLO)
    after_failure = set(threading.enumerate())
    assert (before, before) == (after_success, after_failure)


# --------------------------------------------------------------------------- the notifier


class TestEmailNotifier(NotifierContract):
    @pytest.fixture
    def notifier(self) -> Notifier:
        return EmailNotifier(InMemoryEmailSender(), lambda _: DEVELOPER)


def test_approval_says_the_verify_email_request_is_unnecessary() -> None:
    """The approval e-mail follows guide step 2.6: ignore any later 'verify your e-mail'."""
    [sent] = notified(event(ApplicationApproved))
    assert (APPROVED, True, True) == (
        sent.subject,
        "no longer necessary" in sent.body,
        '"Create App"' in sent.body,
    )


def test_rejection_puts_the_reason_in_the_body_only() -> None:
    """The reviewer's reason is in the body; the subject is the fixed template."""
    [sent] = notified(event(ApplicationRejected, reason="The licence photo is blurred."))
    assert (REJECTED, True) == (sent.subject, "The licence photo is blurred." in sent.body)


def test_a_reason_cannot_inject_a_header(smtp_server: Server) -> None:
    """Even a reason with CR/LF (events are not validated) adds no header to the message."""
    sender = sender_for(smtp_server, security="none")
    notifier = EmailNotifier(sender, lambda _: DEVELOPER)
    notifier.notify(event(ApplicationRejected, reason="x\r\nBcc: victim@example.com\r\n"))
    [message] = smtp_server.inbox.messages()
    [envelope] = smtp_server.inbox.envelopes
    assert (REJECTED, None, [str(DEVELOPER)]) == (
        message["Subject"],
        message["Bcc"],
        envelope.rcpt_tos,
    )


def test_escalation_names_the_ticket() -> None:
    """No decision by the deadline: the e-mail says a ticket was submitted and gives its id."""
    deadline = T0 - timedelta(minutes=1)
    [sent] = notified(event(ReviewEscalated, ticket_id="ticket-77", deadline=deadline))
    assert (ESCALATED, True, True) == (
        sent.subject,
        "ticket-77" in sent.body,
        "2026-03-02 08:59 UTC" in sent.body,
    )


def test_app_created_gives_name_and_app_key() -> None:
    """The new app's e-mail names it and gives its appKey; the secret is in the console only."""
    created = event(
        AppCreated,
        account_id="acc-1",
        name=AppName("sunrise_sync"),
        app_key=AppKey("30001234"),
        developer_type=DeveloperType.SELF,
    )
    [sent] = notified(created)
    assert (PREFIX + "your app sunrise_sync was created", True, True) == (
        sent.subject,
        "appKey: 30001234" in sent.body,
        "never sent by e-mail" in sent.body,
    )


def test_secret_reset_says_until_when_the_old_secret_works() -> None:
    """With an overlap, the e-mail gives the time the old appSecret stops working."""
    until = T0 + timedelta(hours=24)
    [sent] = notified(event(SecretReset, previous_valid_until=until))
    assert (RESET, True) == (sent.subject, "until 2026-03-03 09:00 UTC" in sent.body)


def test_secret_reset_without_overlap_says_the_old_secret_is_dead() -> None:
    """Without an overlap, the e-mail says the old appSecret no longer works."""
    [sent] = notified(event(SecretReset, previous_valid_until=None))
    assert "The old appSecret no longer works." in sent.body


def test_no_email_holds_an_app_secret() -> None:
    """Across a whole onboarding, no subject or body contains an appSecret or a part of it."""
    account, timeline = sample_account()
    _, app_timeline = sample_app(account, _approved_of(account))
    fragments = ["secret-app-1-0123456789abcdef", "renewed-app-1-0123456789abcdef"]
    fragments += [f[:8] for f in fragments]
    texts = [m.subject + m.body for m in notified(*timeline, *app_timeline)]
    assert [] == [f for f in fragments for text in texts if f in text]


def _approved_of(account: DeveloperAccount) -> DeveloperApplication:
    application, _ = sample_application(account)
    approved, _ = application.handle(Approve(), REVIEWER, T0)
    return approved


def test_other_events_are_ignored() -> None:
    """Events that need no e-mail (registration, store authorization, ...) send nothing."""
    registered = event(AccountRegistered, seller_id="seller-1", enterprise_id="ent-1")
    authorized = event(StoreAuthorized, store_id="store-1", seller_id="seller-1")
    assert [] == notified(registered, authorized)


def test_no_recipient_sends_nothing() -> None:
    """When the recipients function returns None, no e-mail is sent."""
    sender = InMemoryEmailSender()
    EmailNotifier(sender, lambda _: None).notify(event(ApplicationApproved))
    assert [] == sender.sent


# --------------------------------------------------------------------------- with the service


def onboarded_until_review(service: OnboardingService) -> tuple[str, str]:
    """Register, accept, fill in the profile and apply: the account's and application's ids."""
    account = service.register_account(seller_id="seller-1", enterprise_id="ent-1", actor=OWNER)
    service.accept_agreement(account.id, "2024-01", actor=OWNER)
    service.submit_profile(account.id, DeveloperProfile("Wei Zhang", DEVELOPER), actor=OWNER)
    applicant = Applicant(
        name="Hangzhou Sunrise", country="CN", is_enterprise=True, is_aliexpress_seller=True
    )
    document = LicenseDocument.from_bytes(b"\xff\xd8\xff" + bytes(16), filename="l.jpg")
    application = service.apply(account.id, DeveloperType.SELF, applicant, document, actor=OWNER)
    return account.id, application.id


def test_a_whole_onboarding_emails_the_developer(smtp_server: Server) -> None:
    """Approval, new app and secret reset reach the profile's address over SMTP, no secret."""
    repository = InMemoryRepository()
    sender = sender_for(smtp_server, security="none")
    notifier = EmailNotifier(sender, account_email_lookup(repository))
    service = OnboardingService(repository=repository, notifier=notifier, clock=FakeClock())
    account_id, application_id = onboarded_until_review(service)
    service.approve(application_id, actor=REVIEWER)
    app = service.create_app(account_id, DeveloperType.SELF, "sunrise_sync", actor=OWNER)
    reset = service.reset_secret(app.id, actor=OWNER, overlap=timedelta(hours=24))
    messages = smtp_server.inbox.messages()
    secrets = [app.secret.reveal(), reset.secret.reveal()]
    secrets += [s[:8] for s in secrets]
    texts = [f"{m['Subject']}\n{m.get_content()}" for m in messages]
    texts += [raw.decode() for raw in smtp_server.inbox.raw()]
    assert (
        [APPROVED, PREFIX + "your app sunrise_sync was created", RESET],
        [str(DEVELOPER)] * 3,
        [],
    ) == (
        [m["Subject"] for m in messages],
        [m["To"] for m in messages],
        [s for s in secrets for text in texts if s in text],
    )


def test_a_failed_email_stays_in_the_outbox_until_sent() -> None:
    """A sender that raises leaves the event pending; a later dispatch sends it, once."""
    repository = InMemoryRepository()
    sender = FlakySender()
    clock = FakeClock()
    service = OnboardingService(
        repository=repository,
        notifier=EmailNotifier(sender, account_email_lookup(repository)),
        clock=clock,
    )
    _, application_id = onboarded_until_review(service)
    sender.down = True
    service.approve(application_id, actor=REVIEWER)
    clock.at += timedelta(minutes=1)
    still_down = service.dispatch_pending()
    sender.down = False
    clock.at += timedelta(minutes=5)
    back_up = service.dispatch_pending()
    assert (DispatchReport(failed=1), DispatchReport(delivered=1), [APPROVED], []) == (
        still_down,
        back_up,
        [m.subject for m in sender.sent],
        repository.pending_events(),
    )
