"""Faults under load, on real processes: Redis stopped and restarted empty, PostgreSQL
restarted, the engine killed. Redis and PostgreSQL here are the test's own (tests.fault_kit),
so stopping them disturbs nothing else. Each test prints its counts (pytest -s shows them).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api_harness import HOME, NEARBY
from tests.conftest import migrate, scratch_postgis_database
from tests.fault_kit import (
    DoctorBot,
    Listener,
    OwnPostgres,
    OwnRedis,
    Server,
    api_client,
    bearer,
    engine_env,
    login,
    many_files,
    mint_token,
    on_shift_doctor,
    patient,
    start_engine,
    start_gateway,
    wait_healthy,
    ws_url,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgis]

HELSINKI = Path(__file__).resolve().parent.parent / "data" / "osm" / "helsinki.osm.pbf"


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    redis = OwnRedis()
    redis.start()
    try:
        yield redis
    finally:
        redis.close()


@contextlib.asynccontextmanager
async def servers(
    tmp_path: Path, graph_cache_dir: Path, database_url: str | None, redis_url: str | None,
    *, extra_gateway: bool = False, **more: str,
) -> AsyncIterator[tuple[Server, Server | None, dict[str, str]]]:  # fmt: skip
    extra = {"TOT_OSM_PATH": str(HELSINKI), **more}
    if database_url:
        extra["DATABASE_URL"] = database_url
    if redis_url:
        extra["REDIS_URL"] = redis_url
    env = engine_env(tmp_path, graph_cache_dir, **extra)
    engine = start_engine(env, tmp_path / "engine.log")
    gateway = None
    try:
        await wait_healthy(engine)
        if extra_gateway:
            gateway = start_gateway(env, tmp_path / "gateway.log")
        yield engine, gateway, env
    finally:
        if gateway is not None:
            gateway.stop()
        engine.stop()


async def book_and_cancel(
    client: httpx.AsyncClient, token: str, stop: asyncio.Event, results: dict[str, Any]
) -> None:
    """A patient who books every half second and cancels a second later (light load)."""
    while not stop.is_set():
        r = await client.post(
            "/api/v1/bookings",
            json={"latitude": HOME[0], "longitude": HOME[1], "address": "Mannerheimintie 1"},
            headers=bearer(token),
        )
        results.setdefault("create", []).append(r.status_code)
        if r.status_code == 201:
            booking_id = r.json()["id"]
            await asyncio.sleep(1.0)
            r = await client.post(
                f"/api/v1/bookings/{booking_id}/cancel",
                json={"reason": "load test"},
                headers=bearer(token),
            )
            results.setdefault("cancel", []).append(r.status_code)
        await asyncio.sleep(0.5)


def at_or_after(received: list[tuple[float, dict[str, Any]]], kind: str, t: float) -> list[float]:
    return [at for at, m in received if m.get("type") == kind and at >= t]


async def test_a_redis_outage_starves_nobody(
    tmp_path: Path, graph_cache_dir: Path, own_redis: OwnRedis
) -> None:
    """Redis is killed under light load for 12 s and comes back empty. Doctors on the
    engine's own gateway keep getting offers throughout; every client, those of an extra
    gateway included, is served again within 10 s of its return; nobody misses an event."""
    async with scratch_postgis_database() as url:
        await migrate(url)
        async with servers(tmp_path, graph_cache_dir, url, own_redis.url, extra_gateway=True) as (
            engine,
            gateway,
            _,
        ):
            assert gateway is not None
            async with api_client(engine) as client:
                admin = await login(
                    client, "admin@faults.example.org", "fault-tests-admin-password"
                )
                bots: list[DoctorBot] = []
                for i in range(10):
                    _, token = await on_shift_doctor(
                        client, admin, f"doc{i}-{uuid.uuid4().hex[:6]}@faults.example.org",
                        NEARBY[0] + i * 1e-4, NEARBY[1],
                    )  # fmt: skip
                    port = engine.ws_port if i < 6 else gateway.ws_port  # 6 local, 4 remote
                    bot = DoctorBot(ws_url(port, "/ws/doctor", token), NEARBY[0], NEARBY[1])
                    bot.remote = i >= 6  # type: ignore[attr-defined]
                    await bot.start()
                    bots.append(bot)
                patient_token = await patient(
                    client, f"pat-{uuid.uuid4().hex[:6]}@faults.example.org"
                )
                stop = asyncio.Event()
                results: dict[str, Any] = {}
                load = asyncio.create_task(book_and_cancel(client, patient_token, stop, results))
                await asyncio.sleep(5)
                down_at = time.monotonic()
                own_redis.stop()
                await asyncio.sleep(12)
                own_redis.start()  # empty: no counters, no streams
                back_at = time.monotonic()
                # Every doctor asks the engine something each half second: from an extra
                # gateway the question and the answer both cross Redis.
                asked = asyncio.create_task(ask_availability(bots, stop))
                await asyncio.sleep(15)
                stop.set()
                await load
                await asked
                for bot in bots:
                    await bot.close()
            engine_log = engine.log()
        local = [b for b in bots if not b.remote]  # type: ignore[attr-defined]
        remote = [b for b in bots if b.remote]  # type: ignore[attr-defined]
        offers_during = sum(1 for b in local for at, _ in b.offers_seen if down_at <= at < back_at)
        offers_after = sum(1 for b in bots for at, _ in b.offers_seen if at >= back_at)
        resumed_s = []
        for bot in bots:
            replies = at_or_after(bot.got.messages, "availability", back_at)
            assert replies, (
                f"no answer after Redis returned ({'remote' if bot in remote else 'local'})"
            )
            resumed_s.append(replies[0] - back_at)
        lost = sum(b.got.gaps() for b in bots)
        closed = [b.got.closed_code for b in bots if b.got.closed_code not in (None, 1000)]
        print(
            f"\nredis outage: offers to local doctors during it {offers_during}; offers after "
            f"{offers_after}; delivery resumed within {max(resumed_s):.1f} s (worst client); "
            f"events lost {lost}; bookings made {len(results['create'])}"
        )
        assert offers_during > 0, "the engine's own gateway went quiet during the outage"
        assert offers_after > 0
        assert max(resumed_s) <= 10.0, resumed_s
        assert lost == 0
        assert closed == []
        assert set(results["create"]) <= {201}, results["create"]
        assert engine_log.count("redis unreachable") <= 2, "one line per outage, not thousands"
        assert "could not publish" not in engine_log


async def ask_availability(bots: list[DoctorBot], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for bot in bots:
            with contextlib.suppress(Exception):
                await bot.send({"type": "availability", "available": True})
        await asyncio.sleep(0.5)


async def connect_in_waves(urls: list[str], wave: int) -> list[Listener]:
    sockets: list[Listener] = []
    for start in range(0, len(urls), wave):
        batch = [Listener(u) for u in urls[start : start + wave]]
        await asyncio.gather(*(s.start() for s in batch))
        sockets.extend(batch)
    return sockets


async def test_five_thousand_doctors_connect_two_hundred_at_a_time(
    tmp_path: Path, graph_cache_dir: Path, own_redis: OwnRedis
) -> None:
    """Handshakes share the Redis pool: 5,000 doctors on an extra gateway (whose handshake
    reads the topic's head and replay from Redis) and 1,000 on the engine's, 200 at a time:
    every one opens and stays open, with its hello and its snapshot. Then Redis blinks and
    the next 200 still connect."""
    with many_files():
        async with scratch_postgis_database() as url:
            await migrate(url)
            async with servers(
                tmp_path, graph_cache_dir, url, own_redis.url, extra_gateway=True,
                # These doctors only listen; on a loaded machine the run can outlast the
                # 90 s after which a silent doctor is closed (4408) and goes offline.
                TOT_DOCTOR_SILENCE_S="900",
            ) as (engine, gateway, _):  # fmt: skip
                assert gateway is not None
                remote = [
                    ws_url(gateway.ws_port, "/ws/doctor", mint_token(f"rdoc-{i}", "doctor"))
                    for i in range(5_000)
                ]
                local = [
                    ws_url(engine.ws_port, "/ws/doctor", mint_token(f"ldoc-{i}", "doctor"))
                    for i in range(1_000)
                ]
                started = time.monotonic()
                sockets = await connect_in_waves(remote, 200)
                sockets += await connect_in_waves(local, 200)
                took_s = time.monotonic() - started
                await asyncio.sleep(3)  # the snapshots of remote doctors come through Redis
                for _ in range(100):
                    if all(s.got.of("snapshot") for s in sockets):
                        break
                    await asyncio.sleep(0.2)
                closed = [s.got.closed_code for s in sockets if s.got.closed_code is not None]
                no_hello = sum(1 for s in sockets if not s.got.of("hello"))
                no_snapshot = sum(1 for s in sockets if not s.got.of("snapshot"))
                # Redis blinks: broken pooled connections are dropped and remade.
                own_redis.stop()
                await asyncio.sleep(1)
                own_redis.start()
                after = [
                    ws_url(gateway.ws_port, "/ws/doctor", mint_token(f"adoc-{i}", "doctor"))
                    for i in range(200)
                ]
                late = await connect_in_waves(after, 200)
                await asyncio.sleep(1)
                late_closed = [s.got.closed_code for s in late if s.got.closed_code is not None]
                late_hello = sum(1 for s in late if s.got.of("hello"))
                await asyncio.gather(*(s.close() for s in sockets + late))
        print(
            f"\n6,000 doctors in waves of 200: {took_s:.1f} s; closes {len(closed)}; "
            f"without hello {no_hello}; without snapshot {no_snapshot}; after a Redis blink: "
            f"{late_hello}/200 connected, closes {len(late_closed)}"
        )
        assert closed == [] and no_hello == 0 and no_snapshot == 0
        assert late_closed == [] and late_hello == 200


@pytest.mark.parametrize("store", ["sqlite", "postgis"])
async def test_a_killed_engine_keeps_shifts_and_sends_state_on_reconnect(
    tmp_path: Path, graph_cache_dir: Path, store: str
) -> None:
    """SIGKILL mid-shift, restart on the same store: a reconnecting doctor gets hello and
    the snapshot (their shift, their visit), their fixes are taken without `shift start`,
    and a waiting booking is offered to them again within seconds."""
    async with contextlib.AsyncExitStack() as stack:
        url = None
        if store == "postgis":
            url = await stack.enter_async_context(scratch_postgis_database())
            await migrate(url)
        extra = {"TOT_OSM_PATH": str(HELSINKI), **({"DATABASE_URL": url} if url else {})}
        env = engine_env(tmp_path, graph_cache_dir, **extra)
        engine = start_engine(env, tmp_path / "engine-1.log")
        try:
            await wait_healthy(engine)
            async with api_client(engine) as client:
                admin = await login(
                    client, "admin@faults.example.org", "fault-tests-admin-password"
                )
                busy_id, busy_token = await on_shift_doctor(
                    client, admin, "busy@faults.example.org", NEARBY[0], NEARBY[1]
                )
                busy = DoctorBot(ws_url(engine.ws_port, "/ws/doctor", busy_token), *NEARBY)
                await busy.start()
                pat = await patient(client, "pat@faults.example.org")
                first = (
                    await client.post(
                        "/api/v1/bookings",
                        json={"latitude": HOME[0], "longitude": HOME[1]},
                        headers=bearer(pat),
                    )
                ).json()
                for _ in range(100):  # the bot accepts the offer
                    if busy.got.of("accepted"):
                        break
                    await asyncio.sleep(0.05)
                await busy.send(
                    {"type": "progress", "booking_id": first["id"], "status": "en_route"}
                )
                idle_id, idle_token = await on_shift_doctor(
                    client, admin, "idle@faults.example.org", NEARBY[0] + 0.001, NEARBY[1]
                )
                second = (
                    await client.post(
                        "/api/v1/bookings",
                        json={"latitude": HOME[0], "longitude": HOME[1]},
                        headers=bearer(pat),
                    )
                ).json()
                assert second["status"] == "offered"  # to the idle doctor, who never answers
                await asyncio.sleep(0.5)
            await busy.close()
        finally:
            engine.kill()  # SIGKILL: no goodbye, nothing flushed
        engine = start_engine(env, tmp_path / "engine-2.log")
        try:
            await wait_healthy(engine)
            async with api_client(engine) as client:
                pat = await login(client, "pat@faults.example.org", "patient-password-123")
                watcher = Listener(ws_url(engine.ws_port, f"/ws/patient/{first['id']}", pat))
                await watcher.start()
                busy = DoctorBot(ws_url(engine.ws_port, "/ws/doctor", busy_token), *NEARBY)
                busy.accept = False
                await busy.start()
                idle = DoctorBot(ws_url(engine.ws_port, "/ws/doctor", idle_token), *NEARBY)
                idle.accept = False
                await idle.start()
                for _ in range(200):
                    if idle.offers_seen and watcher.got.of("position"):
                        break
                    await asyncio.sleep(0.05)
                for bot in (busy, idle, watcher):
                    await bot.close()
        finally:
            engine.stop()
    hello = busy.got.of("hello")
    snapshot = busy.got.of("snapshot")
    assert hello and snapshot, busy.got.messages
    assert snapshot[0]["shift"] == "available"
    assert snapshot[0]["booking_id"] == first["id"] and snapshot[0]["status"] == "en_route"
    refused = [m for m in busy.got.of("error") if "shift" in m.get("detail", "")]
    assert refused == [], refused  # fixes taken: no "start a shift first"
    assert watcher.got.of("position"), "the patient sees their doctor again"
    assert idle.got.of("snapshot")[0]["shift"] == "available"
    assert idle.offers_seen, "the waiting booking is offered again without `shift start`"
    assert all(o.startswith(second["id"] + ".") for _, o in idle.offers_seen)
    assert busy_id != idle_id


async def get(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """GET, again when a kept-alive connection was closed under us (the server's
    keep-alive timeout racing the reuse: a client's matter, not the server's)."""
    for _ in range(5):
        try:
            return await client.get(url, **kwargs)
        except httpx.TransportError:
            await asyncio.sleep(0.2)
    return await client.get(url, **kwargs)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    pg = OwnPostgres()
    try:
        pg.start()
        pg.create_database()
        yield pg
    finally:
        pg.close()


class Patient:
    """Books with an Idempotency-Key, reads it back, cancels; on 503 waits Retry-After
    and sends the very same request again. Records every answer."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.token = token
        self.answers: list[tuple[str, int, bool]] = []  # (what, status, had Retry-After)
        self.outcomes: dict[str, tuple[str, int, list[int]]] = {}  # booking -> last action
        self.create_tries: list[int] = []

    async def _send(self, what: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        statuses = []
        deadline = time.monotonic() + 60
        while True:
            try:
                r = await self.client.request(method, url, headers=bearer(self.token), **kwargs)
            except httpx.TransportError:
                await asyncio.sleep(0.2)
                continue
            self.answers.append((what, r.status_code, "retry-after" in r.headers))
            statuses.append(r.status_code)
            if r.status_code != 503 or time.monotonic() > deadline:
                r.extensions["tries"] = statuses
                return r
            await asyncio.sleep(min(2.0, float(r.headers.get("retry-after", "1"))))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            key = uuid.uuid4().hex
            body = {"latitude": HOME[0], "longitude": HOME[1], "address": "Mannerheimintie 1"}
            r = await self._create(body, key)
            if r.status_code != 201:
                continue
            booking_id = r.json()["id"]
            r = await self._send("read", "GET", f"/api/v1/bookings/{booking_id}")
            r = await self._send(
                "cancel", "POST", f"/api/v1/bookings/{booking_id}/cancel",
                json={"reason": "restart test"},
            )  # fmt: skip
            self.outcomes[booking_id] = ("cancel", r.status_code, r.extensions["tries"])
            await asyncio.sleep(0.1)

    async def _create(self, body: dict[str, Any], key: str) -> httpx.Response:
        statuses = []
        while True:
            try:
                r = await self.client.post(
                    "/api/v1/bookings",
                    json=body,
                    headers={**bearer(self.token), "Idempotency-Key": key},
                )
            except httpx.TransportError:
                await asyncio.sleep(0.2)
                continue
            self.answers.append(("create", r.status_code, "retry-after" in r.headers))
            statuses.append(r.status_code)
            if r.status_code != 503:
                r.extensions["tries"] = statuses
                self.create_tries.append(len(statuses))
                return r
            await asyncio.sleep(min(2.0, float(r.headers.get("retry-after", "1"))))


async def test_a_postgresql_restart_under_load(
    tmp_path: Path, graph_cache_dir: Path, own_postgres: OwnPostgres
) -> None:
    """A fast restart of PostgreSQL, then 3 s with it stopped, under light load: no 500s;
    503s carry Retry-After; a retried request answers as the first would have; every
    acknowledged booking is stored as acknowledged; readiness is false while it is away."""
    from tests.conftest import migrate as upgrade

    await upgrade(own_postgres.url)
    async with servers(tmp_path, graph_cache_dir, own_postgres.url, None) as (engine, _, _):
        async with api_client(engine) as client:
            admin = await login(client, "admin@faults.example.org", "fault-tests-admin-password")
            for i in range(3):
                await on_shift_doctor(
                    client, admin, f"doc{i}@faults.example.org", NEARBY[0] + i * 1e-4, NEARBY[1]
                )
            patients = [
                Patient(client, await patient(client, f"pat{i}@faults.example.org"))
                for i in range(4)
            ]
            stop = asyncio.Event()
            load = [asyncio.create_task(p.run(stop)) for p in patients]
            await asyncio.sleep(3)
            restart_started = time.monotonic()
            await asyncio.to_thread(own_postgres.restart, "fast")
            restart_s = time.monotonic() - restart_started
            await asyncio.sleep(3)
            # Stopped for 3 s: readiness says so while it lasts.
            ready: list[int] = []
            await asyncio.to_thread(own_postgres.stop, "fast")
            stopped_until = time.monotonic() + 3
            while time.monotonic() < stopped_until:
                ready.append((await get(client, "/api/v1/ready")).status_code)
                await asyncio.sleep(0.25)
            await asyncio.to_thread(own_postgres.start)
            ready_again = 0
            for _ in range(60):
                if (await get(client, "/api/v1/ready")).status_code == 200:
                    ready_again += 1
                    break
                await asyncio.sleep(0.25)
            await asyncio.sleep(3)
            stop.set()
            await asyncio.gather(*load)
            # What was acknowledged is stored as acknowledged.
            for p in patients:
                for booking_id, (_, status, _) in p.outcomes.items():
                    assert status == 200, (booking_id, status)
                    r = await get(client, f"/api/v1/bookings/{booking_id}", headers=bearer(p.token))
                    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        engine_log = engine.log()
    import asyncpg

    conn = await asyncpg.connect(own_postgres.url)
    try:
        stored = {r["id"] for r in await conn.fetch("SELECT id FROM booking.bookings")}
    finally:
        await conn.close()
    acknowledged = {b for p in patients for b in p.outcomes}
    assert stored == acknowledged, "a retried create made a second booking, or one was lost"
    answers = [a for p in patients for a in p.answers]
    statuses = [s for _, s, _ in answers]
    unavailable = [a for a in answers if a[1] == 503]
    retried_creates = sum(1 for p in patients for n in p.create_tries if n > 1)
    retried_cancels = sum(
        1 for p in patients for (_, status, tries) in p.outcomes.values() if len(tries) > 1
    )
    print(
        f"\npostgresql restart ({restart_s:.1f} s) and 3 s stopped: {len(answers)} answers, "
        f"503s {len(unavailable)} (all with Retry-After: {all(a[2] for a in unavailable)}), "
        f"500s {statuses.count(500)}, creates retried to 201 {retried_creates}, cancels retried "
        f"to 200 {retried_cancels}, "
        f"readiness while stopped {sorted(set(ready))}"
    )
    assert 500 not in statuses, [a for a in answers if a[1] >= 500]
    assert all(a[2] for a in unavailable)
    assert set(statuses) <= {200, 201, 503}, sorted(set(statuses))
    assert 503 in ready and ready_again == 1
    assert "Traceback" not in engine_log or "unhandled error" not in engine_log
