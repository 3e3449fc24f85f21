"""Payments: price lists, orders, provider payments and refunds, and the ledger.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10

A schema of its own, `payment`. Money is bigint kopecks everywhere (never numeric or
float); ids are compared byte-wise (COLLATE "C", as Python and SQLite compare them), so
keyset pages and their indexes agree.

- `price_lists`: one JSON document per clinic; the platform's default list (clinic_id
  None) is kept under the key '' (a NULL cannot be a primary key).
- `orders`: one per booking, its quote and extras as JSON. `version` for optimistic
  concurrency (the store updates WHERE version = the one read).
- `payments`: CHECKs keep 0 <= refunded <= captured <= amount and amount > 0; the
  provider's id is unique. Payments reach their clinic through their booking's order.
- `refunds`: each of one payment; the provider's id is unique.
- `ledger_transactions` and `ledger_entries`: double entry, append-only (a trigger
  refuses UPDATE, DELETE and TRUNCATE on both), and every transaction's entries sum to
  zero (a constraint trigger deferred to the commit checks each transaction written).
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE SCHEMA IF NOT EXISTS payment;
CREATE TABLE payment.price_lists (
    clinic_key text COLLATE "C" PRIMARY KEY,
    body jsonb NOT NULL CHECK (jsonb_typeof(body) = 'object'),
    updated_at timestamptz NOT NULL
);
CREATE TABLE payment.orders (
    booking_id text COLLATE "C" PRIMARY KEY,
    patient_id text NOT NULL,
    clinic_id text,
    doctor_id text,
    method text NOT NULL CHECK (method IN ('card', 'sbp', 'at_visit')),
    status text NOT NULL CHECK (status IN ('quoted', 'awaiting_payment', 'held', 'paid',
        'pay_at_visit', 'cancelled', 'refunded', 'failed')),
    emergency boolean NOT NULL,
    quote jsonb NOT NULL CHECK (jsonb_typeof(quote) = 'object'),
    extras jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(extras) = 'array'),
    final_kopecks bigint CHECK (final_kopecks >= 0),
    customer_email text,
    customer_phone text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version bigint NOT NULL DEFAULT 0 CHECK (version >= 0)
);
CREATE INDEX orders_clinic ON payment.orders (clinic_id, booking_id);
CREATE INDEX orders_patient ON payment.orders (patient_id, created_at);
CREATE TABLE payment.payments (
    payment_id text COLLATE "C" PRIMARY KEY,
    booking_id text COLLATE "C" NOT NULL,
    purpose text NOT NULL CHECK (purpose IN ('visit', 'cancellation_fee')),
    method text NOT NULL CHECK (method IN ('card', 'sbp', 'at_visit')),
    amount_kopecks bigint NOT NULL CHECK (amount_kopecks > 0),
    status text NOT NULL
        CHECK (status IN ('pending', 'waiting_for_capture', 'succeeded', 'canceled')),
    provider_payment_id text UNIQUE,
    captured_kopecks bigint NOT NULL DEFAULT 0,
    refunded_kopecks bigint NOT NULL DEFAULT 0,
    fee_kopecks bigint NOT NULL DEFAULT 0 CHECK (fee_kopecks >= 0),
    confirmation_url text,
    confirmation_token text,
    qr_data text,
    expires_at timestamptz,
    cancellation_reason text,
    receipt jsonb CHECK (receipt IS NULL OR jsonb_typeof(receipt) = 'object'),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
    CONSTRAINT payments_amounts CHECK (
        0 <= refunded_kopecks AND refunded_kopecks <= captured_kopecks
        AND captured_kopecks <= amount_kopecks)
);
CREATE INDEX payments_booking ON payment.payments (booking_id, created_at, payment_id);
CREATE INDEX payments_created ON payment.payments (created_at, payment_id);
CREATE INDEX payments_status_created ON payment.payments (status, created_at, payment_id);
CREATE INDEX payments_unsettled ON payment.payments (created_at, payment_id)
    WHERE status IN ('pending', 'waiting_for_capture');
CREATE TABLE payment.refunds (
    refund_id text COLLATE "C" PRIMARY KEY,
    payment_id text COLLATE "C" NOT NULL REFERENCES payment.payments (payment_id),
    booking_id text COLLATE "C" NOT NULL,
    amount_kopecks bigint NOT NULL CHECK (amount_kopecks > 0),
    reason text NOT NULL,
    requested_by text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'canceled')),
    provider_refund_id text UNIQUE,
    receipt jsonb CHECK (receipt IS NULL OR jsonb_typeof(receipt) = 'object'),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version bigint NOT NULL DEFAULT 0 CHECK (version >= 0)
);
CREATE INDEX refunds_payment ON payment.refunds (payment_id, created_at, refund_id);
CREATE INDEX refunds_booking ON payment.refunds (booking_id);
CREATE TABLE payment.ledger_transactions (
    txn_id text COLLATE "C" PRIMARY KEY,
    booking_id text COLLATE "C" NOT NULL,
    payment_id text COLLATE "C" NOT NULL,
    kind text NOT NULL,
    at timestamptz NOT NULL,
    clinic_id text,
    doctor_id text,
    service_code text
);
CREATE INDEX ledger_transactions_at ON payment.ledger_transactions (at, txn_id);
CREATE INDEX ledger_transactions_clinic ON payment.ledger_transactions (clinic_id, at, txn_id);
CREATE INDEX ledger_transactions_doctor ON payment.ledger_transactions (doctor_id, at, txn_id);
CREATE INDEX ledger_transactions_payment ON payment.ledger_transactions (payment_id);
CREATE TABLE payment.ledger_entries (
    txn_id text COLLATE "C" NOT NULL REFERENCES payment.ledger_transactions (txn_id),
    n integer NOT NULL CHECK (n >= 0),
    account text NOT NULL CHECK (account IN ('transit', 'clinic_revenue',
        'platform_commission', 'doctor_earnings', 'refunds', 'provider_fees')),
    owner text,
    amount_kopecks bigint NOT NULL,
    PRIMARY KEY (txn_id, n)
);
CREATE INDEX ledger_entries_account ON payment.ledger_entries (account, owner);
CREATE FUNCTION payment.refuse_ledger_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only (% on % refused)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER ledger_transactions_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON payment.ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION payment.refuse_ledger_change();
CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON payment.ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION payment.refuse_ledger_change();
CREATE FUNCTION payment.check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    total numeric;
BEGIN
    SELECT coalesce(sum(amount_kopecks), 0) INTO total
        FROM payment.ledger_entries WHERE txn_id = NEW.txn_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (sum % kopecks)',
            NEW.txn_id, total USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced
    AFTER INSERT ON payment.ledger_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payment.check_balanced();
"""

DOWNGRADE = """
DROP SCHEMA IF EXISTS payment CASCADE;
"""


def statements(script: str) -> list[str]:
    """Split SQL on top-level semicolons (not those inside $$-quoted function bodies).

    The same splitter as 0002's: a migration module cannot import another (its name
    starts with a digit), and a migration should not change when shared code does."""
    out: list[str] = []
    current: list[str] = []
    in_body = False
    for line in script.splitlines():
        current.append(line)
        in_body ^= line.count("$$") % 2 == 1
        if not in_body and line.rstrip().endswith(";"):
            statement = "\n".join(current).strip()
            if statement.rstrip(";").strip():
                out.append(statement)
            current = []
    tail = "\n".join(current).strip()
    if tail:
        out.append(tail)
    return out


def upgrade() -> None:
    for statement in statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in statements(DOWNGRADE):
        op.execute(statement)
