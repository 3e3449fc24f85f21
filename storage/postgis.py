"""The PostGIS adapter for bookings (asyncpg: the engine's hot paths use it directly)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

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
    to_time,
    update_rows,
)
from storage.pg import Pool, create_pool

_UPSERT = (
    f"INSERT INTO booking.bookings ({', '.join(BOOKING_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(BOOKING_COLUMNS) + 1))}) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in BOOKING_COLUMNS if c != "id")
    + ", updated_at = now()"
)
_FINAL = tuple(s.value for s in TERMINAL)
_FREE_DOCTORS = (
    "UPDATE booking.bookings SET doctor_id = NULL WHERE id = ANY($1::text[]) "
    "AND doctor_id IS NOT NULL AND status IN ('assigned', 'en_route', 'arrived', 'in_progress')"
)
_STORED_COUNTS = """
SELECT 'u' AS kind, booking_id, count(*) AS n FROM booking.booking_status_updates
    WHERE booking_id = ANY($1::text[]) GROUP BY booking_id
UNION ALL
SELECT 'm', booking_id, count(*) FROM booking.booking_messages
    WHERE booking_id = ANY($1::text[]) GROUP BY booking_id
"""
_LIST = f"SELECT {', '.join(BOOKING_COLUMNS)} FROM booking.bookings"
_OUTBOX_INSERT = (
    "INSERT INTO booking.outbox (topic, booking_id, payload, created_at, available_at)"
    " VALUES ($1, $2, $3::jsonb, to_timestamp($4), to_timestamp($4))"
)
_OUTBOX_CLAIM = """
UPDATE booking.outbox SET available_at = to_timestamp($3), attempts = attempts + 1
WHERE id IN (
    SELECT id FROM booking.outbox
    WHERE topic = $1 AND done_at IS NULL AND available_at <= to_timestamp($2)
    ORDER BY available_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
RETURNING id, topic, booking_id, payload::text AS payload, attempts, created_at
"""


class PostgisBookingStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(
        cls, database_url: str, *, min_size: int = 1, max_size: int = 10
    ) -> PostgisBookingStore:
        pool = await create_pool(database_url, min_size=min_size, max_size=max_size)
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    async def save(self, booking: Booking) -> None:
        await self.save_many([booking])

    async def save_many(self, bookings: Sequence[Booking]) -> None:
        """Every booking in one transaction: the rows, then the new history and messages
        of all of them, each in one COPY (a handful of round trips for any number)."""
        if not bookings:
            return
        ids = [b.booking_id for b in bookings]
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                if len(bookings) > 1:
                    # Free the batch's doctors first: two bookings swapping doctors in
                    # one batch would otherwise trip the one-active-booking index.
                    await conn.execute(_FREE_DOCTORS, ids)
                # Row by row inside the transaction: the upserts take the row locks, so
                # the counts below cannot race another writer.
                await conn.executemany(_UPSERT, [booking_row(b) for b in bookings])
            except asyncpg.UniqueViolationError as exc:
                busy = ", ".join(repr(b.doctor_id) for b in bookings if b.doctor_id)
                raise DoctorAlreadyBusyError(
                    f"a doctor ({busy}) already holds an active booking"
                ) from exc
            stored = await conn.fetch(_STORED_COUNTS, ids)
            updates = {r["booking_id"]: r["n"] for r in stored if r["kind"] == "u"}
            messages = {r["booking_id"]: r["n"] for r in stored if r["kind"] == "m"}
            rows = [r for b in bookings for r in update_rows(b, updates.get(b.booking_id, 0))]
            outbox = [r for b in bookings for r in outbox_rows(b, updates.get(b.booking_id, 0))]
            if outbox:  # the transactional outbox: with the change, or not at all
                await conn.executemany(_OUTBOX_INSERT, outbox)
            if rows:
                await conn.copy_records_to_table(
                    "booking_status_updates",
                    schema_name="booking",
                    columns=UPDATE_COLUMNS,
                    records=rows,
                )
            rows = [r for b in bookings for r in message_rows(b, messages.get(b.booking_id, 0))]
            if rows:
                await conn.copy_records_to_table(
                    "booking_messages", schema_name="booking", columns=MESSAGE_COLUMNS, records=rows
                )

    async def claim_outbox(
        self, topic: str, now_s: float, *, limit: int = 100, lease_s: float = 60.0
    ) -> list[OutboxMessage]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_OUTBOX_CLAIM, topic, now_s, now_s + lease_s, limit)
        return sorted((outbox_message(dict(r)) for r in rows), key=lambda m: m.message_id)

    async def outbox_done(self, message_id: int, now_s: float) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE booking.outbox SET done_at = to_timestamp($2), last_error = NULL"
                " WHERE id = $1",
                message_id,
                now_s,
            )

    async def outbox_retry(self, message_id: int, available_s: float, error: str) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE booking.outbox SET available_at = to_timestamp($2), last_error = $3"
                " WHERE id = $1 AND done_at IS NULL",
                message_id,
                available_s,
                error[:500],
            )

    async def outbox_pending(self, topic: str) -> int:
        async with self._pool.acquire() as conn:
            n = await conn.fetchval(
                "SELECT count(*) FROM booking.outbox WHERE topic = $1 AND done_at IS NULL", topic
            )
        return int(n)

    async def load(self, booking_id: str) -> Booking | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM booking.bookings WHERE id = $1", booking_id)
            if row is None:
                return None
            updates = await conn.fetch(
                "SELECT * FROM booking.booking_status_updates WHERE booking_id = $1 ORDER BY seq",
                booking_id,
            )
            messages = await conn.fetch(
                "SELECT * FROM booking.booking_messages WHERE booking_id = $1 ORDER BY seq",
                booking_id,
            )
        return booking_from(dict(row), [dict(u) for u in updates], [dict(m) for m in messages])

    async def open_bookings(self) -> list[Booking]:
        async with self._pool.acquire() as conn:
            ids = await conn.fetch(
                "SELECT id FROM booking.bookings WHERE status <> ALL($1::text[]) ORDER BY created_at, id",
                list(_FINAL),
            )
        out = []
        for r in ids:
            booking = await self.load(r["id"])
            if booking is not None:
                out.append(booking)
        return out

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
        """Newest first by (created_at, id), ids compared byte-wise (COLLATE "C", as
        Python compares them, whatever the database's collation; migration 0002 has the
        matching indexes)."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        if limit == 0 or (statuses is not None and not statuses):
            return []
        where: list[str] = []
        args: list[object] = []

        def arg(value: object) -> str:
            args.append(value)
            return f"${len(args)}"

        for column, value in (
            ("patient_id", patient_id),
            ("doctor_id", doctor_id),
            ("clinic_id", clinic_id),
        ):
            if value is not None:
                where.append(f"{column} = {arg(value)}")
        if statuses is not None:
            where.append(f"status = ANY({arg(sorted(s.value for s in statuses))}::text[])")
        if before is not None:
            where.append(
                f'(created_at, id COLLATE "C") < ({arg(to_time(before[0]))}, {arg(before[1])})'
            )
        sql = (
            _LIST
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f' ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT {arg(limit)}'
        )
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(sql, *args)
        return [booking_from(dict(r), [], []) for r in rows]
