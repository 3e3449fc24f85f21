"""asyncpg pools as the adapters use them."""

from __future__ import annotations

from typing import Any

import asyncpg


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Our adapters never change session state (no SET, LISTEN or advisory locks), so a
    released connection needs no RESET ALL round trip before its next use."""


async def create_pool(database_url: str, **pool_args: Any) -> asyncpg.Pool:
    pool_args.setdefault("reset", _keep_session)
    return await asyncpg.create_pool(database_url, **pool_args)
