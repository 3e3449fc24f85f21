"""Bookings' prices in kopecks, and the bookings' outbox.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

`booking.bookings.estimated_price` and `final_price` were numeric roubles; money is an
integer number of kopecks everywhere now (`*_price_kopecks`, bigint), converted exactly.

`booking.outbox` is the transactional outbox: the booking store writes a row for each
status change that another service must act on (payments: hold, capture, cancel) in the
same transaction as the change itself, so a crash can never lose the message. Relays
claim due rows (FOR UPDATE SKIP LOCKED), act idempotently and mark them done; a failed
attempt is retried later with backoff.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE booking.bookings
    ADD COLUMN estimated_price_kopecks bigint CHECK (estimated_price_kopecks >= 0),
    ADD COLUMN final_price_kopecks bigint CHECK (final_price_kopecks >= 0);
UPDATE booking.bookings SET
    estimated_price_kopecks = round(estimated_price * 100)::bigint,
    final_price_kopecks = round(final_price * 100)::bigint
    WHERE estimated_price IS NOT NULL OR final_price IS NOT NULL;
ALTER TABLE booking.bookings DROP COLUMN estimated_price, DROP COLUMN final_price;
CREATE TABLE booking.outbox (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    booking_id text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    available_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error text,
    done_at timestamptz
);
CREATE INDEX outbox_due ON booking.outbox (topic, available_at, id) WHERE done_at IS NULL;
CREATE INDEX outbox_booking ON booking.outbox (booking_id, id);
"""

DOWNGRADE = """
DROP TABLE booking.outbox;
ALTER TABLE booking.bookings
    ADD COLUMN estimated_price numeric(12, 2),
    ADD COLUMN final_price numeric(12, 2);
UPDATE booking.bookings SET
    estimated_price = estimated_price_kopecks / 100.0,
    final_price = final_price_kopecks / 100.0;
ALTER TABLE booking.bookings DROP COLUMN estimated_price_kopecks, DROP COLUMN final_price_kopecks;
"""


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]


def upgrade() -> None:
    for statement in statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in statements(DOWNGRADE):
        op.execute(statement)
