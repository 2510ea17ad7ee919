"""The SMTP e-mail channel against a real SMTP server (aiosmtpd, in its own thread)."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from calserver.channels import ChannelError, Message, load
from calserver.channels.email_smtp import Channel, message_id

ICS = (
    "BEGIN:VCALENDAR\r\n"
    "VERSION:2.0\r\n"
    "PRODID:-//calserver//test//EN\r\n"
    "METHOD:PUBLISH\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:launch-1@calserver\r\n"
    "DTSTAMP:20250101T090000Z\r\n"
    "DTSTART:20250301T170000Z\r\n"
    "DTEND:20250301T180000Z\r\n"
    'SUMMARY:Запуск \U0001f680 "beta"\r\n'
    "LOCATION:Москва\\, офис\r\n"
    "END:VEVENT\r\n"
    "END:VCALENDAR\r\n"
).encode()

PASSWORD = "s3cret-Pa55word"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Recorder:
    """Records every accepted envelope; can answer RCPT/DATA with a canned error or stall."""

    def __init__(
        self, rcpt_reply: str | None = None, data_reply: str | None = None, delay: float = 0
    ):
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.delay = delay
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class Authenticator:
    """Accepts shop/PASSWORD and notes the mechanisms used; login "echo" gets its password
    echoed back in the 535 reply, as a careless server might."""

    def __init__(self) -> None:
        self.mechanisms: list[str] = []

    def __call__(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        self.mechanisms.append(mechanism)
        assert isinstance(data, LoginPassword)
        if data.login == b"echo":
            return AuthResult(
                success=False, handled=False, message=f"535 bad password {data.password.decode()}"
            )
        ok = data.login == b"shop" and data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., Controller]]:
    """Start aiosmtpd controllers on free ports; every one is stopped at teardown."""
    started: list[Controller] = []

    def start(handler: Recorder, **kwargs: Any) -> Controller:
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost: (cert.pem, key.pem)."""
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        # cryptography is not a dependency of the project; the openssl tool does the same.
        if not shutil.which("openssl"):
            pytest.skip("needs the cryptography package or the openssl tool")
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=localhost"),
                *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
                *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
                *("-keyout", str(key_path), "-out", str(cert_path)),
            ],
            check=True,
            capture_output=True,
        )
        return cert_path, key_path
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def settings(controller: Controller, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": controller.port,
        "security": "plain",
        "sender": "Shop <noreply@shop.example>",
        "timeout": 5,
    }
    return base | extra


def message(**extra: Any) -> Message:
    fields: dict[str, Any] = {
        "idempotency_key": "trigger-42:email_smtp",
        "address": "ivan@example.org",
        "subject": 'Напоминание: «Запуск» \U0001f680 "beta" завтра',
        "text": 'Привет, Иван! \U0001f389\nЗапуск "beta" — завтра в 17:00.\n',
        "html": "<p>Привет, <b>Иван</b>! \U0001f389 Запуск &quot;beta&quot; — завтра.</p>",
        "ics": ICS,
    }
    return Message(**(fields | extra))


def parsed(envelope: Envelope) -> EmailMessage:
    assert isinstance(envelope.content, bytes)
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def check_received(recorder: Recorder, sent: Message) -> EmailMessage:
    [envelope] = recorder.envelopes
    assert envelope.mail_from == "noreply@shop.example"
    assert envelope.rcpt_tos == [sent.address]
    mail = parsed(envelope)
    assert mail["From"].addresses[0].display_name == "Shop"
    assert mail["From"].addresses[0].addr_spec == "noreply@shop.example"
    assert mail["To"] == sent.address
    assert mail["Subject"] == sent.subject
    assert mail["Message-ID"] == message_id(sent.idempotency_key)
    assert mail["X-Calserver-Idempotency-Key"] == sent.idempotency_key
    assert mail["Date"].datetime.tzinfo is not None
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == sent.text
    return mail


async def test_plain_sends_text_html_and_ics(smtp_server: Callable[..., Controller]) -> None:
    recorder = Recorder()
    controller = smtp_server(recorder)
    channel = load("email_smtp", settings(controller))
    assert isinstance(channel, Channel)
    assert (channel.name, channel.contact_field) == ("email_smtp", "email")
    sent = message()

    result = await channel.send(sent)

    assert result.outcome == "sent", result.error
    assert result.provider_id == message_id(sent.idempotency_key)
    assert result.provider_id.startswith("<") and result.provider_id.endswith("@calserver>")
    mail = check_received(recorder, sent)
    assert mail.get_content_type() == "multipart/mixed"
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    assert html.get_content().replace("\r\n", "\n").rstrip("\n") == sent.html
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "event.ics"
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH"
    assert attachment.get_param("charset") == "utf-8"
    assert attachment.get_payload(decode=True) == ICS


async def test_same_key_same_message_id(smtp_server: Callable[..., Controller]) -> None:
    recorder = Recorder()
    channel = Channel(settings(smtp_server(recorder)))
    first = await channel.send(message(html=None, ics=None))
    again = await channel.send(message(html=None, ics=None))
    other = await channel.send(message(html=None, ics=None, idempotency_key="trigger-43"))
    assert first.outcome == again.outcome == other.outcome == "sent"
    assert first.provider_id == again.provider_id != other.provider_id
    ids = [parsed(envelope)["Message-ID"] for envelope in recorder.envelopes]
    assert ids == [first.provider_id, first.provider_id, other.provider_id]


async def test_text_only_is_a_single_part(smtp_server: Callable[..., Controller]) -> None:
    recorder = Recorder()
    channel = Channel(settings(smtp_server(recorder)))
    sent = message(html=None, ics=None)
    result = await channel.send(sent)
    assert result.outcome == "sent", result.error
    mail = check_received(recorder, sent)
    assert mail.get_content_type() == "text/plain"
    assert not mail.is_multipart()
    assert mail.get_content_charset() == "utf-8"
    # the wire stays 7-bit: no server needs 8BITMIME
    [envelope] = recorder.envelopes
    assert isinstance(envelope.content, bytes)
    assert envelope.content.isascii()


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_starttls_with_login(
    smtp_server: Callable[..., Controller], server_tls: ssl.SSLContext, mechanism: str
) -> None:
    recorder, auth = Recorder(), Authenticator()
    controller = smtp_server(
        recorder,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=auth,
        auth_required=True,
        auth_exclude_mechanism=[other for other in ("LOGIN", "PLAIN") if other != mechanism],
    )
    base = settings(controller, security="starttls", tls_verify=False)
    sent = message()

    result = await Channel(base | {"username": "shop", "password": PASSWORD}).send(sent)
    assert result.outcome == "sent", result.error
    check_received(recorder, sent)
    assert auth.mechanisms == [mechanism]

    # the wrong password is a permanent failure (535), and its text never shows a password
    wrong = "wrong-Pa55word"
    result = await Channel(base | {"username": "shop", "password": wrong}).send(sent)
    assert result.outcome == "failed", result.error
    assert "535" in result.error
    assert wrong not in result.error and PASSWORD not in result.error

    # even when the server repeats the password in its reply
    result = await Channel(base | {"username": "echo", "password": wrong}).send(sent)
    assert result.outcome == "failed", result.error
    assert "535 bad password ***" in result.error
    assert wrong not in result.error

    # no login at all: the server demands AUTH (530) - a setting to fix, not to retry
    result = await Channel(base).send(sent)
    assert result.outcome == "failed"
    assert "530" in result.error
    assert len(recorder.envelopes) == 1


async def test_starttls_verifies_the_certificate_by_default(
    smtp_server: Callable[..., Controller], server_tls: ssl.SSLContext
) -> None:
    recorder = Recorder()
    controller = smtp_server(recorder, tls_context=server_tls, require_starttls=True)
    channel = Channel(settings(controller, security="starttls"))
    result = await channel.send(message())
    assert result.outcome == "retry"
    assert "certificate" in result.error.lower()
    assert recorder.envelopes == []


async def test_plain_client_refused_by_a_starttls_only_server(
    smtp_server: Callable[..., Controller], server_tls: ssl.SSLContext
) -> None:
    recorder = Recorder()
    controller = smtp_server(recorder, tls_context=server_tls, require_starttls=True)
    result = await Channel(settings(controller)).send(message())
    assert result.outcome == "failed"  # 530 Must issue a STARTTLS command first
    assert "530" in result.error
    assert recorder.envelopes == []


async def test_implicit_tls(
    smtp_server: Callable[..., Controller], server_tls: ssl.SSLContext
) -> None:
    recorder = Recorder()
    controller = smtp_server(recorder, ssl_context=server_tls)
    sent = message()
    result = await Channel(settings(controller, security="tls", tls_verify=False)).send(sent)
    assert result.outcome == "sent", result.error
    check_received(recorder, sent)


@pytest.mark.parametrize(
    ("recorder", "outcome", "code"),
    [
        (Recorder(rcpt_reply="550 mailbox unavailable"), "failed", "550"),
        (Recorder(rcpt_reply="450 mailbox busy"), "retry", "450"),
        (Recorder(data_reply="451 try later"), "retry", "451"),
        (Recorder(data_reply="554 rejected as spam"), "failed", "554"),
    ],
    ids=["rcpt-550", "rcpt-450", "data-451", "data-554"],
)
async def test_smtp_replies(
    smtp_server: Callable[..., Controller], recorder: Recorder, outcome: str, code: str
) -> None:
    channel = Channel(settings(smtp_server(recorder)))
    result = await channel.send(message())
    assert result.outcome == outcome
    assert code in result.error
    assert result.provider_id is None


async def test_connection_refused_is_retry() -> None:
    port = free_port()  # nothing listens there any more
    channel = Channel(
        {
            "host": "127.0.0.1",
            "port": port,
            "security": "plain",
            "sender": "noreply@shop.example",
            "username": "shop",
            "password": PASSWORD,
            "timeout": 2,
        }
    )
    result = await channel.send(message())
    assert result.outcome == "retry"
    assert str(port) in result.error
    assert PASSWORD not in result.error
    assert PASSWORD not in repr(channel)


async def test_timeout_is_retry(smtp_server: Callable[..., Controller]) -> None:
    recorder = Recorder(delay=1.5)
    channel = Channel(settings(smtp_server(recorder), timeout=0.3))
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await channel.send(message())
    assert result.outcome == "retry"
    assert "timed out" in result.error
    assert loop.time() - started < 1.2


async def test_bad_address_fails_without_sending(smtp_server: Callable[..., Controller]) -> None:
    recorder = Recorder()
    channel = Channel(settings(smtp_server(recorder)))
    result = await channel.send(message(address="ivan@example.org\r\nBcc: all@example.org"))
    assert result.outcome == "failed"
    assert recorder.envelopes == []


def test_settings_are_validated() -> None:
    good = {"host": "smtp.example", "sender": "Shop <noreply@shop.example>"}
    channel = Channel(good)
    assert (channel.port, channel.security, channel.timeout, channel.tls_verify) == (
        587,
        "starttls",
        10.0,
        True,
    )
    assert Channel(good | {"security": "tls"}).port == 465
    assert Channel(good | {"security": "plain", "port": "2525"}).port == 2525
    assert Channel(good | {"tls_verify": "false"}).tls_verify is False
    bad: list[dict[str, Any]] = [
        {"sender": "noreply@shop.example"},
        {"host": "", "sender": "noreply@shop.example"},
        {"host": "smtp.example"},
        {"host": "smtp.example", "sender": "not an address"},
        good | {"security": "ssl"},
        good | {"port": "smtp"},
        good | {"port": 70000},
        good | {"timeout": 0},
        good | {"tls_verify": "maybe"},
        good | {"password": PASSWORD},
    ]
    for wrong in bad:
        with pytest.raises(ChannelError) as info:
            load("email_smtp", wrong)
        assert PASSWORD not in str(info.value)
