"""One contract for the realtime bus: in-process and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.bus import Bus, InProcessBus
from tests.conftest import TEST_REDIS_URL


@pytest.fixture(params=["in_process", pytest.param("redis", marks=pytest.mark.redis)])
async def bus(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Bus]:
    if request.param == "in_process":
        b: Bus = InProcessBus(window=10)
    else:
        import redis.asyncio as aioredis

        from storage.redis_bus import RedisBus

        b = RedisBus(aioredis.from_url(TEST_REDIS_URL), redis_prefix, engine=True, window=10)
    await b.start()
    try:
        yield b
    finally:
        await b.close()


async def test_sequence_numbers_replay_and_resync(bus: Bus) -> None:
    heard: list[tuple[str, dict[str, Any]]] = []
    bus.on_event(lambda topic, m: heard.append((topic, m)))
    assert await bus.last_seq("booking:b1") == 0
    assert await bus.replay("booking:b1", 0) == []
    for i in range(1, 6):
        assert await bus.append("booking:b1", {"type": "notice", "n": i}) == i
    assert await bus.append("booking:b2", {"type": "notice", "n": 1}) == 1  # topics count apart
    assert await bus.last_seq("booking:b1") == 5
    assert [m["n"] for t, m in heard if t == "booking:b1"] == [1, 2, 3, 4, 5]
    replay = await bus.replay("booking:b1", 2)
    assert replay is not None and [m["seq"] for m in replay] == [3, 4, 5]
    assert await bus.replay("booking:b1", 5) == []
    assert await bus.replay("booking:b1", 9) is None  # ahead of the counter: resync
    for i in range(6, 30):
        await bus.append("booking:b1", {"type": "notice", "n": i})
    assert await bus.replay("booking:b1", 2) is None  # fell out of the window: resync
    recent = await bus.replay("booking:b1", 25)
    assert recent is not None and [m["n"] for m in recent] == [26, 27, 28, 29]


async def test_positions_reach_listeners(bus: Bus) -> None:
    got: list[tuple[str, dict[str, Any]]] = []
    bus.on_position(lambda booking, m: got.append((booking, m)))
    await bus.publish_position("b1", {"type": "position", "lat": 60.17, "lon": 24.94})
    await asyncio.sleep(0.05)
    assert got[0] == ("b1", {"type": "position", "lat": 60.17, "lon": 24.94})
