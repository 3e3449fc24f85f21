"""The rules of notifications, pure (no I/O, no clock: `now_s` and random numbers `u` in
[0, 1) come in as arguments):

- the channel plan of each kind (order, fallback delay, time to live), and `plan`, which
  turns a request into outbox rows for one person's preferences and contacts;
- quiet hours in the person's time zone;
- retries: exponential backoff with full jitter, what a send error means, the states a
  row goes through (`claimed`, `after_sent`, `after_error`, `after_delivered`,
  `replayed`, `skip_reason`);
- reminders of a scheduled visit;
- validation of e-mail addresses, phone numbers (E.164), Web Push subscriptions and FCM
  tokens;
- payload limits: push payloads and SMS segments;
- one-click unsubscribe tokens (RFC 8058).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import email_validator

from notifications.channels import Channel, PermanentSendError, Rendered, Sent, TransientSendError
from notifications.model import (
    DEFAULT_LOCALE,
    DEFAULT_TZ,
    LOCALES,
    MEDICAL_VARIABLES,
    TRANSITIONS,
    Contact,
    InvalidEmailError,
    InvalidPhoneError,
    InvalidPreferencesError,
    InvalidSubscriptionError,
    InvalidTokenError,
    Kind,
    MissingVariableError,
    Notification,
    NotificationError,
    NotificationStatus,
    NotifyRequest,
    PayloadTooLargeError,
    Preferences,
    Reminder,
    UnknownVariableError,
    UnverifiedAddressError,
    WebPushSubscription,
    kind_variables,
)

# ============================================================================ channel plans

PUSH: tuple[Channel, ...] = (Channel.WEBPUSH, Channel.FCM)  # every device, at once
EVERY_CHANNEL: tuple[Channel, ...] = (Channel.WEBPUSH, Channel.FCM, Channel.SMS, Channel.EMAIL)
QUIET_CHANNELS = frozenset({Channel.WEBPUSH, Channel.FCM, Channel.SMS})  # e-mail makes no sound


@dataclass(frozen=True, slots=True)
class Step:
    """Channels tried together, `after_s` after the request. A `fallback` step goes only
    if nothing of an earlier step was delivered by then."""

    channels: tuple[Channel, ...]
    after_s: float = 0.0
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class KindPolicy:
    steps: tuple[Step, ...]
    ttl_s: float  # worth sending for this long after the request (unless it says expires_s)
    quiet: bool = True  # held by quiet hours (push and SMS; e-mail is silent and goes)
    mandatory: frozenset[Channel] = frozenset()  # channels a person cannot turn off
    urgent: bool = False  # push urgency "high"
    emergency_capable: bool = False  # may be asked with emergency=True (a visit's kinds)
    to_request_address: bool = False  # goes to NotifyRequest.to (the address being verified)
    unverified_email_ok: bool = False  # the account's e-mail, verified or not (its login)


_HOUR = 3_600.0
_DAY = 86_400.0
_ALL = frozenset(EVERY_CHANNEL)

POLICIES: dict[Kind, KindPolicy] = {
    # A doctor's offer: push to every device, then SMS if not delivered within 10 s;
    # through quiet hours (a doctor on shift wants it).
    Kind.OFFER: KindPolicy(
        steps=(Step(PUSH), Step((Channel.SMS,), after_s=10.0, fallback=True)),
        ttl_s=120.0,
        quiet=False,
        urgent=True,
        emergency_capable=True,
    ),
    # A visit under way: the patient is waiting for these now, so they go through quiet
    # hours; SMS as a fallback where it matters (someone must open the door).
    Kind.DOCTOR_ASSIGNED: KindPolicy(
        steps=(Step(PUSH), Step((Channel.SMS,), after_s=60.0, fallback=True)),
        ttl_s=2 * _HOUR,
        quiet=False,
        emergency_capable=True,
    ),
    Kind.DOCTOR_ON_THE_WAY: KindPolicy(
        steps=(Step(PUSH),), ttl_s=_HOUR, quiet=False, emergency_capable=True
    ),
    Kind.DOCTOR_ARRIVING: KindPolicy(
        steps=(Step(PUSH), Step((Channel.SMS,), after_s=30.0, fallback=True)),
        ttl_s=30 * 60.0,
        quiet=False,
        urgent=True,
        emergency_capable=True,
    ),
    Kind.DOCTOR_ARRIVED: KindPolicy(
        steps=(Step(PUSH), Step((Channel.SMS,), after_s=30.0, fallback=True)),
        ttl_s=30 * 60.0,
        quiet=False,
        urgent=True,
        emergency_capable=True,
    ),
    Kind.BOOKING_CANCELLED: KindPolicy(
        steps=(Step((*PUSH, Channel.EMAIL)),), ttl_s=_DAY, emergency_capable=True
    ),
    Kind.BOOKING_REASSIGNED: KindPolicy(
        steps=(Step(PUSH), Step((Channel.SMS,), after_s=60.0, fallback=True)),
        ttl_s=2 * _HOUR,
        quiet=False,
        emergency_capable=True,
    ),
    Kind.PAYMENT_RECEIPT: KindPolicy(steps=(Step((Channel.EMAIL, *PUSH)),), ttl_s=7 * _DAY),
    Kind.REFUND: KindPolicy(steps=(Step((Channel.EMAIL, *PUSH)),), ttl_s=7 * _DAY),
    # Reminders expire when the visit starts (reminder_request sets expires_s).
    Kind.VISIT_REMINDER_24H: KindPolicy(steps=(Step((*PUSH, Channel.EMAIL)),), ttl_s=_DAY),
    Kind.VISIT_REMINDER_1H: KindPolicy(
        steps=(Step(PUSH), Step((Channel.SMS,), after_s=5 * 60.0, fallback=True)),
        ttl_s=_HOUR,
    ),
    Kind.EVENT_REMINDER: KindPolicy(steps=(Step((*PUSH, Channel.EMAIL)),), ttl_s=_DAY),
    Kind.DOCUMENT_APPROVED: KindPolicy(steps=(Step((*PUSH, Channel.EMAIL)),), ttl_s=7 * _DAY),
    Kind.DOCUMENT_REJECTED: KindPolicy(steps=(Step((*PUSH, Channel.EMAIL)),), ttl_s=7 * _DAY),
    # Codes and links the person just asked for: now, to the address given, never off.
    Kind.PASSWORD_RESET: KindPolicy(
        steps=(Step((Channel.EMAIL,)),),
        ttl_s=_HOUR,
        quiet=False,
        mandatory=_ALL,
        unverified_email_ok=True,
    ),
    Kind.EMAIL_VERIFICATION: KindPolicy(
        steps=(Step((Channel.EMAIL,)),),
        ttl_s=_DAY,
        quiet=False,
        mandatory=_ALL,
        to_request_address=True,
    ),
    Kind.PHONE_VERIFICATION: KindPolicy(
        steps=(Step((Channel.SMS,)),),
        ttl_s=15 * 60.0,
        quiet=False,
        mandatory=_ALL,
        to_request_address=True,
    ),
    # Security alerts: every channel; e-mail cannot be turned off; push and SMS wait for
    # the end of quiet hours (the e-mail is there at once).
    Kind.NEW_SIGN_IN: KindPolicy(
        steps=(Step(EVERY_CHANNEL),), ttl_s=_DAY, mandatory=frozenset({Channel.EMAIL})
    ),
    Kind.SESSION_REVOKED: KindPolicy(
        steps=(Step(EVERY_CHANNEL),), ttl_s=_DAY, mandatory=frozenset({Channel.EMAIL})
    ),
}
# Everything sent is about something the person did or asked for: there are no
# marketing kinds, and none may be added here without an unsubscribe for every channel.

EMERGENCY_STEPS: tuple[Step, ...] = (Step(EVERY_CHANNEL),)


def channel_plan(kind: Kind, *, emergency: bool = False) -> tuple[Step, ...]:
    """The steps a kind's message goes by. In an emergency every channel at once (only
    the visit's kinds: NotificationError for others)."""
    policy = POLICIES[kind]
    if emergency:
        if not policy.emergency_capable:
            raise NotificationError(f"{kind.value} is not about a visit: it has no emergency")
        return EMERGENCY_STEPS
    return policy.steps


def plan_channels(kind: Kind) -> frozenset[Channel]:
    """Every channel a kind may go by (its plan, and every channel in an emergency)."""
    policy = POLICIES[kind]
    steps = policy.steps + (EMERGENCY_STEPS if policy.emergency_capable else ())
    return frozenset(c for step in steps for c in step.channels)


# ============================================================================ quiet hours

_MIN_PER_DAY = 24 * 60
_TZ_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}", re.ASCII)


@lru_cache(maxsize=256)
def zone(tz: str) -> ZoneInfo:
    """The IANA time zone; InvalidPreferencesError for a name that is not one."""
    if not isinstance(tz, str) or len(tz) > 64 or not _TZ_NAME.fullmatch(tz):
        raise InvalidPreferencesError(f"not an IANA time zone: {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidPreferencesError(f"not an IANA time zone: {tz!r}") from None


def validate_preferences(prefs: Preferences) -> Preferences:
    """The preferences, or InvalidPreferencesError naming what is wrong."""
    if prefs.locale not in LOCALES:
        raise InvalidPreferencesError(f"language must be one of {', '.join(LOCALES)}")
    zone(prefs.tz)
    start, end = prefs.quiet_start_min, prefs.quiet_end_min
    if (start is None) != (end is None):
        raise InvalidPreferencesError("quiet hours need both a start and an end")
    for minute in (start, end):
        if minute is not None and (
            isinstance(minute, bool) or not isinstance(minute, int) or not 0 <= minute < 1440
        ):
            raise InvalidPreferencesError("quiet hours are minutes after midnight, 0 to 1439")
    for kind, channel in prefs.off:
        if not isinstance(kind, Kind) or not isinstance(channel, Channel):
            raise InvalidPreferencesError("channels are turned off per kind and channel")
    return prefs


def _in_window(minute: int, start: int, end: int) -> bool:
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # wraps past midnight


def _wall_minute(at: datetime) -> int:
    return at.hour * 60 + at.minute


def is_quiet(at_s: float, prefs: Preferences) -> bool:
    """Whether at_s falls in the person's quiet hours, by the wall clock of their zone."""
    start, end = prefs.quiet_start_min, prefs.quiet_end_min
    if start is None or end is None or start == end:
        return False
    local = datetime.fromtimestamp(at_s, _zone_or_default(prefs.tz))
    return _in_window(_wall_minute(local), start, end)


def quiet_until(at_s: float, prefs: Preferences) -> float | None:
    """When the quiet hours that at_s falls in end (epoch seconds), or None if at_s is not
    in quiet hours. The end is the first instant after at_s the wall clock shows the end
    time: on a day the clocks go forward past it (Europe/Berlin, 02:30 in March), the
    instant they jump; on a day they go back, its first occurrence (its second if at_s is
    in the repeated hour after the first)."""
    if not is_quiet(at_s, prefs):
        return None
    until = _quiet_end(at_s, prefs)
    # A window that ends in the hour the clocks skip and starts again right after it (a
    # quiet window of nearly the whole day) is not over at the jump: the next end is.
    for _ in range(3):
        if not is_quiet(until, prefs):
            break
        until = _quiet_end(until, prefs)
    return until


def _quiet_end(at_s: float, prefs: Preferences) -> float:
    assert prefs.quiet_start_min is not None and prefs.quiet_end_min is not None
    tz = _zone_or_default(prefs.tz)
    local = datetime.fromtimestamp(at_s, tz)
    start, end = prefs.quiet_start_min, prefs.quiet_end_min
    day = local.date()
    if start > end and _wall_minute(local) >= start:
        day += timedelta(days=1)  # the evening part of a window that wraps past midnight
    return _first_instant_at(day, end, tz, after_s=at_s)


def _first_instant_at(day: date, minute: int, tz: ZoneInfo, *, after_s: float) -> float:
    """The first instant after after_s whose wall clock in tz shows `day` at `minute` or
    later."""
    wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60)
    early = wall.replace(tzinfo=tz, fold=0).timestamp()
    late = wall.replace(tzinfo=tz, fold=1).timestamp()
    if early <= late:
        # An ordinary time, or one the clocks show twice: the first time, unless after_s
        # is already past it (in the repeated hour, the second time round).
        return early if early > after_s else late
    # A time the clocks skip: the offsets before (fold 0) and after (fold 1) bracket the
    # jump. Find it: the first whole second whose wall clock is at `wall` or later.
    lo, hi = math.floor(late), math.ceil(early)
    while lo < hi:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid + 1
    return float(lo)


def _zone_or_default(tz: str) -> ZoneInfo:
    try:
        return zone(tz)
    except InvalidPreferencesError:
        return zone(DEFAULT_TZ)


# ============================================================================ the plan

MAX_VARIABLE_CHARS = 1_000
MAX_EVENT_KEY_CHARS = 200


@dataclass(frozen=True, slots=True)
class Skipped:
    """A channel the request did not go by, and why (for logs and tests; no addresses)."""

    channel: Channel
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    rows: tuple[Notification, ...]  # for NotificationStore.add, in the cause's transaction
    skipped: tuple[Skipped, ...]


def idempotency_key(event_key: str, user_id: str, kind: Kind, channel: Channel, to: str) -> str:
    """One message's key: the same for the same cause, person, kind, channel and
    destination, whenever it is computed (64 hex digits)."""
    parts = "\x1f".join((event_key, user_id, kind.value, channel.value, to))
    return hashlib.sha256(parts.encode()).hexdigest()


def notification_id(key: str) -> str:
    """The row's id, derived from its idempotency key (so adding it twice stores one)."""
    return "ntf_" + key[:28]


def check_variables(kind: Kind, variables: Mapping[str, str]) -> dict[str, str]:
    """The variables, if they are exactly what the kind declares (notifications.model.
    KIND_VARIABLES and the common `name` and `url`), all strings of at most 1,000
    characters without NUL. Medical details are refused by name (UnknownVariableError);
    a missing one is a MissingVariableError."""
    allowed = kind_variables(kind)
    medical = sorted(k for k in variables if k.lower() in MEDICAL_VARIABLES)
    if medical:
        raise UnknownVariableError(
            f"medical details are never sent in notifications: {', '.join(medical)}"
        )
    unknown = sorted(set(variables) - allowed)
    if unknown:
        raise UnknownVariableError(f"{kind.value} has no variable {', '.join(unknown)}")
    missing = sorted(allowed - set(variables))
    if missing:
        raise MissingVariableError(f"{kind.value} needs {', '.join(missing)}")
    for key, value in variables.items():
        if not isinstance(value, str):
            raise NotificationError(f"variable {key} must be text")
        if len(value) > MAX_VARIABLE_CHARS or "\x00" in value:
            raise NotificationError(f"variable {key} is too long or holds a NUL")
        _check_format(key, value)
    return dict(variables)


URL_VARIABLES = frozenset({"url", "receipt_url"})
COUNT_VARIABLES = frozenset({"eta_min", "expires_min", "expires_in_s"})
_URL_VALUE = re.compile(r"https?://[\x21-\x7e]+", re.ASCII)
_COUNT = re.compile(r"[0-9]{1,6}", re.ASCII)
_KOPECKS = re.compile(r"-?[0-9]{1,15}", re.ASCII)
_SECONDS = re.compile(r"-?[0-9]{1,11}(\.[0-9]{1,6})?", re.ASCII)


def _check_format(key: str, value: str) -> None:
    """Links are http(s) URLs; counts, kopecks and epoch seconds are numbers as text."""
    if key in URL_VARIABLES and not _URL_VALUE.fullmatch(value):
        raise NotificationError(f"variable {key} must be an http(s) URL")
    if key in COUNT_VARIABLES and not _COUNT.fullmatch(value):
        raise NotificationError(f"variable {key} must be a whole number")
    if key.endswith("_kopecks") and not _KOPECKS.fullmatch(value):
        raise NotificationError(f"variable {key} must be a whole number of kopecks")
    if (key == "at_s" or key.endswith("_at_s")) and not _SECONDS.fullmatch(value):
        raise NotificationError(f"variable {key} must be epoch seconds")


def plan(
    request: NotifyRequest, *, preferences: Preferences, contact: Contact, now_s: float
) -> Plan:
    """The outbox rows for a request: for each step of the kind's plan, each channel the
    person has not turned off (mandatory channels and emergencies regardless), each of
    their destinations by it (every push subscription and FCM token; a verified phone or
    e-mail address; the address being verified for the verification kinds).

    A row is due `after_s` after now_s, or at the end of quiet hours for push and SMS
    (not for offers, codes, a visit under way, or emergencies). It expires at
    request.expires_s, else now + the kind's time to live; a row that would only be due
    after it expires is not made. A fallback step whose earlier steps made no row goes
    at once, as an ordinary step (a doctor with no push subscription gets the SMS now).

    Raises NotificationError for bad variables, an empty or overlong event key, an
    emergency of a kind that has none, or a verification kind without a valid `to`."""
    kind = request.kind
    policy = POLICIES[kind]
    if not request.event_key or len(request.event_key) > MAX_EVENT_KEY_CHARS:
        raise NotificationError(f"event_key must be 1 to {MAX_EVENT_KEY_CHARS} characters")
    if not request.user_id:
        raise NotificationError("user_id is empty")
    variables = check_variables(kind, request.variables)
    steps = channel_plan(kind, emergency=request.emergency)
    locale = preferences.locale if preferences.locale in LOCALES else DEFAULT_LOCALE
    try:
        tz = zone(preferences.tz).key
    except InvalidPreferencesError:
        tz = DEFAULT_TZ
    expires_s = request.expires_s if request.expires_s is not None else now_s + policy.ttl_s
    group_key = f"{request.event_key}|{request.user_id}|{kind.value}"
    urgent = policy.urgent or request.emergency
    held = policy.quiet and not request.emergency
    mandatory = _ALL if request.emergency else policy.mandatory

    rows: list[Notification] = []
    skipped: list[Skipped] = []
    if expires_s <= now_s:
        return Plan((), tuple(Skipped(c, "expired") for s in steps for c in s.channels))
    for index, step in enumerate(steps):
        earlier = bool(rows)
        fallback = step.fallback and earlier
        due_s = now_s + (step.after_s if fallback or not step.fallback else 0.0)
        for channel in step.channels:
            if channel not in mandatory and not preferences.allows(kind, channel):
                skipped.append(Skipped(channel, "turned off"))
                continue
            destinations, why = _destinations(channel, policy, contact, request)
            if not destinations:
                skipped.append(Skipped(channel, why))
                continue
            channel_due_s = due_s
            if held and channel in QUIET_CHANNELS:
                channel_due_s = quiet_until(due_s, preferences) or due_s
            if channel_due_s >= expires_s:
                skipped.append(Skipped(channel, "quiet hours last until it expires"))
                continue
            for to in destinations:
                key = idempotency_key(request.event_key, request.user_id, kind, channel, to)
                rows.append(
                    Notification(
                        notification_id=notification_id(key),
                        idempotency_key=key,
                        group_key=group_key,
                        step=index,
                        user_id=request.user_id,
                        kind=kind,
                        channel=channel,
                        to=to,
                        locale=locale,
                        tz=tz,
                        variables=dict(variables),
                        created_s=now_s,
                        next_attempt_s=channel_due_s,
                        expires_s=expires_s,
                        fallback=fallback,
                        urgent=urgent,
                        updated_s=now_s,
                    )
                )
    return Plan(tuple(rows), tuple(skipped))


def _destinations(
    channel: Channel, policy: KindPolicy, contact: Contact, request: NotifyRequest
) -> tuple[list[str], str]:
    if channel is Channel.WEBPUSH:
        subs = list(dict.fromkeys(s.to_json() for s in contact.push_subscriptions))
        return subs, "no push subscription"
    if channel is Channel.FCM:
        return list(dict.fromkeys(contact.fcm_tokens)), "no FCM token"
    if channel is Channel.SMS:
        if policy.to_request_address:
            if request.to is None:
                raise NotificationError(f"{request.kind.value} needs the phone to verify (to)")
            return [normalize_phone(request.to)], ""
        if contact.phone and contact.phone_verified:
            return [contact.phone], ""
        return [], "no verified phone"
    # e-mail
    if policy.to_request_address:
        if request.to is None:
            raise NotificationError(f"{request.kind.value} needs the address to verify (to)")
        return [validate_email(request.to)], ""
    if contact.email and (contact.email_verified or policy.unverified_email_ok):
        return [contact.email], ""
    return [], "no verified e-mail address"


def require_verified(contact: Contact, channel: Channel) -> str:
    """The contact's address for SMS or e-mail, or UnverifiedAddressError."""
    if channel is Channel.SMS:
        if not contact.phone:
            raise UnverifiedAddressError("no phone number")
        if not contact.phone_verified:
            raise UnverifiedAddressError("the phone number is not verified yet")
        return contact.phone
    if channel is Channel.EMAIL:
        if not contact.email:
            raise UnverifiedAddressError("no e-mail address")
        if not contact.email_verified:
            raise UnverifiedAddressError("the e-mail address is not verified yet")
        return contact.email
    raise NotificationError(f"{channel.value} has no address to verify")


# ============================================================================ retries


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 2.0  # the first retry waits up to this
    cap_s: float = 15 * 60.0  # no wait is longer
    max_attempts: int = 8  # then dead


DEFAULT_RETRY = RetryPolicy()
MAX_REASON_CHARS = 500


def backoff_s(attempt: int, u: float, policy: RetryPolicy = DEFAULT_RETRY) -> float:
    """How long to wait after the `attempt`-th failure (1, 2, ...): exponential backoff
    with full jitter, u * min(cap, base * 2**(attempt-1)), for a random u in [0, 1)."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0.0 <= u < 1.0:
        raise ValueError("u must be in [0, 1)")
    exponent = min(attempt - 1, 64)  # 2**64 * base is past any cap: no overflow
    return u * min(policy.cap_s, policy.base_s * 2.0**exponent)


def reason_text(error: BaseException) -> str:
    """A failure's reason for the delivery log: the send error's message (adapters never
    put secrets or the text in it), one line, at most 500 characters; other exceptions
    by type only (their message may hold anything)."""
    if isinstance(error, PermanentSendError | TransientSendError):
        text = str(error) or type(error).__name__
    else:
        text = type(error).__name__
    text = " ".join(text.split())
    return text[:MAX_REASON_CHARS]


def is_claimable(row: Notification, now_s: float) -> bool:
    """Due (queued or failed, next_attempt_s reached), or sending with its lease run out."""
    if row.status in (NotificationStatus.QUEUED, NotificationStatus.FAILED):
        return row.next_attempt_s <= now_s
    if row.status is NotificationStatus.SENDING:
        return row.lease_until_s is not None and row.lease_until_s <= now_s
    return False


def claimed(row: Notification, *, now_s: float, lease_s: float) -> Notification:
    """The row as a worker's claim leaves it: sending, leased, its attempt counted."""
    if not is_claimable(row, now_s):
        raise NotificationError(f"notification {row.notification_id} is not due")
    return replace(
        row,
        status=NotificationStatus.SENDING,
        attempts=row.attempts + 1,
        lease_until_s=now_s + lease_s,
        updated_s=now_s,
    )


def exhausted_reason(row: Notification, policy: RetryPolicy = DEFAULT_RETRY) -> str | None:
    """Why a claimed row must not be sent again (then: `dead`), or None: its attempts are
    spent by claims whose workers died mid-send (a message that kills its worker is
    not sent for ever)."""
    if row.attempts > policy.max_attempts:
        return f"gave up after {row.attempts - 1} attempts (the worker stopped mid-send)"
    return None


def skip_reason(row: Notification, group: Iterable[Notification], now_s: float) -> str | None:
    """Why a claimed row need not be sent any more (then: `skipped`), or None to send it:
    it expired, or it is a fallback and a row of an earlier step of its group was
    delivered."""
    if now_s >= row.expires_s:
        return "expired"
    if row.fallback:
        for other in group:
            if (
                other.group_key == row.group_key
                and other.step < row.step
                and other.status is NotificationStatus.DELIVERED
            ):
                return f"delivered by {other.channel.value}"
    return None


def skipped(row: Notification, reason: str, *, now_s: float) -> Notification:
    return replace(
        row,
        status=NotificationStatus.SKIPPED,
        lease_until_s=None,
        last_error=reason[:MAX_REASON_CHARS],
        updated_s=now_s,
    )


def after_sent(row: Notification, sent: Sent, *, provider: str, now_s: float) -> Notification:
    """The provider took it: sent, or delivered if the provider says so."""
    delivered = sent.delivered
    return replace(
        row,
        status=NotificationStatus.DELIVERED if delivered else NotificationStatus.SENT,
        provider=provider,
        provider_id=sent.provider_id,
        lease_until_s=None,
        last_error=None,
        sent_s=now_s,
        delivered_s=now_s if delivered else None,
        updated_s=now_s,
    )


def after_delivered(row: Notification, *, now_s: float) -> Notification:
    """A delivery receipt (the provider's callback, the device's acknowledgement). It may
    come before the worker recorded the send, or after a timeout it took for a failure:
    delivered either way. A row already delivered (or dead, or skipped) is unchanged."""
    if NotificationStatus.DELIVERED not in TRANSITIONS[row.status]:
        return row
    return replace(
        row,
        status=NotificationStatus.DELIVERED,
        lease_until_s=None,
        delivered_s=now_s,
        updated_s=now_s,
    )


@dataclass(frozen=True, slots=True)
class Failure:
    row: Notification  # failed (due again at next_attempt_s), dead, or skipped (expired)
    forget: str | None = None  # a destination the provider says is gone: remove it


def after_error(
    row: Notification,
    error: BaseException,
    *,
    now_s: float,
    u: float,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> Failure:
    """What a failed send means. row.attempts counts the claim that just failed.

    - PermanentSendError: dead, with the reason (and the destination to forget if gone);
    - TransientSendError (and any other exception: treated as transient, by type only):
      due again at now + max(backoff, the provider's retry_after); dead once
      max_attempts were made; skipped if the retry would come after it expires."""
    reason = reason_text(error)
    if isinstance(error, PermanentSendError):
        return Failure(dead(row, reason, now_s=now_s), forget=row.to if error.gone else None)
    attempt = max(1, row.attempts)
    if attempt >= policy.max_attempts:
        return Failure(dead(row, f"gave up after {attempt} attempts: {reason}", now_s=now_s))
    wait_s = backoff_s(attempt, u, policy)
    if isinstance(error, TransientSendError) and error.retry_after_s is not None:
        if math.isfinite(error.retry_after_s):
            wait_s = max(wait_s, error.retry_after_s)
        else:
            wait_s = policy.cap_s
    next_s = now_s + wait_s
    if next_s >= row.expires_s:
        return Failure(skipped(row, f"expired while retrying: {reason}", now_s=now_s))
    return Failure(
        replace(
            row,
            status=NotificationStatus.FAILED,
            next_attempt_s=next_s,
            lease_until_s=None,
            last_error=reason,
            updated_s=now_s,
        )
    )


def dead(row: Notification, reason: str, *, now_s: float) -> Notification:
    return replace(
        row,
        status=NotificationStatus.DEAD,
        lease_until_s=None,
        last_error=reason[:MAX_REASON_CHARS],
        updated_s=now_s,
    )


def replayed(row: Notification, *, now_s: float, expires_s: float | None = None) -> Notification:
    """A dead row put back in the queue by an admin: due now, attempts from zero, the same
    idempotency key. `expires_s` gives it a new deadline (else now + an hour, if the old
    one passed)."""
    if row.status is not NotificationStatus.DEAD:
        raise NotificationError("only a dead notification can be replayed")
    if expires_s is None:
        expires_s = row.expires_s if row.expires_s > now_s else now_s + _HOUR
    return replace(
        row,
        status=NotificationStatus.QUEUED,
        attempts=0,
        next_attempt_s=now_s,
        expires_s=expires_s,
        lease_until_s=None,
        updated_s=now_s,
    )


# ============================================================================ reminders

DEFAULT_REMINDER_OFFSETS: dict[Kind, float] = {
    Kind.VISIT_REMINDER_24H: 24 * _HOUR,
    Kind.VISIT_REMINDER_1H: _HOUR,
}


def reminder_id(booking_id: str, kind: Kind, visit_s: float) -> str:
    digest = hashlib.sha256(f"{booking_id}\x1f{kind.value}\x1f{visit_s!r}".encode()).hexdigest()
    return "rem_" + digest[:28]


def visit_reminders(
    *,
    booking_id: str,
    user_id: str,
    visit_s: float,
    now_s: float,
    offsets_s: Mapping[Kind, float] | None = None,
) -> list[Reminder]:
    """The reminders of a visit scheduled at visit_s, by due time: one per kind, due
    offset before the visit (24 h and 1 h by default), none already due at now_s. Store
    them with ReminderStore.replace(booking_id, ...): a rescheduled visit's new list
    replaces the old one; an unchanged visit yields the same ids."""
    offsets = DEFAULT_REMINDER_OFFSETS if offsets_s is None else offsets_s
    reminders: list[Reminder] = []
    for kind, offset in offsets.items():
        if kind not in DEFAULT_REMINDER_OFFSETS:
            raise NotificationError(f"{kind.value} is not a visit reminder")
        if not math.isfinite(offset) or offset <= 0:
            raise NotificationError("a reminder comes a positive time before the visit")
        due_s = visit_s - offset
        if due_s <= now_s:
            continue
        reminders.append(
            Reminder(
                reminder_id=reminder_id(booking_id, kind, visit_s),
                booking_id=booking_id,
                user_id=user_id,
                kind=kind,
                due_s=due_s,
                visit_s=visit_s,
            )
        )
    reminders.sort(key=lambda r: (r.due_s, r.kind.value))
    return reminders


def reminder_request(reminder: Reminder, variables: Mapping[str, str]) -> NotifyRequest:
    """The request a due reminder makes: keyed by the reminder (sent once however often
    the worker sees it), worth sending until the visit starts."""
    return NotifyRequest(
        event_key=f"reminder:{reminder.reminder_id}",
        user_id=reminder.user_id,
        kind=reminder.kind,
        variables=dict(variables),
        expires_s=reminder.visit_s,
    )


# ============================================================================ addresses

MAX_EMAIL_CHARS = 254


def validate_email(value: object) -> str:
    """The address, normalised (as the API's accounts normalise it: syntax only, no DNS),
    or InvalidEmailError."""
    if not isinstance(value, str):
        raise InvalidEmailError("an e-mail address must be text")
    if not value or len(value) > MAX_EMAIL_CHARS:
        raise InvalidEmailError(f"an e-mail address has 1 to {MAX_EMAIL_CHARS} characters")
    try:
        checked = email_validator.validate_email(
            value, check_deliverability=False, test_environment=True
        )
    except email_validator.EmailNotValidError as exc:
        raise InvalidEmailError(f"not a valid e-mail address: {exc}") from None
    except (ValueError, UnicodeError):
        raise InvalidEmailError("not a valid e-mail address") from None
    normalized = str(checked.normalized)
    if len(normalized) > MAX_EMAIL_CHARS:
        raise InvalidEmailError(f"an e-mail address has 1 to {MAX_EMAIL_CHARS} characters")
    return normalized


_PHONE_CHARS = re.compile(r"[0-9+\s().\-\u00a0]+", re.ASCII)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)


def normalize_phone(value: object) -> str:
    """The number in E.164 ("+79161234567"), or InvalidPhoneError. Spaces, dashes, dots
    and brackets are dropped; Russian numbers written 8XXXXXXXXXX or 7XXXXXXXXXX become
    +7XXXXXXXXXX, and +7 numbers must have ten digits after the 7."""
    if not isinstance(value, str):
        raise InvalidPhoneError("a phone number must be text")
    if len(value) > 32:
        raise InvalidPhoneError("a phone number has at most 15 digits")
    text = value.strip()
    if not text or not _PHONE_CHARS.fullmatch(text):
        raise InvalidPhoneError("a phone number has only digits, +, spaces, dashes, brackets")
    plus = text.startswith("+")
    digits = "".join(ch for ch in text if "0" <= ch <= "9")
    if "+" in text[1:]:
        raise InvalidPhoneError("+ may only start a phone number")
    if not plus:
        if len(digits) == 11 and digits[0] in "78":
            digits = "7" + digits[1:]  # 8 916 123-45-67, the Russian trunk prefix
        else:
            raise InvalidPhoneError(
                "write the phone number with + and the country code, e.g. +7 916 123-45-67"
            )
    phone = "+" + digits
    if not _E164.fullmatch(phone):
        raise InvalidPhoneError("not an E.164 phone number: + and 7 to 15 digits")
    if phone.startswith("+7") and len(phone) != 12:
        raise InvalidPhoneError("a Russian (+7) number has ten digits after the 7")
    return phone


# P-256 (secp256r1): y^2 = x^3 - 3x + b (mod p)
_P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
_P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}", re.ASCII)
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.ASCII)
_URL = re.compile(
    r"(?P<scheme>https?)://(?P<host>[^/:?#\[\]@\s]+|\[[0-9a-fA-F:.]+\])(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<rest>[/?][\x21-\x22\x24-\x7e]*)?",
    re.ASCII,
)
_IPV4 = re.compile(r"[0-9]+(\.[0-9]+){0,3}", re.ASCII)
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".localdomain")
MAX_ENDPOINT_CHARS = 2_048
MAX_SUBSCRIPTION_JSON_CHARS = 4_096


def b64url_decode(text: str) -> bytes:
    """base64url, padded or not; binascii.Error (a ValueError) if it is not."""
    if not _B64URL.fullmatch(text):
        raise binascii.Error("not base64url")
    core = text.rstrip("=")
    if len(core) % 4 == 1:
        raise binascii.Error("not base64url: bad length")
    return base64.urlsafe_b64decode(core + "=" * (-len(core) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def is_p256_point(raw: bytes) -> bool:
    """Whether raw is an uncompressed P-256 public key: 0x04, x, y on the curve."""
    if len(raw) != 65 or raw[0] != 4:
        return False
    x = int.from_bytes(raw[1:33], "big")
    y = int.from_bytes(raw[33:], "big")
    if x >= _P256_P or y >= _P256_P:
        return False
    return (y * y - (x * x * x - 3 * x + _P256_B)) % _P256_P == 0


def validate_endpoint(endpoint: object, *, insecure_hosts: Collection[str] = ()) -> str:
    """A push service's URL: https, a public host name (no IP address, localhost or
    local domain: the server POSTs to it, so it must not reach inside), no user name or
    fragment, at most 2,048 characters. Hosts in insecure_hosts (local test servers) may
    be anything, over http too."""
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidSubscriptionError("the subscription's endpoint must be a URL")
    if len(endpoint) > MAX_ENDPOINT_CHARS:
        raise InvalidSubscriptionError("the subscription's endpoint is too long")
    match = _URL.fullmatch(endpoint)
    if match is None:
        raise InvalidSubscriptionError("the subscription's endpoint is not an https URL")
    host = match["host"].lower()
    port = match["port"]
    if port is not None and not 1 <= int(port) <= 65_535:
        raise InvalidSubscriptionError("the subscription's endpoint has a bad port")
    if host in {h.lower() for h in insecure_hosts}:
        return endpoint
    if match["scheme"] != "https":
        raise InvalidSubscriptionError("the subscription's endpoint must use https")
    if host.startswith("[") or _IPV4.fullmatch(host):
        raise InvalidSubscriptionError("the subscription's endpoint must name a host, not an IP")
    name = host.rstrip(".") if host.endswith(".") else host
    if name == "localhost" or any(("." + name).endswith(s) for s in _LOCAL_SUFFIXES):
        raise InvalidSubscriptionError("the subscription's endpoint must be a public host")
    labels = name.split(".")
    if (
        len(name) > 253
        or len(labels) < 2
        or not all(_HOST_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise InvalidSubscriptionError("the subscription's endpoint has an invalid host")
    return endpoint


def validate_subscription(
    value: object, *, insecure_hosts: Collection[str] = ()
) -> WebPushSubscription:
    """A Web Push subscription from PushSubscription.toJSON() (a dict or its JSON text):
    {"endpoint": https URL, "keys": {"p256dh": base64url of a 65-byte uncompressed P-256
    point on the curve, "auth": base64url of 16 bytes}}; other fields are ignored.
    InvalidSubscriptionError says which part is wrong."""
    if isinstance(value, str | bytes):
        if len(value) > MAX_SUBSCRIPTION_JSON_CHARS:
            raise InvalidSubscriptionError("the subscription is too long")
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise InvalidSubscriptionError("the subscription is not JSON") from None
    if not isinstance(value, Mapping):
        raise InvalidSubscriptionError("the subscription must be an object")
    endpoint = validate_endpoint(value.get("endpoint"), insecure_hosts=insecure_hosts)
    keys = value.get("keys")
    if not isinstance(keys, Mapping):
        raise InvalidSubscriptionError("the subscription has no keys")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise InvalidSubscriptionError("the subscription's keys need p256dh and auth")
    try:
        p256dh_raw = b64url_decode(p256dh)
    except ValueError:
        raise InvalidSubscriptionError("p256dh is not base64url") from None
    if not is_p256_point(p256dh_raw):
        raise InvalidSubscriptionError("p256dh is not an uncompressed P-256 public key")
    try:
        auth_raw = b64url_decode(auth)
    except ValueError:
        raise InvalidSubscriptionError("auth is not base64url") from None
    if len(auth_raw) != 16:
        raise InvalidSubscriptionError("auth must be 16 bytes")
    return WebPushSubscription(
        endpoint=endpoint, p256dh=b64url_encode(p256dh_raw), auth=b64url_encode(auth_raw)
    )


_FCM_TOKEN = re.compile(r"[A-Za-z0-9_:.\-]{32,4096}", re.ASCII)


def validate_fcm_token(value: object) -> str:
    if not isinstance(value, str) or not _FCM_TOKEN.fullmatch(value):
        raise InvalidTokenError("not an FCM registration token")
    return value


# ============================================================================ payload limits

# RFC 8291 (aes128gcm): a header of salt (16), record size (4), key id length (1) and the
# server's public key (65), then the record's padding delimiter (1) and AEAD tag (16).
WEBPUSH_OVERHEAD_BYTES = 16 + 4 + 1 + 65 + 1 + 16
MAX_PUSH_BYTES = 3_800  # the encrypted message, well inside the 4,096 push services take
MAX_PUSH_PAYLOAD_BYTES = MAX_PUSH_BYTES - WEBPUSH_OVERHEAD_BYTES  # the JSON we encrypt


def push_payload(message: Rendered) -> bytes:
    """What the app's service worker receives (and FCM's data carries): JSON with
    title, body and data (kind, notification_id, url, ...), compact UTF-8."""
    body = {
        "title": message.subject or "",
        "body": message.text,
        "data": {"notification_id": message.notification_id, **message.data},
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def check_push_payload(payload: bytes) -> bytes:
    """The payload, or PayloadTooLargeError if, encrypted, it would pass 3,800 bytes."""
    if len(payload) > MAX_PUSH_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"push payload of {len(payload)} bytes: at most {MAX_PUSH_PAYLOAD_BYTES} "
            f"({MAX_PUSH_BYTES} encrypted)"
        )
    return payload


# GSM 03.38: the default alphabet, and the extension table's characters (two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
MAX_SMS_SEGMENTS = 3


@dataclass(frozen=True, slots=True)
class SmsSize:
    encoding: str  # "gsm7" | "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def sms_size(text: str) -> SmsSize:
    """How the text goes as SMS: GSM-7 if every character is in the GSM alphabet (160
    septets alone, 153 per part of a longer one), else UCS-2 (70 code units alone, 67 per
    part). A character never straddles two parts (an escape pair, a surrogate pair)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        sizes = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return SmsSize("gsm7", sum(sizes), _segments(sizes, single=160, part=153))
    sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsSize("ucs2", sum(sizes), _segments(sizes, single=70, part=67))


def _segments(sizes: Sequence[int], *, single: int, part: int) -> int:
    if sum(sizes) <= single:
        return 1
    segments, used = 1, 0
    for size in sizes:
        if used + size > part:
            segments += 1
            used = 0
        used += size
    return segments


def check_sms(text: str, max_segments: int = MAX_SMS_SEGMENTS) -> str:
    """The text, or PayloadTooLargeError if it is empty or takes more than max_segments."""
    if not text.strip():
        raise PayloadTooLargeError("an SMS cannot be empty")
    size = sms_size(text)
    if size.segments > max_segments:
        raise PayloadTooLargeError(
            f"SMS of {size.segments} segments ({size.encoding}, {size.units} units): "
            f"at most {max_segments}"
        )
    return text


# ============================================================================ unsubscribe


def unsubscribe_token(secret: bytes, user_id: str, kind: Kind) -> str:
    """The token of a one-click unsubscribe link (RFC 8058) that turns e-mail off for one
    kind: the user and kind, signed (HMAC-SHA-256); it does not expire."""
    body = b64url_encode(f"{user_id}\x1f{kind.value}".encode())
    return f"{body}.{_sign(secret, body)}"


def read_unsubscribe_token(secret: bytes, token: str) -> tuple[str, Kind]:
    """(user_id, kind) of a token unsubscribe_token made, or NotificationError."""
    try:
        body, signature = token.split(".")
        if not hmac.compare_digest(signature, _sign(secret, body)):
            raise NotificationError("the unsubscribe link is not valid")
        user_id, kind = b64url_decode(body).decode().split("\x1f")
        return user_id, Kind(kind)
    except NotificationError:
        raise
    except (ValueError, UnicodeError, AttributeError, TypeError):
        raise NotificationError("the unsubscribe link is not valid") from None


def _sign(secret: bytes, body: str) -> str:
    mac = hmac.new(secret, b"tot-unsubscribe\x1f" + body.encode(), hashlib.sha256)
    return b64url_encode(mac.digest()[:16])
