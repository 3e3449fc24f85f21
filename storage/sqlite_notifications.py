"""Notifications in the embedded SQLite store (the default without DATABASE_URL).

Same behaviour as storage.postgis_notifications, for one machine. Shares the file with
the other embedded stores and keeps its own schema version in `schema_versions` under
the component "notifications". One connection used from a worker thread under a lock,
WAL with synchronous=FULL; every write is one `BEGIN IMMEDIATE` transaction, so a claim
(select the due rows, then lease them) is serialised against every other writer, in
this process or another: two claimers never get the same row.

The transactional outbox: `add(rows, connection=conn)` writes on `conn`, a connection
to the same file inside a transaction its owner opened (BEGIN IMMEDIATE) and will
commit or roll back, such as another embedded store's or the one `transaction()`
yields; nothing is committed here. The caller serialises its use of `conn`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

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
from storage.notification_rows import (
    NOTIFICATION_COLUMNS,
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
from storage.sqlite_component import open_component

COMPONENT = "notifications"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    notification_id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    group_key TEXT NOT NULL,
    step INTEGER NOT NULL CHECK (step >= 0),
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('webpush', 'fcm', 'sms', 'email')),
    destination TEXT NOT NULL,
    locale TEXT NOT NULL CHECK (locale IN ('ru', 'en')),
    tz TEXT NOT NULL,
    variables TEXT NOT NULL CHECK (json_valid(variables) AND json_type(variables) = 'object'),
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered',
        'failed', 'dead', 'skipped')),
    fallback INTEGER NOT NULL DEFAULT 0 CHECK (fallback IN (0, 1)),
    urgent INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    lease_until REAL,
    provider TEXT,
    provider_id TEXT,
    last_error TEXT,
    updated_at REAL,
    sent_at REAL,
    delivered_at REAL,
    CONSTRAINT notifications_sending_leased CHECK (status <> 'sending' OR lease_until IS NOT NULL)
) STRICT;
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (next_attempt_at, notification_id)
    WHERE status IN ('queued', 'failed', 'sending');
CREATE INDEX IF NOT EXISTS notifications_dead ON notifications (updated_at, notification_id)
    WHERE status = 'dead';
CREATE INDEX IF NOT EXISTS notifications_group ON notifications (group_key, step, notification_id);
CREATE INDEX IF NOT EXISTS notifications_user
    ON notifications (user_id, created_at, notification_id);
CREATE INDEX IF NOT EXISTS notifications_created ON notifications (created_at, notification_id);
CREATE INDEX IF NOT EXISTS notifications_provider ON notifications (provider, provider_id)
    WHERE provider_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS notification_preferences (
    user_id TEXT PRIMARY KEY,
    locale TEXT NOT NULL CHECK (locale IN ('ru', 'en')),
    tz TEXT NOT NULL,
    off TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(off) AND json_type(off) = 'array'),
    quiet_start_min INTEGER CHECK (quiet_start_min BETWEEN 0 AND 1439),
    quiet_end_min INTEGER CHECK (quiet_end_min BETWEEN 0 AND 1439)
) STRICT;
CREATE TABLE IF NOT EXISTS notification_contacts (
    user_id TEXT PRIMARY KEY,
    email TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    phone TEXT,
    phone_verified INTEGER NOT NULL DEFAULT 0 CHECK (phone_verified IN (0, 1)),
    CONSTRAINT contacts_verified_email CHECK (email IS NOT NULL OR NOT email_verified),
    CONSTRAINT contacts_verified_phone CHECK (phone IS NOT NULL OR NOT phone_verified)
) STRICT;
CREATE INDEX IF NOT EXISTS notification_contacts_email ON notification_contacts (email);
CREATE INDEX IF NOT EXISTS notification_contacts_phone ON notification_contacts (phone);
CREATE TABLE IF NOT EXISTS push_subscriptions (
    endpoint TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    created_at REAL NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS push_subscriptions_user ON push_subscriptions (user_id, created_at);
CREATE TABLE IF NOT EXISTS fcm_tokens (
    token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at REAL NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS fcm_tokens_user ON fcm_tokens (user_id, created_at);
CREATE TABLE IF NOT EXISTS reminders (
    reminder_id TEXT PRIMARY KEY,
    booking_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    due_at REAL NOT NULL,
    visit_at REAL NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0 CHECK (sent IN (0, 1)),
    sent_at REAL,
    lease_until REAL
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS reminders_pending ON reminders (booking_id, kind)
    WHERE NOT sent;
CREATE INDEX IF NOT EXISTS reminders_due ON reminders (due_at, reminder_id) WHERE NOT sent;
CREATE INDEX IF NOT EXISTS reminders_booking ON reminders (booking_id, due_at);
"""

_COLS = ", ".join(NOTIFICATION_COLUMNS)
_SELECT = f"SELECT {_COLS} FROM notifications"
_ADD = (
    f"INSERT INTO notifications ({_COLS}) VALUES ({', '.join('?' * len(NOTIFICATION_COLUMNS))})"
    " ON CONFLICT (idempotency_key) DO NOTHING"
)
_DUE = f"""
{_SELECT}
WHERE status IN ('queued', 'failed', 'sending') AND next_attempt_at <= ?
  AND (status <> 'sending' OR lease_until <= ?) {{channels}}
ORDER BY next_attempt_at, notification_id LIMIT ?
"""
_FENCE = "WHERE notification_id = ? AND status = 'sending' AND attempts = ?"
_REMINDER_COLS = ", ".join(REMINDER_COLUMNS)

T = TypeVar("T")


def _same(value: Any) -> float | None:
    return None if value is None else float(value)


def _notification(row: sqlite3.Row) -> Notification:
    return notification_from(row, _same)


def _sqlite_values(n: Notification) -> tuple[Any, ...]:
    return tuple(int(v) if isinstance(v, bool) else v for v in notification_values(n))


class _OverConnection:
    """One connection, used from worker threads under a lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(self._locked, fn, *args)

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            return fn(*args)

    async def _in(self, connection: Any, fn: Callable[..., T], *args: Any) -> T:
        """fn(conn, *args) in a transaction of its own, or on the caller's connection in
        the caller's transaction."""
        if connection is not None:
            if not isinstance(connection, sqlite3.Connection) or not connection.in_transaction:
                raise ValueError("connection= takes a sqlite3 connection inside a transaction")
            return await asyncio.to_thread(fn, connection, *args)
        return await self._run(self._transaction, fn, *args)

    def _transaction(self, fn: Callable[..., T], *args: Any) -> T:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            out = fn(c, *args)
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")
        return out

    def _all(self, sql: str, values: tuple[Any, ...]) -> list[sqlite3.Row]:
        return self._conn.execute(sql, values).fetchall()

    def _one(self, sql: str, values: tuple[Any, ...]) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn.execute(sql, values).fetchone()
        return row

    async def _write(self, sql: str, values: tuple[Any, ...]) -> int:
        def run(c: sqlite3.Connection) -> int:
            return int(c.execute(sql, values).rowcount)

        return await self._run(self._transaction, run)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[sqlite3.Connection]:
        """The store's connection inside BEGIN IMMEDIATE, held for the block, to pass as
        `connection=` (add, and the reminders' mark_sent): committed if the block ends
        normally, rolled back if it raises. The store's other calls wait for the block,
        so inside it call only those that take `connection=`, with it."""
        acquiring = asyncio.ensure_future(asyncio.to_thread(self._lock.acquire))
        try:
            await asyncio.shield(acquiring)
        except asyncio.CancelledError:
            # the thread takes the lock anyway: give it back when it does
            acquiring.add_done_callback(lambda _: self._lock.release())
            raise
        try:
            await asyncio.to_thread(self._conn.execute, "BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await asyncio.to_thread(self._conn.execute, "ROLLBACK")
                raise
            await asyncio.to_thread(self._conn.execute, "COMMIT")
        finally:
            self._lock.release()


class SqliteNotificationStore(_OverConnection):
    """NotificationStore, PreferenceStore and ContactStore in the embedded file;
    `reminders` is the ReminderStore over the same connection (a separate object: both
    ports name a `mark_sent`)."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(open_component(path, COMPONENT, SCHEMA_VERSION, _SCHEMA), threading.Lock())
        self.reminders = SqliteReminderStore(self._conn, self._lock)

    async def close(self) -> None:
        await self._run(self._conn.close)

    # the outbox -------------------------------------------------------------

    async def add(self, rows: Sequence[Notification], *, connection: Any = None) -> list[str]:
        if not rows:
            return []
        values = [_sqlite_values(n) for n in rows]

        def run(c: sqlite3.Connection) -> list[str]:
            written: list[str] = []
            for n, v in zip(rows, values, strict=True):
                if c.execute(_ADD, v).rowcount == 1:
                    written.append(n.notification_id)
            return written

        try:
            return await self._in(connection, run)
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"refused by the database: {exc}") from exc

    async def claim(
        self,
        now_s: float,
        *,
        limit: int = 100,
        lease_s: float = 60.0,
        channels: frozenset[Channel] | None = None,
    ) -> list[Notification]:
        wanted = [] if channels is None else sorted(c.value for c in channels)
        where = "" if channels is None else f"AND channel IN ({', '.join('?' * len(wanted))})"
        sql = _DUE.format(channels=where)

        def run(c: sqlite3.Connection) -> list[Notification]:
            due = [_notification(r) for r in c.execute(sql, (now_s, now_s, *wanted, limit))]
            claimed = [rules.claimed(n, now_s=now_s, lease_s=lease_s) for n in due]
            c.executemany(
                "UPDATE notifications SET status = 'sending', attempts = ?, lease_until = ?,"
                " updated_at = ? WHERE notification_id = ?",
                [(n.attempts, n.lease_until_s, n.updated_s, n.notification_id) for n in claimed],
            )
            return claimed

        return await self._run(self._transaction, run)

    async def get(self, notification_id: str) -> Notification | None:
        row = await self._run(self._one, f"{_SELECT} WHERE notification_id = ?", (notification_id,))
        return None if row is None else _notification(row)

    async def group(self, group_key: str) -> list[Notification]:
        rows = await self._run(
            self._all, f"{_SELECT} WHERE group_key = ? ORDER BY step, notification_id", (group_key,)
        )
        return [_notification(r) for r in rows]

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
        return (
            await self._write(
                "UPDATE notifications SET status = ?, provider = ?, provider_id = ?, sent_at = ?,"
                " delivered_at = ?, lease_until = NULL, last_error = NULL, updated_at = ?"
                f" {_FENCE}",
                (
                    "delivered" if delivered else "sent",
                    provider,
                    provider_id,
                    now_s,
                    now_s if delivered else None,
                    now_s,
                    notification_id,
                    attempt,
                ),
            )
            == 1
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
        return (
            await self._write(
                "UPDATE notifications SET status = 'failed', next_attempt_at = ?, last_error = ?,"
                f" lease_until = NULL, updated_at = ? {_FENCE}",
                (next_attempt_s, error[: rules.MAX_REASON_CHARS], now_s, notification_id, attempt),
            )
            == 1
        )

    async def _finish(
        self, status: str, notification_id: str, attempt: int, reason: str, now_s: float
    ) -> bool:
        return (
            await self._write(
                "UPDATE notifications SET status = ?, last_error = ?, lease_until = NULL,"
                f" updated_at = ? {_FENCE}",
                (status, reason[: rules.MAX_REASON_CHARS], now_s, notification_id, attempt),
            )
            == 1
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
            where, args = "notification_id = ?", [notification_id]
        elif provider is not None and provider_id is not None:
            where, args = "provider = ? AND provider_id = ?", [provider, provider_id]
        else:
            raise ValueError("a receipt names the notification or (provider, provider_id)")
        return (
            await self._write(
                "UPDATE notifications SET status = 'delivered', lease_until = NULL,"
                " delivered_at = ?, updated_at = ?"
                f" WHERE {where} AND status IN ('sending', 'sent', 'failed')",
                (now_s, now_s, *args),
            )
            > 0
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
            where.append(f"({order}, notification_id) < (?, ?)")
            args += [float(before[0]), before[1]]
        sql = (
            _SELECT
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" ORDER BY {order} DESC, notification_id DESC LIMIT ?"
        )
        rows = await self._run(self._all, sql, (*args, limit))
        return [_notification(r) for r in rows]

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
            where.append("kind = ?")
            args.append(kind.value)
        if user_id is not None:
            where.append("user_id = ?")
            args.append(user_id)
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
            where.append("user_id = ?")
            args.append(user_id)
        if group_key is not None:
            where.append("group_key = ?")
            args.append(group_key)
        return await self._page(where, args, "created_at", before, limit)

    async def replay(
        self, notification_ids: Sequence[str], *, now_s: float, expires_s: float | None = None
    ) -> list[str]:
        ids = list(dict.fromkeys(notification_ids))

        def run(c: sqlite3.Connection) -> list[str]:
            replayed: list[str] = []
            for notification_id in ids:
                row = c.execute(
                    f"{_SELECT} WHERE notification_id = ? AND status = 'dead'", (notification_id,)
                ).fetchone()
                if row is None:
                    continue
                new = rules.replayed(_notification(row), now_s=now_s, expires_s=expires_s)
                c.execute(
                    "UPDATE notifications SET status = 'queued', attempts = 0,"
                    " next_attempt_at = ?, expires_at = ?, lease_until = NULL, updated_at = ?"
                    " WHERE notification_id = ?",
                    (new.next_attempt_s, new.expires_s, new.updated_s, notification_id),
                )
                replayed.append(notification_id)
            return replayed

        return await self._run(self._transaction, run)

    async def counts(self) -> dict[NotificationStatus, int]:
        rows = await self._run(
            self._all, "SELECT status, count(*) AS n FROM notifications GROUP BY status", ()
        )
        out = dict.fromkeys(NotificationStatus, 0)
        for r in rows:
            out[NotificationStatus(r["status"])] = int(r["n"])
        return out

    # preferences ------------------------------------------------------------

    async def preferences(self, user_id: str) -> Preferences:
        row = await self._run(
            self._one,
            "SELECT user_id, locale, tz, off, quiet_start_min, quiet_end_min"
            " FROM notification_preferences WHERE user_id = ?",
            (user_id,),
        )
        return Preferences(user_id) if row is None else preferences_from(row)

    async def save_preferences(self, preferences: Preferences) -> None:
        await self._write(
            "INSERT INTO notification_preferences"
            " (user_id, locale, tz, off, quiet_start_min, quiet_end_min)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET"
            " locale = excluded.locale, tz = excluded.tz, off = excluded.off,"
            " quiet_start_min = excluded.quiet_start_min, quiet_end_min = excluded.quiet_end_min",
            preference_values(preferences),
        )

    async def set_channel(self, user_id: str, kind: Kind, channel: Channel, on: bool) -> None:
        def run(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO notification_preferences"
                " (user_id, locale, tz, off, quiet_start_min, quiet_end_min)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO NOTHING",
                preference_values(Preferences(user_id)),
            )
            row = c.execute(
                "SELECT user_id, locale, tz, off, quiet_start_min, quiet_end_min"
                " FROM notification_preferences WHERE user_id = ?",
                (user_id,),
            ).fetchone()
            off = set(preferences_from(row).off)
            if on:
                off.discard((kind, channel))
            else:
                off.add((kind, channel))
            c.execute(
                "UPDATE notification_preferences SET off = ? WHERE user_id = ?",
                (off_json(frozenset(off)), user_id),
            )

        await self._run(self._transaction, run)

    # contacts ---------------------------------------------------------------

    async def contact(self, user_id: str) -> Contact:
        def run() -> Contact:
            c = self._conn
            row = c.execute(
                "SELECT email, email_verified, phone, phone_verified FROM notification_contacts"
                " WHERE user_id = ?",
                (user_id,),
            ).fetchone()
            subscriptions = c.execute(
                "SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE user_id = ?"
                " ORDER BY created_at, endpoint",
                (user_id,),
            ).fetchall()
            tokens = c.execute(
                "SELECT token FROM fcm_tokens WHERE user_id = ? ORDER BY created_at, token",
                (user_id,),
            ).fetchall()
            return contact_from(user_id, row, subscriptions, tokens)

        return await self._run(run)

    async def set_email(self, user_id: str, email: str | None, *, verified: bool) -> None:
        address = None if email is None else rules.validate_email(email)
        await self._write(
            "INSERT INTO notification_contacts (user_id, email, email_verified)"
            " VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE"
            " SET email = excluded.email, email_verified = excluded.email_verified",
            (user_id, address, int(verified and address is not None)),
        )

    async def set_phone(self, user_id: str, phone: str | None, *, verified: bool) -> None:
        number = None if phone is None else rules.normalize_phone(phone)
        await self._write(
            "INSERT INTO notification_contacts (user_id, phone, phone_verified)"
            " VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE"
            " SET phone = excluded.phone, phone_verified = excluded.phone_verified",
            (user_id, number, int(verified and number is not None)),
        )

    async def add_push_subscription(
        self, user_id: str, subscription: WebPushSubscription, *, now_s: float
    ) -> None:
        await self._write(
            "INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (endpoint) DO UPDATE"
            " SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,"
            " created_at = excluded.created_at",
            (subscription.endpoint, user_id, subscription.p256dh, subscription.auth, now_s),
        )

    async def remove_push_subscription(self, endpoint: str) -> bool:
        return (
            await self._write("DELETE FROM push_subscriptions WHERE endpoint = ?", (endpoint,)) == 1
        )

    async def add_fcm_token(self, user_id: str, token: str, *, now_s: float) -> None:
        await self._write(
            "INSERT INTO fcm_tokens (token, user_id, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (token) DO UPDATE"
            " SET user_id = excluded.user_id, created_at = excluded.created_at",
            (rules.validate_fcm_token(token), user_id, now_s),
        )

    async def remove_fcm_token(self, token: str) -> bool:
        return await self._write("DELETE FROM fcm_tokens WHERE token = ?", (token,)) == 1

    async def forget_destination(self, channel: Channel, to: str) -> bool:
        if channel is Channel.WEBPUSH:
            endpoint = endpoint_of(to)
            return endpoint is not None and await self.remove_push_subscription(endpoint)
        if channel is Channel.FCM:
            return await self.remove_fcm_token(to)
        column = "email" if channel is Channel.EMAIL else "phone"
        return (
            await self._write(
                f"UPDATE notification_contacts SET {column}_verified = 0"
                f" WHERE {column} = ? AND {column}_verified",
                (to,),
            )
            > 0
        )


class SqliteReminderStore(_OverConnection):
    """Stored reminder schedules (ReminderStore) in the embedded file; closed with the
    store whose `reminders` it is."""

    async def replace(self, booking_id: str, reminders: Sequence[Reminder]) -> None:
        wanted = list(reminders)
        check_reminders(booking_id, wanted)
        ids = [r.reminder_id for r in wanted]

        def run(c: sqlite3.Connection) -> None:
            c.execute(
                "DELETE FROM reminders WHERE booking_id = ? AND NOT sent"
                f" AND reminder_id NOT IN ({', '.join('?' * len(ids))})",
                (booking_id, *ids),
            )
            c.executemany(
                f"INSERT INTO reminders ({_REMINDER_COLS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reminder_id) DO NOTHING",
                [
                    tuple(int(v) if isinstance(v, bool) else v for v in reminder_values(r))
                    for r in wanted
                ],
            )

        try:
            await self._run(self._transaction, run)
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"refused by the database: {exc}") from exc

    async def cancel(self, booking_id: str) -> int:
        return await self._write(
            "DELETE FROM reminders WHERE booking_id = ? AND NOT sent", (booking_id,)
        )

    async def due(self, now_s: float, *, limit: int = 100, lease_s: float = 60.0) -> list[Reminder]:
        def run(c: sqlite3.Connection) -> list[Reminder]:
            rows = c.execute(
                f"SELECT {_REMINDER_COLS} FROM reminders WHERE NOT sent AND due_at <= ?"
                " AND (lease_until IS NULL OR lease_until <= ?)"
                " ORDER BY due_at, reminder_id LIMIT ?",
                (now_s, now_s, limit),
            ).fetchall()
            c.executemany(
                "UPDATE reminders SET lease_until = ? WHERE reminder_id = ?",
                [(now_s + lease_s, r["reminder_id"]) for r in rows],
            )
            return [reminder_from(r, _same) for r in rows]

        return await self._run(self._transaction, run)

    async def mark_sent(self, reminder_id: str, *, now_s: float, connection: Any = None) -> bool:
        def run(c: sqlite3.Connection) -> bool:
            return (
                c.execute(
                    "UPDATE reminders SET sent = 1, sent_at = ?, lease_until = NULL"
                    " WHERE reminder_id = ? AND NOT sent",
                    (now_s, reminder_id),
                ).rowcount
                == 1
            )

        return await self._in(connection, run)

    async def for_booking(self, booking_id: str) -> list[Reminder]:
        rows = await self._run(
            self._all,
            f"SELECT {_REMINDER_COLS} FROM reminders WHERE booking_id = ?"
            " ORDER BY due_at, reminder_id",
            (booking_id,),
        )
        return [reminder_from(r, _same) for r in rows]
