"""The PostGIS tables as SQLAlchemy/geoalchemy2 models, for Python code that wants them.

The migrations (storage/migrations) are the source of truth; tests/test_storage_schema.py
checks that every table and column here exists in a migrated database with this type.
"""

from __future__ import annotations

from geoalchemy2 import Geography
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import BYTEA, JSONB

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Text, primary_key=True),
    Column("email", Text, nullable=False, unique=True),
    Column("phone", Text, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("first_name", Text, nullable=False),
    Column("last_name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("is_verified", Boolean, nullable=False),
    Column("specialization", Text),
    Column("license_number", Text),
    Column("experience_years", Integer),
    Column("clinic_name", Text),
    Column("clinic_address", Text),
    Column("clinic_license", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # 0002
    Column("blocked_reason", Text, nullable=False),
    Column("clinic_id", Text),
    Column("license_expires", DateTime(timezone=True)),
    Column("languages", ARRAY(Text), nullable=False),
    Column("treats_adults", Boolean, nullable=False),
    Column("treats_children", Boolean, nullable=False),
    Column("rating", Float),
    # 0004
    Column("locale", Text),
    Column("saved_addresses", JSONB, nullable=False),
    # 0006
    Column("rejected_reason", Text),
    schema="auth",
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_id", Text, primary_key=True),
    Column("family_id", Text, nullable=False),
    Column("user_id", Text, ForeignKey("auth.users.id"), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    schema="auth",
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("request_sha256", Text, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", BYTEA, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    schema="auth",
)

doctor_documents = Table(
    "doctor_documents",
    metadata,
    Column("document_id", Text, primary_key=True),
    Column("doctor_id", Text, ForeignKey("auth.users.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("number", Text, nullable=False),
    Column("issued_by", Text, nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True)),
    Column("sha256", Text, nullable=False),
    # 0006
    Column("content_type", Text, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("file_uploaded_at", DateTime(timezone=True)),
    Column("review", Text, nullable=False),
    Column("review_reason", Text, nullable=False),
    Column("reviewed_at", DateTime(timezone=True)),
    schema="auth",
)

runtime_settings = Table(
    "runtime_settings",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    schema="auth",
)

audit_records = Table(
    "records",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("actor_role", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target_type", Text, nullable=False),
    Column("target_id", Text, nullable=False),
    Column("request_id", Text, nullable=False),
    Column("ip", Text, nullable=False),
    Column("detail", Text, nullable=False),
    schema="audit",
)

bookings = Table(
    "bookings",
    metadata,
    Column("id", Text, primary_key=True),
    Column("patient_id", Text, nullable=False),
    Column("doctor_id", Text),
    Column("clinic_id", Text),
    Column("call_type", Text, nullable=False),
    Column("symptoms", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("location", Geography("POINT", srid=4326)),  # generated from latitude, longitude
    Column("status", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("is_emergency", Boolean, nullable=False),
    Column("emergency_type", Text),
    Column("scheduled_time", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("assigned_at", DateTime(timezone=True)),
    Column("started_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("notes", Text, nullable=False),
    Column("estimated_duration_s", Float),
    Column("actual_duration_s", Float),
    Column("estimated_price_kopecks", BigInteger),
    Column("final_price_kopecks", BigInteger),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("excluded_doctors", ARRAY(Text), nullable=False),
    Column("requested_doctor_id", Text),
    Column("others_if_declined", Boolean, nullable=False),
    Column("patient_is_child", Boolean, nullable=False),
    Column("language", Text),
    schema="booking",
)

booking_status_updates = Table(
    "booking_status_updates",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("booking_id", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("old_status", Text),
    Column("new_status", Text, nullable=False),
    Column("updated_by", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("doctor_id", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    schema="booking",
)

booking_messages = Table(
    "booking_messages",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("booking_id", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("sender_id", Text, nullable=False),
    Column("sender_role", Text, nullable=False),
    Column("message_type", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    schema="booking",
)

locations = Table(
    "locations",
    metadata,
    Column("doctor_id", Text, primary_key=True),
    Column("location", Geography("POINT", srid=4326), nullable=False),
    Column("accuracy_m", Float, nullable=False),
    Column("h3_cell", BigInteger),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    schema="geo",
)

doctor_availability = Table(
    "doctor_availability",
    metadata,
    Column("doctor_id", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    schema="geo",
)

location_history = Table(
    "location_history",
    metadata,
    Column("doctor_id", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("location", Geography("POINT", srid=4326)),  # generated from latitude, longitude
    Column("accuracy_m", Float, nullable=False),
    Column("booking_id", Text),
    schema="geo",
)
