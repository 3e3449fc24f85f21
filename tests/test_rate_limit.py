"""Rate limiting: one behaviour suite over the local and the Redis limiter, Redis sharing and
fallback, and a property against the reference model (a list of accepted timestamps)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import hypothesis.strategies as st
import pytest
import redis.asyncio as aioredis
from hypothesis import given, settings

from storage.rate_limit import (
    MIN_RETRY_AFTER_S,
    LocalRateLimiter,
    RateDecision,
    RateLimit,
    RateLimiter,
    RedisRateLimiter,
    rate_limit_redis_client,
)
from tests.conftest import TEST_REDIS_URL

T0 = 1_700_000_000.0  # explicit times: epoch-like, as a caller mixing processes would pass


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = rate_limit_redis_client(TEST_REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "local":
        yield LocalRateLimiter()
        return
    prefix: str = request.getfixturevalue("redis_prefix")
    client = rate_limit_redis_client(TEST_REDIS_URL)
    try:
        yield RedisRateLimiter(client, prefix)
    finally:
        await client.aclose()


# ---- the behaviour suite, over both limiters ------------------------------------------------


async def test_limit_then_refused_then_allowed_after_the_window(limiter: RateLimiter) -> None:
    rule = RateLimit(3, 10.0)
    got = [await limiter.hit("login:alice", rule, T0) for _ in range(3)]
    assert got == [
        RateDecision(True, 2, 0.0),
        RateDecision(True, 1, 0.0),
        RateDecision(True, 0, 0.0),
    ]

    refused = await limiter.hit("login:alice", rule, T0 + 1.0)
    assert not refused.allowed and refused.remaining == 0
    assert 0 < refused.retry_after_s <= rule.window_s
    assert refused.retry_after_s == pytest.approx(9.0)

    assert not (await limiter.hit("login:alice", rule, T0 + 9.5)).allowed
    again = await limiter.hit("login:alice", rule, T0 + 1.0 + refused.retry_after_s)
    assert again.allowed and again.retry_after_s == 0.0


async def test_the_window_slides_hit_by_hit(limiter: RateLimiter) -> None:
    rule = RateLimit(3, 10.0)
    for dt in (0.0, 4.0, 8.0):
        assert (await limiter.hit("k", rule, T0 + dt)).allowed
    # At T0+10 the hit at T0 has left (T0, T0+10]; the ones at 4 and 8 have not.
    assert await limiter.hit("k", rule, T0 + 10.0) == RateDecision(True, 0, 0.0)
    refused = await limiter.hit("k", rule, T0 + 11.0)
    assert not refused.allowed and refused.retry_after_s == pytest.approx(3.0)  # 4 + 10 - 11
    assert await limiter.hit("k", rule, T0 + 14.0) == RateDecision(True, 0, 0.0)
    # Long after, the whole budget is back.
    assert await limiter.hit("k", rule, T0 + 100.0) == RateDecision(True, 2, 0.0)


async def test_refused_hits_do_not_push_the_reset_away(limiter: RateLimiter) -> None:
    rule = RateLimit(1, 5.0)
    assert (await limiter.hit("k", rule, T0)).allowed
    for dt in (1.0, 2.0, 3.0, 4.0, 4.9):
        assert not (await limiter.hit("k", rule, T0 + dt)).allowed
    assert (await limiter.hit("k", rule, T0 + 5.0)).allowed


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    rule = RateLimit(1, 60.0)
    assert (await limiter.hit("ip:10.0.0.1", rule, T0)).allowed
    assert not (await limiter.hit("ip:10.0.0.1", rule, T0)).allowed
    assert (await limiter.hit("ip:10.0.0.2", rule, T0)).allowed
    assert (await limiter.hit("account:alice", rule, T0)).allowed


async def test_time_never_runs_backwards_per_key(limiter: RateLimiter) -> None:
    rule = RateLimit(1, 10.0)
    assert (await limiter.hit("k", rule, T0 + 100.0)).allowed
    # An earlier clock reading counts as T0+100: still inside that hit's window.
    refused = await limiter.hit("k", rule, T0 + 50.0)
    assert not refused.allowed and refused.retry_after_s == pytest.approx(10.0)


async def test_the_limiter_own_clock_when_no_time_is_given(limiter: RateLimiter) -> None:
    rule = RateLimit(1, 60.0)
    assert (await limiter.hit("k", rule)).allowed
    refused = await limiter.hit("k", rule)
    assert not refused.allowed and 0 < refused.retry_after_s <= 60.0


def test_rate_limit_is_validated() -> None:
    for bad in ((0, 1.0), (-1, 1.0), (1, 0.0), (1, -1.0), (1, float("inf")), (1, float("nan"))):
        with pytest.raises(ValueError, match="must be"):
            RateLimit(*bad)
    with pytest.raises(ValueError, match="integer"):
        RateLimit(1.5, 1.0)  # type: ignore[arg-type]
    assert RateLimit(5, 60) == RateLimit(5, 60)


# ---- the local limiter: the reference model, the bound ---------------------------------------


def reference(hits: list[tuple[str, float]], limit: RateLimit) -> list[tuple[bool, int, float]]:
    """A hit at t is allowed iff fewer than `limit` accepted hits lie in (t - window, t]."""
    accepted: dict[str, list[float]] = {}
    out = []
    for key, t in hits:
        mine = accepted.setdefault(key, [])
        in_window = [a for a in mine if t - limit.window_s < a <= t]
        if len(in_window) < limit.limit:
            mine.append(t)
            out.append((True, limit.limit - len(in_window) - 1, 0.0))
        else:
            blocker = in_window[len(in_window) - limit.limit]
            retry = min(max(blocker + limit.window_s - t, MIN_RETRY_AFTER_S), limit.window_s)
            out.append((False, 0, retry))
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[RateLimit, list[tuple[str, float]]]:
    limit = RateLimit(
        draw(st.integers(1, 5)),
        draw(st.sampled_from([0.5, 1.0, 3.0, 10.0]) | st.floats(0.01, 100.0)),
    )
    w = limit.window_s
    steps = st.sampled_from([0.0, w, w / 2, w / 3]) | st.floats(0.0, 2 * w)
    t = draw(st.floats(0.0, 1e6))
    hits = []
    for _ in range(draw(st.integers(0, 60))):
        t += draw(steps)
        hits.append((draw(st.sampled_from("abc")), t))
    return limit, hits


async def play(
    limiter: RateLimiter, limit: RateLimit, hits: list[tuple[str, float]]
) -> list[tuple[bool, int, float]]:
    out = []
    for key, t in hits:
        d = await limiter.hit(key, limit, t)
        out.append((d.allowed, d.remaining, d.retry_after_s))
    return out


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_local_limiter_is_the_reference_model(
    scenario: tuple[RateLimit, list[tuple[str, float]]],
) -> None:
    limit, hits = scenario
    got = asyncio.run(play(LocalRateLimiter(), limit, hits))
    assert got == reference(hits, limit)
    for allowed, remaining, retry in got:
        assert (retry == 0.0) if allowed else (0 < retry <= limit.window_s and remaining == 0)


async def test_local_limiter_keeps_at_most_max_keys_evicting_least_recently_used() -> None:
    limiter = LocalRateLimiter(max_keys=3)
    rule = RateLimit(1, 60.0)
    for key in "abc":
        assert (await limiter.hit(key, rule, T0)).allowed
    assert not (await limiter.hit("a", rule, T0)).allowed  # touches a: b is now the oldest
    assert (await limiter.hit("d", rule, T0)).allowed  # evicts b
    assert len(limiter) == 3
    assert not (await limiter.hit("a", rule, T0)).allowed  # kept
    assert not (await limiter.hit("c", rule, T0)).allowed  # kept
    assert (await limiter.hit("b", rule, T0)).allowed  # forgotten, so allowed again
    for i in range(1000):
        await limiter.hit(f"ip:{i}", rule, T0)
    assert len(limiter) == 3


async def test_local_limiter_uses_its_clock() -> None:
    now = [100.0]
    limiter = LocalRateLimiter(clock=lambda: now[0])
    rule = RateLimit(2, 10.0)
    assert (await limiter.hit("k", rule)).allowed
    now[0] = 105.0
    assert (await limiter.hit("k", rule)).allowed
    assert await limiter.hit("k", rule) == RateDecision(False, 0, 5.0)
    now[0] = 110.0
    assert await limiter.hit("k", rule) == RateDecision(True, 0, 0.0)


# ---- Redis: shared between processes, same rule as local, falls back and recovers -----------


@pytest.mark.redis
async def test_two_processes_share_one_count(redis_prefix: str) -> None:
    rule = RateLimit(3, 10.0)
    a_client, b_client = (
        rate_limit_redis_client(TEST_REDIS_URL),
        rate_limit_redis_client(TEST_REDIS_URL),
    )
    try:
        a, b = RedisRateLimiter(a_client, redis_prefix), RedisRateLimiter(b_client, redis_prefix)
        assert (await a.hit("book:alice", rule)).allowed
        assert (await b.hit("book:alice", rule)).allowed
        assert (await a.hit("book:alice", rule)).remaining == 0
        assert not (await b.hit("book:alice", rule)).allowed
        assert not (await a.hit("book:alice", rule)).allowed
        assert (await b.hit("book:bob", rule)).allowed
    finally:
        await a_client.aclose()
        await b_client.aclose()


@pytest.mark.redis
async def test_redis_keys_carry_the_prefix_and_expire(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    limiter = RedisRateLimiter(redis_client, redis_prefix)
    rule = RateLimit(5, 2.5)
    for _ in range(7):
        await limiter.hit("login:alice", rule)
    assert [k async for k in redis_client.scan_iter(match=f"{redis_prefix}*")] == [
        f"{redis_prefix}login:alice".encode()
    ]
    assert await redis_client.llen(f"{redis_prefix}login:alice") == 5  # bounded by the limit
    assert 0 < await redis_client.pttl(f"{redis_prefix}login:alice") <= 2500


@pytest.mark.redis
async def test_redis_limiter_decides_exactly_as_the_local_one(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    rng = random.Random(20240611)
    for n, (limit, window) in enumerate([(1, 1.0), (3, 10.0), (4, 0.7), (5, 3.3)]):
        rule = RateLimit(limit, window)
        t, hits = T0 + rng.random(), []
        for _ in range(80):
            t += rng.choice([0.0, window, window / 3, rng.uniform(0, window)])
            hits.append((f"{n}:{rng.choice('xyz')}", t))
        on_redis = await play(RedisRateLimiter(redis_client, redis_prefix), rule, hits)
        assert on_redis == await play(LocalRateLimiter(), rule, hits) == reference(hits, rule)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.redis
async def test_falls_back_to_the_process_when_redis_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = rate_limit_redis_client(f"redis://127.0.0.1:{free_port()}/0")
    fallback = LocalRateLimiter()
    limiter = RedisRateLimiter(client, "tot-test:unreachable:", fallback=fallback)
    rule = RateLimit(2, 10.0)
    try:
        with caplog.at_level(logging.WARNING, logger="storage.rate_limit"):
            got = [await limiter.hit("login:alice", rule, T0) for _ in range(3)]
            assert (await limiter.hit("login:bob", rule)).allowed
    finally:
        await client.aclose()
    assert [d.allowed for d in got] == [True, True, False]
    assert 0 < got[2].retry_after_s <= 10.0
    assert len(fallback) == 2  # the fallback decided
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Redis unavailable" in warnings[0].getMessage()


@contextlib.asynccontextmanager
async def tcp_proxy(port: int, target_host: str, target_port: int) -> AsyncIterator[None]:
    """Listen on `port` and pass every connection through to the target: Redis "comes back"."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
        await asyncio.gather(
            pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True
        )

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.redis
async def test_goes_back_to_redis_when_it_answers_again(
    redis_client: aioredis.Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    target = urlsplit(TEST_REDIS_URL)
    flaky = rate_limit_redis_client(f"redis://127.0.0.1:{port}{target.path}")
    fallback = LocalRateLimiter()
    limiter = RedisRateLimiter(flaky, redis_prefix, fallback=fallback)
    rule = RateLimit(2, 10.0)
    key = f"{redis_prefix}book:alice"
    try:
        with caplog.at_level(logging.INFO, logger="storage.rate_limit"):
            assert (await limiter.hit("book:alice", rule)).allowed  # Redis down: local
            assert len(fallback) == 1 and await redis_client.exists(key) == 0
            async with tcp_proxy(port, target.hostname or "127.0.0.1", target.port or 6379):
                assert await limiter.hit("book:alice", rule) == RateDecision(True, 1, 0.0)
                assert await redis_client.llen(key) == 1  # Redis decided, and holds the hit
                other = RedisRateLimiter(redis_client, redis_prefix)
                assert (await other.hit("book:alice", rule)).allowed  # shared again
                assert not (await limiter.hit("book:alice", rule)).allowed
                await flaky.aclose()  # its connection through the proxy, before the proxy goes
    finally:
        await flaky.aclose()
    messages = [r.getMessage() for r in caplog.records]
    assert any("Redis unavailable" in m for m in messages)
    assert any("Redis answers again" in m for m in messages)
