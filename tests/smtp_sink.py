"""A real SMTP server for the tests (aiosmtpd) that requires STARTTLS and AUTH, with a
self-signed certificate for 127.0.0.1 made here with `cryptography`, and keeps every
message it takes (parsed with the email package) and how often each Message-ID came.

    with running_smtp_sink(tmp_path, username="tot", password="...") as sink:
        SmtpSender("127.0.0.1", sink.port, ca_file=sink.cert_path, ...)
        sink.messages[0]["List-Unsubscribe"]; sink.count_by_message_id

Faults: `reject_rcpt[address] = "550 5.1.1 ..."` refuses a recipient (every time);
`data_replies.append("451 4.3.0 ...")` answers the next DATA with that reply (not taken);
`data_delay_s` holds DATA's answer that long (a timeout for the client), the message
taken all the same, as a slow real server would.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email
import email.policy
import ipaddress
import threading
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer  # noqa: N811
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fake_kit import free_port


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A P-256 key and a self-signed certificate for `host` (IP and name SANs), as PEM
    files in `directory`: (cert_path, key_path). The certificate is also the CA the
    client trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class SmtpSink:
    """The handler: what was taken, and the faults to answer with."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs)
        self.count_by_message_id: Counter[str] = Counter()
        self.reject_rcpt: dict[str, str] = {}
        self.data_replies: list[str] = []
        self.data_delay_s = 0.0
        self.logins: list[str] = []
        self.auth_failures = 0
        self.port = 0
        self.cert_path = Path()

    def authenticate(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        with self.lock:
            if ok:
                self.logins.append(auth_data.login.decode())
            else:
                self.auth_failures += 1
        return AuthResult(success=ok, handled=False)  # aiosmtpd then answers 535

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self.reject_rcpt.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTPServer, session: Session, envelope: Envelope
    ) -> str:
        with self.lock:
            reply = self.data_replies.pop(0) if self.data_replies else None
        if reply:
            return reply
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
            self.count_by_message_id[str(parsed["Message-ID"])] += 1
        if self.data_delay_s:
            await asyncio.sleep(self.data_delay_s)
        return "250 2.0.0 Message accepted for delivery"

    username = ""
    password = ""


@contextlib.contextmanager
def running_smtp_sink(
    directory: Path,
    *,
    username: str = "tot",
    password: str = "smtp-password",
    port: int | None = None,
) -> Iterator[SmtpSink]:
    """aiosmtpd on 127.0.0.1 requiring STARTTLS, then AUTH (PLAIN/LOGIN), in a thread.
    The certificate in `directory` is made once and reused (a restart on the same port
    keeps what clients trust)."""
    import ssl

    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    if not (cert_path.exists() and key_path.exists()):
        cert_path, key_path = self_signed_certificate(directory)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_path, key_path)
    sink = SmtpSink()
    sink.username, sink.password = username, password
    sink.port, sink.cert_path = port or free_port(), cert_path
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=sink.port,
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=sink.authenticate,
        decode_data=False,
        ident="tot-test-smtp",
    )
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
