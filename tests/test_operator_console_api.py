"""What the operator console needs: search and filters over open bookings with cursors,
all-or-nothing bulk actions, a booking's full timeline, the quiet-doctor alert, and
live lists without the doctors who went offline."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from routing import Router
from tests.api_harness import NEARBY, Api, running_api


@pytest.fixture
async def api(helsinki_router: Router, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(helsinki_router, tmp_path) as a:
        yield a


async def search(api: Api, token: str, query: str = "") -> dict[str, Any]:
    r = await api.client.get(f"/api/v1/operator/bookings{query}", headers=api.auth(token))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_operators_search_and_filter_open_bookings_page_by_page(api: Api) -> None:
    _, operator = await api.staff("operator")
    patient_id, patient = await api.patient()
    r = await api.client.patch(
        "/api/v1/auth/me", json={"first_name": "Светлана"}, headers=api.auth(patient)
    )
    assert r.status_code == 200
    made = [await api.book(patient, address=f"Mannerheimintie {i}") for i in range(5)]
    urgent = await api.book(patient, address="Aleksanterinkatu 3", priority="urgent")
    everything = await search(api, operator)
    assert everything["bookings"][0]["id"] == urgent["id"]  # most urgent first
    assert len(everything["bookings"]) == 6 and everything["next_cursor"] is None
    by_address = await search(api, operator, "?q=aleksanterin")
    assert [b["id"] for b in by_address["bookings"]] == [urgent["id"]]
    by_name = await search(api, operator, "?q=светлана")
    assert len(by_name["bookings"]) == 6
    by_id = await search(api, operator, f"?q={made[2]['id'][:10]}")
    assert [b["id"] for b in by_id["bookings"]] == [made[2]["id"]]
    normal = await search(api, operator, "?priority=normal&status=searching&status=offered")
    assert {b["id"] for b in normal["bookings"]} == {b["id"] for b in made}
    far_box = await search(api, operator, "?south=10&north=11")
    assert far_box["bookings"] == []
    seen: list[str] = []
    cursor = None
    while True:
        page = await search(api, operator, "?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [b["id"] for b in page["bookings"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [b["id"] for b in everything["bookings"]]
    # a closed booking is found by its id
    r = await api.client.post(
        f"/api/v1/bookings/{made[0]['id']}/cancel", json={"reason": "x"}, headers=api.auth(patient)
    )
    assert r.status_code == 200
    closed = await search(api, operator, f"?q={made[0]['id']}")
    assert [b["id"] for b in closed["bookings"]] == [made[0]["id"]]
    assert closed["bookings"][0]["status"] == "cancelled"
    assert (
        await api.client.get("/api/v1/operator/bookings", headers=api.auth(patient))
    ).status_code == 403
    del patient_id


async def test_bulk_actions_are_all_or_nothing(api: Api) -> None:
    _, operator = await api.staff("operator")
    first_id, first = await api.doctor(on_shift_at=NEARBY)
    second_id, second = await api.doctor(on_shift_at=(NEARBY[0] + 0.001, NEARBY[1]))
    _, patient = await api.patient()
    taken = []
    for token in (first, second):
        booking = await api.book(patient)
        offers = (await api.client.get("/api/v1/offers", headers=api.auth(token))).json()
        offer = next(o for o in offers if o["booking_id"] == booking["id"])
        r = await api.client.post(
            f"/api/v1/offers/{offer['offer_id']}/accept", headers=api.auth(token)
        )
        assert r.status_code == 200, r.text
        taken.append(booking["id"])
    waiting = await api.book(patient)  # nobody free: searching, no doctor to take off
    url = "/api/v1/operator/bookings/bulk"
    r = await api.client.post(
        url,
        json={
            "action": "return_to_search",
            "booking_ids": [*taken, waiting["id"]],
            "reason": "road closed",
        },
        headers=api.auth(operator),
    )
    assert r.status_code == 409 and waiting["id"] in r.json()["detail"]
    for booking_id in taken:  # none was done
        got = await api.client.get(f"/api/v1/bookings/{booking_id}", headers=api.auth(operator))
        assert got.json()["status"] == "assigned"
    r = await api.client.post(
        url,
        json={"action": "return_to_search", "booking_ids": taken, "reason": "road closed"},
        headers=api.auth(operator),
    )
    assert r.status_code == 200, r.text
    assert all(b["status"] in ("searching", "offered") for b in r.json()["bookings"])
    r = await api.client.post(
        url,
        json={"action": "cancel", "booking_ids": [*taken, waiting["id"]], "reason": "storm"},
        headers=api.auth(operator),
    )
    assert r.status_code == 200 and {b["status"] for b in r.json()["bookings"]} == {"cancelled"}
    for bad in (
        {"action": "cancel", "booking_ids": [], "reason": "x"},
        {"action": "cancel", "booking_ids": [taken[0], taken[0]], "reason": "x"},
        {"action": "explode", "booking_ids": taken, "reason": "x"},
    ):
        r = await api.client.post(url, json=bad, headers=api.auth(operator))
        assert r.status_code in (409, 422), (bad, r.text)
    del first_id, second_id


async def test_a_bookings_timeline_says_who_did_what_and_when(api: Api) -> None:
    _, operator = await api.staff("operator")
    doctor_id, doctor = await api.doctor(on_shift_at=NEARBY)
    _, patient = await api.patient()
    booking = await api.book(patient)
    offer = (await api.client.get("/api/v1/offers", headers=api.auth(doctor))).json()[0]
    r = await api.client.post(
        f"/api/v1/offers/{offer['offer_id']}/decline",
        json={"reason": "car trouble"},
        headers=api.auth(doctor),
    )
    assert r.status_code in (200, 204), r.text
    r = await api.client.get(
        f"/api/v1/operator/bookings/{booking['id']}/timeline", headers=api.auth(operator)
    )
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    declined = [e for e in entries if e["kind"] == "note" and "declined" in e["detail"]]
    assert declined and declined[0]["by"] == f"doctor:{doctor_id}"
    assert "car trouble" in declined[0]["detail"]
    assert any(e["kind"] == "audit" and "booking.create" in e["detail"] for e in entries)
    assert any(e["kind"] == "status" and e["status"] == "searching" for e in entries)
    # the patient sees status changes only: not who declined
    mine = await api.client.get(f"/api/v1/bookings/{booking['id']}", headers=api.auth(patient))
    assert all("declined" not in h["reason"] for h in mine.json()["history"])
    assert (
        await api.client.get(
            f"/api/v1/operator/bookings/{booking['id']}/timeline", headers=api.auth(patient)
        )
    ).status_code == 403


async def test_a_doctor_on_the_way_who_goes_quiet_is_flagged_once(api: Api) -> None:
    doctor_id, doctor = await api.doctor(on_shift_at=NEARBY)
    _, patient = await api.patient()
    booking = await api.book(patient)
    offer = (await api.client.get("/api/v1/offers", headers=api.auth(doctor))).json()[0]
    await api.client.post(f"/api/v1/offers/{offer['offer_id']}/accept", headers=api.auth(doctor))
    realtime = api.runtime.realtime
    now = time.time()
    assert realtime.stale_en_route(now + 10) == []  # just reported
    alerts = realtime.stale_en_route(now + 400)  # silent for over 3 minutes
    assert [a["kind"] for a in alerts] == ["stale_en_route"]
    assert alerts[0]["booking_id"] == booking["id"] and doctor_id in alerts[0]["detail"]
    assert realtime.stale_en_route(now + 420) == []  # once per episode
    later = datetime.fromtimestamp(time.time() + 20, UTC).isoformat()
    r = await api.client.post(
        "/api/v1/doctors/me/location",
        json={"latitude": NEARBY[0] + 0.0005, "longitude": NEARBY[1], "recorded_at": later},
        headers=api.auth(doctor),
    )
    assert r.status_code == 200, r.text
    assert realtime.stale_en_route(time.time() + 25) == []  # reported and moved: over
    assert [a["kind"] for a in realtime.stale_en_route(time.time() + 420)] == ["stale_en_route"]


async def test_a_doctor_who_goes_offline_leaves_the_live_list(api: Api) -> None:
    _, operator = await api.staff("operator")
    doctor_id, doctor = await api.doctor(on_shift_at=NEARBY)
    live = await api.client.get("/api/v1/operator/doctors", headers=api.auth(operator))
    assert [d["doctor_id"] for d in live.json()["doctors"]] == [doctor_id]
    r = await api.client.delete("/api/v1/doctors/me/shift", headers=api.auth(doctor))
    assert r.status_code == 200
    live = await api.client.get("/api/v1/operator/doctors", headers=api.auth(operator))
    assert live.json()["doctors"] == []


async def test_a_doctor_on_the_way_who_reports_but_does_not_move_is_flagged(api: Api) -> None:
    doctor_id, doctor = await api.doctor(on_shift_at=NEARBY)
    _, patient = await api.patient()
    await api.book(patient)
    offer = (await api.client.get("/api/v1/offers", headers=api.auth(doctor))).json()[0]
    await api.client.post(f"/api/v1/offers/{offer['offer_id']}/accept", headers=api.auth(doctor))
    registry = api.runtime.registry
    realtime = api.runtime.realtime
    t = time.time() + 1
    kinds = []
    for step_s in (0.0, 120.0, 240.0, 330.0):
        assert (
            registry.update_position(doctor_id, NEARBY[0], NEARBY[1], 5.0, t + step_s, t + step_s)
            is None
        )
        kinds += [(step_s, a["detail"]) for a in realtime.stale_en_route(t + step_s)]
    assert len(kinds) == 1 and kinds[0][0] == 330.0 and "not moved" in kinds[0][1]
