"""The notifications package's pure rules: kinds and channel plans, turning a request into
outbox rows, quiet hours in people's time zones (DST included), retries with backoff and
jitter, the rows' states, reminders of scheduled visits, validation of addresses and push
subscriptions, payload limits and unsubscribe tokens."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifications import rules
from notifications.channels import Channel, PermanentSendError, Rendered, Sent, TransientSendError
from notifications.model import (
    KIND_VARIABLES,
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
    UnknownVariableError,
    UnverifiedAddressError,
    WebPushSubscription,
    kind_variables,
)

NOW = 1_790_000_000.0  # 2026-09-21T14:13:20Z
Status = NotificationStatus

# ---------------------------------------------------------------------------- helpers

# P-256, for making real public keys (the generator's multiples) without a crypto library.
P = 2**256 - 2**224 + 2**192 + 2**96 - 1
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _add(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        slope = (3 * a[0] * a[0] - 3) * pow(2 * a[1], -1, P) % P
    else:
        slope = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (slope * slope - a[0] - b[0]) % P
    return x, (slope * (a[0] - x) - a[1]) % P


def public_key(scalar: int) -> bytes:
    result, point = None, (GX, GY)
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    assert result is not None
    return b"\x04" + result[0].to_bytes(32, "big") + result[1].to_bytes(32, "big")


P256DH = rules.b64url_encode(public_key(123_456_789))
AUTH = rules.b64url_encode(bytes(range(16)))
ENDPOINT = "https://fcm.googleapis.com/fcm/send/abc:DEF-123_x"
SUB = WebPushSubscription(ENDPOINT, P256DH, AUTH)
FCM_TOKEN = "f" * 40 + ":APA91b" + "x" * 100


def variables(kind: Kind, **extra: str) -> dict[str, str]:
    values = {
        "name": "Анна",
        "url": "https://tot.example.org/b/0123456789abcdef",
        "receipt_url": "https://tot.example.org/r/0123456789abcdef",
        "eta_min": "12",
        "area": "Нижегородский район",
        "expires_in_s": "30",
        "doctor_name": "Мария Иванова",
        "visit_at_s": str(int(NOW + 86_400)),
        "address": "ул. Минина, 1, кв. 5",
        "amount_kopecks": "150000",
        "event_title": "Вебинар о здоровье",
        "event_at_s": str(int(NOW + 3_600)),
        "document": "Диплом",
        "reason": "Скан нечитаем",
        "expires_min": "30",
        "code": "123456",
        "device": "Firefox, Linux",
        "place": "Нижний Новгород",
        "at_s": str(int(NOW)),
    }
    wanted = {k: values[k] for k in kind_variables(kind)}
    wanted.update(extra)
    return wanted


def request(kind: Kind = Kind.OFFER, **kw: object) -> NotifyRequest:
    base: dict[str, object] = {
        "event_key": "booking:42:offer:d1",
        "user_id": "u1",
        "kind": kind,
        "variables": variables(kind),
    }
    base.update(kw)
    return NotifyRequest(**base)  # type: ignore[arg-type]


FULL_CONTACT = Contact(
    user_id="u1",
    email="anna@example.org",
    email_verified=True,
    phone="+79161234567",
    phone_verified=True,
    push_subscriptions=(SUB,),
    fcm_tokens=(FCM_TOKEN,),
)
PREFS = Preferences(user_id="u1")
NIGHT = Preferences(user_id="u1", tz="Europe/Moscow", quiet_start_min=22 * 60, quiet_end_min=7 * 60)


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# ---------------------------------------------------------------------------- kinds and plans


def test_every_kind_the_issue_lists_exists_with_a_plan_and_variables() -> None:
    assert {k.value for k in Kind} == {
        "offer",
        "doctor_assigned",
        "doctor_on_the_way",
        "doctor_arriving",
        "doctor_arrived",
        "booking_cancelled",
        "booking_reassigned",
        "payment_receipt",
        "refund",
        "visit_reminder_24h",
        "visit_reminder_1h",
        "event_reminder",
        "document_approved",
        "document_rejected",
        "password_reset",
        "email_verification",
        "phone_verification",
        "new_sign_in",
        "session_revoked",
    }
    assert set(rules.POLICIES) == set(Kind) == set(KIND_VARIABLES)
    assert not any(MEDICAL_VARIABLES & kind_variables(k) for k in Kind)


def test_an_offer_goes_by_push_then_by_sms_if_not_delivered_within_10_s() -> None:
    steps = rules.channel_plan(Kind.OFFER)
    assert steps[0] == rules.Step((Channel.WEBPUSH, Channel.FCM))
    assert steps[1] == rules.Step((Channel.SMS,), after_s=10.0, fallback=True)


def test_emergencies_and_security_alerts_use_every_channel_at_once() -> None:
    every = rules.Step((Channel.WEBPUSH, Channel.FCM, Channel.SMS, Channel.EMAIL))
    assert rules.channel_plan(Kind.DOCTOR_ON_THE_WAY, emergency=True) == (every,)
    assert rules.channel_plan(Kind.OFFER, emergency=True) == (every,)
    assert rules.channel_plan(Kind.NEW_SIGN_IN) == (every,)
    assert rules.channel_plan(Kind.SESSION_REVOKED) == (every,)
    with pytest.raises(NotificationError):
        rules.channel_plan(Kind.PASSWORD_RESET, emergency=True)


def test_the_codes_go_by_their_one_channel() -> None:
    assert rules.plan_channels(Kind.PASSWORD_RESET) == {Channel.EMAIL}
    assert rules.plan_channels(Kind.EMAIL_VERIFICATION) == {Channel.EMAIL}
    assert rules.plan_channels(Kind.PHONE_VERIFICATION) == {Channel.SMS}
    assert rules.plan_channels(Kind.DOCTOR_ON_THE_WAY) == set(Channel)  # with emergencies


# ---------------------------------------------------------------------------- plan


def test_an_offer_is_planned_as_push_to_every_device_and_a_fallback_sms() -> None:
    result = rules.plan(request(), preferences=PREFS, contact=FULL_CONTACT, now_s=NOW)
    by_channel = {r.channel: r for r in result.rows}
    assert [r.channel for r in result.rows] == [Channel.WEBPUSH, Channel.FCM, Channel.SMS]
    assert by_channel[Channel.WEBPUSH].to == SUB.to_json()
    assert by_channel[Channel.FCM].to == FCM_TOKEN
    sms = by_channel[Channel.SMS]
    assert sms.to == "+79161234567" and sms.fallback and sms.step == 1
    assert sms.next_attempt_s == NOW + 10
    for row in result.rows:
        assert row.status is Status.QUEUED and row.attempts == 0 and row.urgent
        assert row.group_key == "booking:42:offer:d1|u1|offer"
        assert row.expires_s == NOW + 120
        assert row.locale == "ru" and row.tz == "Europe/Moscow"
    assert by_channel[Channel.WEBPUSH].next_attempt_s == NOW
    assert not by_channel[Channel.WEBPUSH].fallback
    assert result.skipped == ()


def test_a_doctor_without_push_gets_the_sms_at_once() -> None:
    contact = replace(FULL_CONTACT, push_subscriptions=(), fcm_tokens=())
    result = rules.plan(request(), preferences=PREFS, contact=contact, now_s=NOW)
    (sms,) = result.rows
    assert sms.channel is Channel.SMS and sms.next_attempt_s == NOW and not sms.fallback
    assert {s.channel for s in result.skipped} == {Channel.WEBPUSH, Channel.FCM}


def test_planning_twice_gives_the_same_keys_and_other_causes_other_keys() -> None:
    first = rules.plan(request(), preferences=PREFS, contact=FULL_CONTACT, now_s=NOW)
    again = rules.plan(request(), preferences=PREFS, contact=FULL_CONTACT, now_s=NOW + 5)
    assert [r.idempotency_key for r in first.rows] == [r.idempotency_key for r in again.rows]
    assert [r.notification_id for r in first.rows] == [r.notification_id for r in again.rows]
    other = rules.plan(
        request(event_key="booking:43:offer:d1"),
        preferences=PREFS,
        contact=FULL_CONTACT,
        now_s=NOW,
    )
    keys = {r.idempotency_key for r in first.rows}
    assert keys.isdisjoint(r.idempotency_key for r in other.rows)
    assert len(keys) == len(first.rows)


def test_two_devices_get_a_row_each() -> None:
    second = WebPushSubscription(
        "https://updates.push.services.mozilla.com/wpush/v2/x", P256DH, AUTH
    )
    contact = replace(FULL_CONTACT, push_subscriptions=(SUB, second, SUB))
    rows = rules.plan(request(), preferences=PREFS, contact=contact, now_s=NOW).rows
    assert [r.to for r in rows if r.channel is Channel.WEBPUSH] == [
        SUB.to_json(),
        second.to_json(),
    ]


def test_unverified_addresses_are_not_used() -> None:
    contact = replace(FULL_CONTACT, phone_verified=False, email_verified=False)
    result = rules.plan(
        request(Kind.NEW_SIGN_IN, event_key="login:1"),
        preferences=PREFS,
        contact=contact,
        now_s=NOW,
    )
    assert {r.channel for r in result.rows} == {Channel.WEBPUSH, Channel.FCM}
    assert {s.reason for s in result.skipped} == {"no verified phone", "no verified e-mail address"}


def test_turned_off_channels_are_skipped_unless_mandatory_or_an_emergency() -> None:
    prefs = replace(
        PREFS,
        off=frozenset(
            {
                (Kind.OFFER, Channel.SMS),
                (Kind.NEW_SIGN_IN, Channel.EMAIL),
                (Kind.NEW_SIGN_IN, Channel.SMS),
                (Kind.PASSWORD_RESET, Channel.EMAIL),
                (Kind.DOCTOR_ON_THE_WAY, Channel.SMS),
            }
        ),
    )
    offer = rules.plan(request(), preferences=prefs, contact=FULL_CONTACT, now_s=NOW)
    assert Channel.SMS not in {r.channel for r in offer.rows}
    assert rules.Skipped(Channel.SMS, "turned off") in offer.skipped
    alert = rules.plan(
        request(Kind.NEW_SIGN_IN), preferences=prefs, contact=FULL_CONTACT, now_s=NOW
    )
    assert {r.channel for r in alert.rows} == {Channel.WEBPUSH, Channel.FCM, Channel.EMAIL}
    reset = rules.plan(
        request(Kind.PASSWORD_RESET), preferences=prefs, contact=FULL_CONTACT, now_s=NOW
    )
    assert [r.channel for r in reset.rows] == [Channel.EMAIL]
    emergency = rules.plan(
        request(Kind.DOCTOR_ON_THE_WAY, emergency=True),
        preferences=prefs,
        contact=FULL_CONTACT,
        now_s=NOW,
    )
    assert {r.channel for r in emergency.rows} == set(Channel)
    assert all(r.urgent and r.step == 0 for r in emergency.rows)


def test_quiet_hours_hold_push_and_sms_until_they_end_but_not_e_mail() -> None:
    evening = at("2026-06-01T23:00:00+03:00")
    result = rules.plan(
        request(Kind.VISIT_REMINDER_24H, expires_s=at("2026-06-02T23:00:00+03:00")),
        preferences=NIGHT,
        contact=FULL_CONTACT,
        now_s=evening,
    )
    due = {r.channel: r.next_attempt_s for r in result.rows}
    assert due[Channel.WEBPUSH] == due[Channel.FCM] == at("2026-06-02T07:00:00+03:00")
    assert due[Channel.EMAIL] == evening


@pytest.mark.parametrize(
    "kind", [Kind.OFFER, Kind.DOCTOR_ARRIVED, Kind.PHONE_VERIFICATION, Kind.PASSWORD_RESET]
)
def test_offers_codes_and_a_visit_under_way_bypass_quiet_hours(kind: Kind) -> None:
    night = at("2026-06-02T03:00:00+03:00")
    req = request(kind, to="+79161234567" if kind is Kind.PHONE_VERIFICATION else None)
    rows = rules.plan(req, preferences=NIGHT, contact=FULL_CONTACT, now_s=night).rows
    assert rows and all(r.next_attempt_s - night in (0.0, 10.0, 30.0) for r in rows)


def test_emergencies_bypass_quiet_hours() -> None:
    night = at("2026-06-02T03:00:00+03:00")
    rows = rules.plan(
        request(Kind.BOOKING_CANCELLED, emergency=True),
        preferences=NIGHT,
        contact=FULL_CONTACT,
        now_s=night,
    ).rows
    assert {r.channel for r in rows} == set(Channel)
    assert all(r.next_attempt_s == night for r in rows)


def test_a_message_quiet_hours_would_hold_past_its_use_is_not_made() -> None:
    night = at("2026-06-02T05:30:00+03:00")
    result = rules.plan(
        request(Kind.VISIT_REMINDER_1H, expires_s=at("2026-06-02T06:30:00+03:00")),
        preferences=NIGHT,
        contact=FULL_CONTACT,
        now_s=night,
    )
    assert result.rows == ()
    assert {s.reason for s in result.skipped} == {"quiet hours last until it expires"}
    expired = rules.plan(
        request(Kind.OFFER, expires_s=NOW - 1), preferences=PREFS, contact=FULL_CONTACT, now_s=NOW
    )
    assert expired.rows == () and {s.reason for s in expired.skipped} == {"expired"}


def test_verification_messages_go_to_the_address_being_verified() -> None:
    contact = Contact(user_id="u1")
    sms = rules.plan(
        request(Kind.PHONE_VERIFICATION, to="8 (916) 765-43-21"),
        preferences=PREFS,
        contact=contact,
        now_s=NOW,
    ).rows
    assert [(r.channel, r.to) for r in sms] == [(Channel.SMS, "+79167654321")]
    mail = rules.plan(
        request(Kind.EMAIL_VERIFICATION, to="New@Example.ORG"),
        preferences=PREFS,
        contact=contact,
        now_s=NOW,
    ).rows
    assert [(r.channel, r.to) for r in mail] == [(Channel.EMAIL, "New@example.org")]
    with pytest.raises(NotificationError):
        rules.plan(request(Kind.PHONE_VERIFICATION), preferences=PREFS, contact=contact, now_s=NOW)
    with pytest.raises(InvalidPhoneError):
        rules.plan(
            request(Kind.PHONE_VERIFICATION, to="12"), preferences=PREFS, contact=contact, now_s=NOW
        )


def test_a_password_reset_goes_to_the_login_address_even_unverified() -> None:
    contact = Contact(user_id="u1", email="anna@example.org", email_verified=False)
    rows = rules.plan(request(Kind.PASSWORD_RESET), preferences=PREFS, contact=contact, now_s=NOW)
    assert [r.to for r in rows.rows] == ["anna@example.org"]


def test_medical_details_are_refused_by_name() -> None:
    for name in ("symptoms", "notes", "diagnosis", "Symptoms"):
        with pytest.raises(UnknownVariableError, match="medical"):
            rules.plan(
                request(variables=variables(Kind.OFFER, **{name: "боль в груди"})),
                preferences=PREFS,
                contact=FULL_CONTACT,
                now_s=NOW,
            )


def test_bad_variables_are_refused() -> None:
    ok = variables(Kind.OFFER)
    missing = dict(ok)
    del missing["area"]
    with pytest.raises(MissingVariableError, match="area"):
        rules.check_variables(Kind.OFFER, missing)
    with pytest.raises(UnknownVariableError, match="colour"):
        rules.check_variables(Kind.OFFER, {**ok, "colour": "red"})
    for key, value in [
        ("url", "javascript:alert(1)"),
        ("url", "https://x.example/ space"),
        ("eta_min", "twelve"),
        ("expires_in_s", "-1"),
        ("area", "x" * 1_001),
        ("area", "a\x00b"),
    ]:
        with pytest.raises(NotificationError):
            rules.check_variables(Kind.OFFER, {**ok, key: value})
    with pytest.raises(NotificationError):
        rules.check_variables(Kind.REFUND, variables(Kind.REFUND, amount_kopecks="15.00"))
    with pytest.raises(NotificationError):
        rules.check_variables(Kind.NEW_SIGN_IN, variables(Kind.NEW_SIGN_IN, at_s="yesterday"))
    with pytest.raises(NotificationError):
        rules.plan(request(event_key=""), preferences=PREFS, contact=FULL_CONTACT, now_s=NOW)


def test_unknown_language_or_zone_in_preferences_does_not_lose_the_message() -> None:
    prefs = Preferences(user_id="u1", locale="de", tz="Mars/Olympus")
    rows = rules.plan(request(), preferences=prefs, contact=FULL_CONTACT, now_s=NOW).rows
    assert rows and all(r.locale == "ru" and r.tz == "Europe/Moscow" for r in rows)


def test_preferences_are_validated() -> None:
    assert rules.validate_preferences(NIGHT) is NIGHT
    for bad in [
        replace(PREFS, locale="de"),
        replace(PREFS, tz="Mars/Olympus"),
        replace(PREFS, tz="../../etc/passwd"),
        replace(PREFS, tz=""),
        replace(PREFS, quiet_start_min=1440, quiet_end_min=0),
        replace(PREFS, quiet_start_min=-1, quiet_end_min=0),
        replace(PREFS, quiet_start_min=60),
    ]:
        with pytest.raises(InvalidPreferencesError):
            rules.validate_preferences(bad)


def test_require_verified() -> None:
    assert rules.require_verified(FULL_CONTACT, Channel.SMS) == "+79161234567"
    assert rules.require_verified(FULL_CONTACT, Channel.EMAIL) == "anna@example.org"
    with pytest.raises(UnverifiedAddressError):
        rules.require_verified(replace(FULL_CONTACT, phone_verified=False), Channel.SMS)
    with pytest.raises(UnverifiedAddressError):
        rules.require_verified(Contact(user_id="u1"), Channel.EMAIL)


# ---------------------------------------------------------------------------- quiet hours


def test_quiet_hours_crossing_midnight_in_moscow() -> None:
    assert rules.quiet_until(at("2026-06-01T21:59:59+03:00"), NIGHT) is None
    assert rules.quiet_until(at("2026-06-01T22:00:00+03:00"), NIGHT) == at(
        "2026-06-02T07:00:00+03:00"
    )
    assert rules.quiet_until(at("2026-06-02T00:30:00+03:00"), NIGHT) == at(
        "2026-06-02T07:00:00+03:00"
    )
    assert rules.quiet_until(at("2026-06-02T06:59:59+03:00"), NIGHT) == at(
        "2026-06-02T07:00:00+03:00"
    )
    assert rules.quiet_until(at("2026-06-02T07:00:00+03:00"), NIGHT) is None
    # Moscow keeps UTC+3 all year: no DST edge in March or October.
    assert rules.quiet_until(at("2026-03-29T01:00:00+03:00"), NIGHT) == at(
        "2026-03-29T07:00:00+03:00"
    )


def test_quiet_hours_in_the_person_s_own_zone() -> None:
    vladivostok = replace(NIGHT, tz="Asia/Vladivostok")  # UTC+10
    noon_moscow = at("2026-06-01T15:00:00+03:00")  # 22:00 in Vladivostok
    assert rules.quiet_until(noon_moscow, NIGHT) is None
    assert rules.quiet_until(noon_moscow, vladivostok) == at("2026-06-02T07:00:00+10:00")


def test_no_quiet_hours() -> None:
    assert not rules.is_quiet(NOW, PREFS)
    assert not rules.is_quiet(NOW, replace(PREFS, quiet_start_min=60, quiet_end_min=60))


BERLIN = Preferences(user_id="u1", tz="Europe/Berlin")


def test_berlin_spring_forward_ends_quiet_hours_when_the_clocks_jump() -> None:
    # 2026-03-29: 02:00 CET -> 03:00 CEST (01:00Z). Quiet until 02:30, which does not exist.
    prefs = replace(BERLIN, quiet_start_min=23 * 60, quiet_end_min=2 * 60 + 30)
    assert rules.quiet_until(at("2026-03-29T00:30:00+00:00"), prefs) == at(
        "2026-03-29T01:00:00+00:00"
    )
    assert not rules.is_quiet(at("2026-03-29T01:00:00+00:00"), prefs)


def test_berlin_fall_back_ends_quiet_hours_at_the_first_and_then_second_occurrence() -> None:
    # 2026-10-25: 03:00 CEST -> 02:00 CET (01:00Z); 02:30 happens at 00:30Z and at 01:30Z.
    prefs = replace(BERLIN, quiet_start_min=60, quiet_end_min=2 * 60 + 30)
    assert rules.quiet_until(at("2026-10-24T23:30:00+00:00"), prefs) == at(
        "2026-10-25T00:30:00+00:00"
    )
    # In the repeated hour (02:15 CET), the end is 02:30 CET.
    assert rules.quiet_until(at("2026-10-25T01:15:00+00:00"), prefs) == at(
        "2026-10-25T01:30:00+00:00"
    )


ZONES = [
    "Europe/Moscow",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # DST of half an hour
    "Asia/Kolkata",
    "UTC",
]


@settings(max_examples=300, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    start=st.integers(0, 1439),
    end=st.integers(0, 1439),
    at_s=st.integers(
        int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()),
        int(datetime(2030, 1, 1, tzinfo=UTC).timestamp()),
    ),
)
def test_quiet_hours_end_is_the_first_instant_out_of_them(
    tz: str, start: int, end: int, at_s: int
) -> None:
    _check_quiet_until(tz, start, end, at_s)


def _check_quiet_until(tz: str, start: int, end: int, at_s: int) -> None:
    prefs = Preferences(user_id="u", tz=tz, quiet_start_min=start, quiet_end_min=end)
    until = rules.quiet_until(at_s, prefs)
    if until is None:
        assert not rules.is_quiet(at_s, prefs)
        return
    assert rules.is_quiet(at_s, prefs)
    # A window of nearly the whole day whose gap falls in the hour the clocks skip has no
    # end that day: it lasts to the next day's (see the tests below), so up to two days
    assert at_s < until <= at_s + 49 * 3600
    assert not rules.is_quiet(until, prefs)
    assert rules.is_quiet(until - 1, prefs)
    # every minute in between is quiet too, but where the clocks went back: the repeated
    # hour may step out of the window for a while (01:00 after 01:59 when it starts at
    # 01:01); the quiet hours still end at their end time.
    step = at_s
    while step < until:
        assert rules.is_quiet(step, prefs) or datetime.fromtimestamp(step, ZoneInfo(tz)).fold
        step += 60
    # and the wall clock at the end shows the end time (or later, if the clocks jumped)
    local = datetime.fromtimestamp(until, ZoneInfo(tz))
    minute = local.hour * 60 + local.minute
    assert minute == end or (0 < (minute - end) % 1440 <= 120)


def _transitions_2026(tz: str) -> list[int]:
    """The instants a zone's UTC offset changed in 2026 (to the second)."""
    zone = ZoneInfo(tz)

    def offset(t: int) -> object:
        return datetime.fromtimestamp(t, zone).utcoffset()

    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    found = []
    for hour in range(366 * 24):
        lo, hi = start + hour * 3600, start + (hour + 1) * 3600
        if offset(lo) != offset(hi):
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == offset(lo) else (lo, mid)
            found.append(hi)
    return found


DST_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
TRANSITIONS_2026 = [(tz, t) for tz in DST_ZONES for t in _transitions_2026(tz)]


def test_the_dst_zones_have_their_transitions_and_moscow_has_none() -> None:
    assert len(TRANSITIONS_2026) == 6
    assert _transitions_2026("Europe/Moscow") == []


@settings(max_examples=400, deadline=None)
@given(
    transition=st.sampled_from(TRANSITIONS_2026),
    start=st.integers(0, 1439),
    end=st.integers(0, 1439),
    offset_s=st.integers(-26 * 3600, 3 * 3600),
)
def test_quiet_hours_around_dst_transitions(
    transition: tuple[str, int], start: int, end: int, offset_s: int
) -> None:
    tz, instant = transition
    _check_quiet_until(tz, start, end, instant + offset_s)


# ---------------------------------------------------------------------------- retries


@given(
    attempt=st.integers(1, 10_000),
    u=st.floats(0.0, 1.0, exclude_max=True),
    base=st.floats(0.01, 60.0),
    cap=st.floats(0.01, 86_400.0),
)
def test_backoff_is_full_jitter_under_the_exponential_cap(
    attempt: int, u: float, base: float, cap: float
) -> None:
    policy = rules.RetryPolicy(base_s=base, cap_s=cap)
    wait = rules.backoff_s(attempt, u, policy)
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 64))
    assert 0.0 <= wait <= ceiling
    assert math.isclose(wait, u * ceiling)
    assert rules.backoff_s(attempt, 0.0, policy) == 0.0


@given(attempt=st.integers(1, 60), u=st.floats(0.0, 1.0, exclude_max=True))
def test_backoff_grows_with_the_attempt(attempt: int, u: float) -> None:
    assert rules.backoff_s(attempt, u) <= rules.backoff_s(attempt + 1, u)


def test_backoff_refuses_nonsense() -> None:
    for attempt, u in [(0, 0.5), (1, 1.0), (1, -0.1), (1, math.nan)]:
        with pytest.raises(ValueError, match=r"attempt|u must"):
            rules.backoff_s(attempt, u)


def _row(**kw: object) -> Notification:
    row = rules.plan(request(), preferences=PREFS, contact=FULL_CONTACT, now_s=NOW).rows[0]
    return replace(row, **kw)  # type: ignore[arg-type]


def test_a_transient_error_is_retried_after_the_backoff_or_the_providers_retry_after() -> None:
    row = rules.claimed(_row(expires_s=NOW + 10_000), now_s=NOW, lease_s=60)
    assert row.status is Status.SENDING and row.attempts == 1 and row.lease_until_s == NOW + 60
    failure = rules.after_error(row, TransientSendError("HTTP 503"), now_s=NOW, u=0.5)
    assert failure.row.status is Status.FAILED and failure.forget is None
    assert failure.row.next_attempt_s == NOW + rules.backoff_s(1, 0.5)
    assert failure.row.last_error == "HTTP 503" and failure.row.lease_until_s is None
    later = rules.after_error(
        row, TransientSendError("HTTP 429", retry_after_s=120), now_s=NOW, u=0.5
    )
    assert later.row.next_attempt_s == NOW + 120


def test_attempts_exhausted_go_to_the_dead_letter() -> None:
    policy = rules.RetryPolicy(max_attempts=3)
    row = replace(_row(expires_s=NOW + 10_000), status=Status.SENDING, attempts=3)
    failure = rules.after_error(row, TransientSendError("timeout"), now_s=NOW, u=0.1, policy=policy)
    assert failure.row.status is Status.DEAD
    assert failure.row.last_error == "gave up after 3 attempts: timeout"


def test_a_permanent_error_is_dead_with_its_reason_and_a_gone_destination_is_forgotten() -> None:
    row = replace(_row(), status=Status.SENDING, attempts=1)
    failure = rules.after_error(row, PermanentSendError("HTTP 400: bad number"), now_s=NOW, u=0)
    assert failure.row.status is Status.DEAD and failure.row.last_error == "HTTP 400: bad number"
    assert failure.forget is None
    gone = rules.after_error(row, PermanentSendError("HTTP 410", gone=True), now_s=NOW, u=0)
    assert gone.row.status is Status.DEAD and gone.forget == row.to


def test_a_retry_after_the_deadline_is_skipped_not_dead() -> None:
    row = replace(_row(), status=Status.SENDING, attempts=1, expires_s=NOW + 5)
    failure = rules.after_error(row, TransientSendError("busy", retry_after_s=60), now_s=NOW, u=0.0)
    assert failure.row.status is Status.SKIPPED
    assert failure.row.last_error == "expired while retrying: busy"


def test_other_exceptions_are_transient_and_their_message_is_not_kept() -> None:
    row = replace(_row(expires_s=NOW + 10_000), status=Status.SENDING, attempts=1)
    failure = rules.after_error(row, RuntimeError("token=SECRET"), now_s=NOW, u=0.0)
    assert failure.row.status is Status.FAILED and failure.row.last_error == "RuntimeError"


def test_sent_delivered_skipped_and_replayed() -> None:
    row = rules.claimed(_row(), now_s=NOW, lease_s=30)
    sent = rules.after_sent(row, Sent("m-1"), provider="webpush", now_s=NOW + 1)
    assert (sent.status, sent.provider, sent.provider_id, sent.sent_s) == (
        Status.SENT,
        "webpush",
        "m-1",
        NOW + 1,
    )
    delivered = rules.after_delivered(sent, now_s=NOW + 2)
    assert delivered.status is Status.DELIVERED and delivered.delivered_s == NOW + 2
    assert rules.after_delivered(delivered, now_s=NOW + 3) is delivered
    at_once = rules.after_sent(row, Sent("m-2", delivered=True), provider="twilio", now_s=NOW)
    assert at_once.status is Status.DELIVERED
    dead = rules.after_error(row, PermanentSendError("410"), now_s=NOW, u=0).row
    assert rules.after_delivered(dead, now_s=NOW) is dead
    again = rules.replayed(dead, now_s=NOW + 500)
    assert again.status is Status.QUEUED and again.attempts == 0
    assert again.next_attempt_s == NOW + 500 and again.idempotency_key == row.idempotency_key
    assert again.expires_s == NOW + 500 + 3_600  # the old deadline had passed
    with pytest.raises(NotificationError):
        rules.replayed(sent, now_s=NOW)


def test_a_row_whose_workers_keep_dying_goes_dead_instead_of_being_sent_again() -> None:
    policy = rules.RetryPolicy(max_attempts=2)
    row = _row(expires_s=NOW + 10_000)
    for n in range(3):
        row = rules.claimed(row, now_s=NOW + 100 * n, lease_s=60)  # and the worker dies
    assert row.attempts == 3
    assert rules.exhausted_reason(row, policy) == (
        "gave up after 2 attempts (the worker stopped mid-send)"
    )
    assert rules.exhausted_reason(replace(row, attempts=2), policy) is None


def test_claims_take_due_rows_and_rows_whose_lease_ran_out() -> None:
    row = _row()
    assert rules.is_claimable(row, NOW)
    assert not rules.is_claimable(replace(row, next_attempt_s=NOW + 1), NOW)
    leased = rules.claimed(row, now_s=NOW, lease_s=60)
    assert not rules.is_claimable(leased, NOW + 59)
    assert rules.is_claimable(leased, NOW + 60)
    assert rules.claimed(leased, now_s=NOW + 60, lease_s=60).attempts == 2
    with pytest.raises(NotificationError):
        rules.claimed(leased, now_s=NOW + 1, lease_s=60)


def test_a_fallback_is_skipped_once_an_earlier_step_was_delivered() -> None:
    rows = rules.plan(request(), preferences=PREFS, contact=FULL_CONTACT, now_s=NOW).rows
    push, fcm, sms = rows
    assert rules.skip_reason(sms, rows, NOW + 10) is None
    sent = replace(push, status=Status.SENT)
    assert rules.skip_reason(sms, [sent, fcm, sms], NOW + 10) is None
    delivered = replace(push, status=Status.DELIVERED)
    assert rules.skip_reason(sms, [delivered, fcm, sms], NOW + 10) == "delivered by webpush"
    assert rules.skip_reason(push, [delivered, fcm, sms], NOW) is None
    assert rules.skip_reason(push, rows, push.expires_s) == "expired"
    skipped = rules.skipped(sms, "delivered by webpush", now_s=NOW + 10)
    assert skipped.status is Status.SKIPPED and skipped.last_error == "delivered by webpush"


Action = st.sampled_from(["claim", "sent", "transient", "permanent", "delivered", "replay"])


@settings(max_examples=200, deadline=None)
@given(actions=st.lists(st.tuples(Action, st.floats(0, 1, exclude_max=True)), max_size=40))
def test_a_row_only_moves_along_the_transition_table(actions: list[tuple[str, float]]) -> None:
    policy = rules.RetryPolicy(base_s=1, cap_s=10, max_attempts=4)
    row = _row(expires_s=NOW + 1e9)
    now = NOW
    claims_since_replay = sends_since_replay = 0
    for action, u in actions:
        now += 100  # past any backoff (cap 10 s) and any lease (a worker died)
        before = row
        if action == "claim" and rules.is_claimable(row, now):
            row = rules.claimed(row, now_s=now, lease_s=30)
            claims_since_replay += 1
            reason = rules.exhausted_reason(row, policy)
            if reason is not None:
                row = rules.dead(row, reason, now_s=now)
        elif action in ("sent", "transient", "permanent") and row.status is Status.SENDING:
            sends_since_replay += 1
            if action == "sent":
                row = rules.after_sent(row, Sent("id"), provider="p", now_s=now)
            else:
                error = (
                    TransientSendError("x") if action == "transient" else PermanentSendError("x")
                )
                row = rules.after_error(row, error, now_s=now, u=u, policy=policy).row
        elif action == "delivered":
            row = rules.after_delivered(row, now_s=now)
        elif action == "replay" and row.status is Status.DEAD:
            row = rules.replayed(row, now_s=now)
            claims_since_replay = sends_since_replay = 0
        if row.status is not before.status:
            assert row.status in TRANSITIONS[before.status], (before.status, row.status)
        assert row.attempts == claims_since_replay <= policy.max_attempts + 1
        assert sends_since_replay <= policy.max_attempts
        assert row.idempotency_key == before.idempotency_key
        if row.status in (Status.SENDING,):
            assert row.lease_until_s is not None
        else:
            assert row.lease_until_s is None


# ---------------------------------------------------------------------------- reminders


def test_a_visit_gets_reminders_24_h_and_1_h_before() -> None:
    visit = NOW + 3 * 86_400
    reminders = rules.visit_reminders(booking_id="b1", user_id="u1", visit_s=visit, now_s=NOW)
    assert [(r.kind, r.due_s) for r in reminders] == [
        (Kind.VISIT_REMINDER_24H, visit - 86_400),
        (Kind.VISIT_REMINDER_1H, visit - 3_600),
    ]
    assert all(r.booking_id == "b1" and r.visit_s == visit and not r.sent for r in reminders)
    same = rules.visit_reminders(booking_id="b1", user_id="u1", visit_s=visit, now_s=NOW + 5)
    assert [r.reminder_id for r in same] == [r.reminder_id for r in reminders]
    moved = rules.visit_reminders(booking_id="b1", user_id="u1", visit_s=visit + 60, now_s=NOW)
    assert {r.reminder_id for r in moved}.isdisjoint(r.reminder_id for r in reminders)


def test_no_reminder_in_the_past_and_offsets_are_configurable() -> None:
    soon = NOW + 5 * 3_600
    reminders = rules.visit_reminders(booking_id="b1", user_id="u1", visit_s=soon, now_s=NOW)
    assert [r.kind for r in reminders] == [Kind.VISIT_REMINDER_1H]
    assert rules.visit_reminders(booking_id="b1", user_id="u1", visit_s=NOW + 60, now_s=NOW) == []
    custom = rules.visit_reminders(
        booking_id="b1",
        user_id="u1",
        visit_s=soon,
        now_s=NOW,
        offsets_s={Kind.VISIT_REMINDER_24H: 4 * 3_600, Kind.VISIT_REMINDER_1H: 1_800},
    )
    assert [r.due_s for r in custom] == [soon - 4 * 3_600, soon - 1_800]
    for bad in ({Kind.OFFER: 60.0}, {Kind.VISIT_REMINDER_1H: 0.0}, {Kind.VISIT_REMINDER_1H: -5.0}):
        with pytest.raises(NotificationError):
            rules.visit_reminders(
                booking_id="b1", user_id="u1", visit_s=soon, now_s=NOW, offsets_s=bad
            )


def test_a_due_reminder_becomes_a_request_keyed_by_it_that_expires_at_the_visit() -> None:
    (reminder,) = rules.visit_reminders(
        booking_id="b1", user_id="u1", visit_s=NOW + 7_200, now_s=NOW
    )
    req = rules.reminder_request(reminder, variables(Kind.VISIT_REMINDER_1H))
    assert req.kind is Kind.VISIT_REMINDER_1H and req.expires_s == NOW + 7_200
    assert req.event_key == f"reminder:{reminder.reminder_id}"
    rows = rules.plan(req, preferences=PREFS, contact=FULL_CONTACT, now_s=reminder.due_s).rows
    assert rows and all(r.expires_s == NOW + 7_200 for r in rows)


# ---------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("+7 916 123-45-67", "+79161234567"),
        ("8 (916) 123-45-67", "+79161234567"),
        ("89161234567", "+79161234567"),
        ("79161234567", "+79161234567"),
        ("+7(831)2-123-456", "+78312123456"),
        ("8-800-555-35-35", "+78005553535"),
        (" +44 20 7946 0958 ", "+442079460958"),
        ("+1.212.555.0100", "+12125550100"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(written: str, e164: str) -> None:
    assert rules.normalize_phone(written) == e164


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "916 123 45 67",
        "+7 916 123 45",
        "+7 916 123 45 678",
        "+0 123 456 789",
        "++79161234567",
        "+7916+1234567",
        "+7 ٩١٦ ١٢٣ ٤٥ ٦٧",  # Arabic-Indic digits
        "tel:+79161234567",
        "+1234567890123456",
        "8 916 123 45 67 ext 2",
        "1" * 40,
    ],
)
def test_bad_phone_numbers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidPhoneError):
        rules.normalize_phone(bad)


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_every_russian_way_of_writing_a_number_gives_the_same_e164(digits: str) -> None:
    spaced = f"{digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    forms = [
        "8" + digits,
        "7" + digits,
        "+7" + digits,
        f"+7 {spaced}",
        f"8 ({digits[:3]}) {spaced[4:]}",
    ]
    assert {rules.normalize_phone(f) for f in forms} == {"+7" + digits}


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=40), st.text(alphabet="+0123456789 -()8.", max_size=25)))
def test_random_phone_input_gives_e164_or_a_notification_error(text: str) -> None:
    try:
        phone = rules.normalize_phone(text)
    except InvalidPhoneError:
        return
    assert rules._E164.fullmatch(phone)
    assert rules.normalize_phone(phone) == phone


def test_e_mail_addresses() -> None:
    assert rules.validate_email("Anna@Example.ORG") == "Anna@example.org"
    assert rules.validate_email("patient@demo.tot.example.org") == "patient@demo.tot.example.org"
    assert rules.validate_email("user@host.test") == "user@host.test"
    for bad in ["", "anna", "anna@", "@example.org", "a b@example.org", "a@b@c.org", None, 5]:
        with pytest.raises(InvalidEmailError):
            rules.validate_email(bad)
    with pytest.raises(InvalidEmailError):
        rules.validate_email("a" * 250 + "@example.org")


@settings(max_examples=500)
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds(lambda a, b: f"{a}@{b}", st.text(max_size=30), st.text(max_size=30)),
    )
)
def test_random_e_mail_input_gives_an_address_or_a_notification_error(text: str) -> None:
    try:
        address = rules.validate_email(text)
    except InvalidEmailError:
        return
    assert "@" in address and len(address) <= 254


def _subscription(**changes: object) -> dict[str, object]:
    sub: dict[str, object] = {
        "endpoint": ENDPOINT,
        "expirationTime": None,
        "keys": {"p256dh": P256DH, "auth": AUTH},
    }
    keys = dict(sub["keys"])  # type: ignore[call-overload]
    for key, value in changes.items():
        if key in ("p256dh", "auth"):
            keys[key] = value
        else:
            sub[key] = value
    sub["keys"] = keys
    return sub


@settings(max_examples=20, deadline=None)
@given(st.integers(1, N - 1))
def test_real_subscriptions_are_accepted_as_dicts_or_json(scalar: int) -> None:
    key = rules.b64url_encode(public_key(scalar))
    sub = rules.validate_subscription(_subscription(p256dh=key))
    assert sub == WebPushSubscription(ENDPOINT, key, AUTH)
    assert rules.validate_subscription(json.dumps(_subscription(p256dh=key))) == sub
    padded = _subscription(p256dh=key + "=" * (-len(key) % 4), auth=AUTH + "==")
    assert rules.validate_subscription(padded) == sub
    assert json.loads(sub.to_json()) == {
        "endpoint": ENDPOINT,
        "keys": {"p256dh": key, "auth": AUTH},
    }


def _off_curve() -> str:
    raw = bytearray(public_key(7))
    raw[-1] ^= 1
    return rules.b64url_encode(bytes(raw))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"endpoint": "http://fcm.googleapis.com/fcm/send/x"}, "https"),
        ({"endpoint": "https://127.0.0.1/push"}, "IP"),
        ({"endpoint": "https://[::1]/push"}, "IP"),
        ({"endpoint": "https://localhost/push"}, "public"),
        ({"endpoint": "https://push.internal/x"}, "public"),
        ({"endpoint": "https://printer.local/x"}, "public"),
        ({"endpoint": "https://user:pw@fcm.googleapis.com/x"}, "https URL"),
        ({"endpoint": "https://fcm.googleapis.com/x#frag"}, "https URL"),
        ({"endpoint": "https://fcm.googleapis.com/a b"}, "https URL"),
        ({"endpoint": "https://fcm.googleapis.com:99999/x"}, "port"),
        ({"endpoint": "https://-bad-.example.org/x"}, "host"),
        ({"endpoint": "https://" + "a" * 2050 + ".org/"}, "too long"),
        ({"endpoint": None}, "URL"),
        ({"p256dh": rules.b64url_encode(public_key(7)[1:])}, "P-256"),  # 64 bytes
        ({"p256dh": rules.b64url_encode(b"\x02" + public_key(7)[1:33])}, "P-256"),  # compressed
        ({"p256dh": _off_curve()}, "P-256"),
        ({"p256dh": "not base64!"}, "base64url"),
        ({"p256dh": P256DH.replace("_", "/").replace("-", "+") + "/+"}, "base64url"),
        ({"auth": rules.b64url_encode(bytes(15))}, "16 bytes"),
        ({"auth": rules.b64url_encode(bytes(17))}, "16 bytes"),
        ({"auth": 16}, "p256dh and auth"),
    ],
)
def test_malformed_subscriptions_say_what_is_wrong(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidSubscriptionError, match=message):
        rules.validate_subscription(_subscription(**changes))


def test_a_local_test_push_server_may_be_allowed_by_name() -> None:
    local = _subscription(endpoint="http://127.0.0.1:8089/push/abc")
    with pytest.raises(InvalidSubscriptionError):
        rules.validate_subscription(local)
    sub = rules.validate_subscription(local, insecure_hosts={"127.0.0.1"})
    assert sub.endpoint == "http://127.0.0.1:8089/push/abc"


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["endpoint", "keys", "p256dh", "auth", "x"]) | st.text(max_size=5),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=500)
@given(
    st.one_of(
        JSONISH,
        st.text(max_size=200),
        st.binary(max_size=100),
        st.builds(
            lambda e, p, a: {"endpoint": e, "keys": {"p256dh": p, "auth": a}},
            st.one_of(st.just(ENDPOINT), st.text(max_size=60).map(lambda t: "https://" + t)),
            st.one_of(st.just(P256DH), st.text(max_size=90)),
            st.one_of(st.just(AUTH), st.text(max_size=30)),
        ),
    )
)
def test_random_junk_subscriptions_give_a_notification_error_only(value: object) -> None:
    try:
        sub = rules.validate_subscription(value)
    except InvalidSubscriptionError:
        return
    assert rules.validate_subscription(sub.to_json()) == sub


def test_fcm_tokens() -> None:
    assert rules.validate_fcm_token(FCM_TOKEN) == FCM_TOKEN
    for bad in ["", "short", "a b" * 20, "x" * 5_000, None, "токен" * 10]:
        with pytest.raises(InvalidTokenError):
            rules.validate_fcm_token(bad)


# ---------------------------------------------------------------------------- payload limits


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a" * 160, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),
        ("a" * 306, "gsm7", 306, 2),
        ("a" * 307, "gsm7", 307, 3),
        ("€" * 80, "gsm7", 160, 1),
        ("a" * 152 + "€" + "a" * 10, "gsm7", 164, 2),  # the escape pair is not split
        ("a" * 152 + "€" * 77, "gsm7", 306, 3),
        ("ж" * 70, "ucs2", 70, 1),
        ("ж" * 71, "ucs2", 71, 2),
        ("ж" * 134, "ucs2", 134, 2),
        ("ж" * 135, "ucs2", 135, 3),
        ("a" * 159 + "ж", "ucs2", 160, 3),
        ("😀" * 35, "ucs2", 70, 1),
        ("a" * 66 + "😀" + "a", "ucs2", 69, 1),
        ("a" * 66 + "😀" + "a" * 3, "ucs2", 71, 2),  # the surrogate pair is not split
        ("", "gsm7", 0, 1),
    ],
)
def test_sms_segments(text: str, encoding: str, units: int, segments: int) -> None:
    assert rules.sms_size(text) == rules.SmsSize(encoding, units, segments)


@given(st.text(max_size=600))
def test_sms_segments_are_enough_for_the_text(text: str) -> None:
    size = rules.sms_size(text)
    single, part = (160, 153) if size.encoding == "gsm7" else (70, 67)
    if size.units <= single:
        assert size.segments == 1
    else:
        assert math.ceil(size.units / part) <= size.segments <= math.ceil(size.units / (part - 1))


def test_sms_over_the_segment_limit_or_empty_is_refused() -> None:
    assert rules.check_sms("ж" * 201) == "ж" * 201
    with pytest.raises(PayloadTooLargeError, match="4 segments"):
        rules.check_sms("ж" * 202)
    with pytest.raises(PayloadTooLargeError):
        rules.check_sms("a" * 200, max_segments=1)
    with pytest.raises(PayloadTooLargeError):
        rules.check_sms("  ")


def test_push_payload_limit_counts_the_encryption_overhead() -> None:
    assert rules.WEBPUSH_OVERHEAD_BYTES == 103
    assert rules.MAX_PUSH_PAYLOAD_BYTES + rules.WEBPUSH_OVERHEAD_BYTES == 3_800
    message = Rendered("n1", "k1", Channel.WEBPUSH, SUB.to_json(), "ж" * 10, subject="t")
    payload = rules.push_payload(message)
    assert json.loads(payload) == {
        "title": "t",
        "body": "ж" * 10,
        "data": {"notification_id": "n1"},
    }
    limit = rules.MAX_PUSH_PAYLOAD_BYTES
    assert rules.check_push_payload(b"x" * limit) == b"x" * limit
    with pytest.raises(PayloadTooLargeError):
        rules.check_push_payload(b"x" * (limit + 1))


# ---------------------------------------------------------------------------- unsubscribe


def test_unsubscribe_tokens_round_trip_and_refuse_tampering() -> None:
    token = rules.unsubscribe_token(b"secret", "u1", Kind.PAYMENT_RECEIPT)
    assert rules.read_unsubscribe_token(b"secret", token) == ("u1", Kind.PAYMENT_RECEIPT)
    with pytest.raises(NotificationError):
        rules.read_unsubscribe_token(b"other", token)
    _, sig = token.split(".")
    forged = rules.b64url_encode(b"u2\x1fpayment_receipt")
    with pytest.raises(NotificationError):
        rules.read_unsubscribe_token(b"secret", f"{forged}.{sig}")


@given(st.text(max_size=80))
def test_junk_unsubscribe_tokens_give_a_notification_error(token: str) -> None:
    with pytest.raises(NotificationError):
        rules.read_unsubscribe_token(b"secret", token)


def test_a_window_ending_in_the_skipped_hour_ends_the_next_day() -> None:
    """Found by the property above: quiet from 02:01 to 02:00 (all day but one minute) in
    Berlin on the night the clocks skip 02:00-03:00 does not end at the jump (03:00 is
    quiet again), but at 02:00 the next day."""
    prefs = Preferences(user_id="u", tz="Europe/Berlin", quiet_start_min=121, quiet_end_min=120)
    at_s = 1774745999  # 2026-03-29 01:59:59 CET, a second before the jump
    until = rules.quiet_until(at_s, prefs)
    assert until is not None and not rules.is_quiet(until, prefs)
    assert until - at_s > 20 * 3600  # the next day's 02:00


def test_the_longest_quiet_stretch_is_a_day_and_the_skipped_hour() -> None:
    """Found by the property above: quiet from 02:13 to 02:12 in Berlin, asked at 00:31:59
    on the night 02:00-03:00 is skipped, lasts to 02:12 the next day: 25 h and a second."""
    prefs = Preferences(user_id="u", tz="Europe/Berlin", quiet_start_min=133, quiet_end_min=132)
    until = rules.quiet_until(1774739519, prefs)
    assert until == 1774829520.0 and not rules.is_quiet(until, prefs)
