"""Clinics: their contacts, time zone, opening hours and area; doctors' invitations.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

A schema of its own, `clinic`. `clinic.clinics.area` is the GeoJSON MultiPolygon exactly as
given (the API's answer) and `area_geom` the same shape as PostGIS geometry (SRID 4326),
for spatial queries. `clinic.invitations` keeps only the SHA-256 of an invitation's token.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE SCHEMA IF NOT EXISTS clinic;
CREATE TABLE clinic.clinics (
    id text PRIMARY KEY,
    name text NOT NULL,
    phone text NOT NULL DEFAULT '',
    email text NOT NULL DEFAULT '',
    address text NOT NULL DEFAULT '',
    timezone text NOT NULL,
    opening_hours jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(opening_hours) = 'array'),
    area jsonb,
    area_geom geometry(MultiPolygon, 4326),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CHECK ((area IS NULL) = (area_geom IS NULL))
);
CREATE INDEX clinics_area_gist ON clinic.clinics USING gist (area_geom);
CREATE TABLE clinic.invitations (
    token_sha256 text PRIMARY KEY,
    doctor_id text NOT NULL REFERENCES auth.users (id),
    clinic_id text NOT NULL REFERENCES clinic.clinics (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX invitations_doctor ON clinic.invitations (doctor_id);
-- The statistics read a period's bookings in (created_at, id) order.
CREATE INDEX IF NOT EXISTS bookings_created_id ON booking.bookings (created_at, id COLLATE "C");
"""

DOWNGRADE = """
DROP INDEX IF EXISTS booking.bookings_created_id;
DROP TABLE IF EXISTS clinic.invitations;
DROP TABLE IF EXISTS clinic.clinics;
DROP SCHEMA IF EXISTS clinic;
"""


def statements(script: str) -> list[str]:
    """One statement at a time (asyncpg prepares each); no function bodies here, so every
    semicolon at a line's end ends one."""
    out, current = [], []
    for line in script.splitlines():
        if line.strip().startswith("--"):
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(current).strip())
            current = []
    return [s for s in out if s]


def upgrade() -> None:
    for statement in statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in statements(DOWNGRADE):
        op.execute(statement)
