"""Notifications: the outbox (also the delivery log), people's preferences and contacts,
and stored reminder schedules.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

A schema of its own, `notification`. Ids are compared byte-wise (COLLATE "C", as Python
and SQLite compare them), so keyset pages and their indexes agree.

- `notifications`: one row per message per destination (notifications.model.Notification;
  the destination is `destination`, as `to` is a reserved word). `idempotency_key` is
  unique: the same cause planned twice is stored once. Workers claim due rows with a
  lease (FOR UPDATE SKIP LOCKED) through the partial index `notifications_due`: every
  claimable row (queued, failed, or sending with its lease run out) has
  next_attempt_at <= now, so one range scan finds them. The dead letter is read in keyset
  pages newest first through `notifications_dead` on (updated_at, notification_id).
- `preferences`: one row per person who chose anything; `off` holds [kind, channel]
  pairs turned off.
- `contacts` (e-mail and phone, each with its verified flag), `push_subscriptions`
  (endpoint unique) and `fcm_tokens` (token unique).
- `reminders`: at most one unsent reminder per (booking, kind) (a partial unique index:
  a rescheduled visit's new reminder replaces the unsent old one, while one already sent
  stays in the log); `reminders_due` finds the unsent ones by due time.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE SCHEMA IF NOT EXISTS notification;
CREATE TABLE notification.notifications (
    notification_id text COLLATE "C" PRIMARY KEY,
    idempotency_key text COLLATE "C" NOT NULL UNIQUE,
    group_key text COLLATE "C" NOT NULL,
    step integer NOT NULL CHECK (step >= 0),
    user_id text COLLATE "C" NOT NULL,
    kind text NOT NULL,
    channel text NOT NULL CHECK (channel IN ('webpush', 'fcm', 'sms', 'email')),
    destination text NOT NULL,
    locale text NOT NULL CHECK (locale IN ('ru', 'en')),
    tz text NOT NULL,
    variables jsonb NOT NULL CHECK (jsonb_typeof(variables) = 'object'),
    created_at timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered',
        'failed', 'dead', 'skipped')),
    fallback boolean NOT NULL DEFAULT false,
    urgent boolean NOT NULL DEFAULT false,
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    lease_until timestamptz,
    provider text,
    provider_id text,
    last_error text,
    updated_at timestamptz,
    sent_at timestamptz,
    delivered_at timestamptz,
    CONSTRAINT notifications_sending_leased CHECK (status <> 'sending' OR lease_until IS NOT NULL)
);
CREATE INDEX notifications_due ON notification.notifications (next_attempt_at, notification_id)
    WHERE status IN ('queued', 'failed', 'sending');
CREATE INDEX notifications_dead ON notification.notifications (updated_at, notification_id)
    WHERE status = 'dead';
CREATE INDEX notifications_group ON notification.notifications (group_key, step, notification_id);
CREATE INDEX notifications_user ON notification.notifications (user_id, created_at, notification_id);
CREATE INDEX notifications_created ON notification.notifications (created_at, notification_id);
CREATE INDEX notifications_provider ON notification.notifications (provider, provider_id)
    WHERE provider_id IS NOT NULL;
CREATE TABLE notification.preferences (
    user_id text COLLATE "C" PRIMARY KEY,
    locale text NOT NULL CHECK (locale IN ('ru', 'en')),
    tz text NOT NULL,
    off jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(off) = 'array'),
    quiet_start_min integer CHECK (quiet_start_min BETWEEN 0 AND 1439),
    quiet_end_min integer CHECK (quiet_end_min BETWEEN 0 AND 1439)
);
CREATE TABLE notification.contacts (
    user_id text COLLATE "C" PRIMARY KEY,
    email text,
    email_verified boolean NOT NULL DEFAULT false,
    phone text,
    phone_verified boolean NOT NULL DEFAULT false,
    CONSTRAINT contacts_verified_email CHECK (email IS NOT NULL OR NOT email_verified),
    CONSTRAINT contacts_verified_phone CHECK (phone IS NOT NULL OR NOT phone_verified)
);
CREATE INDEX contacts_email ON notification.contacts (email);
CREATE INDEX contacts_phone ON notification.contacts (phone);
CREATE TABLE notification.push_subscriptions (
    endpoint text COLLATE "C" PRIMARY KEY,
    user_id text COLLATE "C" NOT NULL,
    p256dh text NOT NULL,
    auth text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX push_subscriptions_user ON notification.push_subscriptions (user_id, created_at);
CREATE TABLE notification.fcm_tokens (
    token text COLLATE "C" PRIMARY KEY,
    user_id text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX fcm_tokens_user ON notification.fcm_tokens (user_id, created_at);
CREATE TABLE notification.reminders (
    reminder_id text COLLATE "C" PRIMARY KEY,
    booking_id text COLLATE "C" NOT NULL,
    user_id text COLLATE "C" NOT NULL,
    kind text NOT NULL,
    due_at timestamptz NOT NULL,
    visit_at timestamptz NOT NULL,
    sent boolean NOT NULL DEFAULT false,
    sent_at timestamptz,
    lease_until timestamptz
);
CREATE UNIQUE INDEX reminders_pending ON notification.reminders (booking_id, kind)
    WHERE NOT sent;
CREATE INDEX reminders_due ON notification.reminders (due_at, reminder_id) WHERE NOT sent;
CREATE INDEX reminders_booking ON notification.reminders (booking_id, due_at);
"""

DOWNGRADE = """
DROP SCHEMA IF EXISTS notification CASCADE;
"""


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]


def upgrade() -> None:
    for statement in statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in statements(DOWNGRADE):
        op.execute(statement)
