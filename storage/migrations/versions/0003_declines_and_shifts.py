"""Who declined a booking is stored with it; the doctor a patient chose; doctors' shifts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

`booking.bookings.excluded_doctors`: doctors who declined the booking or let its offer
lapse; after a restart they are not asked again. `requested_doctor_id` and
`others_if_declined`: the doctor the patient chose by name, offered the visit first, and
whether others may be asked if that doctor does not take it. `patient_is_child` and
`language`: what the doctor must be able to do (treat children, speak the language). `geo.doctor_availability` (made in 0001,
written from now on): one row per doctor on shift ('available' or 'on_break'), deleted
when the shift ends, so a restarted engine knows who is on shift and waits for them to
reconnect.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE booking.bookings
    ADD COLUMN excluded_doctors text[] NOT NULL DEFAULT '{}',
    ADD COLUMN requested_doctor_id text,
    ADD COLUMN others_if_declined boolean NOT NULL DEFAULT true,
    ADD COLUMN patient_is_child boolean NOT NULL DEFAULT false,
    ADD COLUMN language text;
ALTER TABLE geo.doctor_availability
    ADD CONSTRAINT doctor_availability_status CHECK (status IN ('available', 'on_break'));
"""

DOWNGRADE = """
ALTER TABLE geo.doctor_availability DROP CONSTRAINT doctor_availability_status;
ALTER TABLE booking.bookings
    DROP COLUMN language,
    DROP COLUMN patient_is_child,
    DROP COLUMN others_if_declined,
    DROP COLUMN requested_doctor_id,
    DROP COLUMN excluded_doctors;
"""


def statements(script: str) -> list[str]:
    """Split SQL on semicolons that end a line (no function bodies here)."""
    out: list[str] = []
    current: list[str] = []
    for line in script.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(current).strip())
            current = []
    return [s for s in out if s.rstrip(";").strip()]


def upgrade() -> None:
    for statement in statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in statements(DOWNGRADE):
        op.execute(statement)
