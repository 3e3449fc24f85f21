"""Operators assign only existing, verified, unblocked doctors on shift: anything else is
a 404 or 409 problem document over HTTP, and the same answer on the operator's socket."""

from __future__ import annotations

from pathlib import Path

from routing import Router
from tests.api_harness import NEARBY
from tests.test_gateway import engine_with_gateway, ws


async def test_ghost_assignments_are_refused_alike_over_http_and_the_socket(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with engine_with_gateway(helsinki_router, tmp_path) as (api, gateway):
        patient_id, patient = await api.patient()
        _, operator = await api.staff("operator")
        booking = await api.book(patient)
        unverified_id, _ = await api.doctor(verified=False)
        off_shift_id, _ = await api.doctor()  # verified, never started a shift
        blocked_id, _ = await api.doctor(on_shift_at=NEARBY)
        r = await api.client.post(
            f"/api/v1/admin/users/{blocked_id}/block",
            json={"reason": "licence under review"},
            headers=api.auth(api.admin_token),
        )
        assert r.status_code == 200, r.text
        cases = {
            "no-such-doctor": (404, "not_found"),
            patient_id: (404, "not_found"),  # a patient is not a doctor
            unverified_id: (409, "conflict"),
            off_shift_id: (409, "conflict"),
            blocked_id: (409, "conflict"),
        }
        path = f"/api/v1/operator/bookings/{booking['id']}/assign"
        async with ws(gateway, "/ws/operator", operator) as socket:
            await socket.next("hello")
            for n, (doctor_id, (status, code)) in enumerate(cases.items()):
                r = await api.client.post(
                    path,
                    json={"doctor_id": doctor_id, "reason": "closest by phone"},
                    headers=api.auth(operator),
                )
                assert r.status_code == status, (doctor_id, r.text)
                assert r.headers["content-type"] == "application/problem+json"
                assert r.json()["detail"]
                await socket.send(
                    {"type": "assign", "booking_id": booking["id"], "doctor_id": doctor_id,
                     "reason": "closest by phone", "ref": n}
                )  # fmt: skip
                error = await socket.next("error", ref=n)
                assert error["code"] == code, (doctor_id, error)
        stored = await api.client.get(
            f"/api/v1/bookings/{booking['id']}", headers=api.auth(patient)
        )
        assert stored.json()["status"] in ("searching", "offered")  # never a ghost "assigned"
        assert stored.json()["doctor"] is None
