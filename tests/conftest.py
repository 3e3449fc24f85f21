"""Shared fixtures: the bundled map's graph, a router, and real PostGIS / Redis scratch spaces."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from routing import RoadGraph, Router
from services.road_network import load_road_graph
from tot.settings import PROJECT_ROOT

# The tests route on the small central-Helsinki extract, whatever the default map is (central
# Nizhny Novgorod): their points, boxes and expectations are Helsinki's. Processes the tests
# start (`tot serve`, the pages' server, locust's target) inherit it through TOT_OSM_PATH.
HELSINKI_OSM_PATH = PROJECT_ROOT / "data" / "osm" / "helsinki.osm.pbf"
os.environ.setdefault("TOT_OSM_PATH", str(HELSINKI_OSM_PATH))

pytest_plugins = ["tests.asyncapi_contract"]  # the gateway's messages against /asyncapi.json

TEST_DATABASE_URL = os.environ.get(
    "TOT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_REDIS_URL = os.environ.get("TOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(autouse=True, scope="module")
def _free_garbage_on_the_main_thread() -> Iterator[None]:
    """Collect each module's garbage here, on the main thread.

    routingkit-cch's query objects must be freed on the thread that made them; a Router
    caught in a reference cycle (a kept traceback, say) would otherwise be freed by
    whichever thread next runs the cyclic GC, such as a storage worker thread.
    """
    yield
    gc.collect()


@pytest.fixture(scope="session")
def bundled_osm() -> Path:
    assert HELSINKI_OSM_PATH.is_file(), "the tests' extract data/osm/helsinki.osm.pbf is missing"
    return HELSINKI_OSM_PATH


@pytest.fixture(scope="session")
def graph_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("graph-cache")


@pytest.fixture(scope="session")
def helsinki_graph(bundled_osm: Path, graph_cache_dir: Path) -> RoadGraph:
    return load_road_graph(bundled_osm, graph_cache_dir).graph


@pytest.fixture(scope="session")
def helsinki_router(helsinki_graph: RoadGraph) -> Router:
    return Router(helsinki_graph)


async def migrate(database_url: str) -> None:
    """`tot db upgrade` on a test database, from a worker thread (alembic runs its own loop).

    Garbage is collected first, here: routingkit-cch's query objects must be freed on
    the thread that made them, and a Router caught in a reference cycle would otherwise
    be freed by whichever thread next runs the cyclic GC, such as this worker.
    """
    from services.database import upgrade

    gc.collect()
    await asyncio.to_thread(upgrade, database_url)


@contextlib.asynccontextmanager
async def scratch_postgis_database() -> AsyncIterator[str]:
    """A freshly created database with PostGIS; dropped on the way out."""
    import asyncpg

    name = f"tot_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(TEST_DATABASE_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = TEST_DATABASE_URL.rpartition("/")
        url = f"{base}/{name}"
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        finally:
            await conn.close()
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def postgis_url() -> AsyncIterator[str]:
    """A freshly created database with PostGIS, dropped afterwards."""
    async with scratch_postgis_database() as url:
        yield url


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; the keys under it are deleted afterwards."""
    import redis

    prefix = f"tot-test:{uuid.uuid4().hex[:12]}:"
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
