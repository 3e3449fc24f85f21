"""Administration: doctors' scans and their review, refused verifications, runtime
settings, and the audit trail's indexes for its viewer.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

`auth.users.rejected_reason`: why an admin refused to verify a doctor (null: not
refused). `auth.doctor_documents`: the uploaded scan's sniffed content type, size and
upload time (its bytes are kept in a file store under the document's sha256), and an
admin's review. `auth.runtime_settings`: what an admin changed at run time (offer TTL,
give-up limits, emergency numbers and texts), as JSON text by name. The audit viewer
lists records newest first by (at, id) under any of its filters: one index each for
time alone, target, actor and action, every one ending in (at, id) so a page is one
backward index range scan however large the table grows.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE auth.users ADD COLUMN rejected_reason text;
ALTER TABLE auth.doctor_documents
    ADD COLUMN content_type text NOT NULL DEFAULT ''
        CHECK (content_type IN ('', 'application/pdf', 'image/jpeg', 'image/png')),
    ADD COLUMN size_bytes bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    ADD COLUMN file_uploaded_at timestamptz,
    ADD COLUMN review text NOT NULL DEFAULT 'pending'
        CHECK (review IN ('pending', 'approved', 'rejected')),
    ADD COLUMN review_reason text NOT NULL DEFAULT '',
    ADD COLUMN reviewed_at timestamptz;
CREATE INDEX doctor_documents_pending ON auth.doctor_documents (doctor_id, uploaded_at)
    WHERE review = 'pending';
CREATE INDEX users_doctors_unverified ON auth.users (created_at, id)
    WHERE role = 'doctor' AND NOT is_verified;
CREATE TABLE auth.runtime_settings (
    name text PRIMARY KEY,
    value jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);
DROP INDEX audit.records_target;
DROP INDEX audit.records_actor;
CREATE INDEX records_at ON audit.records (at, id);
CREATE INDEX records_target ON audit.records (target_type, target_id, at, id);
CREATE INDEX records_actor ON audit.records (actor_id, at, id);
CREATE INDEX records_action ON audit.records (action, at, id);
"""

DOWNGRADE = """
DROP INDEX audit.records_action;
DROP INDEX audit.records_actor;
DROP INDEX audit.records_target;
DROP INDEX audit.records_at;
CREATE INDEX records_target ON audit.records (target_type, target_id, at);
CREATE INDEX records_actor ON audit.records (actor_id, at);
DROP TABLE auth.runtime_settings;
DROP INDEX auth.users_doctors_unverified;
DROP INDEX auth.doctor_documents_pending;
ALTER TABLE auth.doctor_documents
    DROP COLUMN reviewed_at, DROP COLUMN review_reason, DROP COLUMN review,
    DROP COLUMN file_uploaded_at, DROP COLUMN size_bytes, DROP COLUMN content_type;
ALTER TABLE auth.users DROP COLUMN rejected_reason;
"""


def statements(script: str) -> list[str]:
    """One statement at a time (asyncpg prepares each); this script has no $$ bodies."""
    return [s.strip() for s in script.split(";") if s.strip()]


def upgrade() -> None:
    for statement in statements(UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in statements(DOWNGRADE):
        op.execute(statement)
