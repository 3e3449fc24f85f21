"""The clinic routes over HTTP: settings, doctors (added, invited, detached), visits and
statistics; who may see what (a clinic admin only their own clinic: 404 for any other;
operators, doctors and patients 403); the matcher's area constraint end to end; and the
WebSocket side (clinic admins have no channel of their own)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from routing import Router
from tests.api_harness import HOME, NEARBY, PASSWORD, Api, running_api
from tests.test_gateway import engine_with_gateway, ws

V1 = "/api/v1"
# A square around the bundled Helsinki map's centre, and one far away (Tampere).
AROUND_HOME = {
    "type": "MultiPolygon",
    "coordinates": [[[[24.90, 60.15], [24.98, 60.15], [24.98, 60.19], [24.90, 60.19], [24.90, 60.15]]]],
}  # fmt: skip
ELSEWHERE = {
    "type": "MultiPolygon",
    "coordinates": [[[[23.70, 61.45], [23.85, 61.45], [23.85, 61.52], [23.70, 61.52], [23.70, 61.45]]]],
}  # fmt: skip


async def make_clinic(api: Api, name: str = "Клиника", **extra: Any) -> dict[str, Any]:
    r = await api.client.post(
        f"{V1}/clinics", json={"name": name, **extra}, headers=api.auth(api.admin_token)
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_clinic_settings_round_trip_and_are_validated(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with running_api(helsinki_router, tmp_path) as api:
        c = await make_clinic(
            api, "Здоровье", phone="+79001234567", address="Mannerheimintie 1",
            timezone="Europe/Helsinki", area=AROUND_HOME,
            opening_hours=[{"weekday": 0, "opens": "08:00", "closes": "20:00"}],
        )  # fmt: skip
        assert c["area"] == AROUND_HOME and c["timezone"] == "Europe/Helsinki"
        assert c["opening_hours"] == [{"weekday": 0, "opens": "08:00", "closes": "20:00"}]
        _, boss = await api.staff("clinic_admin", c["clinic_id"])
        path = f"{V1}/clinics/{c['clinic_id']}"
        r = await api.client.patch(
            path, json={"name": "Здоровье+", "area": None}, headers=api.auth(boss)
        )
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "Здоровье+" and r.json()["area"] is None
        assert r.json()["phone"] == "+79001234567"  # untouched
        bad_bodies = [
            {"timezone": "Mars/Olympus"},
            {"opening_hours": [{"weekday": 1, "opens": "18:00", "closes": "09:00"}]},
            {"area": {"type": "MultiPolygon", "coordinates": [[[[24.9, 60.1], [25.0, 60.2],
                                                                  [25.0, 60.1], [24.9, 60.2],
                                                                  [24.9, 60.1]]]]}},  # bow tie
            {"area": {"type": "MultiPolygon", "coordinates": [[[[24.9, 60.1], [25.0, 60.2],
                                                                  [25.0, 60.1], [24.8, 60.0]]]]}},
            {"name": "   "},
        ]  # fmt: skip
        for body in bad_bodies:
            r = await api.client.patch(path, json=body, headers=api.auth(boss))
            assert r.status_code == 422, (body, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        # clinic admins list only their own; admins all, with a cursor and a name filter
        other = await make_clinic(api, "Другая")
        r = await api.client.get(f"{V1}/clinics", headers=api.auth(boss))
        assert [x["clinic_id"] for x in r.json()["items"]] == [c["clinic_id"]]
        r = await api.client.get(f"{V1}/clinics?limit=1", headers=api.auth(api.admin_token))
        first = r.json()
        assert len(first["items"]) == 1 and first["next_cursor"]
        r = await api.client.get(
            f"{V1}/clinics?limit=1&cursor={first['next_cursor']}",
            headers=api.auth(api.admin_token),
        )
        assert {first["items"][0]["clinic_id"], r.json()["items"][0]["clinic_id"]} == {
            c["clinic_id"], other["clinic_id"],
        }  # fmt: skip
        r = await api.client.get(f"{V1}/clinics?q=друг", headers=api.auth(api.admin_token))
        assert [x["clinic_id"] for x in r.json()["items"]] == [other["clinic_id"]]
        await api.runtime.audit.flush()
        trail = await api.runtime.accounts.audit_of("clinic", c["clinic_id"])
        assert [a.action for a in trail] == ["clinic.create", "clinic.update"]
        assert trail[1].detail == "name,area"


async def test_who_may_see_a_clinic(helsinki_router: Router, tmp_path: Path) -> None:
    async with running_api(helsinki_router, tmp_path) as api:
        mine = await make_clinic(api, "Mine")
        theirs = await make_clinic(api, "Theirs")
        _, boss = await api.staff("clinic_admin", mine["clinic_id"])
        _, operator = await api.staff("operator")
        _, patient = await api.patient()
        doctor_id, doctor = await api.doctor()
        await api.runtime.clinics.store.clinic(theirs["clinic_id"])
        # a doctor of the other clinic, with a booking
        r = await api.client.post(
            f"{V1}/clinics/{theirs['clinic_id']}/doctors",
            json={"email": (await api.runtime.accounts.user(doctor_id)).email},  # type: ignore[union-attr]
            headers=api.auth(api.admin_token),
        )
        assert r.status_code == 200, r.text
        t = theirs["clinic_id"]
        paths = [
            ("GET", f"/clinics/{t}"),
            ("PATCH", f"/clinics/{t}"),
            ("GET", f"/clinics/{t}/doctors"),
            ("POST", f"/clinics/{t}/doctors"),
            ("DELETE", f"/clinics/{t}/doctors/{doctor_id}"),
            ("GET", f"/clinics/{t}/doctors/{doctor_id}/visits"),
            ("GET", f"/clinics/{t}/stats"),
            ("GET", f"/clinics/{t}/stats.csv"),
            ("GET", "/clinics/no-such-clinic"),
        ]
        bodies = {"PATCH": {"name": "Taken over"}, "POST": {"email": "x@tot.example.org"}}
        for method, path in paths:
            r = await api.client.request(
                method, V1 + path, json=bodies.get(method), headers=api.auth(boss)
            )
            assert r.status_code == 404, (method, path, r.text)
            for token in (operator, patient, doctor):
                r = await api.client.request(
                    method, V1 + path, json=bodies.get(method), headers=api.auth(token)
                )
                assert r.status_code == 403, (method, path, r.text)
        for path in ("/admin/stats", "/admin/stats.csv", "/clinics"):
            method = "GET"
            for token in (operator, patient, doctor) + ((boss,) if "admin" in path else ()):
                r = await api.client.get(V1 + path, headers=api.auth(token))
                assert r.status_code == 403, (path, r.text)
        r = await api.client.post(f"{V1}/clinics", json={"name": "X"}, headers=api.auth(boss))
        assert r.status_code == 403
        # nothing changed in the other clinic
        assert (await api.runtime.accounts.user(doctor_id)).clinic_id == t  # type: ignore[union-attr]
        r = await api.client.get(f"{V1}/clinics/{t}", headers=api.auth(api.admin_token))
        assert r.json()["name"] == "Theirs"


async def test_doctors_are_added_invited_listed_and_detached(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with running_api(helsinki_router, tmp_path) as api:
        c = await make_clinic(api)
        other = await make_clinic(api, "Other")
        cid = c["clinic_id"]
        _, boss = await api.staff("clinic_admin", cid)
        free_id, _ = await api.doctor(on_shift_at=NEARBY, first_name="Anna")
        patient_id, _ = await api.patient()
        doctors = f"{V1}/clinics/{cid}/doctors"
        free_email = (await api.runtime.accounts.user(free_id)).email  # type: ignore[union-attr]
        r = await api.client.post(doctors, json={"email": free_email}, headers=api.auth(boss))
        assert r.status_code == 200, r.text
        assert r.json()["invited"] is False and r.json()["doctor"]["on_shift"] is True
        assert r.json()["doctor"]["verification"] == "verified"
        # the registry knows the doctor's clinic at once
        assert api.runtime.registry.in_clinic_area(free_id, *HOME)
        # a patient's e-mail, and a doctor of another clinic: 409
        patient_email = (await api.runtime.accounts.user(patient_id)).email  # type: ignore[union-attr]
        r = await api.client.post(doctors, json={"email": patient_email}, headers=api.auth(boss))
        assert r.status_code == 409
        r = await api.client.post(
            f"{V1}/clinics/{other['clinic_id']}/doctors",
            json={"email": free_email},
            headers=api.auth(api.admin_token),
        )
        assert r.status_code == 409
        # a new doctor is invited; the token works once and signs them in
        r = await api.client.post(
            doctors,
            json={"email": "New.Doctor@tot.example.org", "first_name": "Пётр"},
            headers=api.auth(boss),
        )
        assert r.status_code == 201, r.text
        invited = r.json()
        assert invited["invited"] is True
        assert invited["doctor"]["verification"] == "pending"
        token = invited["invitation_url"].split("#", 1)[1]
        assert invited["invitation_url"] == f"/doctor/invite#{token}"
        r = await api.client.post(
            f"{V1}/auth/login", json={"email": "new.doctor@tot.example.org", "password": ""}
        )
        assert r.status_code in (401, 422)
        accept = f"{V1}/auth/invitations/accept"
        r = await api.client.post(accept, json={"token": token, "password": PASSWORD})
        assert r.status_code == 200, r.text
        me = await api.client.get(f"{V1}/auth/me", headers=api.auth(r.json()["access_token"]))
        assert me.json()["email"] == "new.doctor@tot.example.org"
        await api.login("new.doctor@tot.example.org", PASSWORD)
        r = await api.client.post(accept, json={"token": token, "password": "another-pass-123"})
        assert r.status_code == 404
        r = await api.client.post(accept, json={"token": "x" * 43, "password": PASSWORD})
        assert r.status_code == 404
        stored = await api.runtime.clinics.store.use_invitation(token, 0)
        assert stored is None  # only the hash is kept
        # list, with filters
        r = await api.client.get(doctors, headers=api.auth(boss))
        assert {d["doctor_id"] for d in r.json()["items"]} == {
            free_id, invited["doctor"]["doctor_id"]
        }  # fmt: skip
        r = await api.client.get(f"{doctors}?on_shift=true", headers=api.auth(boss))
        [on] = r.json()["items"]
        assert on["doctor_id"] == free_id and on["lat"] is not None and on["status"] == "available"
        r = await api.client.get(f"{doctors}?verification=pending", headers=api.auth(boss))
        assert [d["first_name"] for d in r.json()["items"]] == ["Пётр"]
        r = await api.client.get(f"{doctors}?q=пёТР", headers=api.auth(boss))
        assert len(r.json()["items"]) == 1
        r = await api.client.get(f"{doctors}?limit=1", headers=api.auth(boss))
        page = r.json()
        assert len(page["items"]) == 1 and page["next_cursor"]
        r = await api.client.get(
            f"{doctors}?limit=1&cursor={page['next_cursor']}", headers=api.auth(boss)
        )
        assert r.json()["items"][0]["doctor_id"] != page["items"][0]["doctor_id"]
        # detach
        r = await api.client.delete(f"{doctors}/{free_id}", headers=api.auth(boss))
        assert r.status_code == 204
        assert (await api.runtime.accounts.user(free_id)).clinic_id is None  # type: ignore[union-attr]
        r = await api.client.delete(f"{doctors}/{free_id}", headers=api.auth(boss))
        assert r.status_code == 404


async def test_a_call_outside_the_area_is_never_offered_but_an_operator_may_assign(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with running_api(helsinki_router, tmp_path) as api:
        far = await make_clinic(api, "Far away", area=ELSEWHERE)
        near = await make_clinic(api, "Here", area=AROUND_HOME)
        _, operator = await api.staff("operator")
        _, patient = await api.patient()
        outside_id, outside = await api.doctor(on_shift_at=NEARBY)
        inside_id, _ = await api.doctor()
        for clinic, doctor_id in ((far, outside_id), (near, inside_id)):
            email = (await api.runtime.accounts.user(doctor_id)).email  # type: ignore[union-attr]
            r = await api.client.post(
                f"{V1}/clinics/{clinic['clinic_id']}/doctors",
                json={"email": email},
                headers=api.auth(api.admin_token),
            )
            assert r.status_code == 200, r.text
        booking = await api.book(patient)
        await asyncio.sleep(0.2)
        core = api.runtime.engine.core
        assert all(o.doctor_id != outside_id for o in core.offers.values())
        r = await api.client.get(f"{V1}/doctors/me/offer", headers=api.auth(outside))
        assert r.status_code in (200, 204, 404)
        if r.status_code == 200:
            assert r.json() is None
        decision = api.runtime.candidates.decisions[booking["id"]]
        assert decision.record(outside_id).excluded.value == "outside_clinic_area"  # type: ignore[union-attr]
        # an operator's assignment overrides the area
        r = await api.client.post(
            f"{V1}/operator/bookings/{booking['id']}/assign",
            json={"doctor_id": outside_id, "reason": "the patient asked for them by phone"},
            headers=api.auth(operator),
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "assigned" and r.json()["doctor"]["id"] == outside_id
        # the clinic's area removed: its doctors serve anywhere again
        r = await api.client.patch(
            f"{V1}/clinics/{far['clinic_id']}", json={"area": None},
            headers=api.auth(api.admin_token),
        )  # fmt: skip
        assert r.status_code == 200
        assert api.runtime.registry.in_clinic_area(outside_id, *HOME)


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
async def test_statistics_and_csv(helsinki_router: Router, tmp_path: Path, backend: str) -> None:
    async with running_api(helsinki_router, tmp_path, backend=backend) as api:
        c = await make_clinic(api, timezone="Europe/Helsinki")
        cid = c["clinic_id"]
        _, boss = await api.staff("clinic_admin", cid)
        _, patient = await api.patient()
        await api.book(patient, clinic_id=cid)
        await api.book(patient)  # not the clinic's
        r = await api.client.get(f"{V1}/clinics/{cid}/stats", headers=api.auth(boss))
        assert r.status_code == 200, r.text
        s = r.json()
        assert s["timezone"] == "Europe/Helsinki" and len(s["by_day"]) == 30
        assert len(s["by_hour"]) == 24 and s["visits"] == 0
        assert s["by_call_type"] == [
            {"call_type": "home_visit", "visits": 0, "cancellation_rate": 0.0}
        ]
        r = await api.client.get(f"{V1}/admin/stats", headers=api.auth(api.admin_token))
        assert r.status_code == 200 and r.json()["by_call_type"][0]["visits"] == 0
        assert sum(1 for _ in r.json()["by_day"]) == 30
        r = await api.client.get(
            f"{V1}/clinics/{cid}/stats.csv?table=by_hour", headers=api.auth(boss)
        )
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        lines = r.text.splitlines()
        assert lines[0] == "hour,visits" and len(lines) == 25
        for query in ("since=2026-03-02&until=2026-03-01", "since=2020-01-01&until=2026-01-01",
                      "since=0001-01-01", "until=0001-01-02", "since=9999-12-31"):  # fmt: skip
            r = await api.client.get(f"{V1}/clinics/{cid}/stats?{query}", headers=api.auth(boss))
            assert r.status_code == 422, (query, r.text)
        r = await api.client.get(
            f"{V1}/admin/stats?clinic_id=nope", headers=api.auth(api.admin_token)
        )
        assert r.status_code == 404


async def test_clinic_admins_have_no_socket_of_their_own_nor_others_bookings(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with engine_with_gateway(helsinki_router, tmp_path) as (api, gateway):
        mine = await make_clinic(api, "Mine")
        theirs = await make_clinic(api, "Theirs")
        _, boss = await api.staff("clinic_admin", mine["clinic_id"])
        _, patient = await api.patient()
        foreign = await api.book(patient, clinic_id=theirs["clinic_id"])
        own = await api.book(patient, clinic_id=mine["clinic_id"])
        for path, code in (
            ("/ws/operator", 403),
            ("/ws/doctor", 403),
            (f"/ws/patient/{foreign['id']}", 404),
        ):
            with pytest.raises(InvalidStatus) as refused:
                async with ws(gateway, path, boss):
                    pass
            assert refused.value.response.status_code == code, path
        async with ws(gateway, f"/ws/patient/{own['id']}", boss) as socket:
            await socket.next("hello")
        r = await api.client.get(f"{V1}/bookings/{foreign['id']}", headers=api.auth(boss))
        assert r.status_code in (403, 404)
        r = await api.client.get(f"{V1}/bookings/{own['id']}", headers=api.auth(boss))
        assert r.status_code == 200
        r = await api.client.get(f"{V1}/bookings", headers=api.auth(boss))
        assert {b["id"] for b in r.json()["bookings"]} == {own["id"]}


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
async def test_statistics_count_a_real_visit_and_a_cancellation(
    helsinki_router: Router, tmp_path: Path, backend: str
) -> None:
    async with running_api(helsinki_router, tmp_path, backend=backend) as api:
        c = await make_clinic(api, timezone="Europe/Helsinki", area=AROUND_HOME)
        cid = c["clinic_id"]
        _, boss = await api.staff("clinic_admin", cid)
        _, patient = await api.patient()
        doctor_id, doctor = await api.doctor(on_shift_at=NEARBY, first_name="Anna",
                                             last_name="Virtanen")  # fmt: skip
        email = (await api.runtime.accounts.user(doctor_id)).email  # type: ignore[union-attr]
        r = await api.client.post(
            f"{V1}/clinics/{cid}/doctors", json={"email": email}, headers=api.auth(boss)
        )
        assert r.status_code == 200
        booking = await api.book(patient)
        offers = (await api.client.get(f"{V1}/offers", headers=api.auth(doctor))).json()
        assert [o["booking_id"] for o in offers] == [booking["id"]]
        r = await api.client.post(
            f"{V1}/offers/{offers[0]['offer_id']}/accept", headers=api.auth(doctor)
        )
        assert r.status_code == 200
        for step in ("en_route", "arrived", "in_progress", "completed"):
            if step == "completed":  # on an active visit: not detached
                r = await api.client.delete(
                    f"{V1}/clinics/{cid}/doctors/{doctor_id}", headers=api.auth(boss)
                )
                assert r.status_code == 409, r.text
            r = await api.client.post(
                f"{V1}/bookings/{booking['id']}/progress",
                json={"status": step},
                headers=api.auth(doctor),
            )
            assert r.status_code == 200, r.text
        cancelled = await api.book(patient, clinic_id=cid)
        r = await api.client.post(
            f"{V1}/bookings/{cancelled['id']}/cancel",
            json={"reason": "feeling better"},
            headers=api.auth(patient),
        )
        assert r.status_code == 200
        r = await api.client.get(f"{V1}/clinics/{cid}/stats", headers=api.auth(boss))
        s = r.json()
        assert s["visits"] == 1 and sum(d["visits"] for d in s["by_day"]) == 1
        assert sum(h["visits"] for h in s["by_hour"]) == 1
        assert s["time_to_doctor_s"]["count"] == 1 and s["time_to_doctor_s"]["p50"] >= 0
        assert s["cancellation_rate"] == 0.5 and s["no_doctor_rate"] == 0.0
        [by_doctor] = s["by_doctor"]
        assert by_doctor["doctor_id"] == doctor_id and by_doctor["name"] == "Anna Virtanen"
        assert by_doctor["visits"] == 1
        [area] = s["by_area"]
        assert area["visits"] == 1 and abs(area["lat"] - HOME[0]) < 0.05
        r = await api.client.get(
            f"{V1}/clinics/{cid}/doctors/{doctor_id}/visits", headers=api.auth(boss)
        )
        [visit] = r.json()["items"]
        assert visit["booking_id"] == booking["id"] and visit["status"] == "completed"
        assert visit["completed_at"] is not None
        r = await api.client.get(f"{V1}/clinics/{cid}/doctors", headers=api.auth(boss))
        assert r.json()["items"][0]["visits_completed"] == 1
        r = await api.client.get(
            f"{V1}/clinics/{cid}/stats.csv?table=by_doctor", headers=api.auth(boss)
        )
        assert r.text.splitlines()[1].startswith(f"{doctor_id},Anna Virtanen,1,")
        # the platform sees both bookings
        r = await api.client.get(f"{V1}/admin/stats", headers=api.auth(api.admin_token))
        assert r.json()["visits"] == 1 and r.json()["cancellation_rate"] == 0.5
