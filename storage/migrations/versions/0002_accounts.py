"""Accounts: the rest of a user's profile, refresh tokens, idempotent answers, the audit
trail, doctors' documents; indexes for listing bookings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

SQL, like 0001. Times are timestamptz (the adapters convert epoch seconds, as for
bookings). E-mails are stored lower-cased by the services; the unique index on
lower(email) makes the database refuse a second account whatever the case. The audit
trail has a schema of its own (grants can be given on it alone) and, like the booking
history, refuses UPDATE, DELETE and TRUNCATE.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE auth.users
    ADD COLUMN blocked_reason text NOT NULL DEFAULT '',
    ADD COLUMN clinic_id text,
    ADD COLUMN license_expires timestamptz,
    ADD COLUMN languages text[] NOT NULL DEFAULT '{}',
    ADD COLUMN treats_adults boolean NOT NULL DEFAULT true,
    ADD COLUMN treats_children boolean NOT NULL DEFAULT false,
    ADD COLUMN rating double precision;
CREATE UNIQUE INDEX users_email_lower ON auth.users (lower(email));
-- Lists are ordered by (created_at, id), ids compared byte-wise as Python does.
CREATE INDEX users_created ON auth.users (created_at, id COLLATE "C");
CREATE INDEX users_role_created ON auth.users (role, created_at, id COLLATE "C");
CREATE INDEX users_clinic_created ON auth.users (clinic_id, created_at, id COLLATE "C");

CREATE TABLE auth.refresh_tokens (
    token_id text PRIMARY KEY,
    family_id text NOT NULL,
    user_id text NOT NULL REFERENCES auth.users (id),
    issued_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON auth.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_live ON auth.refresh_tokens (user_id) WHERE revoked_at IS NULL;

CREATE TABLE auth.idempotency_keys (
    user_id text NOT NULL,
    key text NOT NULL,
    request_sha256 text NOT NULL,
    status_code integer NOT NULL CHECK (status_code BETWEEN 100 AND 599),
    body bytea NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);
-- for sweeping old answers away
CREATE INDEX idempotency_keys_created ON auth.idempotency_keys (created_at);

CREATE TABLE auth.doctor_documents (
    document_id text PRIMARY KEY,
    doctor_id text NOT NULL REFERENCES auth.users (id),
    kind text NOT NULL,
    number text NOT NULL,
    issued_by text NOT NULL,
    uploaded_at timestamptz NOT NULL,
    valid_until timestamptz,
    sha256 text NOT NULL DEFAULT ''
);
CREATE INDEX doctor_documents_doctor ON auth.doctor_documents (doctor_id, uploaded_at);

CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE audit.records (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    actor_id text NOT NULL,
    actor_role text NOT NULL,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text NOT NULL,
    request_id text NOT NULL DEFAULT '',
    ip text NOT NULL DEFAULT '',
    detail text NOT NULL DEFAULT ''
);
CREATE INDEX records_target ON audit.records (target_type, target_id, at);
CREATE INDEX records_actor ON audit.records (actor_id, at);
CREATE FUNCTION audit.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER records_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit.records
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- Lists of bookings, newest first, by patient, doctor, clinic, or all (operators);
-- ties on created_at by id, compared byte-wise as Python does. The patient's index
-- replaces 0001's, which lacked the id.
DROP INDEX booking.bookings_patient;
CREATE INDEX bookings_patient_created ON booking.bookings
    (patient_id, created_at DESC, id COLLATE "C" DESC);
CREATE INDEX bookings_doctor_created ON booking.bookings
    (doctor_id, created_at DESC, id COLLATE "C" DESC);
CREATE INDEX bookings_clinic_created ON booking.bookings
    (clinic_id, created_at DESC, id COLLATE "C" DESC);
CREATE INDEX bookings_created ON booking.bookings (created_at DESC, id COLLATE "C" DESC);
"""

DOWNGRADE = """
DROP INDEX IF EXISTS booking.bookings_created;
DROP INDEX IF EXISTS booking.bookings_clinic_created;
DROP INDEX IF EXISTS booking.bookings_patient_created;
CREATE INDEX IF NOT EXISTS bookings_patient ON booking.bookings (patient_id, created_at DESC);
DROP INDEX IF EXISTS booking.bookings_doctor_created;
DROP SCHEMA IF EXISTS audit CASCADE;
DROP TABLE IF EXISTS auth.doctor_documents;
DROP TABLE IF EXISTS auth.idempotency_keys;
DROP TABLE IF EXISTS auth.refresh_tokens;
DROP INDEX IF EXISTS auth.users_clinic_created;
DROP INDEX IF EXISTS auth.users_role_created;
DROP INDEX IF EXISTS auth.users_created;
DROP INDEX IF EXISTS auth.users_email_lower;
ALTER TABLE auth.users
    DROP COLUMN IF EXISTS rating,
    DROP COLUMN IF EXISTS treats_children,
    DROP COLUMN IF EXISTS treats_adults,
    DROP COLUMN IF EXISTS languages,
    DROP COLUMN IF EXISTS license_expires,
    DROP COLUMN IF EXISTS clinic_id,
    DROP COLUMN IF EXISTS blocked_reason;
"""


def statements(script: str) -> list[str]:
    """Split SQL on top-level semicolons (not those inside $$-quoted function bodies).

    The same splitter as 0001's: a migration module cannot import another (its name
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
