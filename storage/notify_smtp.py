"""E-mail by SMTP with STARTTLS, from an async client (aiosmtplib).

- The message: multipart/alternative (text/plain, then text/html when given), From,
  To, Subject, Date, Auto-Submitted: auto-generated (RFC 3834) and a Message-ID made from
  the idempotency key (<sha256…@domain>): every retry of one notification carries the same
  Message-ID, so a duplicate after a lost answer can be recognised by whoever reads it.
  With an unsubscribe URL (https): List-Unsubscribe: <url> and List-Unsubscribe-Post:
  List-Unsubscribe=One-Click (RFC 8058; the relay's DKIM signature must cover both).
- The connection: STARTTLS is required (starttls=False only for a local relay on
  loopback); certificates are verified (ca_file for a private CA); AUTH when a username
  is given. A few connections are kept open and reused; one that failed is closed.
- Replies: 4xx (greylisting, mailbox busy, 421 closing) -> TransientSendError; 5xx (a bad
  recipient: 550 5.1.1, a refused message) -> PermanentSendError; timeouts and refused
  connections -> TransientSendError. An authentication failure (535) is permanent (a
  setting), 454 transient.
- The password lives only in a closure; no aiosmtplib exception is chained to ours.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
import time
from collections.abc import Callable
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlsplit

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from notifications.channels import (
    Channel,
    PermanentSendError,
    Rendered,
    SendError,
    Sent,
    TransientSendError,
)
from storage.notify_common import mask_email, scrubber, short

log = logging.getLogger(__name__)

MAX_SUBJECT_CHARS = 250


def message_id(idempotency_key: str, domain: str) -> str:
    """The same Message-ID on every retry of one notification."""
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}@{domain}>"


def check_address(address: str) -> str:
    """A deliverable-looking address, normalised; PermanentSendError otherwise."""
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        pass
    raise PermanentSendError("email: the address is not a valid e-mail address")


def build_email(
    message: Rendered,
    *,
    from_address: str,
    from_name: str | None = None,
    domain: str | None = None,
    now_s: float | None = None,
) -> EmailMessage:
    """The e-mail for a rendered notification; PermanentSendError for what cannot be sent."""
    to = check_address(message.to)
    subject = (message.subject or "").strip()
    if not subject:
        raise PermanentSendError("email: an e-mail needs a subject")
    if len(subject) > MAX_SUBJECT_CHARS or "\r" in subject or "\n" in subject:
        raise PermanentSendError("email: the subject is over 250 characters or has line breaks")
    local, _, from_domain = from_address.rpartition("@")
    mail = EmailMessage()
    mail["From"] = Address(display_name=from_name or "", username=local, domain=from_domain)
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(time.time() if now_s is None else now_s, usegmt=True)
    mail["Message-ID"] = message_id(message.idempotency_key, domain or from_domain)
    mail["Auto-Submitted"] = "auto-generated"
    if message.unsubscribe_url:
        url = message.unsubscribe_url
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.netloc or any(c in url for c in "<>\r\n "):
            raise PermanentSendError("email: the unsubscribe URL must be https (RFC 8058)")
        mail["List-Unsubscribe"] = f"<{url}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(message.text)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    return mail


def smtp_error(code: int, text: str, where: str) -> SendError:
    reason = f"smtp: {where} refused: {code} {text}".rstrip()
    if 400 <= code < 500:
        return TransientSendError(reason)
    return PermanentSendError(reason)


class SmtpSender:
    """ChannelSender for e-mail by SMTP. `message.to` is the address."""

    channel = Channel.EMAIL
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        from_address: str,
        from_name: str | None = None,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        ca_file: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        timeout_s: float = 15.0,
        connections: int = 2,
        helo_name: str = "localhost",
        message_id_domain: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if "@" not in from_address:
            raise ValueError("from_address is an e-mail address")
        if username and not password:
            raise ValueError("an SMTP username needs its password")
        if not starttls and host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("STARTTLS is required except for a relay on loopback")
        if timeout_s <= 0 or connections < 1:
            raise ValueError("timeout_s must be positive and connections at least 1")
        self.host = host
        self.port = port
        self.from_address = from_address
        self.from_name = from_name
        self.username = username
        self.starttls = starttls
        self.timeout_s = timeout_s
        self.helo_name = helo_name
        self.domain = message_id_domain or from_address.rpartition("@")[2]
        self.connects = 0
        self._clock = clock
        self._tls = tls_context or ssl.create_default_context(cafile=ca_file)
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(connections)
        self._scrub = scrubber([password])

        async def login(client: aiosmtplib.SMTP) -> None:  # the password stays here
            if username and password:
                await client.login(username, password)

        self._login = login

    def __repr__(self) -> str:
        return (
            f"SmtpSender(host={self.host!r}, port={self.port}, username={self.username!r}, "
            f"from_address={self.from_address!r})"
        )

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self.timeout_s,
            start_tls=self.starttls,
            tls_context=self._tls if self.starttls else None,
            local_hostname=self.helo_name,
        )
        self.connects += 1
        await client.connect()
        await self._login(client)
        return client

    async def send(self, message: Rendered) -> Sent:
        mail = build_email(
            message,
            from_address=self.from_address,
            from_name=self.from_name,
            domain=self.domain,
            now_s=self._clock(),
        )
        to = str(mail["To"])
        scrub = self._scrub
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            reused = client is not None
            error: SendError | None = None
            for _ in (1, 2):
                error, dropped = None, False
                try:
                    async with asyncio.timeout(self.timeout_s * 2):
                        if client is None or not client.is_connected:
                            client, reused = await self._connect(), False
                        await client.send_message(mail, sender=self.from_address, recipients=[to])
                except aiosmtplib.SMTPServerDisconnected:
                    error = TransientSendError("smtp: the server closed the connection")
                    dropped = True
                except (aiosmtplib.SMTPTimeoutError, TimeoutError):
                    error = TransientSendError(f"smtp: no answer within {self.timeout_s:g} s")
                except aiosmtplib.SMTPConnectError as exc:
                    error = TransientSendError(f"smtp: cannot connect ({type(exc).__name__})")
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    first = exc.recipients[0]
                    error = smtp_error(first.code, scrub(short(first.message)), "the recipient")
                except aiosmtplib.SMTPAuthenticationError as exc:
                    error = smtp_error(exc.code, scrub(short(exc.message)), "the login")
                except aiosmtplib.SMTPResponseException as exc:
                    error = smtp_error(exc.code, scrub(short(exc.message)), type(exc).__name__)
                except aiosmtplib.SMTPException as exc:
                    error = TransientSendError(f"smtp: {type(exc).__name__}")
                except OSError as exc:  # ssl.SSLError included
                    error = TransientSendError(f"smtp: connection failed ({type(exc).__name__})")
                if error is None and client is not None:
                    self._idle.append(client)
                    log.debug(
                        "smtp: sent to %s (notification %s)",
                        mask_email(to), message.notification_id,
                    )  # fmt: skip
                    return Sent(provider_id=str(mail["Message-ID"]))
                if client is not None:
                    client.close()
                    client = None
                if not (reused and dropped):  # a kept connection the server had dropped:
                    break  # once more on a fresh one; anything else is the answer
                reused = False
        if error is None:  # pragma: no cover
            error = TransientSendError("smtp: not sent")
        log.info("smtp: to %s failed: %s", mask_email(to), error)
        raise error

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                async with asyncio.timeout(2):
                    await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
