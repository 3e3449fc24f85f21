"""The geoalchemy2 models agree with the migrated PostGIS database."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import ARRAY

from storage.schema import metadata
from tests.conftest import migrate

# information_schema.data_type (udt_name for user types) for each SQLAlchemy type name
SQL_TYPE = {
    "TEXT": "text",
    "BOOLEAN": "boolean",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "FLOAT": "double precision",
    "NUMERIC(12, 2)": "numeric",
    "DATETIME": "timestamp with time zone",  # DateTime(timezone=True)
    "geography(POINT,4326)": "geography",
    "ARRAY": "ARRAY",  # element type checked through udt_name
    "BYTEA": "bytea",
    "JSONB": "jsonb",
}
REAL_OK = {("geo", "locations", "accuracy_m"), ("geo", "location_history", "accuracy_m")}


async def test_models_match_the_migrated_tables(postgis_url: str) -> None:
    await migrate(postgis_url)
    conn = await asyncpg.connect(postgis_url)
    try:
        rows = await conn.fetch(
            "SELECT table_schema, table_name, column_name, data_type, udt_name, is_nullable"
            " FROM information_schema.columns WHERE table_schema IN ('auth', 'booking', 'geo', 'audit')"
        )
    finally:
        await conn.close()
    db = {(r["table_schema"], r["table_name"], r["column_name"]): r for r in rows}
    modelled = set()
    for table in metadata.sorted_tables:
        for column in table.columns:
            key = (table.schema, table.name, column.name)
            modelled.add(key)
            assert key in db, f"{key} is modelled but not in the database"
            row = db[key]
            kind = row["udt_name"] if row["data_type"] == "USER-DEFINED" else row["data_type"]
            want = SQL_TYPE[str(column.type)]
            if want.startswith("timestamp"):
                assert getattr(column.type, "timezone", False), f"{key} must be timezone-aware"
            if isinstance(column.type, ARRAY):
                item = str(column.type.item_type).lower()
                assert row["udt_name"] == f"_{item}", (key, row["udt_name"])
            if key in REAL_OK:
                assert kind in ("real", want), key
            else:
                assert kind == want, (key, kind, want)
            if not column.nullable:
                assert row["is_nullable"] == "NO", key
    tables = {(s, t) for s, t, _ in db}
    missing = {k for k in db if (k[0], k[1]) in tables} - modelled
    # every column of every modelled table is modelled (partitions aside)
    modelled_tables = {(t.schema, t.name) for t in metadata.sorted_tables}
    assert {k for k in missing if (k[0], k[1]) in modelled_tables} == set()


async def test_the_accounts_migration_goes_down_and_up_again(postgis_url: str) -> None:
    import asyncio
    import gc

    from alembic import command

    from services.database import alembic_config, current_revision, head_revision

    await migrate(postgis_url)
    gc.collect()  # see tests.conftest.migrate
    await asyncio.to_thread(command.downgrade, alembic_config(postgis_url), "0001")
    assert await current_revision(postgis_url) == "0001"
    conn = await asyncpg.connect(postgis_url)
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_schema = 'auth' AND table_name = 'users' AND column_name = 'languages'"
        )
        assert left == 0
        assert await conn.fetchval("SELECT to_regclass('auth.refresh_tokens')") is None
        assert await conn.fetchval("SELECT to_regnamespace('audit')") is None
    finally:
        await conn.close()
    await migrate(postgis_url)
    assert await current_revision(postgis_url) == head_revision() == "0009"


async def test_declines_and_shifts_migration_goes_down_and_up_again(postgis_url: str) -> None:
    import asyncio
    import gc

    from alembic import command

    from services.database import alembic_config, current_revision

    await migrate(postgis_url)
    gc.collect()  # see tests.conftest.migrate
    await asyncio.to_thread(command.downgrade, alembic_config(postgis_url), "0002")
    assert await current_revision(postgis_url) == "0002"
    conn = await asyncpg.connect(postgis_url)
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'booking'"
            " AND table_name = 'bookings' AND column_name = 'excluded_doctors'"
        )
        assert left == 0
    finally:
        await conn.close()
    await migrate(postgis_url)
    assert await current_revision(postgis_url) == "0009"


async def test_clinics_migration_goes_down_and_up_again(postgis_url: str) -> None:
    import asyncio
    import gc

    from alembic import command

    from services.database import alembic_config, current_revision

    await migrate(postgis_url)
    gc.collect()  # see tests.conftest.migrate
    await asyncio.to_thread(command.downgrade, alembic_config(postgis_url), "0004")
    assert await current_revision(postgis_url) == "0004"
    conn = await asyncpg.connect(postgis_url)
    try:
        assert await conn.fetchval("SELECT to_regnamespace('clinic')") is None
    finally:
        await conn.close()
    await migrate(postgis_url)
    assert await current_revision(postgis_url) == "0009"
    conn = await asyncpg.connect(postgis_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('clinic.clinics')") is not None
    finally:
        await conn.close()


async def test_the_admin_migration_goes_down_and_up_again(postgis_url: str) -> None:
    import asyncio
    import gc

    from alembic import command

    from services.database import alembic_config, current_revision

    await migrate(postgis_url)
    gc.collect()  # see tests.conftest.migrate
    await asyncio.to_thread(command.downgrade, alembic_config(postgis_url), "0005")
    assert await current_revision(postgis_url) == "0005"
    conn = await asyncpg.connect(postgis_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('auth.runtime_settings')") is None
        assert await conn.fetchval("SELECT to_regclass('audit.records_action')") is None
        assert await conn.fetchval("SELECT to_regclass('audit.records_target')") is not None
        assert await conn.fetchval("SELECT to_regclass('clinic.clinics')") is not None
    finally:
        await conn.close()
    await migrate(postgis_url)
    assert await current_revision(postgis_url) == "0009"


async def test_the_payments_migration_goes_down_and_up_again(postgis_url: str) -> None:
    import asyncio
    import gc

    from alembic import command

    from services.database import alembic_config, current_revision

    await migrate(postgis_url)
    gc.collect()  # see tests.conftest.migrate
    await asyncio.to_thread(command.downgrade, alembic_config(postgis_url), "0006")
    assert await current_revision(postgis_url) == "0006"
    conn = await asyncpg.connect(postgis_url)
    try:
        assert await conn.fetchval("SELECT to_regnamespace('payment')") is None
        assert await conn.fetchval("SELECT to_regclass('auth.runtime_settings')") is not None
    finally:
        await conn.close()
    await migrate(postgis_url)
    assert await current_revision(postgis_url) == "0009"
    conn = await asyncpg.connect(postgis_url)
    try:
        money = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'payment' AND column_name LIKE '%kopecks'"
        )
        assert len(money) == 7 and {r["data_type"] for r in money} == {"bigint"}
        triggers = await conn.fetch(
            "SELECT DISTINCT event_object_table, trigger_name FROM information_schema.triggers"
            " WHERE trigger_schema = 'payment'"
        )
        assert {(r["event_object_table"], r["trigger_name"]) for r in triggers} == {
            ("ledger_transactions", "ledger_transactions_append_only"),
            ("ledger_entries", "ledger_entries_append_only"),
            ("ledger_entries", "ledger_entries_balanced"),
        }
    finally:
        await conn.close()


async def test_the_money_migration_converts_roubles_to_kopecks_exactly(postgis_url: str) -> None:
    """0008: numeric roubles become bigint kopecks (2500.55 -> 250055), and back down."""
    import asyncio
    import gc

    from alembic import command

    from services.database import alembic_config

    await migrate(postgis_url)
    gc.collect()  # see tests.conftest.migrate
    await asyncio.to_thread(command.downgrade, alembic_config(postgis_url), "0007")
    conn = await asyncpg.connect(postgis_url)
    try:
        await conn.execute(
            "INSERT INTO booking.bookings (id, patient_id, call_type, latitude, longitude,"
            " status, priority, created_at, estimated_price, final_price) VALUES ('b1', 'p1',"
            " 'home_visit', 55.7, 37.6, 'completed', 'normal', now(), 2500.55, 3000)"
        )
        assert await conn.fetchval("SELECT to_regclass('booking.outbox')") is None
    finally:
        await conn.close()
    await migrate(postgis_url)
    conn = await asyncpg.connect(postgis_url)
    try:
        row = await conn.fetchrow(
            "SELECT estimated_price_kopecks, final_price_kopecks FROM booking.bookings"
        )
        assert (row["estimated_price_kopecks"], row["final_price_kopecks"]) == (2500_55, 3000_00)
        assert await conn.fetchval("SELECT to_regclass('booking.outbox')") is not None
    finally:
        await conn.close()


async def test_the_notifications_migration_goes_down_and_up_again(postgis_url: str) -> None:
    """0009: schema `notification` goes with its rows, and comes back with its indexes
    and constraints (the claim's partial index, one unsent reminder per booking and kind,
    one row per idempotency key)."""
    import asyncio
    import gc

    from alembic import command

    from services.database import alembic_config, current_revision

    await migrate(postgis_url)
    conn = await asyncpg.connect(postgis_url)
    try:
        await conn.execute(
            "INSERT INTO notification.reminders (reminder_id, booking_id, user_id, kind,"
            " due_at, visit_at) VALUES ('r1', 'b1', 'u1', 'visit_reminder_1h', now(), now())"
        )
    finally:
        await conn.close()
    gc.collect()  # see tests.conftest.migrate
    await asyncio.to_thread(command.downgrade, alembic_config(postgis_url), "0008")
    assert await current_revision(postgis_url) == "0008"
    conn = await asyncpg.connect(postgis_url)
    try:
        assert await conn.fetchval("SELECT to_regnamespace('notification')") is None
        assert await conn.fetchval("SELECT to_regclass('booking.outbox')") is not None
    finally:
        await conn.close()
    await migrate(postgis_url)
    assert await current_revision(postgis_url) == "0009"
    conn = await asyncpg.connect(postgis_url)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'notification'"
        )
        assert {r["table_name"] for r in tables} == {
            "notifications", "preferences", "contacts", "push_subscriptions", "fcm_tokens",
            "reminders",
        }  # fmt: skip
        assert await conn.fetchval("SELECT count(*) FROM notification.reminders") == 0
        indexes = {
            r["indexname"]: r["indexdef"]
            for r in await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'notification'"
            )
        }
        assert "WHERE (status = ANY" in indexes["notifications_due"]
        assert "WHERE (status = 'dead'" in indexes["notifications_dead"]
        assert indexes["reminders_pending"].startswith("CREATE UNIQUE INDEX")
        assert "notifications_idempotency_key_key" in indexes
        insert = (
            "INSERT INTO notification.notifications (notification_id, idempotency_key,"
            " group_key, step, user_id, kind, channel, destination, locale, tz, variables,"
            " created_at, next_attempt_at, expires_at, status) VALUES ($1, 'k1', 'g', 0, 'u1',"
            " 'refund', 'email', 'a@example.ru', 'ru', 'Europe/Moscow', '{}', now(), now(),"
            " now(), $2)"
        )
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(insert, "n0", "lost")
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(insert, "n0", "sending")  # sending without a lease
        await conn.execute(insert, "n1", "queued")
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(insert, "n2", "queued")
    finally:
        await conn.close()
