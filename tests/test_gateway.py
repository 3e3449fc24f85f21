"""The realtime gateway through real WebSocket clients, against the real engine."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from realtime_gateway.server import Gateway, GatewayPolicy
from routing import Router
from services.times import parse_rfc3339
from services.times import rfc3339 as iso
from tests.api_harness import HOME, NEARBY, Api, running_api

ORIGIN = "https://app.tot.example.org"


@contextlib.asynccontextmanager
async def engine_with_gateway(
    router: Router, tmp_path: Path, **overrides: Any
) -> AsyncIterator[tuple[Api, Gateway]]:
    policy = overrides.pop("policy", GatewayPolicy(origins=(ORIGIN,), doctor_silence_s=60))
    async with running_api(router, tmp_path, **overrides) as api:
        gateway = Gateway(
            api.runtime.auth, api.runtime.bus, realtime=api.runtime.realtime, policy=policy
        )
        await gateway.start("127.0.0.1", 0)
        try:
            yield api, gateway
        finally:
            await gateway.stop()


class Socket:
    """A client that keeps what it received, to wait for a kind of message."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self._taken: set[int] = set()

    async def send(self, message: dict[str, Any] | bytes | str) -> None:
        await self.ws.send(
            message if isinstance(message, bytes | str) else orjson.dumps(message).decode()
        )

    async def next(self, message_type: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.received):
                if i in self._taken:
                    continue
                if m.get("type") == message_type and all(m.get(k) == v for k, v in match.items()):
                    self._taken.add(i)
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no {message_type} {match} in {[m.get('type') for m in self.received]}"
                )
            try:
                raw = await asyncio.wait_for(self.ws.recv(), left)
            except TimeoutError:
                raise AssertionError(
                    f"no {message_type} {match} in {[m.get('type') for m in self.received]}: {self.received[-3:]}"
                ) from None
            self.received.append(orjson.loads(raw))

    def seen(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("type") == kind]


@contextlib.asynccontextmanager
async def ws(
    gateway: Gateway, path: str, token: str | None, **kwargs: Any
) -> AsyncIterator[Socket]:
    sep = "&" if "?" in path else "?"
    url = f"ws://127.0.0.1:{gateway.port}{path}" + (f"{sep}token={token}" if token else "")
    async with connect(url, compression=None, **kwargs) as conn:
        yield Socket(conn)


async def anext_hello(gateway: Gateway, path: str, token: str) -> dict[str, Any]:
    async with ws(gateway, path, token) as socket:
        return await socket.next("hello")


async def test_offer_accept_and_the_patient_watches_the_doctor_arrive(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with engine_with_gateway(helsinki_router, tmp_path) as (api, gateway):
        doctor_id, doctor_token = await api.doctor(on_shift_at=NEARBY)
        _, patient_token = await api.patient()
        async with ws(gateway, "/ws/doctor", doctor_token) as doctor:
            hello = await doctor.next("hello")
            assert hello["topic"] == f"doctor:{doctor_id}"
            booking = await api.book(patient_token)
            offer = await doctor.next("offer", booking_id=booking["id"])
            assert (
                offer["ttl_s"] > 0
                and offer["eta_s"] > 0
                and offer["address"] == "Mannerheimintie 1"
            )
            async with ws(gateway, f"/ws/patient/{booking['id']}", patient_token) as patient:
                snapshot = await patient.next("snapshot")
                assert snapshot["status"] == "offered" and snapshot["doctor_id"] is None
                await doctor.send({"type": "accept", "offer_id": offer["offer_id"], "ref": 1})
                assert (await doctor.next("accepted"))["ref"] == 1
                assert (await patient.next("status", status="assigned"))["doctor_id"] == doctor_id
                await patient.next("doctor_assigned")
                await doctor.send(
                    {"type": "progress", "booking_id": booking["id"], "status": "en_route"}
                )
                await patient.next("status", status="en_route")
                # drive the road to the patient, one fix a second (in the recent past)
                path = helsinki_router.route(NEARBY, HOME).path
                step = max(1, len(path) // 12)
                points = [*path[::step], path[-1]]
                t0 = time.time() + 1  # after the shift's fix; within the allowed clock skew
                for i, p in enumerate(points):
                    await doctor.send(
                        {
                            "type": "position",
                            "lat": p.lat,
                            "lon": p.lon,
                            "accuracy_m": 5,
                            "recorded_at": iso(t0 + i),
                        }
                    )
                route = await patient.next("route")
                assert route["booking_id"] == booking["id"] and len(route["points"]) >= 2
                first = await patient.next("position")
                assert first["booking_id"] == booking["id"] and first["eta_s"] is not None
                assert first["coarse"] is False and parse_rfc3339(first["recorded_at"]) >= t0
                arriving = await patient.next("arriving")
                assert arriving["distance_m"] <= 150
                for step_status in ("arrived", "in_progress", "completed"):
                    await doctor.send(
                        {"type": "progress", "booking_id": booking["id"], "status": step_status}
                    )
                    await patient.next("status", status=step_status)
                seqs = [
                    m["seq"]
                    for m in patient.received
                    if "seq" in m and m["type"] not in ("hello", "snapshot")
                ]
                assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
                # the stream of positions stops with the visit
                before = len(patient.seen("position"))
                await doctor.send(
                    {
                        "type": "position",
                        "lat": HOME[0],
                        "lon": HOME[1],
                        "recorded_at": iso(time.time()),
                    }
                )
                await doctor.send({"type": "ping"})
                await doctor.next("pong")
                await asyncio.sleep(0.2)
                assert len(patient.seen("position")) == before


async def test_handshakes_refused_before_accept(helsinki_router: Router, tmp_path: Path) -> None:
    async with engine_with_gateway(helsinki_router, tmp_path) as (api, gateway):
        _, alice = await api.patient()
        _, mallory = await api.patient()
        booking = await api.book(alice)
        with pytest.raises(InvalidStatus) as refused:
            async with ws(gateway, f"/ws/patient/{booking['id']}", mallory):
                pass
        assert refused.value.response.status_code == 404
        with pytest.raises(InvalidStatus) as refused:
            async with ws(gateway, f"/ws/patient/{booking['id']}", "not-a-token"):
                pass
        assert refused.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as refused:
            async with ws(gateway, "/ws/doctor", alice):
                pass
        assert refused.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as refused:
            async with ws(
                gateway, f"/ws/patient/{booking['id']}", alice, origin="https://evil.example.org"
            ):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 403
        async with ws(gateway, f"/ws/patient/{booking['id']}", alice, origin=ORIGIN) as ok:  # type: ignore[arg-type]
            assert (await ok.next("snapshot"))["booking_id"] == booking["id"]


async def test_resume_replays_missed_events_and_resyncs_past_the_window(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with engine_with_gateway(helsinki_router, tmp_path) as (api, gateway):
        _, patient_token = await api.patient()
        booking = await api.book(patient_token)
        async with ws(gateway, f"/ws/patient/{booking['id']}", patient_token) as patient:
            hello = await patient.next("hello")
        last_seen, epoch = hello["seq"], hello["epoch"]
        r = await api.client.post(
            f"/api/v1/bookings/{booking['id']}/messages",
            json={"content": "are you coming?"},
            headers=api.auth(patient_token),
        )
        assert r.status_code == 201
        r = await api.client.post(
            f"/api/v1/bookings/{booking['id']}/cancel",
            json={"reason": "changed my mind"},
            headers=api.auth(patient_token),
        )
        assert r.status_code == 200
        await asyncio.sleep(0.1)
        resume = f"/ws/patient/{booking['id']}?last_seq={last_seen}&epoch={epoch}"
        async with ws(gateway, resume, patient_token) as patient:
            await patient.next("hello")
            assert (await patient.next("message"))["content"] == "are you coming?"
            assert (await patient.next("status", status="cancelled"))["seq"] > last_seen
            assert not patient.seen("resync")
            # the state comes last, on every connect, after what was replayed
            snapshot = await patient.next("snapshot")
            assert snapshot["status"] == "cancelled" and snapshot["epoch"] == epoch
            types = [m["type"] for m in patient.received]
            assert types.index("snapshot") > types.index("status")
        # another engine start's numbers (an epoch this engine never gave) resync
        async with ws(
            gateway, f"/ws/patient/{booking['id']}?last_seq={last_seen}&epoch=0bad", patient_token
        ) as patient:
            await patient.next("hello")
            await patient.next("resync")
            assert (await patient.next("snapshot"))["status"] == "cancelled"
        # far behind: more events than the replay window since
        topic = f"booking:{booking['id']}"
        for i in range(120):
            await api.runtime.bus.append(
                topic, {"type": "notice", "booking_id": booking["id"], "message": f"n{i}"}
            )
        async with ws(gateway, resume, patient_token) as patient:
            await patient.next("hello")
            resync = await patient.next("resync")
            snapshot = await patient.next("snapshot")
            assert resync["seq"] == snapshot["seq"] and snapshot["status"] == "cancelled"


async def test_malformed_oversized_and_flooding_clients_leave_others_alone(
    helsinki_router: Router, tmp_path: Path
) -> None:
    policy = GatewayPolicy(messages_per_s=5, burst=5, flood_drops_before_close=30)
    async with engine_with_gateway(helsinki_router, tmp_path, policy=policy) as (api, gateway):
        _, doctor_token = await api.doctor(on_shift_at=NEARBY)
        _, other_token = await api.doctor(on_shift_at=HOME)
        async with (
            ws(gateway, "/ws/doctor", doctor_token) as bad,
            ws(gateway, "/ws/doctor", other_token) as good,
        ):
            await bad.next("hello")
            await good.next("hello")
            for junk, code in [
                ("{not json", "invalid_json"),
                ("[1, 2]", "invalid_json"),
                ('{"type": "teleport"}', "unknown_type"),
                ('{"type": "position", "lat": "NaN", "lon": 24.9}', "invalid_message"),
                ('{"type": "position", "lat": 95, "lon": 24.9}', "invalid_message"),
            ]:
                await bad.send(junk)
                assert (await bad.next("error"))["code"] == code
            await asyncio.sleep(1.1)  # the bucket refills
            await bad.send({"type": "ping"})
            await bad.next("pong")  # still working
            # flooding: dropped with a rate_limited error, then closed
            with contextlib.suppress(ConnectionClosed):
                for _ in range(200):
                    await bad.send({"type": "ping"})
                await bad.next("error", code="rate_limited")
                while True:  # read on until the server closes it
                    await asyncio.wait_for(bad.ws.recv(), 5)
            assert bad.ws.close_code == 4029
            await good.send({"type": "ping"})
            await good.next("pong")
        async with ws(gateway, "/ws/doctor", doctor_token) as big:
            await big.next("hello")
            await big.send("x" * 20_000)
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await asyncio.wait_for(big.ws.recv(), 5)
            assert big.ws.close_code == 1009  # message too big


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.postgis
@pytest.mark.redis
async def test_two_gateway_processes_deliver_through_redis(
    helsinki_router: Router, tmp_path: Path, redis_prefix: str
) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import TEST_REDIS_URL

    async with engine_with_gateway(
        helsinki_router,
        tmp_path,
        backend="postgis",
        redis_url=TEST_REDIS_URL,
        redis_prefix=redis_prefix,
    ) as (api, gateway):
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": api.runtime.config.database_url or "",
            "REDIS_URL": TEST_REDIS_URL,
            "TOT_REDIS_PREFIX": redis_prefix,
            "TOT_JWT_SECRET": api.runtime.config.jwt_secret,
            "TOT_WS_PORT": str(port),
        }
        other = subprocess.Popen([sys.executable, "-m", "tot", "gateway"], env=env)
        try:
            for _ in range(100):  # wait until it listens
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            remote = f"ws://127.0.0.1:{port}"
            doctor_id, doctor_token = await api.doctor(on_shift_at=NEARBY)
            _, patient_token = await api.patient()
            async with connect(f"{remote}/ws/doctor?token={doctor_token}", compression=None) as d:
                doctor = Socket(d)
                await doctor.next("hello")
                booking = await api.book(patient_token)
                offer = await doctor.next(
                    "offer", booking_id=booking["id"]
                )  # engine -> Redis -> gateway 2
                async with (
                    ws(gateway, f"/ws/patient/{booking['id']}", patient_token) as patient,
                    connect(
                        f"{remote}/ws/patient/{booking['id']}?token={patient_token}",
                        compression=None,
                    ) as p2,
                ):
                    patient_far = Socket(p2)
                    await patient.next("snapshot")
                    await patient_far.next("snapshot")
                    await doctor.send(
                        {"type": "accept", "offer_id": offer["offer_id"], "ref": "a1"}
                    )
                    assert (await doctor.next("accepted", timeout=10))[
                        "ref"
                    ] == "a1"  # gateway 2 -> engine -> back
                    await patient.next("status", status="assigned")
                    await patient_far.next("status", status="assigned")
                    t0 = time.time() + 1
                    for i in range(3):
                        await doctor.send(
                            {
                                "type": "position",
                                "lat": NEARBY[0] - 0.0001 * i,
                                "lon": NEARBY[1],
                                "recorded_at": iso(t0 + i),
                            }
                        )
                    # a doctor on gateway 2, patients on both: positions cross processes both ways
                    near = await patient.next("position", timeout=10)
                    far = await patient_far.next("position", timeout=10)
                    assert near["doctor_id"] == far["doctor_id"] == doctor_id
            # the doctor's socket closed on gateway 2: the engine hears it
            for _ in range(50):
                if api.runtime.registry.status(doctor_id).name == "OFFLINE":
                    break
                await asyncio.sleep(0.1)
            assert api.runtime.registry.status(doctor_id).name == "OFFLINE"
        finally:
            other.terminate()
            other.wait(timeout=10)


async def test_operators_see_alerts_the_city_and_override(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with engine_with_gateway(helsinki_router, tmp_path) as (api, gateway):
        doctor_id, doctor_token = await api.doctor(on_shift_at=NEARBY)
        other_id, _ = await api.doctor(on_shift_at=HOME)
        _, patient_token = await api.patient()
        operator_id, operator_token = await api.staff("operator")
        _, patient2 = await api.patient()
        async with ws(gateway, "/ws/operator", operator_token) as op:
            await op.next("hello")
            await op.send(
                {"type": "viewport", "south": 60.15, "west": 24.90, "north": 60.19, "east": 24.98}
            )
            feed = await op.next("feed")
            assert {d["doctor_id"] for d in feed["doctors"]} == {doctor_id, other_id}
            booking = await api.book(patient_token)
            await op.next("status", booking_id=booking["id"], status="offered")
            # an emergency: operators are alerted at once
            emergency = await api.book(patient2, call_type="chest_pain", is_emergency=True)
            alert = await op.next("alert", booking_id=emergency["id"], kind="emergency")
            assert "103" in alert["detail"]
            # an override, with its reason, over the socket
            await op.send(
                {
                    "type": "assign",
                    "booking_id": booking["id"],
                    "doctor_id": other_id,
                    "reason": "closest by phone",
                    "ref": 7,
                }
            )
            done = await op.next("done", ref=7)
            assert done["status"] == "assigned"
            await op.send({"type": "cancel", "booking_id": booking["id"], "reason": ""})
            assert (await op.next("error"))["code"] == "invalid_message"
            await op.send(
                {"type": "assign", "booking_id": "nope", "doctor_id": other_id, "reason": "x"}
            )
            assert (await op.next("error"))["code"] == "not_found"
        stored = await api.runtime.bookings.store.load(booking["id"])
        assert stored is not None and stored.history[-1].reason == "closest by phone"
        assert operator_id in stored.history[-1].updated_by
        # doctors and patients are not operators
        with pytest.raises(InvalidStatus) as refused:
            async with ws(gateway, "/ws/operator", doctor_token):
                pass
        assert refused.value.response.status_code == 403


async def test_a_silent_doctor_goes_offline_and_the_offer_moves_on(
    helsinki_router: Router, tmp_path: Path
) -> None:
    policy = GatewayPolicy(doctor_silence_s=0.5)
    async with engine_with_gateway(helsinki_router, tmp_path, policy=policy) as (api, gateway):
        quiet_id, quiet_token = await api.doctor(on_shift_at=NEARBY)
        _, patient_token = await api.patient()
        async with ws(gateway, "/ws/doctor", quiet_token) as quiet:
            await quiet.next("hello")
            booking = await api.book(patient_token)
            await quiet.next("offer", booking_id=booking["id"])
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await asyncio.wait_for(quiet.ws.recv(), 10)
            assert quiet.ws.close_code == 4408
        assert api.runtime.registry.status(quiet_id).name == "OFFLINE"
        seen = await api.client.get(
            f"/api/v1/bookings/{booking['id']}", headers=api.auth(patient_token)
        )
        assert seen.json()["status"] == "searching"  # the offer ended when the doctor left
        # coming back online makes the doctor available again
        async with ws(gateway, "/ws/doctor", quiet_token) as back:
            await back.next("hello")
            assert api.runtime.registry.status(quiet_id).name == "AVAILABLE"


async def test_far_positions_are_coarse_and_reassignment_switches_the_stream(
    helsinki_router: Router, tmp_path: Path
) -> None:
    far_point = (60.1868, 24.9520)  # about 2 km north of the patient
    async with engine_with_gateway(helsinki_router, tmp_path) as (api, gateway):
        first_id, first_token = await api.doctor(on_shift_at=far_point)
        second_id, second_token = await api.doctor(on_shift_at=NEARBY)
        _, patient_token = await api.patient()
        _, operator_token = await api.staff("operator")
        booking = await api.book(patient_token)
        r = await api.client.post(
            f"/api/v1/operator/bookings/{booking['id']}/assign",
            json={"doctor_id": first_id, "reason": "test: the far one", "release_current": False},
            headers=api.auth(operator_token),
        )
        assert r.status_code == 200, r.text
        async with (
            ws(gateway, "/ws/doctor", first_token) as first,
            ws(gateway, "/ws/doctor", second_token) as second,
            ws(gateway, f"/ws/patient/{booking['id']}", patient_token) as patient,
        ):
            await patient.next("snapshot")
            t = time.time() + 1
            await first.send(
                {
                    "type": "position",
                    "lat": far_point[0] + 0.00003,
                    "lon": far_point[1],
                    "recorded_at": iso(t),
                }
            )
            coarse = await patient.next("position")
            assert coarse["coarse"] is True and coarse["doctor_id"] == first_id
            assert coarse["lat"] != pytest.approx(far_point[0] + 0.00003, abs=1e-6)
            assert round(coarse["lat"] / 0.005) * 0.005 == pytest.approx(coarse["lat"])
            # reassigned: the first doctor's positions stop, the second's start
            r = await api.client.post(
                f"/api/v1/operator/bookings/{booking['id']}/assign",
                json={
                    "doctor_id": second_id,
                    "reason": "closer doctor free",
                    "release_current": False,
                },
                headers=api.auth(operator_token),
            )
            assert r.status_code == 200, r.text
            await patient.next("doctor_released")
            await first.send(
                {
                    "type": "position",
                    "lat": far_point[0] + 0.00006,
                    "lon": far_point[1],
                    "recorded_at": iso(t + 1),
                }
            )
            await second.send(
                {
                    "type": "position",
                    "lat": NEARBY[0],
                    "lon": NEARBY[1] + 0.00003,
                    "recorded_at": iso(t + 1),
                }
            )
            nxt = await patient.next("position")
            assert nxt["doctor_id"] == second_id and nxt["coarse"] is False
            await first.send({"type": "ping"})
            await first.next("pong")
            await asyncio.sleep(0.1)
            assert all(p["doctor_id"] == second_id for p in patient.seen("position")[1:])


async def test_a_slow_watcher_holds_only_the_newest_position(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with engine_with_gateway(helsinki_router, tmp_path) as (api, gateway):
        doctor_id, doctor_token = await api.doctor(on_shift_at=NEARBY)
        _, patient_token = await api.patient()
        booking = await api.book(patient_token)
        offer = api.runtime.bookings.open_offers_for(
            __import__("services.auth", fromlist=["Principal"]).Principal(
                doctor_id, __import__("accounts").Role.DOCTOR
            )
        )[0][0]
        async with (
            ws(gateway, "/ws/doctor", doctor_token) as doctor,
            ws(gateway, f"/ws/patient/{booking['id']}", patient_token) as patient,
        ):
            await doctor.send({"type": "accept", "offer_id": offer.offer_id})
            await doctor.next("accepted")
            await patient.next("snapshot")
            client = next(c for c in gateway.clients if c.booking_id == booking["id"])
            client.wake.clear()
            # Stop the watcher's writer (a client that does not read), then pour fixes in.
            original = client.connection.send

            async def stalled(*a: Any, **k: Any) -> None:
                await asyncio.sleep(3600)

            client.connection.send = stalled  # type: ignore[method-assign]
            t = time.time() + 1
            for i in range(30):
                await doctor.send(
                    {
                        "type": "position",
                        "lat": NEARBY[0] + 0.00001 * i,
                        "lon": NEARBY[1],
                        "recorded_at": iso(t + i * 0.5),
                    }
                )
            await doctor.send({"type": "ping"})
            await doctor.next("pong")
            assert client.position is not None and len(client.events) <= 5
            newest = orjson.loads(client.position)
            assert newest["lat"] == pytest.approx(NEARBY[0] + 0.00029)
            client.connection.send = original  # type: ignore[method-assign]


async def test_the_registry_follows_the_visit(helsinki_router: Router, tmp_path: Path) -> None:
    async with engine_with_gateway(helsinki_router, tmp_path) as (api, gateway):
        doctor_id, doctor_token = await api.doctor(on_shift_at=NEARBY)
        _, patient_token = await api.patient()
        registry = api.runtime.registry
        assert registry.status(doctor_id).name == "AVAILABLE"
        booking = await api.book(patient_token)
        assert registry.status(doctor_id).name == "OFFERED"
        async with ws(gateway, "/ws/doctor", doctor_token) as doctor:
            # the offer was made before the socket opened: the snapshot carries it
            offer = (await doctor.next("snapshot"))["offer"]
            assert offer["booking_id"] == booking["id"] and offer["ttl_s"] > 0
            await doctor.send({"type": "accept", "offer_id": offer["offer_id"]})
            await doctor.next("accepted")
            assert registry.status(doctor_id).name == "EN_ROUTE"
            for status, expected in [
                ("en_route", "EN_ROUTE"),
                ("arrived", "ON_VISIT"),
                ("in_progress", "ON_VISIT"),
                ("completed", "AVAILABLE"),
            ]:
                await doctor.send(
                    {"type": "progress", "booking_id": booking["id"], "status": status}
                )
                await doctor.next("progressed", status=status)
                assert registry.status(doctor_id).name == expected, status


async def test_finished_bookings_leave_no_decision_behind(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with engine_with_gateway(helsinki_router, tmp_path) as (api, _gateway):
        await api.doctor(on_shift_at=NEARBY)
        _, patient_token = await api.patient()
        booking = await api.book(patient_token)
        assert booking["id"] in api.runtime.candidates.decisions
        r = await api.client.post(
            f"/api/v1/bookings/{booking['id']}/cancel",
            json={"reason": "no longer needed"},
            headers=api.auth(patient_token),
        )
        assert r.status_code == 200
        assert booking["id"] not in api.runtime.candidates.decisions
        assert booking["id"] not in api.runtime.engine.core.bookings


async def test_revoked_accounts_lose_their_sockets_and_odd_resumes_resync(
    helsinki_router: Router, tmp_path: Path
) -> None:
    policy = GatewayPolicy(sweep_every_s=0.1, doctor_silence_s=60)
    async with engine_with_gateway(helsinki_router, tmp_path, policy=policy) as (api, gateway):
        doctor_id, doctor_token = await api.doctor(on_shift_at=NEARBY)
        _, patient_token = await api.patient()
        booking = await api.book(patient_token)
        # a last_seq the handshake cannot take is refused as HTTP 400, before accept
        with pytest.raises(InvalidStatus) as refused:
            async with ws(gateway, f"/ws/patient/{booking['id']}?last_seq=%C2%B2", patient_token):
                pass
        assert refused.value.response.status_code == 400
        # a client ahead of the topic's counter (the server restarted) gets a resync
        hello = await anext_hello(gateway, f"/ws/patient/{booking['id']}", patient_token)
        async with ws(
            gateway,
            f"/ws/patient/{booking['id']}?last_seq=999&epoch={hello['epoch']}",
            patient_token,
        ) as patient:
            await patient.next("resync")
            assert (await patient.next("snapshot"))["booking_id"] == booking["id"]
        for _ in range(50):  # the server's side closes a moment later
            if f"booking:{booking['id']}" not in gateway.topics:
                break
            await asyncio.sleep(0.05)
        assert f"booking:{booking['id']}" not in gateway.topics  # no empty sets left behind
        assert booking["id"] not in gateway.watchers
        async with ws(gateway, "/ws/doctor", doctor_token) as doctor:
            await doctor.next("hello")
            r = await api.client.post(
                f"/api/v1/admin/users/{doctor_id}/block",
                json={"reason": "licence revoked"},
                headers=api.auth(api.admin_token),
            )
            assert r.status_code == 200
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await asyncio.wait_for(doctor.ws.recv(), 5)
            assert doctor.ws.close_code == 4401


async def test_a_role_change_ends_the_users_tokens(helsinki_router: Router, tmp_path: Path) -> None:
    async with running_api(helsinki_router, tmp_path) as api:
        user_id, token = await api.patient()
        r = await api.client.put(
            f"/api/v1/admin/users/{user_id}/role",
            json={"role": "operator", "reason": "joined the dispatch desk"},
            headers=api.auth(api.admin_token),
        )
        assert r.status_code == 200, r.text
        assert (await api.client.get("/api/v1/auth/me", headers=api.auth(token))).status_code == 401
        user = await api.runtime.accounts.user(user_id)
        assert user is not None
        fresh = (await api.login(user.email))["access_token"]
        me = await api.client.get("/api/v1/auth/me", headers=api.auth(fresh))
        assert me.status_code == 200 and me.json()["role"] == "operator"


@pytest.mark.postgis
@pytest.mark.redis
async def test_a_killed_gateway_process_takes_its_doctors_offline(
    helsinki_router: Router, tmp_path: Path, redis_prefix: str
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from services.realtime import RealtimePolicy
    from tests.conftest import TEST_REDIS_URL

    async with engine_with_gateway(
        helsinki_router, tmp_path, backend="postgis", redis_url=TEST_REDIS_URL,
        redis_prefix=redis_prefix, realtime_policy=RealtimePolicy(gateway_silence_s=1.5),
    ) as (api, _gateway):  # fmt: skip
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": api.runtime.config.database_url or "",
            "REDIS_URL": TEST_REDIS_URL,
            "TOT_REDIS_PREFIX": redis_prefix,
            "TOT_JWT_SECRET": api.runtime.config.jwt_secret,
            "TOT_WS_PORT": str(port),
            "TOT_GATEWAY_HEARTBEAT_S": "0.3",
        }
        other = subprocess.Popen([sys.executable, "-m", "tot", "gateway"], env=env)
        try:
            for _ in range(100):
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            doctor_id, doctor_token = await api.doctor(on_shift_at=NEARBY)
            registry = api.runtime.registry
            async with connect(
                f"ws://127.0.0.1:{port}/ws/doctor?token={doctor_token}", compression=None
            ) as d:
                await Socket(d).next("hello")
                await asyncio.sleep(2.5)  # heartbeats keep a live gateway's doctors online
                assert registry.status(doctor_id).name == "AVAILABLE"
                other.send_signal(signal.SIGKILL)  # no goodbye, no presence message
                other.wait(timeout=10)
                for _ in range(80):
                    if registry.status(doctor_id).name == "OFFLINE":
                        break
                    await asyncio.sleep(0.1)
                assert registry.status(doctor_id).name == "OFFLINE"
        finally:
            if other.poll() is None:
                other.kill()
                other.wait(timeout=10)


async def test_with_no_origins_listed_only_the_engines_own_pages_may_connect(
    helsinki_router: Router, tmp_path: Path
) -> None:
    """TOT_WS_ORIGINS unset: a browser page from anywhere else is refused before accept;
    the engine's own pages (same host, the pages' port or the socket's own) connect."""
    policy = GatewayPolicy(page_port=8123, doctor_silence_s=60)
    async with engine_with_gateway(helsinki_router, tmp_path, policy=policy) as (api, gateway):
        _, alice = await api.patient()
        booking = await api.book(alice)
        path = f"/ws/patient/{booking['id']}"
        for evil in (
            "http://evil.example",
            "https://evil.example:8123",
            "http://127.0.0.1:9999",  # this host, another port: not our pages
            "http://localhost:8123",  # another host name than the socket's
            "file://",
            "null",
        ):
            with pytest.raises(InvalidStatus) as refused:
                async with ws(gateway, path, alice, origin=evil):  # type: ignore[arg-type]
                    pass
            assert refused.value.response.status_code == 403, evil
        for own in ("http://127.0.0.1:8123", f"http://127.0.0.1:{gateway.port}"):
            async with ws(gateway, path, alice, origin=own) as ok:  # type: ignore[arg-type]
                assert (await ok.next("snapshot"))["booking_id"] == booking["id"]
        async with ws(gateway, path, alice) as no_origin:  # not a browser: the token counts
            await no_origin.next("snapshot")
