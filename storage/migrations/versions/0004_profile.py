"""The profile's language and saved addresses.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

`auth.users.locale`: the language the apps speak to the person ('ru' or 'en'; null: the
browser's). `saved_addresses`: a patient's kept places, a JSON array of {label, address,
lat, lon} (at most 20, checked by the services).
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE auth.users
    ADD COLUMN locale text CHECK (locale IN ('ru', 'en')),
    ADD COLUMN saved_addresses jsonb NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(saved_addresses) = 'array');
"""

DOWNGRADE = """
ALTER TABLE auth.users DROP COLUMN saved_addresses, DROP COLUMN locale;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
