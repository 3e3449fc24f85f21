"""The initial schema: auth.users, booking.*, geo.* with PostGIS points and guards.

Revision ID: 0001
Revises:
Create Date: 2026-11-29

Written as SQL on purpose: partitioning, a generated geography column, a partial
unique index and an append-only trigger are PostgreSQL features that a portable
model cannot state. storage/schema.py mirrors these tables for Python code, and a
test checks that the two agree.
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ACTIVE_STATUSES = "('assigned', 'en_route', 'arrived', 'in_progress')"

UPGRADE = f"""
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS booking;
CREATE SCHEMA IF NOT EXISTS geo;

CREATE TABLE auth.users (
    id text PRIMARY KEY,
    email text NOT NULL UNIQUE,
    phone text UNIQUE,
    password_hash text NOT NULL,
    first_name text NOT NULL DEFAULT '',
    last_name text NOT NULL DEFAULT '',
    role text NOT NULL CHECK (role IN ('patient', 'doctor', 'clinic_admin', 'operator', 'admin')),
    is_active boolean NOT NULL DEFAULT true,
    is_verified boolean NOT NULL DEFAULT false,
    specialization text,
    license_number text,
    experience_years integer CHECK (experience_years >= 0),
    clinic_name text,
    clinic_address text,
    clinic_license text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE booking.bookings (
    id text PRIMARY KEY,
    patient_id text NOT NULL,
    doctor_id text,
    clinic_id text,
    call_type text NOT NULL,
    symptoms text NOT NULL DEFAULT '',
    address text NOT NULL DEFAULT '',
    latitude double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    location geography(Point, 4326)
        GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)::geography) STORED,
    status text NOT NULL,
    priority text NOT NULL,
    is_emergency boolean NOT NULL DEFAULT false,
    emergency_type text,
    scheduled_time timestamptz,
    created_at timestamptz NOT NULL,
    assigned_at timestamptz,
    started_at timestamptz,
    completed_at timestamptz,
    cancelled_at timestamptz,
    notes text NOT NULL DEFAULT '',
    estimated_duration_s double precision,
    actual_duration_s double precision,
    estimated_price numeric(12, 2),
    final_price numeric(12, 2),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bookings_location_gist ON booking.bookings USING gist (location);
CREATE INDEX bookings_patient ON booking.bookings (patient_id, created_at DESC);
CREATE INDEX bookings_open ON booking.bookings (status)
    WHERE status NOT IN ('completed', 'cancelled', 'no_doctor_found');
-- No doctor holds two active bookings, whatever two processes race to write.
CREATE UNIQUE INDEX bookings_one_active_per_doctor ON booking.bookings (doctor_id)
    WHERE status IN {ACTIVE_STATUSES};

CREATE TABLE booking.booking_status_updates (
    id bigserial PRIMARY KEY,
    booking_id text NOT NULL REFERENCES booking.bookings (id),
    seq integer NOT NULL,
    old_status text,
    new_status text NOT NULL,
    updated_by text NOT NULL,
    reason text NOT NULL,
    doctor_id text,
    created_at timestamptz NOT NULL,
    UNIQUE (booking_id, seq)
);

CREATE TABLE booking.booking_messages (
    id bigserial PRIMARY KEY,
    booking_id text NOT NULL REFERENCES booking.bookings (id),
    seq integer NOT NULL,
    sender_id text NOT NULL,
    sender_role text NOT NULL,
    message_type text NOT NULL,
    content text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (booking_id, seq)
);

-- The status history is append-only, for every role: updates and deletes are refused.
CREATE FUNCTION booking.refuse_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'booking history is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER status_updates_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON booking.booking_status_updates
    FOR EACH STATEMENT EXECUTE FUNCTION booking.refuse_history_change();

CREATE TABLE geo.locations (
    doctor_id text PRIMARY KEY,
    location geography(Point, 4326) NOT NULL,
    accuracy_m real NOT NULL,
    h3_cell bigint,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX locations_gist ON geo.locations USING gist (location);
CREATE INDEX locations_h3 ON geo.locations (h3_cell);

CREATE TABLE geo.doctor_availability (
    doctor_id text PRIMARY KEY,
    status text NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Written by binary COPY at thousands of rows a second: plain doubles go in (cheap to
-- encode), the server derives the point. No GiST here: a spatial index on an
-- append-heavy table halves ingest; spatial questions about the past narrow by time
-- (partitions, BRIN) and doctor first.
CREATE TABLE geo.location_history (
    doctor_id text NOT NULL,
    recorded_at timestamptz NOT NULL,
    latitude double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    location geography(Point, 4326)
        GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)::geography) STORED,
    accuracy_m real NOT NULL,
    booking_id text
) PARTITION BY RANGE (recorded_at);
CREATE INDEX location_history_doctor_time ON geo.location_history (doctor_id, recorded_at);
CREATE INDEX location_history_time_brin ON geo.location_history USING brin (recorded_at);
-- Rows outside every daily partition land here rather than fail.
CREATE TABLE geo.location_history_default PARTITION OF geo.location_history DEFAULT;

-- Daily partitions from `first_day` for `days` days; returns how many it created.
-- Rows that already landed in the default partition for such a day are moved into it
-- (a partition cannot be created over rows the default holds).
CREATE FUNCTION geo.ensure_location_partitions(first_day date, days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date;
    made integer := 0;
    name text;
BEGIN
    FOR i IN 0 .. days - 1 LOOP
        d := first_day + i;
        name := 'location_history_' || to_char(d, 'YYYYMMDD');
        IF to_regclass('geo.' || name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE geo.%I (LIKE geo.location_history INCLUDING DEFAULTS'
                ' INCLUDING CONSTRAINTS INCLUDING GENERATED)', name);
            EXECUTE format(
                'WITH moved AS (DELETE FROM geo.location_history_default'
                ' WHERE recorded_at >= %L AND recorded_at < %L'
                ' RETURNING doctor_id, recorded_at, latitude, longitude, accuracy_m, booking_id)'
                ' INSERT INTO geo.%I (doctor_id, recorded_at, latitude, longitude, accuracy_m, booking_id)'
                ' SELECT * FROM moved',
                d::timestamptz, (d + 1)::timestamptz, name);
            EXECUTE format(
                'ALTER TABLE geo.location_history ATTACH PARTITION geo.%I FOR VALUES FROM (%L) TO (%L)',
                name, d::timestamptz, (d + 1)::timestamptz);
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END $$;

-- Drops the daily partitions wholly before `keep_from`; returns how many it dropped.
CREATE FUNCTION geo.drop_location_partitions_before(keep_from date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        JOIN pg_namespace n ON n.oid = p.relnamespace
        WHERE n.nspname = 'geo' AND p.relname = 'location_history'
          AND c.relname ~ '^location_history_[0-9]{{8}}$'
    LOOP
        IF to_date(right(part.relname, 8), 'YYYYMMDD') < keep_from THEN
            EXECUTE format('DROP TABLE geo.%I', part.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    RETURN dropped;
END $$;
"""

DOWNGRADE = """
DROP SCHEMA IF EXISTS geo CASCADE;
DROP SCHEMA IF EXISTS booking CASCADE;
DROP SCHEMA IF EXISTS auth CASCADE;
"""


def statements(script: str) -> list[str]:
    """Split SQL on top-level semicolons (not those inside $$-quoted function bodies)."""
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
