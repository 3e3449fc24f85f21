"""Closing a socket releases everything the gateway and the bus held for it.

After hundreds of doctors, patients and operators connect, talk and leave, the gateway's
and the engine's per-connection tables are empty again, no connection or client object
survives a collection, and the Python memory allocated in the gateway and websockets code
is back where it was (tracemalloc). Per-topic replay windows stay by design: they belong
to topics (bookings, doctors), not to connections, and are bounded (services.bus)."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from pathlib import Path

from websockets.asyncio.server import ServerConnection

from realtime_gateway.server import Client, GatewayPolicy
from routing import Router
from services.realtime import LOCAL
from tests.api_harness import HOME, NEARBY
from tests.fault_kit import Listener
from tests.test_gateway import engine_with_gateway


def live_objects(kind: type) -> int:
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def gateway_usage(snapshot: tracemalloc.Snapshot) -> tuple[int, int]:
    """(bytes, blocks) allocated, and still held, from the gateway's and websockets' code."""
    keep = [
        tracemalloc.Filter(True, "*/realtime_gateway/*"),
        tracemalloc.Filter(True, "*/websockets/*"),
        tracemalloc.Filter(True, "*/services/realtime.py"),
        tracemalloc.Filter(True, "*/services/bus.py"),
    ]
    stats = snapshot.filter_traces(keep).statistics("filename")
    return sum(s.size for s in stats), sum(s.count for s in stats)


async def test_closing_sockets_releases_what_the_gateway_and_bus_held(
    helsinki_router: Router, tmp_path: Path
) -> None:
    policy = GatewayPolicy(doctor_silence_s=60, operator_feed_every_s=0.2)
    async with engine_with_gateway(helsinki_router, tmp_path, policy=policy) as (api, gateway):
        doctors = [await api.doctor(on_shift_at=NEARBY) for _ in range(3)]
        _, patient_token = await api.patient()
        bookings = [await api.book(patient_token) for _ in range(3)]
        _, operator_token = await api.staff("operator")

        def urls(n: int) -> list[str]:
            base = f"ws://127.0.0.1:{gateway.port}"
            out = []
            for i in range(n):
                kind = i % 3
                if kind == 0:
                    out.append(f"{base}/ws/doctor?token={doctors[i % 3][1]}")
                elif kind == 1:
                    out.append(f"{base}/ws/patient/{bookings[i % 3]['id']}?token={patient_token}")
                else:
                    out.append(f"{base}/ws/operator?token={operator_token}")
            return out

        async def round_trip(n: int) -> list[Listener]:
            sockets = [Listener(u) for u in urls(n)]
            await asyncio.gather(*(s.start() for s in sockets))
            for s in sockets:  # each says something the gateway answers
                if "/ws/operator" in s.url:
                    await s.send({"type": "viewport", "south": HOME[0] - 0.01,
                                  "west": HOME[1] - 0.01, "north": HOME[0] + 0.01,
                                  "east": HOME[1] + 0.01})  # fmt: skip
                else:
                    await s.send({"type": "ping", "ref": 1})
            await asyncio.sleep(0.5)
            return sockets

        async def close_all(sockets: list[Listener]) -> None:
            await asyncio.gather(*(s.close() for s in sockets))
            for _ in range(100):
                if not gateway.clients:
                    break
                await asyncio.sleep(0.05)

        # Warm up: first use fills caches (imports, interned strings, compiled regexes).
        await close_all(await round_trip(30))
        gc.collect()
        tracemalloc.start(1)
        try:
            before = gateway_usage(tracemalloc.take_snapshot())
            after: list[tuple[int, int]] = []
            for _ in range(2):  # the second round must leave exactly what the first did
                sockets = await round_trip(600)
                assert all(s.got.of("hello") for s in sockets)
                held = gateway_usage(tracemalloc.take_snapshot())[0] - before[0]
                assert len(gateway.clients) == 600
                await close_all(sockets)
                del sockets
                for _ in range(100):  # handlers finish their goodbyes (a doctor goes offline)
                    gc.collect()
                    if live_objects(Client) == 0:
                        break
                    await asyncio.sleep(0.05)
                snap = tracemalloc.take_snapshot()
                size, count = gateway_usage(snap)
                after.append((size - before[0], count - before[1]))
        finally:
            tracemalloc.stop()
        print(
            f"\n600 sockets: {held / 600 / 1024:.1f} KiB each in the gateway and websockets "
            f"while open; after they closed: {after[0][0] / 1024:.1f} KiB in "
            f"{after[0][1]} blocks (the first round), {after[1][0] / 1024:.1f} KiB in "
            f"{after[1][1]} blocks (the second)"
        )
        assert gateway.clients == set()
        assert gateway.topics == {}
        assert gateway.watchers == {}
        assert len(gateway._pending) == 0
        assert not gateway._closing_tasks
        assert api.runtime.realtime._sockets.get(LOCAL, {}) == {}
        assert live_objects(Client) == 0
        assert live_objects(ServerConnection) == 0
        assert held > 600 * 1024  # it did hold something per connection while open...
        # ...and once they closed, less than one block per connection is left: the hash
        # tables of the connection sets keep the size they grew to (3 x 32 KiB here), and
        # a second round of 600 leaves as many blocks as the first (give or take a few
        # interned strings and cache entries), not one more per connection.
        assert after[0][1] < 600, after
        assert abs(after[1][1] - after[0][1]) < 100, after  # 600 connections leaking 1 each: 600
