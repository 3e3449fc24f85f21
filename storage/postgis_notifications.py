"""The PostGIS adapter for notifications (migration 0009, schema `notification`): the
outbox (notifications.ports.NotificationStore), preferences, contacts and reminders, one
object over one pool.

- `add` is one INSERT ... SELECT FROM unnest(...) ON CONFLICT (idempotency_key) DO
  NOTHING: all rows or none, each cause stored once. With `connection` (an asyncpg
  connection inside `connection.transaction()`, e.g. from `transaction()` or the
  caller's own pool over the same database) it runs there and commits or rolls back with
  the caller's change.
- `claim` is one UPDATE over a sub-select FOR UPDATE SKIP LOCKED through the partial
  index `notifications_due`: concurrent claimers never get the same row.
- every `mark_*` is an UPDATE fenced by `status = 'sending' AND attempts = $attempt`.
- the dead letter and the history are keyset pages; `due` leases reminders as `claim`
  leases rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from notifications import rules
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
from storage.booking_rows import from_time, to_time
from storage.notification_rows import (
    NOTIFICATION_COLUMNS,
    NOTIFICATION_TIME_COLUMNS,
    REMINDER_COLUMNS,
    check_reminders,
    contact_from,
    endpoint_of,
    notification_from,
    notification_values,
    off_json,
    preference_values,
    preferences_from,
    reminder_from,
    reminder_values,
)
from storage.pg import Pool, create_pool

_PG_TYPES = {
    "step": "int",
    "attempts": "int",
    "fallback": "bool",
    "urgent": "bool",
    "variables": "text",
}


def _array_type(column: str) -> str:
    if column in NOTIFICATION_TIME_COLUMNS:
        return "timestamptz"
    return _PG_TYPES.get(column, "text")


_COLS = ", ".join(NOTIFICATION_COLUMNS)
_SELECT = f"SELECT {_COLS.replace('variables', 'variables::text AS variables')}"
_FROM = "FROM notification.notifications"
_RETURNING = "RETURNING " + ", ".join(
    f"n.{c}::text AS {c}" if c == "variables" else f"n.{c}" for c in NOTIFICATION_COLUMNS
)
_ADD = (
    f"INSERT INTO notification.notifications ({_COLS}) SELECT "
    + ", ".join(f"{c}::jsonb" if c == "variables" else c for c in NOTIFICATION_COLUMNS)
    + " FROM unnest("
    + ", ".join(f"${i}::{_array_type(c)}[]" for i, c in enumerate(NOTIFICATION_COLUMNS, 1))
    + f") AS r({_COLS})"
    + " ON CONFLICT (idempotency_key) DO NOTHING RETURNING notification_id"
)
_CLAIM = f"""
UPDATE notification.notifications n
SET status = 'sending', attempts = n.attempts + 1, lease_until = $2, updated_at = $1
FROM (
    SELECT notification_id FROM notification.notifications
    WHERE status IN ('queued', 'failed', 'sending') AND next_attempt_at <= $1
      AND (status <> 'sending' OR lease_until <= $1)
      AND ($4::text[] IS NULL OR channel = ANY($4::text[]))
    ORDER BY next_attempt_at, notification_id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
) due
WHERE n.notification_id = due.notification_id
{_RETURNING}
"""
_FENCE = "WHERE notification_id = $1 AND status = 'sending' AND attempts = $2"
_REMINDER_COLS = ", ".join(REMINDER_COLUMNS)


def _notification(row: asyncpg.Record) -> Notification:
    return notification_from(row, from_time)


def _reminder(row: asyncpg.Record) -> Reminder:
    return reminder_from(row, from_time)


def _done(status: str) -> bool:
    return status.rsplit(" ", 1)[-1] != "0"


class _OverPool:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """A connection inside an open transaction, to pass as `connection=` (a due
        reminder's rows and its mark_sent that commit together)."""
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    @contextlib.asynccontextmanager
    async def _conn(self, connection: Any) -> AsyncIterator[Any]:
        if connection is not None:
            yield connection
            return
        async with self._pool.acquire() as conn:
            yield conn


class PostgisNotificationStore(_OverPool):
    """NotificationStore, PreferenceStore and ContactStore over PostGIS; `reminders` is
    the ReminderStore over the same pool (a separate object: both ports name a
    `mark_sent`)."""

    def __init__(self, pool: Pool) -> None:
        super().__init__(pool)
        self.reminders = PostgisReminderStore(pool)

    @classmethod
    async def connect(
        cls, database_url: str, *, min_size: int = 1, max_size: int = 4
    ) -> PostgisNotificationStore:
        return cls(await create_pool(database_url, min_size=min_size, max_size=max_size))

    async def close(self) -> None:
        await self._pool.close()

    # the outbox -------------------------------------------------------------

    async def add(self, rows: Sequence[Notification], *, connection: Any = None) -> list[str]:
        if not rows:
            return []
        values = [notification_values(n) for n in rows]
        columns = [
            [to_time(v[i]) if c in NOTIFICATION_TIME_COLUMNS else v[i] for v in values]
            for i, c in enumerate(NOTIFICATION_COLUMNS)
        ]
        async with self._conn(connection) as conn:
            try:
                written = {r["notification_id"] for r in await conn.fetch(_ADD, *columns)}
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise ValueError(f"refused by the database: {exc}") from exc
        out: list[str] = []
        for n in rows:
            if n.notification_id in written and n.notification_id not in out:
                out.append(n.notification_id)
        return out

    async def claim(
        self,
        now_s: float,
        *,
        limit: int = 100,
        lease_s: float = 60.0,
        channels: frozenset[Channel] | None = None,
    ) -> list[Notification]:
        wanted = None if channels is None else sorted(c.value for c in channels)
        rows = await self._pool.fetch(
            _CLAIM, to_time(now_s), to_time(now_s + lease_s), limit, wanted
        )
        claimed = [_notification(r) for r in rows]
        claimed.sort(key=lambda n: (n.next_attempt_s, n.notification_id))
        return claimed

    async def get(self, notification_id: str) -> Notification | None:
        row = await self._pool.fetchrow(
            f"{_SELECT} {_FROM} WHERE notification_id = $1", notification_id
        )
        return None if row is None else _notification(row)

    async def group(self, group_key: str) -> list[Notification]:
        rows = await self._pool.fetch(
            f"{_SELECT} {_FROM} WHERE group_key = $1 ORDER BY step, notification_id", group_key
        )
        return [_notification(r) for r in rows]

    async def _fenced(self, sql: str, *args: Any) -> bool:
        return _done(await self._pool.execute(sql, *args))

    async def mark_sent(
        self,
        notification_id: str,
        *,
        attempt: int,
        provider: str,
        provider_id: str | None,
        delivered: bool,
        now_s: float,
    ) -> bool:
        at = to_time(now_s)
        return await self._fenced(
            "UPDATE notification.notifications SET status = $3, provider = $4,"
            " provider_id = $5, sent_at = $6, delivered_at = $7, lease_until = NULL,"
            f" last_error = NULL, updated_at = $6 {_FENCE}",
            notification_id,
            attempt,
            "delivered" if delivered else "sent",
            provider,
            provider_id,
            at,
            at if delivered else None,
        )

    async def mark_failed(
        self,
        notification_id: str,
        *,
        attempt: int,
        error: str,
        next_attempt_s: float,
        now_s: float,
    ) -> bool:
        return await self._fenced(
            "UPDATE notification.notifications SET status = 'failed', next_attempt_at = $3,"
            f" last_error = $4, lease_until = NULL, updated_at = $5 {_FENCE}",
            notification_id,
            attempt,
            to_time(next_attempt_s),
            error[: rules.MAX_REASON_CHARS],
            to_time(now_s),
        )

    async def _finish(
        self, status: str, notification_id: str, attempt: int, reason: str, now_s: float
    ) -> bool:
        return await self._fenced(
            "UPDATE notification.notifications SET status = $3, last_error = $4,"
            f" lease_until = NULL, updated_at = $5 {_FENCE}",
            notification_id,
            attempt,
            status,
            reason[: rules.MAX_REASON_CHARS],
            to_time(now_s),
        )

    async def mark_dead(
        self, notification_id: str, *, attempt: int, error: str, now_s: float
    ) -> bool:
        return await self._finish("dead", notification_id, attempt, error, now_s)

    async def mark_skipped(
        self, notification_id: str, *, attempt: int, reason: str, now_s: float
    ) -> bool:
        return await self._finish("skipped", notification_id, attempt, reason, now_s)

    async def mark_delivered(
        self,
        *,
        now_s: float,
        notification_id: str | None = None,
        provider: str | None = None,
        provider_id: str | None = None,
    ) -> bool:
        if notification_id is not None:
            where, args = "notification_id = $2", [notification_id]
        elif provider is not None and provider_id is not None:
            where, args = "provider = $2 AND provider_id = $3", [provider, provider_id]
        else:
            raise ValueError("a receipt names the notification or (provider, provider_id)")
        return await self._fenced(
            "UPDATE notification.notifications SET status = 'delivered', lease_until = NULL,"
            " delivered_at = $1, updated_at = $1"
            f" WHERE {where} AND status IN ('sending', 'sent', 'failed')",
            to_time(now_s),
            *args,
        )

    async def _page(
        self,
        where: list[str],
        args: list[Any],
        order: str,
        before: tuple[float, str] | None,
        limit: int,
    ) -> list[Notification]:
        if before is not None:
            where.append(f"({order}, notification_id) < (${len(args) + 1}, ${len(args) + 2})")
            args += [to_time(before[0]), before[1]]
        sql = (
            f"{_SELECT} {_FROM}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" ORDER BY {order} DESC, notification_id DESC LIMIT ${len(args) + 1}"
        )
        return [_notification(r) for r in await self._pool.fetch(sql, *args, limit)]

    async def dead_letter(
        self,
        *,
        before: tuple[float, str] | None = None,
        limit: int = 50,
        kind: Kind | None = None,
        user_id: str | None = None,
    ) -> list[Notification]:
        where, args = ["status = 'dead'"], []
        if kind is not None:
            args.append(kind.value)
            where.append(f"kind = ${len(args)}")
        if user_id is not None:
            args.append(user_id)
            where.append(f"user_id = ${len(args)}")
        return await self._page(where, args, "updated_at", before, limit)

    async def history(
        self,
        *,
        user_id: str | None = None,
        group_key: str | None = None,
        before: tuple[float, str] | None = None,
        limit: int = 50,
    ) -> list[Notification]:
        where: list[str] = []
        args: list[Any] = []
        if user_id is not None:
            args.append(user_id)
            where.append(f"user_id = ${len(args)}")
        if group_key is not None:
            args.append(group_key)
            where.append(f"group_key = ${len(args)}")
        return await self._page(where, args, "created_at", before, limit)

    async def replay(
        self, notification_ids: Sequence[str], *, now_s: float, expires_s: float | None = None
    ) -> list[str]:
        if not notification_ids:
            return []
        replayed: list[str] = []
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"{_SELECT} {_FROM} WHERE notification_id = ANY($1::text[])"
                " AND status = 'dead' ORDER BY notification_id FOR UPDATE",
                list(notification_ids),
            )
            for row in rows:
                new = rules.replayed(_notification(row), now_s=now_s, expires_s=expires_s)
                await conn.execute(
                    "UPDATE notification.notifications SET status = 'queued', attempts = 0,"
                    " next_attempt_at = $2, expires_at = $3, lease_until = NULL,"
                    " updated_at = $4 WHERE notification_id = $1",
                    new.notification_id,
                    to_time(new.next_attempt_s),
                    to_time(new.expires_s),
                    to_time(new.updated_s),
                )
                replayed.append(new.notification_id)
        wanted = {i: n for n, i in enumerate(notification_ids)}
        return sorted(replayed, key=lambda i: wanted[i])

    async def counts(self) -> dict[NotificationStatus, int]:
        rows = await self._pool.fetch(
            "SELECT status, count(*) AS n FROM notification.notifications GROUP BY status"
        )
        out = dict.fromkeys(NotificationStatus, 0)
        for r in rows:
            out[NotificationStatus(r["status"])] = int(r["n"])
        return out

    # preferences ------------------------------------------------------------

    async def preferences(self, user_id: str) -> Preferences:
        row = await self._pool.fetchrow(
            "SELECT user_id, locale, tz, off::text AS off, quiet_start_min, quiet_end_min"
            " FROM notification.preferences WHERE user_id = $1",
            user_id,
        )
        return Preferences(user_id) if row is None else preferences_from(row)

    async def save_preferences(self, preferences: Preferences) -> None:
        await self._pool.execute(
            "INSERT INTO notification.preferences"
            " (user_id, locale, tz, off, quiet_start_min, quiet_end_min)"
            " VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT (user_id) DO UPDATE SET"
            " locale = excluded.locale, tz = excluded.tz, off = excluded.off,"
            " quiet_start_min = excluded.quiet_start_min, quiet_end_min = excluded.quiet_end_min",
            *preference_values(preferences),
        )

    async def set_channel(self, user_id: str, kind: Kind, channel: Channel, on: bool) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO notification.preferences"
                " (user_id, locale, tz, off, quiet_start_min, quiet_end_min)"
                " VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT (user_id) DO NOTHING",
                *preference_values(Preferences(user_id)),
            )
            row = await conn.fetchrow(
                "SELECT user_id, locale, tz, off::text AS off, quiet_start_min, quiet_end_min"
                " FROM notification.preferences WHERE user_id = $1 FOR UPDATE",
                user_id,
            )
            off = set(preferences_from(row).off)
            if on:
                off.discard((kind, channel))
            else:
                off.add((kind, channel))
            await conn.execute(
                "UPDATE notification.preferences SET off = $2::jsonb WHERE user_id = $1",
                user_id,
                off_json(frozenset(off)),
            )

    # contacts ---------------------------------------------------------------

    async def contact(self, user_id: str) -> Contact:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT email, email_verified, phone, phone_verified FROM notification.contacts"
                " WHERE user_id = $1",
                user_id,
            )
            subscriptions = await conn.fetch(
                "SELECT endpoint, p256dh, auth FROM notification.push_subscriptions"
                " WHERE user_id = $1 ORDER BY created_at, endpoint",
                user_id,
            )
            tokens = await conn.fetch(
                "SELECT token FROM notification.fcm_tokens WHERE user_id = $1"
                " ORDER BY created_at, token",
                user_id,
            )
        return contact_from(user_id, row, list(subscriptions), list(tokens))

    async def set_email(self, user_id: str, email: str | None, *, verified: bool) -> None:
        address = None if email is None else rules.validate_email(email)
        await self._pool.execute(
            "INSERT INTO notification.contacts (user_id, email, email_verified)"
            " VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE"
            " SET email = excluded.email, email_verified = excluded.email_verified",
            user_id,
            address,
            verified and address is not None,
        )

    async def set_phone(self, user_id: str, phone: str | None, *, verified: bool) -> None:
        number = None if phone is None else rules.normalize_phone(phone)
        await self._pool.execute(
            "INSERT INTO notification.contacts (user_id, phone, phone_verified)"
            " VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE"
            " SET phone = excluded.phone, phone_verified = excluded.phone_verified",
            user_id,
            number,
            verified and number is not None,
        )

    async def add_push_subscription(
        self, user_id: str, subscription: WebPushSubscription, *, now_s: float
    ) -> None:
        await self._pool.execute(
            "INSERT INTO notification.push_subscriptions (endpoint, user_id, p256dh, auth,"
            " created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (endpoint) DO UPDATE"
            " SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,"
            " created_at = excluded.created_at",
            subscription.endpoint,
            user_id,
            subscription.p256dh,
            subscription.auth,
            to_time(now_s),
        )

    async def remove_push_subscription(self, endpoint: str) -> bool:
        return _done(
            await self._pool.execute(
                "DELETE FROM notification.push_subscriptions WHERE endpoint = $1", endpoint
            )
        )

    async def add_fcm_token(self, user_id: str, token: str, *, now_s: float) -> None:
        await self._pool.execute(
            "INSERT INTO notification.fcm_tokens (token, user_id, created_at)"
            " VALUES ($1, $2, $3) ON CONFLICT (token) DO UPDATE"
            " SET user_id = excluded.user_id, created_at = excluded.created_at",
            rules.validate_fcm_token(token),
            user_id,
            to_time(now_s),
        )

    async def remove_fcm_token(self, token: str) -> bool:
        return _done(
            await self._pool.execute("DELETE FROM notification.fcm_tokens WHERE token = $1", token)
        )

    async def forget_destination(self, channel: Channel, to: str) -> bool:
        if channel is Channel.WEBPUSH:
            endpoint = endpoint_of(to)
            return endpoint is not None and await self.remove_push_subscription(endpoint)
        if channel is Channel.FCM:
            return await self.remove_fcm_token(to)
        column = "email" if channel is Channel.EMAIL else "phone"
        return _done(
            await self._pool.execute(
                f"UPDATE notification.contacts SET {column}_verified = false"
                f" WHERE {column} = $1 AND {column}_verified",
                to,
            )
        )


class PostgisReminderStore(_OverPool):
    """Stored reminder schedules (ReminderStore) over PostGIS; closed with the store
    whose `reminders` it is."""

    async def replace(self, booking_id: str, reminders: Sequence[Reminder]) -> None:
        wanted = list(reminders)
        check_reminders(booking_id, wanted)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM notification.reminders WHERE booking_id = $1 AND NOT sent"
                " AND reminder_id <> ALL($2::text[])",
                booking_id,
                [r.reminder_id for r in wanted],
            )
            for r in wanted:
                v = reminder_values(r)
                await conn.execute(
                    f"INSERT INTO notification.reminders ({_REMINDER_COLS})"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (reminder_id) DO NOTHING",
                    *v[:4],
                    to_time(v[4]),
                    to_time(v[5]),
                    v[6],
                    to_time(v[7]),
                )

    async def cancel(self, booking_id: str) -> int:
        status = await self._pool.execute(
            "DELETE FROM notification.reminders WHERE booking_id = $1 AND NOT sent", booking_id
        )
        return int(status.rsplit(" ", 1)[-1])

    async def due(self, now_s: float, *, limit: int = 100, lease_s: float = 60.0) -> list[Reminder]:
        rows = await self._pool.fetch(
            "UPDATE notification.reminders r SET lease_until = $2"
            " FROM (SELECT reminder_id FROM notification.reminders"
            "       WHERE NOT sent AND due_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)"
            "       ORDER BY due_at, reminder_id LIMIT $3 FOR UPDATE SKIP LOCKED) d"
            " WHERE r.reminder_id = d.reminder_id RETURNING "
            + ", ".join(f"r.{c}" for c in REMINDER_COLUMNS),
            to_time(now_s),
            to_time(now_s + lease_s),
            limit,
        )
        out = [_reminder(r) for r in rows]
        out.sort(key=lambda r: (r.due_s, r.reminder_id))
        return out

    async def mark_sent(self, reminder_id: str, *, now_s: float, connection: Any = None) -> bool:
        async with self._conn(connection) as conn:
            status = await conn.execute(
                "UPDATE notification.reminders SET sent = true, sent_at = $2, lease_until = NULL"
                " WHERE reminder_id = $1 AND NOT sent",
                reminder_id,
                to_time(now_s),
            )
        return _done(status)

    async def for_booking(self, booking_id: str) -> list[Reminder]:
        rows = await self._pool.fetch(
            f"SELECT {_REMINDER_COLS} FROM notification.reminders WHERE booking_id = $1"
            " ORDER BY due_at, reminder_id",
            booking_id,
        )
        return [_reminder(r) for r in rows]
