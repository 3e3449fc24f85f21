"""Notifications' rows as both notification stores write and read them (PostGIS
migration 0009, SQLite component "notifications"): column lists, values in column
order, and objects from rows. Times are epoch seconds here; each adapter converts its own
(PostGIS: timestamptz; SQLite: REAL)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from notifications.channels import Channel
from notifications.model import (
    Contact,
    Kind,
    Notification,
    NotificationStatus,
    Preferences,
    Reminder,
    WebPushSubscription,
)

NOTIFICATION_COLUMNS = (
    "notification_id",
    "idempotency_key",
    "group_key",
    "step",
    "user_id",
    "kind",
    "channel",
    "destination",
    "locale",
    "tz",
    "variables",
    "created_at",
    "next_attempt_at",
    "expires_at",
    "status",
    "fallback",
    "urgent",
    "attempts",
    "lease_until",
    "provider",
    "provider_id",
    "last_error",
    "updated_at",
    "sent_at",
    "delivered_at",
)
NOTIFICATION_TIME_COLUMNS = frozenset(
    {
        "created_at",
        "next_attempt_at",
        "expires_at",
        "lease_until",
        "updated_at",
        "sent_at",
        "delivered_at",
    }
)
REMINDER_COLUMNS = (
    "reminder_id",
    "booking_id",
    "user_id",
    "kind",
    "due_at",
    "visit_at",
    "sent",
    "sent_at",
)
REMINDER_TIME_COLUMNS = frozenset({"due_at", "visit_at", "sent_at"})
PREFERENCE_COLUMNS = ("user_id", "locale", "tz", "off", "quiet_start_min", "quiet_end_min")

Seconds = Callable[[Any], float | None]


def notification_values(n: Notification) -> tuple[Any, ...]:
    """In NOTIFICATION_COLUMNS order; variables as JSON text, times as epoch seconds."""
    return (
        n.notification_id,
        n.idempotency_key,
        n.group_key,
        n.step,
        n.user_id,
        n.kind.value,
        n.channel.value,
        n.to,
        n.locale,
        n.tz,
        json.dumps(n.variables, ensure_ascii=False, sort_keys=True),
        n.created_s,
        n.next_attempt_s,
        n.expires_s,
        n.status.value,
        n.fallback,
        n.urgent,
        n.attempts,
        n.lease_until_s,
        n.provider,
        n.provider_id,
        n.last_error,
        n.updated_s,
        n.sent_s,
        n.delivered_s,
    )


def _required(value: float | None) -> float:
    if value is None:
        raise ValueError("a required time is missing")
    return value


def _variables(value: Any) -> dict[str, str]:
    loaded = json.loads(value) if isinstance(value, str) else dict(value)
    return {str(k): str(v) for k, v in loaded.items()}


def notification_from(row: Any, seconds: Seconds) -> Notification:
    return Notification(
        notification_id=row["notification_id"],
        idempotency_key=row["idempotency_key"],
        group_key=row["group_key"],
        step=int(row["step"]),
        user_id=row["user_id"],
        kind=Kind(row["kind"]),
        channel=Channel(row["channel"]),
        to=row["destination"],
        locale=row["locale"],
        tz=row["tz"],
        variables=_variables(row["variables"]),
        created_s=_required(seconds(row["created_at"])),
        next_attempt_s=_required(seconds(row["next_attempt_at"])),
        expires_s=_required(seconds(row["expires_at"])),
        status=NotificationStatus(row["status"]),
        fallback=bool(row["fallback"]),
        urgent=bool(row["urgent"]),
        attempts=int(row["attempts"]),
        lease_until_s=seconds(row["lease_until"]),
        provider=row["provider"],
        provider_id=row["provider_id"],
        last_error=row["last_error"],
        updated_s=seconds(row["updated_at"]),
        sent_s=seconds(row["sent_at"]),
        delivered_s=seconds(row["delivered_at"]),
    )


def reminder_values(r: Reminder) -> tuple[Any, ...]:
    return (
        r.reminder_id,
        r.booking_id,
        r.user_id,
        r.kind.value,
        r.due_s,
        r.visit_s,
        r.sent,
        r.sent_s,
    )


def reminder_from(row: Any, seconds: Seconds) -> Reminder:
    return Reminder(
        reminder_id=row["reminder_id"],
        booking_id=row["booking_id"],
        user_id=row["user_id"],
        kind=Kind(row["kind"]),
        due_s=_required(seconds(row["due_at"])),
        visit_s=_required(seconds(row["visit_at"])),
        sent=bool(row["sent"]),
        sent_s=seconds(row["sent_at"]),
    )


def off_json(off: frozenset[tuple[Kind, Channel]]) -> str:
    return json.dumps(sorted([k.value, c.value] for k, c in off))


def preference_values(p: Preferences) -> tuple[Any, ...]:
    return (p.user_id, p.locale, p.tz, off_json(p.off), p.quiet_start_min, p.quiet_end_min)


def preferences_from(row: Any) -> Preferences:
    off = json.loads(row["off"]) if isinstance(row["off"], str) else row["off"]
    return Preferences(
        user_id=row["user_id"],
        locale=row["locale"],
        tz=row["tz"],
        off=frozenset((Kind(k), Channel(c)) for k, c in off),
        quiet_start_min=row["quiet_start_min"],
        quiet_end_min=row["quiet_end_min"],
    )


def contact_from(
    user_id: str,
    row: Any | None,
    subscriptions: Sequence[Any],
    tokens: Sequence[Any],
) -> Contact:
    return Contact(
        user_id=user_id,
        email=None if row is None else row["email"],
        email_verified=False if row is None else bool(row["email_verified"]),
        phone=None if row is None else row["phone"],
        phone_verified=False if row is None else bool(row["phone_verified"]),
        push_subscriptions=tuple(
            WebPushSubscription(s["endpoint"], s["p256dh"], s["auth"]) for s in subscriptions
        ),
        fcm_tokens=tuple(t["token"] for t in tokens),
    )


def endpoint_of(subscription_json: str) -> str | None:
    """The endpoint of a subscription as channels.Rendered.to carries it, or None."""
    try:
        loaded = json.loads(subscription_json)
    except ValueError:
        return None
    endpoint = loaded.get("endpoint") if isinstance(loaded, dict) else None
    return endpoint if isinstance(endpoint, str) else None


def check_reminders(booking_id: str, reminders: list[Reminder]) -> None:
    for r in reminders:
        if r.booking_id != booking_id:
            raise ValueError(
                f"reminder {r.reminder_id} is of booking {r.booking_id}, not {booking_id}"
            )
