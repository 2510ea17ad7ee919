"""E-mail over SMTP (aiosmtplib): the message as text, an HTML alternative and the .ics file.

Settings: ``host`` (required), ``port`` (587; 465 for "tls", 25 for "plain"), ``security`` ("starttls", "tls" for implicit
TLS, or "plain"), ``username``/``password`` (log in only when given), ``sender``
(required, e.g. ``"Shop <noreply@shop.example>"``), ``timeout`` (10 seconds, per SMTP
step), ``tls_verify`` (true).

The Message-ID comes from the idempotency key, so a message sent again carries the same id
and receivers or relays can drop the copy. Outcomes: accepted by the server -> "sent"
(``provider_id`` is the Message-ID); a 5xx reply or a refused recipient -> "failed"; a 4xx
reply, a refused or dropped connection, a timeout -> "retry".
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import Any, ClassVar

import aiohttp
import aiosmtplib

from calserver.channels import BaseChannel, ChannelError, Message, Outcome, SendResult

SECURITY = ("starttls", "tls", "plain")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "plain": 25}


def message_id(idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@calserver>"


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ChannelError(f"email_smtp: {name} must be true or false, not {value!r}")


class Channel(BaseChannel):
    name: ClassVar[str] = "email_smtp"
    contact_field: ClassVar[str | None] = "email"

    def __init__(self, settings: Mapping[str, Any], http: aiohttp.ClientSession | None = None):
        super().__init__(settings, http)
        self.host = str(settings.get("host") or "").strip()
        if not self.host:
            raise ChannelError("email_smtp: host is required")
        self.security = str(settings.get("security") or "starttls").strip().lower()
        if self.security not in SECURITY:
            raise ChannelError(
                f"email_smtp: security must be one of {', '.join(SECURITY)},"
                f" not {settings.get('security')!r}"
            )
        port = settings.get("port")
        try:
            self.port = int(port) if port not in (None, "") else DEFAULT_PORTS[self.security]
        except (TypeError, ValueError):
            raise ChannelError(f"email_smtp: port must be a number, not {port!r}") from None
        if not 0 < self.port < 65536:
            raise ChannelError(f"email_smtp: port {self.port} is out of range")
        self.sender = str(settings.get("sender") or "").strip()
        if not self.sender:
            raise ChannelError("email_smtp: sender is required, e.g. 'Shop <noreply@shop.example>'")
        parsed = getaddresses([self.sender])
        if len(parsed) != 1 or "@" not in parsed[0][1]:
            raise ChannelError(f"email_smtp: sender {self.sender!r} is not an e-mail address")
        self.sender_address = parsed[0][1]
        self.sender_name = parsed[0][0]
        try:
            self.timeout = float(settings.get("timeout", 10))
        except (TypeError, ValueError):
            raise ChannelError("email_smtp: timeout must be a number of seconds") from None
        if self.timeout <= 0:
            raise ChannelError("email_smtp: timeout must be positive")
        self.tls_verify = _flag(settings.get("tls_verify", True), "tls_verify")
        username = settings.get("username")
        password = settings.get("password")
        self.username: str | None = str(username) if username else None
        self._password: str | None = str(password) if password else None
        if self._password and not self.username:
            raise ChannelError("email_smtp: password given without a username")

    def __repr__(self) -> str:  # never show the password
        return f"<email_smtp {self.security}://{self.host}:{self.port} from {self.sender_address}>"

    def build(self, message: Message) -> EmailMessage:
        """The e-mail for ``message``; ValueError if a header would be malformed."""
        mail = EmailMessage()
        mail["From"] = Address(self.sender_name, addr_spec=self.sender_address)
        mail["To"] = message.address.strip()
        mail["Subject"] = " ".join(message.subject.split())
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = message_id(message.idempotency_key)
        mail["X-Calserver-Idempotency-Key"] = message.idempotency_key
        # quoted-printable keeps the text 7-bit for servers without 8BITMIME.
        mail.set_content(message.text, cte="quoted-printable")
        if message.html is not None:
            mail.add_alternative(message.html, subtype="html", cte="quoted-printable")
        if message.ics is not None:
            mail.add_attachment(
                message.ics,
                maintype="text",
                subtype="calendar",
                filename="event.ics",
                params={"method": "PUBLISH", "charset": "utf-8"},
            )
        return mail

    def _scrub(self, text: str) -> str:
        """The error text without the password (raw or base64, as AUTH sends it)."""
        if self._password:
            secrets = {self._password}
            raw = self._password.encode("utf-8")
            secrets.add(base64.b64encode(raw).decode("ascii"))
            if self.username:
                plain = b"\0" + self.username.encode("utf-8") + b"\0" + raw
                secrets.add(base64.b64encode(plain).decode("ascii"))
            for secret in sorted(secrets, key=len, reverse=True):
                text = text.replace(secret, "***")
        return text

    def _result(self, outcome: Outcome, error: str) -> SendResult:
        return SendResult(outcome=outcome, error=self._scrub(error)[:500])

    async def send(self, message: Message) -> SendResult:
        try:
            mail = self.build(message)
        except (ValueError, TypeError) as exc:
            return self._result("failed", f"cannot build the e-mail: {exc}")
        mid = str(mail["Message-ID"])
        where = f"{self.host}:{self.port}"
        try:
            await aiosmtplib.send(
                mail,
                sender=self.sender_address,
                recipients=[message.address.strip()],
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self._password,
                timeout=self.timeout,
                use_tls=self.security == "tls",
                start_tls=self.security == "starttls",
                validate_certs=self.tls_verify,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            details = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            temporary = bool(codes) and all(400 <= code < 500 for code in codes)
            outcome: Outcome = "retry" if temporary else "failed"
            return self._result(outcome, f"{where} refused the recipient: {details}")
        except aiosmtplib.SMTPResponseException as exc:
            # 4xx: the server asks to try later; 5xx (and anything odd): give up.
            code_outcome: Outcome = "retry" if 400 <= exc.code < 500 else "failed"
            return self._result(code_outcome, f"{where} answered {exc.code} {exc.message}")
        except aiosmtplib.SMTPTimeoutError as exc:
            return self._result("retry", f"{where} timed out: {exc}")
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
            return self._result("retry", f"cannot talk to {where}: {exc}")
        except aiosmtplib.SMTPException as exc:
            # e.g. STARTTLS or AUTH not offered by the server: settings to fix, not to retry.
            return self._result("failed", f"{where}: {exc}")
        except (TimeoutError, OSError) as exc:  # ssl.SSLError is an OSError
            return self._result("retry", f"cannot talk to {where}: {exc}")
        return SendResult(outcome="sent", provider_id=mid)
