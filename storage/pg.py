"""asyncpg pools as the adapters use them.

`Pool` wraps asyncpg's: when an operation fails because the server went away (a restart,
a crash, a network cut), the connection it used is terminated rather than returned, and
every other open connection is marked to be replaced on its next use, since they almost
certainly broke together. Without that, connections broken by a restart go back to the
pool and fail the next requests one by one ("cannot switch to state ...").
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from storage.errors import is_unavailable


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Our adapters never change session state (no SET, LISTEN or advisory locks), so a
    released connection needs no RESET ALL round trip before its next use."""


class Pool:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        try:
            async with self._pool.acquire() as conn:
                try:
                    yield conn
                except BaseException as exc:
                    if is_unavailable(exc):
                        conn.terminate()  # never back into the pool
                    raise
        except BaseException as exc:
            if is_unavailable(exc):
                await self._pool.expire_connections()
            raise

    async def execute(self, query: str, *args: Any) -> str:
        async with self.acquire() as conn:
            return str(await conn.execute(query, *args))

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self.acquire() as conn:
            return list(await conn.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self.acquire() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(query, *args)
            return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def close(self) -> None:
        await self._pool.close()

    def get_size(self) -> int:
        return int(self._pool.get_size())

    def get_idle_size(self) -> int:
        return int(self._pool.get_idle_size())


async def create_pool(database_url: str, **pool_args: Any) -> Pool:
    pool_args.setdefault("reset", _keep_session)
    # A server that accepts but does not answer (starting up, cut off) must not hold a
    # request for asyncpg's default minute: the caller gets 503 and retries.
    pool_args.setdefault("timeout", 5.0)  # to connect
    pool_args.setdefault("command_timeout", 30.0)
    return Pool(await asyncpg.create_pool(database_url, **pool_args))
