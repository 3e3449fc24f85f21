"""Fresh migrated PostGIS databases in a tenth of a second: migrate one template per test
module, then give each test its own copy (CREATE DATABASE ... TEMPLATE)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg

from tests.conftest import TEST_DATABASE_URL, migrate


def _url(name: str) -> str:
    base, _, _ = TEST_DATABASE_URL.rpartition("/")
    return f"{base}/{name}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(TEST_DATABASE_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def migrated_template() -> Iterator[str]:
    """A migrated database to copy (synchronous: for a module-scoped fixture)."""
    name = f"tot_tmpl_{uuid.uuid4().hex[:12]}"

    async def make() -> None:
        await _admin(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(_url(name))
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        finally:
            await conn.close()
        await migrate(_url(name))

    try:
        asyncio.run(make())
        yield name
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.asynccontextmanager
async def copy_of(template: str) -> AsyncIterator[str]:
    """A database of the test's own, copied from the template; dropped on the way out."""
    name = f"tot_test_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _url(name)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
