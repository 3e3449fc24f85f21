"""The real services the engine stands on answer: PostGIS and Redis."""

from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio as aioredis

from routing import haversine_m
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL


async def test_postgis_measures_distance_on_the_sphere(postgis_url: str) -> None:
    conn = await asyncpg.connect(postgis_url)
    try:
        # Helsinki Central Railway Station to the Old Market Hall, along the geodesic.
        distance_m = await conn.fetchval(
            "SELECT ST_Distance("
            "ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography,"
            "ST_SetSRID(ST_MakePoint($4, $3), 4326)::geography)",
            60.1710,
            24.9414,
            60.1673,
            24.9534,
        )
        version = await conn.fetchval("SELECT postgis_lib_version()")
    finally:
        await conn.close()
    assert version
    # PostGIS's spheroid distance agrees with our spherical haversine to within 0.5 %.
    expected_m = float(haversine_m(60.1710, 24.9414, 60.1673, 24.9534))
    assert distance_m == pytest.approx(expected_m, rel=5e-3)
    assert 770 < distance_m < 800


async def test_each_test_database_is_its_own(postgis_url: str) -> None:
    admin = await asyncpg.connect(TEST_DATABASE_URL)
    try:
        names = {r["datname"] for r in await admin.fetch("SELECT datname FROM pg_database")}
    finally:
        await admin.close()
    assert postgis_url.rsplit("/", 1)[1] in names


async def test_redis_round_trip_under_own_prefix(redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(TEST_REDIS_URL)
    try:
        await client.set(f"{redis_prefix}greeting", "tot", ex=60)
        assert await client.get(f"{redis_prefix}greeting") == b"tot"
        pubsub = client.pubsub()
        await pubsub.subscribe(f"{redis_prefix}channel")
        await pubsub.get_message(timeout=1.0)  # the subscribe confirmation
        assert await client.publish(f"{redis_prefix}channel", "hello") == 1
        message = None
        for _ in range(20):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message:
                break
        await pubsub.aclose()
    finally:
        await client.aclose()
    assert message is not None
    assert message["data"] == b"hello"


@pytest.mark.parametrize("key", ["a", "b"])
def test_redis_prefix_cleanup_leaves_others_alone(redis_prefix: str, key: str) -> None:
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        client.set(f"{redis_prefix}{key}", 1, ex=60)
        assert client.exists(f"{redis_prefix}{key}") == 1
    finally:
        client.close()
