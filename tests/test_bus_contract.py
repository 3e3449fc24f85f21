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
        from storage.redis_bus import RedisBus

        b = RedisBus(TEST_REDIS_URL, redis_prefix, engine=True, window=10)
    await b.start()
    try:
        yield b
    finally:
        await b.close()


async def test_sequence_numbers_replay_and_resync(bus: Bus) -> None:
    heard: list[tuple[str, dict[str, Any]]] = []
    bus.on_event(lambda topic, m: heard.append((topic, m)))
    head = await bus.head("booking:b1")
    epoch = head.epoch
    assert head.seq == 0 and epoch
    assert await bus.replay("booking:b1", epoch, 0) == []
    for i in range(1, 6):
        assert await bus.append("booking:b1", {"type": "notice", "n": i}) == i
    assert await bus.append("booking:b2", {"type": "notice", "n": 1}) == 1  # topics count apart
    assert (await bus.head("booking:b1")).seq == 5
    assert [m["n"] for t, m in heard if t == "booking:b1"] == [1, 2, 3, 4, 5]
    assert {m["epoch"] for _, m in heard} == {epoch}
    replay = await bus.replay("booking:b1", epoch, 2)
    assert replay is not None and [m["seq"] for m in replay] == [3, 4, 5]
    assert await bus.replay("booking:b1", epoch, 5) == []
    assert await bus.replay("booking:b1", epoch, 9) is None  # ahead of the counter: resync
    assert await bus.replay("booking:b1", "0ther", 2) is None  # another engine start: resync
    for i in range(6, 30):
        await bus.append("booking:b1", {"type": "notice", "n": i})
    assert await bus.replay("booking:b1", epoch, 2) is None  # out of the window: resync
    recent = await bus.replay("booking:b1", epoch, 25)
    assert recent is not None and [m["n"] for m in recent] == [26, 27, 28, 29]


async def test_positions_reach_listeners(bus: Bus) -> None:
    got: list[tuple[str, dict[str, Any]]] = []
    bus.on_position(lambda booking, m: got.append((booking, m)))
    await bus.publish_position("b1", {"type": "position", "lat": 60.17, "lon": 24.94})
    await asyncio.sleep(0.05)
    assert got[0] == ("b1", {"type": "position", "lat": 60.17, "lon": 24.94})


@pytest.mark.redis
async def test_an_extra_gateway_reads_what_the_engine_numbered(redis_prefix: str) -> None:
    """The engine's numbering reaches the other processes through Redis: heads, replay
    and the live stream, in order."""
    from storage.redis_bus import RedisBus

    engine = RedisBus(TEST_REDIS_URL, redis_prefix, engine=True, window=10)
    gateway = RedisBus(TEST_REDIS_URL, redis_prefix, engine=False, window=10)
    await engine.start()
    await gateway.start()
    try:
        heard: list[dict[str, Any]] = []
        gateway.on_event(lambda topic, m: heard.append(m))
        await asyncio.sleep(0.2)  # the gateway's tail is reading
        for i in range(1, 8):
            await engine.append("doctor:d1", {"type": "notice", "n": i})
        for _ in range(100):
            if len(heard) == 7:
                break
            await asyncio.sleep(0.02)
        assert [m["n"] for m in heard] == list(range(1, 8))
        head = await gateway.head("doctor:d1")
        assert head.epoch == engine.epoch and head.seq == 7
        replay = await gateway.replay("doctor:d1", engine.epoch, 4)
        assert replay is not None and [m["n"] for m in replay] == [5, 6, 7]
        assert await gateway.replay("doctor:d1", "0ther", 4) is None
        with pytest.raises(RuntimeError):
            await gateway.append("doctor:d1", {"type": "notice"})  # only the engine numbers
    finally:
        await gateway.close()
        await engine.close()
