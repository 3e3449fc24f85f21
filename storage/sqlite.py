"""The embedded SQLite adapter for bookings: the default when no DATABASE_URL is set.

One connection, used from a worker thread so the event loop never waits on the disk.
WAL with synchronous=FULL: a save has reached the disk when it returns.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dispatch_core.model import TERMINAL, Booking, BookingStatus
from dispatch_core.ports import DoctorAlreadyBusyError, OutboxMessage
from storage.booking_rows import (
    BOOKING_COLUMNS,
    MESSAGE_COLUMNS,
    UPDATE_COLUMNS,
    booking_from,
    booking_row,
    message_rows,
    outbox_message,
    outbox_rows,
    update_rows,
)

SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS bookings (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    doctor_id TEXT,
    clinic_id TEXT,
    call_type TEXT NOT NULL,
    symptoms TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    latitude REAL NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude REAL NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    is_emergency INTEGER NOT NULL DEFAULT 0,
    emergency_type TEXT,
    scheduled_time REAL,
    created_at REAL NOT NULL,
    assigned_at REAL,
    started_at REAL,
    completed_at REAL,
    cancelled_at REAL,
    notes TEXT NOT NULL DEFAULT '',
    estimated_duration_s REAL,
    actual_duration_s REAL,
    estimated_price_kopecks INTEGER CHECK (estimated_price_kopecks >= 0),
    final_price_kopecks INTEGER CHECK (final_price_kopecks >= 0),
    excluded_doctors TEXT NOT NULL DEFAULT '[]',
    requested_doctor_id TEXT,
    others_if_declined INTEGER NOT NULL DEFAULT 1,
    patient_is_child INTEGER NOT NULL DEFAULT 0,
    language TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS bookings_one_active_per_doctor ON bookings (doctor_id)
    WHERE status IN ('assigned', 'en_route', 'arrived', 'in_progress');
CREATE INDEX IF NOT EXISTS bookings_patient ON bookings (patient_id, created_at);
CREATE INDEX IF NOT EXISTS bookings_patient_created ON bookings (patient_id, created_at, id);
CREATE INDEX IF NOT EXISTS bookings_doctor_created ON bookings (doctor_id, created_at, id);
CREATE INDEX IF NOT EXISTS bookings_clinic_created ON bookings (clinic_id, created_at, id);
CREATE INDEX IF NOT EXISTS bookings_created ON bookings (created_at, id);
CREATE TABLE IF NOT EXISTS booking_status_updates (
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    seq INTEGER NOT NULL,
    old_status TEXT,
    new_status TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    doctor_id TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (booking_id, seq)
);
CREATE TRIGGER IF NOT EXISTS status_updates_no_update BEFORE UPDATE ON booking_status_updates
    BEGIN SELECT RAISE(ABORT, 'booking history is append-only (UPDATE refused)'); END;
CREATE TRIGGER IF NOT EXISTS status_updates_no_delete BEFORE DELETE ON booking_status_updates
    BEGIN SELECT RAISE(ABORT, 'booking history is append-only (DELETE refused)'); END;
CREATE TABLE IF NOT EXISTS booking_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    booking_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    available_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error TEXT,
    done_at REAL
);
CREATE INDEX IF NOT EXISTS booking_outbox_due ON booking_outbox (topic, available_at, id)
    WHERE done_at IS NULL;
CREATE TABLE IF NOT EXISTS booking_messages (
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    seq INTEGER NOT NULL,
    sender_id TEXT NOT NULL,
    sender_role TEXT NOT NULL,
    message_type TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (booking_id, seq)
);
"""
_UPSERT = (
    f"INSERT INTO bookings ({', '.join(BOOKING_COLUMNS)}) VALUES ({', '.join('?' * len(BOOKING_COLUMNS))}) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in BOOKING_COLUMNS if c != "id")
)
_INSERT_UPDATE = f"INSERT INTO booking_status_updates ({', '.join(UPDATE_COLUMNS)}) VALUES ({', '.join('?' * len(UPDATE_COLUMNS))})"
_INSERT_MESSAGE = f"INSERT INTO booking_messages ({', '.join(MESSAGE_COLUMNS)}) VALUES ({', '.join('?' * len(MESSAGE_COLUMNS))})"
_FINAL = tuple(s.value for s in TERMINAL)
_LIST = f"SELECT {', '.join(BOOKING_COLUMNS)} FROM bookings"


class SqliteBookingStore:
    def __init__(self, path: Path | str) -> None:
        self._conn = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{path}: database schema {version} is newer than this engine's ({SCHEMA_VERSION})"
                )
            if version == 1:  # 1 -> 2: who declined, and the doctor the patient chose
                for column in (
                    "excluded_doctors TEXT NOT NULL DEFAULT '[]'",
                    "requested_doctor_id TEXT",
                    "others_if_declined INTEGER NOT NULL DEFAULT 1",
                    "patient_is_child INTEGER NOT NULL DEFAULT 0",
                    "language TEXT",
                ):
                    self._conn.execute(f"ALTER TABLE bookings ADD COLUMN {column}")
            if version in (1, 2):  # 2 -> 3: prices in kopecks (the old REAL roubles stay, unused)
                self._conn.executescript(
                    "BEGIN;"
                    " ALTER TABLE bookings ADD COLUMN estimated_price_kopecks INTEGER"
                    " CHECK (estimated_price_kopecks >= 0);"
                    " ALTER TABLE bookings ADD COLUMN final_price_kopecks INTEGER"
                    " CHECK (final_price_kopecks >= 0);"
                    " UPDATE bookings SET"
                    " estimated_price_kopecks = CAST(round(estimated_price * 100) AS INTEGER),"
                    " final_price_kopecks = CAST(round(final_price * 100) AS INTEGER);"
                    " COMMIT;"
                )
            self._conn.executescript(_SCHEMA)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            self._conn.close()

    async def save(self, booking: Booking) -> None:
        await asyncio.to_thread(self._save, booking)

    async def save_many(self, bookings: Sequence[Booking]) -> None:
        await asyncio.to_thread(self._save_many, list(bookings))

    def _save(self, booking: Booking) -> None:
        self._save_many([booking])

    def _save_many(self, bookings: list[Booking]) -> None:
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                if len(bookings) > 1:
                    # Free the batch's doctors first: two bookings swapping doctors in
                    # one batch would otherwise trip the one-active-booking index.
                    c.executemany(
                        "UPDATE bookings SET doctor_id = NULL WHERE id = ? AND doctor_id IS NOT NULL"
                        " AND status IN ('assigned', 'en_route', 'arrived', 'in_progress')",
                        [(b.booking_id,) for b in bookings],
                    )
                for booking in bookings:
                    self._save_one(c, booking)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    @staticmethod
    def _save_one(c: sqlite3.Connection, booking: Booking) -> None:
        try:
            c.execute(_UPSERT, booking_row(booking, times=False))
        except sqlite3.IntegrityError as exc:
            if "bookings.doctor_id" in str(exc):
                raise DoctorAlreadyBusyError(
                    f"doctor {booking.doctor_id!r} already holds an active booking"
                ) from exc
            raise
        stored = c.execute(
            "SELECT count(*) FROM booking_status_updates WHERE booking_id = ?",
            (booking.booking_id,),
        ).fetchone()[0]
        c.executemany(_INSERT_UPDATE, update_rows(booking, stored, times=False))
        c.executemany(  # the transactional outbox: with the change, or not at all
            "INSERT INTO booking_outbox (topic, booking_id, payload, created_at, available_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [(t, i, p, at, at) for t, i, p, at in outbox_rows(booking, stored)],
        )
        stored = c.execute(
            "SELECT count(*) FROM booking_messages WHERE booking_id = ?",
            (booking.booking_id,),
        ).fetchone()[0]
        c.executemany(_INSERT_MESSAGE, message_rows(booking, stored, times=False))

    async def claim_outbox(
        self, topic: str, now_s: float, *, limit: int = 100, lease_s: float = 60.0
    ) -> list[OutboxMessage]:
        return await asyncio.to_thread(self._claim_outbox, topic, now_s, limit, lease_s)

    def _claim_outbox(
        self, topic: str, now_s: float, limit: int, lease_s: float
    ) -> list[OutboxMessage]:
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                rows = c.execute(
                    "SELECT id, topic, booking_id, payload, attempts, created_at"
                    " FROM booking_outbox WHERE topic = ? AND done_at IS NULL"
                    " AND available_at <= ? ORDER BY available_at, id LIMIT ?",
                    (topic, now_s, limit),
                ).fetchall()
                c.executemany(
                    "UPDATE booking_outbox SET available_at = ?, attempts = attempts + 1"
                    " WHERE id = ?",
                    [(now_s + lease_s, r["id"]) for r in rows],
                )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        messages = [outbox_message({**dict(r), "attempts": r["attempts"] + 1}) for r in rows]
        return sorted(messages, key=lambda m: m.message_id)

    async def outbox_done(self, message_id: int, now_s: float) -> None:
        await asyncio.to_thread(
            self._write,
            "UPDATE booking_outbox SET done_at = ?, last_error = NULL WHERE id = ?",
            (now_s, message_id),
        )

    async def outbox_retry(self, message_id: int, available_s: float, error: str) -> None:
        await asyncio.to_thread(
            self._write,
            "UPDATE booking_outbox SET available_at = ?, last_error = ?"
            " WHERE id = ? AND done_at IS NULL",
            (available_s, error[:500], message_id),
        )

    async def outbox_pending(self, topic: str) -> int:
        def count() -> int:
            with self._lock:
                row = self._conn.execute(
                    "SELECT count(*) FROM booking_outbox WHERE topic = ? AND done_at IS NULL",
                    (topic,),
                ).fetchone()
            return int(row[0])

        return await asyncio.to_thread(count)

    def _write(self, sql: str, values: tuple[object, ...]) -> None:
        with self._lock:
            self._conn.execute(sql, values)

    async def load(self, booking_id: str) -> Booking | None:
        return await asyncio.to_thread(self._load, booking_id)

    def _load(self, booking_id: str) -> Booking | None:
        with self._lock:
            return self._load_locked(booking_id)

    def _load_locked(self, booking_id: str) -> Booking | None:
        c = self._conn
        row = c.execute("SELECT * FROM bookings WHERE id = ?", (booking_id,)).fetchone()
        if row is None:
            return None
        updates = c.execute(
            "SELECT * FROM booking_status_updates WHERE booking_id = ? ORDER BY seq", (booking_id,)
        ).fetchall()
        messages = c.execute(
            "SELECT * FROM booking_messages WHERE booking_id = ? ORDER BY seq", (booking_id,)
        ).fetchall()
        return booking_from(_dict(row), [_dict(u) for u in updates], [_dict(m) for m in messages])

    async def open_bookings(self) -> list[Booking]:
        return await asyncio.to_thread(self._open)

    def _open(self) -> list[Booking]:
        with self._lock:
            marks = ", ".join("?" * len(_FINAL))
            ids = self._conn.execute(
                f"SELECT id FROM bookings WHERE status NOT IN ({marks}) ORDER BY created_at, id",
                _FINAL,
            ).fetchall()
            found = [self._load_locked(r["id"]) for r in ids]
        return [b for b in found if b is not None]

    async def list_bookings(
        self,
        *,
        patient_id: str | None = None,
        doctor_id: str | None = None,
        clinic_id: str | None = None,
        statuses: frozenset[BookingStatus] | None = None,
        before: tuple[float, str] | None = None,
        limit: int = 50,
    ) -> list[Booking]:
        if limit < 0:
            raise ValueError("limit must not be negative")
        if limit == 0 or (statuses is not None and not statuses):
            return []
        where: list[str] = []
        args: list[object] = []
        for column, value in (
            ("patient_id", patient_id),
            ("doctor_id", doctor_id),
            ("clinic_id", clinic_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if statuses is not None:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args += sorted(s.value for s in statuses)
        if before is not None:
            where.append("(created_at, id) < (?, ?)")
            args += [float(before[0]), before[1]]
        sql = (
            _LIST
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY created_at DESC, id DESC LIMIT ?"
        )
        args.append(limit)
        return await asyncio.to_thread(self._list, sql, tuple(args))

    def _list(self, sql: str, args: tuple[object, ...]) -> list[Booking]:
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [booking_from(_dict(r), [], []) for r in rows]


def _dict(row: sqlite3.Row) -> dict[str, Any]:
    return {k: row[k] for k in row.keys()}  # noqa: SIM118 - sqlite3.Row is not a mapping
