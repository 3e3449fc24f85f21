"""Bookings as table rows and back: shared by the PostGIS and SQLite adapters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from dispatch_core.model import (
    Actor,
    Booking,
    BookingMessage,
    BookingStatus,
    Priority,
    StatusUpdate,
)
from dispatch_core.ports import OUTBOX_TOPICS, OutboxMessage

BOOKING_COLUMNS = (
    "id", "patient_id", "doctor_id", "clinic_id", "call_type", "symptoms", "address",
    "latitude", "longitude", "status", "priority", "is_emergency", "emergency_type",
    "scheduled_time", "created_at", "assigned_at", "started_at", "completed_at", "cancelled_at",
    "notes", "estimated_duration_s", "actual_duration_s", "estimated_price_kopecks", "final_price_kopecks",
    "excluded_doctors", "requested_doctor_id", "others_if_declined", "patient_is_child",
    "language",
)  # fmt: skip
UPDATE_COLUMNS = (
    "booking_id",
    "seq",
    "old_status",
    "new_status",
    "updated_by",
    "reason",
    "doctor_id",
    "created_at",
)
MESSAGE_COLUMNS = (
    "booking_id",
    "seq",
    "sender_id",
    "sender_role",
    "message_type",
    "content",
    "created_at",
)


def to_time(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC)


def from_time(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment: datetime = value
        if moment.tzinfo is None:
            # asyncpg hands back +-infinity as naive datetime.max/min; naive .timestamp()
            # would read them as local time (and fail on datetime.min: "year 0").
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    return float(value)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _doctor_set(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):  # SQLite: JSON text
        return {str(d) for d in orjson.loads(value)}
    return {str(d) for d in value}


def booking_row(b: Booking, *, times: bool = True) -> tuple[Any, ...]:
    """Values in BOOKING_COLUMNS order; times as datetimes (or epoch seconds when times=False)."""
    t = to_time if times else (lambda v: v)
    return (
        b.booking_id, b.patient_id, b.doctor_id, b.clinic_id, b.call_type, b.symptoms, b.address,
        b.latitude, b.longitude, b.status.value, b.priority.value, b.is_emergency, b.emergency_type,
        t(b.scheduled_s), t(b.created_s), t(b.assigned_s), t(b.started_s), t(b.completed_s),
        t(b.cancelled_s), b.notes, b.estimated_duration_s, b.actual_duration_s, b.estimated_price_kopecks,
        b.final_price_kopecks,
        # a text[] for PostgreSQL, JSON text for SQLite; sorted, so a save is repeatable
        sorted(b.excluded_doctors) if times else orjson.dumps(sorted(b.excluded_doctors)).decode(),
        b.requested_doctor_id, b.others_if_declined, b.patient_is_child, b.language,
    )  # fmt: skip


def update_rows(b: Booking, start: int, *, times: bool = True) -> list[tuple[Any, ...]]:
    t = to_time if times else (lambda v: v)
    return [
        (b.booking_id, i, u.old_status.value if u.old_status else None, u.new_status.value,
         u.updated_by, u.reason, u.doctor_id, t(u.at_s))
        for i, u in enumerate(b.history[start:], start=start)
    ]  # fmt: skip


def message_rows(b: Booking, start: int, *, times: bool = True) -> list[tuple[Any, ...]]:
    t = to_time if times else (lambda v: v)
    return [
        (b.booking_id, i, m.sender_id, m.sender_role.value, m.message_type, m.content, t(m.at_s))
        for i, m in enumerate(b.messages[start:], start=start)
    ]


def booking_from(
    row: dict[str, Any], updates: list[dict[str, Any]], messages: list[dict[str, Any]]
) -> Booking:
    created = from_time(row["created_at"])
    assert created is not None
    booking = Booking(
        booking_id=row["id"],
        patient_id=row["patient_id"],
        latitude=float(row["latitude"]),
        longitude=float(row["longitude"]),
        call_type=row["call_type"],
        created_s=created,
        address=row["address"],
        symptoms=row["symptoms"],
        clinic_id=row["clinic_id"],
        priority=Priority(row["priority"]),
        is_emergency=bool(row["is_emergency"]),
        emergency_type=row["emergency_type"],
        scheduled_s=from_time(row["scheduled_time"]),
        notes=row["notes"],
        estimated_duration_s=_num(row["estimated_duration_s"]),
        actual_duration_s=_num(row["actual_duration_s"]),
        estimated_price_kopecks=_int(row["estimated_price_kopecks"]),
        final_price_kopecks=_int(row["final_price_kopecks"]),
        status=BookingStatus(row["status"]),
        doctor_id=row["doctor_id"],
        assigned_s=from_time(row["assigned_at"]),
        started_s=from_time(row["started_at"]),
        completed_s=from_time(row["completed_at"]),
        cancelled_s=from_time(row["cancelled_at"]),
        excluded_doctors=_doctor_set(row.get("excluded_doctors")),
        requested_doctor_id=row.get("requested_doctor_id"),
        others_if_declined=bool(row.get("others_if_declined", True)),
        patient_is_child=bool(row.get("patient_is_child", False)),
        language=row.get("language"),
    )
    for u in updates:
        at = from_time(u["created_at"])
        assert at is not None
        booking.history.append(
            StatusUpdate(
                BookingStatus(u["old_status"]) if u["old_status"] else None,
                BookingStatus(u["new_status"]),
                u["updated_by"],
                u["reason"],
                at,
                u["doctor_id"],
            )
        )
    for m in messages:
        at = from_time(m["created_at"])
        assert at is not None
        booking.messages.append(
            BookingMessage(
                m["sender_id"], Actor(m["sender_role"]), m["message_type"], m["content"], at
            )
        )
    return booking


def outbox_rows(b: Booking, start: int) -> list[tuple[str, str, str, float]]:
    """(topic, booking_id, payload JSON, at_s) for each new status change (history from
    `start`) that an outbox topic acts on: written in the save's own transaction."""
    rows: list[tuple[str, str, str, float]] = []
    for u in b.history[start:]:
        for topic, statuses in OUTBOX_TOPICS.items():
            if u.new_status in statuses:
                payload = {
                    "status": u.new_status.value,
                    "old_status": u.old_status.value if u.old_status else None,
                    "at_s": u.at_s,
                    "doctor_id": u.doctor_id,
                    "updated_by": u.updated_by,
                    "reason": u.reason,
                }
                rows.append((topic, b.booking_id, orjson.dumps(payload).decode(), u.at_s))
    return rows


def outbox_message(row: dict[str, Any]) -> OutboxMessage:
    payload = row["payload"]
    created = from_time(row["created_at"])
    assert created is not None
    return OutboxMessage(
        message_id=int(row["id"]),
        topic=row["topic"],
        booking_id=row["booking_id"],
        payload=orjson.loads(payload) if isinstance(payload, (str, bytes)) else dict(payload),
        attempts=int(row["attempts"]),
        created_s=created,
    )
