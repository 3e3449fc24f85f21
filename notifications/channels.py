"""The channels and what a channel adapter is given and answers (shared by the pure
rules and the adapters in storage/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Channel(StrEnum):
    WEBPUSH = "webpush"  # the installed web app (VAPID, RFC 8030/8291)
    FCM = "fcm"  # native apps (FCM HTTP v1)
    SMS = "sms"  # Twilio or the Russian gateway
    EMAIL = "email"  # SMTP with STARTTLS, or SendGrid


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message ready for one channel: rendered in the recipient's language, with no
    medical details (symptoms, notes) in `text` of SMS and push, nor in `subject`."""

    notification_id: str
    idempotency_key: str  # passed to providers that honour one; the same on every retry
    channel: Channel
    to: str  # e-mail address; E.164 phone ("+79161234567"); Web Push subscription JSON
    # ({"endpoint", "keys": {"p256dh", "auth"}}); FCM registration token
    text: str  # SMS body, push body, e-mail plain text
    subject: str | None = None  # e-mail subject, push title
    html: str | None = None  # e-mail HTML part
    data: dict[str, str] = field(default_factory=dict)  # push data (kind, booking_id, url)
    unsubscribe_url: str | None = None  # e-mail: List-Unsubscribe (RFC 8058 one-click)
    ttl_s: int = 3_600  # push: how long the push service may keep it
    urgency: str = "normal"  # push: very-low | low | normal | high (offers, emergencies)


@dataclass(frozen=True, slots=True)
class Sent:
    """The provider took the message."""

    provider_id: str | None  # its message id (SMTP: the Message-ID), if it gives one
    delivered: bool = False  # True only where the provider says delivered, not queued


class SendError(Exception):
    """The message was not taken."""


class TransientSendError(SendError):
    """5xx, a timeout, a connection error, 429: retry later (after retry_after_s when the
    provider said so)."""

    def __init__(self, reason: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class PermanentSendError(SendError):
    """A 4xx that retrying cannot mend (a bad number, an expired push subscription: 404 or
    410, an invalid token): the notification goes to the dead letter with the reason.
    `gone` marks a subscription or token to forget."""

    def __init__(self, reason: str, *, gone: bool = False) -> None:
        super().__init__(reason)
        self.gone = gone


class ChannelSender(Protocol):
    """One provider for one channel. Never logs or raises with a secret (keys, tokens) or
    the message's text in it."""

    channel: Channel
    name: str  # "webpush", "fcm", "twilio", "smsru", "smtp", "sendgrid"

    async def send(self, message: Rendered) -> Sent: ...

    async def close(self) -> None: ...
