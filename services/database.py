"""Database set-up for the engine: migrations (alembic) and the start-up version check."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent.parent / "storage" / "migrations"


class DatabaseBehindError(RuntimeError):
    """The database's schema is older than this code's; the message says what to run."""


def sqlalchemy_url(database_url: str) -> str:
    """postgresql://... as SQLAlchemy's asyncpg dialect wants it."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+asyncpg://" + database_url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("postgresql://x/y")).get_current_head()
    assert head is not None
    return head


def upgrade(database_url: str) -> None:
    """Bring the database to the newest schema (`tot db upgrade`). Blocking."""
    command.upgrade(alembic_config(database_url), "head")


async def current_revision(database_url: str) -> str | None:
    conn = await asyncpg.connect(database_url)
    try:
        exists = await conn.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL")
        if not exists:
            return None
        return await conn.fetchval("SELECT version_num FROM alembic_version")  # type: ignore[no-any-return]
    finally:
        await conn.close()


async def require_current_schema(database_url: str) -> None:
    """Refuse to start on a database that is behind, saying what to run."""
    current = await current_revision(database_url)
    head = await asyncio.to_thread(head_revision)
    if current != head:
        at = "has no TOT schema" if current is None else f"is at schema revision {current}"
        raise DatabaseBehindError(
            f"the database {at}; this engine needs revision {head}. "
            "Run `tot db upgrade` (with the same DATABASE_URL) and start again."
        )
