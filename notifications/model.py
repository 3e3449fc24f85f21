"""Notifications as plain data: what people are told (kinds), the outbox's rows and their
delivery states, people's preferences and contacts, and stored reminder schedules.

Nothing here does I/O or reads a clock: times are epoch seconds (`*_s`) passed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum

from notifications.channels import Channel

LOCALES = ("ru", "en")  # the languages people are told things in; Russian first
DEFAULT_LOCALE = "ru"
DEFAULT_TZ = "Europe/Moscow"


class NotificationError(ValueError):
    """Input a notification cannot be made from or sent with (the edges answer 4xx; a
    worker sends the notification to the dead letter with the message)."""


class InvalidAddressError(NotificationError):
    """A destination that is not one: a malformed e-mail address, phone number, Web Push
    subscription or FCM token."""


class InvalidEmailError(InvalidAddressError):
    pass


class InvalidPhoneError(InvalidAddressError):
    pass


class InvalidSubscriptionError(InvalidAddressError):
    """A malformed Web Push subscription (endpoint, p256dh or auth)."""


class InvalidTokenError(InvalidAddressError):
    """A malformed FCM registration token."""


class UnverifiedAddressError(NotificationError):
    """An e-mail address or phone number not verified yet (only verification messages go
    to those)."""


class PayloadTooLargeError(NotificationError):
    """A push payload over the push services' limit, or an SMS over its segment limit."""


class InvalidPreferencesError(NotificationError):
    """An unknown language or time zone, or quiet hours out of range."""


class TemplateError(NotificationError):
    """A template that cannot be rendered as asked."""


class MissingTemplateError(TemplateError):
    """No template for this kind, language and channel."""


class MissingVariableError(TemplateError):
    """A variable the kind's templates need was not given."""


class UnknownVariableError(TemplateError):
    """A variable the kind does not declare was given (medical details among them:
    `symptoms`, `notes`, `diagnosis` are never accepted)."""


class Kind(StrEnum):
    """Every notification kind (issue 16). The value is stored in the outbox."""

    # doctors
    OFFER = "offer"  # a visit offered to a doctor whose app (socket) is closed
    # patients: the visit under way
    DOCTOR_ASSIGNED = "doctor_assigned"
    DOCTOR_ON_THE_WAY = "doctor_on_the_way"
    DOCTOR_ARRIVING = "doctor_arriving"
    DOCTOR_ARRIVED = "doctor_arrived"
    BOOKING_CANCELLED = "booking_cancelled"
    BOOKING_REASSIGNED = "booking_reassigned"
    # money
    PAYMENT_RECEIPT = "payment_receipt"
    REFUND = "refund"
    # reminders (stored schedules)
    VISIT_REMINDER_24H = "visit_reminder_24h"
    VISIT_REMINDER_1H = "visit_reminder_1h"
    EVENT_REMINDER = "event_reminder"
    # doctors' documents
    DOCUMENT_APPROVED = "document_approved"
    DOCUMENT_REJECTED = "document_rejected"
    # accounts
    PASSWORD_RESET = "password_reset"
    EMAIL_VERIFICATION = "email_verification"
    PHONE_VERIFICATION = "phone_verification"
    # security alerts
    NEW_SIGN_IN = "new_sign_in"
    SESSION_REVOKED = "session_revoked"


# Variables a kind's templates may use, all strings. Times are epoch seconds as text
# (`*_at_s`, shown in the recipient's language and time zone by the `when` filter),
# money is kopecks as text (`*_kopecks`, shown by the `money` filter). Every kind also
# gets `name` (the recipient's first name; may be empty) and `url` (where the message
# leads in the app). Nothing medical is ever among them: see MEDICAL_VARIABLES.
COMMON_VARIABLES: frozenset[str] = frozenset({"name", "url"})
KIND_VARIABLES: dict[Kind, frozenset[str]] = {
    Kind.OFFER: frozenset({"eta_min", "area", "expires_in_s"}),
    Kind.DOCTOR_ASSIGNED: frozenset({"doctor_name", "eta_min"}),
    Kind.DOCTOR_ON_THE_WAY: frozenset({"doctor_name", "eta_min"}),
    Kind.DOCTOR_ARRIVING: frozenset({"doctor_name", "eta_min"}),
    Kind.DOCTOR_ARRIVED: frozenset({"doctor_name"}),
    Kind.BOOKING_CANCELLED: frozenset({"visit_at_s"}),
    Kind.BOOKING_REASSIGNED: frozenset({"doctor_name", "eta_min"}),
    Kind.PAYMENT_RECEIPT: frozenset({"amount_kopecks", "receipt_url"}),
    Kind.REFUND: frozenset({"amount_kopecks"}),
    Kind.VISIT_REMINDER_24H: frozenset({"visit_at_s", "address"}),
    Kind.VISIT_REMINDER_1H: frozenset({"visit_at_s", "address"}),
    Kind.EVENT_REMINDER: frozenset({"event_title", "event_at_s"}),
    Kind.DOCUMENT_APPROVED: frozenset({"document"}),
    Kind.DOCUMENT_REJECTED: frozenset({"document", "reason"}),
    Kind.PASSWORD_RESET: frozenset({"expires_min"}),
    Kind.EMAIL_VERIFICATION: frozenset({"expires_min"}),
    Kind.PHONE_VERIFICATION: frozenset({"code", "expires_min"}),
    Kind.NEW_SIGN_IN: frozenset({"device", "place", "at_s"}),
    Kind.SESSION_REVOKED: frozenset({"device", "at_s"}),
}

# Never accepted as a notification's variable (issue 16: no medical details in SMS, push
# or e-mail subjects; the outbox keeps none either).
MEDICAL_VARIABLES: frozenset[str] = frozenset(
    {
        "symptoms",
        "notes",
        "note",
        "diagnosis",
        "complaint",
        "complaints",
        "medical_notes",
        "anamnesis",
        "treatment",
        "prescription",
    }
)


def kind_variables(kind: Kind) -> frozenset[str]:
    """Every variable the kind's templates may use (its own and the common ones)."""
    return KIND_VARIABLES[kind] | COMMON_VARIABLES


class NotificationStatus(StrEnum):
    """A row of the outbox, one message for one destination by one channel.

    queued -> sending (claimed by a worker, with a lease; attempts counted) ->
    sent (the provider took it) -> delivered (the provider, or the device, says so);
    sending -> failed (a transient error: due again at next_attempt_s) -> sending ...;
    sending -> dead (a permanent error, or attempts exhausted; replay puts it back to
    queued); queued | failed -> skipped (not needed any more: an earlier channel of its
    group was delivered, or it expired)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"
    SKIPPED = "skipped"


# Statuses a worker may claim (SENDING only once its lease ran out: a worker died).
CLAIMABLE_STATUSES = frozenset(
    {NotificationStatus.QUEUED, NotificationStatus.FAILED, NotificationStatus.SENDING}
)
FINAL_STATUSES = frozenset(
    {NotificationStatus.DELIVERED, NotificationStatus.DEAD, NotificationStatus.SKIPPED}
)
TRANSITIONS: dict[NotificationStatus, frozenset[NotificationStatus]] = {
    NotificationStatus.QUEUED: frozenset({NotificationStatus.SENDING, NotificationStatus.SKIPPED}),
    NotificationStatus.SENDING: frozenset(
        {
            NotificationStatus.SENDING,  # the lease ran out and another worker claimed it
            NotificationStatus.SENT,
            NotificationStatus.DELIVERED,
            NotificationStatus.FAILED,
            NotificationStatus.DEAD,
            NotificationStatus.SKIPPED,  # found unneeded when claimed
        }
    ),
    NotificationStatus.SENT: frozenset({NotificationStatus.DELIVERED}),
    NotificationStatus.DELIVERED: frozenset(),
    NotificationStatus.FAILED: frozenset(
        {
            NotificationStatus.SENDING,
            NotificationStatus.SKIPPED,
            NotificationStatus.DELIVERED,  # a receipt for a send that timed out
        }
    ),
    NotificationStatus.DEAD: frozenset({NotificationStatus.QUEUED}),  # replay
    NotificationStatus.SKIPPED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Notification:
    """One row of the outbox: one message to one destination by one channel.

    Rows made for one cause share `group_key` (the cause's key, e.g.
    "booking:42:doctor_assigned") and are numbered by `step` in the kind's channel plan.
    A `fallback` row is sent only if no row of an earlier step of its group was delivered
    by the time it is due (the offer's SMS after its push).
    """

    notification_id: str  # derived from idempotency_key (see rules.notification_id)
    idempotency_key: str  # unique; the same on every retry; passed to providers
    group_key: str
    step: int
    user_id: str
    kind: Kind
    channel: Channel
    to: str  # as in channels.Rendered.to: e-mail, E.164 phone, subscription JSON, FCM token
    locale: str  # "ru" | "en"
    tz: str  # the recipient's IANA time zone, for times in the text
    variables: dict[str, str]
    created_s: float
    next_attempt_s: float  # due at (later than created_s when held by quiet hours)
    expires_s: float  # not worth sending after this: skipped
    status: NotificationStatus = NotificationStatus.QUEUED
    fallback: bool = False
    urgent: bool = False  # an emergency or an offer: push urgency "high"
    attempts: int = 0  # claims so far (a claim counts even if the worker then dies)
    lease_until_s: float | None = None  # while sending
    provider: str | None = None  # the ChannelSender.name that took it
    provider_id: str | None = None  # the provider's message id
    last_error: str | None = None  # the last failure's reason (never with a secret)
    updated_s: float | None = None
    sent_s: float | None = None
    delivered_s: float | None = None


@dataclass(frozen=True, slots=True)
class Preferences:
    """One person's choices. Default: every channel on for every kind, Russian, Moscow
    time, no quiet hours.

    `off` holds the (kind, channel) pairs turned off. Kinds a person cannot silence
    (codes they asked for; security alerts by e-mail) are sent regardless (see
    rules.MANDATORY). Quiet hours are minutes after local midnight in `tz`: [start, end),
    wrapping past midnight when start > end (22:00 -> 07:00 is 1320 -> 420); None, or
    start == end: none."""

    user_id: str
    locale: str = DEFAULT_LOCALE
    tz: str = DEFAULT_TZ
    off: frozenset[tuple[Kind, Channel]] = frozenset()
    quiet_start_min: int | None = None
    quiet_end_min: int | None = None

    def allows(self, kind: Kind, channel: Channel) -> bool:
        return (kind, channel) not in self.off


@dataclass(frozen=True, slots=True)
class WebPushSubscription:
    """What the browser's PushManager.subscribe() gave the app (validated: see
    rules.validate_subscription). Keys are base64url without padding."""

    endpoint: str  # https URL of the push service
    p256dh: str  # the browser's P-256 public key, 65 bytes uncompressed
    auth: str  # the 16-byte authentication secret

    def to_json(self) -> str:
        """The subscription as the Push API's JSON (what channels.Rendered.to carries)."""
        return json.dumps(
            {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}},
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True)
class Contact:
    """Where a person can be reached. Only verified e-mail addresses and phones are used
    (except by the messages that verify them)."""

    user_id: str
    email: str | None = None
    email_verified: bool = False
    phone: str | None = None  # E.164
    phone_verified: bool = False
    push_subscriptions: tuple[WebPushSubscription, ...] = ()
    fcm_tokens: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reminder:
    """A stored schedule: at due_s, remind user_id of booking_id's visit at visit_s.
    Stored, not a timer in memory: it survives restarts. `reminder_id` is derived from
    (booking_id, kind, visit_s), so scheduling the same visit twice stores it once."""

    reminder_id: str
    booking_id: str
    user_id: str
    kind: Kind  # VISIT_REMINDER_24H | VISIT_REMINDER_1H (EVENT_REMINDER when events exist)
    due_s: float
    visit_s: float
    sent: bool = False
    sent_s: float | None = None


@dataclass(frozen=True, slots=True)
class NotifyRequest:
    """What a use case asks for: tell user_id about something (rules.plan turns it into
    outbox rows).

    `event_key` names the cause and is the same if the cause is seen again (a retried
    transaction, a relay's second delivery): rows are idempotent on it. `to` is for the
    verification kinds only: the address being verified (not the contact's)."""

    event_key: str
    user_id: str
    kind: Kind
    variables: dict[str, str] = field(default_factory=dict)
    emergency: bool = False  # every channel, through quiet hours
    expires_s: float | None = None  # None: created + the kind's time to live
    to: str | None = None
